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

Checks (thresholds from QualitySettings; each pinned by a test):
- schema: names, order and types equal the previous successful run's, else fail.
- row_count: rows within [min_factor, max_factor] x the history's median, else warn.
- completeness: per column, missing rate <= history median + margin, else warn;
  above max_missing_rate fails (that needs no history).
- distribution: per numeric column, |mean - baseline mean| / baseline std <= max_mean_shift,
  baselines being medians over the history, else warn.
- correlation: every pair within max_correlation_change of its baseline (median), else warn.
- zero_markers: a zero-as-missing column with zeros whose other values all lie in [0, 1]
  warns that the file looks already normalized (no history needed).
With no history, each history check says so and is ok.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

from .contract import QUALITY_ENV_PREFIX, QUALITY_HISTORY
from .errors import ConfigurationError

HISTORY_NAME = QUALITY_HISTORY
HISTORY_VERSION = 1
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


def profile(result: Any, run_id: str, zeros: Mapping[str, int] | None = None) -> Profile:
    """A run's profile from a PipelineResult (names, rows, numeric, missing, imputed, stats, correlation)."""
    rows = int(result.rows)
    numeric = list(result.numeric)
    numeric_set = set(numeric)
    missing = {name: int(result.missing.get(name, 0)) for name in result.names}
    described: dict[str, dict[str, float]] = {}
    for name in numeric:
        s = result.stats[name]
        k = missing[name]
        described[name] = present_stats(rows, k, s.mean, s.std, s.min, s.max, result.imputed.get(name))
    matrix = [[_finite_or_none(v) for v in row] for row in result.correlation.tolist()]
    return {
        "run_id": run_id,
        "rows": rows,
        "columns": [{"name": n, "type": NUMERIC if n in numeric_set else TEXT} for n in result.names],
        "missing": missing,
        "missing_rate": {n: _round(c / rows) for n, c in missing.items()},
        "numeric": described,
        "zeros": {n: int(c) for n, c in (zeros or {}).items()},
        "correlation": {"columns": numeric, "matrix": matrix},
    }


def present_stats(
    rows: int, filled: int, mean: float, std: float, low: float, high: float, fill: float | str | None
) -> dict[str, float]:
    """Mean, std, min and max of the present values, from the stats after imputation (see module doc)."""
    if not filled or fill is None:
        return {"mean": mean, "std": std, "min": low, "max": high}
    fill = float(fill)
    present = rows - filled
    mean_p = (rows * mean - filled * fill) / present
    squares = rows * std * std - filled * (fill - mean) ** 2 - present * (mean_p - mean) ** 2
    return {"mean": mean_p, "std": math.sqrt(max(squares, 0.0) / present), "min": low, "max": high}


def count_zeros(numeric: Mapping[str, Any], names: Iterable[str]) -> dict[str, int]:
    """Zeros per zero-as-missing column, counted before the pipeline turns them into gaps."""
    return {name: int((numeric[name] == 0).sum()) for name in names if name in numeric}


# ---------------------------------------------------------------------------- checks


def run_checks(current: Profile, history: Sequence[Profile], settings: QualitySettings) -> list[Check]:
    """Every check, in a stable order: schema, row_count, completeness, distribution, correlation, zero_markers."""
    return [
        schema_check(current, history[-1] if history else None),
        row_count_check(current, history, settings),
        *completeness_checks(current, history, settings),
        *distribution_checks(current, history, settings),
        *correlation_checks(current, history, settings),
        *zero_marker_checks(current["numeric"], current["zeros"]),
    ]


