"""The `dataops` group: the global options, the App in `ctx.obj`, and every command registered once.

A command is parse -> one library call -> a view -> an exit code, in its own module of cli/;
exit codes are in exits.py, shared options in options.py, exception -> exit code in errors.py.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import NoReturn

import click

import dataops_cli.cli.exits as exits
from dataops_cli import __version__
from dataops_cli.cli.app import LOCAL_ENV, STATE_DIR_ENV, App, default_state_dir
from dataops_cli.cli.config import show_config
from dataops_cli.cli.cost import cost
from dataops_cli.cli.demo import demo
from dataops_cli.cli.deploy import down, up
from dataops_cli.cli.errors import DataopsGroup
from dataops_cli.cli.local import local_group
from dataops_cli.cli.logs import logs
from dataops_cli.cli.options import CONTEXT_SETTINGS, accept_global_options
from dataops_cli.cli.run import invoke
from dataops_cli.cli.runs import runs_group
from dataops_cli.cli.status import status


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
    if not isinstance(ctx.obj, App):  # a test may have put its own App (or a fake) there
        ctx.obj = App(config_path, profile, region, local, verbose, debug, state_dir=state_dir or default_state_dir())


def main() -> NoReturn:
    cli.main(prog_name="dataops")  # exits with the command's code
    sys.exit(exits.OK)


for _command in (up, down, status, logs, invoke, cost, show_config, local_group, demo, runs_group):
    cli.add_command(_command)
for _command in cli.commands.values():
    accept_global_options(_command)
