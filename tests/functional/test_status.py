"""`dataops status`: exact KPI arithmetic on seeded metrics and logs, health, JSON, call counts."""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime, timedelta

import boto3
import pytest

from dataops_cli.aws import Aws
from dataops_cli.config import load_config
from dataops_cli.deploy.resources.base import StackContext
from dataops_cli.observe.status import StatusOptions, collect
from tests.helpers import deploy as h

FN = "DataOpsPipelineFunction"
GROUP = "/aws/lambda/DataOpsPipelineFunction"


@pytest.fixture
def deployed(mock_aws_env, monkeypatch, tmp_path):
    config = tmp_path / "config.toml"
    recorder = h.deployed_stack(monkeypatch, config)
    # The tests seed metrics and logs from before `up` ran; status counts errors only since the
    # stack's creation (its log group's), so date that back here (test_errors_before_creation... uses the real one).
    monkeypatch.setattr(
        "dataops_cli.observe.runlog_reader.log_group_created", lambda logs, group: datetime.now(UTC) - timedelta(days=1)
    )
    return recorder, config


def put_metric(namespace: str, name: str, dims: dict, value: float, when: datetime) -> None:
    boto3.client("cloudwatch", region_name=h.REGION).put_metric_data(
        Namespace=namespace,
        MetricData=[
            {
                "MetricName": name,
                "Dimensions": [{"Name": k, "Value": v} for k, v in dims.items()],
                "Timestamp": when,
                "Value": value,
            }
        ],
    )


def put_logs(lines: list[tuple[datetime, str]], stream: str = "2026/11/25/[$LATEST]0123456789abcdef") -> None:
    logs = boto3.client("logs", region_name=h.REGION)
    with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
        logs.create_log_stream(logGroupName=GROUP, logStreamName=stream)
    logs.put_log_events(
        logGroupName=GROUP,
        logStreamName=stream,
        logEvents=[{"timestamp": int(t.timestamp() * 1000), "message": m} for t, m in sorted(lines)],
    )


def handler_line(event: str, request_id: str, run_id: str, **fields) -> str:
    markers = {
        "start": "🚀 Pipeline run started",
        "shape": "📊 Dataset shape",
        "missing": "📈 Missing values handled",
        "saved": "✅ Files saved",
        "error": "❌ Pipeline run failed: line 2 has 3 fields",
    }
    level = "ERROR" if event == "error" else "INFO"
    return json.dumps(
        {
            "level": level,
            "event": event,
            "message": markers[event],
            "request_id": request_id,
            "run_id": run_id,
            "cold_start": False,
            **fields,
        },
        ensure_ascii=False,
    )


def seed_runs(now: datetime, durations: list[float], failed: set[int]) -> list[str]:
    """One run every 2 minutes ending at `now`: metrics, REPORT lines and handler lines."""
    lines: list[tuple[datetime, str]] = []
    run_ids = []
    fn = {"FunctionName": FN}
    for i, duration in enumerate(durations):
        when = now - timedelta(seconds=120 * (len(durations) - i)) + timedelta(seconds=5)
        request_id = f"{i:08d}-0000-0000-0000-000000000000"
        run_id = f"20261125T00000{i}Z-{i:08d}"
        run_ids.append(run_id)
        put_metric("AWS/Lambda", "Invocations", fn, 1, when)
        put_metric("AWS/Lambda", "Errors", fn, 1 if i in failed else 0, when)
        put_metric("AWS/Lambda", "Duration", fn, duration, when)
        put_metric("AWS/Lambda", "AsyncEventAge", fn, 40 + i, when)
        put_metric("AWS/Scheduler", "InvocationAttemptCount", {"ScheduleGroup": "dataops-schedules"}, 1, when)
        lines.append((when, f"START RequestId: {request_id} Version: $LATEST"))
        lines.append((when + timedelta(milliseconds=1), handler_line("start", request_id, run_id, start_time="x")))
        lines.append((when + timedelta(milliseconds=2), handler_line("shape", request_id, run_id, rows=768, columns=9)))
        if i in failed:
            lines.append(
                (
                    when + timedelta(milliseconds=3),
                    handler_line("error", request_id, run_id, error={"code": "WrongFieldCount", "message": "line 2"}),
                )
            )
        else:
            lines.append(
                (
                    when + timedelta(milliseconds=3),
                    handler_line(
                        "missing", request_id, run_id, missing_values_handled={"Insulin": 374}, missing_total=374
                    ),
                )
            )
            lines.append(
                (
                    when + timedelta(milliseconds=4),
                    handler_line("saved", request_id, run_id, files=[f"processed/runs/{run_id}/cleaned.csv"]),
                )
            )
        lines.append((when + timedelta(milliseconds=5), f"END RequestId: {request_id}"))
        lines.append(
            (
                when + timedelta(milliseconds=6),
                f"REPORT RequestId: {request_id}\tDuration: {duration:.2f} ms\t"
                f"Billed Duration: {int(duration) + 1} ms\tMemory Size: 1024 MB\tMax Memory Used: 180 MB",
            )
        )
    put_logs(lines)
    return run_ids


