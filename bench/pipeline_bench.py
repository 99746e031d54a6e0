"""Benchmark the pipeline core against a naive pandas version on local files.

    python -m bench.pipeline_bench                               # 768, 100k, 1M, 5M rows, 3 runs each
    python -m bench.pipeline_bench --sizes 768,100000 --repeat 1  # a cheap smoke run
    python -m bench.pipeline_bench --skip-naive-above 100000      # naive only where it is quick

Each implementation runs in its own fresh interpreter per size and repeat, so peak RSS is
that run's own. "wall" is the child process from spawn to exit (interpreter start and
imports included: what a cold Lambda pays); "work" is the same run after its imports.
The table shows the median wall and work time over the repeats and the largest peak.

Ours:  handler.reader.read_columns -> handler.pipeline.process -> cleaned.csv (streamed),
       correlation.csv, summary.json, dtypes.json.
Naive: pd.read_csv -> zeros to NaN -> fillna(median) -> min-max -> df.corr() -> df.to_csv,
       summary.json from df.describe(), dtypes.json.
Polars: the same job written with Polars (what a user would pick instead), as a reference
       column measured in the same run (`pip install -e '.[bench]'`; skipped if missing).

The implementations take turns within each repeat (ours, polars, naive, ours, ...), so a
change in the machine's load during the run falls on all of them alike.

Reader: `read_columns` against `pyarrow.csv.read_csv` on the same file, each in a fresh
process, taking turns (`--reader-sizes`).

After timing, a separate child checks correctness: our cleaned.csv and correlation.csv
parse back to exactly the doubles of our in-memory result, and match the naive files
within 1e-12 (normalized values) and 1e-9 (correlation). Timings are never asserted.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as `python bench/pipeline_bench.py`: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    COMPARISON_HEADER,
    CORRECTNESS_HEADER,
    DATA_DIR,
    MIB,
    NOT_NORMALIZED,
    ZERO_AS_MISSING,
    Summary,
    comparison_rows,
    correctness_ok,
    correctness_row,
    ensure_input,
    format_table,
    machine_lines,
    naive_clean,
    naive_side_documents,
    parse_sizes,
    peak_rss_bytes,
    positive_int,
    progress,
    report_from_child,
    run_child,
    start_sampler,
    verify_outputs,
    vm_rss_bytes,
)

MODULE = "bench.pipeline_bench"
OUT_DIR = DATA_DIR / "out" / "pipeline"
DEFAULT_SIZES = "768,100000,1000000,5000000"
SPEED_TARGET_ROWS, SPEED_TARGET = 1_000_000, 10.0
BIG_ROWS, BIG_WALL_TARGET_S, BIG_RSS_TARGET_MB = 5_000_000, 12.0, 600
READER_TARGET = 1.3
DEFAULT_READER_SIZES = "1000000,5000000"
STAGES = ("import_s", "read_s", "process_s", "write_s")
MEMORY_MARKS = ("imported", "read", "processed", "written")


# --------------------------------------------------------------------------- children


def child_ours(input_file: Path, out_dir: Path) -> dict[str, Any]:
    """Our core, end to end on local files; imports timed separately from the work."""
    started = time.perf_counter()
    from handler.outputs import correlation_csv, summary_document, write_cleaned_csv
    from handler.pipeline import PipelineOptions, process
    from handler.reader import read_columns
    from handler.runlog import to_json_bytes

    imported = time.perf_counter()
    memory = {"imported": _memory_mark()}
    columns = read_columns(lambda: input_file.open("rb"), size_hint=input_file.stat().st_size)
    read = time.perf_counter()
    memory["read"] = _memory_mark()
    result = process(columns, PipelineOptions())
    processed = time.perf_counter()
    memory["processed"] = _memory_mark()
    with (out_dir / "cleaned.csv").open("wb") as sink:
        write_cleaned_csv(result, sink)
    (out_dir / "correlation.csv").write_bytes(correlation_csv(result))
    (out_dir / "summary.json").write_bytes(to_json_bytes(summary_document(result, input=str(input_file))))
    (out_dir / "dtypes.json").write_bytes(to_json_bytes(result.dtypes))
    written = time.perf_counter()
    memory["written"] = _memory_mark()
    return {**_timings(started, imported, read, processed, written, rows=result.rows), "memory": memory}


def _memory_mark() -> dict[str, int]:
    """VmHWM and VmRSS at the end of a stage: the memory timeline of the ours table."""
    return {"hwm": peak_rss_bytes(), "rss": vm_rss_bytes()}


def child_polars(input_file: Path, out_dir: Path) -> dict[str, Any]:
    """The same job written with Polars, as a user who reaches for it would write it."""
    started = time.perf_counter()
    import polars as pl

    from handler.reader_basics import NA_TOKENS

    imported = time.perf_counter()
    df = pl.read_csv(input_file, null_values=list(NA_TOKENS), infer_schema_length=10_000)
    read = time.perf_counter()
    zero = list(ZERO_AS_MISSING)
    df = df.with_columns(pl.when(pl.col(c) == 0).then(None).otherwise(pl.col(c)).alias(c) for c in zero)
    numeric = [name for name, dtype in df.schema.items() if dtype.is_numeric()]
    missing = df.null_count().row(0, named=True)
    medians = df.select(pl.col(numeric).median()).row(0, named=True)
    df = df.with_columns(pl.col(c).fill_null(medians[c]) for c in numeric)
    stats = df.select(
        [pl.col(c).min().alias(f"{c}|min") for c in numeric]
        + [pl.col(c).max().alias(f"{c}|max") for c in numeric]
        + [pl.col(c).mean().alias(f"{c}|mean") for c in numeric]
        + [pl.col(c).std(ddof=0).alias(f"{c}|std") for c in numeric]
    ).row(0, named=True)
    correlation = df.select(numeric).corr()
    normalize = [c for c in numeric if c not in NOT_NORMALIZED]
    df = df.with_columns(
        ((pl.col(c) - pl.col(c).min()) / (pl.col(c).max() - pl.col(c).min())).alias(c) for c in normalize
    )
    processed = time.perf_counter()
    df.write_csv(out_dir / "cleaned.csv")
    correlation.insert_column(0, pl.Series("", numeric)).write_csv(out_dir / "correlation.csv")
    summary = {
        "rows": df.height,
        "columns": df.width,
        "missing_before_imputation": missing,
        "imputed_values": {c: medians[c] for c in numeric if missing[c]},
        "statistics_before_normalization": {
            c: {k: stats[f"{c}|{k}"] for k in ("min", "max", "mean", "std")} for c in numeric
        },
    }
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    (out_dir / "dtypes.json").write_text(json.dumps({n: str(t) for n, t in df.schema.items()}, indent=2))
    written = time.perf_counter()
    return _timings(started, imported, read, processed, written, rows=df.height)


def child_read(impl: str, input_file: Path) -> dict[str, Any]:
    """Only the read: our reader or pyarrow's read_csv, into memory."""
    started = time.perf_counter()
    import pyarrow.csv as pacsv

    from handler.reader import read_columns

    imported = time.perf_counter()
    if impl == "ours":
        rows = read_columns(lambda: input_file.open("rb"), size_hint=input_file.stat().st_size).rows
    else:
        rows = pacsv.read_csv(input_file).num_rows
    read = time.perf_counter()
    return {"rows": rows, "import_s": imported - started, "work_s": read - imported}


