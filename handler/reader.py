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
import unicodedata
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from .allocator import release_free_memory
from .contract import DEFAULT_MAX_COLUMNS, ENV_MAX_COLUMNS, MAX_LINE_BYTES
from .errors import (
    ByteOrderMarkError,
    DelimiterError,
    DuplicateColumnError,
    EmptyInputError,
    HeaderError,
    LineTooLongError,
    NoDataRowsError,
    NotTextError,
    RaggedRowError,
    TooManyColumnsError,
)
from .line_chunks import Chunk, ChunkBuffers, RecordTooLongError, in_order, line_chunks, parse_workers, read_into
from .records import first_record_end, last_record_end, quoted_spans

# pandas' default NA tokens: the cells a pandas user expects to be read as missing.
NA_TOKENS = (
    "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND",
    "1.#QNAN", "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null",
)  # fmt: skip
SAMPLE_BYTES = 1 << 20  # at least MAX_LINE_BYTES: the header must end inside the sample
BLOCK_BYTES = 1 << 20  # for the single-threaded re-reads that locate a bad row or line
CHUNK_BYTES = 1 << 20  # larger chunks parse no faster and hold more in flight
ARROW_POOL = pa.system_memory_pool()
# Python's csv module (the header's width, the Spark job's ragged line) refuses fields over
# 128 KiB by default; a line may be up to MAX_LINE_BYTES. Raising it only accepts more.
csv.field_size_limit(max(csv.field_size_limit(), 2 * MAX_LINE_BYTES))


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
                types = {name: _read_type(inferred.get(name), name, text_columns, binary_columns) for name in header}
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


@dataclass
class _Sample:
    """The start of the input: its header, the types inferred there, and its parse when reusable."""

    header: list[str]
    inferred: dict[str, pa.DataType]
    header_end: int  # bytes of the sample up to the end of the header (BOM and line end included)
    table: pa.Table | None = None  # the sample's whole records, parsed: the read's first chunk
    used: int = 0  # bytes of the sample that `table` covers, header included


def _inspect_sample(sample: bytes, more: bool, max_columns: int = DEFAULT_MAX_COLUMNS) -> _Sample:
    """Check the start of the input is CSV text with a usable header; infer column types.

    The same byte checks as every later chunk (`_check_bytes`); the header's width is
    checked before the sample is parsed. The sample's own parse is kept as the read's first
    chunk (the rest of the read starts after it), unless no whole record follows the header.
    """
    body_start = len(_BOM) if sample.startswith(_BOM) else 0
    if not sample[body_start:].strip():
        raise EmptyInputError(
            "input is empty" if not sample else "input has no content (only whitespace)",
            size_bytes=len(sample),
        )
    _check_bytes(sample, body_start, len(sample), 0)
    header_end = first_record_end(sample, body_start, len(sample))
    if header_end is None:
        if more:
            raise line_too_long(1)
        header_end = len(sample)
    header_line = sample[body_start:header_end].rstrip(b"\r\n")
    try:
        header_line.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise NotTextError(
            f"header row is not UTF-8 text (byte {exc.start}: {header_line[exc.start : exc.start + 1]!r}); "
            "save the file as UTF-8",
            byte_offset=exc.start,
        ) from None
    _check_width(header_line, max_columns)  # before Arrow parses it: 100,000 columns cost it ~1 GB
    names = _check_header(_header_names(header_line), max_columns)
    # The sample ends mid-file: whole records only.
    used = last_record_end(sample, 0, len(sample)) if more else len(sample)
    try:
        table = _parse_sample(sample[: max(used, header_end)])
    except pa.ArrowInvalid:
        # Ragged rows or an unreadable cell: the full read reports the exact problem.
        return _Sample(names, {}, header_end)
    if table.num_rows == 0 and not more:
        raise NoDataRowsError(f"input has a header ({len(names)} columns) but no data rows", columns=len(names))
    inferred = dict(zip(names, table.schema.types, strict=True))
    return _Sample(names, inferred, header_end, table if used > header_end else None, used)


