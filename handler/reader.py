"""Stream a CSV into float64 numpy columns (NaN = missing) and Arrow text columns.

Why streaming: `pyarrow.csv.read_csv` of 5M rows peaks near 930 MB (parser buffers plus
the table), over the Lambda's 1024 MB once the outputs are built. Reading chunk by chunk
into preallocated arrays peaks near the size of the data itself. The arrays are sized
from the input's byte length (a row needs at least one byte per column), which only
reserves address space: pages that are never written are never resident.

Why chunks parsed on threads: `pyarrow.csv.open_csv` (Arrow's streaming reader) parses on
one thread, half the speed of `read_csv` on two cores. The input is cut into ~1 MiB chunks
at line ends (`line_chunks`, in recycled buffers) and each chunk is parsed by `read_csv`
on a small pool (Arrow releases the GIL), a few chunks in flight, copied into the arrays
in order.

Arrow allocates from the system allocator here (`ARROW_POOL`): its default (mimalloc)
keeps freed parser and writer buffers for reuse, ~120 MB of the peak at 5M rows. glibc in
turn keeps the parsing threads' freed blocks in its per-thread arenas;
`allocator.release_free_memory` hands them back to the OS once the read is done
(`malloc_trim`), before the pipeline's own temporaries need the room. (Lowering glibc's
mmap threshold for the read instead saved as much but slowed it by a third: every chunk
then costs fresh page faults.)

Types are inferred from the first MiB; numeric-looking columns are then parsed as int64
(whole numbers in the sample: a third less parsing CPU) or float64, and every numeric
column ends as float64. A later chunk with a fraction in an int64 column re-parses just
that chunk; a later cell that is not a number turns that column into text (the read
restarts, which needs a re-openable input: `open_input` is called again).
"""

from __future__ import annotations

import csv
import io
import itertools
import re
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from .allocator import release_free_memory
from .contract import DEFAULT_MAX_COLUMNS, MAX_LINE_BYTES
from .errors import (
    NoDataRowsError,
)
from .line_chunks import Chunk, ChunkBuffers, RecordTooLongError, in_order, line_chunks, parse_workers, read_into
from .reader_basics import InputOpener, convert_options, read_type
from .reader_errors import (
    _BadBytesError,
    _check_bytes,
    _describe_parse_error,
    _undecodable_cell,
    line_at,
    line_of_row,
    line_too_long,
)
from .reader_header import _fits, _inspect_sample

SAMPLE_BYTES = 1 << 20  # at least MAX_LINE_BYTES: the header must end inside the sample
CHUNK_BYTES = 1 << 20  # larger chunks parse no faster and hold more in flight
ARROW_POOL = pa.system_memory_pool()
# Python's csv module (the header's width, the Spark job's ragged line) refuses fields over
# 128 KiB by default; a line may be up to MAX_LINE_BYTES. Raising it only accepts more.
csv.field_size_limit(max(csv.field_size_limit(), 2 * MAX_LINE_BYTES))


_CONVERSION_RE = re.compile(r"In CSV column #(\d+): (?:Row #\d+: )?CSV conversion error to (\w+)")


@dataclass
class Columns:
    """A parsed table: numeric columns as float64 arrays with NaN for missing cells."""

    names: list[str]
    numeric: dict[str, np.ndarray]
    text: dict[str, pa.ChunkedArray]
    rows: int
    inferred: dict[str, str] = field(default_factory=dict)  # column -> type seen in the sample
    # 0-based data row -> its line in the file (1-based, as editors show; the header is line 1).
    # The reader gives an exact one (blank lines skipped as the parser skips them).
    line_of: Callable[[int], int] = lambda row: row + 2


