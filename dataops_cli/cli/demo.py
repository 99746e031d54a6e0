"""`dataops demo`: up, compressed-time scheduled runs, KPIs, outputs, down, on a private emulator.

The demo drives the real commands (`up`, `status`, `down`) in-process, each with explicit
`--local --state-dir <its own temporary directory>` arguments, against an emulator of its
own (free port), so it shows exactly what a user would see and cannot disturb an
emulator the user runs. It reaches the commands through click's root context, so this
module never imports `cli/root.py` (which imports it).
"""

from __future__ import annotations

import json
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from dataops_cli.aws import Aws, DataopsError, read_or_none
from dataops_cli.cli.app import App
from dataops_cli.cli.options import CONTEXT_SETTINGS
from dataops_cli.config import Config, find_config_path, load_config
from dataops_cli.counts import count
from dataops_cli.local import process
from dataops_cli.local.credentials import owner_credentials
from dataops_cli.safe_text import data_text
from dataops_cli.schedule_expr import Rate
from dataops_cli.starter.project import write_project
from handler import contract

TARGET_INTERVAL_SECONDS = 2.0
STEPS = 7


def auto_speed(config: Config) -> float:
    """A speed at which the schedule fires about every 2 s (60x for cron/at expressions)."""
    schedule = config.schedule.parsed
    if isinstance(schedule, Rate):
        return max(1.0, schedule.seconds / TARGET_INTERVAL_SECONDS)
    return 60.0


def metric_sum(aws: Aws, namespace: str, name: str, dimension: tuple[str, str], since: datetime) -> float:
    """Sum of a metric since `since`, over 1-minute periods (what moto computes correctly)."""
    response = aws.client("cloudwatch").get_metric_statistics(
        Namespace=namespace,
        MetricName=name,
        Dimensions=[{"Name": dimension[0], "Value": dimension[1]}],
        StartTime=since - timedelta(minutes=1),
        EndTime=datetime.now(UTC) + timedelta(minutes=1),
        Period=60,
        Statistics=["Sum"],
    )
    return sum(point["Sum"] for point in response.get("Datapoints", []))


def run_demo(app: App, cli: click.Command, speed: float | None, runs: int, timeout: float) -> None:
    """Run the story; `cli` is the root `dataops` command, whose subcommands it calls."""
    console: Console = app.console
    with tempfile.TemporaryDirectory(prefix="dataops-demo-") as tmp:
        config_path, config = demo_config(app, Path(tmp))
        if not config.schedule.enabled:
            raise DataopsError("the demo needs the schedule on", "set schedule.enabled = true in config.toml")
        if config_path != app.config_path:
            console.print(f"No config file here: the demo runs the packaged sample ({config_path}).", markup=False)
        _run_story(app, cli, config_path, config, speed or auto_speed(config), runs, timeout, tmp)


def demo_config(app: App, state_dir: Path) -> tuple[str | None, Config]:
    """The config the demo deploys, and the --config to give its commands (None: they find it as
    every command does). With no config file at all, a project `dataops init` would write, with
    the packaged sample, in the demo's private state directory: it runs from any folder."""
    if find_config_path(app.config_path) is not None:
        return app.config_path, app.config
    project = write_project(state_dir / "project")
    config = load_config(project.config_path)
    return str(project.config_path), config.with_region(app.region) if app.region else config


def _run_story(
    app: App,
    cli: click.Command,
    config_path: str | None,
    config: Config,
    speed: float,
    runs: int,
    timeout: float,
    tmp: str,
) -> None:
    """Steps 1-7 with the emulator's state in `tmp`; the emulator is stopped whatever happens."""
    console: Console = app.console
    began = time.monotonic()

    def step(number: int, text: str) -> None:
        console.rule(f"[bold]{number}/{STEPS}[/] {text}  [dim]({time.monotonic() - began:.1f} s)[/]")

    def dataops(state_dir: str, *args: str, ok: tuple[int, ...] = (0,)) -> None:
        """Run a real command in-process; commands that end with sys.exit (status) are fine too."""
        options = ["--local", "--state-dir", state_dir, *(["--config", config_path] if config_path else [])]
        if app.region:
            options += ["--region", app.region]
        try:
            code = cli.main(args=[*options, *args], prog_name="dataops", standalone_mode=False)
        except SystemExit as exc:
            code = 1 if isinstance(exc.code, str) else exc.code
        code = code if isinstance(code, int) else 0  # None: finished normally
        if code not in ok:
            raise DataopsError(f"`dataops --local {' '.join(args)}` exited with code {code}", "see its output above")

    step(1, f"Starting a private emulator (schedules at {speed:g}x)")
    state = process.start(Path(tmp), speed=speed, region=config.region)
    console.print(f"Emulator at {state.endpoint} (pid {state.pid}); state in {tmp}")
    try:
        since = datetime.now(UTC)
        step(2, "dataops --local up")
        dataops(tmp, "up")
        aws = Aws(region=config.region, endpoint_url=state.endpoint, credentials=owner_credentials(Path(tmp)))
        step(3, f"Waiting for {runs} scheduled runs ({config.schedule.expression} at {speed:g}x)")
        _wait_for_runs(aws, config, console, since, runs, timeout)
        step(4, "A new input arrives: the next scheduled run processes it")
        _change_input_and_wait(aws, config, console, timeout)
        step(5, "KPIs")
        dataops(tmp, "status", ok=(0, 3))  # 3: failing runs, which the KPIs then show
        step(6, f"Outputs in s3://{config.bucket.name}/{config.bucket.output_prefix}")
        _print_outputs(aws, config, console)
        step(7, "dataops --local down --yes")
        dataops(tmp, "down", "--yes")
    finally:
        process.stop(Path(tmp))
    packaged = config_path is not None and Path(config_path).is_relative_to(tmp)  # no config file of the user's
    start = "dataops init; " if packaged else ""
    console.print(
        f"\n[bold green]Demo done in {time.monotonic() - began:.1f} s.[/] The emulator is stopped; nothing is left. "
        f"Your turn: {start}dataops local start --speed 60; dataops --local up"
    )


