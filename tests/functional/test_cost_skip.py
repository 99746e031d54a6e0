"""`dataops cost` and skipped runs, against the real handler and moto: what a skipped run requests and
logs, RunsSkipped splitting what a deployed stack measured, --input-changes-per-day on the CLI."""

from __future__ import annotations

import contextlib
import io
import json
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import boto3
import pytest

from dataops_cli.cost import model as cost
from dataops_cli.cost.breakdown import breakdown
from dataops_cli.cost.inputs import build_usage
from dataops_cli.cost.measured import measure, month_to_date
from dataops_cli.cost.prices import table_prices
from dataops_cli.cost.skipping import SKIPPED_MODEL
from handler import lambda_function
from tests.conftest import SAMPLE_CSV
from tests.functional.test_cost import config
from tests.helpers import deploy as h

RUNS = 21_600
BUCKET = "cost-skip-bucket"


def handler_run(s3, request_id: str) -> tuple[dict, list[str], list[str]]:
    """One invocation: its result, the S3 operations it made, its log lines."""
    calls: list[str] = []
    handler = s3.meta.events.register("before-call.s3", lambda model, **_: calls.append(model.name))
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        result = lambda_function.lambda_handler({}, SimpleNamespace(aws_request_id=request_id))
    s3.meta.events.unregister("before-call.s3", handler)
    return result, calls, out.getvalue().splitlines()


