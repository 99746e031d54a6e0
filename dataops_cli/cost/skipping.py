"""Runs that skip an unchanged input (pipeline.skip_unchanged): their figures, and the bill with and without.

With skipping on, a run whose input, settings and handler code match the published run's
makes two GETs and writes nothing (handler/run_skip.py; on Glue handler/spark_job/skip.py).
How many runs process depends on how often the input changes, which nothing in the stack
knows beforehand: `dataops cost --input-changes-per-day` states it (default: once a day),
and a deployed function's last day of RunsSkipped says what happened. Pure: no AWS calls.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from dataops_cli.cost.model import (
    DEFAULT_INPUT_CHANGES_PER_DAY,
    LOG_EVENT_OVERHEAD,
    MONTH_DAYS,
    PLATFORM_LOG_LINES,
    Figure,
    Usage,
    cpu_share,
    processing_runs,
)


@dataclass(frozen=True)
class SkippedModel:
    """One skipped run of the function, measured on the seed's sample.

    Time: docs/BENCHMARKS.md "Issue 22", step 3 (bench/s3_latency_bench.py, warm runs): 8 ms
    with no added latency, 38 ms with 25 ms per S3 request (its one round trip). The 8 ms of
    work is slowed by Lambda's CPU share; the 30 ms of waiting is not. Log: the ⏭️ line and the
    EMF document (2 lines, 870 bytes, a skipped run under moto: tests/functional/test_cost_skip.py
    checks it), plus Lambda's START/END/REPORT.
    """

    ms_work: float = 8.0
    ms_wait: float = 30.0
    handler_log_bytes: float = 870
    handler_log_lines: int = 2
    platform_log_bytes: float = 300
    measured: str = "bench/s3_latency_bench.py at 25 ms per S3 request, 2026-12-07 (docs/BENCHMARKS.md)"

    def duration_ms(self, memory_mb: int) -> float:
        return self.ms_work / cpu_share(memory_mb) + self.ms_wait

    @property
    def log_bytes(self) -> float:
        events = self.handler_log_lines + len(PLATFORM_LOG_LINES)
        return self.handler_log_bytes + self.platform_log_bytes + events * LOG_EVENT_OVERHEAD


SKIPPED_MODEL = SkippedModel()


def changes_figure(option: float | None, measured: Figure | None) -> Figure:
    """Input changes per day: the option, else what the stack measured, else the default (once a day)."""
    if option is not None:
        return Figure(option, "--input-changes-per-day")
    if measured is not None:
        return measured
    return Figure(
        DEFAULT_INPUT_CHANGES_PER_DAY,
        "ASSUMPTION: the input changes once a day; state yours with --input-changes-per-day N",
    )


def with_skipping(
    usage: Usage, enabled: bool, changes: Figure, duration: Figure | None = None, log_bytes: Figure | None = None
) -> Usage:
    """`usage` with its runs split into processing and skipped ones (every run processes when not `enabled`)."""
    if not enabled:
        return replace(usage, skip_unchanged=False, processing_runs=None)
    processing = processing_runs(usage.runs.value, changes.value)
    source = f"{MONTH_DAYS} days x {changes.value:g} input changes a day, one processing run each ({changes.source})"
    return replace(
        usage,
        skip_unchanged=True,
        processing_runs=Figure(processing, source),
        skipped_duration_ms=duration
        or Figure(SKIPPED_MODEL.duration_ms(usage.memory_mb), f"model ({SKIPPED_MODEL.measured})"),
        skipped_log_bytes=log_bytes
        or Figure(SKIPPED_MODEL.log_bytes, "model: the ⏭️ line and the EMF document + Lambda's 3"),
    )


def split_average(average: float, runs: float, skipped: float, skipped_model: float) -> tuple[float, float | None]:
    """(processing runs' average, skipped runs' average or None) from one average over both kinds.

    CloudWatch averages Duration and log bytes over every invocation. With no skipped run it is
    the processing runs' figure; with only skipped runs it is theirs; with both, the skipped ones
    are taken at the model's figure and the rest is the processing runs' (never below it).
    """
    if skipped <= 0:
        return average, None
    if skipped >= runs:
        return 0.0, average
    rest = (average * runs - skipped_model * skipped) / (runs - skipped)
    return max(rest, skipped_model), None


def comparison(with_skip: Any, without_skip: Any, usage: Usage, configured: bool) -> dict[str, Any]:
    """The month with and without skipping, side by side: two Breakdowns of the same stack, and the
    skip-on Usage that split its runs. `configured` is pipeline.skip_unchanged."""
    return {
        "configured": configured,
        "runs": usage.runs.value,
        "processing_runs": usage.processing,
        "skipped_runs": usage.skipped,
        "basis": usage.processing_runs.source if usage.processing_runs else "every run processes",
        "with_skipping": {"total": with_skip.total, "to_pay": with_skip.total_to_pay},
        "without_skipping": {"total": without_skip.total, "to_pay": without_skip.total_to_pay},
    }