def header_names(sample: bytes, max_columns: int = DEFAULT_MAX_COLUMNS) -> list[str]:
    """The checked header of an input that starts with `sample` (the first MiB, or all of it).

    For callers that read the rows themselves (the Spark job) but follow the reader's rules
    for the header: width, names, encoding, length.
    """
    return _inspect_sample(sample, more=True, max_columns=max_columns).header


def _check_width(line: bytes, max_columns: int) -> None:
    """Refuse a header wider than `max_columns` from a cheap count of its fields (Python's csv, in C)."""
    if line.count(b",") < max_columns:  # at most max_columns fields whatever the quoting
        return
    fields = next(csv.reader([line.decode("utf-8")]), [])
    if len(fields) > max_columns:
        raise _too_many_columns(len(fields), max_columns)


def _header_names(line: bytes) -> list[str]:
    """The header's cells as Arrow reads them (quotes, escaped quotes)."""
    table = pacsv.read_csv(
        io.BytesIO(line + b"\n"),
        read_options=pacsv.ReadOptions(use_threads=False, block_size=len(line) + 2),
        parse_options=pacsv.ParseOptions(newlines_in_values=True),
    )
    return table.column_names


def _parse_sample(lines: bytes) -> pa.Table:
    return pacsv.read_csv(
        io.BytesIO(lines),
        read_options=pacsv.ReadOptions(use_threads=False, block_size=len(lines) + 1),
        parse_options=pacsv.ParseOptions(newlines_in_values=True),
        convert_options=_convert_options({}),
    )


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


def _check_header(names: list[str], max_columns: int = DEFAULT_MAX_COLUMNS) -> list[str]:
    if len(names) > max_columns:
        raise _too_many_columns(len(names), max_columns)
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
    exact: set[str] = set()
    seen: dict[str, str] = {}
    for name in names:
        if name in exact:
            raise DuplicateColumnError(
                f"column {name!r} appears more than once in the header; rename one of them", column=name
            )
        exact.add(name)
        key = _comparable(name)
        if key in seen:
            raise DuplicateColumnError(
                f"columns {seen[key]!r} and {name!r} differ only in case, surrounding spaces or Unicode "
                "normalization: tools downstream would take them for one column; rename one of them",
                column=name,
                columns=[seen[key], name],
            )
        seen[key] = name
    return names


def _too_many_columns(count: int, limit: int) -> TooManyColumnsError:
    return TooManyColumnsError(
        f"the header has {count:,} columns, more than the {limit:,} allowed "
        f"({ENV_MAX_COLUMNS}, config.toml: pipeline.max_columns); raise it, or split the file: "
        "the correlation matrix grows with the square of the width",
        columns=count,
        limit=limit,
        setting=ENV_MAX_COLUMNS,
    )


def _comparable(name: str) -> str:
    """A column name as a person (and many tools) would compare it: NFKC, no surrounding spaces, any case."""
    return unicodedata.normalize("NFKC", name).strip().casefold()


class _BadBytesError(Exception):
    """A NUL byte or a misplaced byte-order mark at `offset`: turned into the user's error, with its line."""

    def __init__(self, kind: str, offset: int) -> None:
        super().__init__(f"{kind} at byte {offset}")
        self.kind, self.offset = kind, offset

    def error(self, open_input: InputOpener) -> NotTextError:
        line = line_at(open_input, self.offset)
        if self.kind == "nul":
            return NotTextError(
                f"input is not CSV text: byte {self.offset} is a NUL byte (line {line}; is it compressed or binary?)",
                byte_offset=self.offset,
                line=line,
            )
        return ByteOrderMarkError(
            f"line {line} holds a byte-order mark (U+FEFF, byte {self.offset}): only the very start of a file "
            "may; were files joined together? Remove it (and any repeated header line)",
            byte_offset=self.offset,
            line=line,
        )