def test_a_skipped_run_costs_what_the_model_says(mock_aws_env, monkeypatch):
    """Requests, log lines and EMF of a real skipped run equal the model's (SKIPPED_RUN_READS, SKIPPED_MODEL)."""
    for name, value in {"BUCKET_NAME": BUCKET, "INPUT_KEY": "in.csv", "OUTPUT_PREFIX": "processed/"}.items():
        monkeypatch.setenv(name, value)
    s3 = boto3.client("s3", region_name="ap-south-1")
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "ap-south-1"})
    s3.put_object(Bucket=BUCKET, Key="in.csv", Body=SAMPLE_CSV.read_bytes())
    monkeypatch.setattr(lambda_function, "_s3_client", s3)
    first, first_calls, _ = handler_run(s3, "cost-skip-0001")
    assert first["status"] == "succeeded"
    assert first_calls.count("GetObject") == cost.get_requests_per_run(skip_unchanged=True)
    result, calls, lines = handler_run(s3, "cost-skip-0002")
    assert result["status"] == "skipped"
    assert calls == ["GetObject"] * len(cost.SKIPPED_RUN_READS)  # nothing written, nothing listed
    assert len(lines) == SKIPPED_MODEL.handler_log_lines
    logged = sum(len(line.encode()) for line in lines)
    assert logged == pytest.approx(SKIPPED_MODEL.handler_log_bytes, rel=0.1), logged
    emf = json.loads(next(line for line in lines if '"_aws"' in line))
    assert emf["RunsSkipped"] == 1
    names = {m["Name"] for m in emf["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    assert names <= set(cost.EMF_METRICS)  # no metric the bill does not count


def put_lambda_metrics(cw, c, now: datetime, runs: int, skipped: int, duration: float) -> None:
    """`runs` invocations of `duration` ms each, `skipped` of them with RunsSkipped 1, in the last hour."""
    fn = [{"Name": "FunctionName", "Value": c.function.name}]
    per = [{"Name": "Function", "Value": c.function.name}]
    stamp = now - timedelta(minutes=30)
    for i in range(runs):
        cw.put_metric_data(
            Namespace="AWS/Lambda",
            MetricData=[
                {"MetricName": "Invocations", "Dimensions": fn, "Value": 1.0, "Timestamp": stamp},
                {"MetricName": "Duration", "Dimensions": fn, "Value": duration, "Timestamp": stamp},
            ],
        )
        cw.put_metric_data(
            Namespace="DataOps/Pipeline",
            MetricData=[
                {"MetricName": "RunsSkipped", "Dimensions": per, "Value": float(i < skipped), "Timestamp": stamp}
            ],
        )


def test_runs_skipped_splits_the_last_day(mock_aws_env):
    c = config()
    cw, s3 = boto3.client("cloudwatch", region_name="ap-south-1"), boto3.client("s3", region_name="ap-south-1")
    now = datetime.now(UTC)
    put_lambda_metrics(cw, c, now, runs=10, skipped=8, duration=100.0)
    found = measure(c, cw, s3, now)
    assert found.changes_per_day.value == 2 and "2 of 10 runs processed" in found.changes_per_day.source
    model_ms = SKIPPED_MODEL.duration_ms(c.function.memory_mb)
    assert found.duration_ms.value == pytest.approx((1000 - 8 * model_ms) / 2)
    assert "less 8 skipped runs at the model's 44 ms" in found.duration_ms.source
    usage = build_usage(c, None, found)
    assert usage.processing == 2 * 30  # two changes a day, measured
    b = breakdown(usage, table_prices(c.region))
    assert b.row("s3_put").quantity == 60 * 8


def test_a_last_day_of_skips_measures_the_skipped_run(mock_aws_env):
    c = config()
    cw, s3 = boto3.client("cloudwatch", region_name="ap-south-1"), boto3.client("s3", region_name="ap-south-1")
    now = datetime.now(UTC)
    put_lambda_metrics(cw, c, now, runs=4, skipped=4, duration=51.0)
    found = measure(c, cw, s3, now)
    assert found.skipped_duration_ms.value == 51.0 and found.duration_ms is None  # the model stays for processing
    assert found.changes_per_day.value == 0
    assert "every run of the last day skipped" in " ".join(found.reasons)
    b = breakdown(build_usage(c, None, found), table_prices(c.region))
    assert b.row("s3_put").quantity == 0 and b.row("s3_get").quantity == RUNS * 2
    assert "21,600 skipped x 51 ms" in b.row("lambda_compute").basis


def test_skip_off_ignores_runs_skipped(mock_aws_env):
    c = config(pipeline={"skip_unchanged": False})
    cw, s3 = boto3.client("cloudwatch", region_name="ap-south-1"), boto3.client("s3", region_name="ap-south-1")
    now = datetime.now(UTC)
    put_lambda_metrics(cw, c, now, runs=4, skipped=2, duration=80.0)
    found = measure(c, cw, s3, now)
    assert found.changes_per_day is None and found.duration_ms.value == 80.0


def test_month_to_date_counts_skipped_runs_from_runs_skipped(mock_aws_env):
    c = config()
    cw = boto3.client("cloudwatch", region_name="ap-south-1")
    now = datetime(2026, 11, 16, tzinfo=UTC)
    put_lambda_metrics(cw, c, now, runs=5, skipped=4, duration=60.0)
    calls: list[str] = []
    cw.meta.events.register("before-call.monitoring", lambda model, **_: calls.append(model.name))
    mtd = month_to_date(c, cw, table_prices(c.region), now, stored_bytes=None)
    assert calls == ["GetMetricData"]  # RunsSkipped rides in the same call
    assert mtd["runs"] == 5
    assert mtd["rows"]["s3_put"] == pytest.approx(round(1 * 8 * 0.000005, 4))
    assert mtd["rows"]["s3_get"] == pytest.approx(round((1 * 3 + 4 * 2) * 0.0000004, 4))


def test_cli_input_changes_per_day(mock_aws_env, monkeypatch, tmp_path):
    h.install(monkeypatch)
    path = h.write_config(tmp_path / "config.toml")
    hourly = h.run(path, "cost", "--model", "--json", "--input-changes-per-day", "24")
    assert hourly.exit_code == 0, hourly.output
    doc = json.loads(hourly.output)
    assert doc["skipping"]["processing_runs"] == 720 and doc["skipping"]["configured"] is True
    assert "--input-changes-per-day" in doc["sources"]["processing_runs"]
    assert next(r for r in doc["rows"] if r["key"] == "s3_put")["quantity"] == 720 * 8
    text = h.run(path, "cost", "--model")
    flat = " ".join(text.output.split())
    assert "With and without skipping an unchanged input (30 of 21,600 runs process)" in flat
    assert "true (configured) 30 $5.37 $0.02" in flat and "false 21,600 $6.34 $0.95" in flat
    for bad in ("-1", "nan", "inf", "often"):
        result = h.run(path, "cost", "--model", "--input-changes-per-day", bad)
        assert result.exit_code == 2, (bad, result.output)
        assert "--input-changes-per-day" in result.output or "N" in result.output
    help_text = " ".join(h.run(path, "cost", "--help").output.split())
    assert "--input-changes-per-day N" in help_text and "2 GETs, no writes" in help_text
