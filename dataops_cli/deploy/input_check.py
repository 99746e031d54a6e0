"""`up`'s look at the local input file before deploying it.

Three checks, all on the file in hand so a deploy-run-read-the-error round trip is saved:

- Columns: does the file have every column that [pipeline] names? The function would find
  out too, but only at its first run, one column per run, and in the words of its
  environment (ZERO_AS_MISSING). `up` checks the header against every column list at once
  and reports all mismatches by config key. Only the header line is read.
- Would the function accept it? The handler's own reader and pure pipeline run on the file
  with the configured [pipeline] options (`inspect_input`): an empty, header-only, non-UTF-8
  or ragged file, a text cell in a zero-as-missing column, `inf`, ... is refused before
  anything is uploaded, named by file and line (`data/in.csv:5: ...`), instead of being
  deployed to fail on every scheduled run. `up --force-input` uploads it anyway.
- Zero markers: the handler's zero_markers rule, run locally on the same read. A file already
  normalized to [0, 1] has real zeros that the default zero_as_missing would impute.
"""

from __future__ import annotations

import csv
import difflib
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dataops_cli.config import Config, ConfigError
from handler import contract
from handler.errors import (
    DelimiterError,
    DuplicateColumnError,
    EmptyColumnError,
    HeaderError,
    NoDataRowsError,
    NoNumericColumnsError,
    PipelineError,
)
from handler.pipeline import PipelineOptions, process
from handler.quality import zero_marker_checks
from handler.reader import Columns, read_columns
from handler.records import last_record_end

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


# Errors about the header or the file as a whole: the header line is where to look.
HEADER_ERRORS = (HeaderError, DelimiterError, DuplicateColumnError, NoDataRowsError, NoNumericColumnsError)


# A file this large (an input meant for the Glue engine) is checked on its first lines only: reading
# gigabytes into this machine's memory to deploy them would be worse than a partial check.
WHOLE_FILE_MAX_BYTES = 256 << 20
PREFIX_BYTES = 32 << 20


@dataclass(frozen=True)
class InputVerdict:
    """What the function would make of bucket.input_file, learned by running its own code on it."""

    rejection: str | None = None  # "<file>:<line>: ...": the error every run would end with
    error_type: str | None = None  # the handler's error class (NoDataRowsError, ...)
    zero_marker_warning: str | None = None
    checked_bytes: int | None = None  # set when only the file's first bytes (whole lines) were checked


def inspect_input(config: Config) -> InputVerdict:
    """Read bucket.input_file with the handler's reader and run the pure pipeline on it with the
    configured [pipeline] options: a PipelineError here is the one the first run would raise.

    A file over WHOLE_FILE_MAX_BYTES is checked on its first PREFIX_BYTES (cut at a line end):
    every error found there is one the whole file has, with the same line numbers; a column with
    no value in those lines may still have some later, so EmptyColumnError does not count there."""
    path = config.input_path
    if not path.is_file():
        return InputVerdict()  # a config error of its own (Config.check_input_file)
    size = path.stat().st_size
    prefix = _head_lines(path) if size > WHOLE_FILE_MAX_BYTES else None
    opener = (lambda: io.BytesIO(prefix)) if prefix is not None else (lambda: path.open("rb"))
    checked = len(prefix) if prefix is not None else None
    try:
        columns = read_columns(opener, size_hint=checked or size, max_columns=config.pipeline.max_columns)
    except PipelineError as exc:
        return InputVerdict(rejection(path, exc), type(exc).__name__, checked_bytes=checked)
    warning = _zero_markers(path, columns, config.pipeline.zero_as_missing)
    pipeline = config.pipeline
    options = PipelineOptions(
        zero_as_missing=pipeline.zero_as_missing,
        impute_strategy=pipeline.impute_strategy,
        normalize_method=pipeline.normalize_method,
        normalize_exclude=pipeline.normalize_exclude,
        max_columns=pipeline.max_columns,
        escape_formulas=pipeline.escape_formulas,
    )
    try:
        process(columns, options)
    except PipelineError as exc:
        if prefix is not None and isinstance(exc, EmptyColumnError):  # its values may come after the lines checked
            return InputVerdict(zero_marker_warning=warning, checked_bytes=checked)
        return InputVerdict(rejection(path, exc), type(exc).__name__, warning, checked)
    return InputVerdict(zero_marker_warning=warning, checked_bytes=checked)


def _head_lines(path: Path) -> bytes:
    """The file's first PREFIX_BYTES, cut after the last record end (a line break outside quoted
    fields, as the reader cuts its chunks); the whole head if no record ends in it."""
    with path.open("rb") as handle:
        head = handle.read(PREFIX_BYTES)
    end = last_record_end(head, 0, len(head))
    return head[:end] if end > 0 else head


def rejection(path: Path, exc: PipelineError) -> str:
    """`<file>:<line>: the function would reject this input: <Type>: <message>` (no line when
    the problem has none, e.g. an empty file)."""
    line = error_line(path, exc)
    where = f"{path}:{line}" if line is not None else str(path)
    return f"{where}: the function would reject this input: {type(exc).__name__}: {exc}"


def error_line(path: Path, exc: PipelineError) -> int | None:
    """The file line (1-based, the header is line 1) an error is about, as an editor counts lines."""
    line = exc.details.get("line")
    if isinstance(line, int):
        return line
    offset = exc.details.get("byte_offset")
    if isinstance(offset, int):
        with path.open("rb") as handle:
            return handle.read(offset).count(b"\n") + 1
    return 1 if isinstance(exc, HEADER_ERRORS) else None


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
    return _zero_markers(path, columns, zero_as_missing)


def _zero_markers(path: Path, columns: Columns, zero_as_missing: tuple[str, ...]) -> str | None:
    """The zero_markers rule on columns as read (before process() turns zeros into gaps)."""
    if not zero_as_missing:
        return None
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
