"""Read the input CSV into a typed, cached Spark DataFrame with the handler's reader semantics.

The first MiB goes through the handler's own reader (`handler.reader.read_columns`), so the
header checks, the type inference and every error found there are the handler's, word for
word. Spark then reads the whole file as strings and applies the same rules to every cell:
- a cell is missing when it is one of `reader.NA_TOKENS` (or a number that parses as NaN);
- a column the sample calls numeric stays numeric only if every present cell matches the
  grammar pyarrow's float64 parser accepts (`NUMBER`); otherwise it becomes text, as the
  handler's reader re-reads such a column as text;
- a row with more or fewer fields than the header is a RaggedRowError naming its line;
- Spark decodes UTF-8 with U+FFFD for invalid bytes, so a text cell holding U+FFFD is
  reported as not UTF-8 text (a file that holds a real U+FFFD character is refused too:
  the one known difference from the handler, which accepts it);
- a cell holding a NUL byte or a byte-order mark (U+FEFF) is refused as the handler refuses
  them (NotTextError / ByteOrderMarkError with column and line; the handler also names the
  byte offset, which Spark does not know);
- a record longer than MAX_LINE_BYTES is a LineTooLongError; Spark measures it as the sum of
  its cells' UTF-8 bytes plus the commas, without the quotes around quoted fields;
- Spark reads line by line (splittable, parallel); a quoted field holding a line break
  splits its record there and leaves a record with the wrong field count, so on a ragged
  record the file is read again with `multiLine` (Spark's quote-aware reader) before it is
  refused: a valid file is accepted, wherever its quoted line breaks are.

Line numbers are data rows + 1 (Spark does not see blank lines or the line breaks inside
quoted fields: a difference from the handler's file lines only when those come first).

Columns get positional names (`c0`, `c1`, ...) inside Spark, so any header text works.
Non-numeric cells of a numeric candidate are kept as NaN (a real NaN is missing, i.e. null):
NaN in the cached frame means "this column is text after all".

Zeros of a zero-as-missing column become gaps here, but the data-quality profile needs how
many there were (handler.quality.count_zeros, the zero_markers check). They are counted in
the same aggregation that fills the cache, from one boolean column per such column kept in
the cached frame (`z0`, ...; the columnar cache stores booleans as bits), so no second
pass over the CSV is needed.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from handler.contract import DEFAULT_MAX_COLUMNS, MAX_LINE_BYTES
from handler.errors import ByteOrderMarkError, LineTooLongError, NoDataRowsError, NotTextError, RaggedRowError
from handler.reader import SAMPLE_BYTES, read_columns
from handler.reader_basics import NA_TOKENS
from handler.reader_header import header_names
from handler.records import last_record_end

# What pyarrow's float64 conversion accepts (checked against pyarrow 15-22): optional
# spaces, sign, decimal or exponent forms, inf/infinity/nan in any case. Java's parser
# (Spark's cast) also takes "1d", "0x1p3", ...: the regex keeps those text, as pyarrow does.
NUMBER = r"^ *[+-]?((\d+\.?\d*|\.\d+)([eE][+-]?\d+)?|(?i:inf|infinity|nan)) *$"
ROW_BITS = 33  # monotonically_increasing_id: partition index << 33 | position in partition
BAD = "_bad"
ID = "_id"
LONG = "_long"  # the record is longer than MAX_LINE_BYTES


@dataclass
class Sample:
    """What the handler's reader says about the start of the input."""

    names: list[str]
    numeric: list[str]  # numeric in the sample, in header order


def check_sample(head: bytes, whole: bool, max_columns: int = DEFAULT_MAX_COLUMNS) -> Sample:
    """Run the handler's reader on the first MiB (all of it for a small input).

    `head` holds at most SAMPLE_BYTES + 1 bytes; when the input is longer (`whole` False)
    only complete records are read, as the handler's own sample inspection does.
    """
    if not whole:
        head = head[:SAMPLE_BYTES]
        cut = last_record_end(head, 0, len(head))
        head = head[:cut] if cut else head  # no record end in the first MiB: the reader says so
    try:
        columns = read_columns(lambda: io.BytesIO(head), size_hint=len(head), max_columns=max_columns)
    except NoDataRowsError:
        if whole:
            raise
        # Only the header ends in the first MiB: a long first row follows, for Spark to read.
        names = header_names(head, max_columns)
        return Sample(names=names, numeric=list(names))
    return Sample(names=list(columns.names), numeric=[n for n in columns.names if n in columns.numeric])


def internal(i: int) -> str:
    return f"c{i}"


def zero_flag(i: int) -> str:
    """The cached boolean column "column i held a zero" (zero-as-missing columns only)."""
    return f"z{i}"


