"""Terminal output for up/down: a live rich view on a terminal, plain lines otherwise.

Both reporters print one line per finished step, so a CI log reads the same as a
terminal, just without the spinner and colours.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from contextlib import nullcontext

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from dataops_cli.resources.base import Action, Change, Resource
from dataops_cli.stack import Reporter

PAST = {
    Action.CREATE: "created",
    Action.UPDATE: "updated",
    Action.UNCHANGED: "unchanged",
    Action.SKIPPED: "skipped",
    Action.DELETE: "deleted",
    Action.ABSENT: "already gone",
    Action.REFUSED: "refused",
    Action.FAILED: "failed",
}
FUTURE = {
    Action.CREATE: "would create",
    Action.UPDATE: "would update",
    Action.DELETE: "will delete",
    Action.ABSENT: "already gone",
    Action.SKIPPED: "skipped",
}
STYLE = {
    Action.CREATE: "green",
    Action.UPDATE: "yellow",
    Action.UNCHANGED: "dim",
    Action.SKIPPED: "cyan",
    Action.DELETE: "red",
    Action.ABSENT: "dim",
    Action.REFUSED: "bold red",
    Action.FAILED: "bold red",
}


PIPE_WIDTH = 120


def make_console(stderr: bool = False) -> Console:
    """On a pipe (CI, tests, `| grep`), lines are never wrapped and tables get 120 columns."""
    console = Console(stderr=stderr, highlight=False)
    if not console.is_terminal:
        console.width = max(console.width, PIPE_WIDTH)
        console.soft_wrap = True
    return console


def outcome(change: Change, applied: bool) -> str:
    if applied or change.action in (Action.UNCHANGED, Action.REFUSED, Action.ABSENT, Action.SKIPPED):
        return PAST[change.action]
    return FUTURE.get(change.action, PAST[change.action])


def step_line(change: Change, applied: bool) -> str:
    details = f" ({'; '.join(change.details)})" if change.details else ""
    return f"{change.kind} {change.name}: {outcome(change, applied)}{details}"


class PlainReporter(Reporter):
    """One line per step; notes (retries, waits) as indented lines. For pipes, CI and tests."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self._prefix = ""

    def begin(self, index: int, total: int, resource: Resource) -> None:
        self._prefix = f"[{index}/{total}] "

    def note(self, message: str) -> None:
        self.console.print(f"      {message}", markup=False)

    def end(self, change: Change, applied: bool) -> None:
        self.console.print(self._prefix + step_line(change, applied), markup=False)


class LiveReporter(Reporter):
    """A spinner on the step in progress (with its latest note); finished steps scroll above."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.progress = Progress(
            SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console, transient=True
        )
        self._task = None
        self._label = ""

    def __enter__(self) -> LiveReporter:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def begin(self, index: int, total: int, resource: Resource) -> None:
        self._label = f"[{index}/{total}] {resource.kind} [bold]{resource.name}[/]"
        if self._task is None:
            self._task = self.progress.add_task(self._label)
        self.progress.update(self._task, description=self._label)

    def note(self, message: str) -> None:
        self.progress.update(self._task, description=f"{self._label} [dim]{message}[/]")

    def end(self, change: Change, applied: bool) -> None:
        style = STYLE[change.action]
        details = f" [dim]({'; '.join(change.details)})[/]" if change.details else ""
        self.progress.console.print(
            f"  [{style}]{outcome(change, applied):>12}[/]  {change.kind} [bold]{change.name}[/]{details}",
            highlight=False,
        )


def reporter_for(console: Console):
    """A context manager yielding the right reporter for this output."""
    if console.is_terminal and not console.is_dumb_terminal:
        return LiveReporter(console)
    return nullcontext(PlainReporter(console))


def summary_table(changes: Iterable[Change], applied: bool, title: str) -> Table:
    table = Table(title=title, title_justify="left", show_lines=False, expand=False)
    table.add_column("Resource")
    table.add_column("Name / ARN", overflow="fold")
    table.add_column("Result")
    for change in changes:
        done = applied and change.action in (Action.CREATE, Action.UPDATE, Action.DELETE)
        table.add_row(change.kind, change.name, f"[{STYLE[change.action]}]{outcome(change, done)}[/]")
    return table


def is_interactive() -> bool:
    return sys.stdin.isatty() and sys.stdout.isatty()