def child_naive(input_file: Path, out_dir: Path) -> dict[str, Any]:
    """The naive pandas version on the same files."""
    started = time.perf_counter()
    import pandas as pd

    imported = time.perf_counter()
    df = pd.read_csv(input_file)
    read = time.perf_counter()
    result = naive_clean(df)
    processed = time.perf_counter()
    result.cleaned.to_csv(out_dir / "cleaned.csv", index=False)
    for name, data in naive_side_documents(result).items():
        (out_dir / name).write_bytes(data)
    written = time.perf_counter()
    return _timings(started, imported, read, processed, written, rows=len(result.cleaned))


def child_verify(input_file: Path, ours_dir: Path, naive_dir: Path | None) -> dict[str, Any]:
    """Correctness of one size (runs after the timed runs, so it costs them nothing)."""
    naive_cleaned = naive_dir / "cleaned.csv" if naive_dir else None
    naive_corr = (naive_dir / "correlation.csv").read_bytes() if naive_dir else None
    return verify_outputs(
        input_file, ours_dir / "cleaned.csv", (ours_dir / "correlation.csv").read_bytes(), naive_cleaned, naive_corr
    )


def _timings(started: float, imported: float, read: float, processed: float, written: float, rows: int) -> dict:
    return {
        "rows": rows,
        "import_s": imported - started,
        "read_s": read - imported,
        "process_s": processed - read,
        "write_s": written - processed,
        "work_s": written - imported,
    }


