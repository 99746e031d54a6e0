"""`dataops up` and `dataops down`: the input checks and the stack walk (deploy/), shown as they go."""

from __future__ import annotations

import click
from rich.markup import escape
from rich.text import Text

import dataops_cli.cli.exits as exits
from dataops_cli.cli.app import App
from dataops_cli.cli.cost import print_estimate
from dataops_cli.cli.errors import CliError, require_local_engine
from dataops_cli.cli.run import busy_error, run_now
from dataops_cli.cli.status import print_status, status_options
from dataops_cli.config import find_config_path
from dataops_cli.counts import counted
from dataops_cli.deploy import stack as stack_module
from dataops_cli.deploy.dashboard import console_url
from dataops_cli.deploy.input_check import InputVerdict, check_input_columns, inspect_input
from dataops_cli.deploy.next_run import next_run
from dataops_cli.deploy.resources.base import Action, Change, StackContext
from dataops_cli.engines.lambda_run import FunctionBusyError
from dataops_cli.ui import is_interactive, print_plan_calls, summary_table


@click.command()
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
    verdict = _check_input(app, force_input)
    app.reporter.step = "starting the local emulator" if app.local and not dry_run else "connecting"
    ctx = app.stack(start_emulator=not dry_run)
    app.reporter.step = "reading the stack (nothing changed yet)"
    mode = "Planning" if dry_run else "Deploying"
    app.console.print(f"{mode} stack [bold]{escape(app.config.stack.name)}[/] to {escape(app.where())}")
    _print_verdict(app, verdict)
    with app.reporter as reporter:
        changes = stack_module.up(ctx, reporter, dry_run=dry_run)
    if dry_run:
        _print_dry_run(app, changes)
    else:
        app.console.print(summary_table(changes, applied=True, title="Stack"))
        _print_after_up(app, ctx)
        if app.local:  # the first outputs within seconds: run once now, then show the KPIs
            _first_local_run(app, ctx)
    app.report_calls()


def _check_input(app: App, force_input: bool) -> InputVerdict:
    """Before anything starts or changes: the engine can run here, the input exists and the function would take it."""
    app.console.print(app.config_note(), highlight=False, soft_wrap=True)
    require_local_engine(app)  # before anything starts or is deployed
    app.config.check_input_file()  # a typo must not deploy old data
    check_input_columns(app.config, str(find_config_path(app.config_path) or "built-in defaults"))
    app.reporter.step = f"checking {app.config.input_path.name} with the function's reader"
    verdict = inspect_input(app.config)
    if verdict.rejection and not force_input:
        raise CliError(
            verdict.rejection,
            "fix the file (nothing was deployed or changed), or pass --force-input to upload it anyway: "
            f"every run would then fail with {verdict.error_type} until the input is fixed",
            exit_code=exits.USAGE,
        )
    return verdict


def _print_verdict(app: App, verdict: InputVerdict) -> None:
    if verdict.rejection:
        app.console.print(Text(f"⚠️  --force-input: uploading it anyway. {verdict.rejection}", style="yellow"))
    if verdict.zero_marker_warning:
        app.console.print(Text(f"⚠️  {verdict.zero_marker_warning}", style="yellow"))
    if verdict.checked_bytes is not None:
        head = f"{verdict.checked_bytes / 2**20:,.0f} MiB"
        note = f"Checked the input's first {head} with the function's reader (a large file)."
        app.console.print(Text(note, style="dim"))


def _print_dry_run(app: App, changes: list[Change]) -> None:
    pending = [c for c in changes if c.action in (Action.CREATE, Action.UPDATE, Action.DELETE)]
    app.console.print(
        f"\nDry run: {len(pending)} of {counted(len(changes), 'resource')} would change. "
        f"Run [bold]{app.command('up')}[/] to apply."
        if pending
        else "\nDry run: everything is up to date."
    )
    if app.verbose > 1:
        print_plan_calls(app.console, changes)
    print_estimate(app)


