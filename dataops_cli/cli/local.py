"""`dataops local start|stop|status`: thin click commands over local/process and local/state.

The state directory comes from the global `--state-dir` option (or DATAOPS_STATE_DIR)
on `App`; nothing here reads the environment.
"""

from __future__ import annotations

import json
import shlex
import time
from datetime import UTC, datetime
from typing import Any

import click

import dataops_cli.cli.exits as exits
from dataops_cli.aws import DataopsError
from dataops_cli.cli.app import App
from dataops_cli.cli.options import CONTEXT_SETTINGS, json_option
from dataops_cli.counts import counted
from dataops_cli.local import process
from dataops_cli.local.credentials import read_owner_credentials
from dataops_cli.local.state import find_emulator, live_state


@click.group("local", context_settings=CONTEXT_SETTINGS)
def local_group() -> None:
    """Run an AWS emulator on this machine: no account, no Docker, schedules included.

    The emulator is moto's server on 127.0.0.1 plus what moto lacks: it really runs
    the deployed Lambda zip (in execution environments kept warm between runs, as
    Lambda keeps them, with its environment, timeout and memory size), fires
    EventBridge Scheduler schedules, and writes the logs and metrics AWS would.
    Any command takes --local (or DATAOPS_LOCAL=1) to use it.

    \b
    A session:
      dataops local start --speed 60   # schedules run 60x faster
      dataops --local up               # deploy, then run the pipeline once
      dataops --local status           # KPIs of the runs so far
      dataops --local down --yes
      dataops local stop

    It answers only requests signed with its own random credentials (awscli and
    boto3: eval "$(dataops local env)"); see docs/SECURITY.md.
    State (pid, port, speed, token, credentials, log) lives in ./.dataops/ (--state-dir or
    DATAOPS_STATE_DIR moves it); it must be yours and writable by you only.
    Everything deployed to the emulator is in memory and goes away when it stops.
    """


@local_group.command("start")
@click.option("--port", type=click.IntRange(0, 65535), default=0, help="Port on 127.0.0.1 [default: a free one].")
@click.option(
    "--speed",
    type=click.FloatRange(min=0, min_open=True),
    default=1.0,
    show_default=True,
    help="Run schedules N times faster than real time (60: rate(2 minutes) fires every 2 s).",
)
@click.option(
    "--keep-alive",
    type=click.FloatRange(min=0),
    default=None,
    metavar="SECONDS",
    help="How long an idle execution environment stays warm, compressed by --speed "
    "[default: 600, within the 5-60 minutes Lambda is observed to keep one; 0: every run starts cold].",
)
@click.pass_obj
def start(app: App, port: int, speed: float, keep_alive: float | None) -> None:
    """Start the emulator in the background; returns once it answers.

    Only the time between scheduled runs is compressed by --speed; timestamps in
    logs and metrics stay real wall-clock times, and `status` scales the number of
    runs it expects by the speed. A function's runs reuse its warm execution
    environment (no Init Duration, cold_start false) until the code or settings
    change, a run fails hard (timeout, memory, crash) or it idles past --keep-alive.

    \b
    Examples:
      dataops local start
      dataops local start --speed 60 --port 4566
    """
    directory = app.state_dir
    running, stale = live_state(directory)
    if stale:
        click.echo("Removed a stale state file (the emulator that wrote it is gone).")
    if running is not None:
        if (port and port != running.port) or speed != running.speed:
            raise DataopsError(
                f"the local emulator already runs at {running.endpoint} at speed {running.speed:g}x",
                "stop it first to change the port or speed: dataops local stop",
            )
        click.echo(f"The local emulator already runs at {running.endpoint} (pid {running.pid}).")
        return
    region = app.config.region
    began = time.monotonic()
    state = process.start(directory, port=port, speed=speed, region=region, keep_alive=keep_alive)
    click.echo(f"Local emulator running at {state.endpoint}, ready in {time.monotonic() - began:.1f} s.")
    click.echo(f"pid {state.pid}, speed {state.speed:g}x; it runs until `dataops local stop`.")
    click.echo(f"Log: {state.log}")
    click.echo("Next: dataops --local up")


