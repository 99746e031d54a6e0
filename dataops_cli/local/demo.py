"""`dataops demo`: up, compressed-time scheduled runs, KPIs, outputs, down, on a private emulator.

The demo drives the real commands (`up`, `status`, `down`) in-process with `--local`,
against an emulator of its own (temporary state directory, free port), so it shows
exactly what a user would see and cannot disturb an emulator the user runs.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from dataops_cli.aws import Aws, DataopsError
from dataops_cli.config import Config
from dataops_cli.local import process
from dataops_cli.local.clients import FAKE_CREDENTIALS
from dataops_cli.local.state import STATE_DIR_ENV
from dataops_cli.schedule_expr import Rate, parse_schedule

TARGET_INTERVAL_SECONDS = 2.0


def auto_speed(expression: str) -> float:
    """A speed at which the schedule fires about every 2 s (60x for cron/at expressions)."""
    schedule = parse_schedule(expression)
    if isinstance(schedule, Rate):
        return max(1.0, schedule.seconds / TARGET_INTERVAL_SECONDS)
    return 60.0


@contextlib.contextmanager
def _environment(name: str, value: str) -> Iterator[None]:
    previous = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = previous


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


def run_demo(app: Any, speed: float | None, runs: int, timeout: float) -> None:
    from dataops_cli.cli import cli

    console: Console = app.console
    config: Config = app.config
    if not config.schedule.enabled:
        raise DataopsError("the demo needs the schedule on", "set schedule.enabled = true in config.toml")
    speed = speed or auto_speed(config.schedule.expression)
    base_args = ["--config", app.config_path] if app.config_path else []
    began = time.monotonic()

    def step(number: int, text: str) -> None:
        console.rule(f"[bold]{number}/6[/] {text}  [dim]({time.monotonic() - began:.1f} s)[/]")

    def dataops(*args: str, ok: tuple[int, ...] = (0,)) -> None:
        """Run a real command in-process; commands that end with sys.exit (status) are fine too."""
        try:
            code = cli.main(args=["--local", *base_args, *args], prog_name="dataops", standalone_mode=False)
        except SystemExit as exc:
            code = 1 if isinstance(exc.code, str) else exc.code
        code = code if isinstance(code, int) else 0  # None: finished normally
        if code not in ok:
            raise DataopsError(f"`dataops --local {' '.join(args)}` exited with code {code}", "see its output above")

    with tempfile.TemporaryDirectory(prefix="dataops-demo-") as tmp, _environment(STATE_DIR_ENV, tmp):
        step(1, f"Starting a private emulator (schedules at {speed:g}x)")
        state = process.start(Path(tmp), speed=speed, region=config.region)
        console.print(f"Emulator at {state.endpoint} (pid {state.pid}); state in {tmp}")
        try:
            since = datetime.now(UTC)
            step(2, "dataops --local up")
            dataops("up")
            aws = Aws(region=config.region, endpoint_url=state.endpoint, credentials=FAKE_CREDENTIALS)
            step(3, f"Waiting for {runs} scheduled runs ({config.schedule.expression} at {speed:g}x)")
            _wait_for_runs(aws, config, console, since, runs, timeout)
            step(4, "KPIs")
            dataops("status", ok=(0, 3))  # 3: failing runs, which the KPIs then show
            step(5, f"Outputs in s3://{config.bucket.name}/{config.bucket.output_prefix}")
            _print_outputs(aws, config, console)
            step(6, "dataops --local down --yes")
            dataops("down", "--yes")
        finally:
            process.stop(Path(tmp))
    console.print(
        f"\n[bold green]Demo done in {time.monotonic() - began:.1f} s.[/] The emulator is stopped; nothing is left. "
        "Your turn: dataops local start --speed 60; dataops --local up"
    )


def _wait_for_runs(aws: Aws, config: Config, console: Console, since: datetime, runs: int, timeout: float) -> None:
    """Wait (polling CloudWatch, as status would) until `runs` scheduled runs have finished."""
    function = ("FunctionName", config.function.name)
    deadline = time.monotonic() + timeout
    seen = 0
    with console.status("waiting for the schedule to fire ...") as spinner:
        while True:
            finished = int(metric_sum(aws, "AWS/Lambda", "Invocations", function, since)) - 1  # minus up's own run
            if finished > seen:
                errors = int(metric_sum(aws, "AWS/Lambda", "Errors", function, since))
                for number in range(seen + 1, min(finished, runs) + 1):
                    console.print(f"  scheduled run {number} finished (errors so far: {errors})")
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
        table.add_row(key, str(len(sizes)), str(sum(sizes)))
    console.print(table)
