"""`up`'s look at the local input file before deploying it.

Two checks, both on the file in hand so a deploy-run-read-the-error round trip is saved:

- Columns: does the file have every column that [pipeline] names? The function would find
  out too, but only at its first run, one column per run, and in the words of its
  environment (ZERO_AS_MISSING). `up` checks the header against every column list at once
  and reports all mismatches by config key. Only the header line is read; a file that is
  not readable CSV text is left to the handler, whose errors say exactly what is wrong.
- Zero markers: the handler's zero_markers rule, run locally. A file already normalized to
  [0, 1] has real zeros that the default zero_as_missing would impute. It reads the file
  with the handler's own reader so the rule sees exactly what a run would.
"""

from __future__ import annotations

import csv
import difflib
from pathlib import Path

import numpy as np

from dataops_cli.config import Config, ConfigError
from handler import contract
from handler.errors import PipelineError
from handler.quality import zero_marker_checks
from handler.reader import read_columns

HEADER_MAX_BYTES = 1 << 20
_BOM = b"\xef\xbb\xbf"
COLUMN_KEYS = ("zero_as_missing", "normalize_exclude")


def read_header(path: Path) -> list[str] | None:
    """The column names of the file's first line, or None if it is not a CSV text header we can read."""
    with path.open("rb") as handle:
        head = handle.read(HEADER_MAX_BYTES)
    line = head.removeprefix(_BOM).split(b"\n", 1)[0].rstrip(b"\r")
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if not text.strip():
        return None
    return next(csv.reader([text]))


def column_mismatches(config: Config, header: list[str]) -> list[str]:
    """One entry per [pipeline] key with columns missing from the header, e.g.
    "pipeline.zero_as_missing: 'Glucose' (did you mean 'glucose'?), 'BMI'"."""
    present = set(header)
    found = []
    for key in COLUMN_KEYS:
        missing = [name for name in getattr(config.pipeline, key) if name not in present]
        if missing:
            found.append(f"pipeline.{key}: " + ", ".join(_with_suggestion(name, header) for name in missing))
    return found


def check_input_columns(config: Config, source: str) -> None:
    """Raise one ConfigError naming every configured column the input file lacks.

    Nothing to check when the file does not exist (a missing input file is a config
    error of its own) or has no readable header (the handler reports that precisely).
    """
    path = config.input_path
    if not path.is_file():
        return
    header = read_header(path)
    if header is None:
        return
    mismatches = column_mismatches(config, header)
    if not mismatches:
        return
    shown = ", ".join(header) if len(", ".join(header)) <= 200 else ", ".join(header)[:200] + " ..."
    looks = ""
    if len(header) == 1 and (";" in header[0] or "\t" in header[0]):
        separator = "tab" if "\t" in header[0] else "';'"
        looks = f" (the file looks {separator}-separated: dataops reads ','-separated CSV)"
    raise ConfigError(
        f"{source}: columns configured in [pipeline] are not in the header of {path}{looks}: "
        + "; ".join(mismatches)
        + f". The header has: {shown}"
    )


def _with_suggestion(name: str, header: list[str]) -> str:
    close = difflib.get_close_matches(name, header, n=1, cutoff=0.6)
    if not close:
        lowered = {h.lower(): h for h in header}
        close = [lowered[name.lower()]] if name.lower() in lowered else []
    return f"{name!r} (did you mean {close[0]!r}?)" if close else repr(name)


def zero_marker_warning(
    path: Path, zero_as_missing: tuple[str, ...], max_columns: int = contract.DEFAULT_MAX_COLUMNS
) -> str | None:
    """One line naming every zero-as-missing column that looks normalized, or None.

    `max_columns` is pipeline.max_columns: the file is read with the function's own limit.
    """
    if not zero_as_missing or not path.is_file():
        return None
    try:
        columns = read_columns(lambda: path.open("rb"), size_hint=path.stat().st_size, max_columns=max_columns)
    except PipelineError as exc:  # the run will report this in full; `up` still deploys
        return f"could not check {path.name} for zero markers: {exc}"
    numeric: dict[str, dict[str, float]] = {}
    zeros: dict[str, int] = {}
    for name in zero_as_missing:
        values = columns.numeric.get(name)
        if values is None:
            continue
        present = values[~np.isnan(values) & (values != 0)]
        zeros[name] = int((values == 0).sum())
        if present.size:
            numeric[name] = {"min": float(present.min()), "max": float(present.max())}
    flagged = [c for c in zero_marker_checks(numeric, zeros) if c["level"] == "warn"]
    if not flagged:
        return None
    names = ", ".join(f"{c['column']} ({c['observed']} zeros)" for c in flagged)
    return (
        f"{path.name} looks already normalized: {names} hold zeros while their other values all lie in [0, 1]. "
        "Those zeros are probably real values, but pipeline.zero_as_missing in config.toml treats them as missing "
        "and imputes them; remove those columns from it if so."
    )
