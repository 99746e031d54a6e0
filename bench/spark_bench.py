"""Time the Spark job (handler/spark_job) next to the function's pipeline core, and say where
Spark would overtake it on a bigger machine.

    python -m bench.spark_bench                          # 1M and 5M rows, 1 run each
    python -m bench.spark_bench --sizes 1e6 --repeat 3   # median of 3
    python -m bench.spark_bench --cores 2                # Spark master local[2] (default: all cores)

Both run in fresh interpreters on the same cached input (bench/data, data/generate.py with
5% blanks). "handler" is `bench.pipeline_bench child ours`: read_columns -> process ->
cleaned.csv and the side files, on local files. "spark" is `run_job` with a local
SparkSession; its wall time includes the JVM and session start, reported apart as
`startup_s`. After timing, a verify child checks the Spark outputs against the handler's
(medians and min/max exact, normalized values within 1e-12, correlations within 1e-9).

The crossover is a model, printed with its assumption: the handler's time grows linearly
with rows on one machine whatever its size (its pipeline is single-process; only CSV
parsing and formatting use a few threads), while the Spark job's per-row time divides by
the cores it gets (every pass is a data-parallel scan or aggregation) plus a fixed
start-up. Timings are never asserted.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    DATA_DIR,
    MIB,
    Summary,
    ensure_input,
    format_table,
    machine_lines,
    parse_sizes,
    positive_int,
    progress,
    report_from_child,
    run_child,
)

MODULE = "bench.spark_bench"
OUT_DIR = DATA_DIR / "out" / "spark"
DEFAULT_SIZES = "1000000,5000000"
GLUE_START_S = 30.0  # assumption for Glue: a warm-pool job run start (cold starts can take minutes)
MODEL_CORES = (8, 16, 32, 64)  # e.g. Glue G.1X workers have 4 vCPU: 2, 4, 8, 16 workers
LAMBDA_MAX_MB, LAMBDA_TIMEOUT_S = 10_240, 900  # a function's largest memory and timeout


def child_spark(input_file: Path, out_dir: Path, cores: str) -> dict[str, Any]:
    started = time.perf_counter()
    from handler.pipeline import PipelineOptions
    from handler.spark_job.__main__ import local_session
    from handler.spark_job.job import run_job
    from handler.spark_job.store import LocalInput, LocalOutput

    imported = time.perf_counter()
    spark = local_session(f"local[{cores}]")
    spark.sparkContext.setLogLevel("ERROR")
    ready = time.perf_counter()
    response = run_job(spark, LocalInput(input_file), LocalOutput(out_dir), PipelineOptions(), stream=io.StringIO())
    done = time.perf_counter()
    spark.stop()
    summary = json.loads((out_dir / response["outputs"]["summary"]).read_text())
    timings = summary["timings_ms"]
    return {
        "rows": response["rows"],
        "import_s": imported - started,
        "startup_s": ready - imported,
        "work_s": done - ready,
        **{name.removesuffix("_ms") + "_s": ms / 1000 for name, ms in timings.items()},
        "latest": str(out_dir / "latest.json"),
    }


def child_verify(handler_dir: Path, spark_dir: Path) -> dict[str, Any]:
    """The Spark run's outputs against the handler's, the tolerances of tests/e2e/test_spark_job.py."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pacsv

    latest = json.loads((spark_dir / "latest.json").read_text())
    outputs = {k: spark_dir / v for k, v in latest["outputs"].items()}
    manifest = json.loads(outputs["cleaned"].read_text())
    spark_summary = json.loads(outputs["summary"].read_text())
    ours_summary = json.loads((handler_dir / "summary.json").read_text())
    handler_table = pacsv.read_csv(handler_dir / "cleaned.csv")
    same_types = pacsv.ConvertOptions(column_types=handler_table.schema)
    parts = [pacsv.read_csv(spark_dir / p["key"], convert_options=same_types) for p in manifest["parts"]]
    spark_table = pa.concat_tables(parts)
    normalized = set(ours_summary["normalized_columns"])
    worst_normalized, other_equal = 0.0, True
    for name in handler_table.column_names:
        if pa.types.is_string(handler_table.schema.field(name).type):
            other_equal = other_equal and handler_table[name].equals(spark_table[name])
            continue
        a = handler_table[name].to_numpy().astype(float)
        b = spark_table[name].to_numpy().astype(float)
        if name in normalized:
            worst_normalized = max(worst_normalized, float(np.abs(a - b).max()))
        else:
            other_equal = other_equal and bool(np.array_equal(a, b))
    corr = [_matrix(spark_dir / latest["outputs"]["correlation"]), _matrix(handler_dir / "correlation.csv")]
    both = ~np.isnan(corr[0]) & ~np.isnan(corr[1])
    return {
        "rows_equal": spark_table.num_rows == handler_table.num_rows,
        "medians_exact": spark_summary["imputed_values"] == ours_summary["imputed_values"],
        "missing_equal": spark_summary["missing_before_imputation"] == ours_summary["missing_before_imputation"],
        "normalized_max_abs_diff": worst_normalized,
        "unnormalized_equal": other_equal,
        "correlation_max_abs_diff": float(np.abs(corr[0] - corr[1])[both].max()),
        "correlation_nan_same": bool((np.isnan(corr[0]) == np.isnan(corr[1])).all()),
    }


