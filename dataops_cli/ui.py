"""Terminal output for up/down: a live rich view on a terminal, plain lines otherwise.

Both reporters print one line per finished step, so a CI log reads the same as a
terminal, just without the spinner and colours.
"""

from __future__ import annotations

import os
import sys
import textwrap
from collections.abc import Iterable
from typing import TextIO

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from dataops_cli.deploy.resources.base import Action, Change, Resource
from dataops_cli.deploy.stack import Reporter

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
NOTE_INDENT = " " * 6


def make_console(stderr: bool = False) -> Console:
    """On a pipe (CI, tests, `| less`), output is laid out for $COLUMNS, else 120 columns, and
    kept within that width; log lines and up/down's step lines are printed whole (one record
    per line, for grep)."""
    console = Console(stderr=stderr, highlight=False)
    if not console.is_terminal:
        console.width = pipe_width()
        console.file = RstripWriter(sys.stderr if stderr else sys.stdout)
    return console


class RstripWriter:
    """Drops the spaces rich pads lines with (table titles, grids, panels side by side): on a pipe
    they only make diffs and `wc -L` noisy. Whole lines are written; a partial one waits for flush."""

    def __init__(self, file: TextIO) -> None:
        self._file = file
        self._pending = ""

    def write(self, text: str) -> int:
        self._pending += text
        *lines, self._pending = self._pending.split("\n")
        if lines:
            self._file.write("".join(line.rstrip(" ") + "\n" for line in lines))
        return len(text)

    def flush(self) -> None:
        if self._pending:
            self._file.write(self._pending)
            self._pending = ""
        self._file.flush()

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        return self._file.fileno()

    @property
    def encoding(self) -> str:
        return getattr(self._file, "encoding", None) or "utf-8"


def pipe_width() -> int:
    columns = os.environ.get("COLUMNS", "")
    return int(columns) if columns.isdigit() and int(columns) >= 40 else PIPE_WIDTH


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
        # notes are not records (the step line after them is): wrapped within the width, indented
        # under the step ("waiting up to 300 s for ..." was 90 columns at 80)
        width = max(20, self.console.width - len(NOTE_INDENT))
        for line in textwrap.wrap(message, width, break_on_hyphens=False) or [""]:
            self.console.print(NOTE_INDENT + line, markup=False, highlight=False, soft_wrap=True)

    def end(self, change: Change, applied: bool) -> None:
        # one whole line per step, never wrapped: a CI log is grepped like a log
        self.console.print(self._prefix + step_line(change, applied), markup=False, soft_wrap=True)


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


def reporter_for(console: Console) -> Reporter:
    """The right reporter for this output (a context manager: `with` shows the live one)."""
    if console.is_terminal and not console.is_dumb_terminal:
        return LiveReporter(console)
    return PlainReporter(console)


def summary_table(changes: Iterable[Change], applied: bool, title: str) -> Table:
    table = Table(title=title, title_justify="left", show_lines=False, expand=False)
    table.add_column("Resource")
    table.add_column("Name / ARN", overflow="fold")
    table.add_column("Result")
    changes = list(changes)
    # objects are shown by key under their bucket's row: s3://<bucket>/<key> would not fit 80 columns
    bucket = next((f"s3://{c.name}/" for c in changes if c.kind == "S3 bucket"), None)
    for change in changes:
        done = applied and change.action in (Action.CREATE, Action.UPDATE, Action.DELETE)
        name = change.name.removeprefix(bucket) if bucket else change.name
        table.add_row(change.kind, name, f"[{STYLE[change.action]}]{outcome(change, done)}[/]")
    return table


def print_plan_calls(console: Console, changes: Iterable[Change], verb: str = "would make") -> None:
    """`-vv` on a dry run: every AWS call the plan holds, in order, with its parameters."""
    steps = [step for change in changes for step in change.steps]
    console.print(f"[dim]API calls it {verb}: {len(steps)}[/]")
    for change in changes:
        for step in change.steps:
            console.print(f"  {step.render()}", style="dim", markup=False, highlight=False, soft_wrap=True)


def key_values(rows: Iterable[tuple[str, str]], width: int, right: bool = False) -> Text:
    """`key  value` lines, values wrapped under themselves within `width`, no trailing spaces
    (a rich grid pads every cell to its column's width)."""
    rows = list(rows)
    key_width = max((len(k) for k, _ in rows), default=0)
    lead = " " * (key_width + 2)
    text = Text()
    for number, (key, value) in enumerate(rows):
        if number:
            text.append("\n")
        text.append(key.rjust(key_width) if right else key.ljust(key_width), style="bold")
        lines = textwrap.wrap(value, max(20, width - len(lead)), break_on_hyphens=False) or [""]
        if lines[0]:
            text.append("  " + lines[0])
        for line in lines[1:]:
            text.append("\n" + lead + line)
    text.rstrip()
    return text


def is_interactive() -> bool:
    return sys.stdin.isatty() and sys.stdout.isatty()
