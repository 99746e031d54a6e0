"""Shared pieces of the benchmarks: inputs, child processes, peak memory, the naive pandas version.

Every measured run happens in a fresh child process, so that its peak memory is its own and
no cache (imports, page-ins of numpy/pandas code, allocator pools) carries over between the
implementations. The parent stays light: heavy modules are imported inside the functions
that the children call.

Peak memory is read from `VmHWM` in /proc/self/status, not from `ru_maxrss`: on Linux,
`ru_maxrss` survives `execve` and starts at the *parent's* peak when the child is spawned
with vfork (Python's default), so a child of a 1 GB parent reports >= 1 GB whatever it does.
`VmHWM` belongs to the address space created by `execve` and has no such carry-over.
"""

from __future__ import annotations

import csv
import io
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = ROOT / "bench" / "data"  # git-ignored
GENERATOR = ROOT / "dataops_cli" / "starter" / "generate.py"
SEED = 20240607
BLANK_RATE = 0.05
# The handler's defaults (handler.pipeline.DEFAULT_ZERO_AS_MISSING, NORMALIZE_EXCLUDE=Outcome),
# repeated here so the naive version does not depend on the code it is compared with.
ZERO_AS_MISSING = ("Glucose", "BloodPressure", "SkinThickness", "Insulin", "BMI")
NOT_NORMALIZED = ("Outcome",)
NORMALIZED_TOLERANCE = 1e-12
CORRELATION_TOLERANCE = 1e-9
MIB = 1 << 20
CHILD_TIMEOUT_S = 3600


# --------------------------------------------------------------------------- inputs


def input_path(rows: int) -> Path:
    """Where the cached input of `rows` rows lives; the name pins seed and blank rate."""
    return DATA_DIR / f"pima-{rows}-seed{SEED}-blank{BLANK_RATE:g}.csv"


def ensure_input(rows: int) -> Path:
    """Generate the input with dataops_cli/starter/generate.py unless it is already cached.

    Written to a temporary name and renamed, so an interrupted run never leaves a
    truncated file that a later run would take for a complete one.
    """
    path = input_path(rows)
    if path.exists():
        return path
    partial = path.with_suffix(".partial")
    command = [sys.executable, str(GENERATOR), "--rows", str(rows), "--seed", str(SEED)]
    command += ["--blank-rate", str(BLANK_RATE), "--out", str(partial)]
    progress(f"generating {path.relative_to(ROOT)} ...")
    subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    partial.replace(path)
    return path


def positive_int(text: str) -> int:
    """argparse type for --repeat: at least one run, or there is no median to show."""
    value = int(text)
    if value < 1:
        raise ValueError(f"must be >= 1, got {value}")
    return value


def parse_sizes(text: str) -> list[int]:
    """'768,100000,1e6' -> [768, 100000, 1000000] (scientific notation for convenience)."""
    return [int(float(part)) for part in text.split(",") if part.strip()]


# --------------------------------------------------------------------------- measuring


def peak_rss_bytes() -> int:
    """This process's peak resident set size since its execve (see the module docstring)."""
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:  # not Linux: ru_maxrss is the best there is (bytes on macOS)
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("VmHWM missing from /proc/self/status")


def ru_maxrss_bytes() -> int:
    """`ru_maxrss` in bytes, reported beside VmHWM so the difference can be shown."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def vm_rss_bytes() -> int:
    """This process's resident set size now (VmRSS), 0 where /proc does not exist."""
    status = Path("/proc/self/status")
    if not status.exists():
        return 0
    for line in status.read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


class RssSampler:
    """Samples VmRSS every few milliseconds on a thread and keeps the largest value.

    A cross-check of VmHWM: on this kernel (6.x, per-CPU RSS counters) VmHWM was seen to lag
    VmRSS by tens of MB, so the tables show both and the larger one is the peak to trust.
    """

    def __init__(self, interval_s: float = 0.005) -> None:
        import threading

        self.max_bytes = 0
        self._stop = threading.Event()
        self._interval = interval_s
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.max_bytes = max(self.max_bytes, vm_rss_bytes())
            self._stop.wait(self._interval)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        self.max_bytes = max(self.max_bytes, vm_rss_bytes())
        return self.max_bytes


SAMPLER: RssSampler | None = None


def start_sampler() -> None:
    """Children call this first: their report then carries the sampled peak too."""
    global SAMPLER
    SAMPLER = RssSampler()


