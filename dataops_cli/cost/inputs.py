"""The figures the cost model needs: from the config, the per-row model, or a deployed stack.

Three sources, each figure saying which one it came from:
- the config (memory, architecture, retention, alarm, the schedule -> runs per month);
- the handler model: what bench/cost_model_bench.py measured per input row (MODEL below),
  applied to the configured input file (or `--rows` / `--input-mb`);
- a deployed stack: average duration and log bytes per run over the last day (one
  GetMetricData call), and the bytes the latest run wrote (GetObject latest.json and one
  ListObjectsV2 of its folder). A read that fails leaves that figure to the model and
  says why; it never fails the command.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from dataops_cli.aws import DataopsError
from dataops_cli.config import Config
from dataops_cli.cost import model as cost
from dataops_cli.cost.breakdown import breakdown
from dataops_cli.cost.model import (
    GLUE_DPU_PER_WORKER,
    GLUE_MIN_WORKER_TYPE,
    GLUE_MIN_WORKERS,
    GLUE_VCPU_PER_DPU,
    LOG_EVENT_OVERHEAD,
    MONTH_DAYS,
    MONTH_HOURS,
    PLATFORM_LOG_LINES,
    Figure,
    Usage,
    cpu_share,
    rescale_duration,
)
from dataops_cli.cost.skipping import SKIPPED_MODEL, changes_figure, with_skipping
from dataops_cli.engines.base import traits
from dataops_cli.schedule_expr import At, Rate, iter_firings, parse_schedule

CHUNK = 8 << 20


@dataclass(frozen=True)
class HandlerModel:
    """The handler's cost per input row, fitted by bench/cost_model_bench.py (Pima-shaped, 9 columns)."""

    ms_fixed: float
    ms_per_row: float
    cleaned_fixed: float
    cleaned_per_row: float
    other_output_bytes: float
    input_bytes_per_row: float
    handler_log_bytes: float  # our JSON lines + the EMF document
    handler_log_lines: int
    platform_log_bytes: float  # Lambda's START / END / REPORT lines (estimated from their format)
    measured: str

    def duration_ms(self, rows: float, memory_mb: int) -> float:
        """Bench time on 2 full cores, slowed by the CPU share `memory_mb` buys in Lambda."""
        return (self.ms_fixed + self.ms_per_row * rows) / cpu_share(memory_mb)

    def cleaned_bytes(self, rows: float) -> float:
        return max(0.0, self.cleaned_fixed + self.cleaned_per_row * rows)

    @property
    def log_bytes(self) -> float:
        events = self.handler_log_lines + len(PLATFORM_LOG_LINES)
        return self.handler_log_bytes + self.platform_log_bytes + events * LOG_EVENT_OVERHEAD


MODEL = HandlerModel(
    ms_fixed=44.37,
    ms_per_row=0.011833,
    cleaned_fixed=14,
    cleaned_per_row=149.67,
    other_output_bytes=16_216,  # with quality.json (issue 12); was 8,668 before it
    input_bytes_per_row=28.93,
    handler_log_bytes=3_182,  # with the 🔎 quality line and the two quality metrics; was 2,656
    handler_log_lines=6,
    platform_log_bytes=300,
    measured="bench/cost_model_bench.py, 2026-11-26",
)


@dataclass(frozen=True)
class SparkModel:
    """A Glue run's ExecutionTime before any run was measured: an ASSUMPTION, stated as such.

    From docs/BENCHMARKS.md ("Spark job next to the handler", bench/spark_bench.py): 66.92 us
    per row on 2 cores at 5M rows (a contended machine), the per-row cost divided by the
    executors' vCPUs (linear scaling, no shuffle or S3 limits), plus a 30 s warm start of the
    run inside Glue's billed time (the bench's stated assumption; cold starts take longer).
    """

    start_s: float = 30.0
    us_per_row_on_2_cores: float = 66.92
    log_bytes: float = 100_000  # Spark's driver and executor lines a run: not measured here
    measured: str = "bench/spark_bench.py 5M rows, 2026-11-26 (docs/BENCHMARKS.md)"

    def seconds(self, rows: float, worker_type: str, workers: int) -> float:
        executor_vcpus = (workers - 1) * GLUE_DPU_PER_WORKER[worker_type] * GLUE_VCPU_PER_DPU
        return self.start_s + rows * self.us_per_row_on_2_cores / 1e6 * 2 / executor_vcpus


SPARK_MODEL = SparkModel()


