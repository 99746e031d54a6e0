"""What every command shares, declared once: CONTEXT_SETTINGS, `--since`, `--json`, and the global options."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from dataops_cli.cli.app import App
from dataops_cli.timewindow import parse_since

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}
GLOBAL_OPTIONS_NOTE = (
    "Global options go before or after the command name (as in awscli): "
    "--local, --config PATH, --profile NAME, --region REGION, -v/-vv, --debug (see dataops --help)."
)


def since_option(default: str, help: str) -> Callable[[Any], Any]:
    """`--since SPAN` (30m, 3h, 1d, 2w): the text is kept (lines quote it); `since_seconds` reads it."""
    return click.option("--since", default=default, show_default=True, metavar="SPAN", help=help)


def since_seconds(text: str) -> int:
    """`--since`'s value in seconds, or click's usage error naming the option (exit 2)."""
    try:
        return parse_since(text)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--since") from None


def json_option(help: str) -> Callable[[Any], Any]:
    return click.option("--json", "as_json", is_flag=True, help=help)


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
