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
from .errors import (
    DelimiterError,
    DuplicateColumnError,
    EmptyInputError,
    HeaderError,
    NoDataRowsError,
    NotTextError,
    RaggedRowError,
)
from .line_chunks import Chunk, ChunkBuffers, in_order, line_chunks, parse_workers, read_into

# pandas' default NA tokens: the cells a pandas user expects to be read as missing.
NA_TOKENS = (
    "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND",
    "1.#QNAN", "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null",
)  # fmt: skip
SAMPLE_BYTES = 1 << 20
BLOCK_BYTES = 1 << 20  # for the single-threaded re-parse that locates a bad row
CHUNK_BYTES = 1 << 20  # larger chunks parse no faster and hold more in flight
ARROW_POOL = pa.system_memory_pool()


_BOM = b"\xef\xbb\xbf"
_CONVERSION_RE = re.compile(r"In CSV column #(\d+): (?:Row #\d+: )?CSV conversion error to (\w+)")

InputOpener = Callable[[], BinaryIO]


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


def read_columns(open_input: InputOpener, size_hint: int | None = None, use_threads: bool = True) -> Columns:
    """Parse the CSV behind `open_input`; raise a specific PipelineError for bad input."""
    text_columns: set[str] = set()
    binary_columns: set[str] = set()
    while True:
        stream = open_input()
        try:
            sample = stream.read(SAMPLE_BYTES)
            inspected = _inspect_sample(sample, more=len(sample) == SAMPLE_BYTES)
            header, inferred = inspected.header, inspected.inferred
            types = {name: _read_type(inferred.get(name), name, text_columns, binary_columns) for name in header}
            first = inspected.table if _fits(inspected.table, types) else None
            rest = _Prefixed(memoryview(sample)[inspected.used :] if first is not None else sample, stream)
            try:
                columns = _stream_columns(rest, header, types, size_hint, use_threads, first)
            except pa.ArrowInvalid as exc:
                if _switch_column_type(exc, header, text_columns, binary_columns):
                    continue
                raise _describe_parse_error(exc, open_input) from None
        finally:
            stream.close()
        release_free_memory()
        columns.line_of = lambda row: line_of_row(open_input, row)
        if binary_columns:
            raise _undecodable_cell(columns, sorted(binary_columns, key=header.index)[0])
        columns.inferred = {name: str(t) for name, t in inferred.items()}
        return columns


@dataclass
class _Sample:
    """The start of the input: its header, the types inferred there, and its parse when reusable."""

    header: list[str]
    inferred: dict[str, pa.DataType]
    table: pa.Table | None = None  # the sample's whole lines, parsed: the read's first chunk
    used: int = 0  # bytes of the sample that `table` covers, header included


def _inspect_sample(sample: bytes, more: bool) -> _Sample:
    """Check the start of the input is CSV text with a usable header; infer column types.

    The sample's own parse is kept as the read's first chunk (the rest of the read starts
    after it), unless the sample could not be cut at a line end.
    """
    body = sample.removeprefix(_BOM)
    if not body.strip():
        raise EmptyInputError(
            "input is empty" if not sample else "input has no content (only whitespace)",
            size_bytes=len(sample),
        )
    if (offset := sample.find(b"\x00")) >= 0:
        raise NotTextError(
            f"input is not CSV text: byte {offset} is a NUL byte (is it compressed or binary?)",
            byte_offset=offset,
        )
    header_line = body.split(b"\n", 1)[0].rstrip(b"\r")
    try:
        header_line.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise NotTextError(
            f"header row is not UTF-8 text (byte {exc.start}: {header_line[exc.start : exc.start + 1]!r}); "
            "save the file as UTF-8",
            byte_offset=exc.start,
        ) from None
    # The sample ends mid-file: whole lines only ("\r" ends a line too, as for Arrow).
    used = max(sample.rfind(b"\n"), sample.rfind(b"\r")) + 1 if more else len(sample)
    lines = sample[:used] or sample
    try:
        table = pacsv.read_csv(io.BytesIO(lines), convert_options=_convert_options({}))
    except pa.ArrowInvalid:
        # Ragged rows or a cut quoted field: the full read reports the exact problem.
        ends = [i for i in (sample.find(b"\n"), sample.find(b"\r")) if i >= 0]
        first_line = sample[: min(ends)] if ends else sample
        table = pacsv.read_csv(io.BytesIO(first_line + b"\n"), convert_options=_convert_options({}))
        return _Sample(_check_header(table.column_names), {})
    header = _check_header(table.column_names)
    if table.num_rows == 0 and not more:
        raise NoDataRowsError(f"input has a header ({len(header)} columns) but no data rows", columns=len(header))
    return _Sample(header, dict(zip(header, table.schema.types, strict=True)), table if used else None, used)


def _fits(table: pa.Table | None, types: dict[str, pa.DataType]) -> bool:
    """Whether the sample's parse can stand for a chunk parsed with `types` (same values)."""
    if table is None:
        return False
    for name, want in types.items():
        got = table.schema.field(name).type
        if _is_numeric_type(want) and not (pa.types.is_int64(got) or pa.types.is_float64(got) or pa.types.is_null(got)):
            return False
        if not _is_numeric_type(want) and got != want:
            return False
    return True


