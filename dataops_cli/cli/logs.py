"""`dataops logs`: the engine says where the lines are (engines/), observe/logtail reads and shapes them."""

from __future__ import annotations

import json
import sys
import time

import click
from rich.console import Console

import dataops_cli.cli.exits as exits
from dataops_cli.cli.app import App
from dataops_cli.cli.options import json_option, since_option, since_seconds
from dataops_cli.engines.base import LogSource
from dataops_cli.observe import logtail
from dataops_cli.observe.logs_view import pretty

FILTER_MAX_PAGES = 20  # `logs --filter` reads events unfiltered (CloudWatch patterns are case-sensitive)


@click.command()
@since_option("1h", "How far back: 10m, 1h, 2d ...")
@click.option(
    "--filter",
    "text",
    metavar="TEXT",
    help="Only lines containing TEXT, ignoring case (matched here, not by CloudWatch: see below).",
)
@click.option("--errors", is_flag=True, help="Only failed runs: one line each (❌ run errors, timeouts, crashes).")
@click.option("--follow", "-f", is_flag=True, help="Keep polling for new lines until Ctrl-C.")
@json_option("Raw events as JSON lines.")
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
    aws = app.aws()
    start_ms = int((time.time() - since_seconds(since)) * 1000)
    note = app.console if not as_json else Console(stderr=True, highlight=False)
    source = app.engine.log_source(aws, app, lambda warning: note.print(f"[yellow]{warning}[/]"))
    if not _wait_for(app, source, note, follow, interval):
        return
    if follow:
        note.print(f"[dim]Following {source.what} (new lines every {interval:g} s); Ctrl-C to stop.[/]")
    printer = _Printer(app, text, errors, as_json)
    truncated: list[int] = []
    follower = logtail.Follower(
        lambda from_ms: source.fetch(from_ms, FILTER_MAX_PAGES if text else None, lambda: truncated.append(from_ms)),
        start_ms,
    )
    try:
        for event in follower.poll():
            printer(event)
        if truncated:
            note.print(
                f"[yellow]Stopped after {FILTER_MAX_PAGES} pages of log events without reaching the end of the "
                "window: narrow --since to see the rest.[/]"
            )
        if not printer.shown:  # on stderr: stdout stays the events only (empty), for pipes and --json
            click.echo(logtail.nothing_shown(start_ms, errors, text) + (" yet" if follow else ""), err=True)
        if follow:
            logtail.follow(follower, printer, interval)
    except KeyboardInterrupt:
        sys.exit(exits.INTERRUPTED)  # stopping -f is the usual way out, so no error line: just the convention


def _wait_for(app: App, source: LogSource, note: Console, follow: bool, interval: float) -> bool:
    """False (said why) when there is nothing to read and no --follow; with it, wait for the source to exist."""
    while not source.exists():
        if not follow:
            app.console.print(source.missing)
            return False
        note.print(f"[dim]waiting for {source.what} to exist...[/]")
        time.sleep(interval)
    return True


class _Printer:
    """Prints the events that pass --errors and --filter, and counts them."""

    def __init__(self, app: App, text: str | None, errors: bool, as_json: bool) -> None:
        self.app, self.text, self.as_json = app, text, as_json
        self.error_lines = logtail.ErrorLines() if errors else None
        self.shown = 0

    def __call__(self, raw: dict) -> None:
        event = self.error_lines(raw) if self.error_lines is not None else raw  # sees every event: run context
        if event is None or not logtail.matches(event, self.text, False):
            return
        self.shown += 1
        if self.as_json:  # raw events: the runtime's line keeps its traceback here
            click.echo(json.dumps(raw, ensure_ascii=False))
        else:
            self.app.console.print(pretty(event), soft_wrap=True)
