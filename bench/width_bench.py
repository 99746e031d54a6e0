"""Wide inputs: the handler's time and memory by column count, at and past pipeline.max_columns.

    python -m bench.width_bench                                  # the tables in docs/BENCHMARKS.md
    python -m bench.width_bench --widths 1000 --rows 3 --repeat 1  # a cheap smoke run

Issue 19 (item 5): 2,000 columns x 3 rows (23 KB) took 10.9 s and 690 MB, writing a 61 MB
correlation.csv and a 64 MB history; 100,000 columns ended in an untyped MemoryError; after a
3,000-column run a normal 768-row run took 22.9 s (it read the wide history). This measures
the same runs now: the whole handler (bench.limits_bench's child: S3 in and out against
moto's S3 server in this process, a fresh interpreter per run, its CPU time and peak memory),
on generated inputs of numeric columns (normal values, 5% blank cells).

Tables:
1. width x rows at and under the default limit (and one width past it, with MAX_COLUMNS
   raised, for the trend): input size, wall/CPU time, the duration the default function
   (1024 MB = 0.579 vCPU) would take (CPU s / 0.579, as bench.limits_bench reads it), peak
   memory (the larger of VmHWM and the sampled VmRSS), correlation.csv and history.json sizes.
2. a header past the limit (100,000 columns with the default MAX_COLUMNS): how long the
   run takes to refuse it, and its peak.
3. a normal run (the 768-row sample) with no history, after one wide run, and after as many
   wide runs as the history keeps: its handler time and the history it reads.
Timings are never asserted.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import resource
import statistics
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as `python bench/width_bench.py`: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    DATA_DIR,
    MIB,
    format_table,
    machine_lines,
    parse_sizes,
    positive_int,
    progress,
    report_from_child,
    run_child,
    start_sampler,
)
from bench.handler_bench import BUCKET, LocalS3

MODULE = "bench.width_bench"
DEFAULT_WIDTHS = "100,500,1000,2000"
DEFAULT_ROWS = "3,1000,10000"
OVER_LIMIT_WIDTH = 100_000
VCPU_SHARE = 1024 / 1769  # the default function's CPU share (AWS Lambda docs: 1 vCPU at 1,769 MB)
SEED = 19
SAMPLE = Path(__file__).resolve().parent.parent / "dataops_cli" / "starter" / "diabetes_preprocessed.csv"


def wide_input(width: int, rows: int) -> Path:
    """A generated CSV of `width` numeric columns and `rows` rows (cached under bench/data/)."""
    path = DATA_DIR / f"wide-{width}x{rows}-seed{SEED}.csv"
    if path.exists():
        return path
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pacsv

    rng = np.random.default_rng(SEED)
    columns = {}
    for i in range(width):
        values = np.round(rng.normal(100, 15, rows), 3)
        columns[f"c{i}"] = pa.array(values, mask=rng.random(rows) < 0.05 if rows > 3 else None)
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    pacsv.write_csv(pa.table(columns), partial)
    partial.replace(path)
    return path


def header_only(width: int) -> Path:
    """A header of `width` columns and three short rows: the issue's 100,000-column case."""
    path = DATA_DIR / f"wide-{width}x3-header.csv"
    if not path.exists():
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        row = ",".join("1" for _ in range(width))
        path.write_text(",".join(f"c{i}" for i in range(width)) + "\n" + f"{row}\n" * 3)
    return path


# --------------------------------------------------------------------------- child


def child_main() -> None:
    """`child`: the handler once, cold; a PipelineError is a result here (reported, not raised)."""
    start_sampler()
    from handler.errors import PipelineError
    from handler.lambda_function import lambda_handler

    before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    captured = io.StringIO()
    try:
        with contextlib.redirect_stdout(captured):
            response = lambda_handler({}, None)
        status, outputs = response["status"], response["outputs"]
    except PipelineError as exc:
        status, outputs = f"{type(exc).__name__}", {}
    finished = time.perf_counter()
    after = resource.getrusage(resource.RUSAGE_SELF)
    report_from_child(
        {
            "work_s": finished - started,
            "cpu_s": (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime),
            "status": status,
            "outputs": outputs,
        }
    )


# --------------------------------------------------------------------------- parent


def run_once(s3: LocalS3, input_key: str, prefix: str, max_columns: int | None) -> dict[str, Any]:
    env = s3.env(input_key, prefix)
    env["ZERO_AS_MISSING"] = ""
    env["NORMALIZE_EXCLUDE"] = ""
    if max_columns is not None:
        env["MAX_COLUMNS"] = str(max_columns)
    run = run_child(MODULE, ["child"], env)
    report = run.report
    report["wall_s"] = run.wall_s
    report["peak"] = max(run.peak_rss_bytes, run.sampled_rss_bytes)
    return report


def object_size(s3: LocalS3, key: str) -> int:
    try:
        return s3.client.head_object(Bucket=BUCKET, Key=key)["ContentLength"]
    except s3.client.exceptions.ClientError:
        return 0