def report_from_child(report: dict[str, Any]) -> None:
    """A child's last act: one JSON line on the real stdout, which the parent parses."""
    report["peak_rss_bytes"] = peak_rss_bytes()
    report["ru_maxrss_bytes"] = ru_maxrss_bytes()
    if SAMPLER is not None:
        report["sampled_rss_bytes"] = SAMPLER.stop()
    sys.__stdout__.write(json.dumps(report) + "\n")
    sys.__stdout__.flush()


@dataclass
class Run:
    """One child run: wall time as the parent saw it (interpreter start to exit) and the child's report."""

    wall_s: float
    report: dict[str, Any]

    @property
    def work_s(self) -> float:
        return float(self.report["work_s"])

    @property
    def peak_rss_bytes(self) -> int:
        return int(self.report["peak_rss_bytes"])

    @property
    def sampled_rss_bytes(self) -> int:
        return int(self.report.get("sampled_rss_bytes", 0))


@dataclass
class Summary:
    """Several runs of one implementation at one size, reduced to the figures in the table."""

    impl: str
    rows: int
    runs: list[Run] = field(default_factory=list)

    @property
    def wall_s(self) -> float:
        return statistics.median(run.wall_s for run in self.runs)

    @property
    def work_s(self) -> float:
        return statistics.median(run.work_s for run in self.runs)

    @property
    def peak_rss_bytes(self) -> int:
        """The largest peak over the repeats: memory targets are about the worst run."""
        return max(run.peak_rss_bytes for run in self.runs)

    @property
    def sampled_rss_bytes(self) -> int:
        return max(run.sampled_rss_bytes for run in self.runs)

    def stage(self, name: str) -> float:
        return statistics.median(float(run.report.get(name, float("nan"))) for run in self.runs)


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The parent's environment plus the repository on PYTHONPATH (handler/ is not installed)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.update(extra or {})
    return env


def run_child(module: str, args: Sequence[str], env: dict[str, str] | None = None) -> Run:
    """Run `python -m module args` in a fresh interpreter; its last stdout line is its JSON report."""
    command = [sys.executable, "-m", module, *args]
    started = time.perf_counter()
    done = subprocess.run(
        command, cwd=ROOT, env=env or child_env(), capture_output=True, text=True, timeout=CHILD_TIMEOUT_S
    )
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr[-4000:]}")
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    if not lines:
        raise RuntimeError(f"{' '.join(command)} printed no report; stderr:\n{done.stderr[-4000:]}")
    return Run(wall_s=wall, report=json.loads(lines[-1]))


