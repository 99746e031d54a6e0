"""`dataops runs` on the terminal: the table of runs, and one run's summary with its data-quality checks."""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

from dataops_cli.counts import count, counted
from dataops_cli.observe import runs as runs_module
from dataops_cli.observe.quality_view import checks_table, summary_text
from dataops_cli.observe.status_view import number
from dataops_cli.safe_text import data_text, printable

STATUS_STYLE = {"succeeded": "green", "quarantined": "red", "failed": "red", "running": "yellow", "skipped": "cyan"}
STATUS_MARK = {"succeeded": "✅", "quarantined": "🚧", "failed": "❌", "running": "🚀", "skipped": "⏭️"}


def runs_table(found: list[runs_module.RunSummary]) -> Table:
    """One row per run, readable at 80 columns: the run id (it starts with the UTC start
    time) carries the check summary or the error on the line below it."""
    table = Table(title="Runs (newest first; ids start with the UTC start time)", title_justify="left")
    table.add_column("Run", overflow="fold", min_width=25)
    table.add_column("Status", no_wrap=True)
    table.add_column("Rows", justify="right")
    table.add_column("Missing", justify="right")
    table.add_column("Duration", justify="right")
    for run in found:
        table.add_row(
            data_text(run.run_id).append("\n").append_text(_checks(run)),
            _status(run.status),
            count(run.rows),
            count(run.missing_total),
            number(run.duration_ms, "ms"),
        )
    return table


def run_detail(run: runs_module.RunSummary, quality: dict[str, Any] | None) -> Group:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column(overflow="fold")
    grid.add_row("run", data_text(run.run_id))
    grid.add_row("status", _status(run.status))
    grid.add_row("started", data_text(run.started_at or "–"))
    grid.add_row("trigger", data_text(run.trigger or "–"))
    shape = f"{counted(run.rows, 'row')} × {counted(run.columns or 0, 'column')}" if run.rows is not None else "–"
    grid.add_row("shape", shape)
    grid.add_row("missing", f"{counted(run.missing_total, 'cell')} imputed" if run.missing_total is not None else "–")
    grid.add_row("duration", number(run.duration_ms, "ms"))
    if run.error:
        grid.add_row("error", data_text(run.error, style="red"))
    if run.files:
        grid.add_row("files", data_text("\n".join(printable(f) for f in run.files), keep_newlines=True))
    parts: list[Any] = [grid]
    if quality is None:
        parts.append(Text("No quality.json for this run (it failed before the checks, or predates them).", style="dim"))
    else:
        title = (
            f"Data quality checks · compared with {counted(quality.get('baseline_runs') or 0, 'earlier run')} · "
            f"{summary_text(quality.get('summary'))}"
        )
        parts.append(checks_table(quality.get("checks", []), title))
    return Group(*parts)


def _checks(run: runs_module.RunSummary) -> Text:
    if run.error and run.status in ("failed", "unreadable"):
        return data_text(run.error[:120], style="red")
    if run.status == runs_module.SKIPPED:
        return data_text(f"input unchanged: confirms {run.confirms or '?'}", style="dim")
    if not run.quality:
        return Text("–")
    q = run.quality
    text = Text(f"{count(q.get('ok', 0))} ok")
    if q.get("warn"):
        text.append(f" · {count(q['warn'])} warn", style="yellow")
    if q.get("fail"):
        text.append(f" · {count(q['fail'])} fail", style="red")
    return text


def _status(status: str) -> Text:
    return data_text(f"{STATUS_MARK.get(status, '?')} {status}", style=STATUS_STYLE.get(status, "yellow"))
