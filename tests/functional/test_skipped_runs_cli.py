"""Runs that skip an unchanged input, as status and runs show them (issue 22).

A skipped run writes nothing to S3: its ⏭️ log line is its record. Real handler runs on the
deployed moto stack (tests/functional/test_quality_cli.py's run_handler: lines into the log
group, EMF into metrics, as Lambda would), then the CLI reads them back.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.exceptions import ClientError

from dataops_cli.engines.lambda_engine import LambdaEngine
from tests.functional.test_quality_cli import BUCKET, SAMPLE, deploy, run_handler
from tests.helpers import deploy as h

LATEST = "processed/latest.json"


@pytest.fixture
def deployed(mock_aws_env, monkeypatch, tmp_path):
    return deploy(monkeypatch, tmp_path)


def processed_then_skipped(monkeypatch, config) -> tuple[dict, dict]:
    first = run_handler(monkeypatch, config, SAMPLE, 1, skip_unchanged=True)
    second = run_handler(monkeypatch, config, SAMPLE, 2, skip_unchanged=True)
    assert first["status"] == "succeeded" and second["status"] == "skipped", (first, second)
    # Lambda's own metrics for the two invocations (run_handler writes the handler's EMF only):
    # a skip returns normally, so Lambda counts no error for it
    cloudwatch = boto3.client("cloudwatch", region_name=h.REGION)
    for name, value in (("Invocations", 2.0), ("Errors", 0.0)):
        cloudwatch.put_metric_data(
            Namespace="AWS/Lambda",
            MetricData=[
                {
                    "MetricName": name,
                    "Dimensions": [{"Name": "FunctionName", "Value": "DataOpsPipelineFunction"}],
                    "Value": value,
                }
            ],
        )
    return first, second


def age_latest(minutes: int) -> None:
    """latest.json as if its run had finished `minutes` ago (its record, fingerprint and all, kept)."""
    s3 = boto3.client("s3", region_name=h.REGION)
    latest = json.loads(s3.get_object(Bucket=BUCKET, Key=LATEST)["Body"].read())
    latest["finished_at"] = (datetime.now(UTC) - timedelta(minutes=minutes)).isoformat()
    s3.put_object(Bucket=BUCKET, Key=LATEST, Body=json.dumps(latest).encode())


def status_json(config) -> tuple[int, dict]:
    result = h.run(config, "status", "--json", "--since", "30m")
    return result.exit_code, json.loads(result.output)


def test_status_lists_the_skip_counts_it_and_keeps_success_at_100_percent(deployed, monkeypatch):
    first, second = processed_then_skipped(monkeypatch, deployed)
    _, report = status_json(deployed)
    (skip,) = [r for r in report["runs"] if r["outcome"] == "skipped (input unchanged)"]
    assert skip["run_id"] == second["run_id"] and skip["confirms"] == first["run_id"]
    assert report["kpis"]["runs_skipped"]["value"] == 1
    # the feed reads the skip (a REPORT line and no ✅ line) as a success, not a crashed run
    assert report["kpis"]["success_rate"]["value"] == 1.0 and report["kpis"]["errors"]["value"] == 0
    assert report["errors"] == []


def test_a_skip_keeps_old_outputs_fresh_and_says_which_run_confirmed_them(deployed, monkeypatch):
    _, second = processed_then_skipped(monkeypatch, deployed)
    age_latest(20)  # older than the 360 s after which rate(2 minutes) outputs are stale
    code, report = status_json(deployed)
    fresh = report["kpis"]["freshness"]
    assert fresh["level"] == "ok" and fresh["value"] < 120, fresh
    assert f"confirmed current by skipped run {second['run_id']}" in fresh["source"]
    assert code == 0, report["health"]
    assert report["latest"]["confirmed_by"] == second["run_id"] and report["latest"]["age_seconds"] > 1000
    screen = " ".join(h.run(deployed, "status", "--since", "30m").output.split())
    assert re.search(r"latest output \S+ \(2\dm old, confirmed current \d+s ago\)", screen), screen


def test_without_a_skip_the_same_old_outputs_are_stale(deployed, monkeypatch):
    run_handler(monkeypatch, deployed, SAMPLE, 1, skip_unchanged=True)
    age_latest(20)
    code, report = status_json(deployed)
    assert report["kpis"]["freshness"]["level"] == "fail" and "confirmed" not in report["kpis"]["freshness"]["source"]
    assert code == 3


def test_a_skip_that_confirmed_another_run_does_not_vouch_for_latest(deployed, monkeypatch):
    processed_then_skipped(monkeypatch, deployed)
    s3 = boto3.client("s3", region_name=h.REGION)
    latest = json.loads(s3.get_object(Bucket=BUCKET, Key=LATEST)["Body"].read())
    latest["run_id"] = "20261125T000000Z-someone"  # a later run published something else
    latest["finished_at"] = (datetime.now(UTC) - timedelta(minutes=20)).isoformat()
    s3.put_object(Bucket=BUCKET, Key=LATEST, Body=json.dumps(latest).encode())
    _, report = status_json(deployed)
    assert report["kpis"]["freshness"]["level"] == "fail"


def test_the_status_screen_marks_the_skip(deployed, monkeypatch):
    processed_then_skipped(monkeypatch, deployed)
    result = h.run(deployed, "status", "--since", "30m")
    assert result.exit_code == 0, result.output
    flat = " ".join(result.output.split())
    assert "⏭️ skipped (input unchanged)" in flat  # which run it confirmed: in --json and `runs`
    assert "1 skipped" in flat  # under the success rate of the Invocations tile


def test_runs_lists_the_skip_among_the_bucket_runs(deployed, monkeypatch):
    first, second = processed_then_skipped(monkeypatch, deployed)
    result = h.run(deployed, "runs", "--json")
    assert result.exit_code == 0, result.output
    listed = json.loads(result.output)
    assert [r["run_id"] for r in listed] == [second["run_id"], first["run_id"]]
    assert listed[0]["status"] == "skipped" and listed[0]["confirms"] == first["run_id"]
    assert listed[1]["status"] == "succeeded"
    table = h.run(deployed, "runs")
    flat = " ".join(table.output.split())
    assert "⏭️ skipped" in flat and f"input unchanged: confirms {first['run_id']}" in flat


def test_runs_limit_counts_skips_and_reads_run_json_only_for_listed_folders(deployed, monkeypatch):
    processed_then_skipped(monkeypatch, deployed)
    third = run_handler(monkeypatch, deployed, SAMPLE, 3, skip_unchanged=True)
    assert third["status"] == "skipped"
    result = h.run(deployed, "runs", "--json", "--limit", "2")
    listed = json.loads(result.output)
    assert [r["status"] for r in listed] == ["skipped", "skipped"]


@pytest.mark.parametrize("code", ["AccessDeniedException", "ThrottlingException"])
def test_runs_still_lists_the_bucket_when_the_log_cannot_be_read(deployed, monkeypatch, code):
    first, _ = processed_then_skipped(monkeypatch, deployed)

    def denied(self, aws, start_ms, end_ms=None):
        raise ClientError({"Error": {"Code": code, "Message": "not for you"}}, "FilterLogEvents")

    monkeypatch.setattr(LambdaEngine, "skipped_runs", denied)
    result = h.run(deployed, "runs", "--json")
    assert result.exit_code == 5
    assert f"Warning: skipped runs not listed: could not read the run log of DataOpsPipelineFunction: {code}" in (
        result.stderr
    )
    assert [r["run_id"] for r in json.loads(result.stdout)] == [first["run_id"]]


def test_runs_show_of_a_skipped_run_says_skips_write_nothing(deployed, monkeypatch):
    _, second = processed_then_skipped(monkeypatch, deployed)
    result = h.run(deployed, "runs", "show", second["run_id"])
    assert result.exit_code == 1
    assert "a run that skipped an unchanged input: those write nothing" in " ".join(result.output.split())


def test_logs_print_the_skip_line_and_errors_leave_it_out(deployed, monkeypatch):
    first, _ = processed_then_skipped(monkeypatch, deployed)
    shown = h.run(deployed, "logs", "--since", "10m")
    assert shown.exit_code == 0, shown.output
    (line,) = [x for x in shown.output.splitlines() if "⏭️" in x]
    assert "INFO  ⏭️ Run skipped: input unchanged" in line and f'confirms="{first["run_id"]}"' in line
    errors = h.run(deployed, "logs", "--since", "10m", "--errors")
    assert errors.exit_code == 0 and "⏭️" not in errors.output


def put_skip_line(confirms: str, at: datetime) -> str:
    """A skipped run's ⏭️ line as the handler writes it, logged at `at`."""
    run_id = at.strftime("%Y%m%dT%H%M%SZ") + "-0000abcd"
    line = {
        "level": "INFO",
        "event": "skipped",
        "message": f"⏭️ Run skipped: input unchanged (ETag e), same settings and code as the published run {confirms}",
        "request_id": "0000abcd-1111-2222-3333-444444444444",
        "run_id": run_id,
        "confirms": confirms,
    }
    logs = boto3.client("logs", region_name=h.REGION)
    stream = "2026/11/26/[$LATEST]000000000000000000000000000skip"
    logs.create_log_stream(logGroupName="/aws/lambda/DataOpsPipelineFunction", logStreamName=stream)
    logs.put_log_events(
        logGroupName="/aws/lambda/DataOpsPipelineFunction",
        logStreamName=stream,
        logEvents=[{"timestamp": int(at.timestamp() * 1000), "message": json.dumps(line, ensure_ascii=False)}],
    )
    return run_id


def test_a_daily_schedules_skip_from_before_the_feed_still_confirms(mock_aws_env, monkeypatch, tmp_path):
    """rate(1 day): status's run feed covers hours, the last skip was 20 h ago. One more read
    (made only because latest.json would be stale) finds it."""
    config = deploy(monkeypatch, tmp_path, '[schedule]\nexpression = "rate(1 day)"\n')
    first = run_handler(monkeypatch, config, SAMPLE, 1, skip_unchanged=True)
    age_latest(4 * 24 * 60)  # published 4 days ago: stale after 3 days of a daily schedule
    _, stale = status_json(config)
    assert stale["kpis"]["freshness"]["level"] == "fail"
    skipped = put_skip_line(first["run_id"], datetime.now(UTC) - timedelta(hours=20))
    _, report = status_json(config)
    fresh = report["kpis"]["freshness"]
    assert fresh["level"] == "ok" and fresh["value"] == pytest.approx(20 * 3600, abs=120), fresh
    assert f"confirmed current by skipped run {skipped}" in fresh["source"]
    assert "logs (skipped runs)" not in report["unavailable"]
