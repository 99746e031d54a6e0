"""`dataops invoke`, and the one run `up --local` starts: the engine runs, this module shows the wait."""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import click
from rich.console import Console
from rich.text import Text

import dataops_cli.cli.exits as exits
from dataops_cli.cli.app import App
from dataops_cli.cli.errors import CliError, require_local_engine
from dataops_cli.cli.options import json_option
from dataops_cli.engines.glue_run import TERMINAL_STATES
from dataops_cli.engines.lambda_run import FunctionBusyError
from dataops_cli.engines.run_view import render_outcome

BUSY_NOTE_EVERY_SECONDS = 15.0  # on a pipe, one "still waiting" line this often


class RunWatch:
    """What a manual run shows while it goes on: a polled run's states, or a busy function's wait.

    With --json these go to stderr (stdout is the JSON document only).
    """

    def __init__(self, app: App, as_json: bool) -> None:
        self.app, self.as_json = app, as_json
        self.note = Console(stderr=True, highlight=False) if as_json else app.console
        self.busy_lines = 0.0
        self.state = "STARTING"
        self.began = time.monotonic()
        polled = app.engine.traits.polled and app.local and not as_json
        self.progress = app.console.status("Glue job run: starting") if polled else None
        terminal = self.note.is_terminal and not self.note.is_dumb_terminal
        self.live = self.note.status("") if terminal and not app.engine.traits.polled else None

    def __enter__(self) -> RunWatch:
        if self.progress is not None:
            self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        for display in (self.progress, self.live):
            if display is not None:
                display.stop()

    def on_state(self, state: str) -> None:
        self.state = state
        if not self.as_json and state not in TERMINAL_STATES:  # the last line says how it ended
            self.app.console.print(f"[dim]Glue job run: {state}...[/]")

    def sleep(self, seconds: float) -> None:
        if self.progress is not None:
            self.progress.update(f"Glue job run: {self.state} ({time.monotonic() - self.began:.0f} s)")
        time.sleep(seconds)

    def on_wait(self, elapsed: float) -> None:
        """A run already going (likely a scheduled one) holds the function: say so once, then show the wait."""
        function = self.app.config.function
        wait = function.timeout_seconds + 10
        if not self.busy_lines:
            self.note.print(
                Text(
                    f"{function.name} is busy: a run already going (likely a scheduled one) holds {slots(self.app)}. "
                    f"Waiting up to {wait} s for it to end (Ctrl-C stops waiting; nothing is left half-done).",
                    style="dim",
                )
            )
            self.busy_lines = BUSY_NOTE_EVERY_SECONDS
            if self.live is not None:
                self.live.start()
        if self.live is not None:
            self.live.update(f"waiting for the running run to end: {elapsed:.0f} s of at most {wait} s")
        elif elapsed >= self.busy_lines:
            self.note.print(Text(f"  still waiting: {elapsed:.0f} s of at most {wait} s", style="dim"))
            self.busy_lines += BUSY_NOTE_EVERY_SECONDS


def run_now(app: App, trigger: str = "manual", as_json: bool = False, force: bool = False) -> Any:
    """One run on the config's engine, waited for and printed; a busy function is an error line here."""
    require_local_engine(app)
    watch = RunWatch(app, as_json)
    try:
        with watch:
            outcome = app.engine.run_now(app.aws(), app, trigger, watch, app.local, force=force)
    except FunctionBusyError as exc:
        if trigger == "up":
            raise  # `up` shows the status first, then says it
        raise busy_error(app, exc, first_run=False) from exc
    if watch.busy_lines:
        watch.note.print(Text("The slot is free: the run started.", style="dim"))
    if as_json:
        click.echo(json.dumps(outcome.as_dict(), indent=2, ensure_ascii=False))
    else:
        view = render_outcome(outcome, app.console.width, app.verbose > 0, app.command("logs"))
        app.console.print(view, highlight=False)
    return outcome


def slots(app: App) -> str:
    reserved = app.config.function.reserved_concurrency
    if reserved == 1:
        return "its only concurrency slot (function.reserved_concurrency = 1)"
    return f"all {reserved} of its reserved concurrency slots (function.reserved_concurrency)"


def busy_error(app: App, exc: Any, first_run: bool) -> CliError:
    """What a manual run against a busy function says instead of the raw throttle: what, and how to run anyway."""
    busy = f"{exc}: a run already going held {slots(app)}"
    return CliError(
        f"the stack is deployed, but its first run did not start: {busy}" if first_run else f"{busy}; nothing was run",
        f"the schedule keeps running it (see {app.command('runs')}); to run it by hand, run "
        f"{app.command('invoke')} again when the current run has ended, or give the schedule time between runs "
        "(a slower schedule.expression, or schedule.enabled = false, then up), or raise "
        "function.reserved_concurrency (runs may then overlap)",
    )


@click.command()
@json_option("Print the function's response as JSON.")
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
    if run_now(app, as_json=as_json, force=force).failed:
        sys.exit(exits.FAILED)
