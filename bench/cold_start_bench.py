"""The handler's cold start: import (Lambda's init phase), first S3 client, first run, in fresh processes.

    python -m bench.cold_start_bench                    # this tree and main, 5 fresh processes each
    python -m bench.cold_start_bench --before HEAD~1 --processes 9

Each measurement is a new interpreter (nothing cached but the OS's page cache), running the
handler against moto's server (ThreadedMotoServer, no added latency) on the seed's sample:
`import handler.lambda_function` (what Lambda's init phase runs), the first `_s3()` (boto3's
import and client), then the first run, either one that processes (an event with
"force": true) or one that finds the input unchanged (skipped where the version skips),
and a second, warm run of the same kind. Also which heavy modules the import loaded.
Medians over the processes; timings are never asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import ROOT, format_table, machine_lines, progress
from bench.s3_latency_bench import AWS_ENV, BUCKET, INPUT_KEY, SAMPLE, _keys, extract, free_port

HEAVY = ("numpy", "pyarrow", "pandas", "boto3", "botocore")


def child(kind: str) -> None:
    """In a fresh process: time the import, the client, a first and a second run; print JSON."""
    t0 = time.perf_counter()
    from handler import lambda_function

    t1 = time.perf_counter()
    loaded = [name for name in HEAVY if name in sys.modules]
    lambda_function._s3()
    t2 = time.perf_counter()
    event = {"trigger": "bench", **({"force": True} if kind == "processing" else {})}
    context = type("Context", (), {"aws_request_id": "cold-0000", "get_remaining_time_in_millis": lambda s: 60_000})
    first = lambda_function.lambda_handler(event, context())
    t3 = time.perf_counter()
    lambda_function.lambda_handler(event, context())
    t4 = time.perf_counter()
    ms = [round((b - a) * 1000, 1) for a, b in ((t0, t1), (t1, t2), (t2, t3), (t3, t4))]
    print(json.dumps({"ms": ms, "status": first["status"], "loaded": loaded}))


def measure(label: str, root: Path, endpoint: str, processes: int, prefix: str) -> list[list[str]]:
    env = {**os.environ, **AWS_ENV, "AWS_ENDPOINT_URL": endpoint, "OUTPUT_PREFIX": prefix, "PYTHONPATH": str(root)}
    rows = []
    for kind in ("processing", "unchanged"):
        found = []
        for _ in range(processes):
            command = [sys.executable, "-c", f"from bench.cold_start_bench import child; child({kind!r})"]
            done = subprocess.run(command, cwd=root, env={**env, "PYTHONPATH": f"{root}{os.pathsep}{ROOT}"},
                                  capture_output=True, text=True)  # fmt: skip
            if done.returncode:
                raise SystemExit(f"{label} failed:\n{done.stderr[-3000:]}")
            found.append(json.loads(done.stdout.strip().splitlines()[-1]))
        medians = [statistics.median(f["ms"][i] for f in found) for i in range(4)]
        rows.append(
            [label, kind, found[-1]["status"], *(f"{m:.0f}" for m in medians), ",".join(found[-1]["loaded"]) or "-"]
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", default="main", help="git ref whose handler/ is the 'before' rows")
    parser.add_argument("--processes", type=int, default=5)
    args = parser.parse_args()
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        import boto3

        endpoint = f"http://127.0.0.1:{port}"
        s3 = boto3.client("s3", endpoint_url=endpoint, **_keys())
        s3.create_bucket(Bucket=BUCKET)
        s3.put_object(Bucket=BUCKET, Key=INPUT_KEY, Body=SAMPLE.read_bytes())
        with tempfile.TemporaryDirectory(prefix="cold-start-") as tmp:
            progress(f"{args.processes} fresh processes per row ...")
            rows = measure(f"before ({args.before})", extract(args.before, Path(tmp)), endpoint, args.processes, "b/")
            rows += measure("after (this tree)", ROOT, endpoint, args.processes, "a/")
    finally:
        server.stop()
    header = ["handler", "first run", "status", "import ms", "client ms", "first run ms", "warm run ms", "imported"]
    print(format_table(header, rows))
    print(f"\nmedians of {args.processes} fresh processes; load: {os.getloadavg()[0]:.2f} (1 min)")
    print("\n".join(machine_lines()))


if __name__ == "__main__":
    main()
