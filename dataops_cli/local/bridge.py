"""What `--local` changes in the CLI: clients aimed at the emulator, and its documented gaps.

`local_aws` returns an `Aws` whose every client goes to http://127.0.0.1:<port> with the
emulator's own owner credentials (read from the state directory; so no branch of local mode
can reach AWS), starting the emulator first if asked. `local_stack_context` makes the
pandas layer resolve to the emulator's stand-in and names what the emulator cannot do
(`gaps`), so those steps say "skipped" and why.
`time_scale` tells `status` how much faster than real time scheduled runs come.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

from dataops_cli.aws import Aws, DataopsError
from dataops_cli.config import Config
from dataops_cli.deploy.pandas_layer import expected_layer_name
from dataops_cli.deploy.resources.base import StackContext
from dataops_cli.local import process
from dataops_cli.local.credentials import owner_credentials
from dataops_cli.local.stand_in_layer import publish_stand_in_layer
from dataops_cli.local.state import live_state

NOT_RUNNING_HINT = "start it with: dataops local start   (dataops --local up starts it for you)"
GAPS = {
    "tls_policy": (
        "the emulator cannot evaluate aws:SecureTransport (moto treats the condition as always met "
        "and would deny every object request)"
    ),
    "percentiles": "moto crashes on percentile statistics; p99 comes from REPORT log lines",
}


def local_aws(config: Config, directory: Path, start: bool = False, say: Callable[[str], object] | None = None) -> Aws:
    """Clients for the emulator whose state is in `directory`; with `start`, launch it first if it is not running."""
    state, stale = live_state(directory)
    if state is None and not start:
        why = " (removed its stale state file: it named no emulator serving this directory)" if stale else ""
        raise DataopsError(f"the local emulator is not running{why}", NOT_RUNNING_HINT)
    if state is None:
        state, started = process.ensure_running(directory, region=config.region)
        if started and say is not None:
            say(
                f"Started the local emulator at {state.endpoint} (pid {state.pid}, real-time schedules; "
                "`dataops local start --speed 60` compresses time). Stop it with `dataops local stop`."
            )
    return Aws(region=config.region, endpoint_url=state.endpoint, credentials=owner_credentials(directory))


def local_stack_context(config: Config, aws: Aws) -> StackContext:
    """A StackContext for the emulator: stand-in pandas layer, and the gaps it cannot bridge."""
    if not aws.local:
        raise DataopsError("internal error: a local stack context needs the emulator's endpoint")
    if config.function.layer_arn:  # a pinned AWS layer ARN cannot resolve in the emulator's account
        config = dataclasses.replace(config, function=dataclasses.replace(config.function, layer_arn=""))
    return StackContext(config=config, aws=aws, layer_resolver=stand_in_layer_arn, gaps=dict(GAPS))


def stand_in_layer_arn(ctx: StackContext) -> str:
    """The latest version of the stand-in layer, publishing one if the emulator has none (e.g. after a reset)."""
    if not ctx.aws.local:
        raise DataopsError("internal error: the stand-in layer exists only in the local emulator")
    name = expected_layer_name(ctx.config.function.layer_name, ctx.config.function.architecture)
    lam = ctx.client("lambda")
    versions = lam.list_layer_versions(LayerName=name).get("LayerVersions", [])
    if versions:
        return max(versions, key=lambda v: v["Version"])["LayerVersionArn"]
    return publish_stand_in_layer(lam, name)


def time_scale(directory: Path) -> float:
    """How many times faster than real time the running emulator fires schedules (1.0 if none runs).

    `status` multiplies the number of runs it expects in a window by this: at speed 60, a
    rate(2 minutes) schedule runs 30 times in 2 minutes of wall-clock time. Timestamps in
    logs and metrics are always real wall-clock times.
    """
    state, _ = live_state(directory)
    return state.speed if state is not None else 1.0
