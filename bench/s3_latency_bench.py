"""What S3 round trips cost a warm run: the handler on the seed's sample, with 0 and 25 ms per request.

    python -m bench.s3_latency_bench                       # this tree against main, 5 runs each
    python -m bench.s3_latency_bench --before HEAD~3 --runs 10

S3 is moto's server (`python -m moto.server`, its own process) on 127.0.0.1 behind two
latency proxies (bench/latency_proxy.py, in this process, keeping the client's connections
alive as S3 does): one adds nothing, one holds every response 25 ms, about an in-region S3
request from a function. Each handler version runs in its own child process (`--before` is
extracted with `git archive`, so the table compares both in the same run, on the same
server); the child warms up (its first, cold run and the clients' connections are not
measured), then times `--runs` rounds, each one run through each proxy in turn (a change of
load falls on both).

Per run: requests and new connections (counted by the proxy), wall time, and round trips on
the critical path, three ways: "serial RT" is the union of the run's 25 ms delay intervals
(requests in flight together count once), "client RT" the same from when each request
began (moto answers one request at a time, S3 in parallel: this leaves that out),
"added/25" the median over rounds of (wall at 25 ms - wall at 0 ms) / 25 ms. A second
table splits "added/25" over PipelineRun's steps (PHASES). `--trace` prints each scenario's
last run request by request. Scenarios:

- full: a run that processes (the event's "force": true; a version without skips ignores it);
- changed: the input replaced by a different file before each run (skip_unchanged on);
- unchanged: nothing changed since the last run (skipped where the version skips).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import ROOT, format_table, machine_lines, progress
from bench.latency_proxy import Proxies, serial_round_trips

BUCKET = "bench-latency"
INPUT_KEY = "diabetes_preprocessed.csv"
SAMPLE = ROOT / "dataops_cli" / "starter" / "diabetes_preprocessed.csv"
LATENCIES = (0.0, 0.025)
SCENARIOS = ("full", "changed", "unchanged")
# The steps of PipelineRun timed in the child (a version without one shows "-"): the round
# trips each adds say where a run waits. "rest" is the run's added time outside them (the
# history's GET, when the run waits for it between the steps).
PHASES = {
    "skip check": ("_skip_if_unchanged",),
    "read": ("_read",),
    "outputs": ("_send_outputs", "_write_outputs"),
    "publish": ("_publish",),
}
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "BUCKET_NAME": BUCKET,
    "INPUT_KEY": INPUT_KEY,
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_moto(port: int) -> subprocess.Popen[bytes]:
    """moto's server in its own process: its work (one request at a time, under its GIL) must not
    delay the proxies' loop, which timestamps every request and response."""
    command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(300):
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return server
        time.sleep(0.05)
    server.kill()
    raise SystemExit(f"moto's server did not listen on port {port} within 15 s")


def extract(ref: str, into: Path) -> Path:
    """handler/ as committed at `ref`, for the "before" child."""
    archive = subprocess.run(["git", "archive", ref, "handler"], cwd=ROOT, capture_output=True, check=True).stdout
    tar = into / "handler.tar"
    tar.write_bytes(archive)
    with tarfile.open(tar) as opened:
        opened.extractall(into, filter="data")
    return into


def child(root: str, endpoints: list[str], runs: int) -> None:
    """In the child: per scenario, two warm-up runs per endpoint, then `runs` rounds that time one run
    through each endpoint in turn (so a change in the machine's load falls on both); prints JSON."""
    sys.path.insert(0, root)
    import boto3

    from handler import lambda_function

    step_ms = _time_steps()
    body = SAMPLE.read_bytes()
    clients = {}  # one handler client per endpoint, each kept warm (its pool, its connections)
    for endpoint in endpoints:
        os.environ["AWS_ENDPOINT_URL"] = endpoint
        lambda_function._s3_client = None
        clients[endpoint] = lambda_function._s3()
    s3 = boto3.client("s3", endpoint_url=endpoints[0])
    windows: dict[str, list[list[tuple[float, float, str]]]] = {endpoint: [] for endpoint in endpoints}
    steps: dict[str, list[list[dict[str, float]]]] = {endpoint: [] for endpoint in endpoints}
    count = 0
    for scenario in SCENARIOS:
        for endpoint in endpoints:
            windows[endpoint].append([])
            steps[endpoint].append([])
        for n in range(runs + 2):  # two warm-up rounds: the clients and their connections exist
            for endpoint in endpoints:
                event: dict[str, Any] = {"trigger": "bench"}
                if scenario == "full":
                    event["force"] = True
                elif scenario == "changed":  # a different file (and ETag) each time
                    count += 1
                    s3.put_object(Bucket=BUCKET, Key=INPUT_KEY, Body=body if count % 2 else body + b"\n")
                lambda_function._s3_client = clients[endpoint]
                step_ms.clear()
                t0 = time.monotonic()
                result = lambda_function.lambda_handler(event, _Context(f"{scenario}-{n}"))
                t1 = time.monotonic()
                if n >= 2:
                    windows[endpoint][-1].append((t0, t1, result["status"]))
                    steps[endpoint][-1].append(dict(step_ms))
    print(json.dumps({"windows": windows, "steps": steps}))


def _time_steps() -> dict[str, float]:
    """Wrap PipelineRun's steps (PHASES) to add up their ms per run into the returned dict."""
    from handler.pipeline_run import PipelineRun

    found: dict[str, float] = {}

    def timed(phase: str, method: Any) -> Any:
        def step(self: Any, *args: Any, **kwargs: Any) -> Any:
            t0 = time.monotonic()
            try:
                return method(self, *args, **kwargs)
            finally:
                found[phase] = found.get(phase, 0.0) + (time.monotonic() - t0) * 1000

        return step

    for phase, names in PHASES.items():
        for name in names:
            if hasattr(PipelineRun, name):
                setattr(PipelineRun, name, timed(phase, getattr(PipelineRun, name)))
    return found


