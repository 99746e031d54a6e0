"""Fetch what every widget of the deployed dashboard shows, from the sources CloudWatch uses.

The body is read back with GetDashboard (what is drawn is what CloudWatch holds). Metric
lines go to GetMetricData, batched by time window (one call for the 120 s series, one for the
single-value tiles' whole-range values, one per other period; a widget with metric math gets
its own call, its ids being its own); log tables run their query with StartQuery and
GetQueryResults. A p99 the backend cannot compute comes from the function's REPORT lines,
through the same code as `status` (dataops_cli.observe.percentiles), and the widget says so.
Every widget succeeds or fails on its own; a failure is kept on the widget, not raised.
Returns plain data; dashboard_view.py draws it.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

import dataops_cli.cli.exits as exits
from dataops_cli.aws import DataopsError, not_found
from dataops_cli.observe import dashboard_spec, metrics, percentiles
from dataops_cli.observe.dashboard_spec import MetricLine, WidgetSpec
from dataops_cli.timewindow import Window

QUERY_TIMEOUT_SECONDS = 60.0
Sleep = Callable[[float], None]


@dataclass
class Series:
    label: str
    points: list[tuple[int, float]]  # (epoch ms, value), only where CloudWatch has a datapoint
    color: str = ""
    right_axis: bool = False
    stat: str = ""


@dataclass
class WidgetData:
    kind: str
    title: str
    x: int
    y: int
    width: int
    height: int
    series: list[Series] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)
    rows: list[dict[str, str]] = field(default_factory=list)
    markdown: str = ""
    notes: list[str] = field(default_factory=list)
    error: str | None = None
    period: int = 0
    start_ms: int = 0  # the time axis: the window the widget's metrics were read for
    end_ms: int = 0
    chart: bool = False  # a log widget with view timeSeries: its rows are drawn as `series`


@dataclass
class DashboardData:
    name: str
    region: str
    start: str
    end: str
    seconds: int
    widgets: list[WidgetData]
    generated_at: str
    console_url: str | None = None
    api_calls: int = 0
    refresh_seconds: int = 120


class NotDeployedError(DataopsError):
    exit_code = exits.NOT_DEPLOYED  # as `status` says "not deployed"


def read_body(cloudwatch: Any, name: str, up: str = "dataops up") -> dict[str, Any]:
    try:
        answer = cloudwatch.get_dashboard(DashboardName=name)
    except ClientError as exc:
        if not_found(exc, name):  # AWS: ResourceNotFound; LocalStack: InvalidParameterValue "... does not exist"
            message = f"no dashboard named {name!r} is deployed"
            raise NotDeployedError(message, f"deploy the stack first: {up}") from None
        raise
    try:
        return json.loads(answer["DashboardBody"])
    except ValueError as exc:
        raise DataopsError(f"dashboard {name!r}: its body is not JSON ({exc})") from None


def collect(
    ctx: Any, name: str, since_seconds: int | None = None, now: datetime | None = None, sleep: Sleep = time.sleep
) -> DashboardData:
    now = now or datetime.now(UTC)
    calls_before = ctx.aws.counter.total
    up = "dataops --local up" if getattr(ctx.aws, "local", False) else "dataops up"
    body = read_body(ctx.client("cloudwatch"), name, up)
    seconds = since_seconds or dashboard_spec.range_seconds(body)
    specs = dashboard_spec.widgets(body)
    out = {spec.index: _shell(spec) for spec in specs}
    _fill_metrics(ctx, [s for s in specs if s.kind in ("metric", "single")], out, seconds, now)
    for spec in specs:
        if spec.kind == "log":
            _fill_log(ctx, spec, out[spec.index], now - timedelta(seconds=seconds), now, sleep)
        elif spec.kind == "text":
            out[spec.index].markdown = str(spec.properties.get("markdown", ""))
        elif spec.kind == "other":
            out[spec.index].error = "this widget type is not drawn by dataops (see it in the CloudWatch console)"
    periods = [s.period for s in specs if s.kind == "metric"]
    return DashboardData(
        name=name,
        region=ctx.config.region,
        start=(now - timedelta(seconds=seconds)).isoformat(timespec="seconds"),
        end=now.isoformat(timespec="seconds"),
        seconds=seconds,
        widgets=[out[s.index] for s in specs],
        generated_at=now.isoformat(timespec="seconds"),
        api_calls=ctx.aws.counter.total - calls_before,
        refresh_seconds=min(periods) if periods else 120,
    )


def _shell(spec: WidgetSpec) -> WidgetData:
    return WidgetData(spec.kind, spec.title, spec.x, spec.y, spec.width, spec.height, period=spec.period)


def _fill_metrics(ctx: Any, specs: list[WidgetSpec], out: dict[int, WidgetData], seconds: int, now: datetime) -> None:
    """Group lines by the window they need, fetch each group once, hand the points back to widgets."""
    batches: dict[tuple[Any, ...], list[tuple[WidgetSpec, MetricLine]]] = {}
    reports: dict[tuple[datetime, datetime], list[tuple[int, float]]] = {}  # REPORT lines read once per window
    for spec in specs:
        for line in spec.lines:
            own = spec.index if any(ln.expression for ln in spec.lines) else None
            batches.setdefault((line.period, line.whole_window, own), []).append((spec, line))
    for (period, _whole, _own), members in batches.items():
        window = Window.ending_now(seconds, period, now)
        lines = [line for _, line in members]
        # a backend known to have no percentiles (the emulator's gap) is not asked for them at all
        gap = "percentiles" in ctx.gaps
        asked = [ln for ln in lines if not (gap and percentiles.is_percentile(ln.stat))]
        read = partial(_points, window=window)
        fetched = percentiles.fetch_with_fallback(ctx, asked, read) if asked else percentiles.Fetched({})
        if fetched.error is not None:
            for spec, _ in members:
                out[spec.index].error = f"GetMetricData: {percentiles.unavailable_reason(fetched.error)}"
            continue
        points = fetched.value or {}
        for spec, _line in members:
            out[spec.index].start_ms = int(window.start.timestamp() * 1000)
            out[spec.index].end_ms = int(window.end.timestamp() * 1000)
        for spec, line in members:
            if not line.visible:
                continue
            widget = out[spec.index]
            if percentiles.is_percentile(line.stat) and line.id not in points:
                _p99_from_reports(ctx, widget, line, window, fetched.refused, reports)
                continue
            series = sorted((int(t.timestamp() * 1000), v) for t, v in points.get(line.id, {}).items())
            widget.series.append(Series(line.label, series, line.color, line.right_axis, line.stat))


def _points(client: Any, lines: list[MetricLine], window: Window) -> dict[str, dict[datetime, float]]:
    return metrics.fetch_points(client, lines, window)


def _p99_from_reports(
    ctx: Any,
    widget: WidgetData,
    line: MetricLine,
    window: Window,
    refused: str | None,
    reports: dict[tuple[datetime, datetime], list[tuple[int, float]]],
) -> None:
    """A percentile of the function's Duration, computed from its REPORT lines (as `status` does)."""
    fn = dict(line.dimensions).get("FunctionName")
    why = percentiles.why_from_reports(refused)
    if line.namespace != "AWS/Lambda" or line.metric != "Duration" or fn != ctx.config.function.name:
        widget.notes.append(f"{line.label}: not drawn ({why}; only this function's Duration has REPORT lines)")
        return
    try:
        key = (window.start, window.end)
        if key not in reports:
            reports[key] = percentiles.report_durations(ctx, window.start, window.end)
        durations = reports[key]
    except (ClientError, BotoCoreError, DataopsError) as exc:
        widget.notes.append(f"{line.label}: REPORT lines unavailable ({percentiles.unavailable_reason(exc)})")
        return
    pct = float(line.stat[1:])
    if line.whole_window:
        value = metrics.percentile([d for _, d in durations], pct)
        points = [] if value is None else [(int(window.start.timestamp() * 1000), value)]
    else:
        buckets: dict[int, list[float]] = {}
        for stamp, duration in durations:
            start = int(window.start.timestamp() * 1000)
            index = (stamp - start) // (window.period * 1000)
            buckets.setdefault(start + index * window.period * 1000, []).append(duration)
        points = [(t, metrics.percentile(v, pct) or 0.0) for t, v in sorted(buckets.items())]
    widget.series.append(Series(line.label, points, line.color, line.right_axis, line.stat))
    widget.notes.append(
        f"{line.label}: from REPORT log lines (exact, {len(durations)} durations; {why}), as `dataops status` does"
    )


