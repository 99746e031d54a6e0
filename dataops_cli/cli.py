"""The `dataops` command line: thin click commands over the library modules.

Errors for the user (bad config: exit 2; AWS or input problems: exit 1) are printed as
one line plus a hint, with no traceback unless --debug. Ctrl-C exits 130, naming the step
that was in flight (re-running `up` or `down` converges from any interrupted state).
"""

from __future__ import annotations

import json
import os
import sys
import time
from contextlib import suppress
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

import click
from botocore.exceptions import BotoCoreError, ClientError
from rich.console import Console
from rich.markup import escape
from rich.text import Text

from dataops_cli import __version__
from dataops_cli.app import LOCAL_ENV, STATE_DIR_ENV, App, default_state_dir
from dataops_cli.aws import DataopsError, error_code, explain
from dataops_cli.cli_local import local_group
from dataops_cli.config import (
    CONFIG_ENV,
    LOG_RETENTION_DAYS,
    Config,
    ConfigError,
    find_config_path,
)
from dataops_cli.counts import counted
from dataops_cli.demo import demo
from dataops_cli.resources.base import Action, StackContext
from dataops_cli.runs_commands import runs_group
from dataops_cli.safe_text import data_text, printable
from dataops_cli.schedule_expr import Rate, ScheduleExpressionError, parse_schedule
from dataops_cli.timewindow import parse_since
from dataops_cli.ui import is_interactive, key_values, make_console, print_plan_calls, reporter_for, summary_table

EXIT_INTERRUPTED = 130
INTERRUPT_HINT = "nothing is left that a re-run cannot finish: run the same command again (`up` and `down` converge)"
MAX_RECENT_RUNS = 100
CONFIG_SECTIONS = ("stack", "bucket", "function", "glue", "schedule", "dashboard", "alarm", "pipeline", "quality")
FILTER_MAX_PAGES = 20  # `logs --filter` reads events unfiltered (CloudWatch patterns are case-sensitive)
LOCAL_RUNTIME_NOTE = (
    "local mode: runs execute on this machine's Python {python}, not the configured runtime {runtime} "
    "(the emulator's Lambda runner uses this interpreter and its pandas/numpy/pyarrow)"
)
LOCAL_GLUE_NOTE = (
    "local mode: Glue job runs execute on this machine's Python {python} with local pyspark (local[*]), "
    "not on Glue {glue_version} workers ({workers} x {worker_type}): DPU sizing is not emulated"
)
CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class CliError(click.ClickException):
    """One line, a hint, and the exit code the error deserves."""

    def __init__(self, message: str, hint: str | None = None, exit_code: int = 1) -> None:
        super().__init__(message)
        self.hint = hint
        self.exit_code = exit_code

    def show(self, file: Any = None) -> None:
        err = make_console(stderr=True)
        # Text, not markup: messages quote config sections such as [pipeline] and data (column names);
        # wrapped at the terminal's width (on a pipe $COLUMNS, else 120), as all output is
        err.print(Text.assemble(("error:", "bold red"), " ", printable(self.message)))
        if self.hint:
            err.print(Text.assemble(("hint:", "yellow"), " ", printable(self.hint)))


class DataopsGroup(click.Group):
    """Maps library errors to CliError so every command fails the same way."""

    def invoke(self, ctx: click.Context) -> Any:
        def debug() -> bool:  # --debug may come after the subcommand: read it once parsing is done
            return bool(ctx.obj.debug if isinstance(ctx.obj, App) else ctx.params.get("debug"))

        try:
            return super().invoke(ctx)
        except (KeyboardInterrupt, click.exceptions.Abort):  # Abort: Ctrl-C at a click prompt
            if debug():
                raise
            raise CliError(interrupted_message(), INTERRUPT_HINT, exit_code=EXIT_INTERRUPTED) from None
        except ConfigError as exc:
            if debug():
                raise
            raise CliError(str(exc), _config_hint(ctx.obj, str(exc)), exit_code=2) from exc
        except DataopsError as exc:
            if debug():
                raise
            raise CliError(str(exc), exc.hint, exit_code=exc.exit_code) from exc
        except (ClientError, BotoCoreError) as exc:
            if debug():
                raise
            error = explain(exc, ctx.invoked_subcommand or "dataops")
            raise CliError(str(error), error.hint) from exc


def interrupted_message() -> str:
    from dataops_cli.stack import in_flight

    return f"interrupted (Ctrl-C) while {in_flight.step}" if in_flight.step else "interrupted (Ctrl-C)"