@local_group.command("stop")
@click.pass_obj
def stop(app: App) -> None:
    """Stop the emulator (and any function run still going); its state is discarded.

    \b
    Example:
      dataops local stop
    """
    state, stale = process.stop(app.state_dir)
    if state is not None:
        click.echo(f"Stopped the local emulator (pid {state.pid}, {state.endpoint}).")
    elif stale:
        click.echo("The local emulator was not running; removed its stale state file.")
    else:
        click.echo("The local emulator is not running.")


@local_group.command("status")
@json_option("Print one JSON object instead of text.")
@click.pass_context
def status(ctx: click.Context, as_json: bool) -> None:
    """Say whether the emulator runs, where, since when, and at what speed.

    Exits with code 1 when it is not running, so scripts can test for it.

    \b
    Examples:
      dataops local status
      dataops local status --json | jq .endpoint
    """
    found = find_emulator(ctx.find_object(App).state_dir)
    state, stale, health = found.state, found.stale, found.health
    if as_json:
        document: dict[str, Any] = {"running": state is not None, "stale_state_removed": stale}
        if state is not None:
            document.update(
                pid=state.pid,
                endpoint=state.endpoint,
                speed=state.speed,
                started=_iso(state.started),
                answering=health is not None,
                instance=(health or {}).get("instance"),
                log=state.log,
                functions=(health or {}).get("functions", {}),
            )
        click.echo(json.dumps(document, indent=2))
    elif state is None:
        click.echo("The local emulator is not running" + (" (removed a stale state file)." if stale else "."))
        click.echo("Start it with: dataops local start")
    else:
        click.echo(f"Running at {state.endpoint} (pid {state.pid})")
        click.echo(f"Since: {_iso(state.started)} ({_ago(state.started)})")
        click.echo(
            f"Speed: {state.speed:g}x"
            + (f" (scheduled runs come {state.speed:g} times faster than real time)" if state.speed != 1 else "")
        )
        click.echo(f"Log: {state.log}")
        for name, counts in sorted((health or {}).get("functions", {}).items()):
            click.echo(
                f"{name}: {counted(counts['invocations'], 'run')}, {counted(counts['errors'], 'error')}, "
                f"{counted(counts['throttles'], 'throttle')}"
            )
    if state is None:
        ctx.exit(exits.FAILED)


@local_group.command("env")
@json_option("Print one JSON object instead of shell lines.")
@click.pass_context
def env(ctx: click.Context, as_json: bool) -> None:
    """Print the settings that point awscli and boto3 at the running emulator.

    The emulator answers only requests signed with its own credentials (random per
    instance, kept in the state directory, readable by you only). The output unsets a
    profile or session token that would override them. Exits with code 1 when the
    emulator is not running.

    \b
    Examples:
      eval "$(dataops local env)"; aws s3 ls
      dataops local env --json | jq -r .AWS_ENDPOINT_URL
    """
    app = ctx.find_object(App)
    state, _ = live_state(app.state_dir)
    keys = read_owner_credentials(app.state_dir) if state is not None else None
    if state is None or keys is None:
        why = "is not running" if state is None else "runs, but its credentials file cannot be read"
        click.echo(f"The local emulator {why}.", err=True)
        click.echo("Start it with: dataops local start", err=True)
        ctx.exit(exits.FAILED)
    settings = {
        "AWS_ENDPOINT_URL": state.endpoint,
        "AWS_ACCESS_KEY_ID": keys[0],
        "AWS_SECRET_ACCESS_KEY": keys[1],
        "AWS_DEFAULT_REGION": app.config.region,
    }
    if as_json:
        click.echo(json.dumps(settings, indent=2))
        return
    click.echo("unset AWS_PROFILE AWS_SESSION_TOKEN AWS_SECURITY_TOKEN")
    for name, value in settings.items():
        click.echo(f"export {name}={shlex.quote(value)}")


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _ago(epoch: float) -> str:
    seconds = int(max(0, time.time() - epoch))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return "up " + (f"{hours}h {minutes}m" if hours else f"{minutes}m {seconds}s" if minutes else f"{seconds}s")
