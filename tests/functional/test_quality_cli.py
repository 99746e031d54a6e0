"""Data quality through the CLI: real handler runs (in process, on moto) feed status, runs and up.

Each run is the real handler against the deployed moto bucket; its stdout lines go into
the function's log group and its EMF document into CloudWatch metrics, as Lambda would
(the same conversion the local emulator uses), so status reads what AWS would hold.
"""

from __future__ import annotations

import io
import json
from contextlib import redirect_stdout
from datetime import UTC, datetime
from types import SimpleNamespace

import boto3
import pytest

from dataops_cli.config import load_config
from dataops_cli.emulator.telemetry import emf_metrics
from dataops_cli.observe.quality_status import health, trends
from handler import lambda_function
from tests.functional.test_quality_handler import SAMPLE, min_max_normalized, shifted, with_column
from tests.helpers import deploy as h

GROUP = "/aws/lambda/DataOpsPipelineFunction"
BUCKET = "dataops-pipeline-bucket"


def deploy(monkeypatch, tmp_path, extra: str = ""):
    config = tmp_path / "config.toml"
    h.deployed_stack(monkeypatch, config, extra)
    return config


@pytest.fixture
def deployed(mock_aws_env, monkeypatch, tmp_path):
    return deploy(monkeypatch, tmp_path)


@pytest.fixture
def blocking(mock_aws_env, monkeypatch, tmp_path):
    return deploy(monkeypatch, tmp_path, '[quality]\non_failure = "block"\n')


def run_handler(monkeypatch, config_path, data: bytes, n: int, skip_unchanged: bool = False) -> dict:
    """One real run: its logs and metrics land where Lambda would put them."""
    config = load_config(config_path)
    for name, value in config.handler_environment().items():
        monkeypatch.setenv(name, value)
    # these tests run one input again and again: each run processes unless asked otherwise
    monkeypatch.setenv("SKIP_UNCHANGED", "true" if skip_unchanged else "false")
    s3 = boto3.client("s3", region_name=h.REGION)
    monkeypatch.setattr(lambda_function, "_s3_client", s3)
    s3.put_object(Bucket=BUCKET, Key=config.bucket.input_key, Body=data)
    out = io.StringIO()
    request_id = f"{n:08d}-1111-2222-3333-444444444444"
    with redirect_stdout(out):
        result = lambda_function.lambda_handler({"trigger": "test"}, SimpleNamespace(aws_request_id=request_id))
    lines = out.getvalue().splitlines()
    logs = boto3.client("logs", region_name=h.REGION)
    stream = f"2026/11/26/[$LATEST]{n:032x}"
    logs.create_log_stream(logGroupName=GROUP, logStreamName=stream)
    now = int(datetime.now(UTC).timestamp() * 1000)
    events = [f"START RequestId: {request_id} Version: $LATEST", *lines, f"END RequestId: {request_id}"]
    events.append(f"REPORT RequestId: {request_id}\tDuration: 812.40 ms\tBilled Duration: 813 ms")
    logs.put_log_events(
        logGroupName=GROUP,
        logStreamName=stream,
        logEvents=[{"timestamp": now + i, "message": m} for i, m in enumerate(events)],
    )
    cloudwatch = boto3.client("cloudwatch", region_name=h.REGION)
    for line in lines:
        for namespace, datum in emf_metrics(line):
            datum["Timestamp"] = datetime.now(UTC)
            cloudwatch.put_metric_data(Namespace=namespace, MetricData=[datum])
    return result


def status_json(config) -> tuple[int, dict]:
    result = h.run(config, "status", "--json", "--since", "30m")
    return result.exit_code, json.loads(result.output)


