"""Render a StatusReport with rich: KPI tiles like the dashboard's, sparklines, tables."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from rich.columns import Columns
from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from dataops_cli.cost.cost_view import money
from dataops_cli.counts import count, counted, shape
from dataops_cli.observe.runlog_reader import SKIPPED
from dataops_cli.observe.status_report import Kpi, StatusReport
from dataops_cli.safe_text import data_text, printable
from dataops_cli.sparkline import Sparkline
from dataops_cli.timewindow import human_duration

LEVEL_STYLE = {"ok": "green", "warn": "yellow", "fail": "red"}
HEALTH_STYLE = {
    "healthy": "bold green",
    "warning": "bold yellow",
    "failing": "bold red",
    "not_deployed": "bold red",
    "incomplete": "bold yellow",
}
STATE_STYLE = {
    "ok": "green",
    "missing": "red",
    "drifted": "yellow",
    "not ours": "red",
    "error": "red",
    "failed": "bold red",
    "skipped": "cyan",
}
FAILED_PREFIX = re.compile(r"^❌\s*(?:Pipeline run failed:\s*)?")


def number(value: float | None, unit: str) -> str:
    if value is None:
        return "–"
    if unit == "ratio":
        return f"{value:.1%}"
    if unit == "age":
        return human_duration(value)
    if unit == "ms":
        return f"{value:,.0f} ms" if value >= 100 else f"{value:,.1f} ms"
    return count(round(value))


def tile(title: str, kpi: Kpi | None, note: str = "") -> Panel:
    kpi = kpi or Kpi(None, "count", "")
    body = Text(number(kpi.value, kpi.unit), style=f"bold {LEVEL_STYLE[kpi.level]}", justify="center")
    if note:
        body.append(f"\n{note}", style="dim")
    return Panel(body, title=title, width=22, padding=(0, 1))


def render(report: StatusReport) -> RenderableType:
    parts: list[RenderableType] = [header(report)]
    if report.unavailable:
        parts.append(unavailable(report))
    if "invocations" in report.kpis:
        k = report.kpis
        parts.append(
            Columns(
                [
                    tile("Invocations", k["invocations"], _invocations_note(k)),
                    tile("Errors", k["errors"], _rate(k.get("error_rate"), "of runs")),
                    tile("Throttles", k["throttles"]),
                    tile("Duration avg", k["duration_avg"]),
                    tile(
                        "Duration p99", k["duration_p99"], "from logs" if "REPORT" in k["duration_p99"].source else ""
                    ),
                    tile("Event age max", k["async_event_age_max"]),
                    tile("Missed runs", k.get("missed_runs"), _expected(k.get("expected_runs"))),
                    tile("Freshness", k["freshness"], "since last success"),
                ]
            )
        )
        parts.append(activity(report))
        parts.append(sources(report))
    parts.append(resources_table(report))
    if report.glue_runs:
        parts.append(glue_runs_table(report.glue_runs))
    if report.runs:
        parts.append(runs_table(report))
    if report.errors:
        parts.append(errors_table(report))
    if report.quality:
        from dataops_cli.observe.quality_view import section

        parts.append(section(report.quality, "dataops --local" if report.local else "dataops"))
    parts.append(verdict(report))
    return Group(*parts)


def unavailable(report: StatusReport) -> Text:
    """Each source that could not be read, inline, so the rest of the report is read for what it is."""
    text = Text()
    for source, reason in report.unavailable.items():
        text.append(f"{printable(source)}: ", style="bold")
        text.append(f"unavailable: {printable(reason)}\n", style="yellow")
    return text


def header(report: StatusReport) -> Text:
    """The window ends now: its last metric period may reach into the future (periods are whole)."""
    start = datetime.fromisoformat(report.window["start"])
    end = min(datetime.fromisoformat(report.window["end"]), datetime.fromisoformat(report.generated_at))
    text = Text()
    text.append(f"Stack {report.stack}", style="bold")
    text.append(f" · {report.target} · window {human_duration((end - start).total_seconds())} ")
    text.append(f"({start:%H:%M}–{end:%H:%M} UTC, {report.window['period_seconds']} s periods)", style="dim")
    for note in report.notes:
        text.append(f"\nNote: {printable(note)}", style="dim")
    return text


def activity(report: StatusReport) -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column()
    table.add_column(style="dim")
    invocations = report.series.get("invocations", [])
    table.add_row("invocations", Sparkline(invocations), f"peak {count(max(invocations, default=0))}/period")
    durations = report.series.get("duration_avg", [])
    table.add_row("duration avg", Sparkline(durations), f"peak {max(durations, default=0):,.0f} ms")
    errors = report.series.get("errors", [])
    if any(errors):
        table.add_row(Text("errors", style="red"), Sparkline(errors, style="red"), f"{count(sum(errors))} in window")
    k = report.kpis
    scheduler = " · ".join(
        f"{label} {number(k[key].value, 'count')}"
        for label, key in (
            ("attempts", "scheduler_attempts"),
            ("target errors", "scheduler_target_errors"),
            ("dropped", "scheduler_dropped"),
            ("throttled", "scheduler_throttled"),
        )
    )
    table.add_row("scheduler", scheduler, "")
    s = report.storage
    if s:
        table.add_row("data growth", _storage_line(s), "AWS/S3 daily")
    if report.cost:
        table.add_row("cost so far", _cost_line(report.cost), "estimate, dataops cost")
    return table


def sources(report: StatusReport) -> Text:
    p99 = report.kpis["duration_p99"].source
    text = Text(f"Sources: KPIs from CloudWatch metrics; p99 from {p99}", style="dim")
    if report.api_calls:
        text.append(f" · {report.api_calls} API calls", style="dim")
    return text


def resources_table(report: StatusReport) -> Table:
    """Details go under the name (dim), not in a column of their own: three columns fit 80."""
    table = Table(title="Resources", title_justify="left", expand=False)
    table.add_column("Resource", no_wrap=True)
    table.add_column("Name", overflow="fold")
    table.add_column("State", no_wrap=True)
    bucket = next((f"s3://{r.name}/" for r in report.resources if r.kind == "S3 bucket"), None)
    for row in report.resources:
        style = STATE_STYLE.get(row.state, "")
        cell = data_text(row.name.removeprefix(bucket) if bucket and row.name != bucket else row.name)
        details = "; ".join(row.details) + (f" → fix: {row.fix}" if row.fix else "")
        if details.strip():
            cell.append(f"\n{printable(details.strip())}", style="dim")
        table.add_row(row.kind, cell, Text(row.state, style=style))
    return table


def glue_runs_table(summary: dict[str, Any]) -> Table:
    """engine glue: the job's runs in the window (GetJobRuns), and its latest failures with Glue's message."""
    table = Table(title=f"Glue job runs in the window ({summary['source']})", title_justify="left", box=None)
    table.add_column("what")
    table.add_column("value", overflow="fold")
    states = ", ".join(f"{state} {count(n)}" for state, n in sorted(summary["states"].items())) or "none"
    table.add_row("runs", data_text(f"{count(summary['runs'])} ({states})"))
    table.add_row("latest", data_text(summary["latest_state"] or "-"))
    times = [summary[f"execution_seconds_{k}"] for k in ("avg", "p99", "max")]
    table.add_row("execution avg / p99 / max", " / ".join("-" if t is None else f"{t:,.0f} s" for t in times))
    for failure in summary["failures"]:
        table.add_row(
            data_text(f"{failure['state']} {failure['started']}"),
            data_text(f"{failure['run_id']}: {failure['error'] or '?'}"),
        )
    return table


def runs_table(report: StatusReport) -> Table:
    """One row per run. The run id (UTC start time + suffix) names it and its outputs folder,
    processed/runs/<run id>/, so no separate time or key column: fits 80 columns, and a failed
    run's error takes what a wider terminal has."""
    table = Table(title="Recent runs (outputs under processed/runs/<run>/)", title_justify="left")
    table.add_column("Run", no_wrap=True)
    table.add_column("Shape", no_wrap=True)
    table.add_column("Missing", justify="right", no_wrap=True)
    table.add_column("Duration", justify="right", no_wrap=True)
    table.add_column("Outcome", overflow="fold")
    for run in report.runs:
        outcome = run["outcome"]
        style = {"succeeded": "green", "failed": "red", "quarantined": "red", SKIPPED: "cyan"}.get(outcome, "yellow")
        marker = {"succeeded": "✅", "failed": "❌", "quarantined": "🚧", SKIPPED: "⏭️"}.get(outcome, "🚀")
        cell = Text(f"{marker} {printable(outcome)}", style=style)
        if run.get("error"):
            cell.append(f": {_error_text(run['error'])}", style="dim")
        table.add_row(
            data_text(_run_label(run["run_id"], run["started"])),
            shape(run["rows"], run["columns"]),
            count(run["missing_total"]),
            number(run["duration_ms"], "ms"),
            cell,
        )
    return table