def _matrix(path: Path) -> Any:
    import numpy as np

    lines = path.read_text().splitlines()[1:]
    return np.array([[float(v) if v else math.nan for v in line.split(",")[1:]] for line in lines])


def verified(checks: dict[str, Any]) -> bool:
    return (
        checks["rows_equal"]
        and checks["medians_exact"]
        and checks["missing_equal"]
        and checks["unnormalized_equal"]
        and checks["correlation_nan_same"]
        and checks["normalized_max_abs_diff"] <= 1e-12
        and checks["correlation_max_abs_diff"] <= 1e-9
    )


def child_main(argv: list[str]) -> None:
    kind, *args = argv
    if kind == "spark":
        input_file, out_dir, cores = args
        report = child_spark(Path(input_file), Path(out_dir), cores)
    else:
        report = child_verify(Path(args[0]), Path(args[1]))
    report_from_child(report)


def measure(rows: int, repeat: int, cores: str) -> tuple[Summary, Summary, dict[str, Any]]:
    """Handler then Spark in each round (load changes fall on both alike), then one verify."""
    source = ensure_input(rows)
    handler_dir = OUT_DIR / str(rows) / "handler"
    handler_dir.mkdir(parents=True, exist_ok=True)
    handler, spark = Summary(impl="handler", rows=rows), Summary(impl="spark", rows=rows)
    for index in range(1, repeat + 1):
        spark_dir = OUT_DIR / str(rows) / f"spark-{time.time_ns()}"
        turns = (
            (handler, "bench.pipeline_bench", ["child", "ours", str(source), str(handler_dir)]),
            (spark, MODULE, ["child", "spark", str(source), str(spark_dir), cores]),
        )
        for summary, module, args in turns:
            run = run_child(module, args)
            summary.runs.append(run)
            progress(
                f"  {rows:>9,} {summary.impl:<7} run {index}/{repeat}: wall {run.wall_s:7.2f} s, "
                f"work {run.work_s:7.2f} s, peak {run.peak_rss_bytes / MIB:7.1f} MiB"
            )
    checks = run_child(MODULE, ["child", "verify", str(handler_dir), str(spark_dir)]).report
    progress(f"  {rows:>9,} correctness: {'PASS' if verified(checks) else 'FAIL'} {json.dumps(checks)}")
    return handler, spark, checks


