"""The pure pipeline: parsed columns in; imputed, normalized columns, statistics and the
correlation matrix out. No boto3, no environment, no printing, so tests call it directly.

Semantics (each pinned by a test):
- A cell is missing when it is empty, an NA token (see reader.NA_TOKENS), or 0 in a
  zero-as-missing column.
- Numeric columns are imputed with the median (or mean) of their present values; text
  columns with their most frequent value (ties: the value that sorts first).
- Statistics (min, max, mean, population std) describe each numeric column after
  imputation and before normalization; those of its present values (before imputation)
  are derived from them exactly (handler.quality.present_stats: no second pass).
- Values so large that a column's sum or spread overflows a double (two cells of 1.7e308)
  are an input error naming the column and the line of its largest value, never an inf
  or NaN in the outputs.
- Numeric columns not excluded are normalized: minmax to [0, 1] or zscore (population
  std); a constant column becomes 0.0, never NaN or inf.
- The correlation matrix is Pearson over every numeric column after imputation; a pair
  involving a constant column is undefined (NaN, written as an empty cell).
- A numeric column that is not normalized is written as int64 when every value is a
  whole number, else float64; text columns as strings.

The numeric arrays of `Columns` are modified in place: at 5M rows a copy of the data
would not fit the Lambda's memory beside the original. Statistics and the correlation are
taken first, then each column is normalized in its own memory; a column written as int64
is converted in place too (`Columns.numeric` then holds the int64 array).
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .errors import (
    ColumnNotFoundError,
    EmptyColumnError,
    NonFiniteValueError,
    NonNumericColumnError,
    NoNumericColumnsError,
    ValueOverflowError,
)
from .median import median_of_present
from .numeric import ColumnStats, as_int_if_whole, correlate, describe, normalize_in_place
from .options import PipelineOptions
from .quality import present_stats
from .reader import Columns


@dataclass
class PipelineResult:
    names: list[str]
    rows: int
    output: dict[str, np.ndarray | pa.ChunkedArray]
    missing: dict[str, int]
    imputed: dict[str, float | str]
    stats: dict[str, ColumnStats]
    numeric: list[str]
    normalized: list[str]
    correlation: np.ndarray
    timings_ms: dict[str, float] = field(default_factory=dict)

    @property
    def missing_total(self) -> int:
        return sum(self.missing.values())

    @property
    def dtypes(self) -> dict[str, str]:
        return {name: _dtype_name(self.output[name]) for name in self.names}


def process(columns: Columns, options: PipelineOptions) -> PipelineResult:
    """Impute, describe, correlate and normalize; raises a PipelineError for unusable input."""
    started = time.perf_counter()
    _check_options_against(columns, options)
    numeric = [n for n in columns.names if n in columns.numeric]
    if not numeric:
        raise NoNumericColumnsError(
            "input has no numeric column to normalize or correlate (columns: " + ", ".join(columns.names) + ")",
            columns=columns.names,
        )
    missing: dict[str, int] = {}
    imputed: dict[str, float | str] = {}
    stats: dict[str, ColumnStats] = {}
    # Columns are independent and numpy releases the GIL: two at a time on two cores. Results are
    # taken in column order, so the error raised is the first column's, as in a sequential loop.
    with ThreadPoolExecutor(max_workers=_workers(), thread_name_prefix="impute") as pool:
        prepared = [pool.submit(_prepare, columns, name, options) for name in numeric]
        for name, future in zip(numeric, prepared, strict=True):
            missing[name], fill, stats[name] = future.result()
            if fill is not None:
                imputed[name] = fill
    output: dict[str, np.ndarray | pa.ChunkedArray] = {}
    for name, values in columns.text.items():
        missing[name], fill_text, output[name] = _impute_text(name, values, columns.rows)
        if fill_text is not None:
            imputed[name] = fill_text
    imputed_at = time.perf_counter()
    correlation = correlate([columns.numeric[n] for n in numeric], [stats[n].mean for n in numeric])
    correlated_at = time.perf_counter()
    normalized = (
        [] if options.normalize_method == "none" else [n for n in numeric if n not in options.normalize_exclude]
    )

    def finish(name: str) -> np.ndarray:
        values = columns.numeric[name]
        if name in normalized:
            normalize_in_place(values, stats[name], options.normalize_method)
            return values
        return as_int_if_whole(values)

    with ThreadPoolExecutor(max_workers=_workers(), thread_name_prefix="normalize") as pool:
        for name, values in zip(numeric, pool.map(finish, numeric), strict=True):
            output[name] = columns.numeric[name] = values  # an int64 column leaves no stale float view
    finished = time.perf_counter()
    return PipelineResult(
        names=list(columns.names),
        rows=columns.rows,
        output={n: output[n] for n in columns.names},
        missing={n: missing[n] for n in columns.names},
        imputed=imputed,
        stats=stats,
        numeric=numeric,
        normalized=normalized,
        correlation=correlation,
        timings_ms={
            "impute_ms": _ms(imputed_at - started),
            "correlate_ms": _ms(correlated_at - imputed_at),
            "normalize_ms": _ms(finished - correlated_at),
        },
    )


def _prepare(columns: Columns, name: str, options: PipelineOptions) -> tuple[int, float | None, ColumnStats]:
    """One numeric column checked, imputed in place and described: (missing count, fill, statistics)."""
    values = columns.numeric[name]
    _reject_non_finite(name, values, columns.line_of)
    if name in options.zero_as_missing:
        values[values == 0] = np.nan
    count, fill, gaps = _impute_numeric(name, values, options.impute_strategy, columns.rows)
    with np.errstate(over="ignore", invalid="ignore"):  # an overflow is checked for and named below
        stats = describe(values)
    if overflows(stats, columns.rows, count, fill):
        row = _largest_present(values, gaps)
        raise value_overflow(name, columns.line_of(row), float(values[row]))
    return count, fill, stats


# Each column list of the options: the function's environment variable and the config.toml key behind it.
COLUMN_SETTINGS = (
    ("zero_as_missing", "ZERO_AS_MISSING", "pipeline.zero_as_missing"),
    ("normalize_exclude", "NORMALIZE_EXCLUDE", "pipeline.normalize_exclude"),
)


def _check_options_against(columns: Columns, options: PipelineOptions) -> None:
    """Every configured column that the input lacks, all in one error (not one per run)."""
    missing = {
        variable: (key, [name for name in getattr(options, field) if name not in columns.names])
        for field, variable, key in COLUMN_SETTINGS
    }
    missing = {variable: found for variable, found in missing.items() if found[1]}
    if missing:
        parts = [
            f"{', '.join(map(repr, names))} from {variable} (config.toml: {key})"
            for variable, (key, names) in missing.items()
        ]
        absent = [name for _, names in missing.values() for name in names]
        noun = "column" if len(absent) == 1 else "columns"
        verb = "is" if len(absent) == 1 else "are"
        raise ColumnNotFoundError(
            f"configured {noun} {verb} not in the input: {'; '.join(parts)}. "
            f"The input's columns: {', '.join(columns.names)}",
            column=absent[0],
            columns=absent,
            setting=next(iter(missing)),
            settings={variable: {"config_key": key, "columns": names} for variable, (key, names) in missing.items()},
        )
    for name in options.zero_as_missing:
        if name in columns.text:
            row, value = _first_non_number(columns.text[name])
            raise zero_column_not_numeric(name, columns.line_of(row), value)


def zero_column_not_numeric(name: str, line: int, value: str) -> NonNumericColumnError:
    """A ZERO_AS_MISSING column holding text: the same error from both engines."""
    return NonNumericColumnError(
        f"column {name!r} (in ZERO_AS_MISSING, config.toml: pipeline.zero_as_missing) must be numeric "
        f"but line {line} holds {value!r}",
        column=name,
        line=line,
        value=value,
    )


def _first_non_number(values: pa.ChunkedArray) -> tuple[int, str]:
    """(0-based row, value) of the first cell that is not a number."""
    for row, value in enumerate(values.to_pylist()):
        if value is None:
            continue
        try:
            float(value)
        except ValueError:
            return row, value
    return 0, ""


def _reject_non_finite(name: str, values: np.ndarray, line_of: Callable[[int], int]) -> None:
    infinite = np.isinf(values)
    if infinite.any():
        row = int(np.argmax(infinite))
        line = line_of(row)
        shown = str(float(values[row]))  # 'inf' / '-inf', never numpy's repr
        raise NonFiniteValueError(
            f"column {name!r} line {line} is {shown}: replace it with a number or leave the cell empty",
            column=name,
            line=line,
            count=int(infinite.sum()),
        )


def _impute_numeric(
    name: str, values: np.ndarray, strategy: str, rows: int
) -> tuple[int, float | None, np.ndarray | None]:
    """Fill NaNs in place; returns (missing count, value filled or None, where the gaps were or None)."""
    gaps = np.isnan(values)
    count = int(gaps.sum())
    if count == 0:
        return 0, None, None
    if count == rows:
        raise EmptyColumnError(
            f"column {name!r} has no value in any of its {rows} rows: nothing to impute from",
            column=name,
            rows=rows,
        )
    fill = median_of_present(values, rows - count) if strategy == "median" else float(values[~gaps].mean())
    values[gaps] = fill
    return count, fill, gaps


def overflows(stats: ColumnStats, rows: int, filled: int, fill: float | str | None) -> bool:
    """Whether a column's statistics (after imputation, or of its present values) left the doubles' range."""
    spread = stats.max - stats.min
    if not all(math.isfinite(v) for v in (stats.mean, stats.std, spread)):
        return True
    raw = present_stats(rows, filled, stats.mean, stats.std, stats.min, stats.max, fill)
    return not all(math.isfinite(v) for v in raw.values())


def value_overflow(name: str, line: int, value: float) -> ValueOverflowError:
    """Values too large to sum: the same error from both engines."""
    return ValueOverflowError(
        f"column {name!r} holds values too large to compute with (line {line}: {value!r}): its mean or "
        "standard deviation overflows a double (sums beyond 1.8e308; squares of values 1e154 apart already do); "
        "scale the column down",
        column=name,
        line=line,
        value=value,
    )


def _largest_present(values: np.ndarray, gaps: np.ndarray | None) -> int:
    """Row of the largest absolute value among the present (not imputed) cells."""
    magnitude = np.abs(values)
    if gaps is not None:
        magnitude[gaps] = -1.0
    return int(np.argmax(magnitude))


def _impute_text(name: str, values: pa.ChunkedArray, rows: int) -> tuple[int, str | None, pa.ChunkedArray]:
    count = values.null_count
    if count == 0:
        return 0, None, values
    if count == rows:
        raise EmptyColumnError(
            f"column {name!r} has no value in any of its {rows} rows: nothing to impute from",
            column=name,
            rows=rows,
        )
    counts = pc.value_counts(values.drop_null())
    table = pa.table({"value": counts.field("values"), "count": counts.field("counts")})
    best = table.sort_by([("count", "descending"), ("value", "ascending")])["value"][0].as_py()
    return count, best, pc.fill_null(values, best)


def _dtype_name(values: np.ndarray | pa.ChunkedArray) -> str:
    if isinstance(values, np.ndarray):
        return str(values.dtype)
    return "string"


def _workers() -> int:
    return min(2, os.cpu_count() or 1)  # more would only add concurrent temporaries (memory)


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 3)