@dataclass
class TypedFrame:
    """The cached typed frame and how to find a row's 1-based number from its id."""

    df: Any  # pyspark.sql.DataFrame
    names: list[str]
    numeric: list[str]
    text: list[str]
    rows: int
    zeros: dict[str, int] = field(default_factory=dict)  # zeros per zero-as-missing numeric column, before gaps
    _offsets: dict[int, int] | None = None

    def col(self, name: str) -> str:
        return internal(self.names.index(name))

    def row_number(self, row_id: int) -> int:
        """1-based data row of a row id: rows before its partition plus its place in it."""
        from pyspark.sql import functions as F

        if self._offsets is None:
            counts = {
                r["p"]: r["n"]
                for r in self.df.groupBy(F.shiftright(F.col(ID), ROW_BITS).alias("p"))
                .agg(F.count("*").alias("n"))
                .collect()
            }
            total, self._offsets = 0, {}
            for p in sorted(counts):
                self._offsets[p] = total
                total += counts[p]
        return self._offsets[row_id >> ROW_BITS] + (row_id & ((1 << ROW_BITS) - 1)) + 1

    def first_id(self, condition: Any) -> int | None:
        """Id of the first row (in file order) where `condition` holds, or None."""
        from pyspark.sql import functions as F

        return self.df.where(condition).agg(F.min(ID)).first()[0]


def read_typed(spark: Any, path: str, sample: Sample, zero_as_missing: tuple[str, ...]) -> TypedFrame:
    """Read `path` with Spark and cache it typed; raises RaggedRowError / NotTextError / LineTooLongError.

    A numeric candidate holding a non-number is re-typed as text and the frame rebuilt
    (rare: only when a non-number appears after the first MiB); a ragged record is first
    read again with `multiLine` (quoted line breaks) before it is an error.
    """
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    names = sample.names
    multi_line = False
    raw = _raw(spark, path, len(names), multi_line)
    numeric = list(sample.numeric)
    while True:
        df = raw.select(*_typed_columns(names, numeric, zero_as_missing)).persist(StorageLevel.MEMORY_AND_DISK)
        frame = TypedFrame(df, names, numeric, [n for n in names if n not in numeric], rows=0)
        checks = [
            F.count("*").alias("rows"),
            F.count(F.when(F.col(BAD), 1)).alias("ragged"),
            F.count(F.when(F.col(LONG), 1)).alias("long"),
        ]
        checks += [F.count(F.when(F.isnan(frame.col(n)), 1)).alias(f"nan_{frame.col(n)}") for n in numeric]
        for n in frame.text:
            column = F.col(frame.col(n))
            checks += [
                F.count(F.when(column.contains("\ufffd"), 1)).alias(f"bad_{frame.col(n)}"),
                F.count(F.when(column.contains("\x00") | column.contains("\ufeff"), 1)).alias(f"odd_{frame.col(n)}"),
            ]
        zero_columns = [n for n in numeric if n in zero_as_missing]
        flags = {n: zero_flag(names.index(n)) for n in zero_columns}
        checks += [F.count(F.when(F.col(flag), 1)).alias(f"n_{flag}") for flag in flags.values()]
        found = df.agg(*checks).first().asDict()
        frame.rows = found["rows"]
        frame.zeros = {n: found[f"n_{flag}"] for n, flag in flags.items()}
        if found["long"]:  # as the handler: a record over the limit is refused before it is parsed
            raise _line_too_long(frame)
        if found["ragged"] and not multi_line:  # quoted line breaks? Spark's quote-aware reader decides
            df.unpersist()
            multi_line = True
            raw = _raw(spark, path, len(names), multi_line)
            continue
        if found["ragged"]:
            raise _ragged_row(frame, raw, len(names))
        now_text = [n for n in numeric if found[f"nan_{frame.col(n)}"]]
        if not now_text:
            break
        df.unpersist()
        numeric = [n for n in numeric if n not in now_text]
    for name in frame.text:  # in column order, as the handler reports the first column's cell
        if found[f"odd_{frame.col(name)}"]:
            raise _odd_character(frame, name)
    for name in frame.text:
        if found[f"bad_{frame.col(name)}"]:
            raise _not_utf8(frame, name)
    return frame


def _typed_columns(names: list[str], numeric: list[str], zero_as_missing: tuple[str, ...]) -> list[Any]:
    """The typed frame's columns: numbers as doubles (NaN marks a non-number), NA tokens as nulls,
    zeros of zero-as-missing columns flagged and nulled."""
    from pyspark.sql import functions as F

    exprs = [F.col(ID), F.col(BAD).isNotNull().alias(BAD), _too_long(len(names)).alias(LONG)]
    for i, name in enumerate(names):
        cell = F.col(internal(i))
        missing = cell.isNull() | cell.isin(*NA_TOKENS)
        if name in numeric:
            value = (
                F.when(missing, F.lit(None))
                .when(cell.rlike(NUMBER), cell.cast("double"))
                .otherwise(F.lit(float("nan")))
            )
            if name in zero_as_missing:
                exprs.append((value == 0).alias(zero_flag(i)))
                value = F.when(value == 0, F.lit(None)).otherwise(value)
            exprs.append(value.cast("double").alias(internal(i)))
        else:
            exprs.append(F.when(missing, F.lit(None)).otherwise(cell).alias(internal(i)))
    return exprs