def status_json(config, *args: str) -> tuple[int, dict]:
    result = h.run(config, "status", "--json", *args)
    return result.exit_code, json.loads(result.output)


def test_kpis_are_exact_on_seeded_data(deployed):
    _, config = deployed
    now = datetime.now(UTC)
    durations = [float(d) for d in [120, 95, 101, 99, 3000, 105, 98, 97, 110, 102]]
    run_ids = seed_runs(now, durations, failed={4})
    boto3.client("s3", region_name=h.REGION).put_object(
        Bucket="dataops-pipeline-bucket",
        Key="processed/latest.json",
        Body=json.dumps({"run_id": run_ids[-1], "finished_at": now.isoformat(), "outputs": {}}).encode(),
    )
    code, report = status_json(config, "--since", "1h")
    k = report["kpis"]
    assert k["invocations"]["value"] == 10
    assert k["errors"]["value"] == 1
    assert k["error_rate"]["value"] == pytest.approx(0.1)
    assert k["success_rate"]["value"] == pytest.approx(0.9)
    assert k["duration_avg"]["value"] == pytest.approx(sum(durations) / 10)
    assert k["duration_max"]["value"] == 3000
    # p99 of 10 values by nearest rank is the largest: never an average of per-period values
    assert k["duration_p99"]["value"] == 3000.0
    assert "REPORT log lines (exact, from 10 durations;" in k["duration_p99"]["source"]
    assert k["async_event_age_max"]["value"] == 49
    assert k["scheduler_attempts"]["value"] == 10
    assert report["window"]["period_seconds"] == 120 and len(report["series"]["invocations"]) == 30
    assert sum(report["series"]["invocations"]) == 10 and report["series"]["invocations"].count(0.0) >= 20
    runs = report["runs"]
    assert [r["run_id"] for r in runs] == run_ids[::-1]
    assert runs[0]["outcome"] == "succeeded" and runs[0]["rows"] == 768 and runs[0]["missing_total"] == 374
    assert runs[0]["duration_ms"] == 102.0 and runs[0]["memory_used_mb"] == 180
    failed = next(r for r in runs if r["run_id"] == run_ids[4])
    assert failed["outcome"] == "failed" and "line 2 has 3 fields" in failed["error"]
    assert [e["code"] for e in report["errors"]] == ["WrongFieldCount"]
    assert report["latest"]["run_id"] == run_ids[-1]
    # the failed run was followed by five successful ones: recovered, a warning, not failing
    recovered_at = datetime.fromtimestamp(runs[4]["started"] / 1000, UTC)
    assert runs[4]["run_id"] == run_ids[5]
    assert report["health"]["level"] == "warning" and code == 0
    assert f"errors: recovered at {recovered_at:%H:%M} UTC after 1 error" in report["health"]["reasons"]
    assert k["errors"]["level"] == "warn"


