"""What a deployed stack measured, for `cost` (last day) and `status` (month to date).

Each read that fails is a reason, never an exception: the model stands in for that figure.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from dataops_cli.aws import DataopsError
from dataops_cli.config import Config
from dataops_cli.cost.breakdown import breakdown
from dataops_cli.cost.inputs import Measured, build_usage
from dataops_cli.cost.model import (
    MONTH_DAYS,
    MONTH_HOURS,
    Figure,
)
from dataops_cli.cost.skipping import SKIPPED_MODEL, split_average
from dataops_cli.counts import counted
from dataops_cli.observe import metrics
from dataops_cli.timewindow import Window
from handler import contract


def measure(config: Config, cloudwatch: Any, s3: Any, now: datetime | None = None) -> Measured:
    """Three reads of a deployed stack; each failure is a reason, never an exception."""
    now = now or datetime.now(UTC)
    found = Measured(reasons=[])
    fn = (("FunctionName", config.function.name),)
    queries = [
        metrics.Query("duration", "AWS/Lambda", "Duration", fn, "Average", whole_window=True),
        metrics.Query("invocations", "AWS/Lambda", "Invocations", fn, "Sum", whole_window=True),
        metrics.Query(
            "log_bytes", "AWS/Logs", "IncomingBytes", (("LogGroupName", config.log_group),), "Sum", whole_window=True
        ),
        skipped_query(config),
    ]
    try:
        values = metrics.fetch(cloudwatch, queries, Window.ending_now(86400, 60, now)).window_values
        split_last_day(config, found, values)
    except (ClientError, BotoCoreError) as exc:
        found.reasons.append(f"metrics not read: {_short(exc)}")
    measure_outputs(config, s3, found)
    return found


def skipped_query(config: Config) -> metrics.Query:
    """The handler's RunsSkipped (EMF: 1 for a skipped run, 0 for one that processed), summed."""
    dims = ((contract.METRIC_DIMENSION, config.function.name),)
    return metrics.Query("skipped", contract.METRICS_NAMESPACE, contract.M_RUNS_SKIPPED, dims, "Sum", whole_window=True)


def split_last_day(config: Config, found: Measured, values: dict[str, float | None]) -> None:
    """The last day's averages, split into processing and skipped runs by RunsSkipped (skipping.split_average)."""
    duration, runs, logged = values.get("duration"), values.get("invocations"), values.get("log_bytes")
    count = int(runs or 0)
    skipped = min(float(values.get("skipped") or 0.0), float(count)) if config.pipeline.skip_unchanged else 0.0
    where = f"over the last day ({counted(count, 'run')}, {skipped:,.0f} skipped)"
    if config.pipeline.skip_unchanged and count:
        found.changes_per_day = Figure(
            count - skipped,
            f"CloudWatch: {count - skipped:,.0f} of {count:,} runs processed in the last day (RunsSkipped)",
        )
    if duration:
        model_ms = SKIPPED_MODEL.duration_ms(config.function.memory_mb)
        processing, skipped_avg = split_average(duration, count, skipped, model_ms)
        if skipped_avg is not None:
            found.skipped_duration_ms = Figure(skipped_avg, f"CloudWatch: average Duration {where}")
            found.reasons.append("every run of the last day skipped: no processing run's Duration to read")
        else:
            split = f", less {skipped:,.0f} skipped runs at the model's {model_ms:,.0f} ms" if skipped else ""
            found.duration_ms = Figure(processing, f"CloudWatch: average Duration {where}{split}")
    else:
        found.reasons.append("no Duration datapoint in the last day")
    if logged and runs:
        processing, skipped_avg = split_average(logged / runs, count, skipped, SKIPPED_MODEL.log_bytes)
        source = f"CloudWatch: AWS/Logs IncomingBytes / Invocations {where}"
        if skipped_avg is not None:
            found.skipped_log_bytes = Figure(skipped_avg, source)
        else:
            found.log_bytes = Figure(processing, source + (", less the skipped runs' model bytes" if skipped else ""))
    else:
        found.log_bytes = None
        found.reasons.append("no AWS/Logs IncomingBytes datapoint in the last day")