class _Context:
    def __init__(self, request_id: str) -> None:
        self.aws_request_id = request_id + "-0000"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


def run_version(
    label: str, root: Path, proxies: Proxies, runs: int, prefix: str, trace: bool
) -> tuple[list[list[str]], list[list[str]]]:
    endpoints = [proxies.endpoint(latency) for latency in LATENCIES]
    env = {**os.environ, **AWS_ENV, "OUTPUT_PREFIX": prefix, "PYTHONPATH": str(root)}
    command = [sys.executable, "-m", "bench.s3_latency_bench", "--child", str(root), *endpoints, "--runs", str(runs)]
    progress(f"{label}: {runs} warm runs per scenario at {', '.join(f'{x * 1000:g} ms' for x in LATENCIES)} ...")
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"{label} failed:\n{done.stderr[-3000:]}")
    found = json.loads(done.stdout.strip().splitlines()[-1])
    windows, steps = found["windows"], found["steps"]
    high = LATENCIES[-1]
    rows, step_rows = [], []
    for index, scenario in enumerate(SCENARIOS):
        walls = {}
        for latency, endpoint in zip(LATENCIES, endpoints, strict=True):
            walls[latency] = statistics.median((t1 - t0) * 1000 for t0, t1, _ in windows[endpoint][index])
        proxy, runs_at = proxies.by_latency[high], windows[endpoints[-1]][index]
        if trace:
            print_trace(f"{label}, {scenario}", proxy, *runs_at[-1][:2])
        med = statistics.median
        requests = med(sum(t0 <= t <= t1 for t in proxy.held) for t0, t1, _ in runs_at)
        connects = med(sum(t0 <= t <= t1 for t in proxy.connects) for t0, t1, _ in runs_at)
        serial = med(serial_round_trips(proxy.held, high, t0, t1) for t0, t1, _ in runs_at)
        client = med(serial_round_trips(proxy.held, high, t0, t1, proxy.sent) for t0, t1, _ in runs_at)
        pairs = zip(windows[endpoints[0]][index], runs_at, strict=True)  # the same round's two runs
        added = statistics.median((h1 - h0) - (z1 - z0) for (z0, z1, _), (h0, h1, _) in pairs) / high
        cells = [label, scenario, runs_at[-1][2], f"{requests:g}", f"{connects:g}", f"{walls[0.0]:.0f}"]
        rows.append([*cells, f"{walls[high]:.0f}", f"{serial:.1f}", f"{client:.1f}", f"{added:.1f}"])
        step_rows.append([label, scenario, *step_cells(steps[endpoints[0]][index], steps[endpoints[-1]][index], added)])
    return rows, step_rows


def step_cells(at_zero: list[dict[str, float]], at_high: list[dict[str, float]], added: float) -> list[str]:
    """Round trips each step adds (median over rounds of its ms at 25 - ms at 0, over 25), then the rest."""
    cells, total = [], 0.0
    high = LATENCIES[-1] * 1000
    for phase in PHASES:
        pairs = [(z[phase], h[phase]) for z, h in zip(at_zero, at_high, strict=True) if phase in z and phase in h]
        if not pairs:
            cells.append("-")
            continue
        value = statistics.median(h - z for z, h in pairs) / high
        total += value
        cells.append(f"{value:.2f}")
    return [*cells, f"{added - total:.2f}"]


def print_trace(title: str, proxy: Any, t0: float, t1: float) -> None:
    """One run's requests on stderr: when each began and was answered, ms from the run's start."""
    print(f"{title}: {(t1 - t0) * 1000:.1f} ms", file=sys.stderr)
    for began, held, line in sorted(zip(proxy.sent, proxy.held, proxy.lines, strict=True)):
        if t0 <= held <= t1:
            request = " ".join(line.split()[:2])[-60:]
            print(f"  began {(began - t0) * 1000:6.1f}  answered {(held - t0) * 1000:6.1f}  {request}", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", default="main", help="git ref whose handler/ is the 'before' column")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--trace", action="store_true", help="print each scenario's last run, request by request")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], args.child[1:], args.runs)
        return
    port = free_port()
    server = start_moto(port)
    proxies = Proxies(("127.0.0.1", port), list(LATENCIES))
    try:
        import boto3

        s3 = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{port}", **_keys())
        s3.create_bucket(Bucket=BUCKET)
        s3.put_object(Bucket=BUCKET, Key=INPUT_KEY, Body=SAMPLE.read_bytes())
        with tempfile.TemporaryDirectory(prefix="s3-latency-") as tmp:
            rows, step_rows = run_version(
                f"before ({args.before})", extract(args.before, Path(tmp)), proxies, args.runs, "b/", args.trace
            )
            after = run_version("after (this tree)", ROOT, proxies, args.runs, "a/", args.trace)
            rows, step_rows = rows + after[0], step_rows + after[1]
    finally:
        proxies.stop()
        server.terminate()
        server.wait(10)
    header = ["handler", "scenario", "status", "requests", "connects", "ms at 0", "ms at 25"]
    header += ["serial RT", "client RT", "added/25"]
    print(format_table(header, rows))
    print("\nround trips added per step (ms at 25 - ms at 0, / 25; medians over rounds):\n")
    print(format_table(["handler", "scenario", *PHASES, "rest"], step_rows))
    print(f"\nmedians of {args.runs} warm runs each; load: {os.getloadavg()[0]:.2f} (1 min)")
    print("\n".join(machine_lines()))


def _keys() -> dict[str, str]:
    return {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": "us-east-1"}


if __name__ == "__main__":
    main()