@click.command(context_settings=CONTEXT_SETTINGS)
@click.option(
    "--speed",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Time compression [default: the schedule fires every 2 s].",
)
@click.option("--runs", type=click.IntRange(1, 50), default=3, show_default=True, help="Scheduled runs to wait for.")
@click.option("--timeout", type=click.FloatRange(min=1), default=45.0, show_default=True, help="Seconds to wait.")
@click.pass_obj
def demo(app: App, speed: float | None, runs: int, timeout: float) -> None:
    """The whole story in under a minute, on a private emulator: nothing is left behind.

    Starts an emulator in a temporary state directory on a free port, deploys the
    stack (`up`), lets the schedule fire several times with time compressed
    (they find the input unchanged and skip), replaces the input with itself
    minus its last row and waits for the next run to process it, shows the KPIs,
    lists the outputs in S3, removes everything (`down --yes`) and stops the
    emulator. An emulator you started yourself is not touched.

    \b
    Examples:
      dataops demo
      dataops --config my.toml demo --runs 5
    """
    run_demo(app, click.get_current_context().find_root().command, speed=speed, runs=runs, timeout=timeout)


def _wait_for_runs(aws: Aws, config: Config, console: Console, since: datetime, runs: int, timeout: float) -> None:
    """Wait (polling CloudWatch, as status would) until `runs` scheduled runs have finished."""
    function = ("FunctionName", config.function.name)
    emf = (contract.METRIC_DIMENSION, config.function.name)
    deadline = time.monotonic() + timeout
    seen = 0
    with console.status("waiting for the schedule to fire ...") as spinner:
        while True:
            finished = int(metric_sum(aws, "AWS/Lambda", "Invocations", function, since)) - 1  # minus up's own run
            if finished > seen:
                errors = int(metric_sum(aws, "AWS/Lambda", "Errors", function, since))
                skipped = int(metric_sum(aws, contract.METRICS_NAMESPACE, contract.M_RUNS_SKIPPED, emf, since))
                for number in range(seen + 1, min(finished, runs) + 1):
                    console.print(
                        f"  scheduled run {number} finished (skipped, input unchanged: {skipped}; errors: {errors})"
                    )
                seen = finished
                spinner.update(f"{seen}/{runs} scheduled runs finished ...")
            if seen >= runs:
                return
            if time.monotonic() > deadline:
                raise DataopsError(
                    f"only {seen} of {runs} scheduled runs finished within {timeout:g} s",
                    "try a higher --speed or --timeout",
                )
            time.sleep(0.25)


def _change_input_and_wait(aws: Aws, config: Config, console: Console, timeout: float) -> None:
    """Replace the input with itself minus its last row, then wait for a scheduled run to publish it:
    the runs before found the input unchanged and skipped (pipeline.skip_unchanged)."""
    s3, bucket, key = aws.client("s3"), config.bucket.name, config.bucket.input_key
    published = _published_run(s3, config)
    lines = s3.get_object(Bucket=bucket, Key=key)["Body"].read().rstrip(b"\n").split(b"\n")
    if len(lines) < 3:
        console.print(f"  s3://{bucket}/{key} has a single row: left as it is")
        return
    s3.put_object(Bucket=bucket, Key=key, Body=b"\n".join(lines[:-1]) + b"\n")
    console.print(f"  s3://{bucket}/{key} replaced: {count(len(lines) - 2)} rows (was {count(len(lines) - 1)})")
    deadline = time.monotonic() + timeout
    with console.status("waiting for a scheduled run to process it ..."):
        while (latest := _published_run(s3, config)) == published:
            if time.monotonic() > deadline:
                raise DataopsError(
                    f"no scheduled run published the changed input within {timeout:g} s",
                    "try a higher --speed or --timeout",
                )
            time.sleep(0.25)
    console.print(f"  scheduled run {latest} processed it and published its outputs (latest.json)")


def _published_run(s3: Any, config: Config) -> str | None:
    found = read_or_none(s3.get_object, Bucket=config.bucket.name, Key=config.latest_key)
    return json.loads(found["Body"].read()).get(contract.L_RUN_ID) if found else None


def _print_outputs(aws: Aws, config: Config, console: Console) -> None:
    """One row per run folder (files, bytes), plus the pointers such as latest.json."""
    s3 = aws.client("s3")
    prefix = config.bucket.output_prefix
    groups: dict[str, list[int]] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=config.bucket.name, Prefix=prefix):
        for item in page.get("Contents", []):
            rest = item["Key"][len(prefix) :]
            if not rest:
                continue
            folder = "/".join(rest.split("/")[:2]) + "/" if rest.startswith("runs/") else rest
            groups.setdefault(prefix + folder, []).append(item["Size"])
    table = Table(title=f"s3://{config.bucket.name}/{prefix}")
    table.add_column("Key")
    table.add_column("Files", justify="right")
    table.add_column("Bytes", justify="right")
    for key, sizes in sorted(groups.items()):
        table.add_row(data_text(key), count(len(sizes)), count(sum(sizes)))
    console.print(table)