def progress(message: str) -> None:
    """Progress goes to stderr so stdout holds only the tables."""
    print(message, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- the naive version


@dataclass
class NaiveResult:
    """What a straightforward pandas script produces: the cleaned frame and the side documents."""

    cleaned: Any  # pandas.DataFrame
    correlation: Any  # pandas.DataFrame
    summary: dict[str, Any]
    dtypes: dict[str, str]


def naive_clean(df: Any) -> NaiveResult:
    """The pipeline as most people would write it in pandas (the baseline being measured).

    Same semantics as handler.pipeline with its defaults: zeros are missing in five
    columns, every gap takes its column's median, every numeric column but Outcome is
    min-max normalized, Pearson correlation over the numeric columns.
    """
    import numpy as np

    zero_cols = list(ZERO_AS_MISSING)
    df[zero_cols] = df[zero_cols].replace(0, np.nan)
    missing = df.isna().sum()
    medians = df.median(numeric_only=True)
    df = df.fillna(medians)
    described = df.describe()
    numeric = list(df.select_dtypes("number").columns)
    normalize = [name for name in numeric if name not in NOT_NORMALIZED]
    low, high = df[normalize].min(), df[normalize].max()
    df[normalize] = (df[normalize] - low) / (high - low)
    correlation = df[numeric].corr()
    summary = {
        "rows": len(df),
        "columns": len(df.columns),
        "column_names": list(df.columns),
        "missing_before_imputation": {name: int(count) for name, count in missing.items()},
        "missing_total": int(missing.sum()),
        "imputed_values": {name: float(medians[name]) for name in numeric if missing[name]},
        "statistics_before_normalization": json.loads(described.to_json()),
    }
    return NaiveResult(df, correlation, summary, df.dtypes.astype(str).to_dict())


def naive_side_documents(result: NaiveResult) -> dict[str, bytes]:
    """correlation.csv, summary.json and dtypes.json of a naive run, built in memory."""
    return {
        "correlation.csv": result.correlation.to_csv().encode(),
        "summary.json": json.dumps(result.summary, indent=2).encode(),
        "dtypes.json": json.dumps(result.dtypes, indent=2).encode(),
    }


# --------------------------------------------------------------------------- correctness


def verify_outputs(
    input_file: Path,
    ours_cleaned: Path | bytes,
    ours_correlation: bytes,
    naive_cleaned: Path | bytes | None,
    naive_correlation: bytes | None,
) -> dict[str, Any]:
    """Check our files against our in-memory result (bit for bit) and against the naive files.

    The in-memory result is recomputed here from the input with the same core, which is
    deterministic; comparing against it shows the CSV writer keeps full float64 precision.
    """
    from handler.pipeline import PipelineOptions, process
    from handler.reader import read_columns

    result = process(read_columns(lambda: input_file.open("rb")), PipelineOptions())
    ours = parse_cleaned(ours_cleaned)
    expected_corr = _corr_dict(result.numeric, result.correlation)
    checks: dict[str, Any] = {
        "rows": result.rows,
        "cleaned_exact": _bit_mismatches(result.output, ours, result.names),
        "correlation_exact": _bit_mismatches(expected_corr, _parse_correlation(ours_correlation), list(expected_corr)),
    }
    if naive_cleaned is not None and naive_correlation is not None:
        naive = parse_cleaned(naive_cleaned)
        checks["naive_columns_match"] = list(naive) == result.names
        checks["normalized_max_abs_diff"] = _max_abs_diff(ours, naive, result.normalized)
        others = [name for name in result.names if name not in result.normalized]
        checks["other_max_abs_diff"] = _max_abs_diff(ours, naive, others)
        checks["correlation_max_abs_diff"] = _max_abs_diff(
            expected_corr, _parse_correlation(naive_correlation), list(expected_corr)
        )
    return checks


def parse_cleaned(source: Path | bytes) -> dict[str, Any]:
    """A cleaned CSV as numpy columns; Arrow's parser rounds correctly, so doubles compare exactly."""
    import pyarrow.csv as pacsv

    stream = io.BytesIO(source) if isinstance(source, bytes) else source
    table = pacsv.read_csv(stream)
    return {name: table.column(name).to_numpy() for name in table.column_names}


def _parse_correlation(data: bytes) -> dict[str, Any]:
    """A correlation CSV (names on both axes, empty cell = undefined) as one float row per column."""
    import numpy as np

    rows = list(csv.reader(io.StringIO(data.decode())))
    return {row[0]: np.array([float(cell) if cell else np.nan for cell in row[1:]]) for row in rows[1:]}


def _corr_dict(names: list[str], matrix: Any) -> dict[str, Any]:
    return {name: matrix[i] for i, name in enumerate(names)}


def _bit_mismatches(expected: dict[str, Any], actual: dict[str, Any], names: list[str]) -> dict[str, int]:
    """Per column, how many values differ in any bit (so -0.0 != 0.0 and NaN == NaN)."""
    import numpy as np

    mismatches: dict[str, int] = {}
    for name in names:
        want, got = np.asarray(expected[name]), np.asarray(actual.get(name, []))
        if want.shape != got.shape or want.dtype != got.dtype:
            mismatches[name] = -1  # shape or dtype differs: reported as -1
            continue
        count = int(np.count_nonzero(want.view(np.uint64) != got.view(np.uint64)))
        if count:
            mismatches[name] = count
    return mismatches


def _max_abs_diff(left: dict[str, Any], right: dict[str, Any], names: list[str]) -> float:
    """Largest |left - right| over the columns; inf when shapes or NaN positions disagree."""
    import numpy as np

    worst = 0.0
    for name in names:
        a = np.asarray(left[name], dtype=np.float64)
        b = np.asarray(right.get(name, []), dtype=np.float64)
        if a.shape != b.shape or not np.array_equal(np.isnan(a), np.isnan(b)):
            return float("inf")
        present = ~np.isnan(a)
        if present.any():
            worst = max(worst, float(np.max(np.abs(a[present] - b[present]))))
    return worst


def correctness_ok(checks: dict[str, Any]) -> bool:
    """All exact checks clean and, where the naive version ran, within tolerance."""
    ok = not checks["cleaned_exact"] and not checks["correlation_exact"]
    if "normalized_max_abs_diff" in checks:
        ok = ok and checks["naive_columns_match"]
        ok = ok and checks["normalized_max_abs_diff"] <= NORMALIZED_TOLERANCE
        ok = ok and checks["other_max_abs_diff"] == 0.0
        ok = ok and checks["correlation_max_abs_diff"] <= CORRELATION_TOLERANCE
    return ok


def correctness_row(rows: int, checks: dict[str, Any]) -> list[str]:
    """One line of the correctness table."""
    naive = "normalized_max_abs_diff" in checks
    return [
        f"{rows:,}",
        "yes" if not checks["cleaned_exact"] else f"NO {checks['cleaned_exact']}",
        "yes" if not checks["correlation_exact"] else f"NO {checks['correlation_exact']}",
        f"{checks['normalized_max_abs_diff']:.1e}" if naive else "n/a (naive skipped)",
        f"{checks['other_max_abs_diff']:.1e}" if naive else "n/a",
        f"{checks['correlation_max_abs_diff']:.1e}" if naive else "n/a",
        "PASS" if correctness_ok(checks) else "FAIL",
    ]


CORRECTNESS_HEADER = [
    "rows",
    "cleaned.csv == memory (bits)",
    "correlation.csv == memory (bits)",
    f"max|Δ| normalized vs naive (<= {NORMALIZED_TOLERANCE:g})",
    "max|Δ| Outcome vs naive",
    f"max|Δ| corr vs naive (<= {CORRELATION_TOLERANCE:g})",
    "verdict",
]


# --------------------------------------------------------------------------- printing


def format_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A Markdown-compatible table with right-aligned cells, readable as plain text too."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=True)]
    lines = ["| " + " | ".join(str(h).rjust(w) for h, w in zip(header, widths, strict=True)) + " |"]
    lines.append("|" + "|".join("-" * (w + 1) + ":" for w in widths) + "|")
    lines += ["| " + " | ".join(str(c).rjust(w) for c, w in zip(row, widths, strict=True)) + " |" for row in rows]
    return "\n".join(lines)


def ratio(numerator: float, denominator: float) -> str:
    return f"{numerator / denominator:.1f}x" if denominator else "n/a"


def comparison_rows(summaries: list[Summary]) -> list[list[str]]:
    """The main table: one line per (rows, impl); ratios on our line, relative to naive and Polars."""
    by_key = {(s.rows, s.impl): s for s in summaries}
    lines = []
    for s in summaries:
        naive = by_key.get((s.rows, "naive"))
        polars = by_key.get((s.rows, "polars"))
        ours = s.impl == "ours"
        lines.append(
            [
                f"{s.rows:,}",
                s.impl,
                f"{s.wall_s:.2f}",
                f"{s.work_s:.2f}",
                f"{s.peak_rss_bytes / MIB:.1f}",
                f"{s.sampled_rss_bytes / MIB:.1f}" if s.sampled_rss_bytes else "",
                ratio(naive.wall_s, s.wall_s) if ours and naive else "",
                ratio(naive.work_s, s.work_s) if ours and naive else "",
                ratio(naive.peak_rss_bytes, s.peak_rss_bytes) if ours and naive else "",
                ratio(polars.wall_s, s.wall_s) if ours and polars else "",
            ]
        )
    return lines


COMPARISON_HEADER = [
    "rows",
    "impl",
    "wall s",
    "work s",
    "peak VmHWM MiB",
    "max sampled VmRSS MiB",
    "speedup naive/ours (wall)",
    "speedup (work)",
    "RSS ratio naive/ours",
    "polars/ours (wall)",
]


def machine_lines() -> list[str]:
    """What the numbers were measured on, without importing the heavy packages."""
    cpu = "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    ram = "unknown"
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        total_kib = int(meminfo.read_text().split("MemTotal:")[1].split()[0])
        ram = f"{total_kib / (1 << 20):.1f} GiB"
    versions = ", ".join(f"{p} {_version(p)}" for p in ("pyarrow", "numpy", "pandas", "boto3", "moto", "polars"))
    load = " ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "unknown"
    return [
        f"machine: {os.cpu_count()} CPUs ({cpu}), RAM {ram}, {platform.system()} {platform.release()}",
        f"python {platform.python_version()}; {versions}",
        f"load average at start (1, 5, 15 min): {load}",
    ]


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"
