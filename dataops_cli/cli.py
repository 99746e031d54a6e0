"""The `dataops` command line: thin click commands over the library modules.

Errors for the user (bad config: exit 2; AWS or input problems: exit 1) are printed as
one line plus a hint, with no traceback unless --debug.
"""

from __future__ import annotations

import json
import os
import sys
import time
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NoReturn

import click
from botocore.exceptions import BotoCoreError, ClientError
from rich.console import Console

from dataops_cli import __version__
from dataops_cli.aws import Aws, DataopsError, explain
from dataops_cli.config import LOG_RETENTION_DAYS, Config, ConfigError, find_config_path, load_config
from dataops_cli.resources.base import Action, StackContext
from dataops_cli.schedule_expr import Rate, ScheduleExpressionError, parse_schedule
from dataops_cli.timewindow import parse_since
from dataops_cli.ui import is_interactive, make_console, reporter_for, summary_table

LOCAL_ENV = "DATAOPS_LOCAL"
CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@dataclass
class App:
    """Global options, and the config/clients built from them on first use."""

    config_path: str | None
    profile: str | None
    region: str | None
    local: bool
    verbose: int
    debug: bool
    console: Console = field(default_factory=make_console)
    _config: Config | None = None
    _aws: Aws | None = None

    @property
    def config(self) -> Config:
        if self._config is None:
            config = load_config(find_config_path(self.config_path))
            self._config = config.with_region(self.region) if self.region else config
        return self._config

    def aws(self, start_emulator: bool = False) -> Aws:
        if self._aws is None:
            if self.local:
                from dataops_cli.local import bridge

                self._aws = bridge.local_aws(self.config, start=start_emulator, console=self.console)
            else:
                self._aws = Aws(region=self.config.region, profile=self.profile)
        return self._aws

    def stack(self, start_emulator: bool = False) -> StackContext:
        aws = self.aws(start_emulator)
        if self.local:
            from dataops_cli.local import bridge

            return bridge.local_stack_context(self.config, aws)
        from dataops_cli.layers import resolve_pandas_layer

        return StackContext(config=self.config, aws=aws, layer_resolver=resolve_pandas_layer)

    def time_scale(self) -> float:
        """How much faster than real time schedules fire (the emulator's --speed), 1 on AWS."""
        if not self.local:
            return 1.0
        from dataops_cli.local import bridge

        return bridge.time_scale()

    def where(self) -> str:
        if self.local:
            return f"the local emulator ({self.aws().endpoint_url}, region {self.config.region})"
        return f"AWS account {self.aws().account_id}, region {self.config.region}"

    def report_calls(self) -> None:
        if self.verbose and self._aws is not None:
            counter = self._aws.counter
            self.console.print(f"[dim]API calls: {counter.total} ({counter.mutating} mutating)[/]")
            if self.verbose > 1:
                for call in counter.mutating_calls():
                    self.console.print(f"[dim]  {call}[/]")


class CliError(click.ClickException):
    """One line, a hint, and the exit code the error deserves."""

    def __init__(self, message: str, hint: str | None = None, exit_code: int = 1) -> None:
        super().__init__(message)
        self.hint = hint
        self.exit_code = exit_code

    def show(self, file: Any = None) -> None:
        err = Console(stderr=True, highlight=False)
        err.print(f"[bold red]error:[/] {self.message}", markup=True, soft_wrap=True)
        if self.hint:
            err.print(f"[yellow]hint:[/] {self.hint}", soft_wrap=True)


class DataopsGroup(click.Group):
    """Maps library errors to CliError so every command fails the same way."""

    def invoke(self, ctx: click.Context) -> Any:
        debug = bool(ctx.params.get("debug"))
        try:
            return super().invoke(ctx)
        except ConfigError as exc:
            if debug:
                raise
            raise CliError(str(exc), "fix config.toml (every key is documented there)", exit_code=2) from exc
        except DataopsError as exc:
            if debug:
                raise
            raise CliError(str(exc), exc.hint) from exc
        except (ClientError, BotoCoreError) as exc:
            if debug:
                raise
            error = explain(exc, ctx.invoked_subcommand or "dataops")
            raise CliError(str(error), error.hint) from exc


