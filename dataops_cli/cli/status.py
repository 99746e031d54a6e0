"""`dataops status`: the report observe/ collects, rendered (or as JSON); the exit code is the health."""

from __future__ import annotations

import sys
import time
from contextlib import suppress

import click

import dataops_cli.cli.exits as exits
from dataops_cli.cli.app import App
from dataops_cli.cli.options import json_option, since_option, since_seconds
from dataops_cli.config import find_config_path
from dataops_cli.deploy.resources.base import StackContext
from dataops_cli.observe.status import StatusOptions, StatusReport, collect_report
from dataops_cli.observe.status_view import render

MAX_RECENT_RUNS = 100


@click.command()
@since_option("3h", "Window: 30m, 3h, 1d, 2w ...")
@json_option("Print the report as one JSON document (no colours).")
@click.option(
    "--watch",
    type=click.IntRange(min=2),
    is_flag=False,
    flag_value=10,
    default=None,
    metavar="[SECONDS]",
    help="Refresh in place every SECONDS (default 10) until Ctrl-C.",
)
@click.option(
    "--runs",
    type=click.IntRange(0, MAX_RECENT_RUNS),
    default=10,
    show_default=True,
    help=f"How many recent runs to list (0-{MAX_RECENT_RUNS}; 0 hides the table).",
)
@click.pass_obj
def status(app: App, since: str, as_json: bool, watch: int | None, runs: int) -> None:
    """Show the pipeline's KPIs, recent runs, errors, and drift from the config.

    KPIs over the window (120 s periods): invocations, errors, throttles, duration
    average and p99, async event age, scheduler attempts, missed runs (expected from
    the schedule vs seen), freshness of processed/latest.json, S3 data growth.

    Errors count only since the stack was created (its log group's creation time),
    and errors followed by a successful run are a warning ("recovered at HH:MM").

    \b
    Each source (metrics, percentiles, logs, S3 outputs, the data-quality files,
    each resource) is read on its own: one that fails is shown as "unavailable:
    <code>: <message>" (and in --json under "unavailable") and the rest is
    reported as usual. A backend that rejects percentiles gets the metrics
    request again without them, and p99 then comes from the function's REPORT
    log lines.

    \b
    Exit codes (usable as a monitoring probe):
      0  healthy (or only warnings: drift, throttles, no run yet, recovered
         errors, quality warnings)
      3  failing: errors not followed by a success, missed runs, dropped events,
         a stale output, a failing data-quality check or a quarantined run in
         the window, or a function that cannot run (state Failed/Inactive)
      4  not deployed, or resources missing
      5  incomplete: nothing found wrong, but a source was unavailable
      1  the check itself failed (no source readable: credentials, network);
         2 bad config or option

    \b
    Examples:
      dataops status
      dataops status --since 1d --json | jq .kpis.errors
      dataops --local status --watch 5
    """
    options = status_options(app, since, runs)
    if not as_json:
        app.console.print(app.config_note(), highlight=False, soft_wrap=True)
    ctx = app.stack()
    if watch and not as_json:
        sys.exit(_watch(app, ctx, options, watch))
    if as_json:
        report = collect_status(app, ctx, options)
        click.echo(report.to_json())
    else:
        report = print_status(app, ctx, options)
    app.report_calls()
    sys.exit(report.health.exit_code)


def _watch(app: App, ctx: StackContext, options: StatusOptions, every: int) -> int:
    """Refresh in place until Ctrl-C; the exit code is the last report's health."""
    from rich.live import Live

    report = None
    with Live(console=app.console, auto_refresh=False, screen=False) as live, suppress(KeyboardInterrupt):
        while True:  # until Ctrl-C
            report = collect_status(app, ctx, options)
            live.update(render(report), refresh=True)
            time.sleep(every)
    return report.health.exit_code if report else exits.INTERRUPTED


def status_options(app: App, since: str, runs: int = 10) -> StatusOptions:
    # Local metrics are written as runs end; CloudWatch publishes Lambda's a minute or more late.
    return StatusOptions(
        since_seconds=since_seconds(since),
        time_scale=app.time_scale(),
        metric_lag_seconds=5 if app.local else 180,
        recent_runs=runs,
    )


def collect_status(app: App, ctx: StackContext, options: StatusOptions) -> StatusReport:
    python = ".".join(str(part) for part in sys.version_info[:3])
    return collect_report(
        ctx,
        options,
        target=app.where,
        config_file=str(find_config_path(app.config_path) or ""),
        notes=[app.engine.local_note(python)] if app.local else [],
    )


def print_status(app: App, ctx: StackContext, options: StatusOptions) -> StatusReport:
    report = collect_status(app, ctx, options)
    app.console.print(render(report))
    return report
