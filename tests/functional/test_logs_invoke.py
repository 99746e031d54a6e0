"""`dataops logs` (pretty, filters, follow without duplicates or gaps) and `dataops invoke`."""

from __future__ import annotations

import base64
import io
import json
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber
from rich.console import Console

from dataops_cli.engines.lambda_run import invoke_now
from dataops_cli.engines.run_view import render_result
from dataops_cli.observe import logtail
from tests.functional.test_status import deployed, handler_line, put_logs  # noqa: F401 (fixture)
from tests.helpers import deploy as h

GROUP = "/aws/lambda/DataOpsPipelineFunction"


def test_logs_pretty_prints_filters_and_marks_errors(deployed):  # noqa: F811
    _, config = deployed
    now = datetime.now(UTC) - timedelta(minutes=1)
    put_logs(
        [
            (now, "START RequestId: r1 Version: $LATEST"),
            (now + timedelta(milliseconds=1), handler_line("shape", "r1", "run-1", rows=768, columns=9)),
            (now + timedelta(milliseconds=2), handler_line("error", "r2", "run-2", error={"code": "EmptyInput"})),
            (now + timedelta(milliseconds=3), "2026-11-25T00:00:00Z r3 Task timed out after 60.00 seconds"),
            (now + timedelta(milliseconds=4), "REPORT RequestId: r1\tDuration: 12.00 ms"),
        ]
    )
    everything = h.run(config, "logs", "--since", "10m")
    assert everything.exit_code == 0, everything.output
    lines = everything.output.splitlines()
    assert len(lines) == 5
    assert "INFO  📊 Dataset shape" in lines[1] and "rows=768" in lines[1] and "columns=9" in lines[1]
    errors = h.run(config, "logs", "--since", "10m", "--errors").output.splitlines()
    assert len(errors) == 2 and "ERROR ❌ Pipeline run failed" in errors[0] and "Task timed out" in errors[1]
    filtered = h.run(config, "logs", "--since", "10m", "--filter", "Dataset shape").output.splitlines()
    assert len(filtered) == 1
    raw = [json.loads(line) for line in h.run(config, "logs", "--since", "10m", "--json").output.splitlines()]
    assert raw[0]["message"].startswith("START") and {"eventId", "timestamp"} <= set(raw[0])


def test_logs_without_a_log_group_is_a_clear_message(deployed):  # noqa: F811
    _, config = deployed
    boto3.client("logs", region_name=h.REGION).delete_log_group(logGroupName=GROUP)
    result = h.run(config, "logs")
    assert result.exit_code == 0
    assert f"No log group {GROUP} yet" in result.output


def test_logs_follow_prints_new_lines_once(deployed, monkeypatch):  # noqa: F811
    _, config = deployed
    start = datetime.now(UTC) - timedelta(seconds=30)
    put_logs([(start, "first line")])
    polls = []

    def fake_sleep(_seconds):
        polls.append(1)
        if len(polls) == 1:  # a new line arrives between polls
            boto3.client("logs", region_name=h.REGION).put_log_events(
                logGroupName=GROUP,
                logStreamName="2026/11/25/[$LATEST]0123456789abcdef",
                logEvents=[{"timestamp": int(datetime.now(UTC).timestamp() * 1000), "message": "second line"}],
            )
        if len(polls) == 3:
            raise KeyboardInterrupt

    monkeypatch.setattr(logtail.time, "sleep", fake_sleep)
    result = h.run(config, "logs", "--since", "5m", "--follow")
    assert result.exit_code == 130, result.output  # Ctrl-C ends -f as it ends every command (issue 20)
    assert result.output.count("first line") == 1 and result.output.count("second line") == 1


def event(event_id: str, timestamp: int, message: str = "x") -> dict:
    return {"eventId": event_id, "timestamp": timestamp, "message": message}


def test_follower_never_repeats_and_catches_late_events():
    pages = [
        [event("a", 1000), event("b", 2000)],
        [event("a", 1000), event("b", 2000), event("c", 2000), event("late", 1500)],  # late ingestion, same ms
        [event("b", 2000), event("c", 2000), event("d", 9000)],
    ]
    calls = []

    def fetch(from_ms):
        calls.append(from_ms)
        return iter(pages[len(calls) - 1])

    follower = logtail.Follower(fetch, start_ms=0)
    seen = [[e["eventId"] for e in follower.poll()] for _ in pages]
    assert seen == [["a", "b"], ["late", "c"], ["d"]]
    assert calls[1] <= 1500  # the overlap reaches back before the newest timestamp