@click.group(cls=DataopsGroup, context_settings=CONTEXT_SETTINGS)
@click.version_option(__version__, "-V", "--version", prog_name="dataops")
@click.option(
    "--config",
    "config_path",
    metavar="PATH",
    help="Config file [default: $DATAOPS_CONFIG, else ./config.toml, else built-in defaults].",
)
@click.option("--profile", metavar="NAME", help="AWS profile for credentials (default: the usual AWS chain).")
@click.option("--region", metavar="REGION", help="Override stack.region from the config.")
@click.option(
    "--local",
    is_flag=True,
    default=lambda: os.environ.get(LOCAL_ENV, "") not in ("", "0"),
    help=f"Use the embedded AWS emulator on 127.0.0.1 instead of AWS (also {LOCAL_ENV}=1).",
)
@click.option("-v", "--verbose", count=True, help="Show API call counts (-vv: every mutating call).")
@click.option("--debug", is_flag=True, help="Show Python tracebacks for errors.")
@click.pass_context
def cli(
    ctx: click.Context,
    config_path: str | None,
    profile: str | None,
    region: str | None,
    local: bool,
    verbose: int,
    debug: bool,
) -> None:
    """Deploy and operate a scheduled serverless CSV pipeline on AWS.

    An S3 bucket holds the input CSV; a Lambda function cleans it every 2 minutes
    (imputes missing values, normalizes, correlates) and writes results under
    processed/; EventBridge Scheduler runs it; CloudWatch shows how it is doing.

    \b
    Typical session:
      dataops up --dry-run      # what would change
      dataops up                # create or update everything
      dataops status            # KPIs, recent runs, drift
      dataops down              # remove everything

    Add --local to any command to run it against the embedded emulator instead
    of AWS: no account, no Docker, scheduled runs included.
    """
    ctx.obj = App(config_path, profile, region, local, verbose, debug)


@cli.command()
@click.option("--dry-run", is_flag=True, help="Show what would be created/updated; change nothing.")
@click.pass_obj
def up(app: App, dry_run: bool) -> None:
    """Create or update every resource of the pipeline.

    Safe to run again: a resource that already matches config.toml is left alone
    (a second `up` with nothing changed makes no changing API call; see -v).

    \b
    Examples:
      dataops up --dry-run
      dataops --config prod.toml up -v
      dataops --local up
    """
    from dataops_cli import stack as stack_module
    from dataops_cli.input_check import zero_marker_warning

    ctx = app.stack(start_emulator=not dry_run)
    mode = "Planning" if dry_run else "Deploying"
    app.console.print(f"{mode} stack [bold]{app.config.stack.name}[/] to {app.where()}")
    if warning := zero_marker_warning(app.config.input_path, app.config.pipeline.zero_as_missing):
        app.console.print(f"[yellow]⚠️  {warning}[/]", highlight=False)
    with reporter_for(app.console) as reporter:
        changes = stack_module.up(ctx, reporter, dry_run=dry_run)
    pending = [c for c in changes if c.action in (Action.CREATE, Action.UPDATE, Action.DELETE)]
    if dry_run:
        app.console.print(
            f"\nDry run: {len(pending)} of {plural(len(changes), 'resource')} would change. "
            "Run [bold]dataops up[/] to apply."
            if pending
            else "\nDry run: everything is up to date."
        )
        _print_estimate(app)
    else:
        app.console.print(summary_table(changes, applied=True, title="Stack"))
        _print_after_up(app, ctx)
        if app.local:  # the first outputs within seconds: run once now, then show the KPIs
            app.console.print(f"\nRunning {app.config.function.name} once now, as `dataops invoke` would:")
            _run_now(app, ctx.client("lambda"), trigger="up")
            app.console.print()
            _print_status(app, ctx, _status_options(app, "3h"))
    app.report_calls()


def _print_after_up(app: App, ctx: StackContext) -> None:
    from dataops_cli.dashboard import console_url

    config = app.config
    if not app.local:
        app.console.print(f"Dashboard: {console_url(config.region, config.dashboard.name)}")
    if not config.schedule.enabled:
        app.console.print("Schedule is DISABLED (schedule.enabled = false): no runs until you enable it.")
        return
    schedule = parse_schedule(config.schedule.expression)
    found = ctx.client("scheduler").get_schedule(Name=config.schedule_name, GroupName=config.schedule_group)
    now = datetime.now(UTC)
    scale = app.time_scale()
    if isinstance(schedule, Rate):  # the emulator fires `scale` times as often
        due = Rate(schedule.seconds / scale).next_after(now, found["CreationDate"].astimezone(UTC))
    else:
        from zoneinfo import ZoneInfo

        due = schedule.next_after(now, ZoneInfo(config.schedule.timezone))
    if due is not None:
        speed = f", emulator at {scale:g}x speed" if scale != 1 else ""
        seconds = (due - now).total_seconds()
        app.console.print(f"Next scheduled run: {due:%Y-%m-%d %H:%M:%S} UTC (in about {seconds:.0f} s{speed})")


