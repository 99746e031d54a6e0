"""Collect the pipeline's health into one plain report (rendered by status_view, or as JSON).

A fixed handful of API calls whatever the window: the resource reads that `up` would make
(drift = what `up` would change), one GetMetricData for the KPIs (a second, without
percentiles, only if the backend refused them), one for S3 storage, page-bounded
FilterLogEvents for recent runs and errors, one GetObject for latest.json, two for the
data-quality section (the latest run's quality.json and the history; dataops_cli.observe.quality_status),
and (only where percentiles are unavailable) page-bounded REPORT lines of the window.

Every source succeeds or fails on its own: what failed goes into `unavailable` (shown
inline, and as one map in --json) and the rest is reported as usual.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta

from dataops_cli.deploy.resources.base import StackContext
from dataops_cli.engines.base import Engine
from dataops_cli.engines.glue_run import FAILED_STATES
from dataops_cli.engines.registry import engine_for
from dataops_cli.observe import metrics, percentiles, quality_status, runlog_reader, skips
from dataops_cli.observe.health import Feed, freshness, judge, recount_errors, stale_after, straddling_runs
from dataops_cli.observe.status_report import (
    EXIT_FAILING,
    EXIT_HEALTHY,
    EXIT_NOT_DEPLOYED,
    FEED_MAX_PAGES,
    Health,
    Kpi,
    ResourceRow,
    StatusOptions,
    StatusReport,
    count,
    last,
    ms,
    read_source,
    suggest,
    unavailable_reason,
)
from dataops_cli.observe.status_sources import (
    feed_lookback,
    kpi_metrics,
    kpis_from,
    latest_output,
    month_to_date_cost,
    report_durations,
    resource_rows,
    run_interval,
    storage,
)
from dataops_cli.timewindow import Window

__all__ = ["EXIT_FAILING", "ResourceRow", "StatusOptions", "StatusReport", "collect", "collect_report"]


@dataclass
class Reading:
    """What the sources of one `status` share: the stack, the window, and what earlier sources found."""

    ctx: StackContext
    options: StatusOptions
    now: datetime
    engine: Engine
    report: StatusReport
    rows: list[ResourceRow]
    window: Window
    queries: list[metrics.Query]
    percentiles: bool
    results: metrics.MetricResults | None = None
    refused: str | None = None
    feed: Feed | None = None
    created: datetime | None = None

    def missing(self, kind: str) -> bool:
        return any(r.kind == kind and r.state == "missing" for r in self.rows)


def collect(ctx: StackContext, options: StatusOptions, now: datetime | None = None) -> StatusReport:
    """Every source in turn, each failing on its own (`read_source`), then the health; "not deployed" stops early."""
    now = now or datetime.now(UTC)
    calls_before = ctx.aws.counter.total
    reading = _begin(ctx, options, now)
    if reading.report.health.level == "not_deployed":
        return reading.report
    for source in SOURCES:
        source(reading)
    reading.report.api_calls = ctx.aws.counter.total - calls_before
    return reading.report


def collect_report(
    ctx: StackContext, options: StatusOptions, target: Callable[[], str], config_file: str, notes: list[str]
) -> StatusReport:
    """`collect`, with what the caller knows: where it looked (asked after the sources: it may call AWS),
    the config file, notes for the reader."""
    report = collect(ctx, options)
    report.target = target()
    report.config_file = config_file
    report.notes.extend(notes)
    return report


def _begin(ctx: StackContext, options: StatusOptions, now: datetime) -> Reading:
    """The resources (nothing readable at all: the first failure is raised, exit 1), the window, the report."""
    config = ctx.config
    failures: list[BaseException] = []
    rows = resource_rows(ctx, failures)
    if rows and len(failures) == len(rows):  # nothing could be read at all (credentials, network): exit 1
        raise failures[0]
    percentiles = "percentiles" not in ctx.gaps
    quality_queries = [*quality_status.queries(config.function.name), skips.metric_query(config.function.name)]
    queries = metrics.kpi_queries(config.function.name, config.schedule_group, percentiles) + quality_queries
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
    if all(r.state in ("missing", "skipped") for r in rows):
        report.health = Health(
            "not_deployed",
            [f"nothing of stack {config.stack.name!r} is deployed: run {suggest(ctx, 'up')}"],
            EXIT_NOT_DEPLOYED,
        )
    engine = engine_for(config)
    return Reading(ctx, options, now, engine, report, rows, window, queries, percentiles)


def _function_metrics(r: Reading) -> None:
    """KPIs from the function's metrics (engine glue: they do not exist; its runs come from GetJobRuns)."""
    if not r.engine.traits.runs_function:
        return
    r.results, r.refused = kpi_metrics(r.ctx, r.report, r.queries, r.window)
    if r.results is not None:
        results = r.results
        r.report.series = {k: results.series[k] for k in ("invocations", "errors", "throttles", "duration_avg")}
        r.report.kpis = read_source(
            r.report, "metrics", lambda: kpis_from(results, r.ctx, r.window, r.now, r.options), {}
        )


def _storage_and_cost(r: Reading) -> None:
    r.report.storage = read_source(r.report, "s3 storage metrics", lambda: storage(r.ctx, r.now), {})
    r.report.cost = month_to_date_cost(r.ctx, r.now, r.report.storage.get("s3_bytes"))


