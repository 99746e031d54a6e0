"""The reads `status` is made of: resources, KPI metrics, run-log durations, storage, cost so far, outputs."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from botocore.exceptions import BotoCoreError, ClientError

from dataops_cli.aws import DataopsError, read_or_none
from dataops_cli.deploy.resources.base import StackContext
from dataops_cli.deploy.stack import resources
from dataops_cli.engines.registry import engine_for
from dataops_cli.observe import metrics, percentiles
from dataops_cli.observe.status_report import (
    P99_WARN_FRACTION,
    STATE,
    Kpi,
    ResourceRow,
    StatusOptions,
    StatusReport,
    suggest,
    unavailable_reason,
)
from dataops_cli.schedule_expr import Rate, expected_firings, parse_schedule
from dataops_cli.timewindow import Window, iso_epoch_ms
from handler import contract


def kpi_metrics(
    ctx: StackContext, report: StatusReport, queries: list[metrics.Query], window: Window
) -> tuple[metrics.MetricResults | None, str | None]:
    """(results, why percentiles were refused): dataops_cli.observe.percentiles decides, shared with `dashboard`."""
    fetched = percentiles.fetch_with_fallback(ctx, queries, lambda client, qs: metrics.fetch(client, qs, window))
    if fetched.error is not None:
        report.unavailable["metrics"] = unavailable_reason(fetched.error)
    return fetched.value, fetched.refused


def report_durations(ctx: StackContext, window: Window) -> list[float]:
    return [duration for _, duration in percentiles.report_durations(ctx, window.start, window.end)]


def resource_rows(ctx: StackContext, failures: list[BaseException] | None = None) -> list[ResourceRow]:
    """Present / missing / drifted / failed for every resource: exactly what `up` would do about it.

    Each read stands alone: one that fails is an `error` row (`unavailable: <code>: <message>`).
    """
    rows = []
    for resource in resources(ctx):
        try:
            change = resource.plan()
        except DataopsError as exc:
            rows.append(ResourceRow(resource.kind, resource.name, "error", [f"unavailable: {exc}"], exc.hint))
            if failures is not None:
                failures.append(exc)
            continue
        except (ClientError, BotoCoreError) as exc:
            if failures is not None:
                failures.append(exc)
            reason = unavailable_reason(exc)
            rows.append(ResourceRow(resource.kind, resource.name, "error", [f"unavailable: {reason}"], None))
            continue
        if resource.problem:  # exists but cannot work (a Failed function): what `up` would do is the fix
            rows.append(ResourceRow(change.kind, change.name, "failed", [resource.problem], suggest(ctx, "up")))
            continue
        state = STATE[change.action]
        fix = {"missing": suggest(ctx, "up"), "drifted": suggest(ctx, "up"), "not ours": "rename in the config"}.get(
            state
        )
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
        # runs that skipped an unchanged input (pipeline.skip_unchanged): successes that wrote nothing
        "runs_skipped": Kpi(results.total("runs_skipped"), "count", f"{cw} (RunsSkipped)"),
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
    schedule = parse_schedule(found["ScheduleExpression"])  # what is deployed, which may differ from config
    if isinstance(schedule, Rate):  # firings at created + k * interval, k >= 1
        interval = schedule.scaled(options.time_scale).seconds
        first_k = math.floor((start - created).total_seconds() / interval) + 1
        last_k = math.floor((end - created).total_seconds() / interval)
        return float(max(0, last_k - first_k + 1))
    tz = ZoneInfo(found.get("ScheduleExpressionTimezone") or "UTC")
    return float(expected_firings(schedule, start, end, tz))


def feed_lookback(ctx: StackContext, options: StatusOptions) -> int:
    """Long enough for the last N runs, short enough that one page of events holds them."""
    interval = run_interval(ctx, options)
    if interval is not None:
        return min(options.since_seconds, max(600, int(interval * (options.recent_runs + 2))))
    return options.since_seconds


def run_interval(ctx: StackContext, options: StatusOptions) -> float | None:
    """Seconds between the configured schedule's runs at the emulator's speed; None for cron/at."""
    schedule = ctx.config.schedule.parsed
    return schedule.scaled(options.time_scale).seconds if isinstance(schedule, Rate) else None


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
    from dataops_cli.cost.measured import month_to_date
    from dataops_cli.cost.prices import UnknownRegionError, table_prices

    try:
        prices = table_prices(ctx.config.region)
    except UnknownRegionError as exc:
        return {"error": str(exc)}
    try:
        glue = engine_for(ctx.config).month_runs_client(ctx)
        return month_to_date(ctx.config, ctx.client("cloudwatch"), prices, now, stored_bytes, glue)
    except (ClientError, BotoCoreError) as exc:
        return {"error": f"not estimated: {exc}"}


def latest_output(ctx: StackContext, now: datetime) -> dict[str, Any] | None:
    found = read_or_none(ctx.client("s3").get_object, Bucket=ctx.config.bucket.name, Key=ctx.config.latest_key)
    if found is None:
        return None
    body = found["Body"].read()
    try:
        latest = json.loads(body)
    except json.JSONDecodeError:
        return {"error": f"{ctx.config.latest_key} is not valid JSON"}
    if not isinstance(latest, dict):
        return {"error": f"{ctx.config.latest_key} is not a JSON object"}
    finished_ms = iso_epoch_ms(latest.get(contract.L_FINISHED_AT))  # a time it cannot read: no age (absent)
    if finished_ms is not None:
        latest["age_seconds"] = now.timestamp() - finished_ms / 1000
    return latest
