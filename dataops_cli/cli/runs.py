"""`dataops runs` and `dataops runs show RUN_ID`: observe/runs.py reads the runs, observe/runs_view.py renders them."""

from __future__ import annotations

import json
import time
from typing import Any

import click
from botocore.exceptions import BotoCoreError, ClientError

import dataops_cli.cli.exits as exits
from dataops_cli.cli.options import CONTEXT_SETTINGS, json_option, since_option, since_seconds
from dataops_cli.observe import runs as runs_module
from dataops_cli.observe.runs_view import run_detail, runs_table
from dataops_cli.observe.skips import SkippedRun
from dataops_cli.observe.status_report import unavailable_reason


@click.group("runs", context_settings=CONTEXT_SETTINGS, invoke_without_command=True)
@since_option("1d", "How far back: 1h, 1d, 2w ...")
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True, help="How many runs at most.")
@json_option("Print the runs as one JSON list.")
@click.pass_context
def runs_group(ctx: click.Context, since: str, limit: int, as_json: bool) -> None:
    """List the last runs, newest first, skipped ones included.

    Columns: run id (= the run's folder under processed/runs/), start time, status
    (succeeded, quarantined, failed, running, skipped), rows, missing cells imputed,
    duration, and the data-quality checks (ok / warn / fail).

    A run that found its input unchanged (pipeline.skip_unchanged) writes no
    folder: it is read from its log line and shown as skipped, with the published
    run it confirmed. If that log cannot be read, the bucket's runs are still
    listed, a warning says what is missing, and the exit code is 5.

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
    skipped, problem = read_skipped_runs(app, seconds)
    found = runs_module.list_runs(app.aws().client("s3"), app.config, limit, seconds, skipped=skipped)
    if problem:
        click.echo(f"Warning: skipped runs not listed: {problem}", err=True)
    if as_json:
        click.echo(json.dumps([r.as_dict() for r in found], indent=2, ensure_ascii=False))
    elif not found:
        app.console.print(
            f"No runs in the last {since} under s3://{app.config.bucket.name}/{app.config.runs_prefix}", markup=False
        )
    else:
        app.console.print(runs_table(found))
    if problem:
        ctx.exit(exits.INCOMPLETE)


def read_skipped_runs(app: Any, seconds: int) -> tuple[list[SkippedRun], str | None]:
    """The window's skipped runs from the engine's log, or why they could not be read (the list goes on)."""
    start_ms = int((time.time() - seconds) * 1000)
    try:
        return app.engine.skipped_runs(app.aws(), start_ms), None
    except (ClientError, BotoCoreError) as exc:
        return [], f"could not read the run log of {app.engine.runs}: {unavailable_reason(exc)}"


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