def errors_table(report: StatusReport) -> Table:
    """One row per failed run: our error line, the runtime's own line for the run folded in."""
    table = Table(title="Errors ❌", title_justify="left")
    table.add_column("Run", no_wrap=True)
    table.add_column("Error", overflow="fold")
    for error in report.errors:
        cell = Text(f"{printable(error['code'])}: " if error["code"] else "", style="bold")
        cell.append(_error_text(error["message"]))
        if error.get("runtime") and error["runtime"].split(": ", 1)[-1] not in error["message"]:
            cell.append(f" (runtime: {printable(error['runtime'])})", style="dim")
        table.add_row(data_text(_run_label(error["run_id"], error["timestamp"])), cell)
    return table


def verdict(report: StatusReport) -> Text:
    health = report.health
    text = Text(f"{health.level.replace('_', ' ').upper()}", style=HEALTH_STYLE[health.level])
    if report.latest and report.latest.get("run_id"):
        text.append(f" · latest output {printable(report.latest['run_id'])}", style="")
        if "age_seconds" in report.latest:
            text.append(f" ({human_duration(report.latest['age_seconds'])} old")
            if "confirmed_age_seconds" in report.latest:  # a run on an unchanged input found it current
                text.append(f", confirmed current {human_duration(report.latest['confirmed_age_seconds'])} ago")
            text.append(")")
    for reason in health.reasons:
        text.append(f"\n  • {printable(reason)}")
    text.append(f"\nexit code {health.exit_code}", style="dim")
    return text