@dataclass(frozen=True)
class WhatIf:
    """Overrides from `dataops cost` options; None keeps the config's value."""

    schedule: str | None = None
    memory_mb: int | None = None
    architecture: str | None = None
    rows: int | None = None
    input_mb: float | None = None
    retention_days: int | None = None
    log_retention_days: int | None = None
    engine: str | None = None
    glue_workers: int | None = None
    glue_worker_type: str | None = None
    input_changes_per_day: float | None = None  # None: measured, else DEFAULT_INPUT_CHANGES_PER_DAY

    def __post_init__(self) -> None:
        if self.rows is not None and self.input_mb is not None:
            raise ValueError("give --rows or --input-mb, not both")
        if self.input_changes_per_day is not None:
            cost.processing_runs(0, self.input_changes_per_day)  # a negative or non-finite rate is a ValueError


@dataclass
class Measured:
    """What a deployed stack showed; None where it could not tell (reasons says why)."""

    duration_ms: Figure | None = None
    log_bytes: Figure | None = None
    cleaned_bytes: Figure | None = None
    other_output_bytes: Figure | None = None
    rows: Figure | None = None
    glue_seconds: Figure | None = None  # average ExecutionTime of the Glue job's runs
    changes_per_day: Figure | None = None  # runs that processed in the last day (the rest skipped)
    skipped_duration_ms: Figure | None = None  # only when every run of the last day skipped
    skipped_log_bytes: Figure | None = None
    reasons: list[str] | None = None


# --------------------------------------------------------------------------- schedule


def schedule_runs(
    expression: str, enabled: bool, timezone: str, start: datetime | None = None
) -> tuple[Figure, Figure]:
    """Runs in a 30-day month and the hours among its 720 that have a run (custom metrics are hourly)."""
    where = f"schedule {expression}"
    if not enabled:
        return Figure(0, "schedule.enabled = false"), Figure(0, "schedule.enabled = false")
    schedule = parse_schedule(expression)
    start = start or datetime.now(UTC)
    tz = ZoneInfo(timezone)
    if isinstance(schedule, Rate):
        runs = MONTH_DAYS * 86400 / schedule.seconds
        return Figure(runs, where), Figure(min(MONTH_HOURS, runs), where)
    if isinstance(schedule, At):
        once = schedule.next_after(start, tz)
        text = f"{where}: one run" if once else f"{where}: already past, no run"
        return Figure(1 if once else 0, text), Figure(1 if once else 0, text)
    end = start + timedelta(days=MONTH_DAYS)
    firings = list(iter_firings(schedule, start, end, tz, limit=MONTH_DAYS * 24 * 60 + 1))
    hours = {moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0) for moment in firings}
    text = f"{where}: firings in the 30 days from {start:%Y-%m-%d}"
    return Figure(len(firings), text), Figure(min(MONTH_HOURS, len(hours)), text)


# --------------------------------------------------------------------------- input file


def count_rows(path: Path) -> int:
    """Data rows of a CSV (lines after the header); a missing file names the setting."""
    if not path.is_file():
        raise DataopsError(
            f"bucket.input_file: {path} does not exist, so its rows cannot be counted",
            "point bucket.input_file at your CSV, or give --rows N / --input-mb MB",
        )
    stat = path.stat()
    return _count_rows(path.resolve(), stat.st_size, stat.st_mtime_ns)


@lru_cache(maxsize=8)
def _count_rows(path: Path, size: int, mtime_ns: int) -> int:
    """One read per version of the file: an estimate builds the month for each engine and with
    and without skipping, from the same input (size and mtime key a changed file apart)."""
    newlines, last = 0, b""
    with path.open("rb") as stream:
        while chunk := stream.read(CHUNK):
            newlines += chunk.count(b"\n")
            last = chunk[-1:]
    lines = newlines + (1 if last and last != b"\n" else 0)
    return max(0, lines - 1)


def input_figures(config: Config, what_if: WhatIf) -> tuple[Figure, Figure]:
    """(rows, input bytes) from --rows / --input-mb, else the configured file."""
    path = config.input_path
    if what_if.rows is None and what_if.input_mb is None:
        rows = count_rows(path)
        return Figure(rows, f"{path.name} (bucket.input_file)"), Figure(path.stat().st_size, f"{path.name} size")
    bytes_per_row = MODEL.input_bytes_per_row
    basis = "the model's bytes per row"
    if path.is_file() and (rows := count_rows(path)):
        bytes_per_row, basis = path.stat().st_size / rows, f"{path.name}'s bytes per row"
    if what_if.rows is not None:
        return Figure(what_if.rows, "--rows"), Figure(what_if.rows * bytes_per_row, f"--rows x {basis}")
    size = what_if.input_mb * 1e6
    return Figure(round(size / bytes_per_row), f"--input-mb / {basis}"), Figure(size, "--input-mb")


