"""The bill: one line per billed item for the engine and what both share, then the breakdown with its warnings.

Pure: usage figures and prices in, rows out (bench/cost_model_bench.py measured the figures).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace

from dataops_cli.cost.model import (
    EMF_DIMENSION_SETS,
    EMF_METRICS,
    FREE_ITEMS,
    GB,
    GLUE_FREE_ITEMS,
    LISTS,
    LOGS_COMPRESSION,
    MONTH_DAYS,
    MONTH_HOURS,
    POINTER_FILES,
    RUN_FILES,
    RUN_READS,
    SKIP_CHECK_READS,
    SKIPPED_RUN_READS,
    SPARK_PARTITION_BYTES,
    SPARK_POINTER_FILES,
    SPARK_READS,
    SPARK_RUN_FILES,
    SPARK_SKIP_CHECK_READS,
    Breakdown,
    CostRow,
    Line,
    Usage,
    billed_ms,
    custom_metrics,
    get_requests_per_run,
    glue_billed_seconds,
    glue_dpus,
    put_requests_per_run,
)
from dataops_cli.cost.prices import PriceTable
from dataops_cli.counts import counted
from dataops_cli.engines.base import traits


def lambda_lines(u: Usage) -> list[Line]:
    runs, done, skipped = u.runs.value, u.processing, u.skipped
    ms = billed_ms(u.duration_ms.value) if done else 0
    skip_ms = billed_ms(u.skipped_duration_ms.value) if skipped and u.skipped_duration_ms else 0
    gb = u.memory_mb / 1024
    puts = put_requests_per_run(u.cleaned_bytes.value)
    gets = get_requests_per_run(u.skip_unchanged)
    reads = RUN_READS + (SKIP_CHECK_READS if u.skip_unchanged else ())
    return [
        Line("lambda_requests", "Lambda", "Lambda requests", runs, "lambda_requests", f"{runs:,.0f} runs x 1"),
        Line(
            "lambda_compute",
            "Lambda",
            f"Lambda GB-s {u.architecture}",
            (done * ms + skipped * skip_ms) / 1000 * gb,
            f"lambda_gb_s_{u.architecture}",
            f"{_runs(u)} x {ms:,} ms"
            + (f" + {skipped:,.0f} skipped x {skip_ms:,} ms" if skipped else "")
            + f" x {gb:g} GB",
        ),
        _scheduler_line(runs),
        Line(
            "s3_put",
            "S3",
            "S3 PUT requests",
            done * puts,
            "s3_put",
            f"{_runs(u)} x {puts} ({', '.join(RUN_FILES + POINTER_FILES)}; LIST {len(LISTS)})" + _no_writes(u),
        ),
        Line(
            "s3_get",
            "S3",
            "S3 GET requests",
            done * gets + skipped * len(SKIPPED_RUN_READS),
            "s3_get",
            f"{_runs(u)} x {gets} ({', '.join(reads)})" + _skipped_reads(u, SKIPPED_RUN_READS),
        ),
        _logs_line(u),
        Line(
            "custom_metrics",
            "CloudWatch",
            "Custom metrics",
            custom_metrics() * u.active_hours.value / MONTH_HOURS,
            "custom_metrics",
            f"{counted(len(EMF_METRICS), 'EMF metric')} x {counted(len(EMF_DIMENSION_SETS), 'dimension set')}"
            + ("" if u.active_hours.value >= MONTH_HOURS else f" x {u.active_hours.value:,.0f}/{MONTH_HOURS} h"),
        ),
    ]


def _skipped_log_bytes(u: Usage) -> float:
    """What one skipped run logs (0 when none skip)."""
    return u.skipped_log_bytes.value if u.skipped and u.skipped_log_bytes else 0.0


def _logs_line(u: Usage) -> Line:
    """Log ingestion, either engine: processing runs' lines and skipped runs' ⏭️ line."""
    done, skipped, skip_log = u.processing, u.skipped, _skipped_log_bytes(u)
    return Line(
        "logs_ingestion",
        "CloudWatch",
        "Logs ingested",
        (done * u.log_bytes.value + skipped * skip_log) / GB,
        "logs_ingestion",
        f"{_runs(u)} x {u.log_bytes.value / 1024:,.1f} KiB"
        + (f" + {skipped:,.0f} skipped x {skip_log / 1024:,.1f} KiB" if skipped else ""),
    )


def _scheduler_line(runs: float) -> Line:
    return Line("scheduler", "Scheduler", "Scheduler runs", runs, "scheduler_invocations", f"{runs:,.0f} runs")


def _runs(u: Usage) -> str:
    """`21,600 runs`, or `30 processing runs` when some skip."""
    return f"{u.processing:,.0f} processing runs" if u.skipped else f"{u.runs.value:,.0f} runs"


def _no_writes(u: Usage) -> str:
    return f"; {u.skipped:,.0f} skipped runs write nothing" if u.skipped else ""


def _skipped_reads(u: Usage, reads: tuple[str, ...]) -> str:
    return f" + {u.skipped:,.0f} skipped x {len(reads)} ({', '.join(reads)})" if u.skipped else ""


def spark_parts(input_bytes: float) -> int:
    return max(1, math.ceil(input_bytes / SPARK_PARTITION_BYTES))


def glue_lines(u: Usage) -> list[Line]:
    """A Glue (Spark) run: DPU-hours, the schedule, its S3 requests and its logs; no custom metrics
    (its metric lines are not extracted as EMF outside Lambda) and no per-request charge.

    A skipped run exits before Spark starts (handler/spark_job/skip.py), but Glue bills every
    run at least a minute of the job's DPUs (https://aws.amazon.com/glue/pricing/): skipping
    saves its S3 writes and reads, not its DPU-hours."""
    runs, done, skipped = u.runs.value, u.processing, u.skipped
    seconds = glue_billed_seconds(u.duration_ms.value / 1000) if done else 0
    skip_s = u.skipped_duration_ms.value / 1000 if u.skipped_duration_ms else 0.0
    skip_seconds = glue_billed_seconds(skip_s) if skipped else 0
    dpus = glue_dpus(u.glue_worker_type, u.glue_workers)
    parts = spark_parts(u.input_bytes.value)
    puts = parts + len(SPARK_RUN_FILES) + len(SPARK_POINTER_FILES) + 1  # + the LIST of the cleaned folder
    check = SPARK_SKIP_CHECK_READS if u.skip_unchanged else ()
    gets = len(SPARK_READS) + parts + len(check)
    return [
        Line(
            "glue_compute",
            "Glue",
            f"Glue DPU-hours {u.glue_workers} x {u.glue_worker_type}",
            (done * seconds + skipped * skip_seconds) / 3600 * dpus,
            "glue_dpu_hours",
            f"{_runs(u)} x {seconds:,} s billed"
            + (f" + {skipped:,.0f} skipped x {skip_seconds} s" if skipped else "")
            + f" (1-minute minimum) x {dpus} DPU",
        ),
        _scheduler_line(runs),
        Line(
            "s3_put",
            "S3",
            "S3 PUT requests",
            done * puts,
            "s3_put",
            f"{_runs(u)} x {puts} ({counted(parts, 'cleaned part')}, "
            f"{', '.join(SPARK_RUN_FILES + SPARK_POINTER_FILES)}, LIST 1; the S3 committer's own requests not counted)"
            + _no_writes(u),
        ),
        Line(
            "s3_get",
            "S3",
            "S3 GET requests",
            done * gets + skipped * len(SPARK_SKIP_CHECK_READS),
            "s3_get",
            f"{_runs(u)} x {gets} ({', '.join(SPARK_READS + check)}, {counted(parts, 'input split')})"
            + _skipped_reads(u, SPARK_SKIP_CHECK_READS),
        ),
        _logs_line(u),
    ]


def shared_lines(u: Usage) -> list[Line]:
    """Storage and monitoring: the same whichever engine runs the pipeline."""
    kept_runs = kept_outputs(u)
    stored = u.input_bytes.value + kept_runs * u.output_bytes
    stored_basis = (
        f"input {_mb(u.input_bytes.value)} + {kept_runs:,.0f} runs kept ({u.run_retention_days} d) x "
        f"{_mb(u.output_bytes)}" + ("; skipped runs write nothing" if u.skipped else "")
    )
    if u.stored_bytes is not None:
        stored, stored_basis = u.stored_bytes.value, f"{_mb(u.stored_bytes.value)} from {u.stored_bytes.source}"
    ingested = u.processing * u.log_bytes.value + u.skipped * _skipped_log_bytes(u)
    logs_stored = ingested / MONTH_DAYS * u.log_retention_days * LOGS_COMPRESSION
    logs_basis = f"{u.log_retention_days} d of logs x {LOGS_COMPRESSION:g} compressed"
    if not traits(
        u.engine
    ).runs_function:  # Glue's groups are not ours: they keep logs forever unless the account set a retention
        logs_stored = ingested * LOGS_COMPRESSION
        logs_basis = (
            f"this month's logs x {LOGS_COMPRESSION:g} compressed; Glue's groups never expire by default, "
            "so this row grows by as much every month"
        )
    lines = [
        Line(
            "s3_storage",
            "S3",
            "S3 storage",
            stored / GB,
            "s3_storage",
            stored_basis,
        ),
        Line(
            "logs_storage",
            "CloudWatch",
            "Logs stored",
            logs_stored / GB,
            "logs_storage",
            logs_basis,
        ),
        Line("dashboards", "CloudWatch", "Dashboard", u.dashboards, "dashboards", counted(u.dashboards, "dashboard")),
        Line("alarms", "CloudWatch", "Alarms", u.alarms, "alarms", counted(u.alarms, "standard alarm")),
    ]
    if u.alarm_email:
        lines.append(
            Line("sns_email", "SNS", "Alarm emails", 0, "sns_email", "one per alarm state change (none when healthy)")
        )
    return lines


def kept_outputs(u: Usage) -> float:
    """Run folders the lifecycle rule keeps: the processing runs of `run_retention_days`; with
    skipping, at least the published run's while there are runs."""
    kept = u.processing / MONTH_DAYS * u.run_retention_days
    return max(kept, 1.0) if u.skipped else kept


