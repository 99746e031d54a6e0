"""Every KPI in one GetMetricData call, and the arithmetic that keeps them right.

- Sums are summed across periods; periods without data count as zero.
- Window-wide Duration statistics (average, p99, maximum) come from queries whose period
  is the whole window, so p99 is the 99th percentile of the window's durations, never an
  average of per-period percentiles.
- Where the backend cannot compute percentiles (the emulator, moto), p99 is computed
  exactly from the function's REPORT log lines instead, and the figure says so.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from dataops_cli.timewindow import Window

MAX_DATAPOINTS_PER_CALL = 100_800


@dataclass(frozen=True)
class Query:
    id: str
    namespace: str
    metric: str
    dimensions: tuple[tuple[str, str], ...]
    stat: str
    whole_window: bool = False

    def request(self, window: Window) -> dict[str, Any]:
        period = window.seconds if self.whole_window else window.period
        return metric_stat_query(self.id, self.namespace, self.metric, self.dimensions, period, self.stat)


def metric_stat_query(
    query_id: str,
    namespace: str,
    metric: str,
    dimensions: Iterable[tuple[str, str]],
    period: int,
    stat: str,
    return_data: bool = True,
) -> dict[str, Any]:
    """One MetricDataQuery of GetMetricData for a metric's statistic (status and the dashboard)."""
    return {
        "Id": query_id,
        "MetricStat": {
            "Metric": {
                "Namespace": namespace,
                "MetricName": metric,
                "Dimensions": [{"Name": k, "Value": v} for k, v in dimensions],
            },
            "Period": period,
            "Stat": stat,
        },
        "ReturnData": return_data,
    }


def kpi_queries(function: str, schedule_group: str, percentiles: bool) -> list[Query]:
    fn = (("FunctionName", function),)
    group = (("ScheduleGroup", schedule_group),)
    lam, sch = "AWS/Lambda", "AWS/Scheduler"
    queries = [
        Query("invocations", lam, "Invocations", fn, "Sum"),
        Query("errors", lam, "Errors", fn, "Sum"),
        Query("throttles", lam, "Throttles", fn, "Sum"),
        Query("duration_avg", lam, "Duration", fn, "Average"),
        Query("duration_max", lam, "Duration", fn, "Maximum"),
        Query("concurrency_max", lam, "ConcurrentExecutions", fn, "Maximum"),
        Query("async_received", lam, "AsyncEventsReceived", fn, "Sum"),
        Query("async_age_max", lam, "AsyncEventAge", fn, "Maximum"),
        Query("async_dropped", lam, "AsyncEventsDropped", fn, "Sum"),
        Query("scheduler_attempts", sch, "InvocationAttemptCount", group, "Sum"),
        Query("scheduler_target_errors", sch, "TargetErrorCount", group, "Sum"),
        Query("scheduler_dropped", sch, "InvocationDroppedCount", group, "Sum"),
        Query("scheduler_throttled", sch, "InvocationThrottleCount", group, "Sum"),
        Query("window_duration_avg", lam, "Duration", fn, "Average", whole_window=True),
        Query("window_duration_max", lam, "Duration", fn, "Maximum", whole_window=True),
        Query("window_duration_count", lam, "Duration", fn, "SampleCount", whole_window=True),
        Query("window_async_age_avg", lam, "AsyncEventAge", fn, "Average", whole_window=True),
    ]
    if percentiles:
        queries.append(Query("duration_p99", lam, "Duration", fn, "p99"))
        queries.append(Query("window_duration_p99", lam, "Duration", fn, "p99", whole_window=True))
    return queries


def storage_queries(bucket: str) -> list[Query]:
    return [
        Query(
            "s3_objects",
            "AWS/S3",
            "NumberOfObjects",
            (("BucketName", bucket), ("StorageType", "AllStorageTypes")),
            "Average",
        ),
        Query(
            "s3_bytes",
            "AWS/S3",
            "BucketSizeBytes",
            (("BucketName", bucket), ("StorageType", "StandardStorage")),
            "Average",
        ),
    ]


def fit_period(seconds: int, series: int, period: int = 120) -> int:
    """The smallest multiple of `period` that keeps one call under CloudWatch's datapoint limit."""
    per_series = MAX_DATAPOINTS_PER_CALL // max(series, 1)
    needed = math.ceil(seconds / per_series)
    return max(period, math.ceil(needed / 60) * 60)


@dataclass
class MetricResults:
    """Per-period series (zero-filled) and whole-window values, by query id."""

    window: Window
    series: dict[str, list[float]] = field(default_factory=dict)
    window_values: dict[str, float | None] = field(default_factory=dict)

    def total(self, query_id: str) -> float:
        return float(sum(self.series.get(query_id, [])))

    def peak(self, query_id: str) -> float | None:
        values = [v for v in self.series.get(query_id, []) if v]
        return max(values) if values else None


def fetch(cloudwatch: Any, queries: list[Query], window: Window) -> MetricResults:
    """One GetMetricData request (NextToken only if CloudWatch splits an oversized answer)."""
    return assemble(queries, fetch_points(cloudwatch, queries, window), window)


def fetch_points(cloudwatch: Any, queries: list[Any], window: Window) -> dict[str, dict[datetime, float]]:
    """Every datapoint by query id, as GetMetricData returns them (any object with `id` and `request(window)`)."""
    raw: dict[str, dict[datetime, float]] = {q.id: {} for q in queries}
    kwargs: dict[str, Any] = {
        "MetricDataQueries": [q.request(window) for q in queries],
        "StartTime": window.start,
        "EndTime": window.end,
        "ScanBy": "TimestampAscending",
    }
    while True:
        response = cloudwatch.get_metric_data(**kwargs)
        for result in response["MetricDataResults"]:
            for stamp, value in zip(result["Timestamps"], result["Values"], strict=True):
                raw.setdefault(result["Id"], {})[stamp] = value
        if not response.get("NextToken"):
            break
        kwargs["NextToken"] = response["NextToken"]
    return raw


def assemble(queries: Iterable[Query], raw: dict[str, dict[datetime, float]], window: Window) -> MetricResults:
    """Place datapoints in the window's periods; an empty period is 0, a missing window value None."""
    results = MetricResults(window)
    starts = [p.timestamp() for p in window.periods]
    for query in queries:
        points = raw.get(query.id, {})
        if query.whole_window:
            results.window_values[query.id] = next(iter(points.values()), None)
            continue
        series = [0.0] * len(starts)
        for stamp, value in points.items():
            index = int((stamp.timestamp() - window.start.timestamp()) // window.period)
            if not 0 <= index < len(series):
                continue
            if query.stat == "Sum":
                series[index] += value
            elif query.stat == "Maximum":
                series[index] = max(series[index], value)
            else:
                series[index] = value
        results.series[query.id] = series
    return results


def percentile(values: list[float], pct: float) -> float | None:
    """Nearest-rank percentile: the smallest value with at least pct% of values at or below it."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]