# --------------------------------------------------------------------------- usage


def build_usage(
    config: Config, what_if: WhatIf | None = None, measured: Measured | None = None, start: datetime | None = None
) -> Usage:
    """Config + what-ifs + (measured, else model) -> the model's Usage."""
    w = what_if or WhatIf()
    m = measured or Measured()
    memory = w.memory_mb or config.function.memory_mb
    arch = w.architecture or config.function.architecture
    runs, hours = schedule_runs(
        w.schedule or config.schedule.expression,
        True if w.schedule else config.schedule.enabled,
        config.schedule.timezone,
        start,
    )
    if w.schedule:
        runs = replace(runs, source=f"--schedule {w.schedule}")
        hours = replace(hours, source=f"--schedule {w.schedule}")
    rows, input_bytes = input_figures(config, w)
    rows_changed = w.rows is not None or w.input_mb is not None
    model = f"model ({MODEL.measured}) for {rows.value:,.0f} rows"
    duration = function_duration(config, m, rows, rows_changed, memory)
    if m.cleaned_bytes and m.other_output_bytes and not rows_changed:
        cleaned, other = m.cleaned_bytes, m.other_output_bytes
    else:
        cleaned = Figure(MODEL.cleaned_bytes(rows.value), model)
        other = Figure(MODEL.other_output_bytes, model)
    log_bytes = m.log_bytes or Figure(MODEL.log_bytes, f"model ({MODEL.measured}): handler lines + Lambda's 3")
    engine = w.engine or config.function.engine
    timeout = config.function.timeout_seconds
    workers = w.glue_workers or config.glue.number_of_workers
    worker_type = w.glue_worker_type or config.glue.worker_type
    if not traits(engine).runs_function:
        duration = glue_duration(config, m, rows, rows_changed, worker_type, workers)
        timeout = config.glue.timeout_minutes * 60
        log_bytes = Figure(SPARK_MODEL.log_bytes, "ASSUMPTION: Spark's driver and executor lines, not measured")
    usage = Usage(
        region=config.region,
        runs=runs,
        duration_ms=duration,
        memory_mb=memory,
        architecture=arch,
        input_bytes=input_bytes,
        cleaned_bytes=cleaned,
        other_output_bytes=other,
        log_bytes=log_bytes,
        run_retention_days=w.retention_days or config.bucket.run_retention_days,
        log_retention_days=w.log_retention_days or config.function.log_retention_days,
        active_hours=hours,
        alarms=len(cost.ALARMS) if config.alarm.enabled else 0,
        alarm_email=bool(config.alarm.enabled and config.alarm.email),
        engine=engine,
        timeout_seconds=timeout,
        glue_workers=workers,
        glue_worker_type=worker_type,
    )
    return skip_usage(config, usage, w, m)


def skip_usage(config: Config, usage: Usage, w: WhatIf, m: Measured) -> Usage:
    """Split the runs into processing and skipped ones when pipeline.skip_unchanged is on."""
    changes = changes_figure(w.input_changes_per_day, m.changes_per_day)
    if traits(usage.engine).runs_function:
        return with_skipping(usage, config.pipeline.skip_unchanged, changes, m.skipped_duration_ms, m.skipped_log_bytes)
    log = SKIPPED_MODEL.handler_log_bytes + SKIPPED_MODEL.handler_log_lines * LOG_EVENT_OVERHEAD
    glue_log = Figure(log, "model: the ⏭️ line and the EMF document (Glue's own lines not measured)")
    billed = Figure(
        cost.GLUE_MIN_BILLED_SECONDS * 1000,
        "a skipped Glue run exits before Spark starts (seconds), but Glue bills at least 1 minute a run",
    )
    return with_skipping(usage, config.pipeline.skip_unchanged, changes, billed, glue_log)