def _check_header(names: list[str]) -> list[str]:
    if len(names) == 1 and (separator := next((c for c in (";", "\t") if c in names[0]), None)):
        kind = "tab" if separator == "\t" else "';'"
        raise DelimiterError(
            f"the header is one field containing {separator!r}: the file looks {kind}-separated; "
            "save it as CSV with ',' between fields (and '.' as the decimal point)",
            separator=separator,
        )
    for position, name in enumerate(names, start=1):
        if not name.strip():
            raise HeaderError(f"header cell {position} is empty: every column needs a name", position=position)
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise DuplicateColumnError(
                f"column {name!r} appears more than once in the header; rename one of them", column=name
            )
        seen.add(name)
    return names


def _is_numeric_type(t: pa.DataType | None) -> bool:
    return t is None or pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_null(t)


def _read_type(inferred: pa.DataType | None, name: str, text: set[str], binary: set[str]) -> pa.DataType:
    """The type a column is parsed as: int64 where the sample saw only whole numbers.

    Arrow parses integers with a third less CPU than doubles, and every column ends as float64
    anyway (`float64_into` casts). The cast is exact below 2**53 and correctly rounded above,
    as a double parse is; the one difference is that "-0" becomes 0.0, not -0.0. A chunk with
    a cell that is not a whole number is re-parsed with that column as float64 (`_parse_chunk`).
    """
    if name in binary:
        return pa.binary()
    if name in text or not _is_numeric_type(inferred):
        return pa.string()
    return pa.int64() if inferred is not None and pa.types.is_integer(inferred) else pa.float64()


def _convert_options(types: dict[str, pa.DataType]) -> pacsv.ConvertOptions:
    return pacsv.ConvertOptions(
        column_types=types, null_values=list(NA_TOKENS), strings_can_be_null=True, quoted_strings_can_be_null=True
    )


def _stream_columns(
    stream: BinaryIO,
    header: list[str],
    types: dict[str, pa.DataType],
    size_hint: int | None,
    use_threads: bool,
    first: pa.Table | None = None,
) -> Columns:
    """Parse `stream` chunk by chunk into the columns; `first` is the sample's parse, read before it."""
    numeric_names = [n for n in header if pa.types.is_floating(types[n]) or pa.types.is_integer(types[n])]
    text_names = [n for n in header if n not in numeric_names]
    capacity = size_hint // max(len(header), 1) + 1 if size_hint else 0
    buffers = {n: np.empty(capacity) for n in numeric_names} if capacity else {}
    parts: dict[str, list] = {n: [] for n in header}
    chunk_types = _ChunkTypes(header, types)

    chunk_buffers = ChunkBuffers(CHUNK_BYTES)

    def parse(chunk: Chunk) -> pa.Table:
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
        chunks = line_chunks(stream, chunk_buffers, skip_header=first is None)
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
        self.options = _convert_options(self.types)
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
                self.options = _convert_options(self.types)
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


def _describe_parse_error(exc: pa.ArrowInvalid, open_input: InputOpener) -> Exception:
    """Turn Arrow's parse error into ours; threaded parsing hides the row, so re-parse to find it."""
    rows: list = []

    def remember(row):  # pyarrow.csv.InvalidRow
        rows.append(row)
        return "error"

    message = str(exc)
    if "Expected" not in message or "columns, got" not in message:
        return NotTextError(f"input is not valid CSV: {message}")
    stream = open_input()
    try:
        pacsv.read_csv(
            stream,
            read_options=pacsv.ReadOptions(use_threads=False, block_size=BLOCK_BYTES),
            parse_options=pacsv.ParseOptions(invalid_row_handler=remember),
            convert_options=_convert_options({}),
        )
    except pa.ArrowInvalid:
        pass  # expected: the handler above recorded the offending row
    finally:
        stream.close()
    if not rows:
        return RaggedRowError(f"input is not valid CSV: {message}")
    row = rows[0]
    return RaggedRowError(
        f"line {row.number} has {row.actual_columns} fields but the header has {row.expected_columns}: "
        f"{row.text[:80]!r}",
        line=row.number,
        expected_fields=row.expected_columns,
        actual_fields=row.actual_columns,
    )


def _undecodable_cell(columns: Columns, name: str) -> NotTextError:
    for row, value in enumerate(columns.text[name].to_pylist()):
        if value is None:
            continue
        try:
            value.decode("utf-8")
        except UnicodeDecodeError:
            line = columns.line_of(row)
            return NotTextError(
                f"column {name!r} line {line} is not UTF-8 text ({value[:20]!r}); save the file as UTF-8",
                column=name,
                line=line,
            )
    return NotTextError(f"column {name!r} is not UTF-8 text; save the file as UTF-8", column=name)


def line_of_row(open_input: InputOpener, row: int) -> int:
    """The file line (1-based, header = 1) of 0-based data row `row`: blank lines are skipped,
    as the parser skips them. Only called to word an error, so a re-read is affordable."""
    stream = open_input()
    try:
        line, to_pass, carry, header_seen = 0, row + 1, b"", False
        while block := stream.read(BLOCK_BYTES):
            lines = (carry + block).split(b"\n")
            carry = lines.pop()
            for text in lines:
                line += 1
                if not header_seen:
                    header_seen = True
                elif text.strip(b"\r"):
                    to_pass -= 1
                    if to_pass == 0:
                        return line
        return line + 1
    finally:
        stream.close()
