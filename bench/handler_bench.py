"""Benchmark the Lambda handler end to end (S3 in and out) against a naive pandas handler.

    python -m bench.handler_bench                         # 768, 100k, 1M rows, 3 runs each
    python -m bench.handler_bench --with-5m               # adds 5M rows
    python -m bench.handler_bench --sizes 768 --repeat 1  # a cheap smoke run

S3 is moto's server (ThreadedMotoServer) in this process on 127.0.0.1, so "S3 time" is
local HTTP on the same machine, sharing its CPUs with the handler: no network latency or
bandwidth limit, but the server's own parsing and copying are on the clock. Each handler
runs in a fresh child process (a cold start) with AWS_ENDPOINT_URL pointing at the server
and fake credentials; the input is uploaded first.

Ours:  handler.lambda_function.lambda_handler (head + streamed get, multipart upload of
       cleaned.csv with CRC32 part checksums, correlation/summary/dtypes/run.json,
       latest.json); its JSON log lines are captured in the child and only counted.
Ours without checksums ("ours-nocrc"): the same handler with handler.s3io.CHECKSUM = None,
       to show what the CRC32 part checksums change under moto (--no-nocrc skips it).
Naive: boto3 get_object -> read() -> pandas as in bench.common.naive_clean -> put_object of
       each output built in memory (cleaned.csv via df.to_csv()), then latest.json.

"wall" is the child from spawn to exit (imports included); "work" is the handler call
itself (ours imports boto3 inside its first call, as in Lambda; the naive one at import).
After timing, a child downloads both cleaned.csv and correlation.csv and checks them as
the pipeline benchmark does. Timings are never asserted.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as `python bench/handler_bench.py`: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    COMPARISON_HEADER,
    CORRECTNESS_HEADER,
    MIB,
    Summary,
    child_env,
    comparison_rows,
    correctness_ok,
    correctness_row,
    ensure_input,
    format_table,
    machine_lines,
    naive_clean,
    naive_side_documents,
    parse_sizes,
    positive_int,
    progress,
    report_from_child,
    run_child,
    start_sampler,
    verify_outputs,
)

MODULE = "bench.handler_bench"
DEFAULT_SIZES = "768,100000,1000000"
BIG_ROWS = 5_000_000
BIG_RSS_TARGET_MB = 700
SPEED_TARGET_ROWS, SPEED_TARGET = 1_000_000, 5.0
BUCKET = "dataops-bench"
REGION = "us-east-1"
FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": REGION}
# Variables that would make boto3 in a child use something other than the fake credentials.
CLEARED_VARIABLES = ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_CONFIG_FILE", "AWS_REGION")


# --------------------------------------------------------------------------- children


def child_ours(checksum: bool = True) -> dict[str, Any]:
    """Our handler as Lambda would call it, cold; its stdout log lines are captured and counted."""
    started = time.perf_counter()
    from handler import s3io
    from handler.lambda_function import lambda_handler

    if not checksum:
        s3io.CHECKSUM = None
    imported = time.perf_counter()
    captured = io.StringIO()
    with contextlib.redirect_stdout(captured):
        response = lambda_handler({}, None)
    finished = time.perf_counter()
    return {
        "import_s": imported - started,
        "work_s": finished - imported,
        "status": response["status"],
        "rows": response["rows"],
        "outputs": response["outputs"],
        "log_lines": len(captured.getvalue().splitlines()),
    }


def child_naive() -> dict[str, Any]:
    """A handler as most people would first write it: everything in memory, one put per file."""
    started = time.perf_counter()
    import boto3
    import pandas as pd

    imported = time.perf_counter()
    env = os.environ
    bucket, prefix = env["BUCKET_NAME"], env["OUTPUT_PREFIX"]
    s3 = boto3.client("s3")
    body = s3.get_object(Bucket=bucket, Key=env["INPUT_KEY"])["Body"].read()
    result = naive_clean(pd.read_csv(io.BytesIO(body)))
    folder = f"{prefix}runs/{uuid.uuid4().hex}/"
    files = {"cleaned.csv": result.cleaned.to_csv(index=False).encode(), **naive_side_documents(result)}
    for name, data in files.items():
        s3.put_object(Bucket=bucket, Key=folder + name, Body=data)
    outputs = {name: folder + name for name in files}
    s3.put_object(Bucket=bucket, Key=f"{prefix}latest.json", Body=json.dumps({"outputs": outputs}).encode())
    finished = time.perf_counter()
    return {
        "import_s": imported - started,
        "work_s": finished - imported,
        "status": "succeeded",
        "rows": len(result.cleaned),
        "outputs": {"cleaned": outputs["cleaned.csv"], "correlation": outputs["correlation.csv"]},
    }


def child_verify(input_file: Path, ours: dict[str, str], naive: dict[str, str] | None) -> dict[str, Any]:
    """Download both runs' cleaned.csv and correlation.csv and check them (see bench.common)."""
    import boto3

    s3 = boto3.client("s3")

    def get(key: str) -> bytes:
        return s3.get_object(Bucket=os.environ["BUCKET_NAME"], Key=key)["Body"].read()

    return verify_outputs(
        input_file,
        get(ours["cleaned"]),
        get(ours["correlation"]),
        get(naive["cleaned"]) if naive else None,
        get(naive["correlation"]) if naive else None,
    )