ENGINES: dict[str, Callable[[Usage], list[Line]]] = {"lambda": lambda_lines, "glue": glue_lines}


TIME_BASED = frozenset({"s3_storage", "logs_storage", "dashboards", "alarms"})  # custom metrics: active_hours


def breakdown(
    usage: Usage, prices: PriceTable, sources: dict[str, str] | None = None, month_fraction: float = 1.0
) -> Breakdown:
    """Price every line; always-free allowances are drawn in row order from shared pools.

    `month_fraction` < 1 is a month-to-date bill: `usage.runs` and `usage.active_hours` are
    those so far, and the items billed by time (storage, dashboard, alarms) count that
    fraction of a month.
    """
    engine_lines = ENGINES.get(usage.engine)
    if engine_lines is None:
        raise ValueError(f"unknown engine {usage.engine!r}: expected one of {', '.join(ENGINES)}")
    lines = engine_lines(usage) + shared_lines(usage)
    if month_fraction != 1.0:
        lines = [
            replace(ln, quantity=ln.quantity * month_fraction, basis=f"{ln.basis} x {month_fraction:.2f} month")
            if ln.key in TIME_BASED
            else ln
            for ln in lines
        ]
    pools: dict[str, float] = {}
    rows = []
    for line in lines:
        price = prices[line.price]
        left = pools.setdefault(price.pool, price.free)
        applied = min(line.quantity, left)
        pools[price.pool] = left - applied
        rows.append(
            CostRow(
                key=line.key,
                service=line.service,
                item=line.item,
                quantity=line.quantity,
                unit=price.unit,
                usd_per_unit=price.usd,
                display_per=price.display_per,
                cost=line.quantity * price.usd,
                free_allowance=price.free,
                free_applied=applied,
                to_pay=(line.quantity - applied) * price.usd,
                basis=line.basis,
                verified=price.verified,
                page=price.page,
                read=price.read,
            )
        )
    return Breakdown(
        region=usage.region,
        engine=usage.engine,
        rows=rows,
        total=sum(r.cost for r in rows),
        total_to_pay=sum(r.to_pay for r in rows),
        prices=prices.source,
        price_notes=list(prices.notes),
        sources=sources if sources is not None else usage_sources(usage),
        warnings=warnings(usage),
        free_items=list(FREE_ITEMS) + ([] if traits(usage.engine).runs_function else list(GLUE_FREE_ITEMS)),
    )


