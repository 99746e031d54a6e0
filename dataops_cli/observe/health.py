"""Health from a status report: freshness, the health rules (judge), and errors recounted by run.

Errors count only since the stack was created, and errors a later successful run followed
are a warning ("recovered at HH:MM"), not a failure.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from dataops_cli.deploy.resources.base import StackContext
from dataops_cli.observe import metrics, quality_status, runlog_reader, skips
from dataops_cli.observe.status_report import (
    EXIT_FAILING,
    EXIT_HEALTHY,
    EXIT_INCOMPLETE,
    EXIT_NOT_DEPLOYED,
    FEED_MAX_PAGES,
    Health,
    Kpi,
    ResourceRow,
    StatusOptions,
    StatusReport,
    count,
    fmt,
    ms,
    read_source,
)
from dataops_cli.observe.status_sources import run_interval


def freshness(
    latest: dict[str, Any] | None,
    stale: float | None,
    key: str,
    confirmed: skips.SkippedRun | None = None,
    now: datetime | None = None,
) -> Kpi:
    """Age of the published outputs; failing once three scheduled intervals passed without a run
    that published or confirmed them. A run that skipped an unchanged input (`confirmed`: the
    newest skip naming latest.json's run) confirms they are current: the age counts from it."""
    age = latest.get("age_seconds") if latest else None
    if age is None:
        return Kpi(None, "age", f"S3 {key} (absent)", "warn")
    source = f"S3 {key}"
    if confirmed is not None and now is not None:
        age = min(age, max(0.0, now.timestamp() - confirmed.started_ms / 1000))
        source += f", confirmed current by skipped run {confirmed.run_id} (input unchanged)"
    source += f" (stale after {stale:.0f} s)" if stale is not None else ""
    return Kpi(age, "age", source, "fail" if stale is not None and age > stale else "ok")


def judge(report: StatusReport, rows: list[ResourceRow], up: str = "dataops up") -> Health:
    broken = [f"{r.kind} {r.name} cannot run: {'; '.join(r.details)}" for r in rows if r.state == "failed"]
    missing = [f"{r.kind} {r.name}" for r in rows if r.state in ("missing", "not ours")]
    if missing:
        return Health(
            "not_deployed", [f"stack incomplete: {', '.join(missing)} (run {up})", *broken], EXIT_NOT_DEPLOYED
        )
    failing = broken + [
        f"{name.replace('_', ' ')}: {fmt(k.value)}"
        for name, k in report.kpis.items()
        if k.level == "fail" and name not in ("error_rate", "freshness")
    ]
    warnings = [
        f"{name.replace('_', ' ')}: {fmt(k.value)}"
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
        low, high = ms(start), ms(end)
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
    events = read_source(
        report,
        "logs (the stack's first minutes)",
        lambda: list(
            runlog_reader.filter_events(
                ctx.client("logs"), ctx.config.log_group, ms(created), ms(end), max_pages=FEED_MAX_PAGES
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
    ours = [r for r in runs if created is None or (r["started"] or 0) >= ms(created)]
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
            source = f"recovered at {recovered:%H:%M} UTC after {count(int(errors), 'error')}"
    rate = errors / invocations if invocations else None
    report.kpis["errors"] = Kpi(errors, "count", source, level)
    report.kpis["error_rate"] = Kpi(min(rate, 1.0) if rate is not None else None, "ratio", source, level)


FINISHED = ("succeeded", "failed", runlog_reader.SKIPPED)


def recovered_at(runs: list[dict[str, Any]], results: metrics.MetricResults, counted: list[int]) -> datetime | None:
    """When the first successful run after the last failure started, or None if none has succeeded since.

    The runs feed (newest first, exact times: every run it read, not only those listed) decides
    when it has finished runs; otherwise the metric series: the first period after the last one
    with errors that had a success.
    """
    finished = [r for r in runs if r["outcome"] in FINISHED and r["started"] is not None]
    if finished:
        if finished[0]["outcome"] == "failed":
            return None
        since_failure = []
        for run in finished:  # newest first; a skip after a failure found the published outputs current
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
