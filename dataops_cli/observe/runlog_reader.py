"""Read the function's log events back into runs, errors and durations.

The handler writes one JSON object per line (event = start / shape / missing / saved /
error, each with its run_id and request_id); Lambda adds START / END / REPORT lines and
plain-text errors (timeouts, crashes before our logger). This module joins them into
one record per run, whatever order the events arrive in.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from dataops_cli.aws import read_or_none
from handler import contract as c

REPORT_RE = re.compile(
    r"REPORT RequestId: (?P<request_id>[\w-]+)\s+Duration: (?P<duration>[\d.]+) ms"
    r"(?:\s+Billed Duration: (?P<billed>\d+) ms)?(?:\s+Memory Size: (?P<memory>\d+) MB)?"
    r"(?:\s+Max Memory Used: (?P<used>\d+) MB)?"
)
ERROR_TEXT_RE = re.compile(r"Task timed out|\[ERROR\]|Runtime\.\w+|Traceback \(most recent call last\)")
START_RE = re.compile(r"START RequestId: ([\w-]+)")
# Lambda's text lines that name their run: "RequestId: <id> Error: ...", "<timestamp> <id> Task timed out ..."
TEXT_REQUEST_RE = re.compile(r"RequestId: ([\w-]+)|^\d{4}-\d\d-\d\dT[\d:.]+Z\s+([\w-]+)\s")
RUNTIME_ERROR_RE = re.compile(r"\[ERROR\]\s+(?:[\d:.TZ-]+\s+)?(?:[\w-]{20,}\s+)?(?P<type>[\w.]+): (?P<message>.*)")
# An absolute path of this machine or of the Lambda sandbox (/var/task/..., /home/me/.dataops/...),
# not a URL's (s3://bucket/key) or a relative key (processed/runs/...).
PATH_RE = re.compile(r"(?<![\w:/.~-])/(?:[\w.@+~-]+/)+([\w.@+~-]+)")


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
    outcome: str = "running"  # running / succeeded / quarantined / failed / SKIPPED
    error: str | None = None
    confirms: str | None = None  # a skipped run: the published run it confirmed current

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class ErrorEvent:
    """One failed run: our structured error line, with Lambda's own line for it folded in."""

    timestamp: int
    request_id: str | None
    run_id: str | None
    code: str | None
    message: str
    runtime: str | None = None  # the runtime's "[ERROR] Type: message" (or timeout) line, first line only


def scrub_paths(text: str) -> str:
    """Absolute file paths cut to their last component: no machine's layout in a table."""
    return PATH_RE.sub(r"…/\1", text)


def runtime_line(message: str) -> tuple[str | None, str]:
    """(code, one-line summary) of one of Lambda's text error lines, tracebacks and paths left out."""
    first = message.strip().splitlines()[0] if message.strip() else ""
    if match := RUNTIME_ERROR_RE.search(first):
        return match["type"], scrub_paths(match["message"].strip())
    if "Task timed out" in first:
        return "Timeout", scrub_paths(first[first.index("Task timed out") :])
    # "RequestId: ... Error: Runtime exited with error: signal: killed" then "Runtime.OutOfMemory"
    # (or Runtime.ExitError) on the next line: the type may follow the first line.
    if match := re.search(r"Runtime\.\w+", message):
        return match[0], scrub_paths(first)
    return None, scrub_paths(first)


def text_request_id(message: str) -> str | None:
    match = TEXT_REQUEST_RE.search(message)
    return (match[1] or match[2]) if match else None


class RunTracker:
    """Which run a text line belongs to: Lambda writes the runtime's [ERROR] line without a request
    id, but in the log stream of the run going there (between its START and END lines)."""

    def __init__(self) -> None:
        self._current: dict[str, str] = {}  # log stream -> request id of its latest START

    def request_for(self, event: dict[str, Any]) -> str | None:
        message, stream = event["message"], event.get("logStreamName", "")
        if match := START_RE.match(message):
            self._current[stream] = match[1]
            return match[1]
        document = structured(message)
        if document is not None and document.get(c.F_REQUEST_ID):
            self._current[stream] = document[c.F_REQUEST_ID]
            return document[c.F_REQUEST_ID]
        return text_request_id(message) or self._current.get(stream)


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
        return document.get(c.F_LEVEL) == c.LEVEL_ERROR
    if REPORT_RE.match(message.strip()):
        return False  # a failed run's REPORT ends "Status: error Error Type: Runtime.X": the error has its own line
    return bool(ERROR_TEXT_RE.search(message))


SKIPPED = "skipped (input unchanged)"


