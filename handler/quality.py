"""Data quality: profile a run, compare it with the history of earlier runs, flag drift.

Pure: no boto3, no environment reads outside `QualitySettings.from_environ`, no printing.
The handler reads the history (`<OUTPUT_PREFIX>quality/history.json`), calls `profile`
and `run_checks`, and writes `quality.json` and the trimmed history.

The profile is built from the pipeline's public results, not from a second pass over the
data (at 1M rows a second pass would cost more than every check together). The pipeline's
statistics describe a column after imputation; the statistics of the present values are
recovered exactly from them: the k filled cells all hold the same value `fill`, which
lies within [min, max] of the present values (a median or mean of them), so

    mean_p = (n * mean - k * fill) / (n - k)
    SS_p   = n * std**2 - k * (fill - mean)**2 - (n - k) * (mean_p - mean)**2

and min/max are unchanged. The correlation matrix is the pipeline's (after imputation).

The checks themselves: handler/quality_checks.py.

The history stays small whatever the width: a profile keeps its correlation matrix only up
to CORRELATION_MAX_COLUMNS numeric columns (the correlation check says when it could not
compare), and the whole history.json is kept under HISTORY_MAX_BYTES by dropping the oldest
profiles, so one wide run cannot make every later run read megabytes. A history that cannot
be used (not JSON, not a history, wrong inner types, NaN or infinities) is replaced.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

from .contract import QUALITY_ENV_PREFIX, QUALITY_HISTORY
from .errors import ConfigurationError

HISTORY_NAME = QUALITY_HISTORY
HISTORY_VERSION = 1
# Pairs grow with the square of the numeric columns: 50 columns are 1,225 pairs per profile.
CORRELATION_MAX_COLUMNS = 50
# history.json: the oldest profiles go first; a longer one is not read. Every run reads, checks
# and rewrites the whole history: 1 MiB is 20 profiles of up to ~350 columns, or 7 of 1,000
# (bench/width_bench.py: a normal run next to a full history of wide profiles).
HISTORY_MAX_BYTES = 1 << 20
OK, WARN, FAIL = "ok", "warn", "fail"
LEVELS = (OK, WARN, FAIL)
ON_FAILURE = ("warn", "block")
NUMERIC, TEXT = "numeric", "text"
WARN_MARK, FAIL_MARK = "⚠️", "❌"
ZERO_SETTING = "pipeline.zero_as_missing in config.toml (ZERO_AS_MISSING)"

Profile = dict[str, Any]
Check = dict[str, Any]


@dataclass(frozen=True)
class QualitySettings:
    history_runs: int = 20
    on_failure: str = "warn"
    row_count_min_factor: float = 0.5
    row_count_max_factor: float = 2.0
    missing_rate_margin: float = 0.10
    max_missing_rate: float = 0.95
    max_mean_shift: float = 0.5
    max_correlation_change: float = 0.3

    def __post_init__(self) -> None:
        problems = {
            "QUALITY_HISTORY_RUNS": (self.history_runs, 1 <= self.history_runs <= 1000, "an integer from 1 to 1000"),
            "QUALITY_ON_FAILURE": (self.on_failure, self.on_failure in ON_FAILURE, "'warn' or 'block'"),
            "QUALITY_ROW_COUNT_MIN_FACTOR": (
                self.row_count_min_factor,
                0 <= self.row_count_min_factor <= 1,
                "a number from 0 to 1",
            ),
            "QUALITY_ROW_COUNT_MAX_FACTOR": (
                self.row_count_max_factor,
                self.row_count_max_factor >= 1,
                "a number of at least 1",
            ),
            "QUALITY_MISSING_RATE_MARGIN": (
                self.missing_rate_margin,
                0 <= self.missing_rate_margin <= 1,
                "a number from 0 to 1",
            ),
            "QUALITY_MAX_MISSING_RATE": (
                self.max_missing_rate,
                0 <= self.max_missing_rate <= 1,
                "a number from 0 to 1",
            ),
            "QUALITY_MAX_MEAN_SHIFT": (self.max_mean_shift, self.max_mean_shift > 0, "a number above 0"),
            "QUALITY_MAX_CORRELATION_CHANGE": (
                self.max_correlation_change,
                0 < self.max_correlation_change <= 2,
                "a number above 0 and at most 2",
            ),
        }
        for setting, (value, ok, allowed) in problems.items():
            if not ok:
                raise ConfigurationError(f"{setting}={value!r} is not allowed: expected {allowed}", setting=setting)

    @classmethod
    def from_environ(cls, env: Mapping[str, str]) -> QualitySettings:
        """Unset variables keep their defaults; a set one must parse, or the run fails naming it."""
        values: dict[str, Any] = {}
        for name, kind in (
            ("history_runs", int),
            ("on_failure", str),
            ("row_count_min_factor", float),
            ("row_count_max_factor", float),
            ("missing_rate_margin", float),
            ("max_missing_rate", float),
            ("max_mean_shift", float),
            ("max_correlation_change", float),
        ):
            setting = QUALITY_ENV_PREFIX + name.upper()
            text = env.get(setting, "").strip()
            if not text:
                continue
            try:
                values[name] = kind(text)
            except ValueError:
                expected = "an integer" if kind is int else "a number"
                raise ConfigurationError(f"{setting}={text!r} is not {expected}", setting=setting) from None
            if kind is float and not math.isfinite(values[name]):
                raise ConfigurationError(f"{setting}={text!r} is not a finite number", setting=setting)
        return cls(**values)


# Each setting's environment variable and the Spark job's flag for it:
# QUALITY_HISTORY_RUNS -> --quality-history-runs, ...
QUALITY_FLAGS = {
    QUALITY_ENV_PREFIX + f.name.upper(): "--quality-" + f.name.replace("_", "-") for f in fields(QualitySettings)
}


# ---------------------------------------------------------------------------- profile


def profile(
    result: Any, run_id: str, zeros: Mapping[str, int] | None = None, formula_like: dict[str, Any] | None = None
) -> Profile:
    """A run's profile from a PipelineResult (names, rows, numeric, missing, imputed, stats, correlation).

    `formula_like` is `formula_like_text(...)`'s count (the handler's, or the Spark job's own).
    """
    rows = int(result.rows)
    numeric = list(result.numeric)
    numeric_set = set(numeric)
    missing = {name: int(result.missing.get(name, 0)) for name in result.names}
    described: dict[str, dict[str, float]] = {}
    for name in numeric:
        s = result.stats[name]
        k = missing[name]
        described[name] = present_stats(rows, k, s.mean, s.std, s.min, s.max, result.imputed.get(name))
    if len(numeric) <= CORRELATION_MAX_COLUMNS:
        correlation = {
            "columns": numeric,
            "matrix": [[_finite_or_none(v) for v in row] for row in result.correlation.tolist()],
        }
    else:  # too wide to keep: the correlation check says it could not compare
        correlation = {"columns": [], "matrix": [], "not_kept_columns": len(numeric)}
    return {
        "run_id": run_id,
        "rows": rows,
        "columns": [{"name": n, "type": NUMERIC if n in numeric_set else TEXT} for n in result.names],
        "missing": missing,
        "missing_rate": {n: _round(c / rows) for n, c in missing.items()},
        "numeric": described,
        "zeros": {n: int(c) for n, c in (zeros or {}).items()},
        "correlation": correlation,
        "formula_like": formula_like if formula_like is not None else {"headers": [], "cells": {}},
    }


def present_stats(
    rows: int, filled: int, mean: float, std: float, low: float, high: float, fill: float | str | None
) -> dict[str, float]:
    """Mean, std, min and max of the present values, from the stats after imputation (see module doc).

    Written so that no intermediate overflows where the result is finite: the mean moves by
    k * (mean - fill) / present, and the sum of squares is scaled by its largest term.
    """
    if not filled or fill is None:
        return {"mean": mean, "std": std, "min": low, "max": high}
    fill = float(fill)
    present = rows - filled
    mean_p = mean + (mean - fill) * (filled / present)
    d_fill, d_mean = fill - mean, mean_p - mean
    scale = max(abs(std), abs(d_fill), abs(d_mean))
    if scale == 0:
        return {"mean": mean_p, "std": 0.0, "min": low, "max": high}
    a, b, c = std / scale, d_fill / scale, d_mean / scale
    squares = rows * a * a - filled * b * b - present * c * c  # in units of scale**2
    return {"mean": mean_p, "std": scale * math.sqrt(max(squares, 0.0) / present), "min": low, "max": high}


def count_zeros(numeric: Mapping[str, Any], names: Iterable[str]) -> dict[str, int]:
    """Zeros per zero-as-missing column, counted before the pipeline turns them into gaps."""
    return {name: int((numeric[name] == 0).sum()) for name in names if name in numeric}


# ---------------------------------------------------------------------------- checks


def zero_marker_checks(numeric: Mapping[str, Mapping[str, float]], zeros: Mapping[str, int]) -> list[Check]:
    """One check per zero-as-missing column (needs no history): zeros among values in [0, 1] are likely real."""
    checks = []
    for name, count in zeros.items():
        stats = numeric.get(name)
        if stats is None:
            continue
        unit = stats["min"] >= 0.0 and stats["max"] <= 1.0
        if count and unit:
            checks.append(
                _check(
                    "zero_markers",
                    WARN,
                    count,
                    "0 zeros, or values beyond [0, 1]",
                    f"{name}: {count} zeros while its other values all lie in [0, 1]: the file looks already "
                    f"normalized, so these zeros are probably real values, not missing ones; remove {name!r} "
                    f"from {ZERO_SETTING}",
                    name,
                )
            )
        else:
            why = "no zeros" if not count else f"values reach {stats['max']:.4g}, beyond [0, 1]"
            checks.append(_check("zero_markers", OK, count, "0 zeros, or values beyond [0, 1]", f"{name}: {why}", name))
    return checks


def load_history(body: bytes, key: str) -> list[Profile]:
    """The profiles of a history.json body; a ValueError names what makes it unusable.

    Strict JSON only: NaN, Infinity and numbers that overflow a double are refused here, so
    nothing read from the history can make this run's own history (or quality.json) fail to
    encode after the run was published.
    """
    if len(body) > HISTORY_MAX_BYTES:
        raise ValueError(f"{key} is {len(body):,} bytes, more than the {HISTORY_MAX_BYTES:,} a history holds")
    try:
        document = json.loads(body, parse_constant=_refuse_constant, parse_float=_finite_float)
    except RecursionError:
        raise ValueError(f"{key} is nested too deeply to be a quality history") from None
    return parse_history(document, key)


def parse_history(document: Any, key: str) -> list[Profile]:
    """The profiles of a history.json document; a ValueError names what is wrong (down to inner types)."""
    if not isinstance(document, dict) or not isinstance(document.get("profiles"), list):
        raise ValueError(f"{key} is not a quality history (expected an object with a 'profiles' list)")
    profiles = document["profiles"]
    for index, item in enumerate(profiles):
        if not isinstance(item, dict) or not {"run_id", "rows", "columns", "missing_rate", "numeric"} <= set(item):
            raise ValueError(f"{key}: profile {index} lacks run_id, rows, columns, missing_rate or numeric")
        if problem := _profile_problem(item):
            raise ValueError(f"{key}: profile {index} {problem}")
    return profiles


def _profile_problem(item: dict[str, Any]) -> str | None:
    """What makes one profile unusable by the checks, or None. Every field a check reads is checked."""
    if not isinstance(item["run_id"], str):
        return "has a run_id that is not a string"
    if not _is_count(item["rows"]):
        return "has rows that are not a count"
    columns = item["columns"]
    if not isinstance(columns, list) or not all(
        isinstance(c, dict) and isinstance(c.get("name"), str) and c.get("type") in (NUMERIC, TEXT) for c in columns
    ):
        return "has columns that are not a list of {name, type: numeric|text}"
    if not _mapping_of(item["missing_rate"], _is_number):
        return "has a missing_rate that is not an object of numbers"
    if not _mapping_of(item["numeric"], _is_stats):
        return "has numeric statistics that are not objects of mean, std, min and max numbers"
    for name in ("missing", "zeros"):
        if name in item and not _mapping_of(item[name], _is_count):
            return f"has {name} that are not an object of counts"
    correlation = item.get("correlation")
    if correlation is not None and not _is_correlation(correlation):
        return "has a correlation that is not {columns: [names], matrix: square list of numbers or null}"
    return None


def _is_number(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return abs(value) < 2**63
    return isinstance(value, float) and math.isfinite(value)


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**63


def _is_stats(value: Any) -> bool:
    return isinstance(value, dict) and all(_is_number(value.get(k)) for k in ("mean", "std", "min", "max"))


def _mapping_of(value: Any, check: Any) -> bool:
    return isinstance(value, dict) and all(isinstance(k, str) and check(v) for k, v in value.items())


def _is_correlation(value: Any) -> bool:
    if not isinstance(value, dict):
        return False
    names, matrix = value.get("columns"), value.get("matrix")
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        return False
    return (
        isinstance(matrix, list)
        and len(matrix) == len(names)
        and all(
            isinstance(row, list) and len(row) == len(names) and all(v is None or _is_number(v) for v in row)
            for row in matrix
        )
    )


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} overflows a double")
    return value


def history_document(history: Sequence[Profile], current: Profile, keep: int) -> dict[str, Any]:
    """The history with `current` appended, trimmed to the newest `keep` profiles."""
    return {"version": HISTORY_VERSION, "profiles": [*history, current][-keep:]}


def history_bytes(
    history: Sequence[Profile], current: Profile, keep: int, max_bytes: int | None = None
) -> tuple[bytes | None, int]:
    """history.json's new body and how many profiles were dropped to keep it under `max_bytes`.

    Compact (machine-read only). The oldest profiles go first; None when the current profile
    alone is larger than the limit (the history is then left as it was). Strict JSON: a NaN
    here raises ValueError (the caller logs it; a published run stays published).
    """
    max_bytes = HISTORY_MAX_BYTES if max_bytes is None else max_bytes
    profiles = [*history, current][-keep:]
    encoded = [json.dumps(p, separators=(",", ":"), allow_nan=False).encode("utf-8") for p in profiles]
    head, tail = b'{"version":%d,"profiles":[' % HISTORY_VERSION, b"]}"
    size = len(head) + len(tail) + sum(len(e) + 1 for e in encoded)
    dropped = 0
    while encoded and size > max_bytes:
        size -= len(encoded.pop(0)) + 1
        dropped += 1
    if not encoded:  # the current profile went too: nothing is written
        return None, dropped
    return head + b",".join(encoded) + tail, dropped


def _check(name: str, level: str, observed: Any, expected: Any, message: str, column: str | None = None) -> Check:
    check: Check = {"name": name, "level": level}
    if column is not None:
        check["column"] = column
    check.update(observed=observed, expected=expected, message=message)
    return check


def _finite_or_none(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def _round(value: float) -> float:
    return round(float(value), 6)


def _num(value: float) -> str:
    return f"{value:,.0f}" if value == int(value) else f"{value:,.1f}"