def child_main(argv: list[str]) -> None:
    """`child ours|naive` or `child verify INPUT OURS_OUTPUTS_JSON [NAIVE_OUTPUTS_JSON]`."""
    start_sampler()
    kind, *rest = argv
    if kind == "verify":
        naive = json.loads(rest[2]) if len(rest) > 2 else None
        report = child_verify(Path(rest[0]), json.loads(rest[1]), naive)
    else:
        report = {"ours": child_ours, "ours-nocrc": lambda: child_ours(checksum=False), "naive": child_naive}[kind]()
    report_from_child(report)


# --------------------------------------------------------------------------- parent


class LocalS3:
    """moto's S3 server on 127.0.0.1 (a free port) and a client for the parent's own calls."""

    def __init__(self) -> None:
        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.server.start()
        _, port = self.server.get_host_and_port()
        self.endpoint = f"http://127.0.0.1:{port}"
        self.client = self._client()
        self.client.create_bucket(Bucket=BUCKET)

    def _client(self) -> Any:
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )

    def delete_prefix(self, prefix: str) -> None:
        """Free the server's memory between sizes (moto keeps every object in this process)."""
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix):
            keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
            if keys:
                self.client.delete_objects(Bucket=BUCKET, Delete={"Objects": keys})

    def env(self, input_key: str, output_prefix: str) -> dict[str, str]:
        """A child's environment: this server, fake credentials, the handler's settings."""
        env = child_env(
            {
                "AWS_ENDPOINT_URL": self.endpoint,
                **FAKE_CREDENTIALS,
                "BUCKET_NAME": BUCKET,
                "INPUT_KEY": input_key,
                "OUTPUT_PREFIX": output_prefix,
                "SKIP_UNCHANGED": "false",  # repeats of one input each process it (what is measured)
            }
        )
        for name in CLEARED_VARIABLES:
            env.pop(name, None)
        return env

    def stop(self) -> None:
        self.server.stop()


def measure_size(
    s3: LocalS3, rows: int, repeat: int, with_naive: bool, with_nocrc: bool
) -> tuple[list[Summary], dict[str, Any]]:
    """Upload the input, time the handlers taking turns, check the last runs' outputs, then clean up."""
    source = ensure_input(rows)
    input_key = f"input/{source.name}"
    s3.client.upload_file(str(source), BUCKET, input_key)
    impls = ["ours"] + (["ours-nocrc"] if with_nocrc else []) + (["naive"] if with_naive else [])
    summaries = {impl: Summary(impl=impl, rows=rows) for impl in impls}
    last_outputs: dict[str, dict[str, str]] = {}
    for index in range(1, repeat + 1):
        for impl in impls:  # taking turns: a change in the machine's load falls on all alike
            run = run_child(MODULE, ["child", impl], s3.env(input_key, f"bench/{rows}/{impl}/"))
            last_outputs[impl] = run.report["outputs"]
            summaries[impl].runs.append(run)
            progress(
                f"  {rows:>9,} {impl:<10} run {index}/{repeat}: wall {run.wall_s:7.2f} s, "
                f"work {run.work_s:7.2f} s, peak {run.peak_rss_bytes / MIB:7.1f} MiB"
            )
    verify_args = ["child", "verify", str(source), json.dumps(last_outputs["ours"])]
    if with_naive:
        verify_args.append(json.dumps(last_outputs["naive"]))
    checks = run_child(MODULE, verify_args, s3.env(input_key, "unused/")).report
    progress(f"  {rows:>9,} correctness: {'PASS' if correctness_ok(checks) else 'FAIL'} {json.dumps(checks)}")
    s3.delete_prefix(f"bench/{rows}/")
    s3.delete_prefix(input_key)
    return list(summaries.values()), checks


CHECKSUM_HEADER = [
    "rows",
    "wall s CRC32",
    "wall s none",
    "work s CRC32",
    "work s none",
    "peak MiB CRC32",
    "peak MiB none",
]


