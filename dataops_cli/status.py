"""Collect the pipeline's health into one plain report (rendered by status_view, or as JSON).

A fixed handful of API calls whatever the window: the resource reads that `up` would make
(drift = what `up` would change), one GetMetricData for the KPIs, one for S3 storage,
one page-bounded FilterLogEvents for recent runs and errors, one GetObject for
latest.json, and (only where percentiles are unavailable) the REPORT lines of the window.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from botocore.exceptions import BotoCoreError, ClientError

from dataops_cli import metrics, quality_status, runlogs
from dataops_cli.aws import DataopsError, not_found
from dataops_cli.resources.base import Action, StackContext
from dataops_cli.resources.bucket import read_or_none
from dataops_cli.schedule_expr import Rate, expected_firings, parse_schedule
from dataops_cli.stack import resources
from dataops_cli.timewindow import Window

EXIT_HEALTHY = 0
EXIT_FAILING = 3
EXIT_NOT_DEPLOYED = 4
RECENT_RUNS = 10
FEED_MAX_PAGES = 3
P99_WARN_FRACTION = 0.8
STATE = {
    Action.UNCHANGED: "ok",
    Action.CREATE: "missing",
    Action.UPDATE: "drifted",
    Action.REFUSED: "not ours",
    Action.SKIPPED: "skipped",
    Action.DELETE: "to remove",
}


@dataclass
class Kpi:
    value: float | None
    unit: str
    source: str
    level: str = "ok"  # ok / warn / fail


@dataclass
class ResourceRow:
    kind: str
    name: str
    state: str
    details: list[str]
    fix: str | None


@dataclass
class Health:
    level: str  # healthy / warning / failing / not_deployed
    reasons: list[str]
    exit_code: int


@dataclass
class StatusReport:
    stack: str
    target: str
    generated_at: str
    window: dict[str, Any]
    health: Health
    resources: list[ResourceRow]
    kpis: dict[str, Kpi] = field(default_factory=dict)
    series: dict[str, list[float]] = field(default_factory=dict)
    storage: dict[str, Any] = field(default_factory=dict)
    runs: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    latest: dict[str, Any] | None = None
    quality: dict[str, Any] | None = None
    cost: dict[str, Any] = field(default_factory=dict)  # month-to-date estimate (dataops_cli.cost)
    api_calls: int = 0

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, default=str, ensure_ascii=False)


@dataclass(frozen=True)
class StatusOptions:
    since_seconds: int = 3 * 3600
    period: int = 120
    time_scale: float = 1.0  # local emulator with --speed N: schedules fire N times as often
    metric_lag_seconds: int = 180  # CloudWatch publishes Lambda metrics a minute or more late
    recent_runs: int = RECENT_RUNS


def collect(ctx: StackContext, options: StatusOptions, now: datetime | None = None) -> StatusReport:
    now = now or datetime.now(UTC)
    calls_before = ctx.aws.counter.total
    config = ctx.config
    rows = resource_rows(ctx)
    queries = metrics.kpi_queries(config.function.name, config.schedule_group, "percentiles" not in ctx.gaps)
    queries += quality_status.queries(config.function.name)
    period = metrics.fit_period(options.since_seconds, len(queries), options.period)
    window = Window.ending_now(options.since_seconds, period, now)
    report = StatusReport(
        stack=config.stack.name,
        target="",
        generated_at=now.isoformat(timespec="seconds"),
        window={
            "start": window.start.isoformat(),
            "end": window.end.isoformat(),
            "period_seconds": period,
            "seconds": window.seconds,
        },
        health=Health("healthy", [], EXIT_HEALTHY),
        resources=rows,
    )
    by_kind = {(r.kind, r.state) for r in rows}
    if all(r.state in ("missing", "skipped") for r in rows):
        report.health = Health(
            "not_deployed", [f"nothing of stack {config.stack.name!r} is deployed: run dataops up"], EXIT_NOT_DEPLOYED
        )
        return report
    results = metrics.fetch(ctx.client("cloudwatch"), queries, window)
    report.series = {k: results.series[k] for k in ("invocations", "errors", "throttles", "duration_avg")}
    report.kpis = kpis_from(results, ctx, window, now, options)
    report.storage = storage(ctx, now)
    report.cost = month_to_date_cost(ctx, now, report.storage.get("s3_bytes"))
    log_exists = ("Log group", "missing") not in by_kind
    if log_exists:
        feed_start = now - timedelta(seconds=feed_lookback(ctx, options))
        events = list(
            runlogs.filter_events(
                ctx.client("logs"), config.log_group, _ms(feed_start), _ms(now), max_pages=FEED_MAX_PAGES
            )
        )
        report.runs = [r.as_dict() for r in runlogs.runs_from_events(events)[-options.recent_runs :]][::-1]
        report.errors = [asdict(e) for e in runlogs.errors_from_events(events)[-options.recent_runs :]][::-1]
        if "percentiles" in ctx.gaps:
            durations = runlogs.durations_from_events(
                runlogs.filter_events(
                    ctx.client("logs"),
                    config.log_group,
                    _ms(window.start),
                    _ms(window.end),
                    pattern='"REPORT RequestId"',
                )
            )
            report.kpis["duration_p99"] = Kpi(
                metrics.percentile(durations, 99),
                "ms",
                f"REPORT log lines (exact, {len(durations)} durations; this backend has no percentile statistics)",
            )
    report.latest = latest_output(ctx, now)
    report.kpis["freshness"] = freshness(report.latest, stale_after(ctx, options), config.latest_key)
    report.quality = quality_status.collect(ctx.client("s3"), config, results, report.runs, report.latest)
    report.health = judge(report, rows)
    report.api_calls = ctx.aws.counter.total - calls_before
    return report


def resource_rows(ctx: StackContext) -> list[ResourceRow]:
    """Present / missing / drifted for every resource: exactly what `up` would do about it."""
    rows = []
    for resource in resources(ctx):
        try:
            change = resource.plan()
        except DataopsError as exc:
            rows.append(ResourceRow(resource.kind, resource.name, "error", [str(exc)], exc.hint))
            continue
        except ClientError as exc:
            rows.append(ResourceRow(resource.kind, resource.name, "error", [str(exc)], None))
            continue
        state = STATE[change.action]
        fix = {"missing": "dataops up", "drifted": "dataops up", "not ours": "rename in config.toml"}.get(state)
        rows.append(ResourceRow(change.kind, change.name, state, list(change.details), fix))
    return rows


def kpis_from(
    results: metrics.MetricResults, ctx: StackContext, window: Window, now: datetime, options: StatusOptions
) -> dict[str, Kpi]:
    cw = "CloudWatch metrics"
    invocations = results.total("invocations")
    errors = results.total("errors")
    throttles = results.total("throttles")
    count = results.window_values.get("window_duration_count")
    timeout_ms = ctx.config.function.timeout_seconds * 1000
    p99 = results.window_values.get("window_duration_p99")
    kpis = {
        "invocations": Kpi(invocations, "count", cw),
        "errors": Kpi(errors, "count", cw, "fail" if errors else "ok"),
        "error_rate": Kpi(errors / invocations if invocations else None, "ratio", cw, "fail" if errors else "ok"),
        "success_rate": Kpi((invocations - errors) / invocations if invocations else None, "ratio", cw),
        "throttles": Kpi(throttles, "count", cw, "warn" if throttles else "ok"),
        "duration_avg": Kpi(
            results.window_values.get("window_duration_avg"), "ms", f"{cw} ({int(count or 0)} samples)"
        ),
        "duration_p99": Kpi(
            p99, "ms", f"{cw} (p99 over the window)", "warn" if p99 and p99 > P99_WARN_FRACTION * timeout_ms else "ok"
        ),
        "duration_max": Kpi(results.window_values.get("window_duration_max"), "ms", cw),
        "concurrency_max": Kpi(results.peak("concurrency_max"), "count", cw),
        "async_events_received": Kpi(results.total("async_received"), "count", cw),
        "async_event_age_avg": Kpi(results.window_values.get("window_async_age_avg"), "ms", cw),
        "async_event_age_max": Kpi(results.peak("async_age_max"), "ms", cw),
        "async_events_dropped": Kpi(
            results.total("async_dropped"), "count", cw, "fail" if results.total("async_dropped") else "ok"
        ),
        "scheduler_attempts": Kpi(results.total("scheduler_attempts"), "count", cw),
        "scheduler_target_errors": Kpi(
            results.total("scheduler_target_errors"),
            "count",
            cw,
            "fail" if results.total("scheduler_target_errors") else "ok",
        ),
        "scheduler_dropped": Kpi(
            results.total("scheduler_dropped"), "count", cw, "fail" if results.total("scheduler_dropped") else "ok"
        ),
        "scheduler_throttled": Kpi(results.total("scheduler_throttled"), "count", cw),
    }
    expected = expected_runs(ctx, window, now, options)
    if expected is not None:
        seen = max(results.total("scheduler_attempts"), invocations)
        missed = max(0.0, expected - seen)
        source = f"schedule {ctx.config.schedule.expression}" + (
            f" at {options.time_scale:g}x speed" if options.time_scale != 1 else ""
        )
        kpis["expected_runs"] = Kpi(expected, "count", source)
        kpis["missed_runs"] = Kpi(missed, "count", f"{source} vs AWS/Scheduler attempts", "fail" if missed else "ok")
    return kpis


def expected_runs(ctx: StackContext, window: Window, now: datetime, options: StatusOptions) -> float | None:
    """Firings due in the window (not counting the last metric_lag_seconds), from the schedule itself."""
    config = ctx.config
    if not config.schedule.enabled:
        return 0.0
    found = read_or_none(
        ctx.client("scheduler").get_schedule, Name=config.schedule_name, GroupName=config.schedule_group
    )
    if found is None or found.get("State") != "ENABLED":
        return None
    created = found["CreationDate"].astimezone(UTC)
    lag = options.metric_lag_seconds
    start, end = max(window.start, created), now - timedelta(seconds=lag)
    if end <= start:
        return 0.0
    schedule = parse_schedule(found["ScheduleExpression"])
    if isinstance(schedule, Rate):  # firings at created + k * interval, k >= 1
        interval = schedule.seconds / options.time_scale
        first_k = math.floor((start - created).total_seconds() / interval) + 1
        last_k = math.floor((end - created).total_seconds() / interval)
        return float(max(0, last_k - first_k + 1))
    tz = ZoneInfo(found.get("ScheduleExpressionTimezone") or "UTC")
    return float(expected_firings(schedule, start, end, tz))


def feed_lookback(ctx: StackContext, options: StatusOptions) -> int:
    """Long enough for the last N runs, short enough that one page of events holds them."""
    schedule = parse_schedule(ctx.config.schedule.expression)
    if isinstance(schedule, Rate):
        return min(
            options.since_seconds, max(600, int(schedule.seconds / options.time_scale * (options.recent_runs + 2)))
        )
    return options.since_seconds


def storage(ctx: StackContext, now: datetime) -> dict[str, Any]:
    """Daily S3 storage metrics over the last week: latest value and growth."""
    window = Window.ending_now(8 * 86400, 86400, now)
    results = metrics.fetch(ctx.client("cloudwatch"), metrics.storage_queries(ctx.config.bucket.name), window)
    summary: dict[str, Any] = {"source": "CloudWatch AWS/S3 daily storage metrics"}
    for key in ("s3_objects", "s3_bytes"):
        points = [v for v in results.series[key] if v]
        summary[key] = points[-1] if points else None
        summary[f"{key}_change"] = points[-1] - points[0] if len(points) > 1 else None
        summary[f"{key}_days"] = len(points)
    return summary


def month_to_date_cost(ctx: StackContext, now: datetime, stored_bytes: float | None) -> dict[str, Any]:
    """The month's estimated cost so far: one GetMetricData call; a failure is reported, not raised."""
    from dataops_cli.cost_inputs import month_to_date
    from dataops_cli.pricing import UnknownRegionError, table_prices

    try:
        prices = table_prices(ctx.config.region)
    except UnknownRegionError as exc:
        return {"error": str(exc)}
    try:
        return month_to_date(ctx.config, ctx.client("cloudwatch"), prices, now, stored_bytes)
    except (ClientError, BotoCoreError) as exc:
        return {"error": f"not estimated: {exc}"}