@cli.command()
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@click.option("--keep-data", is_flag=True, help="Keep the bucket and its objects; remove everything else.")
@click.option("--dry-run", is_flag=True, help="Show what would be deleted; delete nothing.")
@click.pass_obj
def down(app: App, yes: bool, keep_data: bool, dry_run: bool) -> None:
    """Remove every resource of the pipeline, bucket contents included.

    Finds resources by their names from config.toml and deletes only those tagged
    dataops:stack=<stack name>; anything else with the same name is reported and left
    alone. Running it again, or after a half-finished `up`, is fine.

    \b
    Examples:
      dataops down                # shows the list, asks before deleting
      dataops down --yes --keep-data
    """
    from dataops_cli import stack as stack_module

    ctx = app.stack()
    app.console.print(f"Stack [bold]{app.config.stack.name}[/] in {app.where()}")
    planned = stack_module.plan_down(ctx, keep_data=keep_data)
    changes = [change for _, change in planned]
    app.console.print(summary_table(changes, applied=False, title="Removal plan"))
    to_delete = [c for c in changes if c.action is Action.DELETE]
    refused = [c for c in changes if c.action is Action.REFUSED]
    if dry_run or not to_delete:
        app.console.print(
            "Nothing to delete."
            if not to_delete
            else f"Dry run: {plural(len(to_delete), 'resource')} would be deleted."
        )
        _fail_on_refusals(refused)
        app.report_calls()
        return
    if not yes:
        if not is_interactive():
            raise CliError("refusing to delete without confirmation on a non-interactive terminal", "pass --yes")
        if not click.confirm(f"Delete these {plural(len(to_delete), 'resource')}?", default=False):
            raise CliError("cancelled: nothing was deleted", exit_code=1)
    with reporter_for(app.console) as reporter:
        stack_module.down(planned, reporter, ctx)
    gone = sum(1 for c in changes if c.action is Action.ABSENT)
    app.console.print(f"Deleted {plural(len(to_delete), 'resource')}" + (f"; {gone} already gone." if gone else "."))
    _fail_on_refusals(refused)
    app.report_calls()