def _run_log(r: Reading) -> None:
    """The function's run log: recent runs and errors, p99 from REPORT lines when percentiles are refused."""
    if not r.engine.traits.runs_function or r.missing("Log group"):
        return
    ctx, config, report = r.ctx, r.ctx.config, r.report
    feed_start = r.now - timedelta(seconds=feed_lookback(ctx, r.options))
    events = read_source(
        report,
        "logs",
        lambda: list(
            runlog_reader.filter_events(
                ctx.client("logs"), config.log_group, ms(feed_start), ms(r.now), max_pages=FEED_MAX_PAGES
            )
        ),
        None,
    )
    if events is not None:
        r.feed = Feed(feed_start, runlog_reader.runs_from_events(events))
        report.runs = [run.as_dict() for run in last(r.feed.runs, r.options.recent_runs)][::-1]
        errors = last(runlog_reader.errors_from_events(events), r.options.recent_runs)
        report.errors = [asdict(e) for e in errors][::-1]
    if not r.percentiles or r.refused:
        _p99_from_report_lines(r)
    r.created = read_source(
        report,
        "logs (stack creation time)",
        lambda: runlog_reader.log_group_created(ctx.client("logs"), config.log_group),
        None,
    )


def _p99_from_report_lines(r: Reading) -> None:
    why = percentiles.why_from_reports(r.refused)
    durations = read_source(r.report, "logs (REPORT lines for p99)", lambda: report_durations(r.ctx, r.window), None)
    if durations is not None:
        r.report.kpis["duration_p99"] = Kpi(
            metrics.percentile(durations, 99),
            "ms",
            f"REPORT log lines (exact, from {count(len(durations), 'duration')}; {why})",
        )


def _engine_runs(r: Reading) -> None:
    """The engine's own run list, if it has one (Glue: GetJobRuns)."""
    if not r.missing("Glue job"):
        summaries = read_source(r.report, "glue job runs", lambda: r.engine.run_summaries(r.ctx, r.window.start), {})
        r.report.glue_runs = summaries or {}


def _outputs(r: Reading) -> None:
    r.report.latest = read_source(r.report, "s3 outputs", lambda: latest_output(r.ctx, r.now), None)
    if "s3 outputs" not in r.report.unavailable:
        stale = stale_after(r.ctx, r.options)
        confirmed = _confirmation(r)
        r.report.kpis["freshness"] = freshness(r.report.latest, stale, r.ctx.config.latest_key, confirmed, r.now)
        if confirmed is not None and r.report.latest is not None:
            r.report.latest["confirmed_by"] = confirmed.run_id
            r.report.latest["confirmed_age_seconds"] = max(0.0, r.now.timestamp() - confirmed.started_ms / 1000)
    if r.created is not None:
        r.report.stack_created = r.created.isoformat(timespec="seconds")


def _confirmation(r: Reading) -> skips.SkippedRun | None:
    """The newest skipped run that confirmed latest.json's run current (pipeline.skip_unchanged).

    The function's run feed is read already and usually holds one. When it does not and does
    not reach back to latest.json's run (a daily schedule: the feed covers hours), one more
    read looks for skips only if latest.json would otherwise be stale, and only as far back
    as that staleness (`_skips_read`). Glue's skips are read when latest.json is older than
    one scheduled interval, from the newest few job runs since it."""
    latest = r.report.latest
    if not latest or latest.get("age_seconds") is None:
        return None
    published_ms = ms(r.now) - int(latest["age_seconds"] * 1000)
    if r.engine.traits.runs_function:
        if r.feed is None:
            return None
        found = skips.confirmation(latest, skips.from_runs(r.feed.runs))
        stale = stale_after(r.ctx, r.options)
        reaches_back = r.feed.start <= datetime.fromtimestamp(published_ms / 1000, UTC)
        if found is not None or reaches_back or stale is None or latest["age_seconds"] <= stale:
            return found
        return _skips_read(r, latest, max(published_ms, ms(r.now) - int(stale * 1000)), "logs (skipped runs)")
    interval = run_interval(r.ctx, r.options)
    if (interval is not None and latest["age_seconds"] <= interval) or r.missing("Glue job"):
        return None
    return _skips_read(r, latest, published_ms, "glue job logs (skipped runs)")


def _skips_read(r: Reading, latest: dict, since_ms: int, source: str) -> skips.SkippedRun | None:
    found = read_source(r.report, source, lambda: r.engine.skipped_runs(r.ctx, since_ms, ms(r.now)), [])
    return skips.confirmation(latest, found or [])


def _errors_by_run(r: Reading) -> None:
    """Errors since the stack was created, and whether a later run recovered from them."""
    if r.results is not None:
        straddling = straddling_runs(r.ctx, r.report, r.results, r.created, r.feed)
        recount_errors(r.report, r.results, r.created, r.feed, straddling)


def _quality(r: Reading) -> None:
    report = r.report
    report.quality = quality_status.collect(
        r.ctx.client("s3"),
        r.ctx.config,
        r.results,
        report.runs if "logs" not in report.unavailable else None,
        report.latest,
        report.unavailable,
        unavailable_reason,
    )


def _health(r: Reading) -> None:
    report = r.report
    report.health = judge(report, r.rows, suggest(r.ctx, "up"))
    glue_failed = bool(report.glue_runs) and report.glue_runs["latest_state"] in FAILED_STATES
    if glue_failed and report.health.level not in ("not_deployed", "failing"):
        latest = report.glue_runs["failures"][0]
        reason = f"latest Glue job run {latest['run_id']} {latest['state']}: {latest['error'] or '?'}"
        report.health = Health("failing", [reason, *report.health.reasons], EXIT_FAILING)


# In order: a later source reads what an earlier one found (the run log's creation time, the metrics).
SOURCES: tuple[Callable[[Reading], None], ...] = (
    _function_metrics,
    _storage_and_cost,
    _run_log,
    _engine_runs,
    _outputs,
    _errors_by_run,
    _quality,
    _health,
)
