"""The Data quality part of `dataops status`: the latest run's checks, trends, quarantined runs.

Two extra GetObjects whatever the window (the history and the latest run's quality.json);
the window's QualityWarnings/QualityFailures ride on status's one GetMetricData call, and
quarantined runs come from the log feed status already reads. Each read stands alone like
status's other sources: one that fails is recorded in status's `unavailable` map (and in
the section, which says so where its figures would be) and the rest is shown; a document
that is read but is not what the handler writes is a warning of the section.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from dataops_cli.aws import DataopsError, not_found
from dataops_cli.config import Config
from dataops_cli.observe import metrics
from handler import contract as c
from handler.quality import parse_history

NAMESPACE = c.METRICS_NAMESPACE
TREND_RUNS = 20
CHECKS_SOURCE = "s3 quality.json"  # names in status's `unavailable` map
HISTORY_SOURCE = "s3 quality history"


def queries(function: str) -> list[metrics.Query]:
    """Added to status's KPI queries: per-period sums of the handler's quality metrics."""
    dims = ((c.METRIC_DIMENSION, function),)
    return [
        metrics.Query("quality_warnings", NAMESPACE, c.M_QUALITY_WARNINGS, dims, "Sum"),
        metrics.Query("quality_failures", NAMESPACE, c.M_QUALITY_FAILURES, dims, "Sum"),
        metrics.Query("rows_processed", NAMESPACE, c.M_ROWS_PROCESSED, dims, "Sum"),
    ]


def collect(
    s3: Any,
    config: Config,
    results: metrics.MetricResults | None,
    runs: list[dict[str, Any]] | None,
    latest: dict[str, Any] | None,
    unavailable: dict[str, str],
    reason: Callable[[BaseException], str],
) -> dict[str, Any]:
    """The section as plain data (it goes into --json unchanged).

    `results` is None when the metrics were unavailable and `runs` None when the log feed
    was: the figures that come from them are then None ("not known"), not zero.
    A failed read is recorded in `unavailable` (status's map) as `reason(exc)`.
    """
    section = _empty_section(results, runs)

    def read(source: str, key: str) -> dict[str, Any] | None:
        try:
            return _read_json(s3, config.bucket.name, key, section)
        except (ClientError, BotoCoreError, DataopsError) as exc:
            unavailable[source] = section["unavailable"][source] = reason(exc)
            return None

    finished = ("succeeded", "quarantined")
    newest = next((r for r in runs or [] if r.get("run_id") and r.get("outcome") in finished), None)
    run_id = newest["run_id"] if newest else (latest or {}).get("run_id")
    if run_id:
        section["latest_run"] = run_id
        section["latest_status"] = newest["outcome"] if newest else "succeeded"
        document = read(CHECKS_SOURCE, f"{config.runs_prefix}{run_id}/{c.OUTPUT_FILES['quality']}")
        if document is not None:
            section["baseline_runs"] = document.get("baseline_runs")
            section["checks"] = document.get("checks", [])
            section["summary"] = document.get("summary")
    history = read(HISTORY_SOURCE, config.quality_history_key)
    if history is not None:
        where = f"s3://{config.bucket.name}/{config.quality_history_key}"
        try:
            section["trends"] = trends(parse_history(history, where))
        except ValueError as exc:  # names what is missing
            section["errors"].append(str(exc))
        except (TypeError, AttributeError) as exc:  # a hand-edited value of the wrong type
            section["errors"].append(f"{where} is not a quality history the handler wrote: {exc}")
    return section


def _empty_section(results: metrics.MetricResults | None, runs: list[dict[str, Any]] | None) -> dict[str, Any]:
    """The section before the files are read: what the metrics and the run log already say."""
    return {
        "latest_run": None,
        "latest_status": None,
        "baseline_runs": None,
        "summary": None,
        "checks": [],
        "trends": {"runs": [], "rows": [], "missing_rate": []},
        "quarantined": None
        if runs is None
        else [
            {"run_id": r.get("run_id"), "started": r.get("started"), "message": r.get("error")}
            for r in runs
            if r.get("outcome") == "quarantined"
        ],
        "window": {
            "warnings": results.total("quality_warnings") if results else None,
            "failures": results.total("quality_failures") if results else None,
            "rows_series": results.series.get("rows_processed", []) if results else [],
        },
        "errors": [],
        "unavailable": {},
    }


def trends(profiles: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """Per run of the history (oldest first): rows and the share of missing cells before imputation."""
    recent = profiles[-TREND_RUNS:]
    rates = []
    for p in recent:
        cells = p["rows"] * max(len(p.get("columns", [])), 1)
        rates.append(round(sum(p.get("missing", {}).values()) / cells, 6) if cells else 0.0)
    return {"runs": [p["run_id"] for p in recent], "rows": [p["rows"] for p in recent], "missing_rate": rates}


def health(section: dict[str, Any] | None) -> tuple[list[str], list[str]]:
    """(failing reasons, warnings): a failing check or a quarantined run fails; warnings warn."""
    if not section:
        return [], []
    failing, warnings = [], []
    checks = section.get("checks") or []
    failed = [c for c in checks if c.get("level") == "fail"]
    warned = [c for c in checks if c.get("level") == "warn"]
    run = section.get("latest_run")
    if failed:
        failing.append(f"data quality: {_names(failed)} failed in run {run}")
    if section.get("quarantined"):
        ids = ", ".join(q["run_id"] or "?" for q in section["quarantined"])
        failing.append(f"data quality: quarantined run(s) {ids} (outputs kept out of latest.json)")
    window_failures = (section.get("window") or {}).get("failures") or 0
    if window_failures and not failed and not section.get("quarantined"):
        failing.append(f"data quality: {window_failures:.0f} failing check(s) in the window (QualityFailures)")
    if warned:
        warnings.append(f"data quality: {_names(warned)} warned in run {run}")
    for error in section.get("errors", []):
        warnings.append(f"data quality: {error}")
    return failing, warnings


def _names(checks: list[dict[str, Any]]) -> str:
    return ", ".join(c["name"] + (f" [{c['column']}]" if c.get("column") else "") for c in checks)


def _read_json(s3: Any, bucket: str, key: str, section: dict[str, Any]) -> dict[str, Any] | None:
    """The document, or None when it does not exist (no run yet); a read that fails raises."""
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as exc:
        if not_found(exc):
            return None
        raise
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        section["errors"].append(f"s3://{bucket}/{key} is not valid JSON")
        return None
    if not isinstance(document, dict):
        section["errors"].append(f"s3://{bucket}/{key} is not a JSON object")
        return None
    return document