def latest_output(ctx: StackContext, now: datetime) -> dict[str, Any] | None:
    s3 = ctx.client("s3")
    try:
        body = s3.get_object(Bucket=ctx.config.bucket.name, Key=ctx.config.latest_key)["Body"].read()
    except ClientError as exc:
        if not_found(exc):
            return None
        raise
    try:
        latest = json.loads(body)
    except json.JSONDecodeError:
        return {"error": f"{ctx.config.latest_key} is not valid JSON"}
    finished = latest.get("finished_at")
    if finished:
        latest["age_seconds"] = (now - datetime.fromisoformat(finished.replace("Z", "+00:00"))).total_seconds()
    return latest


def freshness(latest: dict[str, Any] | None, stale: float | None, key: str) -> Kpi:
    """Age of the last successful output; failing once three scheduled intervals passed without one."""
    age = latest.get("age_seconds") if latest else None
    if age is None:
        return Kpi(None, "age", f"S3 {key} (absent)", "warn")
    source = f"S3 {key}" + (f" (stale after {stale:.0f} s)" if stale is not None else "")
    return Kpi(age, "age", source, "fail" if stale is not None and age > stale else "ok")


def judge(report: StatusReport, rows: list[ResourceRow]) -> Health:
    missing = [f"{r.kind} {r.name}" for r in rows if r.state in ("missing", "error", "not ours")]
    if missing:
        return Health("not_deployed", [f"stack incomplete: {', '.join(missing)} (run dataops up)"], EXIT_NOT_DEPLOYED)
    failing = [
        f"{name.replace('_', ' ')}: {_fmt(k.value)}"
        for name, k in report.kpis.items()
        if k.level == "fail" and name not in ("error_rate", "freshness")
    ]
    warnings = [
        f"{name.replace('_', ' ')}: {_fmt(k.value)}"
        for name, k in report.kpis.items()
        if k.level == "warn" and name != "freshness"
    ]
    warnings += [
        f"{r.kind} {r.name} drifted from config.toml (dataops up fixes it)" for r in rows if r.state == "drifted"
    ]
    quality_failing, quality_warnings = quality_status.health(report.quality)
    failing += quality_failing
    warnings += quality_warnings
    fresh = report.kpis["freshness"]
    if fresh.value is None:
        warnings.append(f"no successful run yet ({fresh.source})")
    elif fresh.level == "fail":
        failing.append(f"latest output is {fresh.value:.0f}s old ({fresh.source})")
    if failing:
        return Health("failing", failing + warnings, EXIT_FAILING)
    if warnings:
        return Health("warning", warnings, EXIT_HEALTHY)
    return Health("healthy", [], EXIT_HEALTHY)


def stale_after(ctx: StackContext, options: StatusOptions) -> float | None:
    schedule = parse_schedule(ctx.config.schedule.expression)
    if not ctx.config.schedule.enabled or not isinstance(schedule, Rate):
        return None
    return 3 * schedule.seconds / options.time_scale


def _fmt(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:g}" if value == int(value) else f"{value:.3g}"


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)