def checksum_rows(summaries: list[Summary]) -> list[list[str]]:
    by_key = {(s.rows, s.impl): s for s in summaries}
    lines = []
    for (rows, impl), with_crc in by_key.items():
        without = by_key.get((rows, "ours-nocrc"))
        if impl != "ours" or without is None:
            continue
        lines.append(
            [
                f"{rows:,}",
                f"{with_crc.wall_s:.2f}",
                f"{without.wall_s:.2f}",
                f"{with_crc.work_s:.2f}",
                f"{without.work_s:.2f}",
                f"{with_crc.peak_rss_bytes / MIB:.1f}",
                f"{without.peak_rss_bytes / MIB:.1f}",
            ]
        )
    return lines


def verdict(summaries: list[Summary]) -> str:
    """The target, judged on wall time (process spawn to exit, imports included)."""
    by_key = {(s.rows, s.impl): s for s in summaries}
    ours, naive = by_key.get((SPEED_TARGET_ROWS, "ours")), by_key.get((SPEED_TARGET_ROWS, "naive"))
    if not (ours and naive):
        return f"VERDICT {SPEED_TARGET_ROWS:,} rows: not measured (needs both handlers)"
    speedup, work = naive.wall_s / ours.wall_s, naive.work_s / ours.work_s
    return (
        f"VERDICT {SPEED_TARGET_ROWS:,} rows: our handler {speedup:.1f}x faster than naive on wall time "
        f"({work:.1f}x on the handler call alone); target >= {SPEED_TARGET:g}x: "
        + ("MET" if speedup >= SPEED_TARGET else f"MISSED by {SPEED_TARGET / speedup:.2f}x")
    )


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=parse_sizes, default=parse_sizes(DEFAULT_SIZES), help=DEFAULT_SIZES)
    parser.add_argument("--with-5m", action="store_true", help=f"also run {BIG_ROWS:,} rows")
    parser.add_argument("--repeat", type=positive_int, default=3, help="runs per handler and size (median is shown)")
    parser.add_argument(
        "--skip-naive-above", type=int, default=None, metavar="ROWS", help="run the naive handler only up to ROWS"
    )
    parser.add_argument("--no-nocrc", action="store_true", help="skip the run without CRC32 part checksums")
    args = parser.parse_args(argv)
    if args.with_5m and BIG_ROWS not in args.sizes:
        args.sizes.append(BIG_ROWS)
    return args


def main(argv: list[str]) -> int:
    if argv[:1] == ["child"]:
        child_main(argv[1:])
        return 0
    args = parse_args(argv)
    print("\n".join(machine_lines()))
    print(f"sizes {args.sizes}; repeat {args.repeat}: median wall/work time, largest peak RSS (VmHWM)")
    print("S3: moto ThreadedMotoServer on 127.0.0.1 in the benchmark process: local HTTP, same machine and CPUs")
    s3 = LocalS3()
    summaries: list[Summary] = []
    correctness: list[list[str]] = []
    all_ok = True
    try:
        for rows in args.sizes:
            with_naive = args.skip_naive_above is None or rows <= args.skip_naive_above
            measured, checks = measure_size(s3, rows, args.repeat, with_naive, not args.no_nocrc)
            summaries += measured
            correctness.append(correctness_row(rows, checks))
            all_ok = all_ok and correctness_ok(checks)
    finally:
        s3.stop()
    print("\nHandler time and memory (wall = process spawn to exit; work = the handler call)")
    print(format_table(COMPARISON_HEADER, comparison_rows(summaries)))
    crc = checksum_rows(summaries)
    if crc:
        print("\nCRC32 part checksums under moto: ours with them vs without (medians; peak = largest)")
        print(format_table(CHECKSUM_HEADER, crc))
    print("\nCorrectness of the outputs in S3")
    print(format_table(CORRECTNESS_HEADER, correctness))
    print()
    print(verdict(summaries))
    big = next((s for s in summaries if s.rows == BIG_ROWS and s.impl == "ours"), None)
    if big:
        peak = max(big.peak_rss_bytes, big.sampled_rss_bytes)  # the larger of VmHWM and sampled VmRSS
        print(
            f"VERDICT {BIG_ROWS:,} rows memory: our handler peak {peak / 1e6:.0f} MB ({peak / MIB:.0f} MiB); "
            f"target <= {BIG_RSS_TARGET_MB} MB: "
            + ("MET" if peak / 1e6 <= BIG_RSS_TARGET_MB else f"MISSED by {peak / 1e6 - BIG_RSS_TARGET_MB:.0f} MB")
        )
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
