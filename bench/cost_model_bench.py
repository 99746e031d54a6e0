"""Measure the handler's cost per input row and fit the model `dataops cost` uses before deploying.

    python -m bench.cost_model_bench                          # 768, 10k, 50k, 100k rows, 3 runs each
    python -m bench.cost_model_bench --sizes 768,20000 --repeat 2

For each size the real handler runs in this process against moto's in-process S3 (mock_aws):
one cold call, then `--repeat` warm calls. It records the warm calls' median duration, the
bytes of every object the run wrote (cleaned.csv apart from the rest), the bytes of its log
lines, and the S3 requests it made by operation. Then it fits, by least squares over the
sizes (through the smallest size's point), `ms = a + b * rows`, `cleaned bytes = c + d * rows`
and `other output bytes = e + f * rows`, and prints the table and the constants to copy into
dataops_cli/cost/inputs.py (MODEL).

The duration is this machine's (2 cores, S3 in process): Lambda at 1,024 MB has about 0.58
of one vCPU, so `dataops cost` scales the fitted time by 1769 / memory_mb (never below 1x).
Nothing is asserted on time; the script exits non-zero only if a run fails.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import statistics
import sys
import time
from collections import Counter
from pathlib import Path
from types import SimpleNamespace
from typing import Any

if __package__ in (None, ""):  # run as `python bench/cost_model_bench.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import ensure_input, format_table, machine_lines, parse_sizes, positive_int, progress

BUCKET = "dataops-cost-bench"
REGION = "us-east-1"
DEFAULT_SIZES = "768,10000,50000,100000"
PUT_CLASS = ("PutObject", "CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload")


def measure(rows: int, repeat: int) -> dict[str, Any]:
    """Run the handler on `rows` rows under moto: warm median ms, bytes written, log bytes, requests."""
    import boto3
    from moto import mock_aws

    from handler import lambda_function

    path = ensure_input(rows)
    # SKIP_UNCHANGED=false: every run processes the same input (what a processing run costs).
    env = {"BUCKET_NAME": BUCKET, "INPUT_KEY": "input.csv", "OUTPUT_PREFIX": "processed/", "SKIP_UNCHANGED": "false"}
    with mock_aws(), _environ(env):
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET)
        s3.upload_file(str(path), BUCKET, "input.csv")
        calls: Counter[str] = Counter()
        s3.meta.events.register("before-call.s3", lambda model, **_: calls.update([model.name]))
        lambda_function._s3_client = s3
        timings, result, log_bytes, log_events, run_calls = [], {}, 0, 0, Counter()
        for index in range(repeat + 1):  # the first call is the cold one; its figures are not kept
            calls.clear()
            captured = io.StringIO()
            started = time.perf_counter()
            with contextlib.redirect_stdout(captured):
                result = lambda_function.lambda_handler({}, SimpleNamespace(aws_request_id=f"bench-{index:04d}"))
            elapsed = (time.perf_counter() - started) * 1000
            if index:
                run_calls = Counter(calls)
                timings.append(elapsed)
                log_bytes = sum(len(line.encode()) for line in captured.getvalue().splitlines())
                log_events = len(captured.getvalue().splitlines())
        if result.get("status") != "succeeded":
            raise SystemExit(f"run on {rows} rows failed: {result}")
        sizes = {
            name: s3.head_object(Bucket=BUCKET, Key=key)["ContentLength"] for name, key in result["outputs"].items()
        }
        lambda_function._s3_client = None
    return {
        "rows": rows,
        "input_bytes": path.stat().st_size,
        "ms": statistics.median(timings),
        "cleaned_bytes": sizes["cleaned"],
        "other_bytes": sum(v for k, v in sizes.items() if k != "cleaned"),
        "log_bytes": log_bytes,
        "log_events": log_events,
        "puts": sum(run_calls[op] for op in PUT_CLASS),
        "gets": run_calls["GetObject"] + run_calls["HeadObject"],
        "lists": run_calls["ListObjectsV2"] + run_calls["ListObjects"],
    }


def fit(xs: list[float], ys: list[float]) -> tuple[float, float]:
    """Least-squares line through the smallest size's point: (fixed part, per-row slope).

    Anchored there because a free intercept goes negative when the larger sizes grow faster
    than linearly (moto assembling multipart uploads in Python), and a negative fixed cost
    would make small inputs free.
    """
    x0, y0 = xs[0], ys[0]
    spread = sum((x - x0) ** 2 for x in xs)
    slope = sum((x - x0) * (y - y0) for x, y in zip(xs, ys, strict=True)) / spread if spread else 0.0
    return y0 - slope * x0, slope


@contextlib.contextmanager
def _environ(values: dict[str, str]):
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=parse_sizes, default=parse_sizes(DEFAULT_SIZES))
    parser.add_argument("--repeat", type=positive_int, default=3)
    args = parser.parse_args(argv)
    for line in machine_lines():
        print(line)
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ.pop("AWS_ENDPOINT_URL", None)
    results = []
    for rows in args.sizes:
        progress(f"{rows:,} rows ...")
        results.append(measure(rows, args.repeat))
    print(f"\nsizes {args.sizes}; {args.repeat} warm runs each after one cold run (median ms); S3 = moto in process\n")
    header = ["rows", "input bytes", "warm ms", "cleaned.csv bytes", "other outputs bytes", "log bytes", "log lines"]
    header += ["PUT-class", "GET-class", "LIST"]
    print(
        format_table(
            header,
            [
                [
                    f"{r['rows']:,}",
                    f"{r['input_bytes']:,}",
                    f"{r['ms']:,.1f}",
                    f"{r['cleaned_bytes']:,}",
                    f"{r['other_bytes']:,}",
                    f"{r['log_bytes']:,}",
                    str(r["log_events"]),
                    str(r["puts"]),
                    str(r["gets"]),
                    str(r["lists"]),
                ]
                for r in results
            ],
        )
    )
    xs = [float(r["rows"]) for r in results]
    ms = fit(xs, [r["ms"] for r in results])
    cleaned = fit(xs, [float(r["cleaned_bytes"]) for r in results])
    other = fit(xs, [float(r["other_bytes"]) for r in results])
    input_per_row = fit(xs, [float(r["input_bytes"]) for r in results])
    logs = statistics.median(r["log_bytes"] for r in results)
    events = statistics.median(r["log_events"] for r in results)
    print("\nFitted model (least squares through the smallest size): copy into dataops_cli/cost/inputs.py MODEL")
    print(
        format_table(
            ["figure", "fixed", "per row"],
            [
                ["duration ms", f"{ms[0]:.2f}", f"{ms[1]:.6f}"],
                ["cleaned.csv bytes", f"{cleaned[0]:.0f}", f"{cleaned[1]:.2f}"],
                ["other output bytes", f"{other[0]:.0f}", f"{other[1]:.4f}"],
                ["input bytes", f"{input_per_row[0]:.0f}", f"{input_per_row[1]:.2f}"],
                ["handler log bytes", f"{logs:.0f}", "0"],
                ["handler log lines", f"{events:.0f}", "0"],
            ],
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
