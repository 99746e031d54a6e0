"""What data quality costs a run: the handler's own timings of its quality work vs the whole run.

    python -m bench.quality_bench                       # 1M rows, history of 20, 3 runs
    python -m bench.quality_bench --rows 100000 --repeat 1

The real handler runs in this process against moto's S3 server on 127.0.0.1 (as in
bench/handler_bench.py: local HTTP, same machine and CPUs). Before the timed runs the
history is seeded with `--history` copies of a real profile of the same input (what a
steady state holds: history_runs profiles, rewritten every run). The handler measures its
quality work itself (response field quality_timings_ms):

- history_read_ms: GetObject + parse of quality/history.json
- zeros_ms: counting zeros in the zero-as-missing columns before imputation
- checks_ms: profile + every check + PutObject of quality.json + the log lines
- history_write_ms: serialize + PutObject of the trimmed history

"run s" is lambda_handler from call to return (S3 in and out included). Nothing is asserted.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import os
import statistics
import sys
import time
import uuid
from pathlib import Path
from types import SimpleNamespace
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import ensure_input, format_table, machine_lines, positive_int

BUCKET = "dataops-quality-bench"
REGION = "us-east-1"
INPUT_KEY = "input.csv"
PARTS = ("history_read_ms", "zeros_ms", "checks_ms", "history_write_ms")
TARGET = 0.05


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=positive_int, default=1_000_000)
    parser.add_argument("--repeat", type=positive_int, default=3)
    parser.add_argument("--history", type=positive_int, default=20, help="profiles in the seeded history")
    args = parser.parse_args(argv)

    os.environ.update(
        {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": REGION}
    )
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_CONFIG_FILE"):
        os.environ.pop(name, None)
    import boto3
    from moto.server import ThreadedMotoServer

    from handler import lambda_function

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        _, port = server.get_host_and_port()
        s3 = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{port}", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET)
        path = ensure_input(args.rows)
        s3.upload_file(str(path), BUCKET, INPUT_KEY)
        os.environ.update(
            {
                "BUCKET_NAME": BUCKET,
                "INPUT_KEY": INPUT_KEY,
                "OUTPUT_PREFIX": "processed/",
                "QUALITY_HISTORY_RUNS": str(args.history),
                "SKIP_UNCHANGED": "false",  # every run processes (and profiles) the same input
            }
        )
        lambda_function._s3_client = s3

        def invoke() -> tuple[float, dict[str, Any]]:
            started = time.perf_counter()
            with contextlib.redirect_stdout(io.StringIO()):
                result = lambda_function.lambda_handler({}, SimpleNamespace(aws_request_id=str(uuid.uuid4())))
            return time.perf_counter() - started, result

        invoke()  # warm-up, and a real profile of this input
        history = json.loads(s3.get_object(Bucket=BUCKET, Key="processed/quality/history.json")["Body"].read())
        profile = history["profiles"][-1]
        seeded = {"version": 1, "profiles": [{**profile, "run_id": f"seed-{i}"} for i in range(args.history)]}
        body = json.dumps(seeded, separators=(",", ":")).encode()  # as the handler writes it
        s3.put_object(Bucket=BUCKET, Key="processed/quality/history.json", Body=body)

        rows = []
        shares = []
        for n in range(1, args.repeat + 1):
            seconds, result = invoke()
            parts = result["quality_timings_ms"]
            quality_s = sum(parts[p] for p in PARTS) / 1000
            shares.append(quality_s / seconds)
            rows.append(
                [
                    str(n),
                    f"{seconds:.3f}",
                    *(f"{parts[p]:.1f}" for p in PARTS),
                    f"{quality_s * 1000:.1f}",
                    f"{quality_s / seconds:.2%}",
                    str(result["quality"]["baseline_runs"]),
                ]
            )
    finally:
        server.stop()

    print(f"Data quality cost per run: {args.rows:,} rows, history of {args.history} profiles ({len(body):,} bytes)")
    for line in machine_lines():
        print(line)
    print()
    print(
        format_table(
            ["run", "run s", *(p.removesuffix("_ms") + " ms" for p in PARTS), "quality ms", "share", "baseline"],
            rows,
        )
    )
    median = statistics.median(shares)
    verdict = "met" if median < TARGET else "NOT met"
    print(f"\nmedian share of the run: {median:.2%} (target < {TARGET:.0%}: {verdict})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