def test_status_shows_a_warning_check_and_stays_exit_0(deployed, monkeypatch):
    run_handler(monkeypatch, deployed, SAMPLE, 1)
    run_handler(monkeypatch, deployed, SAMPLE, 2)
    last = run_handler(monkeypatch, deployed, shifted("BMI", 15), 3)
    code, report = status_json(deployed)
    quality = report["quality"]
    assert quality["latest_run"] == last["run_id"] and quality["latest_status"] == "succeeded"
    assert quality["baseline_runs"] == 2
    assert [(c["name"], c["level"], c.get("column")) for c in quality["checks"] if c["level"] != "ok"] == [
        ("distribution", "warn", "BMI")
    ]
    assert quality["trends"]["rows"] == [768, 768, 768] and len(quality["trends"]["missing_rate"]) == 3
    assert quality["window"]["warnings"] == 1.0 and quality["window"]["failures"] == 0.0
    assert quality["quarantined"] == []
    assert f"data quality: distribution [BMI] warned in run {last['run_id']}" in report["health"]["reasons"]
    assert report["health"]["level"] == "warning" and code == 0

    text = h.run(deployed, "status", "--since", "30m")
    assert "Data quality" in text.output and "distribution" in text.output and "BMI" in text.output
    assert "compared with 2 earlier runs" in text.output and "missing rate" in text.output


def test_failing_check_in_warn_mode_is_failing_exit_3(deployed, monkeypatch):
    run_handler(monkeypatch, deployed, SAMPLE, 1)
    run_handler(monkeypatch, deployed, with_column(SAMPLE), 2)
    code, report = status_json(deployed)
    assert code == 3 and report["health"]["level"] == "failing"
    assert any(r.startswith("data quality: schema failed in run") for r in report["health"]["reasons"])


def test_quarantined_run_is_failing_and_listed(blocking, monkeypatch):
    good = run_handler(monkeypatch, blocking, SAMPLE, 1)
    bad = run_handler(monkeypatch, blocking, with_column(SAMPLE), 2)
    assert bad["status"] == "quarantined"
    code, report = status_json(blocking)
    assert code == 3
    quality = report["quality"]
    assert quality["latest_run"] == bad["run_id"] and quality["latest_status"] == "quarantined"
    assert [q["run_id"] for q in quality["quarantined"]] == [bad["run_id"]]
    assert report["latest"]["run_id"] == good["run_id"]  # readers still get the good run
    assert [r["outcome"] for r in report["runs"]] == ["quarantined", "succeeded"]
    assert any("quarantined run(s) " + bad["run_id"] in r for r in report["health"]["reasons"])

    listed = json.loads(h.run(blocking, "runs", "--json").output)
    assert [(r["run_id"], r["status"]) for r in listed] == [
        (bad["run_id"], "quarantined"),
        (good["run_id"], "succeeded"),
    ]
    assert listed[0]["quality"] == {"baseline_runs": 1, "ok": 28, "warn": 0, "fail": 1}  # formula_like_text included
    assert listed[0]["error"] == "failed checks: schema" and listed[1]["rows"] == 768
    assert listed[1]["missing_total"] > 0 and listed[1]["duration_ms"] > 0

    table = h.run(blocking, "runs")
    assert table.exit_code == 0 and "quarantined" in table.output and "1 fail" in table.output

    shown = h.run(blocking, "runs", "show", bad["run_id"])
    assert shown.exit_code == 0, shown.output
    assert "quarantined" in shown.output and "schema" in shown.output and "added Extra" in shown.output
    as_json = json.loads(h.run(blocking, "runs", "show", bad["run_id"], "--json").output)
    assert as_json["run"]["status"] == "quarantined" and len(as_json["quality"]["checks"]) == 29


def test_runs_show_unknown_or_malformed_id_is_a_clear_error(deployed):
    missing = h.run(deployed, "runs", "show", "20200101T000000Z-deadbeef")
    assert missing.exit_code == 1 and "no run 20200101T000000Z-deadbeef" in missing.output
    malformed = h.run(deployed, "runs", "show", "../latest")
    assert malformed.exit_code == 1 and "is not a run id" in malformed.output


def test_runs_window_and_limit(deployed, monkeypatch):
    ids = [run_handler(monkeypatch, deployed, SAMPLE, n)["run_id"] for n in (1, 2, 3)]
    listed = json.loads(h.run(deployed, "runs", "--json", "--limit", "2").output)
    assert [r["run_id"] for r in listed] == ids[::-1][:2]
    assert all(r["status"] == "succeeded" for r in listed)
    # a folder without run.json is a run in progress
    boto3.client("s3", region_name=h.REGION).put_object(
        Bucket=BUCKET, Key="processed/runs/29991231T235959Z-ffffffff/cleaned.csv", Body=b"x"
    )
    newest = json.loads(h.run(deployed, "runs", "--json", "--limit", "1", "--since", "2w").output)[0]
    assert (newest["run_id"], newest["status"]) == ("29991231T235959Z-ffffffff", "running")


