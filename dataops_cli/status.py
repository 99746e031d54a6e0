"""Collect the pipeline's health into one plain report (rendered by status_view, or as JSON).

A fixed handful of API calls whatever the window: the resource reads that `up` would make
(drift = what `up` would change), one GetMetricData for the KPIs (a second, without
percentiles, only if the backend refused them), one for S3 storage, page-bounded
FilterLogEvents for recent runs and errors, one GetObject for latest.json, two for the
data-quality section (the latest run's quality.json and the history; dataops_cli.quality_status),
and (only where percentiles are unavailable) page-bounded REPORT lines of the window.

Every source succeeds or fails on its own: what failed goes into `unavailable` (shown
inline, and as one map in --json) and the rest is reported as usual.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from botocore.exceptions import BotoCoreError, ClientError

from dataops_cli import metrics, quality_status, runlog_reader
from dataops_cli.aws import DataopsError, read_or_none
from dataops_cli.counts import counted
from dataops_cli.observe import percentiles
from dataops_cli.observe.percentiles import unavailable_reason
from dataops_cli.resources.base import Action, StackContext
from dataops_cli.schedule_expr import Rate, expected_firings, parse_schedule
from dataops_cli.stack import command, resources
from dataops_cli.timewindow import Window
from handler import contract

EXIT_HEALTHY = 0
EXIT_FAILING = 3
EXIT_NOT_DEPLOYED = 4
EXIT_INCOMPLETE = 5  # nothing found wrong, but a source could not be read: health is not proven
RECENT_RUNS = 10
FEED_MAX_PAGES = 3
T = TypeVar("T")
P99_WARN_FRACTION = 0.8
STATE = {
    Action.UNCHANGED: "ok",
    Action.CREATE: "missing",
    Action.UPDATE: "drifted",
    Action.REFUSED: "not ours",
    Action.SKIPPED: "skipped",
    Action.DELETE: "to remove",
    Action.FAILED: "error",
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
    unavailable: dict[str, str] = field(default_factory=dict)  # source -> "<code>: <message>"
    api_calls: int = 0
    config_file: str = ""  # "" = built-in defaults
    stack_created: str | None = None  # errors before this (an earlier stack's) are not counted
    notes: list[str] = field(default_factory=list)
    glue_runs: dict[str, Any] = field(default_factory=dict)  # engine glue: dataops_cli.glue_run.runs_summary
    local: bool = False  # against the local emulator: hints say `dataops --local ...`

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, default=str, ensure_ascii=False)


@dataclass(frozen=True)
class StatusOptions:
    since_seconds: int = 3 * 3600
    period: int = 120
    time_scale: float = 1.0  # local emulator with --speed N: schedules fire N times as often
    metric_lag_seconds: int = 180  # CloudWatch publishes Lambda metrics a minute or more late
    recent_runs: int = RECENT_RUNS


def _read(report: StatusReport, source: str, read: Callable[[], T], default: T) -> T:
    """One source: its value, or `default` with the reason recorded under `source`."""
    try:
        return read()
    except (ClientError, BotoCoreError, DataopsError) as exc:
        report.unavailable[source] = unavailable_reason(exc)
        return default


def collect(ctx: StackContext, options: StatusOptions, now: datetime | None = None) -> StatusReport:
    now = now or datetime.now(UTC)
    calls_before = ctx.aws.counter.total
    config = ctx.config
    failures: list[BaseException] = []
    rows = resource_rows(ctx, failures)
    if rows and len(failures) == len(rows):  # nothing could be read at all (credentials, network): exit 1
        raise failures[0]
    with_percentiles = "percentiles" not in ctx.gaps
    quality_queries = quality_status.queries(config.function.name)
    queries = metrics.kpi_queries(config.function.name, config.schedule_group, with_percentiles) + quality_queries
    period = metrics.fit_period(
        options.since_seconds,
        len(metrics.kpi_queries(config.function.name, config.schedule_group, True)) + len(quality_queries),
        options.period,
    )
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
        local=ctx.aws.local,
    )
    for row in rows:
        if row.state == "error":
            report.unavailable[f"resource: {row.kind} {row.name}"] = row.details[0].removeprefix("unavailable: ")
    by_kind = {(r.kind, r.state) for r in rows}
    if all(r.state in ("missing", "skipped") for r in rows):
        report.health = Health(
            "not_deployed",
            [f"nothing of stack {config.stack.name!r} is deployed: run {suggest(ctx, 'up')}"],
            EXIT_NOT_DEPLOYED,
        )
        return report
    lambda_engine = config.function.engine == "lambda"
    # engine glue: the function's metrics and log group do not exist; its runs come from GetJobRuns below
    results, refused = _kpi_metrics(ctx, report, queries, window) if lambda_engine else (None, None)
    if results is not None:
        report.series = {k: results.series[k] for k in ("invocations", "errors", "throttles", "duration_avg")}
        report.kpis = _read(report, "metrics", lambda: kpis_from(results, ctx, window, now, options), {})
    report.storage = _read(report, "s3 storage metrics", lambda: storage(ctx, now), {})
    report.cost = month_to_date_cost(ctx, now, report.storage.get("s3_bytes"))
    log_exists = lambda_engine and ("Log group", "missing") not in by_kind
    created = None
    feed: Feed | None = None
    if log_exists:
        feed_start = now - timedelta(seconds=feed_lookback(ctx, options))
        events = _read(
            report,
            "logs",
            lambda: list(
                runlog_reader.filter_events(
                    ctx.client("logs"), config.log_group, _ms(feed_start), _ms(now), max_pages=FEED_MAX_PAGES
                )
            ),
            None,
        )
        if events is not None:
            feed = Feed(feed_start, runlog_reader.runs_from_events(events))
            report.runs = [r.as_dict() for r in _last(feed.runs, options.recent_runs)][::-1]
            report.errors = [asdict(e) for e in _last(runlog_reader.errors_from_events(events), options.recent_runs)][
                ::-1
            ]
        if not with_percentiles or refused:
            why = percentiles.why_from_reports(refused)
            durations = _read(report, "logs (REPORT lines for p99)", lambda: _report_durations(ctx, window), None)
            if durations is not None:
                report.kpis["duration_p99"] = Kpi(
                    metrics.percentile(durations, 99),
                    "ms",
                    f"REPORT log lines (exact, from {_count(len(durations), 'duration')}; {why})",
                )
        created = _read(
            report,
            "logs (stack creation time)",
            lambda: runlog_reader.log_group_created(ctx.client("logs"), config.log_group),
            None,
        )
    if config.function.engine == "glue" and ("Glue job", "missing") not in by_kind:
        from dataops_cli.glue_run import runs_summary

        report.glue_runs = _read(
            report, "glue job runs", lambda: runs_summary(ctx.client("glue"), config.glue_job, window.start), {}
        )
    report.latest = _read(report, "s3 outputs", lambda: latest_output(ctx, now), None)
    if "s3 outputs" not in report.unavailable:
        report.kpis["freshness"] = freshness(report.latest, stale_after(ctx, options), config.latest_key)
    if created is not None:
        report.stack_created = created.isoformat(timespec="seconds")
    if results is not None:
        straddling = straddling_runs(ctx, report, results, created, feed)
        recount_errors(report, results, created, feed, straddling)
    report.quality = quality_status.collect(
        ctx.client("s3"),
        config,
        results,
        report.runs if "logs" not in report.unavailable else None,
        report.latest,
        report.unavailable,
        unavailable_reason,
    )
    report.health = judge(report, rows, suggest(ctx, "up"))
    if report.glue_runs and report.health.level not in ("not_deployed", "failing"):
        from dataops_cli.glue_run import FAILED_STATES

        if report.glue_runs["latest_state"] in FAILED_STATES:
            latest = report.glue_runs["failures"][0]
            reason = f"latest Glue job run {latest['run_id']} {latest['state']}: {latest['error'] or '?'}"
            report.health = Health("failing", [reason, *report.health.reasons], EXIT_FAILING)
    report.api_calls = ctx.aws.counter.total - calls_before
    return report


def _kpi_metrics(
    ctx: StackContext, report: StatusReport, queries: list[metrics.Query], window: Window
) -> tuple[metrics.MetricResults | None, str | None]:
    """(results, why percentiles were refused): dataops_cli.observe.percentiles decides, shared with `dashboard`."""
    fetched = percentiles.fetch_with_fallback(ctx, queries, lambda client, qs: metrics.fetch(client, qs, window))
    if fetched.error is not None:
        report.unavailable["metrics"] = unavailable_reason(fetched.error)
    return fetched.value, fetched.refused


def _report_durations(ctx: StackContext, window: Window) -> list[float]:
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
    from dataops_cli.cost_inputs import month_to_date
    from dataops_cli.pricing import UnknownRegionError, table_prices

    try:
        prices = table_prices(ctx.config.region)
    except UnknownRegionError as exc:
        return {"error": str(exc)}
    try:
        glue = ctx.client("glue") if ctx.config.function.engine == "glue" else None
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
    finished = latest.get(contract.L_FINISHED_AT)
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


def judge(report: StatusReport, rows: list[ResourceRow], up: str = "dataops up") -> Health:
    broken = [f"{r.kind} {r.name} cannot run: {'; '.join(r.details)}" for r in rows if r.state == "failed"]
    missing = [f"{r.kind} {r.name}" for r in rows if r.state in ("missing", "not ours")]
    if missing:
        return Health(
            "not_deployed", [f"stack incomplete: {', '.join(missing)} (run {up})", *broken], EXIT_NOT_DEPLOYED
        )
    failing = broken + [
        f"{name.replace('_', ' ')}: {_fmt(k.value)}"
        for name, k in report.kpis.items()
        if k.level == "fail" and name not in ("error_rate", "freshness")
    ]
    warnings = [
        f"{name.replace('_', ' ')}: {_fmt(k.value)}"
        for name, k in report.kpis.items()
        if k.level == "warn" and name not in ("freshness", "errors", "error_rate")
    ]
    errors = report.kpis.get("errors")
    if errors is not None and errors.level == "warn":
        warnings.append(f"errors: {errors.source}")
    warnings += [f"{r.kind} {r.name} drifted from the config ({up} fixes it)" for r in rows if r.state == "drifted"]
    quality_failing, quality_warnings = quality_status.health(report.quality)
    failing += quality_failing
    warnings += quality_warnings
    fresh = report.kpis.get("freshness")
    if fresh is None:
        pass  # s3 outputs unavailable: counted below
    elif fresh.value is None:
        warnings.append(f"no successful run yet ({fresh.source})")
    elif fresh.level == "fail":
        failing.append(f"latest output is {fresh.value:.0f}s old ({fresh.source})")
    unavailable = [f"{source} unavailable: {reason}" for source, reason in report.unavailable.items()]
    if failing:
        return Health("failing", failing + warnings + unavailable, EXIT_FAILING)
    if unavailable:
        return Health("incomplete", unavailable + warnings, EXIT_INCOMPLETE)
    if warnings:
        return Health("warning", warnings, EXIT_HEALTHY)
    return Health("healthy", [], EXIT_HEALTHY)


def stale_after(ctx: StackContext, options: StatusOptions) -> float | None:
    interval = run_interval(ctx, options)
    if not ctx.config.schedule.enabled or interval is None:
        return None
    return 3 * interval


@dataclass(frozen=True)
class Feed:
    """Every run the log feed read (oldest first), and where the read started: runs before `start` are unknown."""

    start: datetime
    runs: list[runlog_reader.Run]

    def between(self, start: datetime, end: datetime) -> list[runlog_reader.Run]:
        low, high = _ms(start), _ms(end)
        return [r for r in self.runs if r.started is not None and low <= r.started < high]


def straddling_runs(
    ctx: StackContext,
    report: StatusReport,
    results: metrics.MetricResults,
    created: datetime | None,
    feed: Feed | None,
) -> list[runlog_reader.Run] | None:
    """The runs of the metric period the stack was created in, from its creation on (exact times).

    That period's metrics may hold an earlier same-named stack's errors, so they are not used;
    its runs come from the log group, which is this stack's alone. From the feed when it reaches
    back to the creation; else, only if that period's metrics show errors (nothing to recount
    otherwise: the call count stays the same whatever the window), one bounded read of
    [creation, period end). None when no period straddles the creation, or the logs cannot be
    read: the period is then left out whole."""
    if created is None:
        return None
    window = results.window
    period = timedelta(seconds=window.period)
    index = next((i for i, start in enumerate(window.periods) if start < created < start + period), None)
    if index is None:
        return None
    end = window.periods[index] + period
    if feed is not None and feed.start <= created:
        return feed.between(created, end)
    if not results.series["errors"][index]:
        return None
    events = _read(
        report,
        "logs (the stack's first minutes)",
        lambda: list(
            runlog_reader.filter_events(
                ctx.client("logs"), ctx.config.log_group, _ms(created), _ms(end), max_pages=FEED_MAX_PAGES
            )
        ),
        None,
    )
    return None if events is None else runlog_reader.runs_from_events(events)


def recount_errors(
    report: StatusReport,
    results: metrics.MetricResults,
    created: datetime | None,
    feed: Feed | None = None,
    straddling: list[runlog_reader.Run] | None = None,
) -> None:
    """Errors count from the stack's creation on, and errors followed by a success are a warning.

    The creation time is the log group's: `up` creates it just before the function and
    `down` always deletes it (even with --keep-data), so it bounds this stack's runs exactly;
    Lambda gives a function no creation time (LastModified moves with every update) and
    the bucket can outlive a `down --keep-data`. The metric period that began before the
    creation may hold an earlier stack's errors, so its metrics are not used: its runs from
    the creation on are counted from the log group instead (`straddling`, exact times), which
    holds this stack's runs only. Without them that period is left out whole.
    """
    if not report.kpis:
        return
    periods = results.window.periods
    counted = [i for i, start in enumerate(periods) if created is None or start >= created]
    errors = float(sum(results.series["errors"][i] for i in counted))
    invocations = float(sum(results.series["invocations"][i] for i in counted))
    if straddling:
        errors += sum(1 for r in straddling if r.outcome == "failed")
        invocations += sum(1 for r in straddling if r.outcome != "running")
    runs = [r.as_dict() for r in reversed(feed.runs)] if feed is not None else report.runs  # newest first
    ours = [r for r in runs if created is None or (r["started"] or 0) >= _ms(created)]
    failed_runs = [r for r in ours if r["outcome"] == "failed"]
    errors = max(errors, float(len(failed_runs)))  # the feed can be ahead of the metrics
    source = "CloudWatch metrics" + (f" since the stack was created ({created:%m-%d %H:%M} UTC)" if created else "")
    if straddling:
        source += " (its first period's runs from the function's log)"
    level = "fail" if errors else "ok"
    if errors:
        recovered = recovered_at(ours, results, counted)
        if recovered is not None:
            level = "warn"
            source = f"recovered at {recovered:%H:%M} UTC after {_count(int(errors), 'error')}"
    rate = errors / invocations if invocations else None
    report.kpis["errors"] = Kpi(errors, "count", source, level)
    report.kpis["error_rate"] = Kpi(min(rate, 1.0) if rate is not None else None, "ratio", source, level)


def recovered_at(runs: list[dict[str, Any]], results: metrics.MetricResults, counted: list[int]) -> datetime | None:
    """When the first successful run after the last failure started, or None if none has succeeded since.

    The runs feed (newest first, exact times: every run it read, not only those listed) decides
    when it has finished runs; otherwise the metric series: the first period after the last one
    with errors that had a success.
    """
    finished = [r for r in runs if r["outcome"] in ("succeeded", "failed") and r["started"] is not None]
    if finished:
        if finished[0]["outcome"] == "failed":
            return None
        since_failure = []
        for run in finished:  # newest first
            if run["outcome"] == "failed":
                break
            since_failure.append(run)
        if len(since_failure) < len(finished):
            return datetime.fromtimestamp(since_failure[-1]["started"] / 1000, UTC)
    errors, invocations = results.series["errors"], results.series["invocations"]
    with_errors = [i for i in counted if errors[i]]
    last = with_errors[-1] if with_errors else -1
    for i in counted:
        if i > last and invocations[i] > errors[i]:
            return results.window.periods[i]
    if finished:  # every run the feed holds succeeded: the errors came before its oldest run
        return datetime.fromtimestamp(finished[-1]["started"] / 1000, UTC)
    return None


def suggest(ctx: StackContext, words: str) -> str:
    """A command to suggest, aimed at the same target as this one (the emulator or AWS)."""
    return command(ctx, words)


def _last(items: list[Any], count: int) -> list[Any]:
    return items[-count:] if count > 0 else []


def _count(n: int, noun: str) -> str:
    return counted(n, noun)


def _fmt(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:g}" if value == int(value) else f"{value:.3g}"


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)
