"""The handler's pipeline (handler/pipeline.py) as Spark aggregations over the typed frame.

A handful of passes over the cached frame, none of which gathers a column in one place:
1. counts: present values, inf, sums (one aggregation for every column);
2. exact medians: `approxQuantile` brackets each median, one aggregation counts the values
   below and inside the bracket, and only the distinct values inside it (with their counts)
   come to the driver to be walked in order. A bracket that misses is widened and retried;
3. statistics and centred cross products of the imputed columns (one aggregation), from
   which the Pearson matrix is built exactly as the handler builds it;
4. the most frequent value of each text column that has gaps (ties: the value that sorts
   first; Spark and Arrow both order strings by their UTF-8 bytes).
Errors are raised in the handler's order, so an input with several problems gets the same
error from both engines.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import numpy as np

from handler.errors import (
    EmptyColumnError,
    NonFiniteValueError,
    NoNumericColumnsError,
)
from handler.formulas import PLAIN_NUMBER, PREFIX, STARTS_LIKE_FORMULA, escape
from handler.pipeline import (
    ColumnStats,
    PipelineOptions,
    PipelineResult,
    overflows,
    value_overflow,
    zero_column_not_numeric,
)
from handler.pipeline import _check_options_against as check_columns

from .frame import ID, TypedFrame, first_non_number

QUANTILE_ERROR = 1e-3
EXACT_INT_LIMIT = 2.0**53


@dataclass
class SparkResult:
    """The handler's PipelineResult (without the data) plus the cleaned table as a DataFrame."""

    result: PipelineResult
    cleaned: Any  # pyspark.sql.DataFrame with the output column names, in input order
    dtypes: dict[str, str]
    formula_like: dict[str, int]  # formula-like cells per text column of the cleaned table


def process(frame: TypedFrame, options: PipelineOptions) -> SparkResult:
    """Impute, describe, correlate and normalize; raises the handler's PipelineErrors."""
    from pyspark.sql import functions as F

    started = time.perf_counter()
    _check_options_against(frame, options)
    numeric = frame.numeric
    if not numeric:
        raise NoNumericColumnsError(
            "input has no numeric column to normalize or correlate (columns: " + ", ".join(frame.names) + ")",
            columns=frame.names,
        )
    counts = _counts(frame)
    rows = counts["rows"]
    missing = _missing(frame, counts)
    gaps = [n for n in numeric if missing[n]]
    if options.impute_strategy == "median":
        medians = exact_medians(frame, [frame.col(n) for n in gaps], [counts[f"n_{frame.col(n)}"] for n in gaps])
        fills: dict[str, float | str] = dict(zip(gaps, medians, strict=True))
    else:
        fills = {n: counts[f"sum_{frame.col(n)}"] / counts[f"n_{frame.col(n)}"] for n in gaps}
    for name in frame.text:
        if missing[name]:
            fills[name] = _most_frequent(frame, name)
    imputed_at = time.perf_counter()

    filled = {
        name: F.coalesce(F.col(frame.col(name)), F.lit(fills[name])) if name in fills else F.col(frame.col(name))
        for name in frame.names
    }
    centres = {n: (counts[f"sum_{frame.col(n)}"] + missing[n] * float(fills.get(n, 0.0))) / rows for n in numeric}
    stats, whole, correlation, formula_like = _describe_and_correlate(
        frame.df, numeric, filled, centres, rows, {n: filled[n] for n in frame.text}
    )
    for name in numeric:  # in column order, as the handler checks them
        if overflows(stats[name], rows, missing[name], fills.get(name)):
            raise _overflow(frame, name)
    correlated_at = time.perf_counter()

    normalized = (
        [] if options.normalize_method == "none" else [n for n in numeric if n not in options.normalize_exclude]
    )
    output, dtypes = _output_columns(frame, filled, stats, whole, normalized, options)
    result = PipelineResult(
        names=list(frame.names),
        rows=rows,
        output={},
        missing={n: missing[n] for n in frame.names},
        imputed={n: fills[n] for n in frame.names if n in fills},
        stats=stats,
        numeric=list(numeric),
        normalized=normalized,
        correlation=correlation,
        timings_ms={
            "impute_ms": _ms(imputed_at - started),
            "correlate_ms": _ms(correlated_at - imputed_at),
        },
    )
    return SparkResult(result=result, cleaned=frame.df.select(*output), dtypes=dtypes, formula_like=formula_like)


