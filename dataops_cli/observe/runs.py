"""`dataops runs`: the last runs as the bucket records them (run folders, run.json, quality.json).

The bucket, not the logs, is the record here: run folders are named by sortable run ids
(20261125T190437Z-1a2b3c4d), so one ListObjectsV2 with StartAfter = the window's first
possible id lists only the window's folders, and one GetObject per listed run reads its
run.json. A folder without run.json is a run still going (or one killed before it could
write anything, e.g. by the Lambda timeout). A run that skipped an unchanged input
(pipeline.skip_unchanged) writes no folder: the engine reads those from their log lines
(observe/skips.py) and they are listed among the others.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from dataops_cli.aws import DataopsError, not_found
from dataops_cli.config import Config
from dataops_cli.observe.skips import SkippedRun
from handler import contract

RUN_ID_RE = re.compile(r"\d{8}T\d{6}Z-[0-9a-zA-Z]{1,32}")


@dataclass
class RunSummary:
    run_id: str
    started_at: str | None = None
    status: str = "running"  # running / succeeded / quarantined / failed / unreadable / skipped
    trigger: str | None = None
    rows: int | None = None
    columns: int | None = None
    missing_total: int | None = None
    duration_ms: float | None = None
    quality: dict[str, Any] | None = None  # baseline_runs, ok, warn, fail
    error: str | None = None
    files: list[str] = field(default_factory=list)
    confirms: str | None = None  # a skipped run: the published run it confirmed current

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


SKIPPED = "skipped"


def list_runs(
    s3: Any,
    config: Config,
    limit: int,
    since_seconds: int,
    now: datetime | None = None,
    skipped: Iterable[SkippedRun] = (),
) -> list[RunSummary]:
    """The newest `limit` runs started within `since_seconds`, newest first: the bucket's run
    folders and the `skipped` runs (they write no folder: their log lines are their record).
    run.json is read only for the folders that make the list."""
    now = now or datetime.now(UTC)
    prefix = config.runs_prefix
    start_after = prefix + (now - timedelta(seconds=since_seconds)).strftime("%Y%m%dT%H%M%SZ")
    folders: list[str] = []
    paginator = s3.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=config.bucket.name, Prefix=prefix, Delimiter="/", StartAfter=start_after):
        folders.extend(p["Prefix"] for p in page.get("CommonPrefixes", []))
    first = start_after.removeprefix(prefix)
    skips = {s.run_id: s for s in skipped if RUN_ID_RE.fullmatch(s.run_id) and s.run_id > first}  # log text: checked
    ids = sorted({folder[len(prefix) : -1] for folder in folders} | set(skips), reverse=True)[:limit]
    return [skipped_summary(skips[i]) if i in skips else summarize(i, read_run_document(s3, config, i)) for i in ids]


def skipped_summary(run: SkippedRun) -> RunSummary:
    return RunSummary(run_id=run.run_id, started_at=run.started_at, status=SKIPPED, confirms=run.confirms)


def read_run_document(s3: Any, config: Config, run_id: str) -> dict[str, Any] | None:
    """run.json of one run; None while it has none; {"_unreadable": reason} when it cannot be read."""
    return _read_json(s3, config.bucket.name, f"{config.runs_prefix}{run_id}/{contract.RUN_DOCUMENT}")


def read_quality(s3: Any, config: Config, run_id: str) -> dict[str, Any] | None:
    return _read_json(s3, config.bucket.name, f"{config.runs_prefix}{run_id}/{contract.OUTPUT_FILES['quality']}")


def summarize(run_id: str, document: dict[str, Any] | None) -> RunSummary:
    run = RunSummary(run_id=run_id)
    if document is None:
        return run
    if "_unreadable" in document:
        run.status, run.error = "unreadable", document["_unreadable"]
        return run
    run.status = document.get("status", "unknown")
    run.started_at = document.get("started_at")
    run.trigger = document.get("trigger")
    shape = document.get("shape") or {}
    run.rows, run.columns = shape.get("rows"), shape.get("columns")
    handled = document.get("missing_values_handled")
    run.missing_total = sum(handled.values()) if isinstance(handled, dict) else None
    run.duration_ms = document.get("duration_ms")
    run.quality = document.get("quality")
    run.files = document.get("files_saved") or []
    error = document.get("error")
    if isinstance(error, dict):
        run.error = error.get("message")
    elif document.get("failed_checks"):
        run.error = "failed checks: " + ", ".join(
            c.get("name", "?") + (f" [{c['column']}]" if c.get("column") else "") for c in document["failed_checks"]
        )
    return run


def show(
    s3: Any, config: Config, run_id: str, runs_command: str = "dataops runs"
) -> tuple[RunSummary, dict[str, Any] | None]:
    """One run's summary and its quality.json; a DataopsError when the run does not exist.

    `runs_command` is how the hint lists runs (`dataops --local runs` in local mode)."""
    if not RUN_ID_RE.fullmatch(run_id):
        raise DataopsError(
            f"{run_id!r} is not a run id (expected e.g. 20261125T190437Z-1a2b3c4d)", f"list run ids with {runs_command}"
        )
    document = read_run_document(s3, config, run_id)
    if document is None:
        listing = s3.list_objects_v2(Bucket=config.bucket.name, Prefix=f"{config.runs_prefix}{run_id}/", MaxKeys=1)
        if not listing.get("KeyCount"):
            raise DataopsError(
                f"no run {run_id} in s3://{config.bucket.name}/{config.runs_prefix} "
                "(expired, never run, or a run that skipped an unchanged input: those write nothing)",
                f"list run ids with {runs_command} --since 30d",
            )
    return summarize(run_id, document), read_quality(s3, config, run_id)


def _read_json(s3: Any, bucket: str, key: str) -> dict[str, Any] | None:
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as exc:
        if not_found(exc):
            return None
        return {"_unreadable": f"s3://{bucket}/{key}: {exc}"}
    except BotoCoreError as exc:
        return {"_unreadable": f"s3://{bucket}/{key}: {exc}"}
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return {"_unreadable": f"s3://{bucket}/{key} is not valid JSON"}
    return document if isinstance(document, dict) else {"_unreadable": f"s3://{bucket}/{key} is not a JSON object"}
