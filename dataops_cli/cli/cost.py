"""`dataops cost`, and the estimate `up --dry-run` prints: cost/ builds the breakdown, its view renders it."""

from __future__ import annotations

import math
from typing import Any

import click

from dataops_cli.aws import DataopsError
from dataops_cli.cli.app import App
from dataops_cli.cli.options import json_option
from dataops_cli.config import LOG_RETENTION_DAYS
from dataops_cli.cost.cost_view import one_line, render
from dataops_cli.cost.estimate import estimate
from dataops_cli.cost.inputs import WhatIf
from dataops_cli.schedule_expr import ScheduleExpressionError, parse_schedule


@click.command()
@click.option("--schedule", "schedule", metavar="EXPR", help="What if the schedule were EXPR (rate/cron/at).")
@click.option("--memory", type=click.IntRange(128, 10240), metavar="MB", help="What if the function had MB of memory.")
@click.option("--architecture", type=click.Choice(["x86_64", "arm64"]), help="What if it ran on this architecture.")
@click.option("--rows", type=click.IntRange(min=1), metavar="N", help="What if the input had N rows.")
@click.option(
    "--input-mb", type=click.FloatRange(min=0, min_open=True), metavar="MB", help="What if the input were MB megabytes."
)
@click.option(
    "--retention-days", type=click.IntRange(1, 36500), metavar="N", help="What if run outputs were kept N days."
)
@click.option(
    "--log-retention-days",
    type=click.Choice([str(d) for d in LOG_RETENTION_DAYS]),
    metavar="N",
    help="What if logs were kept N days.",
)
@click.option("--engine", type=click.Choice(["lambda", "glue"]), help="What if function.engine were this.")
@click.option(
    "--workers", type=click.IntRange(min=2), metavar="N", help="What if the Glue job had N workers (at least 2)."
)
@click.option(
    "--worker-type", type=click.Choice(["G.1X", "G.2X", "G.4X", "G.8X"]), help="What if the Glue job used this worker."
)
@click.option(
    "--input-changes-per-day",
    "changes_per_day",
    type=click.FloatRange(min=0),
    metavar="N",
    help="How often the input changes (default: what the deployed function's last day shows, else once a "
    "day; 0.25 = every 4 days). With pipeline.skip_unchanged a run after a change processes and the "
    "schedule's other runs skip (2 GETs, no writes).",
)
@click.option("--model", "model_only", is_flag=True, help="Use the per-row model only; read nothing from AWS.")
@click.option("--pricing-api", is_flag=True, help="Ask the AWS Price List API for prices (falls back to the table).")
@json_option("Print the whole breakdown as one JSON document.")
@click.pass_obj
def cost(app: App, model_only: bool, pricing_api: bool, as_json: bool, **options: Any) -> None:
    """Estimate the stack's monthly cost, one row per billed item, and both engines side by side.

    Duration, output size and log volume come from the deployed stack when it has run
    (last day's average duration, the latest run's files), else from the per-row model
    that bench/cost_model_bench.py measured, applied to bucket.input_file. The options
    ask "what if" without changing anything.

    With function.engine = "glue" the rows are the Glue job's: DPU-hours ($0.44 per
    DPU-hour, per second, 1-minute minimum per run) at glue.worker_type x
    glue.number_of_workers, a run's time from its runs of the last day (GetJobRuns) or
    else a stated assumption. Either way a last table shows the function, the Glue job as
    configured and the Glue job at its minimum (2 x G.1X): what switching would cost.

    With pipeline.skip_unchanged (the default) only a run after the input changed does
    the work; the others make 2 S3 GETs and write nothing (on Glue they still bill
    Glue's 1-minute minimum). How often the input changes is the deployed function's
    last day (its RunsSkipped metric), else once a day, or --input-changes-per-day; a
    table shows the month with skipping and without.

    \b
    Examples:
      dataops cost
      dataops cost --schedule 'rate(1 minute)' --memory 2048
      dataops cost --rows 1000000 --retention-days 7 --json
      dataops cost --pricing-api --region eu-west-1
      dataops cost --engine glue --workers 10 --rows 50000000
      dataops cost --input-changes-per-day 24   # a new input every hour
    """
    what_if = _what_if(**options)
    result = estimate(app, what_if, measure_stack=not model_only, pricing_api=pricing_api)
    if as_json:
        click.echo(result.to_json())
    else:
        app.console.print(render(result))
    app.report_calls()


def _what_if(
    schedule: str | None,
    memory: int | None,
    architecture: str | None,
    rows: int | None,
    input_mb: float | None,
    retention_days: int | None,
    log_retention_days: str | None,
    engine: str | None,
    workers: int | None,
    worker_type: str | None,
    changes_per_day: float | None,
) -> WhatIf:
    """The options' "what if", after the checks click's types cannot make."""
    _check_what_if(schedule, rows, input_mb, changes_per_day)
    return WhatIf(
        schedule=schedule,
        memory_mb=memory,
        architecture=architecture,
        rows=rows,
        input_mb=input_mb,
        retention_days=retention_days,
        log_retention_days=int(log_retention_days) if log_retention_days else None,
        engine=engine,
        glue_workers=workers,
        glue_worker_type=worker_type,
        input_changes_per_day=changes_per_day,
    )


def _check_what_if(schedule: str | None, rows: int | None, input_mb: float | None, changes: float | None) -> None:
    """Usage errors first (exit 2): a schedule expression that does not parse, --rows with --input-mb,
    a change rate that is not a finite number (click's FloatRange lets nan and inf through)."""
    if changes is not None and not math.isfinite(changes):
        raise click.BadParameter(f"{changes!r}: expected a number of changes a day, 0 or more", param_hint="N")
    if schedule:
        try:
            parse_schedule(schedule)
        except ScheduleExpressionError as exc:
            raise click.BadParameter(f"{schedule!r}: expected {exc}", param_hint="--schedule") from None
    if rows is not None and input_mb is not None:
        raise click.UsageError("give --rows or --input-mb, not both")


def print_estimate(app: App) -> None:
    """The monthly estimate of the stack `up` would create (model only: no extra API call)."""
    try:
        result = estimate(app, WhatIf(), measure_stack=False, pricing_api=False)
    except (DataopsError, ValueError) as exc:
        app.console.print(f"\nMonthly estimate unavailable: {exc}")
        return
    app.console.print()
    app.console.print(render(result, title=f"Monthly estimate of this stack, {result.region}", detail=False))
    app.console.print(f"Estimate: {one_line(result)}. Details and what-ifs: [bold]{app.command('cost')}[/]")