def _fill_log(ctx: Any, spec: WidgetSpec, widget: WidgetData, start: datetime, end: datetime, sleep: Sleep) -> None:
    if not spec.log_groups:
        widget.error = "the widget's query names no log group (SOURCE '...')"
        return
    try:
        rows = run_insights(ctx.client("logs"), spec.log_groups, spec.query, start, end, sleep)
    except (ClientError, BotoCoreError, DataopsError) as exc:
        widget.error = f"Logs Insights: {percentiles.unavailable_reason(exc)}"
        return
    widget.columns, widget.rows = merged_columns(rows, spec.query), rows
    if spec.properties.get("view") == "timeSeries":
        widget.chart = True
        widget.start_ms, widget.end_ms = int(start.timestamp() * 1000), int(end.timestamp() * 1000)
        widget.series = log_series(rows)


def log_series(rows: list[dict[str, str]]) -> list[Series]:
    """A `stats ... by bin(period)` result as series: one per numeric column, a point per bin, as the
    console draws a log widget's timeSeries view. Rows without a bin or a number are left out."""
    series: dict[str, list[tuple[int, float]]] = {}
    for row in rows:
        stamp = next((_bin_ms(v) for k, v in row.items() if k.startswith("bin(")), None)
        if stamp is None:
            continue
        for key, value in row.items():
            if key.startswith(("bin(", "@")):
                continue
            try:
                series.setdefault(key, []).append((stamp, float(value)))
            except ValueError:
                continue
    return [Series(label, sorted(points)) for label, points in series.items()]