def warnings(u: Usage) -> list[str]:
    found = []
    if u.timeout_seconds and u.runs.value and u.duration_ms.value > u.timeout_seconds * 1000:
        setting = (
            f"glue.timeout_minutes = {u.timeout_seconds // 60}"
            if not traits(u.engine).runs_function
            else f"function.timeout_seconds = {u.timeout_seconds}"
        )
        found.append(
            f"a run takes {u.duration_ms.value / 1000:,.1f} s here, over {setting}: runs would time out "
            f"(and be billed the full {u.timeout_seconds} s)"
        )
    if (
        not traits(u.engine).runs_function
        and u.runs.value
        and u.duration_ms.value / 1000 > MONTH_DAYS * 86400 / u.runs.value
    ):
        found.append(
            f"a Glue run takes {u.duration_ms.value / 1000:,.0f} s here, longer than the schedule's average interval "
            f"({MONTH_DAYS * 86400 / u.runs.value:,.0f} s): with max concurrent runs 1 the starts in between fail "
            "(ConcurrentRunsExceededException), so fewer runs happen (and cost) than counted here"
        )
    return found


def usage_sources(usage: Usage) -> dict[str, str]:
    names = ["runs", "duration_ms", "input_bytes", "cleaned_bytes", "other_output_bytes", "log_bytes", "active_hours"]
    if usage.skip_unchanged:
        names[1:1] = ["processing_runs", "skipped_duration_ms", "skipped_log_bytes"]
    return {
        name: f"{_show(getattr(usage, name).value, name)} from {getattr(usage, name).source}"
        for name in names
        if getattr(usage, name) is not None
    }


def _show(value: float, name: str) -> str:
    if name.endswith("bytes"):
        return _mb(value)
    if name.endswith("duration_ms"):
        return f"{value:,.0f} ms"
    return f"{value:,.0f}"


def _mb(size: float) -> str:
    if size >= 1e9:
        return f"{size / 1e9:,.2f} GB"
    if size >= 1e6:
        return f"{size / 1e6:,.1f} MB"
    return f"{size / 1e3:,.1f} kB"
