"""CloudWatch Logs StartQuery / GetQueryResults in the emulator, answered by insights_query.py.

moto evaluates only a sliver of the query language, so the emulator answers these two calls
itself: the events come from moto over the public API (FilterLogEvents through the owner's
loopback client, the emulator's single account), the query runs when it is started, and
GetQueryResults returns it `Complete` with the statistics AWS reports.
AWS's rules kept here (https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/
API_StartQuery.html, API_GetQueryResults.html): one of logGroupName / logGroupNames /
logGroupIdentifiers, every named group must exist (ResourceNotFoundException), startTime and
endTime are epoch seconds with start <= end (InvalidParameterException), `limit` caps the rows
(default 10,000), and a query that does not parse is a MalformedQueryException.
"""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from dataops_cli.emulator.insights_parse import QueryError
from dataops_cli.emulator.insights_query import DEFAULT_LIMIT, QueryResult, event_record, run
from dataops_cli.observe.runlog_reader import filter_events

KEPT_QUERIES = 200  # results of the most recent queries (AWS keeps them 7 days; the emulator, a bounded few)
Clients = Callable[[str, str], Any]


class InsightsApiError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


class InsightsService:
    """Logs Insights queries over the emulator's log groups."""

    def __init__(self, clients: Clients) -> None:
        self.clients = clients
        self._results: OrderedDict[str, QueryResult] = OrderedDict()
        self._lock = threading.Lock()

    def start_query(self, account: str, region: str, request: dict[str, Any]) -> dict[str, Any]:
        groups = _groups(request)
        start, end = request.get("startTime"), request.get("endTime")
        if not isinstance(start, int) or not isinstance(end, int):
            raise InsightsApiError("InvalidParameterException", "startTime and endTime (epoch seconds) are required")
        if start > end:
            raise InsightsApiError("InvalidParameterException", "endTime must be greater than or equal to startTime")
        text = request.get("queryString")
        if not isinstance(text, str) or not text.strip():
            raise InsightsApiError("InvalidParameterException", "queryString is required")
        logs = self.clients("logs", region)
        records = []
        for group in groups:
            if not _exists(logs, group):
                raise InsightsApiError("ResourceNotFoundException", f"Log group '{group}' does not exist.")
            # endTime is inclusive to the second: events up to end + 999 ms
            events = filter_events(logs, group, start * 1000, end * 1000 + 999)
            records.extend(event_record(event, group, account) for event in events)
        records.sort(key=lambda r: r["@timestamp"])
        try:
            result = run(text, records)
        except QueryError as exc:
            raise InsightsApiError("MalformedQueryException", str(exc)) from None
        limit = request.get("limit")
        if isinstance(limit, int) and 0 < limit < DEFAULT_LIMIT:
            result.rows = result.rows[:limit]
        query_id = str(uuid.uuid4())
        with self._lock:
            self._results[query_id] = result
            while len(self._results) > KEPT_QUERIES:
                self._results.popitem(last=False)
        return {"queryId": query_id}

    def get_query_results(self, account: str, region: str, request: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            result = self._results.get(str(request.get("queryId", "")))
        if result is None:
            raise InsightsApiError("ResourceNotFoundException", f"Query {request.get('queryId')!r} does not exist.")
        return {
            "results": result.rows,
            "statistics": {
                "recordsMatched": float(result.records_matched),
                "recordsScanned": float(result.records_scanned),
                "bytesScanned": float(result.bytes_scanned),
            },
            "status": "Complete",
        }


def _groups(request: dict[str, Any]) -> list[str]:
    given = [k for k in ("logGroupName", "logGroupNames", "logGroupIdentifiers") if request.get(k)]
    if len(given) != 1:
        raise InsightsApiError(
            "InvalidParameterException", "exactly one of logGroupName, logGroupNames, logGroupIdentifiers is required"
        )
    value = request[given[0]]
    names = [value] if isinstance(value, str) else list(value)
    # an identifier may be the group's ARN (arn:aws:logs:region:account:log-group:NAME[:*])
    return [n.split(":log-group:", 1)[1].removesuffix(":*") if ":log-group:" in n else n for n in names]


def _exists(logs: Any, group: str) -> bool:
    found = logs.describe_log_groups(logGroupNamePrefix=group, limit=5).get("logGroups", [])
    return any(g["logGroupName"] == group for g in found)
