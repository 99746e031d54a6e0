"""Local runs of the sample, cold every time (as before issue 26) against warm environments.

    python -m bench.warm_bench               # 10 invocations per row
    python -m bench.warm_bench --runs 20

For each row: a private emulator (`local start --keep-alive K`), `dataops --local up` of the
repository's config and sample, the schedule disabled, then N synchronous invocations one
after another (boto3 `lambda.invoke`, LogType=Tail), each one's REPORT line read back.
`--keep-alive 0` ends every environment after its run: every run is a cold start, as every
run was before environments were kept. Nothing is asserted.
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


def measure(keep_alive: float, runs: int) -> list[tuple[float, float | None, int]]:
    """(duration ms, init ms or None, max memory MB) of each invocation."""
    with tempfile.TemporaryDirectory(prefix="warm-bench-") as tmp:
        state_dir = Path(tmp) / "state"
        dataops(state_dir, "local", "start", "--keep-alive", f"{keep_alive:g}")
        try:
            dataops(state_dir, "--local", "up")
            state = read_state(state_dir)
            assert state is not None
            clients = LocalClients(state.endpoint, owner_credentials(state_dir))
            scheduler = clients("scheduler", REGION)
            for schedule in scheduler.list_schedules()["Schedules"]:
                current = scheduler.get_schedule(Name=schedule["Name"], GroupName=schedule["GroupName"])
                keep = ("ScheduleExpression", "FlexibleTimeWindow", "Target")
                scheduler.update_schedule(
                    Name=schedule["Name"],
                    GroupName=schedule["GroupName"],
                    State="DISABLED",
                    **{k: current[k] for k in keep},
                )
            found = []
            for _ in range(runs):
                answer = clients("lambda", REGION).invoke(FunctionName=FUNCTION, LogType="Tail", Payload=b"{}")
                tail = base64.b64decode(answer["LogResult"]).decode()
                match = REPORT.search(tail)
                assert match is not None, tail
                init = float(match.group(3)) if match.group(3) else None
                found.append((float(match.group(1)), init, int(match.group(2))))
            return found
        finally:
            process.stop(state_dir)


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=positive_int, default=10)
    args = parser.parse_args(argv)
    rows = []
    for label, keep_alive in (("cold every run (--keep-alive 0)", 0.0), ("warm environments (default)", 600.0)):
        found = measure(keep_alive, args.runs)
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
    print("\n".join(machine_lines()))
    header = ["mode", "runs", "cold", "avg ms", "p99 ms", "warm avg ms", "init avg ms", "max MB"]
    print(format_table(header, rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
