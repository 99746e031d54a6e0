"""`dataops runs` and `dataops runs show RUN_ID`: observe/runs.py reads the runs, observe/runs_view.py renders them."""

from __future__ import annotations

import json
from typing import Any

import click

from dataops_cli.cli.options import CONTEXT_SETTINGS, json_option, since_option, since_seconds
from dataops_cli.observe import runs as runs_module
from dataops_cli.observe.runs_view import run_detail, runs_table


@click.group("runs", context_settings=CONTEXT_SETTINGS, invoke_without_command=True)
@since_option("1d", "How far back: 1h, 1d, 2w ...")
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True, help="How many runs at most.")
@json_option("Print the runs as one JSON list.")
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
    seconds = since_seconds(since)
    found = runs_module.list_runs(app.aws().client("s3"), app.config, limit, seconds)
    if as_json:
        click.echo(json.dumps([r.as_dict() for r in found], indent=2, ensure_ascii=False))
        return
    if not found:
        app.console.print(
            f"No runs in the last {since} under s3://{app.config.bucket.name}/{app.config.runs_prefix}", markup=False
        )
        return
    app.console.print(runs_table(found))


@runs_group.command("show")
@click.argument("run_id")
@json_option("Print run summary and quality.json as one JSON document.")
@click.pass_obj
def show(app: Any, run_id: str, as_json: bool) -> None:
    """Print one run's summary and every data-quality check.

    \b
    Examples:
      dataops runs show 20261125T190437Z-1a2b3c4d
      dataops runs show 20261125T190437Z-1a2b3c4d --json \\
        | jq '.quality.checks[] | select(.level != "ok")'
    """
    summary, quality = runs_module.show(app.aws().client("s3"), app.config, run_id, app.command("runs"))
    if as_json:
        click.echo(json.dumps({"run": summary.as_dict(), "quality": quality}, indent=2, ensure_ascii=False))
        return
    app.console.print(run_detail(summary, quality))
