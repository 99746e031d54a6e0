"""`up`'s look at the local input before uploading it: the handler's zero_markers rule, run locally.

A file already normalized to [0, 1] has real zeros that the default zero_as_missing would
impute; catching it here saves a deploy-run-read-the-warning round trip. It reads the file
with the handler's own reader so the rule sees exactly what a run would.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from handler.errors import PipelineError
from handler.quality import zero_marker_checks
from handler.reader import read_columns


def zero_marker_warning(path: Path, zero_as_missing: tuple[str, ...]) -> str | None:
    """One line naming every zero-as-missing column that looks normalized, or None."""
    if not zero_as_missing or not path.is_file():
        return None
    try:
        columns = read_columns(lambda: path.open("rb"), size_hint=path.stat().st_size)
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