def test_up_warns_once_about_a_normalized_input(mock_aws_env, monkeypatch, tmp_path):
    normalized = tmp_path / "normalized.csv"
    normalized.write_bytes(min_max_normalized())
    h.publish_stand_in_layer()
    h.install(monkeypatch)
    config = tmp_path / "config.toml"
    config.write_text(
        f'[bucket]\ninput_file = "{normalized}"\n[function]\nlayer_arn = "{h.STAND_IN_LAYER}"\n', encoding="utf-8"
    )
    result = h.run(config, "up")
    assert result.exit_code == 0, result.output
    assert result.output.count("looks already normalized") == 1
    for column in ("Glucose", "BloodPressure", "SkinThickness", "Insulin", "BMI"):
        assert column in result.output
    assert "pipeline.zero_as_missing" in result.output
    plain = h.write_config(tmp_path / "plain.toml")
    assert "looks already normalized" not in h.run(plain, "up", "--dry-run").output


def test_health_rules_unit():
    assert health(None) == ([], [])
    warn = {"latest_run": "r", "checks": [{"name": "row_count", "level": "warn"}], "quarantined": [], "window": {}}
    assert health(warn) == ([], ["data quality: row_count warned in run r"])
    window_only = {"latest_run": "r", "checks": [], "quarantined": [], "window": {"failures": 2.0}}
    assert health(window_only)[0] == ["data quality: 2 failing check(s) in the window (QualityFailures)"]
    unreadable = {"checks": [], "quarantined": [], "window": {}, "errors": ["could not read x"]}
    assert health(unreadable) == ([], ["data quality: could not read x"])


def test_trends_are_rows_and_missing_cell_share():
    profiles = [
        {"run_id": "a", "rows": 10, "columns": [{}, {}], "missing": {"x": 2, "y": 0}},
        {"run_id": "b", "rows": 20, "columns": [{}, {}], "missing": {"x": 0, "y": 10}},
    ]
    assert trends(profiles) == {"runs": ["a", "b"], "rows": [10, 20], "missing_rate": [0.1, 0.25]}


def test_quality_reads_that_fail_are_unavailable_and_the_rest_is_shown(mock_aws_env, monkeypatch, tmp_path):
    """quality.json and the history are sources like the others: a failed read is `unavailable` (exit 5)."""
    from botocore.exceptions import ClientError

    h.publish_stand_in_layer()
    recorder = h.install(monkeypatch)
    config = h.write_config(tmp_path / "config.toml")
    assert h.run(config, "up").exit_code == 0
    last = run_handler(monkeypatch, config, SAMPLE, 1)
    gets: list[str] = []

    def quality_reads_fail(service: str, operation: str) -> None:
        # status reads latest.json, then the latest run's quality.json, then the history
        if operation == "GetObject":
            gets.append(operation)
            if len(gets) in (2, 3):
                raise ClientError({"Error": {"Code": "SlowDown", "Message": "reduce your request rate"}}, operation)

    recorder.listeners.append(quality_reads_fail)
    code, report = status_json(config)
    assert report["unavailable"] == {
        "s3 quality.json": "SlowDown: reduce your request rate",
        "s3 quality history": "SlowDown: reduce your request rate",
    }
    assert report["latest"]["run_id"] == last["run_id"]  # latest.json still read
    quality = report["quality"]
    assert quality["latest_run"] == last["run_id"] and quality["checks"] == [] and quality["trends"]["rows"] == []
    assert quality["window"]["failures"] == 0.0  # the metrics are still there
    assert code == 5 and report["health"]["level"] == "incomplete"
    assert "s3 quality.json unavailable: SlowDown: reduce your request rate" in report["health"]["reasons"]

    gets.clear()
    text = h.run(config, "status", "--since", "30m")
    assert text.exit_code == 5
    assert "s3 quality history: unavailable: SlowDown: reduce your request rate" in text.output
    assert "Data quality · latest run " + last["run_id"] in text.output