def plural(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _fail_on_refusals(refused: list) -> None:
    if refused:
        names = ", ".join(f"{c.kind} {c.name}" for c in refused)
        raise CliError(
            f"left alone because they are not this stack's: {names}",
            "delete them yourself if they are yours, or change the names in config.toml",
        )


@cli.command()
@click.option("--since", default="3h", show_default=True, metavar="SPAN", help="Window: 30m, 3h, 1d, 2w ...")
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON document (no colours).")
@click.option(
    "--watch",
    type=click.IntRange(min=2),
    is_flag=False,
    flag_value=10,
    default=None,
    metavar="[SECONDS]",
    help="Refresh in place every SECONDS (default 10) until Ctrl-C.",
)
@click.option("--runs", default=10, show_default=True, help="How many recent runs to list.")
@click.pass_obj
def status(app: App, since: str, as_json: bool, watch: int | None, runs: int) -> None:
    """Show the pipeline's KPIs, recent runs, errors, and drift from config.toml.

    KPIs over the window (120 s periods): invocations, errors, throttles, duration
    average and p99, async event age, scheduler attempts, missed runs (expected from
    the schedule vs seen), freshness of processed/latest.json, S3 data growth.

    \b
    Exit codes (usable as a monitoring probe):
      0  healthy (or only warnings: drift, throttles, no run yet, quality warnings)
      3  failing: errors, missed runs, dropped events, a stale output, a failing
         data-quality check or a quarantined run in the window
      4  not deployed, or resources missing
      1  the check itself failed (credentials, network); 2 bad config or option

    \b
    Examples:
      dataops status
      dataops status --since 1d --json | jq .kpis.errors
      dataops --local status --watch 5
    """
    from dataops_cli.status_view import render

    options = _status_options(app, since, runs)
    ctx = app.stack()

    if watch and not as_json:
        from rich.live import Live

        report = None
        with Live(console=app.console, auto_refresh=False, screen=False) as live, suppress(KeyboardInterrupt):
            while True:  # until Ctrl-C
                report = _collect_status(app, ctx, options)
                live.update(render(report), refresh=True)
                time.sleep(watch)
        sys.exit(report.health.exit_code if report else 130)
    if as_json:
        report = _collect_status(app, ctx, options)
        click.echo(report.to_json())
    else:
        report = _print_status(app, ctx, options)
    app.report_calls()
    sys.exit(report.health.exit_code)


def _status_options(app: App, since: str, runs: int = 10) -> Any:
    from dataops_cli.status import StatusOptions

    # Local metrics are written as runs end; CloudWatch publishes Lambda's a minute or more late.
    return StatusOptions(
        since_seconds=_since(since),
        time_scale=app.time_scale(),
        metric_lag_seconds=5 if app.local else 180,
        recent_runs=runs,
    )


def _collect_status(app: App, ctx: StackContext, options: Any) -> Any:
    from dataops_cli.status import collect

    report = collect(ctx, options)
    report.target = app.where()
    return report


def _print_status(app: App, ctx: StackContext, options: Any) -> Any:
    from dataops_cli.status_view import render

    report = _collect_status(app, ctx, options)
    app.console.print(render(report))
    return report


def _since(text: str) -> int:
    try:
        return parse_since(text)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--since") from None


@cli.command()
@click.option("--since", default="1h", show_default=True, metavar="SPAN", help="How far back: 10m, 1h, 2d ...")
@click.option("--filter", "text", metavar="TEXT", help="Only lines containing TEXT (case-insensitive).")
@click.option("--errors", is_flag=True, help="Only error lines (❌ run errors, timeouts, crashes).")
@click.option("--follow", "-f", is_flag=True, help="Keep polling for new lines until Ctrl-C.")
@click.option("--json", "as_json", is_flag=True, help="Raw events as JSON lines.")
@click.option("--interval", default=2.0, show_default=True, help="Seconds between polls with --follow.")
@click.pass_obj
def logs(app: App, since: str, text: str | None, errors: bool, follow: bool, as_json: bool, interval: float) -> None:
    """Print the function's log lines, structured lines pretty-printed.

    \b
    Examples:
      dataops logs --since 30m
      dataops logs --errors --since 1d
      dataops logs -f --filter "Files saved"
      dataops logs --json | jq -r .message
    """
    from dataops_cli import logtail, runlogs

    config = app.config
    client = app.aws().client("logs")
    start_ms = int((time.time() - _since(since)) * 1000)
    pattern = f'"{text}"' if text and '"' not in text else None

    def fetch(from_ms: int):
        return runlogs.filter_events(client, config.log_group, from_ms, pattern=pattern)

    def emit(event: dict) -> None:
        if not logtail.matches(event, text, errors):
            return
        if as_json:
            click.echo(json.dumps(event, ensure_ascii=False))
        else:
            app.console.print(logtail.pretty(event))

    while not runlogs.log_group_exists(client, config.log_group):
        if not follow:
            app.console.print(
                f"No log group {config.log_group} yet: the function is not deployed or has not run "
                "(dataops up creates it)."
            )
            return
        app.console.print(f"[dim]waiting for log group {config.log_group} to exist...[/]")
        time.sleep(interval)
    follower = logtail.Follower(fetch, start_ms)
    try:
        for event in follower.poll():
            emit(event)
        if follow:
            logtail.follow(follower, emit, interval)
    except KeyboardInterrupt:
        return


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print the function's response as JSON.")
@click.pass_obj
def invoke(app: App, as_json: bool) -> None:
    """Run the pipeline now (synchronously) and print its result and log tail.

    Exit code 1 when the run failed (bad input, timeout, crash).

    \b
    Examples:
      dataops invoke
      dataops --local invoke --json
    """
    outcome = _run_now(app, app.aws().client("lambda"), as_json=as_json)
    if outcome.failed:
        sys.exit(1)


def _run_now(app: App, client: Any, trigger: str = "manual", as_json: bool = False) -> Any:
    """Invoke synchronously (waiting out a scheduled run in flight) and print the outcome."""
    from dataops_cli.invoke import invoke_now, render_result

    def waiting() -> None:
        if not as_json:
            app.console.print("[dim]A run is already going (reserved concurrency 1): waiting for it to finish...[/]")

    wait = app.config.function.timeout_seconds + 10
    outcome = invoke_now(client, app.config.function.name, trigger=trigger, wait_seconds=wait, on_wait=waiting)
    if as_json:
        click.echo(json.dumps(outcome.as_dict(), indent=2, ensure_ascii=False))
    else:
        app.console.print(render_result(outcome))
    return outcome


@cli.command()
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
@click.option("--model", "model_only", is_flag=True, help="Use the per-row model only; read nothing from AWS.")
@click.option("--pricing-api", is_flag=True, help="Ask the AWS Price List API for prices (falls back to the table).")
@click.option("--json", "as_json", is_flag=True, help="Print the whole breakdown as one JSON document.")
@click.pass_obj
def cost(
    app: App,
    schedule: str | None,
    memory: int | None,
    architecture: str | None,
    rows: int | None,
    input_mb: float | None,
    retention_days: int | None,
    log_retention_days: str | None,
    model_only: bool,
    pricing_api: bool,
    as_json: bool,
) -> None:
    """Estimate the stack's monthly cost, one row per billed item.

    Duration, output size and log volume come from the deployed stack when it has run
    (last day's average duration, the latest run's files), else from the per-row model
    that bench/cost_model_bench.py measured, applied to bucket.input_file. The options
    ask "what if" without changing anything.

    \b
    Examples:
      dataops cost
      dataops cost --schedule 'rate(1 minute)' --memory 2048
      dataops cost --rows 1000000 --retention-days 7 --json
      dataops cost --pricing-api --region eu-west-1
    """
    from dataops_cli.cost_commands import estimate
    from dataops_cli.cost_inputs import WhatIf
    from dataops_cli.cost_view import render

    if schedule:
        try:
            parse_schedule(schedule)
        except ScheduleExpressionError as exc:
            raise click.BadParameter(f"{schedule!r}: expected {exc}", param_hint="--schedule") from None
    if rows is not None and input_mb is not None:
        raise click.UsageError("give --rows or --input-mb, not both")
    what_if = WhatIf(
        schedule=schedule,
        memory_mb=memory,
        architecture=architecture,
        rows=rows,
        input_mb=input_mb,
        retention_days=retention_days,
        log_retention_days=int(log_retention_days) if log_retention_days else None,
    )
    result = estimate(app, what_if, measure_stack=not model_only, pricing_api=pricing_api)
    if as_json:
        click.echo(result.to_json())
    else:
        app.console.print(render(result))
    app.report_calls()


def _print_estimate(app: App) -> None:
    """The monthly estimate of the stack `up` would create (model only: no extra API call)."""
    from dataops_cli.cost_commands import estimate
    from dataops_cli.cost_inputs import WhatIf
    from dataops_cli.cost_view import one_line, render

    try:
        result = estimate(app, WhatIf(), measure_stack=False, pricing_api=False)
    except (DataopsError, ValueError) as exc:
        app.console.print(f"\nMonthly estimate unavailable: {exc}")
        return
    app.console.print()
    app.console.print(render(result, title=f"Monthly estimate of this stack, {result.region}", detail=False))
    app.console.print(f"Estimate: {one_line(result)}. Details and what-ifs: [bold]dataops cost[/]")


@cli.command("config")
@click.pass_obj
def show_config(app: App) -> None:
    """Validate the config and print it with every derived resource name."""
    config = app.config
    rows = [
        ("config file", str(find_config_path(app.config_path) or "(built-in defaults)")),
        ("stack", f"{config.stack.name} in {config.region}"),
        ("bucket", f"s3://{config.bucket.name}/ input {config.bucket.input_key} <- {config.input_path}"),
        (
            "outputs",
            f"s3://{config.bucket.name}/{config.bucket.output_prefix} "
            f"(runs expire after {config.bucket.run_retention_days} days)",
        ),
        (
            "function",
            f"{config.function.name} {config.function.runtime} "
            f"{config.function.memory_mb} MB {config.function.timeout_seconds} s",
        ),
        (
            "layer",
            config.function.layer_arn
            or f"{config.function.layer_name} (resolved at deploy, SDK {config.function.layer_sdk_version})",
        ),
        ("execution role", config.execution_role),
        ("log group", f"{config.log_group} ({config.function.log_retention_days} days)"),
        (
            "schedule",
            f"{config.schedule_group}/{config.schedule_name}: {config.schedule.expression} {config.schedule.timezone}",
        ),
        ("scheduler role", config.scheduler_role),
        ("dashboard", config.dashboard.name),
        (
            "alarm",
            f"{config.alarm_name}" + (f" -> {config.alarm.email}" if config.alarm.email else "")
            if config.alarm.enabled
            else "disabled",
        ),
        (
            "data quality",
            f"{config.quality.history_runs} runs of history in {config.quality_history_key}; "
            f"on failure {config.quality.on_failure}"
            + (f"; alarm {config.quality_alarm_name}" if config.alarm.enabled else ""),
        ),
        ("tags", ", ".join(f"{k}={v}" for k, v in config.all_tags.items())),
    ]
    for key, value in rows:
        app.console.print(f"[bold]{key:>15}[/]  {value}", highlight=False)


def main() -> NoReturn:
    cli.main(prog_name="dataops")  # exits with the command's code
    sys.exit(0)


from dataops_cli.local.commands import demo, local_group  # noqa: E402 (registered after cli is defined)
from dataops_cli.runs_commands import runs_group  # noqa: E402

cli.add_command(local_group)
cli.add_command(demo)
cli.add_command(runs_group)