def runs_from_events(events: Iterable[dict[str, Any]]) -> list[Run]:
    """One Run per request id, oldest first."""
    runs: dict[str, Run] = {}
    tracker = RunTracker()

    def run_for(request_id: str, timestamp: int) -> Run:
        run = runs.setdefault(request_id, Run(request_id=request_id, started=timestamp))
        run.started = min(run.started or timestamp, timestamp)
        return run

    for event in events:
        message, timestamp = event["message"], event["timestamp"]
        request = tracker.request_for(event)
        if report := parse_report(message):
            run = run_for(report["request_id"], timestamp)
            run.duration_ms = report["duration_ms"]
            run.memory_used_mb = report["memory_used_mb"]
            continue
        document = structured(message)
        if document is None:
            if ERROR_TEXT_RE.search(message) and request:
                run = run_for(request, timestamp)
                code, summary = runtime_line(message)
                run.outcome = "failed"
                run.error = run.error or (f"{code}: {summary}" if code else summary)[:300]  # ours first
            continue
        request_id = document.get(c.F_REQUEST_ID)
        if not request_id or "_aws" in document:
            continue
        run = run_for(request_id, timestamp)
        run.run_id = document.get(c.F_RUN_ID, run.run_id)
        run.cold_start = document.get(c.F_COLD_START, run.cold_start)
        _apply_event(run, document)
    ordered = sorted(runs.values(), key=lambda r: r.started or 0)
    for run in ordered:
        if run.outcome == "running" and run.duration_ms is not None:
            run.outcome = "failed"  # ended (REPORT) without our success line
            run.error = run.error or "ended without a success line (crash or timeout)"
    return ordered


def _apply_event(run: Run, document: dict[str, Any]) -> None:
    event = document.get(c.F_EVENT)
    if event == c.EVENT_START:
        run.start_time = document.get(c.F_START_TIME)
    elif event == c.EVENT_SHAPE:
        run.rows, run.columns = document.get(c.F_ROWS), document.get(c.F_COLUMNS)
    elif event == c.EVENT_MISSING:
        run.missing = document.get(c.F_MISSING_HANDLED, {})
        run.missing_total = document.get(c.F_MISSING_TOTAL)
    elif event == c.EVENT_SAVED:
        run.files = document.get(c.F_FILES, [])
        run.outcome = "succeeded"
    elif event == c.EVENT_QUARANTINED:  # after "saved": outputs kept in the run folder, not published
        run.outcome = "quarantined"
        run.error = document.get(c.F_MESSAGE, "")
    elif event == c.EVENT_SKIPPED:  # pipeline.skip_unchanged: nothing to do, the published run is current
        run.outcome = SKIPPED
        run.confirms = document.get(c.F_CONFIRMS)
    elif event == c.EVENT_ERROR:
        run.outcome = "failed"
        run.error = scrub_paths(document.get(c.F_MESSAGE, ""))


def errors_from_events(events: Iterable[dict[str, Any]]) -> list[ErrorEvent]:
    """One ErrorEvent per failed run, oldest first: our structured error line when there is one,
    with the runtime's own [ERROR] (or timeout) line for the same run folded into it."""
    found: list[ErrorEvent] = []
    by_request: dict[str, ErrorEvent] = {}
    run_ids: dict[str, str] = {}
    tracker = RunTracker()
    for event in events:
        message = event["message"]
        request = tracker.request_for(event)
        document = structured(message)
        if document is not None and request and document.get(c.F_RUN_ID):
            run_ids[request] = document[c.F_RUN_ID]
        if not is_error(message):
            continue
        earlier = by_request.get(request) if request else None
        if document is not None:
            error = document.get(c.F_ERROR) if isinstance(document.get(c.F_ERROR), dict) else {}
            row = ErrorEvent(
                timestamp=event["timestamp"],
                request_id=request,
                run_id=document.get(c.F_RUN_ID) or run_ids.get(request or ""),
                code=error.get(c.ERROR_CODE) or error.get(c.ERROR_TYPE),
                message=scrub_paths(str(document.get(c.F_MESSAGE) or message).strip())[:500],
            )
            if earlier is not None:  # the runtime's line came first: ours takes its place
                row.runtime = earlier.runtime or earlier.message
                found[found.index(earlier)] = row
                by_request[request or ""] = row
                continue
        else:
            code, summary = runtime_line(message)
            if earlier is not None:
                earlier.runtime = earlier.runtime or (f"{code}: {summary}" if code else summary)
                continue
            row = ErrorEvent(event["timestamp"], request, run_ids.get(request or ""), code, summary[:500])
        found.append(row)
        if request:
            by_request[request] = row
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
    on_truncated: Callable[[], None] | None = None,
    stream_prefix: str | None = None,
) -> Iterator[dict[str, Any]]:
    """All matching events in time order, following nextToken (up to max_pages pages;
    `on_truncated` is told when more pages were left unread); `stream_prefix` reads only
    the streams whose names start with it (Glue names a run's streams by its run id)."""
    kwargs: dict[str, Any] = {"logGroupName": group, "startTime": start_ms}
    if stream_prefix:
        kwargs["logStreamNamePrefix"] = stream_prefix
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
        if not token:
            return
        if max_pages is not None and pages >= max_pages:
            if on_truncated is not None:
                on_truncated()
            return
        kwargs["nextToken"] = token


def log_group_created(logs: Any, group: str) -> datetime | None:
    """When the log group was created (None if it does not exist)."""
    found = read_or_none(logs.describe_log_groups, logGroupNamePrefix=group, limit=5)
    for entry in (found or {}).get("logGroups", []):
        if entry["logGroupName"] == group and entry.get("creationTime"):
            return datetime.fromtimestamp(entry["creationTime"] / 1000, UTC)
    return None


def log_group_exists(logs: Any, group: str) -> bool:
    found = read_or_none(logs.describe_log_groups, logGroupNamePrefix=group, limit=5)
    return found is not None and any(g["logGroupName"] == group for g in found["logGroups"])