def _invocations_note(kpis: dict[str, Kpi]) -> str:
    """The success rate, and how many of the runs skipped an unchanged input (they succeeded too)."""
    note = _rate(kpis.get("success_rate"), "success")
    skipped = kpis.get("runs_skipped")
    if skipped is not None and skipped.value:
        note += f"\n{count(round(skipped.value))} skipped"
    return note


def _rate(kpi: Kpi | None, label: str) -> str:
    return f"{kpi.value:.0%} {label}" if kpi and kpi.value is not None else ""


def _expected(kpi: Kpi | None) -> str:
    return f"of {count(round(kpi.value))} expected" if kpi and kpi.value is not None else "schedule n/a"


def _storage_line(storage: dict) -> str:
    objects, size = storage.get("s3_objects"), storage.get("s3_bytes")
    if objects is None and size is None:
        return "no daily storage datapoint yet (S3 reports once a day)"
    change = storage.get("s3_objects_change")
    growth = f" ({change:+,.0f} over {counted(storage['s3_objects_days'], 'day')})" if change is not None else ""
    return f"{counted(objects or 0, 'object')}{growth} · {(size or 0) / 1e6:,.1f} MB"


def _error_text(message: str) -> str:
    """The handler's message without its log marker ("❌ Pipeline run failed: "): the table says it failed."""
    return printable(FAILED_PREFIX.sub("", message.strip()))


def _run_label(run_id: str | None, epoch_ms: int | None) -> str:
    return run_id or f"{_time(epoch_ms)} (no run id)"


def _cost_line(cost: dict) -> str:
    if "error" in cost:
        return f"not estimated: {printable(cost['error'])}"
    return (
        f"{money(cost['to_pay'])} to pay this month ({money(cost['total'])} before the free tier; "
        f"{counted(round(cost['runs']), 'run')}, {cost['fraction_of_month']:.0%} of a 30-day month)"
    )


def _time(epoch_ms: int | None) -> str:
    if epoch_ms is None:
        return "–"
    return datetime.fromtimestamp(epoch_ms / 1000, UTC).strftime("%m-%d %H:%M:%S")