def _first_local_run(app: App, ctx: StackContext) -> None:
    """`up --local`'s one run after deploying, then the KPIs; exit 1 (saying why) if it failed or could not start."""
    runs = app.engine.runs
    app.console.print(f"\nRunning {runs} once now, as `{app.command('invoke')}` would:", markup=False)
    app.reporter.step = f"running {runs} once (the stack is deployed)"
    busy: CliError | None = None
    failure = None
    try:
        outcome = run_now(app, trigger="up")
        failure = None if not outcome.failed else outcome.error_summary
    except FunctionBusyError as exc:
        busy = busy_error(app, exc, first_run=True)
        app.console.print(Text(f"Not run: {exc}; the status follows.", style="yellow"))
    app.console.print()
    app.reporter.step = "reading the status (the stack is deployed)"
    print_status(app, ctx, status_options(app, "3h"))
    app.reporter.step = None
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
    config = app.config
    if not app.local:
        app.console.print(f"Dashboard: {console_url(config.region, config.dashboard.name)}")
    if not config.schedule.enabled:
        app.console.print("Schedule is DISABLED (schedule.enabled = false): no runs until you enable it.")
        return
    due = next_run(config, ctx.client("scheduler"), app.time_scale())
    if due is not None:
        speed = f", emulator at {due.scale:g}x speed" if due.scale != 1 else ""
        app.console.print(f"Next scheduled run: {due.due:%Y-%m-%d %H:%M:%S} UTC (in about {due.seconds:.0f} s{speed})")


@click.command()
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
    app.console.print(app.config_note(), highlight=False, soft_wrap=True)
    app.reporter.step = "checking what to remove"
    ctx = app.stack()
    app.console.print(f"Stack [bold]{app.config.stack.name}[/] in {app.where()}")
    planned = stack_module.plan_down(ctx, keep_data=keep_data)
    app.reporter.step = None
    changes = [change for _, change in planned]
    app.console.print(summary_table(changes, applied=False, title="Removal plan"))
    to_delete = [c for c in changes if c.action is Action.DELETE]
    if dry_run or not to_delete:
        _print_nothing_deleted(app, changes, to_delete, dry_run)
    else:
        _confirm(yes, len(to_delete))
        with app.reporter as reporter:
            outcomes = stack_module.down(planned, reporter, ctx)
        deleted = sum(1 for c in outcomes if c.action is Action.DELETE)
        gone = sum(1 for c in outcomes if c.action is Action.ABSENT)
        app.console.print(f"Deleted {counted(deleted, 'resource')}" + (f"; {gone} already gone." if gone else "."))
        fail_if_anything_remains(outcomes, app.command("down"))
    app.report_calls()


def _print_nothing_deleted(app: App, changes: list[Change], to_delete: list[Change], dry_run: bool) -> None:
    app.console.print(
        "Nothing to delete." if not to_delete else f"Dry run: {counted(len(to_delete), 'resource')} would be deleted."
    )
    if dry_run and app.verbose > 1:
        print_plan_calls(app.console, changes)
    fail_if_anything_remains(changes, app.command("down"))


def _confirm(yes: bool, count: int) -> None:
    if yes:
        return
    if not is_interactive():
        raise CliError("refusing to delete without confirmation on a non-interactive terminal", "pass --yes")
    if not click.confirm(f"Delete these {counted(count, 'resource')}?", default=False):
        raise CliError("cancelled: nothing was deleted", exit_code=exits.FAILED)


def fail_if_anything_remains(changes: list[Change], down_command: str = "dataops down") -> None:
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
            f"{counted(len(failed), 'resource')} of the stack remain: {names}{also}",
            f"fix the cause shown above and run `{down_command}` again: it removes what is left",
        )
    if refused:
        names = ", ".join(f"{c.kind} {c.name}" for c in refused)
        raise CliError(
            f"left alone because they are not this stack's: {names}",
            "delete them yourself if they are yours, or change the names in config.toml",
        )