def function_duration(config: Config, m: Measured, rows: Figure, rows_changed: bool, memory: int) -> Figure:
    """A function run's time: measured (rescaled to another memory size's CPU share), else the model's."""
    if m.duration_ms and not rows_changed:
        if memory == config.function.memory_mb:
            return m.duration_ms
        scaled = rescale_duration(m.duration_ms.value, config.function.memory_mb, memory)
        return Figure(scaled, f"{m.duration_ms.source}, rescaled to {memory} MB of CPU share")
    model = f"model ({MODEL.measured}) for {rows.value:,.0f} rows"
    share = f" / {cpu_share(memory):.2f} CPU share at {memory} MB" if cpu_share(memory) < 1 else ""
    return Figure(MODEL.duration_ms(rows.value, memory), model + share)


def glue_duration(
    config: Config, m: Measured, rows: Figure, rows_changed: bool, worker_type: str, workers: int
) -> Figure:
    """A Glue run's ExecutionTime (as ms): measured at the configured size when runs were read, else the model.

    A measured time at another size keeps its start and rescales its work by the executors' vCPUs.
    """
    model = SPARK_MODEL
    if m.glue_seconds and not rows_changed:
        seconds, source = m.glue_seconds.value, m.glue_seconds.source
        measured_at = (config.glue.worker_type, config.glue.number_of_workers)
        if (worker_type, workers) != measured_at:
            scale = _executor_vcpus(*measured_at) / _executor_vcpus(worker_type, workers)
            seconds = model.start_s + max(0.0, seconds - model.start_s) * scale
            source += f", rescaled to {workers} x {worker_type} (work / executor vCPUs, {model.start_s:g} s start kept)"
        return Figure(seconds * 1000, source)
    seconds = model.seconds(rows.value, worker_type, workers)
    source = (
        f"ASSUMPTION ({model.measured}): {model.start_s:g} s start + {rows.value:,.0f} rows x "
        f"{model.us_per_row_on_2_cores:g} us per row on 2 cores x 2 / "
        f"{_executor_vcpus(worker_type, workers)} executor vCPUs"
    )
    return Figure(seconds * 1000, source)


def _executor_vcpus(worker_type: str, workers: int) -> int:
    return (workers - 1) * GLUE_DPU_PER_WORKER[worker_type] * GLUE_VCPU_PER_DPU


def compare_engines(
    config: Config, what_if: WhatIf, measured: Measured | None, prices: Any, start: datetime | None = None
) -> list[dict[str, Any]]:
    """The same pipeline's month on each engine: the function, the Glue job as configured, and at its minimum.

    One row each: what a run takes and costs in compute, and the whole month after the free tier.
    """
    configured = config.glue.worker_type, config.glue.number_of_workers
    variants: list[tuple[str, str | None, int | None]] = [
        ("lambda", None, None),
        ("glue", what_if.glue_worker_type or configured[0], what_if.glue_workers or configured[1]),
        ("glue", GLUE_MIN_WORKER_TYPE, GLUE_MIN_WORKERS),
    ]
    rows: list[dict[str, Any]] = []
    for engine, worker_type, workers in dict.fromkeys(variants):  # the configured size may be the minimum
        usage = build_usage(
            config, replace(what_if, engine=engine, glue_worker_type=worker_type, glue_workers=workers), measured, start
        )
        result = breakdown(usage, prices)
        seconds = usage.duration_ms.value / 1000
        if not traits(engine).runs_function and worker_type and workers:
            size = f"Glue {workers} x {worker_type} ({cost.glue_dpus(worker_type, workers)} DPU)"
            per_run = cost.glue_run_cost(seconds, worker_type, workers, prices["glue_dpu_hours"].usd)
            is_configured = traits(engine) is traits(config.function.engine) and (worker_type, workers) == configured
        else:
            size = f"Lambda {usage.memory_mb} MB {usage.architecture}"
            gb_s = cost.billed_ms(usage.duration_ms.value) / 1000 * usage.memory_mb / 1024
            per_run = gb_s * prices[f"lambda_gb_s_{usage.architecture}"].usd + prices["lambda_requests"].usd
            is_configured = traits(engine) is traits(config.function.engine)
        compute_keys = ("lambda_compute", "lambda_requests", "glue_compute")
        rows.append(
            {
                "engine": engine,
                "size": size,
                "configured": is_configured,
                "minimum": not traits(engine).runs_function
                and (worker_type, workers) == (GLUE_MIN_WORKER_TYPE, GLUE_MIN_WORKERS),
                "seconds_per_run": round(seconds, 3),
                "duration_source": usage.duration_ms.source,
                "compute_per_run": per_run,
                "compute_per_month": sum(r.cost for r in result.rows if r.key in compute_keys),
                "total": result.total,
                "total_to_pay": result.total_to_pay,
                "warnings": result.warnings,
            }
        )
    return rows
