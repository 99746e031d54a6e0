"""[pipeline] settings proposed from a CSV, each with the reason, as `dataops init --from` writes them.

The file is read with the handler's own reader (through `deploy.input_check.input_opener`, as `up`
reads it), so the columns seen here are the ones every run sees. The proposals:

- zero_as_missing: a numeric column whose zeros mark missing values. Two tests, both needed:
  the handler's zero_markers check must not flag it (reused from `deploy.input_check`: zeros among
  values that all lie in [0, 1] are real values of a normalized column), and 0 must stand
  apart from the other values: the smallest value above 0 is at least MARKER_GAP_STEPS steps
  (the median gap between the column's distinct values) above it. A count such as Pregnancies
  (0, 1, 2, ...) keeps its zeros; Glucose (0, then 44, 56, 57, ...) does not.
- normalize_exclude: columns holding only 0 and 1 (a label or a flag, such as a 0/1 target),
  which min-max or z-score normalization would turn into something else.
- max_columns: raised to the file's width when it is wider than the default.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from dataops_cli.deploy.input_check import input_opener, zero_marker_results
from dataops_cli.starter.template import Setting
from handler import contract
from handler.quality import WARN
from handler.reader import Columns, read_columns

MARKER_GAP_STEPS = 3


def read_csv(path: Path) -> tuple[Columns, int | None]:
    """The handler's reader on `path` at its widest limit (max_columns is proposed from the width),
    and the bytes read when only the head of a large file is (as `up` checks it).

    Raises the handler's PipelineError for a file the function would reject."""
    opener, checked, size = input_opener(path)
    return read_columns(opener, size_hint=checked or size, max_columns=contract.MAX_COLUMNS_LIMIT), checked


def propose(columns: Columns, source: str, checked_bytes: int | None = None) -> list[Setting]:
    """The [pipeline] settings for these columns, each with comment lines saying why."""
    numeric = [name for name in columns.names if name in columns.numeric]
    text = [name for name in columns.names if name not in columns.numeric]
    zero_names, zero_notes = zero_markers(columns, numeric)
    exclude, exclude_notes = binary_columns(columns, numeric)
    read = f"its first {checked_bytes / 2**20:,.0f} MiB ({columns.rows:,} rows)" if checked_bytes else None
    header = (
        f"Proposed by `dataops init --from {source}` from {read or f'its {columns.rows:,} rows'}:",
        f"numeric columns (imputed, normalized, correlated): {_names(numeric) or 'none'};",
        f"text columns (gaps take the most frequent value): {_names(text) or 'none'}.",
    )
    settings = [
        Setting("pipeline", "zero_as_missing", tuple(zero_names), (*header, *zero_notes)),
        Setting("pipeline", "normalize_exclude", tuple(exclude), tuple(exclude_notes)),
    ]
    width = len(columns.names)
    if width > contract.DEFAULT_MAX_COLUMNS:
        note = f"The file has {width:,} columns, more than the default {contract.DEFAULT_MAX_COLUMNS:,}."
        settings.append(Setting("pipeline", "max_columns", width, (note,)))
    return settings


def zero_markers(columns: Columns, numeric: Sequence[str]) -> tuple[list[str], list[str]]:
    """Columns whose zeros mark missing values, and one reason line per column that has zeros."""
    checks = {check["column"]: check for check in zero_marker_results(columns, numeric)}
    chosen, notes = [], []
    for name in numeric:
        values = columns.numeric[name]
        zeros = int((values == 0).sum())
        if not zeros:
            continue
        check = checks.get(name)
        if check is None:
            notes.append(f"{_name(name)}: only zeros (and gaps): not proposed.")
        elif check["level"] == WARN:
            why = "among values in [0, 1] (the zero_markers check): real values, not proposed"
            notes.append(f"{_name(name)}: {zeros:,} zeros {why}.")
        else:
            marker, why = _zero_stands_apart(values)
            notes.append(f"{_name(name)}: {zeros:,} zeros; {why}.")
            if marker:
                chosen.append(name)
    if not notes:
        notes.append("No numeric column holds a 0.")
    return chosen, notes


def _zero_stands_apart(values: np.ndarray) -> tuple[bool, str]:
    """Whether 0 lies MARKER_GAP_STEPS or more steps below the column's other values, and why."""
    present = values[~np.isnan(values)]
    if (present < 0).any():
        return False, "negative values too, so 0 is inside the range: a real value, not proposed"
    distinct = np.unique(present[present > 0])
    if distinct.size < 2:
        return False, f"one other value ({distinct[0]:g}): 0 is one of two levels, a real value, not proposed"
    step = float(np.median(np.diff(distinct)))
    lowest = float(distinct[0])
    steps = lowest / step
    shown = "over a million steps" if steps >= 1e6 else f"{steps:,.0f} step" + ("" if round(steps) == 1 else "s")
    where = f"its other values start at {lowest:g}, {shown} of {step:g} above 0"
    if steps >= MARKER_GAP_STEPS:
        return True, f"{where}: 0 marks a missing value"
    return False, f"{where} (under {MARKER_GAP_STEPS}): 0 is a real value, not proposed"


def binary_columns(columns: Columns, numeric: Sequence[str]) -> tuple[list[str], list[str]]:
    """Numeric columns holding exactly the values 0 and 1, and one reason line each."""
    chosen = []
    for name in numeric:
        values = columns.numeric[name]
        present = values[~np.isnan(values)]
        if present.size and bool(np.isin(present, (0.0, 1.0)).all()) and np.unique(present).size == 2:
            chosen.append(name)
    if not chosen:
        return [], ["No numeric column holds only 0 and 1: every numeric column is normalized."]
    return chosen, [f"{_name(name)}: only 0 and 1 (a label or flag): kept as it is." for name in chosen]


def _name(name: str) -> str:
    return name if name.isprintable() and name.strip() == name and name else repr(name)


def _names(names: Sequence[str], shown: int = 12) -> str:
    listed = ", ".join(_name(n) for n in names[:shown])
    return listed + (f" and {len(names) - shown:,} more" if len(names) > shown else "")
