"""When to switch to Glue: the largest input the function handles, measured, then extrapolated.

    python -m bench.limits_bench                          # 1M, 2M, 4M, 6M, 8M, 10M, 12M rows
    python -m bench.limits_bench --sizes 1e6,2e6 --repeat 1

Runs the whole handler (bench.handler_bench's "ours" child: S3 in and out against moto's S3
server in this process, a fresh interpreter per run, the default settings and data-quality
checks) at growing sizes and records, per run, the handler process's peak memory (the
larger of VmHWM and the 5 ms VmRSS samples, see bench/common.py), its CPU time (user + sys,
all threads) and its wall time. It stops after the first size whose peak goes over the
default function's memory budget (below): larger inputs cannot run there, so measuring
them says nothing new.

Then it fits straight lines peak = a + b * rows and cpu = c + d * rows by least squares over
the measured sizes and extrapolates to the function's default (1024 MB, 60 s) and maximum
(10,240 MB, 900 s) settings. What is measured and what is extrapolated are printed apart.

Assumptions (printed with the result):
- Memory budget: Lambda counts the whole sandbox, whose runtime (bootstrap, runtime
  interface client) needs about 60-70 MB of its own; RUNTIME_MB = 70 is kept back, and
  "MB" is read as 10^6 bytes (stricter than MiB, the repository's convention).
- Time budget: the handler stops itself SAFETY_MARGIN_S = 5 s before the timeout.
- CPU: Lambda gives a function CPU in proportion to its memory, one vCPU at 1,769 MB
  (AWS Lambda docs, "Configuring Lambda function memory"), so at 1024 MB the handler gets
  0.579 of a vCPU while it had a whole core here; its duration there is taken as its CPU
  seconds here / 0.579 (the load on this machine inflates wall time, not CPU time). At
  10,240 MB (5.8 vCPUs) the duration is taken as its CPU seconds (at least one full vCPU;
  the handler is mostly single-threaded, so more vCPUs are not counted as a speed-up).
- S3 here is moto on the same machine, so the transfer time Lambda would spend on S3 is not
  in the measurements. It is added as a stated assumption: the input and every output
  (their sizes are measured) moved at S3_MB_PER_S (default 100 MB/s, `--s3-mb-per-s`),
  not overlapped with the CPU work; the "time" limit is shown with and without it.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as `python bench/limits_bench.py`: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    ensure_input,
    format_table,
    machine_lines,
    parse_sizes,
    positive_int,
    progress,
    report_from_child,
    run_child,
    start_sampler,
)
from bench.handler_bench import BUCKET, LocalS3, child_ours

MODULE = "bench.limits_bench"
DEFAULT_SIZES = "1e6,2e6,4e6,6e6,8e6,10e6,12e6"
MB = 1_000_000
RUNTIME_MB = 70  # the Lambda runtime's own share of the sandbox's memory
SAFETY_MARGIN_S = 5  # handler.lambda_function.SAFETY_MARGIN_MS
VCPU_MB = 1769  # one full vCPU at this memory size (AWS Lambda docs)
SETTINGS = {"default": (1024, 60), "maximum": (10240, 900)}
S3_MB_PER_S = 100.0  # an assumption, not a measurement (see the module docstring)


def child_main(argv: list[str]) -> None:
    """`child`: the handler once, cold, with the CPU time of the handler call added to the report.

    The handler module is imported first (on Lambda that is the init phase, not the invocation's
    duration); boto3 is still imported inside the call, as it is on Lambda.
    """
    start_sampler()
    import handler.lambda_function  # noqa: F401

    before = resource.getrusage(resource.RUSAGE_SELF)
    report = child_ours()
    after = resource.getrusage(resource.RUSAGE_SELF)
    report["cpu_s"] = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    report["outputs"] = {}  # not needed here: keeps the report line short
    report_from_child(report)


@dataclass
class Point:
    rows: int
    peaks: list[int] = field(default_factory=list)  # bytes, the larger of VmHWM and sampled VmRSS
    cpu: list[float] = field(default_factory=list)
    wall: list[float] = field(default_factory=list)  # the handler call (work_s), imports excluded
    load: list[float] = field(default_factory=list)  # 1-minute load average after each run
    input_bytes: int = 0
    output_bytes: int = 0  # every object the run wrote (cleaned.csv is most of it)

    @property
    def peak_mb(self) -> float:
        return max(self.peaks) / MB

    @property
    def cpu_s(self) -> float:
        return statistics.median(self.cpu)

    @property
    def wall_s(self) -> float:
        return statistics.median(self.wall)


def measure(s3: LocalS3, rows: int, repeat: int) -> Point:
    source = ensure_input(rows)
    input_key = f"input/{source.name}"
    s3.client.upload_file(str(source), BUCKET, input_key)
    point = Point(rows, input_bytes=source.stat().st_size)
    try:
        for index in range(1, repeat + 1):
            prefix = f"limits/{rows}/{index}/"
            run = run_child(MODULE, ["child"], s3.env(input_key, prefix))
            report: dict[str, Any] = run.report
            if report["status"] != "succeeded":
                raise RuntimeError(f"{rows:,} rows: the handler's run ended {report['status']!r}")
            point.peaks.append(max(int(report["peak_rss_bytes"]), int(report.get("sampled_rss_bytes", 0))))
            point.cpu.append(float(report["cpu_s"]))
            point.wall.append(float(report["work_s"]))
            point.load.append(os.getloadavg()[0])
            progress(
                f"  {rows:>11,} run {index}/{repeat}: peak {point.peaks[-1] / MB:7.1f} MB, "
                f"cpu {point.cpu[-1]:6.2f} s, handler wall {point.wall[-1]:6.2f} s, load {point.load[-1]:.2f}"
            )
            listing = s3.client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
            point.output_bytes = sum(o["Size"] for page in listing for o in page.get("Contents", []))
            s3.delete_prefix(prefix)  # moto keeps every object in this process
    finally:
        s3.delete_prefix(input_key)
    return point


def fit(xs: list[float], ys: list[float]) -> tuple[float, float]:
    """(intercept, slope) of the least-squares line; one point gives a line through the origin."""
    if len(xs) == 1:
        return 0.0, ys[0] / xs[0]
    slope, intercept = statistics.linear_regression(xs, ys)
    return intercept, slope


def limits(points: list[Point], s3_mb_per_s: float) -> tuple[list[list[str]], list[str]]:
    """The extrapolation table and the lines that say how it was made."""
    xs = [float(p.rows) for p in points]
    mem_a, mem_b = fit(xs, [p.peak_mb for p in points])
    cpu_a, cpu_b = fit(xs, [p.cpu_s for p in points])
    io_a, io_b = fit(xs, [(p.input_bytes + p.output_bytes) / MB / s3_mb_per_s for p in points])
    notes = [
        f"fit over {len(points)} sizes: peak MB = {mem_a:.1f} + {mem_b * 1e6:.1f} per million rows "
        f"({mem_b * MB:.0f} bytes/row); CPU s = {cpu_a:.2f} + {cpu_b * 1e6:.2f} per million rows; "
        f"S3 transfer at {s3_mb_per_s:g} MB/s (assumed) = {io_a:.2f} + {io_b * 1e6:.2f} s per million rows",
    ]
    table = []
    for memory_mb, timeout_s in SETTINGS.values():
        share = min(memory_mb / VCPU_MB, 1.0)  # more than one vCPU is not counted as a speed-up
        budget_mb = memory_mb - RUNTIME_MB
        budget_s = timeout_s - SAFETY_MARGIN_S
        rows_by_memory = (budget_mb - mem_a) / mem_b
        rows_by_cpu = (budget_s - cpu_a / share) / (cpu_b / share)
        rows_by_time = (budget_s - cpu_a / share - io_a) / (cpu_b / share + io_b)
        fitting = [
            p
            for p in points
            if p.peak_mb <= budget_mb
            and p.cpu_s / share + (p.input_bytes + p.output_bytes) / MB / s3_mb_per_s <= budget_s
        ]
        largest = max(fitting, key=lambda p: p.rows) if fitting else None
        table.append(
            [
                f"{memory_mb:,} MB / {timeout_s} s",
                f"{share:.3f}",
                f"{budget_mb:,} MB / {budget_s} s",
                f"{largest.rows:,}" if largest else "none",
                f"{rows_by_memory / 1e6:.1f}M",
                f"{rows_by_cpu / 1e6:.1f}M",
                f"{rows_by_time / 1e6:.1f}M",
                "memory" if rows_by_memory < rows_by_time else "time",
                f"{min(rows_by_memory, rows_by_time) / 1e6:.1f}M",
            ]
        )
    return table, notes


POINT_HEADER = [
    "rows",
    "CSV MB",
    "outputs MB",
    "peak MB",
    "peak bytes/row",
    "CPU s",
    "handler wall s",
    "est. CPU s at 1024 MB",
    "load",
]
LIMIT_HEADER = [
    "function",
    "vCPU share",
    "budget (memory / time)",
    "largest measured that fits",
    "rows by memory (extrap.)",
    "rows by CPU time (extrap.)",
    "rows by CPU + S3 time (extrap.)",
    "binding",
    "largest input (extrap.)",
]


def main(argv: list[str]) -> int:
    if argv[:1] == ["child"]:
        child_main(argv[1:])
        return 0
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=parse_sizes, default=parse_sizes(DEFAULT_SIZES), help=DEFAULT_SIZES)
    parser.add_argument("--repeat", type=positive_int, default=2, help="runs per size (largest peak, median times)")
    parser.add_argument(
        "--s3-mb-per-s", type=float, default=S3_MB_PER_S, help="assumed S3 throughput of the function (MB/s)"
    )
    args = parser.parse_args(argv)
    print("\n".join(machine_lines()))
    default_mb, _timeout = SETTINGS["default"]
    budget_mb = default_mb - RUNTIME_MB
    print(
        f"sizes {args.sizes}; repeat {args.repeat}; stops after the first size whose peak exceeds "
        f"{budget_mb} MB ({default_mb} MB minus {RUNTIME_MB} MB for the Lambda runtime)"
    )
    share = default_mb / VCPU_MB
    s3 = LocalS3()
    points: list[Point] = []
    try:
        for rows in args.sizes:
            point = measure(s3, rows, args.repeat)
            points.append(point)
            if point.peak_mb > budget_mb:
                progress(f"  {rows:,} rows peak {point.peak_mb:.0f} MB > {budget_mb} MB: stopping here")
                break
    finally:
        s3.stop()
    print("\nMeasured: the handler end to end (fresh process per run; peak = largest, times = median)")
    rows_table = [
        [
            f"{p.rows:,}",
            f"{p.input_bytes / MB:.0f}",
            f"{p.output_bytes / MB:.0f}",
            f"{p.peak_mb:.1f}",
            f"{max(p.peaks) / p.rows:.0f}",
            f"{p.cpu_s:.2f}",
            f"{p.wall_s:.2f}",
            f"{p.cpu_s / share:.1f}",
            " ".join(f"{x:.1f}" for x in p.load),
        ]
        for p in points
    ]
    print(format_table(POINT_HEADER, rows_table))
    table, notes = limits(points, args.s3_mb_per_s)
    print("\nExtrapolated from straight-line fits (budget = memory minus the runtime's share, timeout minus 5 s)")
    print("\n".join(notes))
    print(format_table(LIMIT_HEADER, table))
    print(
        f"\nassumptions: duration on Lambda = CPU s here / min(memory / {VCPU_MB} MB, 1) (one vCPU at {VCPU_MB} MB), "
        f"plus (CSV + outputs) / {args.s3_mb_per_s:g} MB/s of S3 transfer, not overlapped (moto here is local)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
