"""Local runs of the sample, cold every time (as before issue 26) against warm environments.

    python -m bench.warm_bench               # 10 invocations per row, then 60 s of schedule
    python -m bench.warm_bench --runs 20 --scheduled-seconds 240

For each row: a private emulator (`local start --keep-alive K`), `dataops --local up` of the
repository's config and sample, the schedule disabled, then N synchronous invocations one
after another (boto3 `lambda.invoke`, LogType=Tail), each one's REPORT line read back.
`--keep-alive 0` ends every environment after its run: every run is a cold start, as every
run was before environments were kept. The second table lets the schedule run at `--speed 120`
(rate(2 minutes) fires every second) for `--scheduled-seconds`, then reads every REPORT line of
the log group: what `status` and `cost` measure a local stack by. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import base64
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import format_table, machine_lines, positive_int
from dataops_cli.emulator.loopback_clients import LocalClients
from dataops_cli.local import process
from dataops_cli.local.credentials import owner_credentials
from dataops_cli.local.state import STATE_DIR_ENV, read_state

REPO = Path(__file__).resolve().parent.parent
REGION = "ap-south-1"
FUNCTION = "DataOpsPipelineFunction"
REPORT = re.compile(r"Duration: ([\d.]+) ms.*?Max Memory Used: (\d+) MB(?:.*?Init Duration: ([\d.]+) ms)?")


def dataops(state_dir: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({STATE_DIR_ENV: str(state_dir), "COLUMNS": "120"})
    command = [sys.executable, "-m", "dataops_cli", *args]
    return subprocess.run(command, env=env, cwd=REPO, capture_output=True, text=True, timeout=300, check=True)


Run = tuple[float, float | None, int]  # duration ms, init ms or None, max memory MB


def parse_report(text: str) -> Run:
    match = REPORT.search(text)
    assert match is not None, text
    return float(match.group(1)), float(match.group(3)) if match.group(3) else None, int(match.group(2))


def disable_schedules(clients: LocalClients) -> None:
    scheduler = clients("scheduler", REGION)
    for schedule in scheduler.list_schedules()["Schedules"]:
        current = scheduler.get_schedule(Name=schedule["Name"], GroupName=schedule["GroupName"])
        keep = ("ScheduleExpression", "FlexibleTimeWindow", "Target")
        scheduler.update_schedule(
            Name=schedule["Name"], GroupName=schedule["GroupName"], State="DISABLED", **{k: current[k] for k in keep}
        )


def on_emulator(keep_alive: float, speed: float, work: Callable[[LocalClients], list[Run]]) -> list[Run]:
    """`work` on a private emulator after `dataops --local up`; the emulator is stopped after."""
    with tempfile.TemporaryDirectory(prefix="warm-bench-") as tmp:
        state_dir = Path(tmp) / "state"
        dataops(state_dir, "local", "start", "--keep-alive", f"{keep_alive:g}", "--speed", f"{speed:g}")
        try:
            dataops(state_dir, "--local", "up")
            state = read_state(state_dir)
            assert state is not None
            return work(LocalClients(state.endpoint, owner_credentials(state_dir)))
        finally:
            process.stop(state_dir)


def invoked(runs: int) -> Callable[[LocalClients], list[Run]]:
    """`runs` synchronous invocations, the schedule off."""

    def work(clients: LocalClients) -> list[Run]:
        disable_schedules(clients)
        found = []
        for _ in range(runs):
            answer = clients("lambda", REGION).invoke(FunctionName=FUNCTION, LogType="Tail", Payload=b"{}")
            found.append(parse_report(base64.b64decode(answer["LogResult"]).decode()))
        return found

    return work


def scheduled(seconds: float) -> Callable[[LocalClients], list[Run]]:
    """Every run of `seconds` of schedule (and up's own), from the log group's REPORT lines."""

    def work(clients: LocalClients) -> list[Run]:
        time.sleep(seconds)
        disable_schedules(clients)
        time.sleep(3)  # the run in flight ends and its log is written
        logs = clients("logs", REGION)
        pages = logs.get_paginator("filter_log_events").paginate(
            logGroupName=f"/aws/lambda/{FUNCTION}", filterPattern="REPORT"
        )
        lines = [e["message"] for page in pages for e in page["events"] if e["message"].startswith("REPORT ")]
        return [parse_report(line) for line in lines]

    return work


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]


def table(work: Callable[[LocalClients], list[Run]], speed: float) -> str:
    rows = []
    for label, keep_alive in (("cold every run (--keep-alive 0)", 0.0), ("warm environments (default)", 600.0)):
        found = on_emulator(keep_alive, speed, work)
        durations = [d for d, _, _ in found]
        inits = [i for _, i, _ in found if i is not None]
        warm = [d for d, i, _ in found if i is None]
        rows.append(
            [
                label,
                str(len(found)),
                str(len(inits)),
                f"{statistics.mean(durations):.0f}",
                f"{p99(durations):.0f}",
                f"{statistics.mean(warm):.0f}" if warm else "-",
                f"{statistics.mean(inits):.0f}" if inits else "-",
                f"{max(m for _, _, m in found)}",
            ]
        )
    header = ["mode", "runs", "cold", "avg ms", "p99 ms", "warm avg ms", "init avg ms", "max MB"]
    return format_table(header, rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=positive_int, default=10)
    parser.add_argument("--scheduled-seconds", type=positive_int, default=60)
    args = parser.parse_args(argv)
    print("\n".join(machine_lines()))
    print(f"{args.runs} synchronous invocations after up (schedule off):")
    print(table(invoked(args.runs), 1.0))
    print(f"{args.scheduled_seconds} s of schedule at --speed 120 (every REPORT line, up's run included):")
    print(table(scheduled(args.scheduled_seconds), 120.0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