class _Prefixed(io.RawIOBase):
    """A stream that replays bytes already read (the sample) before the rest."""

    def __init__(self, head: bytes | memoryview, rest: BinaryIO) -> None:
        self._head = memoryview(head)
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        if self._head.nbytes:
            n = min(len(buffer), self._head.nbytes)
            buffer[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        return read_into(self._rest, memoryview(buffer).cast("B"))


def read_columns(
    open_input: InputOpener,
    size_hint: int | None = None,
    use_threads: bool = True,
    max_columns: int = DEFAULT_MAX_COLUMNS,
) -> Columns:
    """Parse the CSV behind `open_input`; raise a specific PipelineError for bad input.

    `max_columns` bounds the width (MAX_COLUMNS, config.toml: pipeline.max_columns): a wider
    header is refused before any row is parsed.
    """
    text_columns: set[str] = set()
    binary_columns: set[str] = set()
    while True:
        stream = open_input()
        try:
            sample = stream.read(SAMPLE_BYTES)
            try:
                inspected = _inspect_sample(sample, more=len(sample) == SAMPLE_BYTES, max_columns=max_columns)
                header, inferred = inspected.header, inspected.inferred
                types = {name: read_type(inferred.get(name), name, text_columns, binary_columns) for name in header}
                first = inspected.table if _fits(inspected.table, types) else None
                start = inspected.used if first is not None else 0
                rest = _Prefixed(memoryview(sample)[start:], stream)
                skip = 0 if first is not None else inspected.header_end
                columns = _stream_columns(rest, header, types, size_hint, use_threads, first, start, skip)
            except pa.ArrowInvalid as exc:
                if _switch_column_type(exc, header, text_columns, binary_columns):
                    continue
                raise _describe_parse_error(exc, open_input) from None
            except _BadBytesError as exc:
                raise exc.error(open_input) from None
            except RecordTooLongError as exc:
                raise line_too_long(line_at(open_input, exc.offset)) from None
        finally:
            stream.close()
        release_free_memory()
        columns.line_of = lambda row: line_of_row(open_input, row)
        if binary_columns:
            raise _undecodable_cell(columns, sorted(binary_columns, key=header.index)[0])
        columns.inferred = {name: str(t) for name, t in inferred.items()}
        return columns


def _stream_columns(
    stream: BinaryIO,
    header: list[str],
    types: dict[str, pa.DataType],
    size_hint: int | None,
    use_threads: bool,
    first: pa.Table | None = None,
    offset: int = 0,
    skip: int = 0,
) -> Columns:
    """Parse `stream` chunk by chunk into the columns; `first` is the sample's parse, read before it.

    `stream` starts at byte `offset` of the input; its first `skip` bytes (the header, when the
    sample's parse is not reused) are not data.
    """
    numeric_names = [n for n in header if pa.types.is_floating(types[n]) or pa.types.is_integer(types[n])]
    text_names = [n for n in header if n not in numeric_names]
    capacity = size_hint // max(len(header), 1) + 1 if size_hint else 0
    buffers = {n: np.empty(capacity) for n in numeric_names} if capacity else {}
    parts: dict[str, list] = {n: [] for n in header}
    chunk_types = _ChunkTypes(header, types)

    chunk_buffers = ChunkBuffers(CHUNK_BYTES)

    def parse(chunk: Chunk) -> pa.Table:
        _check_bytes(chunk.buffer, chunk.start, chunk.end, chunk.offset - chunk.start)
        table = _parse_chunk(chunk.view, chunk_types)
        if not text_names:  # parsed numbers never point into the input; text cells might
            chunk_buffers.give(chunk.buffer)
        return table

    def place(table: pa.Table, start: int) -> None:
        for name in numeric_names:
            float64_into(table.column(name), buffers[name][start : start + table.num_rows])

    rows = 0
    workers = parse_workers(use_threads)
    with ThreadPoolExecutor(workers, thread_name_prefix="csv-read") if workers > 1 else nullcontext() as pool:
        # Each chunk's copy into the arrays is queued on the parsing pool as soon as its start
        # row is known (numpy releases the GIL while it copies): no thread idles at the end
        # while the last chunks are copied one by one.
        copies: list[Future[None]] = []
        chunks = line_chunks(stream, chunk_buffers, skip=skip, offset=offset, max_record=MAX_LINE_BYTES)
        tables = in_order(parse, chunks, pool, in_flight=2 * workers)
        for table in itertools.chain([first] if first is not None else [], tables):
            k = table.num_rows
            if buffers and pool is not None:
                copies.append(pool.submit(place, table, rows))
            elif buffers:
                place(table, rows)
            else:
                for name in numeric_names:
                    parts[name].append(float64_into(table.column(name), np.empty(k)))
            for name in text_names:
                parts[name].extend(table.column(name).chunks)
            rows += k
        for copy in copies:
            copy.result()
    return _assemble(header, types, rows, buffers, parts, numeric_names, text_names)


def _assemble(
    header: list[str],
    types: dict[str, pa.DataType],
    rows: int,
    buffers: dict[str, np.ndarray],
    parts: dict[str, list],
    numeric_names: list[str],
    text_names: list[str],
) -> Columns:
    """The parsed chunks as Columns: the preallocated arrays cut to the rows read (or the parts joined)."""
    if rows == 0:
        raise NoDataRowsError(f"input has a header ({len(header)} columns) but no data rows", columns=len(header))
    if buffers:
        numeric = {n: buffers[n][:rows] for n in numeric_names}
    else:
        numeric = {n: np.concatenate(parts.pop(n)) for n in numeric_names}
    text = {n: pa.chunked_array(parts[n], type=types[n]) for n in text_names}
    return Columns(names=list(header), numeric=numeric, text=text, rows=rows)


class _ChunkTypes:
    """The column types chunks are parsed with; an int64 column a chunk disproves becomes float64.

    Shared by the parsing threads: a widened column stays widened for every later chunk
    (chunks parsed before keep their int64 arrays, which `float64_into` casts the same way).
    """

    def __init__(self, header: list[str], types: dict[str, pa.DataType]) -> None:
        self.header = header
        self.types = dict(types)
        self.options = convert_options(self.types)
        self._lock = threading.Lock()

    def widen(self, exc: pa.ArrowInvalid) -> bool:
        """Make the int64 column named by this conversion error float64; False if it is not one.

        True also when another thread widened it meanwhile: a retry with the current options
        is progress either way, since the column can no longer fail as int64.
        """
        match = _CONVERSION_RE.search(str(exc))
        if not match or match[2] != "int64":
            return False
        name = self.header[int(match[1])]
        with self._lock:
            if pa.types.is_integer(self.types[name]):
                self.types = {**self.types, name: pa.float64()}
                self.options = convert_options(self.types)
        return True


def _parse_chunk(chunk: memoryview, chunk_types: _ChunkTypes) -> pa.Table:
    """One chunk of whole lines as a table, re-parsed with wider types until its cells fit."""
    read_options = pacsv.ReadOptions(column_names=chunk_types.header, use_threads=False, block_size=len(chunk) + 1)
    while True:
        try:
            return pacsv.read_csv(
                pa.BufferReader(pa.py_buffer(chunk)),
                read_options,
                convert_options=chunk_types.options,
                memory_pool=ARROW_POOL,
            )
        except pa.ArrowInvalid as exc:
            if not chunk_types.widen(exc):
                raise


def float64_into(array: pa.Array | pa.ChunkedArray, out: np.ndarray) -> np.ndarray:
    """Copy a float64 or int64 Arrow array into `out` as float64, nulls as NaN.

    Straight from Arrow's buffers: `Array.to_numpy()` on an array with nulls imports pandas
    (0.3 s and ~50 MB on every cold start) and makes an extra copy.
    """
    if isinstance(array, pa.ChunkedArray):
        start = 0
        for chunk in array.chunks:
            float64_into(chunk, out[start : start + len(chunk)])
            start += len(chunk)
        return out
    if pa.types.is_null(array.type):  # a column blank all through the sample
        out[:] = np.nan
        return out
    validity, data = array.buffers()
    offset, length = array.offset, len(array)
    dtype = np.int64 if pa.types.is_integer(array.type) else np.float64
    out[:] = np.frombuffer(data, dtype=dtype, count=offset + length)[offset:]
    if array.null_count:
        bits = np.unpackbits(np.frombuffer(validity, dtype=np.uint8), count=offset + length, bitorder="little")
        np.copyto(out, np.nan, where=bits[offset:] == 0)
    return out


def _switch_column_type(exc: pa.ArrowInvalid, header: list[str], text: set[str], binary: set[str]) -> bool:
    """A conversion error names a column whose type the sample got wrong: fix it for a re-read."""
    match = _CONVERSION_RE.search(str(exc))
    if not match:
        return False
    name = header[int(match[1])]
    if match[2] == "double" and name not in text:
        text.add(name)
        return True
    if match[2] == "string" and "UTF8" in str(exc) and name not in binary:
        binary.add(name)
        return True
    return False
