"""Read the function's log events back into runs, errors and durations.

The handler writes one JSON object per line (event = start / shape / missing / saved /
error, each with its run_id and request_id); Lambda adds START / END / REPORT lines and
plain-text errors (timeouts, crashes before our logger). This module joins them into
one record per run, whatever order the events arrive in.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from dataops_cli.aws import not_found

REPORT_RE = re.compile(
    r"REPORT RequestId: (?P<request_id>[\w-]+)\s+Duration: (?P<duration>[\d.]+) ms"
    r"(?:\s+Billed Duration: (?P<billed>\d+) ms)?(?:\s+Memory Size: (?P<memory>\d+) MB)?"
    r"(?:\s+Max Memory Used: (?P<used>\d+) MB)?"
)
ERROR_TEXT_RE = re.compile(r"Task timed out|\[ERROR\]|Runtime\.\w+|Traceback \(most recent call last\)")


@dataclass
class Run:
    request_id: str
    run_id: str | None = None
    started: int | None = None  # epoch ms of the first event seen
    start_time: str | None = None
    rows: int | None = None
    columns: int | None = None
    missing: dict[str, int] = field(default_factory=dict)
    missing_total: int | None = None
    files: list[str] = field(default_factory=list)
    duration_ms: float | None = None
    memory_used_mb: int | None = None
    cold_start: bool | None = None
    outcome: str = "running"  # running / succeeded / quarantined / failed
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class ErrorEvent:
    timestamp: int
    request_id: str | None
    run_id: str | None
    code: str | None
    message: str


def structured(message: str) -> dict[str, Any] | None:
    """The JSON object of a handler line, or None for Lambda's own text lines."""
    text = message.strip()
    if not text.startswith("{"):
        return None
    try:
        document = json.loads(text)
    except json.JSONDecodeError:
        return None
    return document if isinstance(document, dict) else None


def parse_report(message: str) -> dict[str, Any] | None:
    match = REPORT_RE.search(message)
    if not match:
        return None
    return {
        "request_id": match["request_id"],
        "duration_ms": float(match["duration"]),
        "memory_used_mb": int(match["used"]) if match["used"] else None,
    }


def is_error(message: str) -> bool:
    document = structured(message)
    if document is not None:
        return document.get("level") == "ERROR"
    return bool(ERROR_TEXT_RE.search(message))


def runs_from_events(events: Iterable[dict[str, Any]]) -> list[Run]:
    """One Run per request id, oldest first."""
    runs: dict[str, Run] = {}

    def run_for(request_id: str, timestamp: int) -> Run:
        run = runs.setdefault(request_id, Run(request_id=request_id, started=timestamp))
        run.started = min(run.started or timestamp, timestamp)
        return run

    for event in events:
        message, timestamp = event["message"], event["timestamp"]
        if report := parse_report(message):
            run = run_for(report["request_id"], timestamp)
            run.duration_ms = report["duration_ms"]
            run.memory_used_mb = report["memory_used_mb"]
            continue
        document = structured(message)
        if document is None:
            if ERROR_TEXT_RE.search(message) and (match := re.search(r"RequestId: ([\w-]+)", message)):
                run = run_for(match[1], timestamp)
                run.outcome, run.error = "failed", message.strip()[:300]
            continue
        request_id = document.get("request_id")
        if not request_id or "_aws" in document:
            continue
        run = run_for(request_id, timestamp)
        run.run_id = document.get("run_id", run.run_id)
        run.cold_start = document.get("cold_start", run.cold_start)
        _apply_event(run, document)
    ordered = sorted(runs.values(), key=lambda r: r.started or 0)
    for run in ordered:
        if run.outcome == "running" and run.duration_ms is not None:
            run.outcome = "failed"  # ended (REPORT) without our success line
            run.error = run.error or "ended without a success line (crash or timeout)"
    return ordered


def _apply_event(run: Run, document: dict[str, Any]) -> None:
    event = document.get("event")
    if event == "start":
        run.start_time = document.get("start_time")
    elif event == "shape":
        run.rows, run.columns = document.get("rows"), document.get("columns")
    elif event == "missing":
        run.missing = document.get("missing_values_handled", {})
        run.missing_total = document.get("missing_total")
    elif event == "saved":
        run.files = document.get("files", [])
        run.outcome = "succeeded"
    elif event == "quarantined":  # after "saved": outputs kept in the run folder, not published
        run.outcome = "quarantined"
        run.error = document.get("message", "")
    elif event == "error":
        run.outcome = "failed"
        run.error = document.get("message", "")


def errors_from_events(events: Iterable[dict[str, Any]]) -> list[ErrorEvent]:
    found = []
    for event in events:
        message = event["message"]
        if not is_error(message):
            continue
        document = structured(message) or {}
        error = document.get("error") if isinstance(document.get("error"), dict) else {}
        found.append(
            ErrorEvent(
                timestamp=event["timestamp"],
                request_id=document.get("request_id"),
                run_id=document.get("run_id"),
                code=error.get("code") or error.get("type"),
                message=(document.get("message") or message).strip()[:500],
            )
        )
    return found


def durations_from_events(events: Iterable[dict[str, Any]]) -> list[float]:
    return [r["duration_ms"] for e in events if (r := parse_report(e["message"]))]


def filter_events(
    logs: Any,
    group: str,
    start_ms: int,
    end_ms: int | None = None,
    pattern: str | None = None,
    max_pages: int | None = None,
) -> Iterator[dict[str, Any]]:
    """All matching events in time order, following nextToken (up to max_pages pages)."""
    kwargs: dict[str, Any] = {"logGroupName": group, "startTime": start_ms}
    if end_ms is not None:
        kwargs["endTime"] = end_ms
    if pattern:
        kwargs["filterPattern"] = pattern
    pages = 0
    while True:
        response = logs.filter_log_events(**kwargs)
        yield from response.get("events", [])
        pages += 1
        token = response.get("nextToken")
        if not token or (max_pages is not None and pages >= max_pages):
            return
        kwargs["nextToken"] = token


def log_group_exists(logs: Any, group: str) -> bool:
    try:
        found = logs.describe_log_groups(logGroupNamePrefix=group, limit=5)["logGroups"]
    except ClientError as exc:
        if not_found(exc):
            return False
        raise
    return any(g["logGroupName"] == group for g in found)
