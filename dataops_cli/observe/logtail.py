"""`dataops logs`: print, filter and follow the function's log events.

Following polls FilterLogEvents from the newest timestamp seen, minus an overlap (events
from several streams and late ingestion can arrive out of order), and drops event ids
already printed: no line is printed twice, none is skipped across pages.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from dataops_cli.observe import runlog_reader
from dataops_cli.safe_text import printable
from handler import contract as c

OVERLAP_MS = 10_000
LAMBDA_LINES = ("START RequestId:", "END RequestId:", "REPORT RequestId:", "INIT_START")
SKIP_FIELDS = {
    c.F_TIMESTAMP,
    c.F_LEVEL,
    c.F_EVENT,
    c.F_MESSAGE,
    c.F_FUNCTION,
    c.F_REQUEST_ID,
    c.F_RUN_ID,
    c.F_COLD_START,
}


class Follower:
    """Yields each new event once, in time order, across polls."""

    def __init__(self, fetch: Callable[[int], Iterator[dict[str, Any]]], start_ms: int) -> None:
        self._fetch = fetch
        self._cursor = start_ms
        self._seen: dict[str, int] = {}

    def poll(self) -> list[dict[str, Any]]:
        fresh = []
        for event in self._fetch(max(0, self._cursor - OVERLAP_MS)):
            if event["eventId"] in self._seen:
                continue
            self._seen[event["eventId"]] = event["timestamp"]
            fresh.append(event)
        fresh.sort(key=lambda e: (e["timestamp"], e.get("ingestionTime", 0)))
        if fresh:
            self._cursor = max(self._cursor, fresh[-1]["timestamp"])
        horizon = self._cursor - 2 * OVERLAP_MS
        self._seen = {k: t for k, t in self._seen.items() if t >= horizon}
        return fresh


def matches(event: dict[str, Any], text: str | None, errors_only: bool) -> bool:
    """Case-insensitive: CloudWatch filter patterns are case-sensitive, so `logs` asks for every
    event of the window and matches here (casefold, so 'STRASSE' finds 'Straße')."""
    message = event["message"]
    if errors_only and not runlog_reader.is_error(message):
        return False
    return text is None or text.casefold() in message.casefold()


class ErrorLines:
    """`logs --errors`: one line per failed run. The runtime's own [ERROR] line (with its
    traceback) is dropped when our structured error line for that run was shown; when it is
    the only one (a crash before our logger), it is cut to its first line, paths removed."""

    def __init__(self) -> None:
        self._tracker = runlog_reader.RunTracker()
        self._shown: set[str] = set()

    def __call__(self, event: dict[str, Any]) -> dict[str, Any] | None:
        request = self._tracker.request_for(event)
        message = event["message"]
        if not runlog_reader.is_error(message):
            return None
        if runlog_reader.structured(message) is None:
            if request in self._shown:
                return None
            code, summary = runlog_reader.runtime_line(message)
            event = {**event, "message": f"[ERROR] {code}: {summary}" if code else f"[ERROR] {summary}"}
        if request:
            self._shown.add(request)
        return event


def nothing_shown(start_ms: int, errors_only: bool, text: str | None) -> str:
    """What `logs` says on stderr when no line was printed, so an empty answer is not mistaken for a hang."""
    since = datetime.fromtimestamp(start_ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    if text is not None:
        what = "failed runs" if errors_only else "events"
        return f"no {what} matched {printable(text)!r} since {since}"
    return f"no errors since {since}" if errors_only else f"no log events since {since}"


def follow(follower: Follower, emit: Callable[[dict[str, Any]], None], interval: float) -> None:
    """Poll until interrupted (Ctrl-C ends it cleanly in the CLI)."""
    while True:
        for event in follower.poll():
            emit(event)
        time.sleep(interval)
