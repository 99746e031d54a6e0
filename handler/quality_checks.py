"""Data-quality checks: compare a run's profile with the history, and the documents they make.

Pure, like handler/quality.py (the profile, the settings and the history live there).

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
- formula_like_text: text cells or column names that a spreadsheet would run as a formula
  (they start with =, +, -, @, a tab or a carriage return and are not numbers; OWASP's
  "CSV Injection" page) warn (no history needed); `pipeline.escape_formulas` defuses them.
With no history, each history check says so and is ok.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .quality import (
    CORRELATION_MAX_COLUMNS,
    FAIL,
    FAIL_MARK,
    LEVELS,
    OK,
    WARN,
    WARN_MARK,
    Check,
    Profile,
    QualitySettings,
    _check,
    _num,
    _round,
    zero_marker_checks,
)


def run_checks(current: Profile, history: Sequence[Profile], settings: QualitySettings) -> list[Check]:
    """Every check, in a stable order: schema, row_count, completeness, distribution, correlation,
    zero_markers, formula_like_text."""
    return [
        schema_check(current, history[-1] if history else None),
        row_count_check(current, history, settings),
        *completeness_checks(current, history, settings),
        *distribution_checks(current, history, settings),
        *correlation_checks(current, history, settings),
        *zero_marker_checks(current["numeric"], current["zeros"]),
        formula_like_check(current.get("formula_like")),
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
            if not math.isfinite(shift):  # an overflowing difference: as far as it gets
                shift = None
        else:
            shift = 0.0 if difference == 0 else None  # a constant baseline: any move is a shift
        level = OK if shift is not None and shift <= s.max_mean_shift else WARN
        shown = "infinite" + (" (baseline std is 0)" if base_std <= 0 else "") if shift is None else f"{shift:g}"
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
    if wide := current["correlation"].get("not_kept_columns"):
        return [
            _check(
                "correlation",
                OK,
                None,
                "not compared",
                f"correlations not compared: {wide:,} numeric columns, more than the {CORRELATION_MAX_COLUMNS} "
                "whose correlations the history keeps",
            )
        ]
    past = [_pairs(p["correlation"]) for p in history if p.get("correlation", {}).get("columns")]
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


def formula_like_check(found: Mapping[str, Any] | None) -> Check:
    """One check (needs no history): text cells or column names a spreadsheet would run as formulas."""
    expected = "no text cell or column name starting with =, +, -, @, tab or CR"
    found = found or {"headers": [], "cells": {}}
    headers, cells = list(found.get("headers", [])), dict(found.get("cells", {}))
    total = sum(cells.values()) + len(headers)
    if not total:
        return _check("formula_like_text", OK, 0, expected, "no text cell or column name would run as a formula")
    parts = [f"{n:,} cells in {name}" for name, n in cells.items()]
    if headers:
        parts.append(f"column names {', '.join(headers)}")
    what = "; ".join(parts)
    if found.get("escaped"):
        return _check(
            "formula_like_text",
            OK,
            total,
            expected,
            f"{what} start like a formula: written with a leading ' (pipeline.escape_formulas)",
        )
    return _check(
        "formula_like_text",
        WARN,
        total,
        expected,
        f"{what} start with =, +, -, @, a tab or a carriage return: a spreadsheet opening cleaned.csv "
        "would run them as formulas; set pipeline.escape_formulas = true to write them with a leading '",
    )


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