def test_healthy_pipeline_exits_zero_and_renders_tiles(deployed):
    _, config = deployed
    now = datetime.now(UTC)
    run_ids = seed_runs(now, [100.0, 110.0, 120.0], failed=set())
    boto3.client("s3", region_name=h.REGION).put_object(
        Bucket="dataops-pipeline-bucket",
        Key="processed/latest.json",
        Body=json.dumps({"run_id": run_ids[-1], "finished_at": now.isoformat(), "outputs": {}}).encode(),
    )
    result = h.run(config, "status", "--since", "30m")
    assert result.exit_code == 0, result.output
    for label in ("Invocations", "Errors", "Throttles", "Duration avg", "Duration p99", "Event age max", "Freshness"):
        assert label in result.output
    assert "HEALTHY" in result.output and run_ids[-1] in result.output
    assert "p99 from REPORT log lines" in result.output


def test_missed_runs_come_from_the_schedule(deployed):
    _, config = deployed
    ctx = StackContext(
        config=load_config(config), aws=Aws(region=h.REGION), gaps={"percentiles": "moto", "tls_policy": h.MOTO_TLS_GAP}
    )
    created = (
        boto3.client("scheduler", region_name=h.REGION)
        .get_schedule(Name="dataops-run-pipeline", GroupName="dataops-schedules")["CreationDate"]
        .astimezone(UTC)
    )
    later = created + timedelta(minutes=20, seconds=30)
    for k in range(1, 8):  # 7 of the 10 firings due by then were seen
        put_metric(
            "AWS/Scheduler",
            "InvocationAttemptCount",
            {"ScheduleGroup": "dataops-schedules"},
            1,
            created + timedelta(seconds=120 * k + 1),
        )
    report = collect(ctx, StatusOptions(since_seconds=3600, metric_lag_seconds=5), now=later)
    assert report.kpis["expected_runs"].value == 10
    assert report.kpis["missed_runs"].value == 3
    assert report.health.level == "failing" and report.health.exit_code == 3
    fast = collect(ctx, StatusOptions(since_seconds=3600, metric_lag_seconds=5, time_scale=2), now=later)
    assert fast.kpis["expected_runs"].value == 20
    assert "at 2x speed" in fast.kpis["expected_runs"].source


def test_status_makes_the_same_number_of_calls_whatever_the_window(deployed):
    recorder, config = deployed
    seed_runs(datetime.now(UTC), [100.0] * 5, failed=set())
    counts = []
    for since in ("30m", "1d", "2w"):
        assert h.run(config, "status", "--json", "--since", since).exit_code in (0, 3)
        counts.append(recorder.last.counter.total)
    assert len(set(counts)) == 1, counts
    assert counts[0] < 40


def test_nothing_deployed_exits_4(mock_aws_env, monkeypatch, tmp_path):
    h.publish_stand_in_layer()
    h.install(monkeypatch)
    config = h.write_config(tmp_path / "config.toml")
    result = h.run(config, "status")
    assert result.exit_code == 4
    assert "nothing of stack 'dataops' is deployed: run dataops up" in result.output


def test_half_deployed_stack_names_what_is_missing(deployed):
    _, config = deployed
    boto3.client("lambda", region_name=h.REGION).delete_function(FunctionName=FN)
    code, report = status_json(config)
    assert code == 4
    assert report["health"]["reasons"] == [f"stack incomplete: Lambda function {FN} (run dataops up)"]
    row = next(r for r in report["resources"] if r["kind"] == "Lambda function")
    assert row == {
        "kind": "Lambda function",
        "name": FN,
        "state": "missing",
        "details": row["details"],
        "fix": "dataops up",
    }


def test_drift_is_shown_with_the_fix(deployed):
    _, config = deployed
    config.write_text(config.read_text().replace("[function]\n", "[function]\nmemory_mb = 2048\n"))
    code, report = status_json(config)
    row = next(r for r in report["resources"] if r["kind"] == "Lambda function")
    assert row["state"] == "drifted" and row["details"] == ["MemorySize: 1024 -> 2048"] and row["fix"] == "dataops up"
    assert any("drifted from the config (dataops up fixes it)" in reason for reason in report["health"]["reasons"])
    assert code == 0


