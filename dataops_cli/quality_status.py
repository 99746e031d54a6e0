"""The Data quality part of `dataops status`: the latest run's checks, trends, quarantined runs.

Two extra GetObjects whatever the window (the history and the latest run's quality.json);
the window's QualityWarnings/QualityFailures ride on status's one GetMetricData call, and
quarantined runs come from the log feed status already reads. A read that fails is
reported in the section instead of failing the whole status.
"""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from dataops_cli import metrics
from dataops_cli.aws import not_found
from dataops_cli.config import Config

NAMESPACE = "DataOps/Pipeline"
TREND_RUNS = 20


def queries(function: str) -> list[metrics.Query]:
    """Added to status's KPI queries: per-period sums of the handler's quality metrics."""
    dims = (("Function", function),)
    return [
        metrics.Query("quality_warnings", NAMESPACE, "QualityWarnings", dims, "Sum"),
        metrics.Query("quality_failures", NAMESPACE, "QualityFailures", dims, "Sum"),
        metrics.Query("rows_processed", NAMESPACE, "RowsProcessed", dims, "Sum"),
    ]


def collect(
    s3: Any,
    config: Config,
    results: metrics.MetricResults | None,
    runs: list[dict[str, Any]],
    latest: dict[str, Any] | None,
) -> dict[str, Any]:
    """The section as plain data (it goes into --json unchanged)."""
    section: dict[str, Any] = {
        "latest_run": None,
        "latest_status": None,
        "baseline_runs": None,
        "summary": None,
        "checks": [],
        "trends": {"runs": [], "rows": [], "missing_rate": []},
        "quarantined": [
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
    }
    newest = next((r for r in runs if r.get("run_id") and r.get("outcome") in ("succeeded", "quarantined")), None)
    run_id = newest["run_id"] if newest else (latest or {}).get("run_id")
    if run_id:
        section["latest_run"] = run_id
        section["latest_status"] = newest["outcome"] if newest else "succeeded"
        document = _read_json(s3, config.bucket.name, f"{config.runs_prefix}{run_id}/quality.json", section)
        if document is not None:
            section["baseline_runs"] = document.get("baseline_runs")
            section["checks"] = document.get("checks", [])
            section["summary"] = document.get("summary")
    history = _read_json(s3, config.bucket.name, config.quality_history_key, section)
    if history is not None:
        section["trends"] = trends(history.get("profiles", []))
    return section


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
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as exc:
        if not not_found(exc):
            section["errors"].append(f"could not read s3://{bucket}/{key}: {exc}")
        return None
    except BotoCoreError as exc:
        section["errors"].append(f"could not read s3://{bucket}/{key}: {exc}")
        return None
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        section["errors"].append(f"s3://{bucket}/{key} is not valid JSON")
        return None
    if not isinstance(document, dict):
        section["errors"].append(f"s3://{bucket}/{key} is not a JSON object")
        return None
    return document
