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
    positive_int,
    progress,
    repeat_runs,
    report_from_child,
    run_child,
    verify_outputs,
)

MODULE = "bench.pipeline_bench"
OUT_DIR = DATA_DIR / "out" / "pipeline"
DEFAULT_SIZES = "768,100000,1000000,5000000"
SPEED_TARGET_ROWS, SPEED_TARGET = 1_000_000, 10.0
BIG_ROWS, BIG_WALL_TARGET_S, BIG_RSS_TARGET_MB = 5_000_000, 12.0, 800
STAGES = ("import_s", "read_s", "process_s", "write_s")


# --------------------------------------------------------------------------- children


def child_ours(input_file: Path, out_dir: Path) -> dict[str, Any]:
    """Our core, end to end on local files; imports timed separately from the work."""
    started = time.perf_counter()
    from handler.outputs import correlation_csv, summary_document, to_json_bytes, write_cleaned_csv
    from handler.pipeline import PipelineOptions, process
    from handler.reader import read_columns

    imported = time.perf_counter()
    columns = read_columns(lambda: input_file.open("rb"), size_hint=input_file.stat().st_size)
    read = time.perf_counter()
    result = process(columns, PipelineOptions())
    processed = time.perf_counter()
    with (out_dir / "cleaned.csv").open("wb") as sink:
        write_cleaned_csv(result, sink)
    (out_dir / "correlation.csv").write_bytes(correlation_csv(result))
    (out_dir / "summary.json").write_bytes(to_json_bytes(summary_document(result, input=str(input_file))))
    (out_dir / "dtypes.json").write_bytes(to_json_bytes(result.dtypes))
    written = time.perf_counter()
    return _timings(started, imported, read, processed, written, rows=result.rows)


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
    """`child ours|naive INPUT OUT_DIR` or `child verify INPUT OURS_DIR [NAIVE_DIR]`."""
    kind, input_file, out_dir, *rest = argv
    if kind == "verify":
        report = child_verify(Path(input_file), Path(out_dir), Path(rest[0]) if rest else None)
    else:
        Path(out_dir).mkdir(parents=True, exist_ok=True)
        report = {"ours": child_ours, "naive": child_naive}[kind](Path(input_file), Path(out_dir))
    report_from_child(report)


# --------------------------------------------------------------------------- parent


def measure_size(rows: int, repeat: int, with_naive: bool) -> tuple[list[Summary], dict[str, Any]]:
    """Time both implementations at one size, then check the outputs of the last runs."""
    source = ensure_input(rows)
    dirs = {impl: OUT_DIR / str(rows) / impl for impl in ("ours", "naive")}
    impls = ["ours", "naive"] if with_naive else ["ours"]
    summaries = [
        repeat_runs(
            impl, rows, repeat, lambda impl=impl: run_child(MODULE, ["child", impl, str(source), str(dirs[impl])])
        )
        for impl in impls
    ]
    verify_args = ["child", "verify", str(source), str(dirs["ours"])] + ([str(dirs["naive"])] if with_naive else [])
    checks = run_child(MODULE, verify_args).report
    progress(f"  {rows:>9,} correctness: {'PASS' if correctness_ok(checks) else 'FAIL'} {json.dumps(checks)}")
    return summaries, checks


def stage_rows(summaries: list[Summary]) -> list[list[str]]:
    """Where each implementation spends its time (medians over the repeats)."""
    return [[f"{s.rows:,}", s.impl, *(f"{s.stage(name):.3f}" for name in STAGES)] for s in summaries]


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
    big = by_key.get((BIG_ROWS, "ours"))
    if big:
        rss_mb, rss_mib = big.peak_rss_bytes / 1e6, big.peak_rss_bytes / MIB
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
    print("\nTime and memory (wall = process spawn to exit; work = after imports)")
    print(format_table(COMPARISON_HEADER, comparison_rows(summaries)))
    print("\nStages, seconds (median)")
    print(format_table(["rows", "impl", *STAGES], stage_rows(summaries)))
    print("\nCorrectness")
    print(format_table(CORRECTNESS_HEADER, correctness))
    print()
    print("\n".join(verdicts(summaries)))
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