def measure_outputs(config: Config, s3: Any, found: Measured) -> None:
    """The bytes the latest run wrote (latest.json, one listing of its folder); a failed read is a reason."""
    reasons = found.reasons if found.reasons is not None else []
    found.reasons = reasons
    try:
        latest = json.loads(s3.get_object(Bucket=config.bucket.name, Key=config.latest_key)["Body"].read())
        folder = latest["outputs"]["cleaned"].rsplit("/", 1)[0] + "/"
        listing = s3.list_objects_v2(Bucket=config.bucket.name, Prefix=folder)
        sizes = {o["Key"].rsplit("/", 1)[-1]: o["Size"] for o in listing.get("Contents", [])}
        if "cleaned.csv" in sizes:
            where = f"S3: latest run {latest.get('run_id', folder)}"
            found.cleaned_bytes = Figure(sizes["cleaned.csv"], where)
            found.other_output_bytes = Figure(sum(v for k, v in sizes.items() if k != "cleaned.csv"), where)
        else:
            reasons.append(f"the latest run's folder {folder} has no cleaned.csv")
    except (ClientError, BotoCoreError) as exc:
        reasons.append(f"latest run not read: {_short(exc)}")
    except (KeyError, ValueError, AttributeError) as exc:
        reasons.append(f"{config.latest_key} is not what the handler writes ({exc!r})")


def measure_glue(config: Config, glue: Any, found: Measured, now: datetime | None = None) -> None:
    """The Glue job's average ExecutionTime over the last day (GetJobRuns); a failed read is a reason."""
    from dataops_cli.engines.glue_run import runs_summary

    now = now or datetime.now(UTC)
    try:
        summary = runs_summary(glue, config.glue_job, now - timedelta(days=1))
    except (ClientError, BotoCoreError) as exc:
        found.reasons = [*(found.reasons or []), f"Glue job runs not read: {_short(exc)}"]
        return
    if summary["execution_seconds_avg"] is None:
        found.reasons = [*(found.reasons or []), f"no finished run of Glue job {config.glue_job} in the last day"]
        return
    count = sum(summary["states"].values())
    found.glue_seconds = Figure(
        summary["execution_seconds_avg"],
        f"Glue GetJobRuns: average ExecutionTime over the last day ({counted(count, 'run')}, "
        f"{config.glue.number_of_workers} x {config.glue.worker_type})",
    )


def month_fraction(now: datetime) -> tuple[datetime, float]:
    """Start of the calendar month (UTC) and the fraction of a 30-day month elapsed since."""
    start = now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return start, (now - start).total_seconds() / (MONTH_DAYS * 86400)


def _glue_month_runs(
    config: Config, cloudwatch: Any, glue: Any, measured: Measured, window: Window
) -> tuple[float, str]:
    """engine glue: runs = the job's finished runs the two rules matched (SUCCEEDED, FAILED, TIMEOUT;
    a STOPPED run is billed too but not counted); a run's time from its latest runs (one page)."""
    rules = (("succeeded", config.glue_succeeded_rule), ("failed", config.glue_failed_rule))
    queries = [
        metrics.Query(key, "AWS/Events", "MatchedEvents", (("RuleName", rule),), "Sum", whole_window=True)
        for key, rule in rules
    ]
    values = metrics.fetch(cloudwatch, queries, window).window_values
    runs = sum(values.get(key) or 0.0 for key, _ in rules)
    if glue is not None:
        page = glue.get_job_runs(JobName=config.glue_job, MaxResults=200).get("JobRuns", [])
        times = [float(r["ExecutionTime"]) for r in page if r.get("ExecutionTime") is not None and r.get("CompletedOn")]
        if times:
            measured.glue_seconds = Figure(
                sum(times) / len(times), f"Glue GetJobRuns: average ExecutionTime of the latest {len(times)} runs"
            )
    return runs, "AWS/Events MatchedEvents of the job's run rules"