def child_main(argv: list[str]) -> None:
    """`child ours|polars|naive INPUT OUT_DIR`, `child read ours|pyarrow INPUT` or
    `child verify INPUT OURS_DIR [NAIVE_DIR]`."""
    start_sampler()
    kind, *rest = argv
    if kind == "verify":
        report = child_verify(Path(rest[0]), Path(rest[1]), Path(rest[2]) if len(rest) > 2 else None)
    elif kind == "read":
        report = child_read(rest[0], Path(rest[1]))
    else:
        Path(rest[1]).mkdir(parents=True, exist_ok=True)
        report = {"ours": child_ours, "polars": child_polars, "naive": child_naive}[kind](Path(rest[0]), Path(rest[1]))
    report_from_child(report)


# --------------------------------------------------------------------------- parent


def polars_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("polars") is not None


def take_turns(rows: int, repeat: int, commands: dict[str, list[str]]) -> list[Summary]:
    """Each implementation once per round, `repeat` rounds: load changes fall on all alike."""
    summaries = {impl: Summary(impl=impl, rows=rows) for impl in commands}
    for index in range(1, repeat + 1):
        for impl, args in commands.items():
            run = run_child(MODULE, args)
            summaries[impl].runs.append(run)
            progress(
                f"  {rows:>9,} {impl:<7} run {index}/{repeat}: wall {run.wall_s:7.2f} s, "
                f"work {run.work_s:7.2f} s, peak {run.peak_rss_bytes / MIB:7.1f} MiB"
            )
    return list(summaries.values())


def measure_size(rows: int, repeat: int, with_naive: bool) -> tuple[list[Summary], dict[str, Any]]:
    """Time the implementations at one size, then check the outputs of the last runs."""
    source = ensure_input(rows)
    dirs = {impl: OUT_DIR / str(rows) / impl for impl in ("ours", "polars", "naive")}
    impls = ["ours"] + (["polars"] if polars_available() else []) + (["naive"] if with_naive else [])
    summaries = take_turns(rows, repeat, {impl: ["child", impl, str(source), str(dirs[impl])] for impl in impls})
    verify_args = ["child", "verify", str(source), str(dirs["ours"])] + ([str(dirs["naive"])] if with_naive else [])
    checks = run_child(MODULE, verify_args).report
    progress(f"  {rows:>9,} correctness: {'PASS' if correctness_ok(checks) else 'FAIL'} {json.dumps(checks)}")
    return summaries, checks


def stage_rows(summaries: list[Summary]) -> list[list[str]]:
    """Where each implementation spends its time (medians over the repeats)."""
    return [[f"{s.rows:,}", s.impl, *(f"{s.stage(name):.3f}" for name in STAGES)] for s in summaries]


def memory_rows(summaries: list[Summary]) -> list[list[str]]:
    """Ours: VmHWM and VmRSS (MiB) at the end of each stage, from the run with the largest peak."""
    lines = []
    for s in summaries:
        if s.impl != "ours":
            continue
        worst = max(s.runs, key=lambda run: run.peak_rss_bytes).report["memory"]
        cells = [f"{worst[m]['hwm'] / MIB:.0f} / {worst[m]['rss'] / MIB:.0f}" for m in MEMORY_MARKS]
        lines.append([f"{s.rows:,}", *cells, f"{s.sampled_rss_bytes / MIB:.0f}"])
    return lines


def measure_reader(sizes: list[int], repeat: int) -> list[list[str]]:
    """Our reader against pyarrow.csv.read_csv, fresh processes taking turns; medians of work time."""
    lines = []
    for rows in sizes:
        source = str(ensure_input(rows))
        ours, arrow = take_turns(
            rows,
            repeat,
            {"read-ours": ["child", "read", "ours", source], "read-pyarrow": ["child", "read", "pyarrow", source]},
        )
        pairs = [a.work_s / b.work_s for a, b in zip(ours.runs, arrow.runs, strict=True)]
        lines.append(
            [
                f"{rows:,}",
                f"{arrow.work_s:.3f}",
                f"{ours.work_s:.3f}",
                f"{ours.work_s / arrow.work_s:.2f}x",
                " ".join(f"{r:.2f}" for r in pairs),
                f"{arrow.peak_rss_bytes / MIB:.0f}",
                f"{ours.peak_rss_bytes / MIB:.0f}",
                "MET" if ours.work_s / arrow.work_s <= READER_TARGET else "MISSED",
            ]
        )
    return lines


READER_HEADER = [
    "rows",
    "pyarrow read_csv s",
    "ours s",
    "ours/pyarrow (medians)",
    "per round",
    "pyarrow peak MiB",
    "ours peak MiB",
    f"<= {READER_TARGET}x",
]


