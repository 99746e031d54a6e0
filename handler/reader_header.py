"""The reader's first look at an input: the header line and the sample the column types come from.

A header is refused before any row is parsed (duplicate, empty or too many names, a byte
order mark, no delimiter), naming the problem.
"""

from __future__ import annotations

import csv
import io
import unicodedata
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.csv as pacsv

from .contract import DEFAULT_MAX_COLUMNS, ENV_MAX_COLUMNS
from .errors import (
    DelimiterError,
    DuplicateColumnError,
    EmptyInputError,
    HeaderError,
    NoDataRowsError,
    NotTextError,
    TooManyColumnsError,
)
from .reader_basics import BOM, convert_options, is_numeric_type
from .reader_errors import _check_bytes, line_too_long
from .records import first_record_end, last_record_end


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
    body_start = len(BOM) if sample.startswith(BOM) else 0
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
        convert_options=convert_options({}),
    )


def _fits(table: pa.Table | None, types: dict[str, pa.DataType]) -> bool:
    """Whether the sample's parse can stand for a chunk parsed with `types` (same values)."""
    if table is None:
        return False
    for name, want in types.items():
        got = table.schema.field(name).type
        if is_numeric_type(want) and not (pa.types.is_int64(got) or pa.types.is_float64(got) or pa.types.is_null(got)):
            return False
        if not is_numeric_type(want) and got != want:
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