def _missing(frame: TypedFrame, counts: dict[str, Any]) -> dict[str, int]:
    """Missing cells per column; an infinity or a column with no value is the handler's error."""
    from pyspark.sql import functions as F

    rows = counts["rows"]
    missing: dict[str, int] = {}
    for name in frame.numeric:
        c = frame.col(name)
        if counts[f"inf_{c}"]:
            row_id = frame.first_id(F.col(c).isin(float("inf"), float("-inf")))
            line = frame.row_number(row_id) + 1  # the header is line 1
            shown = str(float(frame.df.where(F.col(ID) == row_id).select(c).first()[0]))
            raise NonFiniteValueError(
                f"column {name!r} line {line} is {shown}: replace it with a number or leave the cell empty",
                column=name,
                line=line,
                count=counts[f"inf_{c}"],
            )
        missing[name] = rows - counts[f"n_{c}"]
        if missing[name] == rows:
            _empty(name, rows)
    for name in frame.text:
        missing[name] = rows - counts[f"n_{frame.col(name)}"]
        if missing[name] == rows:
            _empty(name, rows)
    return missing


def _output_columns(
    frame: TypedFrame,
    filled: dict[str, Any],
    stats: dict[str, Any],
    whole: dict[str, bool],
    normalized: list[str],
    options: PipelineOptions,
) -> tuple[list[Any], dict[str, str]]:
    """The cleaned table's columns (normalized, whole numbers as long, text escaped when asked) and dtypes."""
    from pyspark.sql import functions as F

    output, dtypes = [], {}
    for name in frame.names:
        value = filled[name]
        if name in normalized:
            value, dtypes[name] = _normalized(value, stats[name], options.normalize_method), "float64"
        elif name in frame.numeric:
            dtypes[name] = "int64" if whole[name] else "float64"
            value = value.cast("long") if whole[name] else value
        else:
            dtypes[name] = "string"
            if options.escape_formulas:
                value = F.when(_formula_like(value), F.concat(F.lit(PREFIX), value)).otherwise(value)
        output.append(value.alias(escape(name) if options.escape_formulas else name))
    return output, dtypes


def _check_options_against(frame: TypedFrame, options: PipelineOptions) -> None:
    # The handler's own check for configured columns the input lacks (same message and
    # details); it sees no text columns here, the zero-as-missing text check follows.
    check_columns(SimpleNamespace(names=frame.names, text={}), options)
    for name in options.zero_as_missing:
        if name in frame.text:
            row, value = first_non_number(frame, name, _parses_as_float)
            raise zero_column_not_numeric(name, row + 1, value)  # the header is line 1