def test_bad_since_is_a_usage_error(deployed):
    _, config = deployed
    result = h.run(config, "status", "--since", "3 fortnights")
    assert result.exit_code == 2 and "not a time span" in result.output


def test_status_json_schema(deployed):
    _, config = deployed
    seed_runs(datetime.now(UTC), [100.0, 200.0], failed=set())
    _, report = status_json(config, "--since", "30m")
    assert set(report) == {
        "local",
        "stack",
        "target",
        "generated_at",
        "window",
        "health",
        "resources",
        "kpis",
        "series",
        "storage",
        "runs",
        "errors",
        "latest",
        "quality",
        "cost",
        "unavailable",
        "api_calls",
        "config_file",
        "stack_created",
        "notes",
        "glue_runs",
    }
    assert report["unavailable"] == {}
    assert set(report["health"]) == {"level", "reasons", "exit_code"}
    assert set(report["window"]) == {"start", "end", "period_seconds", "seconds"}
    for name, kpi in report["kpis"].items():
        assert set(kpi) == {"value", "unit", "source", "level"}, name
        assert kpi["level"] in ("ok", "warn", "fail")
    assert {
        "invocations",
        "errors",
        "throttles",
        "duration_avg",
        "duration_p99",
        "async_event_age_max",
        "missed_runs",
    } <= set(report["kpis"])
    assert set(report["runs"][0]) >= {
        "run_id",
        "request_id",
        "start_time",
        "rows",
        "columns",
        "missing",
        "duration_ms",
        "files",
        "outcome",
        "error",
    }


def test_status_watch_refreshes_until_interrupted(deployed, monkeypatch):
    _, config = deployed

    ticks = []

    def tick(_seconds):
        ticks.append(1)
        if len(ticks) == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr("dataops_cli.cli.status.time.sleep", tick)
    result = h.run(config, "status", "--watch", "3")
    assert result.exit_code == 0, result.output
    assert len(ticks) == 2 and "Resources" in result.output


def test_status_without_credentials_is_one_clear_line(aws_env, monkeypatch, tmp_path):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    config = h.write_config(tmp_path / "config.toml")
    result = h.run(config, "status")
    assert result.exit_code == 1
    assert "no AWS credentials found" in result.output and "Traceback" not in result.output


def test_stale_output_fails_the_check(deployed):
    _, config = deployed
    old = datetime.now(UTC) - timedelta(minutes=20)
    boto3.client("s3", region_name=h.REGION).put_object(
        Bucket="dataops-pipeline-bucket",
        Key="processed/latest.json",
        Body=json.dumps({"run_id": "old", "finished_at": old.isoformat(), "outputs": {}}).encode(),
    )
    code, report = status_json(config, "--since", "30m")
    assert report["kpis"]["freshness"]["level"] == "fail"
    assert report["kpis"]["freshness"]["value"] == pytest.approx(1200, abs=30)
    assert any(r.startswith("latest output is 12") and "stale after 360 s" in r for r in report["health"]["reasons"])
    assert code == 3


@pytest.mark.parametrize(
    ("body", "shown"),
    [
        (json.dumps({"run_id": "r", "finished_at": "yesterday", "outputs": {}}), "(absent)"),
        (json.dumps(["not", "an", "object"]), None),
    ],
    ids=["unreadable-time", "not-an-object"],
)
def test_a_latest_json_anyone_edited_badly_is_reported_not_a_crash(deployed, body, shown):
    _, config = deployed
    boto3.client("s3", region_name=h.REGION).put_object(
        Bucket="dataops-pipeline-bucket", Key="processed/latest.json", Body=body.encode()
    )
    result = h.run(config, "status", "--json", "--since", "30m")
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    report = json.loads(result.output)
    if shown is None:
        assert report["latest"] == {"error": "processed/latest.json is not a JSON object"}
    else:
        assert report["kpis"]["freshness"]["value"] is None and shown in report["kpis"]["freshness"]["source"]