def test_unreadable_feed_leaves_quarantined_runs_unknown_not_none():
    from botocore.exceptions import ClientError

    from dataops_cli.observe.quality_status import collect

    class NoObjects:
        def get_object(self, **_kwargs):
            raise ClientError({"Error": {"Code": "NoSuchKey", "Message": "none"}}, "GetObject")

    config = load_config(None)
    unavailable: dict[str, str] = {}
    section = collect(NoObjects(), config, None, None, None, unavailable, str)
    assert section["quarantined"] is None and section["window"]["failures"] is None
    assert section["latest_run"] is None and unavailable == {} and section["errors"] == []


def test_hand_edited_history_is_a_warning_of_the_section():
    from dataops_cli.observe.quality_status import collect

    class Edited:
        def get_object(self, **_kwargs):
            return {"Body": io.BytesIO(b'{"profiles": [{"run_id": "a"}]}')}

    config = load_config(None)
    section = collect(Edited(), config, None, [], None, {}, str)
    assert section["trends"] == {"runs": [], "rows": [], "missing_rate": []}
    assert section["errors"] == [
        f"s3://{config.bucket.name}/processed/quality/history.json: profile 0 lacks run_id, rows, columns, "
        "missing_rate or numeric"
    ]
    assert health(section)[1] == [f"data quality: {section['errors'][0]}"]


def test_runs_table_is_readable_at_80_columns_and_keeps_markup_in_errors():
    """Whole output at 80 columns: checks or the error sit under the run id; `[pipeline]` survives."""
    from rich.console import Console

    from dataops_cli.observe.runs import RunSummary
    from dataops_cli.observe.runs_view import runs_table

    found = [
        RunSummary(
            "20261126T155541Z-9c3293b5",
            "2026-11-26T15:55:41.123Z",
            "quarantined",
            None,
            768,
            9,
            627,
            459.0,
            {"baseline_runs": 3, "ok": 20, "warn": 2, "fail": 1},
        ),
        RunSummary(
            "20261126T155341Z-1c3293b5",
            "2026-11-26T15:53:41.123Z",
            "failed",
            None,
            None,
            None,
            None,
            1459.0,
            None,
            "ColumnNotFoundError: column 'Glucose' (in [pipeline] zero_as_missing) not in header",
        ),
    ]
    console = Console(width=80, record=True, file=io.StringIO())
    console.print(runs_table(found))
    lines = [line.rstrip() for line in console.export_text().splitlines()]
    assert lines == [
        "Runs (newest first; ids start with the UTC start time)",
        "┏━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━┳━━━━━━┳━━━━━━━━━┳━━━━━━━━━━┓",
        "┃ Run                             ┃ Status         ┃ Rows ┃ Missing ┃ Duration ┃",
        "┡━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━╇━━━━━━╇━━━━━━━━━╇━━━━━━━━━━┩",
        "│ 20261126T155541Z-9c3293b5       │ 🚧 quarantined │  768 │     627 │   459 ms │",
        "│ 20 ok · 2 warn · 1 fail         │                │      │         │          │",
        "│ 20261126T155341Z-1c3293b5       │ ❌ failed      │    – │       – │ 1,459 ms │",
        "│ ColumnNotFoundError: column     │                │      │         │          │",
        "│ 'Glucose' (in [pipeline]        │                │      │         │          │",
        "│ zero_as_missing) not in header  │                │      │         │          │",
        "└─────────────────────────────────┴────────────────┴──────┴─────────┴──────────┘",
    ]


def test_the_zero_marker_preflight_reads_with_the_configured_width_limit(tmp_path):
    """pipeline.max_columns reaches the preflight's read: a file the function accepts is checked."""
    from dataops_cli.deploy.input_check import zero_marker_warning

    width = 1200  # past the default limit of 1,000
    path = tmp_path / "wide.csv"
    names = ["Glucose", *(f"c{i}" for i in range(width - 1))]
    rows = ["0", *("1" for _ in range(width - 1))], ["0.5", *("2" for _ in range(width - 1))]
    path.write_text("\n".join(",".join(r) for r in (names, *rows)) + "\n", encoding="utf-8")
    refused = zero_marker_warning(path, ("Glucose",))
    assert refused is not None and "could not check" in refused and "1,200 columns" in refused
    warned = zero_marker_warning(path, ("Glucose",), max_columns=width)
    assert warned is not None and "looks already normalized" in warned