def _lambda_month_runs(config: Config, cloudwatch: Any, measured: Measured, window: Window) -> tuple[float, float, str]:
    """(runs, skipped runs, what counted them) since the 1st; the averages split as `measure` splits them."""
    fn = (("FunctionName", config.function.name),)
    logs = (("LogGroupName", config.log_group),)
    queries = [
        metrics.Query("invocations", "AWS/Lambda", "Invocations", fn, "Sum", whole_window=True),
        metrics.Query("duration_sum", "AWS/Lambda", "Duration", fn, "Sum", whole_window=True),
        metrics.Query("log_bytes", "AWS/Logs", "IncomingBytes", logs, "Sum", whole_window=True),
        skipped_query(config),
    ]
    values = metrics.fetch(cloudwatch, queries, window).window_values
    runs = values.get("invocations") or 0.0
    skipped = min(values.get("skipped") or 0.0, runs) if config.pipeline.skip_unchanged else 0.0
    cw = f"CloudWatch since {window.start:%Y-%m-%d}"
    if runs and values.get("duration_sum"):
        model_ms = SKIPPED_MODEL.duration_ms(config.function.memory_mb)
        processing, skipped_avg = split_average(values["duration_sum"] / runs, runs, skipped, model_ms)
        if skipped_avg is not None:
            measured.skipped_duration_ms = Figure(skipped_avg, cw)
        else:
            measured.duration_ms = Figure(processing, cw)
    if runs and values.get("log_bytes"):
        processing, skipped_avg = split_average(values["log_bytes"] / runs, runs, skipped, SKIPPED_MODEL.log_bytes)
        if skipped_avg is not None:
            measured.skipped_log_bytes = Figure(skipped_avg, cw)
        else:
            measured.log_bytes = Figure(processing, cw)
    return runs, skipped, "AWS/Lambda Invocations"


def _short(exc: Exception) -> str:
    text = str(exc)
    return text if len(text) <= 140 else text[:137] + "..."


def month_to_date(
    config: Config, cloudwatch: Any, prices: Any, now: datetime, stored_bytes: float | None, glue: Any = None
) -> dict[str, Any]:
    """Estimated cost since the 1st of the month (UTC), from one GetMetricData call.

    Runs and compute are what CloudWatch counted (engine glue: the matches of the job's two
    EventBridge rules, and the average ExecutionTime of its latest runs, one GetJobRuns page);
    storage is what the S3 metric `status` already read (else steady state); the rest is
    the model. Returns a plain dict for the status report: `to_pay`, `total`, `fraction`,
    `source`, and `rows` (key -> cost).
    """
    start, fraction = month_fraction(now)
    seconds = max(60, int((now - start).total_seconds()))
    cw = f"CloudWatch since {start:%Y-%m-%d}"
    measured = Measured(reasons=[])
    window = Window.ending_now(seconds, 60, now)
    skipped: float | None = None  # engine glue: not measured (its EMF lines are not metrics)
    if glue is not None:  # the engine counts its runs with GetJobRuns
        runs, counted_by = _glue_month_runs(config, cloudwatch, glue, measured, window)
    else:
        runs, skipped, counted_by = _lambda_month_runs(config, cloudwatch, measured, window)
    try:
        usage = build_usage(config, None, measured, start)
    except DataopsError as exc:
        return {"error": str(exc)}
    if skipped is not None:
        processing = Figure(runs - skipped, f"{cw}: Invocations less RunsSkipped ({skipped:,.0f})")
    else:
        changes = usage.processing_runs.value / MONTH_DAYS if usage.processing_runs else 0.0
        processing = Figure(changes * fraction * MONTH_DAYS, f"model: {changes:g} input changes a day so far")
    usage = replace(
        usage,
        runs=Figure(runs, f"{cw}: {counted_by}"),
        processing_runs=processing if usage.skip_unchanged else None,
        active_hours=Figure(min(runs, fraction * MONTH_HOURS), f"{cw}: at most one hour per run"),
        stored_bytes=Figure(stored_bytes, "AWS/S3 BucketSizeBytes") if stored_bytes else None,
    )
    result = breakdown(usage, prices, month_fraction=fraction)
    return {
        "since": start.isoformat(),
        "fraction_of_month": round(fraction, 4),
        "runs": runs,
        "total": round(result.total, 4),
        "to_pay": round(result.total_to_pay, 4),
        "rows": {r.key: round(r.cost, 4) for r in result.rows},
        "source": f"{cw} + model; prices: {result.prices}",
    }
