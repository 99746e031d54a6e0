"""Before `up` deploys: does the local input file have every column that [pipeline] names?

The function would find out too, but only at its first run, one column per run, and in
the words of its environment (ZERO_AS_MISSING). `up` has the file in hand, so it checks
the header against every column list at once and reports all mismatches by config key.
Only the header line is read; a file that is not readable CSV text is left to the
handler, whose errors say exactly what is wrong with it.
"""

from __future__ import annotations

import csv
import difflib
from pathlib import Path

from dataops_cli.config import Config, ConfigError

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