def schema_check(current: Profile, previous: Profile | None) -> Check:
    now = [(c["name"], c["type"]) for c in current["columns"]]
    observed = [f"{n}:{t}" for n, t in now]
    if previous is None:
        return _check("schema", OK, observed, "no earlier run", "no earlier successful run to compare with")
    before = [(c["name"], c["type"]) for c in previous["columns"]]
    expected = [f"{n}:{t}" for n, t in before]
    if now == before:
        return _check("schema", OK, observed, expected, f"{len(now)} columns as in run {previous['run_id']}")
    names_now, names_before = [n for n, _ in now], [n for n, _ in before]
    types_now, types_before = dict(now), dict(before)
    parts = []
    added = [n for n in names_now if n not in types_before]
    removed = [n for n in names_before if n not in types_now]
    if added:
        parts.append("added " + ", ".join(added))
    if removed:
        parts.append("removed " + ", ".join(removed))
    common_now = [n for n in names_now if n in types_before]
    common_before = [n for n in names_before if n in types_now]
    if common_now != common_before:
        parts.append("reordered (now " + ", ".join(common_now) + ")")
    retyped = [f"{n} {types_before[n]} -> {types_now[n]}" for n in common_now if types_now[n] != types_before[n]]
    if retyped:
        parts.append("retyped " + ", ".join(retyped))
    return _check(
        "schema", FAIL, observed, expected, f"schema changed since run {previous['run_id']}: " + "; ".join(parts)
    )


def row_count_check(current: Profile, history: Sequence[Profile], s: QualitySettings) -> Check:
    rows = current["rows"]
    if not history:
        return _check("row_count", OK, rows, "no history", "no history yet: nothing to compare the row count with")
    median = statistics.median(p["rows"] for p in history)
    low, high = s.row_count_min_factor * median, s.row_count_max_factor * median
    expected = f"{_num(low)} to {_num(high)}"
    basis = (
        f"{s.row_count_min_factor:g}x to {s.row_count_max_factor:g}x the median {_num(median)} of {len(history)} runs"
    )
    if low <= rows <= high:
        return _check("row_count", OK, rows, expected, f"{rows} rows, within {basis}")
    return _check("row_count", WARN, rows, expected, f"{rows} rows, outside {basis}")


def completeness_checks(current: Profile, history: Sequence[Profile], s: QualitySettings) -> list[Check]:
    checks = []
    for column in current["columns"]:
        name = column["name"]
        rate = current["missing_rate"][name]
        rates = [p["missing_rate"][name] for p in history if name in p.get("missing_rate", {})]
        if rate > s.max_missing_rate:
            checks.append(
                _check(
                    "completeness",
                    FAIL,
                    rate,
                    f"<= {s.max_missing_rate:g}",
                    f"{name}: {rate:.1%} of rows missing, above max_missing_rate {s.max_missing_rate:.0%}",
                    name,
                )
            )
        elif not rates:
            checks.append(
                _check("completeness", OK, rate, "no history", f"{name}: {rate:.1%} missing; no history yet", name)
            )
        else:
            baseline = statistics.median(rates)
            limit = _round(baseline + s.missing_rate_margin)
            level = OK if rate <= limit else WARN
            relation = "at most" if level == OK else "above"
            checks.append(
                _check(
                    "completeness",
                    level,
                    rate,
                    f"<= {limit:g}",
                    f"{name}: {rate:.1%} missing, {relation} the median {baseline:.1%} of {len(rates)} runs "
                    f"+ {s.missing_rate_margin:g}",
                    name,
                )
            )
    return checks


def distribution_checks(current: Profile, history: Sequence[Profile], s: QualitySettings) -> list[Check]:
    checks = []
    for name, now in current["numeric"].items():
        past = [p["numeric"][name] for p in history if name in p.get("numeric", {})]
        expected = f"<= {s.max_mean_shift:g}"
        if not past:
            checks.append(
                _check("distribution", OK, None, "no history", f"{name}: mean {now['mean']:.4g}; no history yet", name)
            )
            continue
        base_mean = statistics.median(p["mean"] for p in past)
        base_std = statistics.median(p["std"] for p in past)
        difference = abs(now["mean"] - base_mean)
        if base_std > 0:
            shift: float | None = _round(difference / base_std)
        else:
            shift = 0.0 if difference == 0 else None  # a constant baseline: any move is a shift
        level = OK if shift is not None and shift <= s.max_mean_shift else WARN
        shown = "infinite (baseline std is 0)" if shift is None else f"{shift:g}"
        checks.append(
            _check(
                "distribution",
                level,
                shift,
                expected,
                f"{name}: mean {now['mean']:.4g} vs baseline {base_mean:.4g} (std {base_std:.4g}, "
                f"median of {len(past)} runs): standardized difference {shown}",
                name,
            )
        )
    return checks