def _bin_ms(value: str) -> int | None:
    """GetQueryResults' `YYYY-MM-DD HH:MM:SS.mmm` (UTC) as epoch ms."""
    try:
        return int(datetime.strptime(value, "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=UTC).timestamp() * 1000)
    except ValueError:
        return None


def merged_columns(rows: list[dict[str, str]], query: str = "") -> list[str]:
    """The columns in the query's order, as the console shows them. Each row lists its fields in
    that order but leaves out those it lacks, so a new column goes right after the one before it
    in its row; then, where the query names them, by where it names them first."""
    columns: list[str] = []
    for row in rows:
        before = -1
        for key in row:
            if key == "@ptr":
                continue
            if key not in columns:
                columns.insert(before + 1, key)
            before = columns.index(key)

    def named_at(column: str) -> int:
        found = re.search(rf"(?<![\w@.]){re.escape(column)}(?![\w.])", query)
        return found.start() if found else len(query)

    return sorted(columns, key=named_at)


def run_insights(
    logs: Any, groups: list[str], query: str, start: datetime, end: datetime, sleep: Sleep = time.sleep
) -> list[dict[str, str]]:
    """StartQuery, then GetQueryResults until the query ends (Complete), as the console does."""
    query_id = logs.start_query(
        logGroupNames=groups,
        startTime=int(start.timestamp()),
        endTime=int(end.timestamp()),
        queryString=query,
    )["queryId"]
    waited, delay = 0.0, 0.25
    while True:
        answer = logs.get_query_results(queryId=query_id)
        status = answer.get("status")
        if status == "Complete":
            return [{cell["field"]: cell.get("value", "") for cell in row} for row in answer.get("results", [])]
        if status not in ("Scheduled", "Running"):
            raise DataopsError(f"the Logs Insights query ended {status}")
        if waited >= QUERY_TIMEOUT_SECONDS:  # left to end on its own (StopQuery would need one more permission)
            raise DataopsError(f"the Logs Insights query was still running after {QUERY_TIMEOUT_SECONDS:.0f} s")
        sleep(delay)
        waited += delay
        delay = min(delay * 2, 2.0)
