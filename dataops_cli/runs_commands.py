"""`dataops runs` and `dataops runs show RUN_ID`: thin click commands over runs.py and quality_view.py."""

from __future__ import annotations

import json
from typing import Any

import click
from rich.console import Group
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from dataops_cli import runs as runs_module
from dataops_cli.quality_view import checks_table, summary_text
from dataops_cli.status_view import number
from dataops_cli.timewindow import parse_since

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}
STATUS_STYLE = {"succeeded": "green", "quarantined": "red", "failed": "red", "running": "yellow"}
STATUS_MARK = {"succeeded": "✅", "quarantined": "🚧", "failed": "❌", "running": "🚀"}


@click.group("runs", context_settings=CONTEXT_SETTINGS, invoke_without_command=True)
@click.option("--since", default="1d", show_default=True, metavar="SPAN", help="How far back: 1h, 1d, 2w ...")
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True, help="How many runs at most.")
@click.option("--json", "as_json", is_flag=True, help="Print the runs as one JSON list.")
@click.pass_context
def runs_group(ctx: click.Context, since: str, limit: int, as_json: bool) -> None:
    """List the last runs, newest first, as the bucket records them.

    Columns: run id (= the run's folder under processed/runs/), start time, status
    (succeeded, quarantined, failed, running), rows, missing cells imputed,
    duration, and the data-quality checks (ok / warn / fail).

    \b
    Examples:
      dataops runs
      dataops runs --since 2h --limit 5 --json
      dataops runs show 20261125T190437Z-1a2b3c4d
    """
    if ctx.invoked_subcommand is not None:
        return
    app = ctx.obj
    try:
        seconds = parse_since(since)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--since") from None
    found = runs_module.list_runs(app.aws().client("s3"), app.config, limit, seconds)
    if as_json:
        click.echo(json.dumps([r.as_dict() for r in found], indent=2, ensure_ascii=False))
        return
    if not found:
        app.console.print(f"No runs in the last {since} under s3://{app.config.bucket.name}/{app.config.runs_prefix}")
        return
    app.console.print(runs_table(found))


@runs_group.command("show")
@click.argument("run_id")
@click.option("--json", "as_json", is_flag=True, help="Print run summary and quality.json as one JSON document.")
@click.pass_obj
def show(app: Any, run_id: str, as_json: bool) -> None:
    """Print one run's summary and every data-quality check.

    \b
    Examples:
      dataops runs show 20261125T190437Z-1a2b3c4d
      dataops runs show 20261125T190437Z-1a2b3c4d --json | jq '.quality.checks[] | select(.level != "ok")'
    """
    summary, quality = runs_module.show(app.aws().client("s3"), app.config, run_id)
    if as_json:
        click.echo(json.dumps({"run": summary.as_dict(), "quality": quality}, indent=2, ensure_ascii=False))
        return
    app.console.print(run_detail(summary, quality))


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
            f"{run.run_id}\n{_checks(run)}",
            _status(run.status),
            number(run.rows, "count"),
            number(run.missing_total, "count"),
            number(run.duration_ms, "ms"),
        )
    return table


def run_detail(run: runs_module.RunSummary, quality: dict[str, Any] | None) -> Group:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column(overflow="fold")
    grid.add_row("run", run.run_id)
    grid.add_row("status", _status(run.status))
    grid.add_row("started", run.started_at or "–")
    grid.add_row("trigger", run.trigger or "–")
    shape = f"{run.rows:,} rows × {run.columns} columns" if run.rows is not None else "–"
    grid.add_row("shape", shape)
    grid.add_row("missing", f"{run.missing_total:,} cells imputed" if run.missing_total is not None else "–")
    grid.add_row("duration", number(run.duration_ms, "ms"))
    if run.error:
        grid.add_row("error", Text(run.error, style="red"))
    if run.files:
        grid.add_row("files", "\n".join(run.files))
    parts: list[Any] = [grid]
    if quality is None:
        parts.append(Text("No quality.json for this run (it failed before the checks, or predates them).", style="dim"))
    else:
        title = (
            f"Data quality checks · compared with {quality.get('baseline_runs')} earlier runs · "
            f"{summary_text(quality.get('summary'))}"
        )
        parts.append(checks_table(quality.get("checks", []), title))
    return Group(*parts)


def _checks(run: runs_module.RunSummary) -> str:
    if run.error and run.status in ("failed", "unreadable"):
        return f"[red]{escape(run.error[:120])}[/]"
    if not run.quality:
        return "–"
    q = run.quality
    text = f"{q.get('ok', 0)} ok"
    if q.get("warn"):
        text += f" · [yellow]{q['warn']} warn[/]"
    if q.get("fail"):
        text += f" · [red]{q['fail']} fail[/]"
    return text


def _status(status: str) -> str:
    return f"[{STATUS_STYLE.get(status, 'yellow')}]{STATUS_MARK.get(status, '?')} {status}[/]"