def correlation_checks(current: Profile, history: Sequence[Profile], s: QualitySettings) -> list[Check]:
    """One ok check when every pair is within bounds, else one warn check per pair that moved."""
    expected = f"<= {s.max_correlation_change:g}"
    names = current["correlation"]["columns"]
    matrix = current["correlation"]["matrix"]
    past = [_pairs(p["correlation"]) for p in history if p.get("correlation")]
    if not past:
        return [_check("correlation", OK, None, "no history", "no history yet: nothing to compare correlations with")]
    worst: tuple[float, str] | None = None
    moved = []
    for i, a in enumerate(names):
        for j in range(i + 1, len(names)):
            b, value = names[j], matrix[i][j]
            baseline_values = [v for pairs in past if (v := pairs.get((a, b))) is not None]
            if value is None or not baseline_values:
                continue
            baseline = statistics.median(baseline_values)
            change = _round(abs(value - baseline))
            if worst is None or change > worst[0]:
                worst = (change, f"{a}/{b}")
            if change > s.max_correlation_change:
                moved.append(
                    _check(
                        "correlation",
                        WARN,
                        change,
                        expected,
                        f"{a}/{b}: correlation {value:.3f} vs baseline {baseline:.3f} "
                        f"(median of {len(baseline_values)} runs)",
                        f"{a}/{b}",
                    )
                )
    if moved:
        return moved
    if worst is None:
        return [_check("correlation", OK, None, expected, "no pair of columns to compare with the history")]
    return [
        _check(
            "correlation",
            OK,
            worst[0],
            expected,
            f"every pair within {s.max_correlation_change:g}; largest change {worst[1]}",
        )
    ]


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


# ---------------------------------------------------------------------------- documents


def quality_document(checks: list[Check], baseline_runs: int) -> dict[str, Any]:
    """quality.json."""
    return {"baseline_runs": baseline_runs, "summary": summarize(checks), "checks": checks}


def summarize(checks: Iterable[Check]) -> dict[str, int]:
    counts = dict.fromkeys(LEVELS, 0)
    for check in checks:
        counts[check["level"]] += 1
    return counts


def failed(checks: Iterable[Check]) -> list[Check]:
    return [c for c in checks if c["level"] == FAIL]


def parse_history(document: Any, key: str) -> list[Profile]:
    """The profiles of a history.json document; a ValueError names what is wrong."""
    if not isinstance(document, dict) or not isinstance(document.get("profiles"), list):
        raise ValueError(f"{key} is not a quality history (expected an object with a 'profiles' list)")
    profiles = document["profiles"]
    for index, item in enumerate(profiles):
        if not isinstance(item, dict) or not {"run_id", "rows", "columns", "missing_rate", "numeric"} <= set(item):
            raise ValueError(f"{key}: profile {index} lacks run_id, rows, columns, missing_rate or numeric")
    return profiles


def history_document(history: Sequence[Profile], current: Profile, keep: int) -> dict[str, Any]:
    """The history with `current` appended, trimmed to the newest `keep` profiles."""
    return {"version": HISTORY_VERSION, "profiles": [*history, current][-keep:]}


def log_line(check: Check) -> str:
    mark = FAIL_MARK if check["level"] == FAIL else WARN_MARK
    return (
        f"{mark} Quality check {check['name']}"
        + (f" [{check['column']}]" if check.get("column") else "")
        + (f": {check['message']}")
    )


def _pairs(correlation: Mapping[str, Any]) -> dict[tuple[str, str], float | None]:
    names, matrix = correlation["columns"], correlation["matrix"]
    return {(a, names[j]): matrix[i][j] for i, a in enumerate(names) for j in range(i + 1, len(names))}


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