def _raw(spark: Any, path: str, width: int, multi_line: bool) -> Any:
    """The file as string cells (c0, c1, ...), the corrupt-record column and a row id."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    schema = T.StructType(
        [T.StructField(internal(i), T.StringType()) for i in range(width)] + [T.StructField(BAD, T.StringType())]
    )
    return (
        spark.read.option("header", True)
        .option("escape", '"')
        .option("mode", "PERMISSIVE")
        .option("columnNameOfCorruptRecord", BAD)
        .option("encoding", "UTF-8")
        .option("multiLine", multi_line)
        .schema(schema)
        .csv(path)
        .withColumn(ID, F.monotonically_increasing_id())
    )


def _too_long(width: int) -> Any:
    """Whether a record's cells and commas take more than MAX_LINE_BYTES (quotes around fields not counted)."""
    from pyspark.sql import functions as F

    lengths = [F.coalesce(F.octet_length(F.col(internal(i))), F.lit(0)) for i in range(width)]
    total = lengths[0]
    for length in lengths[1:]:
        total = total + length
    return (total + F.lit(width - 1)) > F.lit(MAX_LINE_BYTES)


def _line_too_long(frame: TypedFrame) -> LineTooLongError:
    from pyspark.sql import functions as F

    from handler.reader_errors import line_too_long

    row_id = frame.first_id(F.col(LONG))
    return line_too_long(frame.row_number(row_id) + 1)  # the header is line 1


def _odd_character(frame: TypedFrame, name: str) -> NotTextError:
    """A NUL or a byte-order mark in a cell: the handler's error (without its byte offset)."""
    from pyspark.sql import functions as F

    column = frame.col(name)
    condition = F.col(column).contains("\x00") | F.col(column).contains("\ufeff")
    row_id = frame.first_id(condition)
    value = frame.df.where(F.col(ID) == row_id).select(column).first()[0]
    line = frame.row_number(row_id) + 1  # the header is line 1
    nul, bom = value.find("\x00"), value.find("\ufeff")
    if nul >= 0 and (bom < 0 or nul < bom):
        return NotTextError(
            f"input is not CSV text: column {name!r} line {line} holds a NUL byte (is it compressed or binary?)",
            line=line,
        )
    return ByteOrderMarkError(
        f"line {line} holds a byte-order mark (U+FEFF) in column {name!r}: only the very start of a file "
        "may; were files joined together? Remove it (and any repeated header line)",
        line=line,
    )


def _ragged_row(frame: TypedFrame, raw: Any, expected: int) -> RaggedRowError:
    from pyspark.sql import functions as F

    row_id = frame.first_id(F.col(BAD))
    # Every column is selected: with only the corrupt-record column Spark skips the parse
    # that fills it.
    text = raw.where(F.col(ID) == row_id).first()[BAD].rstrip("\r\n")
    actual = len(next(csv.reader([text]), []))
    line = frame.row_number(row_id) + 1  # the header is line 1
    return RaggedRowError(
        f"line {line} has {actual} fields but the header has {expected}: {text[:80]!r}",
        line=line,
        expected_fields=expected,
        actual_fields=actual,
    )


def _not_utf8(frame: TypedFrame, name: str) -> NotTextError:
    from pyspark.sql import functions as F

    column = frame.col(name)
    row_id = frame.first_id(F.col(column).contains("\ufffd"))
    value = frame.df.where(F.col(ID) == row_id).select(column).first()[0]
    line = frame.row_number(row_id) + 1  # the header is line 1
    return NotTextError(
        f"column {name!r} line {line} is not UTF-8 text ({value[:20]!r}); save the file as UTF-8",
        column=name,
        line=line,
    )


def first_non_number(frame: TypedFrame, name: str, accepts: Callable[[str], bool]) -> tuple[int, str]:
    """(row, value) of the first present cell of text column `name` that `accepts` refuses.

    The handler asks Python's float(), which takes a few forms pyarrow refuses ("1_000"):
    candidates are the cells pyarrow would refuse, in file order, checked with `accepts`.
    Like the handler, (0, "") when there is none.
    """
    from pyspark.sql import functions as F

    column = frame.col(name)
    candidates = (
        frame.df.where(F.col(column).isNotNull() & ~F.col(column).rlike(NUMBER))
        .select(ID, column)
        .orderBy(ID)
        .limit(1000)
        .collect()
    )
    for row_id, value in candidates:
        if not accepts(value):
            return frame.row_number(row_id), value
    return 0, ""
