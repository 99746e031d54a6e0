"""p99 where the backend may have no percentiles: one path shared by `status` and `dashboard`.

GetMetricData is asked for the percentile through a client without retries, so a backend
that answers 500 to an extended statistic (LocalStack, moto's server) costs one call, not
botocore's whole backoff; the batch is then sent once more without percentiles, and p99 is
computed exactly from the function's REPORT log lines of the window (nearest rank), the
figure saying why. Errors that say "you may not" rather than "this backend cannot" are never
retried without percentiles.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from botocore.exceptions import BotoCoreError, ClientError

from dataops_cli.aws import DataopsError, error_code
from dataops_cli.observe import runlog_reader
from dataops_cli.observe.metrics import Query
from dataops_cli.observe.status_report import AUTH_CODES, REPORT_MAX_PAGES, unavailable_reason

__all__ = ["AUTH_CODES", "Fetched", "fetch_with_fallback", "report_durations", "unavailable_reason"]

T = TypeVar("T")
NO_PERCENTILES = "this backend has no percentile statistics"


@dataclass
class Fetched(Generic[T]):
    value: T | None
    refused: str | None = None  # why GetMetricData refused percentiles (they were then left out)
    error: BaseException | None = None  # the read failed: nothing to show


def is_percentile(stat: str) -> bool:
    return stat.startswith("p") and stat[1:].replace(".", "", 1).isdigit()


def fetch_with_fallback(ctx: Any, queries: list[Query], read: Callable[[Any, list[Query]], T]) -> Fetched[T]:
    """`read(cloudwatch, queries)` with percentiles, or once more without them if the backend refuses."""
    try:
        if not any(is_percentile(q.stat) for q in queries):
            return Fetched(read(ctx.client("cloudwatch"), queries))
        try:
            return Fetched(read(ctx.aws.probe_client("cloudwatch"), queries))
        except (ClientError, BotoCoreError) as exc:
            if isinstance(exc, ClientError) and error_code(exc) in AUTH_CODES:
                return Fetched(None, error=exc)
            refused = unavailable_reason(exc)
    except (ClientError, BotoCoreError, DataopsError) as exc:
        return Fetched(None, error=exc)
    plain = [q for q in queries if not is_percentile(q.stat)]
    try:
        return Fetched(read(ctx.client("cloudwatch"), plain), refused)
    except (ClientError, BotoCoreError, DataopsError) as exc:
        return Fetched(None, refused, exc)


def why_from_reports(refused: str | None) -> str:
    return f"GetMetricData refused percentiles ({refused})" if refused else NO_PERCENTILES


def report_durations(ctx: Any, start: datetime, end: datetime) -> list[tuple[int, float]]:
    """(epoch ms, duration ms) of every REPORT line of the function's log group in [start, end)."""
    events = runlog_reader.filter_events(
        ctx.client("logs"),
        ctx.config.log_group,
        int(start.timestamp() * 1000),
        int(end.timestamp() * 1000),
        pattern='"REPORT RequestId"',
        max_pages=REPORT_MAX_PAGES,
    )
    return [(e["timestamp"], r["duration_ms"]) for e in events if (r := runlog_reader.parse_report(e["message"]))]