def _config_hint(app: Any, message: str = "") -> str:
    """Name the file actually read (not always ./config.toml); with none, say how to give one."""
    path = find_config_path(app.config_path) if isinstance(app, App) else None
    if path is None and message.startswith("--"):  # an option's value (--region): the option is the fix
        return f"check the value given to {message.split(':', 1)[0]}"
    if path is None:
        return (
            f"no config file was found (--config, ${CONFIG_ENV}, ./config.toml), so built-in defaults apply: "
            "create config.toml or pass --config PATH"
        )
    if not path.is_file():
        return f"check the path given to --config or ${CONFIG_ENV} ({path} is not a file)"
    return f"fix {path} (every key is documented in the repository's config.toml)"


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
@click.option(
    "--state-dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar=STATE_DIR_ENV,
    metavar="DIR",
    help=f"Where the local emulator keeps its pid, port and log [default: ${STATE_DIR_ENV}, else ./.dataops].",
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
    state_dir: Path | None,
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
    of AWS: no account, no Docker, scheduled runs included. The options below
    go before or after its name (dataops --local up, or dataops up --local).
    """
    ctx.obj = App(config_path, profile, region, local, verbose, debug, state_dir=state_dir or default_state_dir())


@cli.command()
@click.option("--dry-run", is_flag=True, help="Show what would be created/updated; change nothing.")
@click.option(
    "--force-input",
    is_flag=True,
    help="Upload bucket.input_file even if the function would reject it (every run then fails until it is fixed).",
)
@click.pass_obj
def up(app: App, dry_run: bool, force_input: bool) -> None:
    """Create or update every resource of the pipeline.

    First checks that bucket.input_file exists, that its header has every
    column list in [pipeline] (all mismatches at once), and that the function
    would accept it: the handler's own reader and pipeline run on the file, and
    an input every run would fail on (empty, header only, not UTF-8, ragged
    rows, ...) is refused with its file and line, exit 2, nothing changed;
    --force-input uploads it anyway. Safe to run
    again: a resource that already matches the config is left alone (on AWS, a
    second `up` with nothing changed makes no changing API call; see -v).
    An interrupted or failed `up` leaves nothing a plain `up` cannot finish: an
    empty, untagged bucket of the configured name that a half-finished `up` left
    is adopted (and said so); a function that ended Failed is re-created.

    With --local, `up` starts the emulator if needed, deploys to it, then runs the
    pipeline once (one Invoke: a new run each time; with function.engine = "glue",
    one Glue job run on local pyspark, waited for) and prints the KPIs.

    \b
    Exit codes:
      0  deployed (with --local: and the first run succeeded)
      1  an AWS or input error (the line says which resource and why), or the
         first local run failed or could not start (a run already going held
         the function the whole wait); also "another `up` seems to be in
         progress"
      2  bad config or option, e.g. bucket.input_file does not exist or the
         function would reject it; with --local and engine "glue": pyspark
         or Java missing (nothing deployed)
      130 interrupted (Ctrl-C): run `dataops up` again, it converges

    \b
    Examples:
      dataops up --dry-run
      dataops --config prod.toml up -v
      dataops up --local
    """
    from dataops_cli import stack as stack_module
    from dataops_cli.input_check import check_input_columns, inspect_input

    app.console.print(app.config_note(), highlight=False, soft_wrap=True)
    if app.local and app.config.function.engine == "glue":
        _require_local_spark()  # before anything starts or is deployed
    app.config.check_input_file()  # before anything starts or changes: a typo must not deploy old data
    check_input_columns(app.config, str(find_config_path(app.config_path) or "built-in defaults"))
    stack_module.in_flight.step = f"checking {app.config.input_path.name} with the function's reader"
    verdict = inspect_input(app.config)
    if verdict.rejection and not force_input:
        raise CliError(
            verdict.rejection,
            "fix the file (nothing was deployed or changed), or pass --force-input to upload it anyway: "
            f"every run would then fail with {verdict.error_type} until the input is fixed",
            exit_code=2,
        )
    stack_module.in_flight.step = "starting the local emulator" if app.local and not dry_run else "connecting"
    ctx = app.stack(start_emulator=not dry_run)
    stack_module.in_flight.step = "reading the stack (nothing changed yet)"
    mode = "Planning" if dry_run else "Deploying"
    app.console.print(f"{mode} stack [bold]{escape(app.config.stack.name)}[/] to {escape(app.where())}")
    if verdict.rejection:
        app.console.print(Text(f"⚠️  --force-input: uploading it anyway. {verdict.rejection}", style="yellow"))
    if verdict.zero_marker_warning:
        app.console.print(Text(f"⚠️  {verdict.zero_marker_warning}", style="yellow"))
    if verdict.checked_bytes is not None:
        head = f"{verdict.checked_bytes / 2**20:,.0f} MiB"
        note = f"Checked the input's first {head} with the function's reader (a large file)."
        app.console.print(Text(note, style="dim"))
    with reporter_for(app.console) as reporter:
        changes = stack_module.up(ctx, reporter, dry_run=dry_run)
    pending = [c for c in changes if c.action in (Action.CREATE, Action.UPDATE, Action.DELETE)]
    if dry_run:
        app.console.print(
            f"\nDry run: {len(pending)} of {plural(len(changes), 'resource')} would change. "
            f"Run [bold]{app.command('up')}[/] to apply."
            if pending
            else "\nDry run: everything is up to date."
        )
        if app.verbose > 1:
            print_plan_calls(app.console, changes)
        _print_estimate(app)
    else:
        app.console.print(summary_table(changes, applied=True, title="Stack"))
        _print_after_up(app, ctx)
        if app.local:  # the first outputs within seconds: run once now, then show the KPIs
            _first_local_run(app, ctx)
    app.report_calls()


def _first_local_run(app: App, ctx: StackContext) -> None:
    """`up --local`'s one run after deploying, then the KPIs; exit 1 (saying why) if it failed or could not start."""
    from dataops_cli import stack as stack_module
    from dataops_cli.invoke import FunctionBusyError

    glue = app.config.function.engine == "glue"
    runs = f"Glue job {app.config.glue_job}" if glue else app.config.function.name
    app.console.print(f"\nRunning {runs} once now, as `{app.command('invoke')}` would:", markup=False)
    stack_module.in_flight.step = f"running {runs} once (the stack is deployed)"
    busy: CliError | None = None
    failure = None
    if glue:
        glue_outcome = _run_glue_now(app, as_json=False, trigger="up")
        failure = None if not glue_outcome.failed else f"Glue job run {glue_outcome.state}"
    else:
        try:
            outcome = _run_now(app, ctx.client("lambda"), trigger="up")
            failure = None if not outcome.failed else outcome.error_summary
        except FunctionBusyError as exc:
            busy = _busy_error(app, exc, first_run=True)
            app.console.print(Text(f"Not run: {exc}; the status follows.", style="yellow"))
    app.console.print()
    stack_module.in_flight.step = "reading the status (the stack is deployed)"
    _print_status(app, ctx, _status_options(app, "3h"))
    stack_module.in_flight.step = None
    if busy is not None:
        app.report_calls()
        raise busy
    if failure is not None:
        app.report_calls()
        raise CliError(
            f"the stack is deployed but its first run failed: {failure}",
            f"see the run above ({app.command('logs --errors')}); fix the input or config and run "
            f"{app.command('up')} again",
        )


def _print_after_up(app: App, ctx: StackContext) -> None:
    from dataops_cli.dashboard import console_url

    config = app.config
    if not app.local:
        app.console.print(f"Dashboard: {console_url(config.region, config.dashboard.name)}")
    if not config.schedule.enabled:
        app.console.print("Schedule is DISABLED (schedule.enabled = false): no runs until you enable it.")
        return
    schedule = config.schedule.parsed
    found = ctx.client("scheduler").get_schedule(Name=config.schedule_name, GroupName=config.schedule_group)
    now = datetime.now(UTC)
    scale = app.time_scale()
    if isinstance(schedule, Rate):  # the emulator fires `scale` times as often
        due = schedule.scaled(scale).next_after(now, found["CreationDate"].astimezone(UTC))
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
    On partial failure it goes on: every resource is tried (newest first), a
    failed read or delete is shown with AWS's reason and the rest still goes;
    only what must outlive a failed removal is kept (the log group while its
    function remains). Run `dataops down` again to finish.

    \b
    Exit codes:
      0  nothing of the stack remains (or --keep-data kept only the bucket)
      1  something remains: a failed read or delete, or a refused resource
      2  bad config or option; 130 interrupted (run it again: it converges)

    \b
    Examples:
      dataops down                # shows the list, asks before deleting
      dataops down --yes --keep-data
    """
    from dataops_cli import stack as stack_module

    app.console.print(app.config_note(), highlight=False, soft_wrap=True)
    stack_module.in_flight.step = "checking what to remove"
    ctx = app.stack()
    app.console.print(f"Stack [bold]{app.config.stack.name}[/] in {app.where()}")
    planned = stack_module.plan_down(ctx, keep_data=keep_data)
    stack_module.in_flight.step = None
    changes = [change for _, change in planned]
    app.console.print(summary_table(changes, applied=False, title="Removal plan"))
    to_delete = [c for c in changes if c.action is Action.DELETE]
    if dry_run or not to_delete:
        app.console.print(
            "Nothing to delete."
            if not to_delete
            else f"Dry run: {plural(len(to_delete), 'resource')} would be deleted."
        )
        if dry_run and app.verbose > 1:
            print_plan_calls(app.console, changes)
        _fail_if_anything_remains(changes, app.command("down"))
        app.report_calls()
        return
    if not yes:
        if not is_interactive():
            raise CliError("refusing to delete without confirmation on a non-interactive terminal", "pass --yes")
        if not click.confirm(f"Delete these {plural(len(to_delete), 'resource')}?", default=False):
            raise CliError("cancelled: nothing was deleted", exit_code=1)
    with reporter_for(app.console) as reporter:
        outcomes = stack_module.down(planned, reporter, ctx)
    deleted = sum(1 for c in outcomes if c.action is Action.DELETE)
    gone = sum(1 for c in outcomes if c.action is Action.ABSENT)
    app.console.print(f"Deleted {plural(deleted, 'resource')}" + (f"; {gone} already gone." if gone else "."))
    _fail_if_anything_remains(outcomes, app.command("down"))
    app.report_calls()


def plural(n: int, noun: str) -> str:
    return counted(n, noun)


def _fail_if_anything_remains(changes: list, down_command: str = "dataops down") -> None:
    """Exit 1 while anything of the stack (or a same-named stranger) is left, saying what and why."""
    failed = [c for c in changes if c.action is Action.FAILED]
    refused = [c for c in changes if c.action is Action.REFUSED]
    for change in failed:
        click.echo(f"failed: {change.kind} {change.name}: {'; '.join(change.details)}", err=True)
    if failed:
        names = ", ".join(f"{c.kind} {c.name}" for c in failed)
        also = (
            "; also left alone because they are not this stack's: " + ", ".join(f"{c.kind} {c.name}" for c in refused)
            if refused
            else ""
        )
        raise CliError(
            f"{plural(len(failed), 'resource')} of the stack remain: {names}{also}",
            f"fix the cause shown above and run `{down_command}` again: it removes what is left",
        )
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
    from dataops_cli.status_view import render

    options = _status_options(app, since, runs)
    if not as_json:
        app.console.print(app.config_note(), highlight=False, soft_wrap=True)
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
    report.config_file = str(find_config_path(app.config_path) or "")
    if app.local and app.config.function.engine == "glue":
        glue = app.config.glue
        report.notes.append(
            LOCAL_GLUE_NOTE.format(
                python=_python_version(),
                glue_version=glue.glue_version,
                workers=glue.number_of_workers,
                worker_type=glue.worker_type,
            )
        )
    elif app.local:
        report.notes.append(LOCAL_RUNTIME_NOTE.format(runtime=app.config.function.runtime, python=_python_version()))
    return report


def _print_status(app: App, ctx: StackContext, options: Any) -> Any:
    from dataops_cli.status_view import render

    report = _collect_status(app, ctx, options)
    app.console.print(render(report))
    return report


def _python_version() -> str:
    return ".".join(str(part) for part in sys.version_info[:3])


def _since(text: str) -> int:
    try:
        return parse_since(text)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--since") from None


@cli.command()
@click.option("--since", default="1h", show_default=True, metavar="SPAN", help="How far back: 10m, 1h, 2d ...")
@click.option(
    "--filter",
    "text",
    metavar="TEXT",
    help="Only lines containing TEXT, ignoring case (matched here, not by CloudWatch: see below).",
)
@click.option("--errors", is_flag=True, help="Only failed runs: one line each (❌ run errors, timeouts, crashes).")
@click.option("--follow", "-f", is_flag=True, help="Keep polling for new lines until Ctrl-C.")
@click.option("--json", "as_json", is_flag=True, help="Raw events as JSON lines.")
@click.option("--interval", default=2.0, show_default=True, help="Seconds between polls with --follow.")
@click.pass_obj
def logs(app: App, since: str, text: str | None, errors: bool, follow: bool, as_json: bool, interval: float) -> None:
    """Print the function's log lines, structured lines pretty-printed.

    With function.engine = "glue", the lines of the Glue job's runs: the streams named
    after its run ids (GetJobRuns) in /aws-glue/jobs/output and /aws-glue/jobs/error,
    which every Glue job of the account shares.

    CloudWatch's own filter patterns are case-sensitive, so --filter reads every
    event of the window and matches TEXT here, ignoring case; it stops after
    20 pages of events (up to 200,000 lines) and says so: narrow --since then.
    Lines are printed whole (never wrapped), one event per line, for grep.

    \b
    Examples:
      dataops logs --since 30m
      dataops logs --errors --since 1d
      dataops logs -f --filter "files saved"
      dataops logs --json | jq -r .message
    """
    from dataops_cli import logtail

    config = app.config
    client = app.aws().client("logs")
    start_ms = int((time.time() - _since(since)) * 1000)
    truncated: list[int] = []
    note = app.console if not as_json else Console(stderr=True, highlight=False)
    glue = config.function.engine == "glue"
    source = _glue_log_source(app, client, note) if glue else _function_log_source(app, client)

    def fetch(from_ms: int):
        return source.fetch(from_ms, FILTER_MAX_PAGES if text else None, lambda: truncated.append(from_ms))

    error_lines = logtail.ErrorLines() if errors else None
    shown = [0]

    def emit(raw: dict) -> None:
        event = error_lines(raw) if error_lines is not None else raw  # sees every event: run context
        if event is None or not logtail.matches(event, text, False):
            return
        shown[0] += 1
        if as_json:  # raw events: the runtime's line keeps its traceback here
            click.echo(json.dumps(raw, ensure_ascii=False))
        else:
            app.console.print(logtail.pretty(event), soft_wrap=True)

    while not source.exists():
        if not follow:
            app.console.print(source.missing)
            return
        note.print(f"[dim]waiting for {source.what} to exist...[/]")
        time.sleep(interval)
    if follow:
        note.print(f"[dim]Following {source.what} (new lines every {interval:g} s); Ctrl-C to stop.[/]")
    follower = logtail.Follower(fetch, start_ms)
    try:
        for event in follower.poll():
            emit(event)
        if truncated:
            note.print(
                f"[yellow]Stopped after {FILTER_MAX_PAGES} pages of log events without reaching the end of the "
                "window: narrow --since to see the rest.[/]"
            )
        if not shown[0]:  # on stderr: stdout stays the events only (empty), for pipes and --json
            click.echo(logtail.nothing_shown(start_ms, errors, text) + (" yet" if follow else ""), err=True)
        if follow:
            logtail.follow(follower, emit, interval)
    except KeyboardInterrupt:
        sys.exit(EXIT_INTERRUPTED)  # stopping -f is the usual way out, so no error line: just the convention


class _LogSource:
    """Where `logs` reads: the function's log group, or the Glue job's runs' streams."""

    def __init__(self, what: str, missing: str, exists: Any, fetch: Any) -> None:
        self.what, self.missing, self.exists, self.fetch = what, missing, exists, fetch


def _function_log_source(app: App, client: Any) -> _LogSource:
    from dataops_cli import runlog_reader

    group = app.config.log_group
    return _LogSource(
        group,
        f"No log group {group} yet: the function is not deployed or has not run ({app.command('up')} creates it).",
        lambda: runlog_reader.log_group_exists(client, group),
        lambda from_ms, max_pages, truncated: runlog_reader.filter_events(
            client, group, from_ms, max_pages=max_pages, on_truncated=truncated
        ),
    )


def _glue_log_source(app: App, client: Any, note: Console) -> _LogSource:
    """engine glue: only the streams of this job's runs (GetJobRuns) in Glue's shared groups."""
    from dataops_cli import glue_logs
    from dataops_cli.aws import read_or_none

    job = app.config.glue_job
    glue = app.aws().client("glue")
    if read_or_none(glue.get_job, JobName=job) is None:
        hint = f"deploy the stack first: {app.command('up')}"
        raise CliError(f"Glue job {job} does not exist in {app.where()}", hint)
    groups = " and ".join(glue_logs.GLUE_LOG_GROUPS)
    skipped: list[int] = []

    def fetch(from_ms: int, max_pages: int | None, truncated: Any) -> Any:
        runs = glue_logs.run_ids(glue, job, from_ms)
        if len(runs) > glue_logs.MAX_RUNS and not skipped:  # said once (the first read covers the window)
            skipped.append(len(runs))
            note.print(
                f"[yellow]Reading the newest {glue_logs.MAX_RUNS} of {len(runs)} runs of Glue job {job} in the "
                "window (one read per run and log group): narrow --since to see older runs.[/]"
            )
        newest = runs[: glue_logs.MAX_RUNS]
        return glue_logs.events(client, newest, from_ms, max_pages=max_pages, on_truncated=truncated)

    return _LogSource(
        f"the runs of Glue job {job} in {groups}",
        f"No Glue log group yet ({groups}): no Glue job has run in this account and region "
        f"({app.command('invoke')} starts a run).",
        lambda: bool(glue_logs.existing_groups(client)),
        fetch,
    )


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print the function's response as JSON.")
@click.option("--force", is_flag=True, help="Run in full even when the input is unchanged (pipeline.skip_unchanged).")
@click.pass_obj
def invoke(app: App, as_json: bool, force: bool) -> None:
    """Run the pipeline now (synchronously) and print its result and log tail.

    With function.engine = "glue": starts a Glue job run and waits for it to end
    (with --local, on local pyspark; pyspark or Java missing is exit code 2).
    Exit code 1 when the run failed (bad input, timeout, crash).

    \b
    Examples:
      dataops invoke
      dataops --local invoke --json
    """
    if app.config.function.engine == "glue":
        glue_outcome = _run_glue_now(app, as_json)
        if glue_outcome.failed:
            sys.exit(1)
        return
    outcome = _run_now(app, app.aws().client("lambda"), as_json=as_json, force=force)
    if outcome.failed:
        sys.exit(1)


def _require_local_spark() -> None:
    """Local Glue runs need pyspark and Java on this machine: one line naming what is missing (exit 2)."""
    from dataops_cli.local.spark_check import local_glue_problem

    problem = local_glue_problem()
    if problem is not None:
        raise CliError(problem, exit_code=2)


LOCAL_GLUE_POLL_SECONDS = 1.0  # the emulator answers GetJobRun at once; a local Spark run takes tens of seconds


def _run_glue_now(app: App, as_json: bool, trigger: str = "manual") -> Any:
    """StartJobRun on the Glue job and wait for it (bounded by the job's timeout plus start-up).

    In local mode the emulator runs the job with local pyspark: the wait polls every second
    and shows the elapsed time, since Spark takes tens of seconds even for a small file.
    """
    from dataops_cli.glue_run import POLL_SECONDS, STARTUP_SECONDS, TERMINAL_STATES, start_and_wait

    config = app.config
    if app.local:
        _require_local_spark()
    progress = app.console.status("Glue job run: starting") if app.local and not as_json else None
    began = time.monotonic()
    current = {"state": "STARTING"}

    def said(state: str) -> None:
        current["state"] = state
        if not as_json and state not in TERMINAL_STATES:  # the last line says how it ended
            app.console.print(f"[dim]Glue job run: {state}...[/]")

    def sleep(seconds: float) -> None:
        if progress is not None:
            progress.update(f"Glue job run: {current['state']} ({time.monotonic() - began:.0f} s)")
        time.sleep(seconds)

    try:
        if progress is not None:
            progress.start()
        outcome = start_and_wait(
            app.aws().client("glue"),
            config.glue_job,
            trigger=trigger,
            wait_seconds=config.glue.timeout_minutes * 60 + STARTUP_SECONDS,
            poll_seconds=LOCAL_GLUE_POLL_SECONDS if app.local else POLL_SECONDS,
            on_state=said,
            sleep=sleep,
        )
    except ClientError as exc:
        code = error_code(exc)
        if code == "EntityNotFoundException":
            raise CliError(
                f"Glue job {config.glue_job} does not exist in {app.where()}",
                f"deploy the stack first: {app.command('up')}",
            ) from exc
        if code == "ConcurrentRunsExceededException":
            raise CliError(
                f"a run of Glue job {config.glue_job} is already going "
                f"(max concurrent runs {config.glue.max_concurrent_runs})",
                f"wait for it: aws glue get-job-runs --job-name {config.glue_job} --max-items 1",
            ) from exc
        raise
    finally:
        if progress is not None:
            progress.stop()
    if as_json:
        click.echo(json.dumps(outcome.as_dict(), indent=2, ensure_ascii=False))
    else:
        app.console.print(data_text(outcome.line()), highlight=False)  # Glue's ErrorMessage is the data's words
    return outcome


BUSY_NOTE_EVERY_SECONDS = 15.0  # on a pipe, one "still waiting" line this often


def _run_now(app: App, client: Any, trigger: str = "manual", as_json: bool = False, force: bool = False) -> Any:
    """Invoke synchronously and print the outcome.

    A run already going (a scheduled one, under reserved concurrency 1) is waited for: one
    line says what is happening and for how long at most, a live line (a terminal) or a line
    every 15 s (a pipe) shows the wait. With --json these go to stderr. Past the bound,
    FunctionBusyError (the caller says what to do).
    """
    from dataops_cli.invoke import FunctionBusyError, invoke_now, render_result

    note = Console(stderr=True, highlight=False) if as_json else app.console
    wait = app.config.function.timeout_seconds + 10
    name = app.config.function.name
    slots = _slots(app)
    live = note.status("") if note.is_terminal and not note.is_dumb_terminal else None
    said = {"lines": 0.0}

    def waiting(elapsed: float) -> None:
        if not said["lines"]:
            note.print(
                Text(
                    f"{name} is busy: a run already going (likely a scheduled one) holds {slots}. "
                    f"Waiting up to {wait} s for it to end (Ctrl-C stops waiting; nothing is left half-done).",
                    style="dim",
                )
            )
            said["lines"] = BUSY_NOTE_EVERY_SECONDS
            if live is not None:
                live.start()
        if live is not None:
            live.update(f"waiting for the running run to end: {elapsed:.0f} s of at most {wait} s")
        elif elapsed >= said["lines"]:
            note.print(Text(f"  still waiting: {elapsed:.0f} s of at most {wait} s", style="dim"))
            said["lines"] += BUSY_NOTE_EVERY_SECONDS

    try:
        outcome = invoke_now(client, name, trigger=trigger, wait_seconds=wait, on_wait=waiting, force=force)
    except ClientError as exc:
        if error_code(exc) != "ResourceNotFoundException":
            raise
        raise CliError(
            f"function {name} does not exist in {app.where()}",
            f"deploy the stack first: {app.command('up')}",
        ) from exc
    except FunctionBusyError as exc:
        if trigger == "up":
            raise  # `up` shows the status first, then says it
        raise _busy_error(app, exc, first_run=False) from exc
    finally:
        if live is not None:
            live.stop()
    if said["lines"]:
        note.print(Text("The slot is free: the run started.", style="dim"))
    if as_json:
        click.echo(json.dumps(outcome.as_dict(), indent=2, ensure_ascii=False))
    else:
        app.console.print(
            render_result(outcome, app.console.width, verbose=app.verbose > 0, logs_command=app.command("logs"))
        )
    return outcome


def _slots(app: App) -> str:
    reserved = app.config.function.reserved_concurrency
    if reserved == 1:
        return "its only concurrency slot (function.reserved_concurrency = 1)"
    return f"all {reserved} of its reserved concurrency slots (function.reserved_concurrency)"


def _busy_error(app: App, exc: Any, first_run: bool) -> CliError:
    """What a manual run against a busy function says instead of the raw throttle: what, and how to run anyway."""
    busy = f"{exc}: a run already going held {_slots(app)}"
    return CliError(
        f"the stack is deployed, but its first run did not start: {busy}" if first_run else f"{busy}; nothing was run",
        f"the schedule keeps running it (see {app.command('runs')}); to run it by hand, run "
        f"{app.command('invoke')} again when the current run has ended, or give the schedule time between runs "
        "(a slower schedule.expression, or schedule.enabled = false, then up), or raise "
        "function.reserved_concurrency (runs may then overlap)",
    )


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
@click.option("--engine", type=click.Choice(["lambda", "glue"]), help="What if function.engine were this.")
@click.option(
    "--workers", type=click.IntRange(min=2), metavar="N", help="What if the Glue job had N workers (at least 2)."
)
@click.option(
    "--worker-type", type=click.Choice(["G.1X", "G.2X", "G.4X", "G.8X"]), help="What if the Glue job used this worker."
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
    engine: str | None,
    workers: int | None,
    worker_type: str | None,
    model_only: bool,
    pricing_api: bool,
    as_json: bool,
) -> None:
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

    \b
    Examples:
      dataops cost
      dataops cost --schedule 'rate(1 minute)' --memory 2048
      dataops cost --rows 1000000 --retention-days 7 --json
      dataops cost --pricing-api --region eu-west-1
      dataops cost --engine glue --workers 10 --rows 50000000
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
        engine=engine,
        glue_workers=workers,
        glue_worker_type=worker_type,
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
    app.console.print(f"Estimate: {one_line(result)}. Details and what-ifs: [bold]{app.command('cost')}[/]")


@cli.command("config")
@click.option("--json", "as_json", is_flag=True, help="Print every setting and derived name as one JSON document.")
@click.pass_obj
def show_config(app: App, as_json: bool) -> None:
    """Validate the config and print every effective setting with every derived resource name.

    Effective = the file's values over the built-in defaults (and --region over stack.region).

    \b
    Examples:
      dataops config
      dataops --config prod.toml config --json | jq .settings.pipeline
    """
    config = app.config
    path = find_config_path(app.config_path)
    if as_json:
        click.echo(json.dumps(effective_config(config, path), indent=2, ensure_ascii=False))
        return
    app.console.print(app.config_note(), highlight=False, soft_wrap=True)
    schedule, function, alarm, pipeline = config.schedule, config.function, config.alarm, config.pipeline
    rows = [
        ("stack", f"{config.stack.name} in {config.region}"),
        ("bucket", f"s3://{config.bucket.name}/ input {config.bucket.input_key} <- {config.input_path}"),
        (
            "outputs",
            f"s3://{config.bucket.name}/{config.bucket.output_prefix} "
            f"(runs expire after {config.bucket.run_retention_days} days)",
        ),
        ("engine", function.engine),
        *(_glue_rows(config) if function.engine == "glue" else _lambda_rows(config)),
        (
            "schedule",
            f"{config.schedule_group}/{config.schedule_name}: {schedule.expression} {schedule.timezone}, "
            + ("enabled" if schedule.enabled else "DISABLED")
            + f", retries {schedule.retry_attempts}, max event age {schedule.max_event_age_seconds} s, "
            + (
                f"flexible window {schedule.flexible_window_minutes} min"
                if schedule.flexible_window_minutes
                else "flexible window off"
            ),
        ),
        ("scheduler role", config.scheduler_role),
        ("dashboard", config.dashboard.name),
        (
            "alarm",
            f"{config.alarm_name} -> "
            + (f"email {alarm.email} via SNS topic {config.alarm_topic}" if alarm.email else "no email (alarm.email)")
            if alarm.enabled
            else "disabled",
        ),
        ("zero as missing", ", ".join(pipeline.zero_as_missing) or "(none)"),
        ("impute", pipeline.impute_strategy),
        ("normalize", f"{pipeline.normalize_method}, except {', '.join(pipeline.normalize_exclude) or '(none)'}"),
        (
            "data quality",
            f"{config.quality.history_runs} runs of history in {config.quality_history_key}; "
            f"on failure {config.quality.on_failure}"
            + (f"; alarm {config.quality_alarm_name}" if config.alarm.enabled else ""),
        ),
        ("tags", ", ".join(f"{k}={v}" for k, v in config.all_tags.items())),
    ]
    app.console.print(key_values(rows, app.console.width, right=True), highlight=False)


def _lambda_rows(config: Config) -> list[tuple[str, str]]:
    function = config.function
    return [
        (
            "function",
            f"{function.name} {function.runtime} {function.architecture} {function.memory_mb} MB "
            f"{function.timeout_seconds} s, reserved concurrency {function.reserved_concurrency}, "
            f"async retries {function.async_max_retry_attempts}, "
            f"async max event age {function.async_max_event_age_seconds} s",
        ),
        (
            "layer",
            function.layer_arn or f"{function.layer_name} (resolved at deploy, SDK {function.layer_sdk_version})",
        ),
        ("execution role", config.execution_role),
        ("log group", f"{config.log_group} ({function.log_retention_days} days)"),
    ]


def _glue_rows(config: Config) -> list[tuple[str, str]]:
    glue = config.glue
    return [
        (
            "glue job",
            f"{config.glue_job} Glue {glue.glue_version} {glue.number_of_workers} x {glue.worker_type}, "
            f"timeout {glue.timeout_minutes} min, max concurrent runs {glue.max_concurrent_runs}",
        ),
        ("glue script", f"s3://{config.bucket.name}/{config.glue_script_key} (+ {config.glue_modules_key})"),
        ("glue role", config.glue_role),
        ("glue run rules", f"{config.glue_failed_rule}, {config.glue_succeeded_rule} (EventBridge, default bus)"),
    ]


def effective_config(config: Config, path: Any) -> dict[str, Any]:
    """Every setting (sections as in config.toml) and every name derived from them."""
    settings = {
        name: {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(getattr(config, name)).items()}
        for name in CONFIG_SECTIONS
    }
    return {
        "config_file": str(path) if path else None,
        "settings": {**settings, "tags": dict(config.tags)},
        "derived": {
            "input_path": str(config.input_path),
            "log_group": config.log_group,
            "execution_role": config.execution_role,
            "scheduler_role": config.scheduler_role,
            "glue_job": config.glue_job,
            "glue_role": config.glue_role,
            "glue_failed_rule": config.glue_failed_rule,
            "glue_succeeded_rule": config.glue_succeeded_rule,
            "glue_script_key": config.glue_script_key,
            "glue_modules_key": config.glue_modules_key,
            "schedule_group": config.schedule_group,
            "schedule_name": config.schedule_name,
            "alarm_name": config.alarm_name,
            "alarm_topic": config.alarm_topic,
            "quality_alarm_name": config.quality_alarm_name,
            "quality_history_key": config.quality_history_key,
            "runs_prefix": config.runs_prefix,
            "latest_key": config.latest_key,
            "tags": config.all_tags,
            "function_environment": config.handler_environment(),
        },
    }


GLOBAL_OPTIONS_NOTE = (
    "Global options go before or after the command name (as in awscli): "
    "--local, --config PATH, --profile NAME, --region REGION, -v/-vv, --debug (see dataops --help)."
)


def _set_global(ctx: click.Context, param: click.Parameter, value: Any) -> None:
    """A global option given after the subcommand overrides the one given before it."""
    app = ctx.find_object(App)
    if app is None or value in (None, False, 0):
        return
    if param.name == "verbose":
        app.verbose += value
    else:
        setattr(app, param.name or "", value)


def _global_options() -> list[click.Option]:
    """The group's options again, for a subcommand (shown there in one epilog line, not repeated)."""
    common: dict[str, Any] = {"expose_value": False, "callback": _set_global, "hidden": True}
    return [
        click.Option(["--config", "config_path"], metavar="PATH", default=None, **common),
        click.Option(["--profile"], metavar="NAME", default=None, **common),
        click.Option(["--region"], metavar="REGION", default=None, **common),
        click.Option(["--local"], is_flag=True, default=False, **common),
        click.Option(["--state-dir", "state_dir"], type=click.Path(file_okay=False, path_type=Path), **common),
        click.Option(["-v", "--verbose"], count=True, **common),
        click.Option(["--debug"], is_flag=True, default=False, **common),
    ]


def accept_global_options(command: click.Command) -> None:
    """`dataops up --local` as well as `dataops --local up`, for every (sub)command."""
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            accept_global_options(sub)
        return
    taken = {opt for param in command.params for opt in getattr(param, "opts", [])}
    command.params.extend(o for o in _global_options() if not taken & set(o.opts))
    command.epilog = f"{command.epilog}\n\n{GLOBAL_OPTIONS_NOTE}" if command.epilog else GLOBAL_OPTIONS_NOTE


def main() -> NoReturn:
    cli.main(prog_name="dataops")  # exits with the command's code
    sys.exit(0)


cli.add_command(local_group)
cli.add_command(demo)
cli.add_command(runs_group)
for _command in cli.commands.values():
    accept_global_options(_command)