def measure_width(s3: LocalS3, width: int, rows: int, repeat: int, limit: int) -> list[str]:
    source = wide_input(width, rows)
    key = f"input/{source.name}"
    s3.client.upload_file(str(source), BUCKET, key)
    reports = []
    for index in range(repeat):
        prefix = f"bench/{width}x{rows}/{index}/"
        reports.append(run_once(s3, key, prefix, max_columns=max(width, limit)))
        report = reports[-1]
        progress(
            f"  {width:>6} x {rows:>6}: {report['status']}, wall {report['wall_s']:.2f} s, "
            f"cpu {report['cpu_s']:.2f} s, peak {report['peak'] / MIB:.0f} MiB"
        )
    last = reports[-1]
    correlation = object_size(s3, last["outputs"].get("correlation", "")) if last["outputs"] else 0
    history = object_size(s3, f"bench/{width}x{rows}/{repeat - 1}/quality/history.json")
    s3.delete_prefix(f"bench/{width}x{rows}/")
    s3.delete_prefix(key)
    cpu = statistics.median(r["cpu_s"] for r in reports)
    return [
        f"{width:,}" + (" (limit raised)" if width > limit else ""),
        f"{rows:,}",
        f"{source.stat().st_size / 1e6:.2f}",
        last["status"],
        f"{statistics.median(r['wall_s'] for r in reports):.2f}",
        f"{statistics.median(r['work_s'] for r in reports):.2f}",
        f"{cpu:.2f}",
        f"{cpu / VCPU_SHARE:.1f}",
        f"{max(r['peak'] for r in reports) / MIB:.0f}",
        f"{correlation / 1e6:.2f}",
        f"{history / 1e3:.0f}",
    ]


WIDTH_HEADER = [
    "columns",
    "rows",
    "input MB",
    "status",
    "wall s",
    "handler s",
    "CPU s",
    "est. s at 1024 MB",
    "peak MiB",
    "correlation.csv MB",
    "history KB",
]


def measure_over_limit(s3: LocalS3, repeat: int) -> list[str]:
    source = header_only(OVER_LIMIT_WIDTH)
    key = f"input/{source.name}"
    s3.client.upload_file(str(source), BUCKET, key)
    reports = [run_once(s3, key, f"bench/over/{i}/", max_columns=None) for i in range(repeat)]
    s3.delete_prefix("bench/over/")
    s3.delete_prefix(key)
    return [
        f"{OVER_LIMIT_WIDTH:,}",
        f"{source.stat().st_size / 1e6:.2f}",
        reports[-1]["status"],
        f"{statistics.median(r['work_s'] for r in reports):.2f}",
        f"{max(r['peak'] for r in reports) / MIB:.0f}",
    ]


def measure_after_wide(s3: LocalS3, width: int, repeat: int) -> list[list[str]]:
    """The sample's run time with no history, after one wide run, after enough wide runs to fill the history."""
    from handler.quality import QualitySettings

    wide = wide_input(width, 3)
    wide_key, sample_key = f"input/{wide.name}", "input/sample.csv"
    s3.client.upload_file(str(wide), BUCKET, wide_key)
    s3.client.upload_file(str(SAMPLE), BUCKET, sample_key)
    lines = []
    for label, wide_runs in (("no history", 0), ("after 1 wide run", 1), ("after a full history", None)):
        prefix = f"bench/after/{wide_runs}/"
        runs = QualitySettings().history_runs if wide_runs is None else wide_runs
        for _ in range(runs):
            run_once(s3, wide_key, prefix, max_columns=width)
        history = object_size(s3, prefix + "quality/history.json")
        times = []
        for _ in range(repeat):
            # the sample's own runs would join the history: measure each against the same one
            body = (
                s3.client.get_object(Bucket=BUCKET, Key=prefix + "quality/history.json")["Body"].read()
                if history
                else None
            )
            report = run_once(s3, sample_key, prefix, max_columns=None)
            times.append(report["work_s"])
            if body is not None:
                s3.client.put_object(Bucket=BUCKET, Key=prefix + "quality/history.json", Body=body)
        lines.append([label, f"{history / 1e3:.0f}", f"{statistics.median(times):.2f}", report["status"]])
        s3.delete_prefix(prefix)
    s3.delete_prefix(wide_key)
    s3.delete_prefix(sample_key)
    return lines


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--widths", type=parse_sizes, default=parse_sizes(DEFAULT_WIDTHS), help=DEFAULT_WIDTHS)
    parser.add_argument("--rows", type=parse_sizes, default=parse_sizes(DEFAULT_ROWS), help=DEFAULT_ROWS)
    parser.add_argument("--repeat", type=positive_int, default=3, help="runs per case (median shown)")
    parser.add_argument(
        "--max-cells", type=int, default=10_000_000, help="skip widths x rows above this (default 10M cells)"
    )
    parser.add_argument("--skip-over-limit", action="store_true", help="skip the 100,000-column header")
    parser.add_argument("--skip-after-wide", action="store_true", help="skip the normal-run-after-wide table")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    if argv[:1] == ["child"]:
        child_main()
        return 0
    from handler.contract import DEFAULT_MAX_COLUMNS

    args = parse_args(argv)
    print("\n".join(machine_lines()))
    s3 = LocalS3()
    try:
        cases = [(w, r) for w in args.widths for r in args.rows if w * r <= args.max_cells]
        table = [measure_width(s3, w, r, args.repeat, DEFAULT_MAX_COLUMNS) for w, r in cases]
        over = [] if args.skip_over_limit else [measure_over_limit(s3, args.repeat)]
        after = [] if args.skip_after_wide else measure_after_wide(s3, DEFAULT_MAX_COLUMNS, args.repeat)
    finally:
        s3.stop()
    print(f"\nWidth (default MAX_COLUMNS = {DEFAULT_MAX_COLUMNS:,}); medians of {args.repeat}, largest peak")
    print(format_table(WIDTH_HEADER, table))
    if over:
        print("\nA header past the limit (default MAX_COLUMNS)")
        print(format_table(["columns", "input MB", "status", "handler s", "peak MiB"], over))
    if after:
        print(f"\nThe 768-row sample after {DEFAULT_MAX_COLUMNS:,}-column runs (history read and checked)")
        print(format_table(["history", "history KB", "handler s", "status"], after))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
