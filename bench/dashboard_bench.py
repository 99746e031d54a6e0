"""`dataops --local dashboard`: how long it takes, how many API calls, how much memory.

    python -m bench.dashboard_bench                      # 60 s of schedule, 5 repetitions
    python -m bench.dashboard_bench --scheduled-seconds 120 --repeat 10

A private emulator at --speed 120 (rate(2 minutes) fires every second), `dataops --local up`
of the repository's config and sample, the schedule left running for --scheduled-seconds,
then disabled. Per time range: the data collected in process (GetDashboard, GetMetricData,
Logs Insights; median of --repeat) and the page rendered (pygal SVG); Python's peak
allocation over one collect + render (tracemalloc); and the whole CLI in a subprocess
(startup included) with its peak RSS. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import format_table, machine_lines, positive_int
from bench.warm_bench import dataops, disable_schedules
from dataops_cli.cli.app import App
from dataops_cli.emulator.loopback_clients import LocalClients
from dataops_cli.local import process
from dataops_cli.local.credentials import owner_credentials
from dataops_cli.local.state import STATE_DIR_ENV, read_state
from dataops_cli.observe import dashboard_data, dashboard_view

REPO = Path(__file__).resolve().parent.parent
DASHBOARD = "DataOpsPipelineDashboard"
RANGES = (("10m", 600), ("3h", 10800))


def measure(state_dir: Path, seconds: int, repeat: int) -> list[str]:
    app = App(None, None, None, True, 0, False, state_dir=state_dir)
    ctx = app.stack()
    collect_s, render_s, calls, size = [], [], 0, 0
    for _ in range(repeat):
        started = time.perf_counter()
        data = dashboard_data.collect(ctx, DASHBOARD, seconds)
        collect_s.append(time.perf_counter() - started)
        started = time.perf_counter()
        page = dashboard_view.render(data)
        render_s.append(time.perf_counter() - started)
        calls, size = data.api_calls, len(page.encode())
    tracemalloc.start()
    dashboard_view.render(dashboard_data.collect(ctx, DASHBOARD, seconds))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return [
        f"{statistics.median(collect_s) * 1000:.0f} ms",
        f"{statistics.median(render_s) * 1000:.0f} ms",
        str(calls),
        f"{size / 1024:.0f} KiB",
        f"{peak / 2**20:.1f} MiB",
    ]


CLI = (
    "import resource, runpy, sys\n"
    "try:\n    runpy.run_module('dataops_cli', run_name='__main__')\n"
    "except SystemExit:\n    pass\n"
    "print('peak-rss-kib', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
)


def cli_run(state_dir: Path, since: str, out: Path) -> list[str]:
    """The whole command in its own process (startup included), with that process's peak RSS."""
    started = time.perf_counter()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env[STATE_DIR_ENV] = str(state_dir)
    args = ["--local", "dashboard", "--since", since, "--out", str(out)]
    done = subprocess.run(
        [sys.executable, "-c", CLI, *args], env=env, cwd=REPO, capture_output=True, text=True, check=True
    )
    wall = time.perf_counter() - started
    rss = int(done.stdout.rsplit("peak-rss-kib", 1)[1]) / 1024
    return [f"{wall:.2f} s", f"{rss:.0f} MiB"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scheduled-seconds", type=positive_int, default=60)
    parser.add_argument("--repeat", type=positive_int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="dashboard-bench-") as tmp:
        state_dir = Path(tmp) / "state"
        dataops(state_dir, "local", "start", "--speed", "120")
        try:
            dataops(state_dir, "--local", "up")
            state = read_state(state_dir)
            assert state is not None
            time.sleep(args.scheduled_seconds)  # the schedule runs: the data the dashboard draws
            disable_schedules(LocalClients(state.endpoint, owner_credentials(state_dir)))
            time.sleep(2)  # the last scheduled run ends
            rows = []
            for since, seconds in RANGES:
                page = Path(tmp) / "d.html"
                rows.append([since, *measure(state_dir, seconds, args.repeat), *cli_run(state_dir, since, page)])
        finally:
            process.stop(state_dir)
    header = ["range", "collect", "render", "API calls", "page", "peak alloc", "CLI wall", "CLI peak RSS"]
    print(format_table(header, rows))
    print("\n".join(machine_lines()))


if __name__ == "__main__":
    main()
