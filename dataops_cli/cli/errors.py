"""Exception -> exit code, in one place: every command fails the same way.

Errors for the user (bad config: exit 2; AWS or input problems: exit 1) are printed as one
line plus a hint, with no traceback unless --debug. Ctrl-C exits 130, naming the step the
command's reporter had in flight (re-running `up` or `down` converges from any interrupted state).
"""

from __future__ import annotations

from typing import Any

import click
from botocore.exceptions import BotoCoreError, ClientError
from rich.text import Text

import dataops_cli.cli.exits as exits
from dataops_cli.aws import DataopsError, explain
from dataops_cli.cli.app import App
from dataops_cli.config import CONFIG_ENV, ConfigError, find_config_path
from dataops_cli.safe_text import printable
from dataops_cli.ui import make_console

INTERRUPT_HINT = "nothing is left that a re-run cannot finish: run the same command again (`up` and `down` converge)"


class CliError(click.ClickException):
    """One line, a hint, and the exit code the error deserves."""

    def __init__(self, message: str, hint: str | None = None, exit_code: int = exits.FAILED) -> None:
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
            raise CliError(interrupted_message(ctx.obj), INTERRUPT_HINT, exit_code=exits.INTERRUPTED) from None
        except ConfigError as exc:
            if debug():
                raise
            raise CliError(str(exc), config_hint(ctx.obj, str(exc)), exit_code=exits.USAGE) from exc
        except DataopsError as exc:
            if debug():
                raise
            raise CliError(str(exc), exc.hint, exit_code=exc.exit_code) from exc
        except (ClientError, BotoCoreError) as exc:
            if debug():
                raise
            error = explain(exc, ctx.invoked_subcommand or "dataops")
            raise CliError(str(error), error.hint) from exc


def interrupted_message(app: Any) -> str:
    """Names the step the command's reporter had in flight, if any."""
    step = app.reporter.step if isinstance(app, App) else None
    return f"interrupted (Ctrl-C) while {step}" if step else "interrupted (Ctrl-C)"


def config_hint(app: Any, message: str = "") -> str:
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


def require_local_engine(app: App) -> None:
    """A local run of an engine this machine cannot run (Glue: pyspark or Java missing): one line, exit 2."""
    problem = app.engine.local_problem() if app.local else None
    if problem is not None:
        raise CliError(problem, exit_code=exits.USAGE)
