"""Render data-quality results with rich: the status section, and the checks table `runs show` reuses."""

from __future__ import annotations

from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from dataops_cli.counts import count, counted
from dataops_cli.safe_text import data_text, printable
from dataops_cli.sparkline import Sparkline

LEVEL_STYLE = {"ok": "green", "warn": "yellow", "fail": "red"}
LEVEL_MARK = {"ok": "✓", "warn": "⚠️", "fail": "❌"}
NAME_MIN_WIDTH = 24  # a column name up to this long is never folded (DiabetesPedigreeFunction)


def value(observed: Any) -> str:
    """Checks carry numbers, short strings, or (schema) lists of name:type."""
    if observed is None:
        return "–"
    if isinstance(observed, list):
        return counted(len(observed), "column")
    if isinstance(observed, bool):
        return str(observed)
    if isinstance(observed, float):
        return f"{observed:.4g}"
    if isinstance(observed, int):
        return count(observed)
    return printable(observed)


def checks_table(checks: list[dict[str, Any]], title: str, show_ok: bool = True) -> RenderableType:
    """One row per check, then the message of each check that warned or failed on a line of its own.

    Column names are whole words (never folded mid-name: "DiabetesPedigr/eeFunction"), and
    messages take the whole width under the table instead of a sixth column that had 0-10
    characters at 80 columns (an ok check's message is left out: it says nothing new)."""
    shown = [c for c in checks if show_ok or c.get("level", "?") != "ok"]
    table = Table()  # the title goes above it as a line of its own: a title wraps at the (narrow) table's width
    table.add_column("Level", no_wrap=True)
    table.add_column("Check", no_wrap=True)
    longest = max((len(str(c.get("column") or "")) for c in shown), default=0)
    # names up to NAME_MIN_WIDTH stay whole (the other columns wrap first); longer ones fold
    table.add_column("Column", overflow="fold", no_wrap=longest <= NAME_MIN_WIDTH)
    table.add_column("Observed", justify="right")
    table.add_column("Expected")
    messages = Table.grid(padding=(0, 1))
    messages.add_column(no_wrap=True)
    messages.add_column(ratio=1)
    for check in shown:
        level = str(check.get("level", "?"))
        style = LEVEL_STYLE.get(level, "")
        mark = data_text(f"{LEVEL_MARK.get(level, '')} {level}", style=style)
        name = printable(check.get("name", "?"))
        column = check.get("column") or ""
        table.add_row(mark, name, data_text(column), value(check.get("observed")), value(check.get("expected")))
        if level != "ok" and check.get("message"):
            about = Text(name, style="bold").append(f" [{printable(column)}]" if column else "", style="bold")
            messages.add_row(mark, about.append(": ", style="bold").append(printable(check["message"])))
    heading = Text(printable(title), style="italic")
    return Group(heading, table, messages) if messages.row_count else Group(heading, table)


def summary_text(summary: dict[str, int] | None) -> str:
    if not summary:
        return "–"
    return f"{summary.get('ok', 0)} ok · {summary.get('warn', 0)} warn · {summary.get('fail', 0)} fail"


def section(quality: dict[str, Any], command: str = "dataops") -> RenderableType:
    """The Data quality section of `status`; `command` is how hints call dataops (`dataops --local`)."""
    parts: list[RenderableType] = []
    head = Text("Data quality", style="bold")
    run = quality.get("latest_run")
    if run:
        head.append(f" · latest run {printable(run)} ({printable(quality.get('latest_status'))})", style="")
        if quality.get("baseline_runs") is not None:
            head.append(f" · compared with {counted(quality['baseline_runs'], 'earlier run')}", style="dim")
        head.append(f" · {summary_text(quality.get('summary'))}")
    else:
        head.append(" · no run with quality results yet", style="dim")
    parts.append(head)
    for source, reason in (quality.get("unavailable") or {}).items():  # where its figures would be
        line = Text(f"  {printable(source)}: ", style="bold")
        line.append(f"unavailable: {printable(reason)}", style="yellow")
        parts.append(line)
    checks = quality.get("checks") or []
    flagged = [c for c in checks if c.get("level") != "ok"]
    if flagged:
        hidden = len(checks) - len(flagged)
        title = f"Checks that warned or failed ({count(hidden)} more ok: {command} runs show {run})"
        parts.append(checks_table(flagged, title))
    elif checks:
        parts.append(Text(f"  all {counted(len(checks), 'check')} ok", style="green"))
    trend = quality.get("trends") or {}
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    grid.add_column(style="dim")
    rows = trend.get("rows") or []
    if rows:
        history = f"last {count(rows[-1])} · {counted(len(rows), 'run')} of history"
        grid.add_row("rows", Sparkline([float(r) for r in rows]), history)
        rates = trend.get("missing_rate") or []
        grid.add_row("missing rate", Sparkline(rates), f"last {rates[-1]:.1%} of cells before imputation")
    window = quality.get("window") or {}
    if window.get("warnings") is not None:
        grid.add_row(
            "in window",
            f"{counted(round(window['warnings']), 'warning')} · {counted(round(window['failures']), 'failure')}",
            "QualityWarnings / QualityFailures metrics",
        )
    parts.append(grid)
    for item in quality.get("quarantined") or []:
        message = printable(item.get("message") or "")
        parts.append(Text(f"  🚧 quarantined: {printable(item['run_id'])} {message}", style="red"))
    for error in quality.get("errors") or []:
        parts.append(Text(f"  {printable(error)}", style="yellow"))
    return Group(*parts)