def verdicts(summaries: list[Summary]) -> list[str]:
    """The targets, judged on wall time (imports included: the stricter reading for us)."""
    by_key = {(s.rows, s.impl): s for s in summaries}
    lines = []
    ours, naive = by_key.get((SPEED_TARGET_ROWS, "ours")), by_key.get((SPEED_TARGET_ROWS, "naive"))
    if ours and naive:
        speedup, work = naive.wall_s / ours.wall_s, naive.work_s / ours.work_s
        lines.append(
            f"VERDICT {SPEED_TARGET_ROWS:,} rows: ours {speedup:.1f}x faster than naive on wall time "
            f"({work:.1f}x after imports); target >= {SPEED_TARGET:g}x: "
            + ("MET" if speedup >= SPEED_TARGET else f"MISSED by {SPEED_TARGET / speedup:.2f}x")
        )
    else:
        lines.append(f"VERDICT {SPEED_TARGET_ROWS:,} rows speed: not measured (needs both implementations)")
    polars = by_key.get((SPEED_TARGET_ROWS, "polars"))
    if ours and polars:
        lines.append(
            f"VERDICT {SPEED_TARGET_ROWS:,} rows vs Polars: ours {ours.wall_s:.2f} s, "
            f"Polars {polars.wall_s:.2f} s wall "
            f"(work {ours.work_s:.2f} s vs {polars.work_s:.2f} s); target ours <= Polars: "
            + ("MET" if ours.wall_s <= polars.wall_s else f"MISSED by {ours.wall_s / polars.wall_s:.2f}x")
        )
    big = by_key.get((BIG_ROWS, "ours"))
    if big:
        peak = max(big.peak_rss_bytes, big.sampled_rss_bytes)  # the larger of VmHWM and sampled VmRSS
        rss_mb, rss_mib = peak / 1e6, peak / MIB
        lines.append(
            f"VERDICT {BIG_ROWS:,} rows wall: ours {big.wall_s:.2f} s; target <= {BIG_WALL_TARGET_S:g} s: "
            + ("MET" if big.wall_s <= BIG_WALL_TARGET_S else f"MISSED by {big.wall_s - BIG_WALL_TARGET_S:.2f} s")
        )
        lines.append(
            f"VERDICT {BIG_ROWS:,} rows memory: ours peak {rss_mb:.0f} MB ({rss_mib:.0f} MiB); "
            f"target <= {BIG_RSS_TARGET_MB} MB: "
            + ("MET" if rss_mb <= BIG_RSS_TARGET_MB else f"MISSED by {rss_mb - BIG_RSS_TARGET_MB:.0f} MB")
        )
    else:
        lines.append(f"VERDICT {BIG_ROWS:,} rows: not measured")
    return lines


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=parse_sizes, default=parse_sizes(DEFAULT_SIZES), help=DEFAULT_SIZES)
    parser.add_argument("--repeat", type=positive_int, default=3, help="runs per size and impl (median shown)")
    parser.add_argument(
        "--skip-naive-above", type=int, default=None, metavar="ROWS", help="run the naive version only up to ROWS"
    )
    parser.add_argument(
        "--reader-sizes", type=parse_sizes, default=parse_sizes(DEFAULT_READER_SIZES), help=DEFAULT_READER_SIZES
    )
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    if argv[:1] == ["child"]:
        child_main(argv[1:])
        return 0
    args = parse_args(argv)
    print("\n".join(machine_lines()))
    print(f"sizes {args.sizes}; repeat {args.repeat}: median wall/work time, largest peak RSS (VmHWM)")
    summaries: list[Summary] = []
    correctness: list[list[str]] = []
    all_ok = True
    for rows in args.sizes:
        with_naive = args.skip_naive_above is None or rows <= args.skip_naive_above
        measured, checks = measure_size(rows, args.repeat, with_naive)
        summaries += measured
        correctness.append(correctness_row(rows, checks))
        all_ok = all_ok and correctness_ok(checks)
    reader = measure_reader(args.reader_sizes, args.repeat) if args.reader_sizes else []
    print("\nTime and memory (wall = process spawn to exit; work = after imports)")
    print(format_table(COMPARISON_HEADER, comparison_rows(summaries)))
    print("\nStages, seconds (median)")
    print(format_table(["rows", "impl", *STAGES], stage_rows(summaries)))
    print("\nOurs: memory at the end of each stage, VmHWM / VmRSS MiB (run with the largest peak)")
    print(format_table(["rows", *MEMORY_MARKS, "max sampled VmRSS"], memory_rows(summaries)))
    if reader:
        print("\nReader: read_columns vs pyarrow.csv.read_csv, same file, fresh processes taking turns (work s)")
        print(format_table(READER_HEADER, reader))
    print("\nCorrectness")
    print(format_table(CORRECTNESS_HEADER, correctness))
    print()
    print("\n".join(verdicts(summaries)))
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