def crossover_lines(pairs: list[tuple[Summary, Summary]], local_cores: int) -> list[str]:
    """Where Spark's time (start-up + rows x per-row cost x local_cores / cores) meets the handler's."""
    biggest_handler, biggest_spark = pairs[-1]
    rows = biggest_handler.rows
    handler_per_row = biggest_handler.wall_s / rows
    spark_per_row = biggest_spark.work_s / rows
    lines = [
        f"per row at {rows:,} rows: handler {handler_per_row * 1e6:.2f} us (wall); spark "
        f"{spark_per_row * 1e6:.2f} us on {local_cores} cores (after a {biggest_spark.stage('startup_s'):.1f} s "
        "session start)",
        f"ASSUMPTION: the handler does not get faster with more cores; Spark's per-row cost divides by "
        f"cores/{local_cores}; a Glue job run starts in {GLUE_START_S:g} s (warm; cold starts take longer).",
    ]
    by_memory = LAMBDA_MAX_MB * MIB / (biggest_handler.peak_rss_bytes / rows)
    by_time = LAMBDA_TIMEOUT_S / handler_per_row
    lines.append(
        f"the function's ceiling at this per-row cost and peak ({biggest_handler.peak_rss_bytes / rows:.0f} B/row): "
        f"~{by_memory / 1e6:,.0f}M rows in {LAMBDA_MAX_MB:,} MB, ~{by_time / 1e6:,.0f}M rows in {LAMBDA_TIMEOUT_S} s "
        f"(one core's speed); past ~{min(by_memory, by_time) / 1e6:,.0f}M rows only Spark runs at all"
    )
    for cores in MODEL_CORES:
        spark_rate = spark_per_row * local_cores / cores
        if spark_rate >= handler_per_row:
            lines.append(f"  {cores:>3} cores: Spark never catches up (per row {spark_rate * 1e6:.2f} us)")
            continue
        crossover = GLUE_START_S / (handler_per_row - spark_rate)
        lines.append(
            f"  {cores:>3} cores: Spark is faster above ~{crossover / 1e6:,.1f}M rows "
            f"(~{crossover * 30 / 1e6:,.0f} MB of CSV at ~30 B/row)"
        )
    return lines


def main(argv: list[str]) -> int:
    if argv[:1] == ["child"]:
        child_main(argv[1:])
        return 0
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=parse_sizes, default=parse_sizes(DEFAULT_SIZES), help=DEFAULT_SIZES)
    parser.add_argument("--repeat", type=positive_int, default=1)
    parser.add_argument("--cores", default="*", help="Spark local[N] (default *: every core)")
    args = parser.parse_args(argv)
    local_cores = (os.cpu_count() or 1) if args.cores == "*" else int(args.cores)
    print("\n".join(machine_lines()))
    print(f"sizes {args.sizes}; repeat {args.repeat} (median shown); spark local[{args.cores}]")
    pairs, rows_out, ok = [], [], True
    for rows in args.sizes:
        handler, spark, checks = measure(rows, args.repeat, args.cores)
        pairs.append((handler, spark))
        ok = ok and verified(checks)
        rows_out.append(
            [
                f"{rows:,}",
                f"{handler.wall_s:.2f}",
                f"{handler.peak_rss_bytes / MIB:.0f}",
                f"{spark.wall_s:.2f}",
                f"{spark.stage('startup_s'):.2f}",
                f"{spark.work_s:.2f}",
                f"{spark.stage('read_s'):.2f}",
                f"{spark.stage('impute_s'):.2f}",
                f"{spark.stage('correlate_s'):.2f}",
                f"{spark.stage('normalize_s'):.2f}",
                f"{statistics.median(r.wall_s for r in spark.runs) / handler.wall_s:.1f}x",
                "PASS" if verified(checks) else "FAIL",
            ]
        )
    header = [
        "rows",
        "handler wall s",
        "handler peak MiB",
        "spark wall s",
        "spark start s",
        "spark work s",
        "read s",
        "impute s",
        "stats+corr s",
        "parts s",
        "spark/handler",
        "same outputs",
    ]
    print("\nHandler core vs Spark job (wall = process spawn to exit; spark work = after session start)")
    print(format_table(header, rows_out))
    print("\nCrossover model")
    print("\n".join(crossover_lines(pairs, local_cores)))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
