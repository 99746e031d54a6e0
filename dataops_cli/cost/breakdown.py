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
    SPARK_PARTITION_BYTES,
    SPARK_POINTER_FILES,
    SPARK_READS,
    SPARK_RUN_FILES,
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
    runs = u.runs.value
    ms = billed_ms(u.duration_ms.value) if runs else 0
    gb = u.memory_mb / 1024
    puts = put_requests_per_run(u.cleaned_bytes.value)
    return [
        Line("lambda_requests", "Lambda", "Lambda requests", runs, "lambda_requests", f"{runs:,.0f} runs x 1"),
        Line(
            "lambda_compute",
            "Lambda",
            f"Lambda GB-s {u.architecture}",
            runs * ms / 1000 * gb,
            f"lambda_gb_s_{u.architecture}",
            f"{runs:,.0f} runs x {ms:,} ms x {gb:g} GB",
        ),
        Line("scheduler", "Scheduler", "Scheduler runs", runs, "scheduler_invocations", f"{runs:,.0f} runs"),
        Line(
            "s3_put",
            "S3",
            "S3 PUT requests",
            runs * puts,
            "s3_put",
            f"{runs:,.0f} runs x {puts} ({', '.join(RUN_FILES + POINTER_FILES)}; LIST {len(LISTS)})",
        ),
        Line(
            "s3_get",
            "S3",
            "S3 GET requests",
            runs * get_requests_per_run(),
            "s3_get",
            f"{runs:,.0f} runs x {get_requests_per_run()} ({', '.join(RUN_READS)})",
        ),
        Line(
            "logs_ingestion",
            "CloudWatch",
            "Logs ingested",
            runs * u.log_bytes.value / GB,
            "logs_ingestion",
            f"{runs:,.0f} runs x {u.log_bytes.value / 1024:,.1f} KiB",
        ),
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


def spark_parts(input_bytes: float) -> int:
    return max(1, math.ceil(input_bytes / SPARK_PARTITION_BYTES))


def glue_lines(u: Usage) -> list[Line]:
    """A Glue (Spark) run: DPU-hours, the schedule, its S3 requests and its logs; no custom metrics
    (its metric lines are not extracted as EMF outside Lambda) and no per-request charge."""
    runs = u.runs.value
    seconds = glue_billed_seconds(u.duration_ms.value / 1000) if runs else 0
    dpus = glue_dpus(u.glue_worker_type, u.glue_workers)
    parts = spark_parts(u.input_bytes.value)
    puts = parts + len(SPARK_RUN_FILES) + len(SPARK_POINTER_FILES) + 1  # + the LIST of the cleaned folder
    gets = len(SPARK_READS) + parts
    return [
        Line(
            "glue_compute",
            "Glue",
            f"Glue DPU-hours {u.glue_workers} x {u.glue_worker_type}",
            runs * seconds / 3600 * dpus,
            "glue_dpu_hours",
            f"{runs:,.0f} runs x {seconds:,} s billed (1-minute minimum) x {dpus} DPU",
        ),
        Line("scheduler", "Scheduler", "Scheduler runs", runs, "scheduler_invocations", f"{runs:,.0f} runs"),
        Line(
            "s3_put",
            "S3",
            "S3 PUT requests",
            runs * puts,
            "s3_put",
            f"{runs:,.0f} runs x {puts} ({counted(parts, 'cleaned part')}, "
            f"{', '.join(SPARK_RUN_FILES + SPARK_POINTER_FILES)}, LIST 1; the S3 committer's own requests not counted)",
        ),
        Line(
            "s3_get",
            "S3",
            "S3 GET requests",
            runs * gets,
            "s3_get",
            f"{runs:,.0f} runs x {gets} ({', '.join(SPARK_READS)}, {counted(parts, 'input split')})",
        ),
        Line(
            "logs_ingestion",
            "CloudWatch",
            "Logs ingested",
            runs * u.log_bytes.value / GB,
            "logs_ingestion",
            f"{runs:,.0f} runs x {u.log_bytes.value / 1024:,.1f} KiB",
        ),
    ]


def shared_lines(u: Usage) -> list[Line]:
    """Storage and monitoring: the same whichever engine runs the pipeline."""
    runs = u.runs.value
    kept_runs = runs / MONTH_DAYS * u.run_retention_days
    stored = u.input_bytes.value + kept_runs * u.output_bytes
    stored_basis = (
        f"input {_mb(u.input_bytes.value)} + {kept_runs:,.0f} runs kept ({u.run_retention_days} d) x "
        f"{_mb(u.output_bytes)}"
    )
    if u.stored_bytes is not None:
        stored, stored_basis = u.stored_bytes.value, f"{_mb(u.stored_bytes.value)} from {u.stored_bytes.source}"
    ingested = runs * u.log_bytes.value
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
    return {
        name: f"{_show(getattr(usage, name).value, name)} from {getattr(usage, name).source}"
        for name in (
            "runs",
            "duration_ms",
            "input_bytes",
            "cleaned_bytes",
            "other_output_bytes",
            "log_bytes",
            "active_hours",
        )
    }


def _show(value: float, name: str) -> str:
    if name.endswith("bytes"):
        return _mb(value)
    if name == "duration_ms":
        return f"{value:,.0f} ms"
    return f"{value:,.0f}"


def _mb(size: float) -> str:
    if size >= 1e9:
        return f"{size / 1e9:,.2f} GB"
    if size >= 1e6:
        return f"{size / 1e6:,.1f} MB"
    return f"{size / 1e3:,.1f} kB"