def _check_bytes(buffer: bytes | bytearray, start: int, end: int, base: int) -> None:
    """The byte rules every part of the input follows: no NUL byte, no byte-order mark after byte 0.

    A NUL means binary or UTF-16 data; a BOM mid-file means files were joined and would turn a
    numeric cell into text. `base` is the input offset of buffer[0]. Each is one C-speed scan.
    """
    nul = buffer.find(b"\x00", start, end)
    bom = buffer.find(_BOM, max(start, 1 - base), end)  # byte 0 of the input may hold one
    found = [(at, kind) for at, kind in ((nul, "nul"), (bom, "bom")) if at >= 0]
    if found:
        at, kind = min(found)
        raise _BadBytesError(kind, base + at)


def line_too_long(line: int) -> LineTooLongError:
    what = "the header (line 1)" if line == 1 else f"line {line}"
    return LineTooLongError(
        f"{what} is longer than {MAX_LINE_BYTES:,} bytes, the longest line the reader accepts "
        "(a line with no line end, or a quoted field that is never closed?)",
        line=line,
        limit_bytes=MAX_LINE_BYTES,
    )


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
            # Records are at most MAX_LINE_BYTES: a block always holds a whole one.
            read_options=pacsv.ReadOptions(use_threads=False, block_size=2 * MAX_LINE_BYTES),
            parse_options=pacsv.ParseOptions(invalid_row_handler=remember, newlines_in_values=True),
            convert_options=_convert_options({}),
        )
    except pa.ArrowInvalid:
        pass  # expected: the handler above recorded the offending row
    finally:
        stream.close()
    if not rows:
        return RaggedRowError(f"input is not valid CSV: {message}")
    row = rows[0]
    # row.number counts records (header = 1; blank lines and line breaks inside quotes not
    # counted): the file line is found the way every other error's is.
    line = line_of_row(open_input, row.number - 2) if row.number and row.number >= 2 else row.number
    return RaggedRowError(
        f"line {line} has {row.actual_columns} fields but the header has {row.expected_columns}: {row.text[:80]!r}",
        line=line,
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
    """The file line (1-based, header = 1) where 0-based data row `row` starts: blank lines are
    skipped, as the parser skips them, and a quoted field's line breaks count as lines, as an
    editor shows them. Only called to word an error, so a re-read is affordable."""
    stream = open_input()
    try:
        buffers = ChunkBuffers(BLOCK_BYTES)
        line, to_pass, after_cr = 1, row + 1, False  # the header is a record to pass too
        for chunk in line_chunks(stream, buffers):
            data = bytes(chunk.view)
            buffers.give(chunk.buffer)
            if after_cr and data.startswith(b"\n"):  # the "\n" of a "\r\n" the cut split
                data = data[1:]
            after_cr = data.endswith(b"\r")
            for lines, blank in _records(data):
                if not blank:
                    if to_pass == 0:
                        return line
                    to_pass -= 1
                line += lines
        return line
    finally:
        stream.close()


def line_at(open_input: InputOpener, offset: int) -> int:
    """The file line (1-based) holding byte `offset`: "\n", "\r\n" and a lone "\r" each end a line."""
    stream = open_input()
    try:
        line, seen, after_cr = 1, 0, False
        while seen < offset and (block := stream.read(min(BLOCK_BYTES, offset - seen))):
            if after_cr and block.startswith(b"\n"):
                line -= 1  # that "\r" and this "\n" end one line
            line += block.count(b"\n") + block.count(b"\r") - block.count(b"\r\n")
            after_cr = block.endswith(b"\r")
            seen += len(block)
        return line
    finally:
        stream.close()


def _records(data: bytes) -> Iterator[tuple[int, bool]]:
    """(physical lines, blank) of each record in `data`, whole records by Arrow's quoting rules."""
    if b'"' not in data:
        for text in data.splitlines():
            yield 1, not text
        return
    spans = list(quoted_spans(data, 0, len(data), [m.start() for m in re.finditer(b'"', data)]))
    record_start, lines, span = 0, 0, 0
    for end in re.finditer(rb"\r\n|\r|\n", data):
        lines += 1
        while span < len(spans) and spans[span][1] < end.start():
            span += 1
        if span < len(spans) and spans[span][0] < end.start():
            continue  # a line break inside a quoted field: the record goes on
        yield lines, end.start() == record_start
        record_start, lines = end.end(), 0
    if record_start < len(data):
        yield lines + 1, False