def _parses_as_float(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def _empty(name: str, rows: int) -> None:
    raise EmptyColumnError(
        f"column {name!r} has no value in any of its {rows} rows: nothing to impute from", column=name, rows=rows
    )


def _counts(frame: TypedFrame) -> dict[str, Any]:
    """Rows; per column the present cells; per numeric column the infinite cells and the finite sum."""
    from pyspark.sql import functions as F

    aggs = [F.count("*").alias("rows")]
    for name in frame.names:
        c = frame.col(name)
        aggs.append(F.count(c).alias(f"n_{c}"))
        if name in frame.numeric:
            infinite = F.col(c).isin(float("inf"), float("-inf"))
            aggs.append(F.count(F.when(infinite, 1)).alias(f"inf_{c}"))
            aggs.append(F.sum(F.when(~infinite, F.col(c))).alias(f"sum_{c}"))
    return frame.df.agg(*aggs).first().asDict()


def exact_medians(frame: TypedFrame, columns: list[str], present: list[int]) -> list[float]:
    """The exact median of each column's non-null values, as np.median computes it.

    For n values the median is the k-th smallest for k = (n-1)//2 and n//2 (their mean when
    n is even). The approximate quantiles at 0.5 -/+ width bracket both order statistics
    when the sketch keeps its error bound; the counts below and inside the bracket prove it
    (or the bracket is widened: 4x, up to the whole range). Only the distinct values inside
    the bracket, with their counts, reach the driver.
    """
    from pyspark.sql import functions as F

    medians: dict[str, float] = {}
    pending = dict(zip(columns, present, strict=True))
    width = 4 * QUANTILE_ERROR
    while pending:
        names = list(pending)
        if width < 0.5:
            quantiles = frame.df.approxQuantile(names, [0.5 - width, 0.5 + width], QUANTILE_ERROR)
            brackets = {c: (q[0], q[1]) for c, q in zip(names, quantiles, strict=True)}
        else:  # the whole range: always brackets the median
            bounds = frame.df.agg(*[x for c in names for x in (F.min(c), F.max(c))]).first()
            brackets = {c: (bounds[2 * i], bounds[2 * i + 1]) for i, c in enumerate(names)}
        aggs = []
        for c, (lo, hi) in brackets.items():
            aggs.append(F.count(F.when(F.col(c) < lo, 1)))
            aggs.append(F.count(F.when(F.col(c).between(lo, hi), 1)))
        counted = frame.df.agg(*aggs).first()
        proven = []
        for i, (c, n) in enumerate(list(pending.items())):
            below, inside = counted[2 * i], counted[2 * i + 1]
            if below <= (n - 1) // 2 and below + inside > n // 2:
                proven.append((c, below))
        if proven:
            values = _values_inside(frame.df, {c: brackets[c] for c, _ in proven})
            for c, below in proven:
                medians[c] = _walk(values[c], below, pending.pop(c))
        width *= 4
    return [medians[c] for c in columns]


def _values_inside(df: Any, brackets: dict[str, tuple[float, float]]) -> dict[str, list[tuple[float, int]]]:
    """Distinct values inside each bracket with their counts, sorted (one job for all columns)."""
    from functools import reduce

    from pyspark.sql import functions as F

    parts = [
        df.where(F.col(c).between(lo, hi)).select(F.lit(c).alias("column"), F.col(c).alias("value"))
        for c, (lo, hi) in brackets.items()
    ]
    rows = reduce(lambda a, b: a.unionAll(b), parts).groupBy("column", "value").count().collect()
    found: dict[str, list[tuple[float, int]]] = {c: [] for c in brackets}
    for row in rows:
        found[row["column"]].append((row["value"], row["count"]))
    return {c: sorted(v) for c, v in found.items()}


def _walk(values: list[tuple[float, int]], below: int, n: int) -> float:
    """The median from the sorted (value, count) pairs that follow `below` smaller values."""
    wanted = ((n - 1) // 2, n // 2)
    found: list[float] = []
    seen = below
    for value, count in values:
        seen += count
        while len(found) < 2 and seen > wanted[len(found)]:
            found.append(value)
        if len(found) == 2:
            break
    low, high = found
    return float(low) if n % 2 else float((low + high) / 2)


def _most_frequent(frame: TypedFrame, name: str) -> str:
    from pyspark.sql import functions as F

    c = frame.col(name)
    best = (
        frame.df.where(F.col(c).isNotNull())
        .groupBy(c)
        .count()
        .orderBy(F.col("count").desc(), F.col(c).asc())
        .select(c)
        .first()
    )
    return best[0]


def _formula_like(value: Any) -> Any:
    """handler.formulas' rule as a Spark condition (Java regexes: the same patterns)."""
    return value.rlike(STARTS_LIKE_FORMULA) & ~value.rlike(PLAIN_NUMBER)


def _overflow(frame: TypedFrame, name: str) -> Exception:
    """The handler's ValueOverflowError: the line of the column's largest absolute value."""
    from pyspark.sql import functions as F

    c = frame.col(name)
    largest = frame.df.agg(F.max(F.abs(F.col(c)))).first()[0]
    row_id = frame.first_id(F.abs(F.col(c)) == F.lit(largest))
    value = frame.df.where(F.col(ID) == row_id).select(c).first()[0]
    return value_overflow(name, frame.row_number(row_id) + 1, float(value))  # the header is line 1


def _describe_and_correlate(
    df: Any, numeric: list[str], filled: dict[str, Any], centres: dict[str, float], rows: int, text: dict[str, Any]
) -> tuple[dict[str, ColumnStats], dict[str, bool], np.ndarray, dict[str, int]]:
    """Min, max, mean, population std, "all whole" and the Pearson matrix in one aggregation,
    with the formula-like cells of each (filled) text column.

    Cross products are centred on means known beforehand (`centres`, from the sums), then
    corrected to the exact means: sum((x-a)(y-b)) = sum((x-c)(y-d)) - n(a-c)(b-d). Centring
    keeps the sums as accurate as the handler's; a constant column (min == max) makes its
    pairs undefined (NaN), as the README states.
    """
    from pyspark.sql import functions as F

    k = len(numeric)
    aggs = []
    for i, name in enumerate(numeric):
        v = filled[name]
        aggs += [
            F.min(v).alias(f"min{i}"),
            F.max(v).alias(f"max{i}"),
            F.avg(v).alias(f"mean{i}"),
            F.stddev_pop(v).alias(f"std{i}"),
            F.count(F.when(v != F.floor(v), 1)).alias(f"frac{i}"),
            F.max(F.abs(v)).alias(f"abs{i}"),
        ]
    for j, value in enumerate(text.values()):
        aggs.append(F.count(F.when(_formula_like(value), 1)).alias(f"formula{j}"))
    centred = [filled[n] - F.lit(centres[n]) for n in numeric]
    for i in range(k):
        for j in range(i, k):
            aggs.append(F.sum(centred[i] * centred[j]).alias(f"x{i}_{j}"))
    found = df.agg(*aggs).first().asDict()
    stats = {
        name: ColumnStats(
            min=float(found[f"min{i}"]),
            max=float(found[f"max{i}"]),
            mean=float(found[f"mean{i}"]),
            std=float(found[f"std{i}"]),
        )
        for i, name in enumerate(numeric)
    }
    whole = {name: found[f"frac{i}"] == 0 and found[f"abs{i}"] < EXACT_INT_LIMIT for i, name in enumerate(numeric)}
    shift = np.array([stats[n].mean - centres[n] for n in numeric])
    cross = np.empty((k, k))
    for i in range(k):
        for j in range(i, k):
            cross[i, j] = cross[j, i] = found[f"x{i}_{j}"] - rows * shift[i] * shift[j]
    constant = np.array([stats[n].min == stats[n].max for n in numeric])
    scale = np.sqrt(np.where(constant, 1.0, np.maximum(np.diag(cross), 0.0)))
    corr = cross / np.outer(scale, scale)
    corr[constant[:, None] | constant[None, :]] = np.nan
    np.clip(corr, -1.0, 1.0, out=corr)
    np.fill_diagonal(corr, np.where(constant, np.nan, 1.0))
    formula_like = {name: int(found[f"formula{j}"]) for j, name in enumerate(text)}
    return stats, whole, corr, formula_like


def _normalized(value: Any, stats: ColumnStats, method: str) -> Any:
    from pyspark.sql import functions as F

    if stats.max == stats.min:
        return F.lit(0.0)
    if method == "minmax":
        return (value - F.lit(stats.min)) / F.lit(stats.max - stats.min)
    return (value - F.lit(stats.mean)) / F.lit(stats.std)


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 3)
