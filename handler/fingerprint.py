"""What a run used, in one record: a later run with the same record has nothing new to do.

A scheduled run every two minutes on an input that has not changed rewrote identical files
and filled the quality history with identical profiles. The record is the input's ETag (S3
gives it with the GET, no extra request), a digest of every setting that changes an output
(the pipeline's and the quality checks') and a digest of the code that ran. latest.json and
run.json carry it; a run whose record equals the published one's skips (SKIP_UNCHANGED).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from functools import cache
from pathlib import Path
from typing import Any

HANDLER_ROOT = Path(__file__).resolve().parent


@cache
def code_version(root: Path = HANDLER_ROOT) -> str:
    """A digest of every .py file under `root` (the Lambda zip's handler/, or the Spark job's):
    a new deployment of changed code reprocesses an unchanged input. Computed once a process."""
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def settings_digest(bucket: str, input_key: str, options: Any, quality: Any) -> str:
    """The settings that change what a run writes: where it reads, the pipeline's options, the checks'."""
    document = {"input": f"{bucket}/{input_key}", "options": asdict(options), "quality": asdict(quality)}
    return hashlib.sha256(json.dumps(document, sort_keys=True, default=str).encode()).hexdigest()[:16]


def record(input_etag: str, settings: str, code: str) -> dict[str, str]:
    return {"input_etag": input_etag, "settings": settings, "code": code}


def published_record(latest: bytes | None) -> tuple[str | None, dict[str, Any] | None]:
    """(run id, fingerprint) of a latest.json body; (None, None) when there is none or it is unusable
    (then the run processes: a pointer it cannot read is never a reason to skip)."""
    if latest is None:
        return None, None
    try:
        document = json.loads(latest)
    except (ValueError, UnicodeDecodeError):
        return None, None
    if not isinstance(document, dict) or not isinstance(document.get("fingerprint"), dict):
        return None, None
    run_id = document.get("run_id")
    return (run_id if isinstance(run_id, str) else None), document["fingerprint"]