def lambda_stub(payload: dict, function_error: str | None = None, log: str = "") -> tuple:
    client = boto3.client("lambda", region_name="ap-south-1", aws_access_key_id="x", aws_secret_access_key="x")
    stubber = Stubber(client)
    body = json.dumps(payload).encode()
    response = {
        "StatusCode": 200,
        "Payload": StreamingBody(io.BytesIO(body), len(body)),
        "LogResult": base64.b64encode(log.encode()).decode(),
    }
    if function_error:
        response["FunctionError"] = function_error
    stubber.add_response("invoke", response)
    stubber.activate()
    return client, stubber


def render_text(renderable) -> str:
    console = Console(width=200, record=True, file=io.StringIO())
    console.print(renderable)
    return console.export_text()


def test_invoke_success_shows_the_run():
    log = (
        "START RequestId: r1 Version: $LATEST\n"
        + handler_line("saved", "r1", "run-1", files=["processed/runs/run-1/cleaned.csv"])
        + "\n"
        "REPORT RequestId: r1\tDuration: 812.40 ms\tBilled Duration: 813 ms\t"
        "Memory Size: 1024 MB\tMax Memory Used: 190 MB\n"
    )
    payload = {
        "status": "succeeded",
        "run_id": "run-1",
        "rows": 768,
        "columns": 9,
        "missing_total": 652,
        "missing_values_handled": {"Insulin": 374},
        "outputs": {"cleaned": "processed/runs/run-1/cleaned.csv"},
        "duration_ms": 800.0,
    }
    client, _ = lambda_stub(payload, log=log)
    outcome = invoke_now(client, "DataOpsPipelineFunction")
    assert not outcome.failed
    assert outcome.report == {"request_id": "r1", "duration_ms": 812.4, "memory_used_mb": 190}
    text = render_text(render_result(outcome))
    assert "✅ DataOpsPipelineFunction run run-1 succeeded" in text
    assert "768 rows × 9 columns" in text and "652 cells (Insulin 374)" in text
    assert "processed/runs/run-1/cleaned.csv" in text and "Lambda duration 812.4 ms, max memory 190 MB" in text


def test_invoke_of_a_skipped_run_says_so_and_names_the_run_it_confirms():
    payload = {"status": "skipped", "run_id": "run-2", "confirms": "run-1", "input_etag": "6de7"}
    client, _ = lambda_stub(payload, log="REPORT RequestId: r3\tDuration: 9.00 ms\n")
    outcome = invoke_now(client, "DataOpsPipelineFunction")
    assert not outcome.failed
    text = render_text(render_result(outcome))
    assert "⏭️ DataOpsPipelineFunction run run-2 skipped: input unchanged" in text and "succeeded" not in text
    assert "run-1 (its outputs are current)" in text and "6de7" in text and "--force runs it in full" in text


def test_invoke_failure_shows_the_error():
    payload = {"errorMessage": "line 2 has 3 fields but the header has 2", "errorType": "RaggedRowError"}
    client, _ = lambda_stub(payload, function_error="Unhandled", log="REPORT RequestId: r2\tDuration: 10.00 ms\n")
    outcome = invoke_now(client, "DataOpsPipelineFunction")
    assert outcome.failed
    text = render_text(render_result(outcome))
    assert "❌ DataOpsPipelineFunction failed" in text and "RaggedRowError: line 2 has 3 fields" in text


def test_invoke_command_exits_1_when_the_run_fails(deployed):  # noqa: F811
    """moto cannot run Lambda code without Docker: its error answer is a failed run to us."""
    _, config = deployed
    result = h.run(config, "invoke")
    assert result.exit_code == 1
    assert "❌ DataOpsPipelineFunction failed" in result.output
    as_json = h.run(config, "invoke", "--json")
    # stdout only: moto logs "error running docker" at ERROR, which reaches stderr when an
    # earlier test left a logging handler installed (seen in a full-suite run)
    assert as_json.exit_code == 1 and json.loads(as_json.stdout)["failed"] is True


@pytest.mark.parametrize("text", ["first", "FIRST"])
def test_match_is_case_insensitive(text):
    assert logtail.matches(event("a", 1, "the first line"), text, errors_only=False)
