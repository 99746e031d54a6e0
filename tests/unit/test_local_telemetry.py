"""What a local run writes: Lambda's log line formats, metric datapoints, and EMF extraction."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest

from dataops_cli.emulator.runner import RunResult
from dataops_cli.emulator.telemetry import (
    billed_ms,
    emf_metrics,
    log_events,
    log_stream_name,
    report_line,
    run_metrics,
    scheduler_metrics,
    tail,
)
from dataops_cli.observe import runlog_reader

RID = "0f4c8a1e-7f3b-4a8e-9d7c-2b1e5f6a7c8d"
T0 = datetime(2026, 11, 25, 10, 0, 0, tzinfo=UTC).timestamp()


def run(**changes) -> RunResult:
    base = RunResult(
        request_id=RID,
        started=T0,
        ended=T0 + 0.5,
        duration_ms=12.34,
        init_ms=250.5,
        max_memory_mb=95,
        lines=[(T0 + 0.001, '{"level": "INFO", "message": "hello"}'), (T0 + 0.002, "plain line")],
        payload=b'{"status": "succeeded"}',
    )
    for key, value in changes.items():
        setattr(base, key, value)
    return base


def test_report_line_has_lambdas_exact_format():
    line = report_line(RID, 12.34, 1024, 95)
    assert line == (
        f"REPORT RequestId: {RID}\tDuration: 12.34 ms\tBilled Duration: 13 ms\t"
        "Memory Size: 1024 MB\tMax Memory Used: 95 MB"
    )
    assert runlog_reader.parse_report(line) == {"request_id": RID, "duration_ms": 12.34, "memory_used_mb": 95}


def test_report_line_adds_init_duration_and_timeout_status_like_aws():
    line = report_line(RID, 3000.0, 128, 60, init_ms=512.3, timed_out=True)
    assert line.endswith("\tMax Memory Used: 60 MB\tInit Duration: 512.30 ms\tStatus: timeout")
    assert runlog_reader.parse_report(line)["duration_ms"] == 3000.0


def test_billed_duration_rounds_up_to_the_millisecond():
    assert [billed_ms(d) for d in (0.2, 12.0, 12.001, 12.34, 999.999)] == [1, 12, 13, 13, 1000]


def test_log_stream_names_look_like_lambdas():
    name = log_stream_name(T0)
    assert re.fullmatch(r"2026/11/25/\[\$LATEST\][0-9a-f]{32}", name)


def test_a_run_logs_start_output_end_report_in_order():
    events = log_events(run(), memory_mb=1024)
    messages = [m for _, m in events]
    assert messages[0] == f"START RequestId: {RID} Version: $LATEST"
    assert messages[1:3] == ['{"level": "INFO", "message": "hello"}', "plain line"]
    assert messages[3] == f"END RequestId: {RID}"
    assert messages[4].startswith(f"REPORT RequestId: {RID}\tDuration: 12.34 ms")
    stamps = [t for t, _ in events]
    assert stamps == sorted(stamps)
    assert stamps[-1] == pytest.approx(
        T0 + 0.01234
    )  # END/REPORT when the handler returned, not when the process exited


def test_a_failed_run_logs_the_error_with_its_traceback_as_one_event():
    error = {
        "errorType": "ValueError",
        "errorMessage": "bad input",
        "stackTrace": ['  File "/var/task/handler/x.py", line 3, in f\n    raise ValueError("bad input")\n'],
    }
    messages = [m for _, m in log_events(run(error=error), memory_mb=128)]
    assert messages[3].startswith("[ERROR] ValueError: bad input\nTraceback (most recent call last):\n  File ")
    assert messages[4] == f"END RequestId: {RID}"


def test_a_timed_out_run_logs_task_timed_out():
    error = {
        "errorType": "Sandbox.Timedout",
        "errorMessage": f"RequestId: {RID} Error: Task timed out after 3.00 seconds",
    }
    messages = [m for _, m in log_events(run(error=error, timed_out=True, duration_ms=3000.0), memory_mb=128)]
    assert messages[3].endswith(f"{RID} Task timed out after 3.00 seconds")
    assert messages[5].endswith("Status: timeout")


def test_a_run_killed_for_memory_is_logged_counted_and_fed_as_a_failure_like_lambdas():
    error = {
        "errorType": "Runtime.OutOfMemory",
        "errorMessage": f"RequestId: {RID} Error: Runtime exited with error: signal: killed",
    }
    killed = run(error=error, out_of_memory=True, max_memory_mb=128, lines=[(T0 + 0.001, "reading")])
    messages = [m for _, m in log_events(killed, memory_mb=128)]
    assert messages[2] == f"RequestId: {RID} Error: Runtime exited with error: signal: killed\nRuntime.OutOfMemory"
    assert messages[4].endswith(
        "\tMax Memory Used: 128 MB\tInit Duration: 250.50 ms\tStatus: error\tError Type: Runtime.OutOfMemory"
    )
    data = {d["MetricName"]: d for d in run_metrics("F", killed, concurrency=1)}
    assert data["Errors"]["Value"] == 1
    events = [{"timestamp": int(t * 1000), "message": m} for t, m in log_events(killed, memory_mb=128)]
    [fed] = runlog_reader.runs_from_events(events)
    assert fed.outcome == "failed" and fed.memory_used_mb == 128
    assert "signal: killed" in fed.error
    [row] = runlog_reader.errors_from_events(events)  # one row, typed, the REPORT line not taken for an error
    assert row.code == "Runtime.OutOfMemory" and row.runtime is None
    assert row.message == f"RequestId: {RID} Error: Runtime exited with error: signal: killed"


def test_tail_is_the_last_4_kb_of_the_log():
    events = [(T0, "x" * 1000) for _ in range(10)] + [(T0, "last")]
    text = tail(events)
    assert len(text.encode()) == 4096
    assert text.endswith("last\n")


def test_run_metrics_are_aws_lambdas():
    data = {d["MetricName"]: d for d in run_metrics("F", run(), concurrency=1, received=T0 - 0.25)}
    assert set(data) == {"Invocations", "Errors", "Duration", "ConcurrentExecutions", "AsyncEventAge"}
    assert data["Invocations"]["Value"] == 1 and data["Errors"]["Value"] == 0
    assert data["Duration"]["Value"] == 12.34 and data["Duration"]["Unit"] == "Milliseconds"
    assert data["AsyncEventAge"]["Value"] == 250.0
    assert data["Errors"]["Dimensions"] == [{"Name": "FunctionName", "Value": "F"}]
    assert data["Invocations"]["Timestamp"] == datetime.fromtimestamp(T0, UTC)


def test_a_synchronous_failed_run_counts_an_error_and_has_no_event_age():
    data = {d["MetricName"]: d for d in run_metrics("F", run(error={"errorType": "X"}), concurrency=1)}
    assert data["Errors"]["Value"] == 1
    assert "AsyncEventAge" not in data


def test_scheduler_metrics_count_attempts_and_target_errors_per_group():
    ok = scheduler_metrics("dataops-schedules", T0, target_error=False)
    assert [(d["MetricName"], d["Value"]) for d in ok] == [("InvocationAttemptCount", 1.0)]
    assert ok[0]["Dimensions"] == [{"Name": "ScheduleGroup", "Value": "dataops-schedules"}]
    failed = scheduler_metrics("dataops-schedules", T0, target_error=True)
    assert [d["MetricName"] for d in failed] == ["InvocationAttemptCount", "TargetErrorCount"]


def test_emf_documents_become_metric_datapoints():
    document = {
        "_aws": {
            "Timestamp": int(T0 * 1000),
            "CloudWatchMetrics": [
                {
                    "Namespace": "DataOps/Pipeline",
                    "Dimensions": [["Function"]],
                    "Metrics": [
                        {"Name": "RowsProcessed", "Unit": "Count"},
                        {"Name": "Latency", "Unit": "Milliseconds"},
                    ],
                }
            ],
        },
        "Function": "F",
        "RowsProcessed": 768,
        "Latency": [1.5, 2.5],
        "run_id": "r1",
    }
    found = emf_metrics(json.dumps(document))
    assert [(ns, d["MetricName"]) for ns, d in found] == [
        ("DataOps/Pipeline", "RowsProcessed"),
        ("DataOps/Pipeline", "Latency"),
    ]
    rows = found[0][1]
    assert rows["Value"] == 768 and rows["Unit"] == "Count"
    assert rows["Dimensions"] == [{"Name": "Function", "Value": "F"}]
    assert rows["Timestamp"] == datetime.fromtimestamp(T0, UTC)
    assert found[1][1]["Values"] == [1.5, 2.5]


def test_lines_that_are_not_emf_give_no_metrics():
    assert emf_metrics('{"level": "INFO"}') == []
    assert emf_metrics("plain text with _aws in it") == []
    assert emf_metrics('{"_aws": {"CloudWatchMetrics": "nonsense"') == []
    directive = {"Namespace": "N", "Dimensions": [["Gone"]], "Metrics": [{"Name": "M"}]}
    missing_dimension = {"_aws": {"Timestamp": 0, "CloudWatchMetrics": [directive]}, "M": 1}
    assert emf_metrics(json.dumps(missing_dimension)) == []


def test_log_events_are_cut_and_batched_within_cloudwatch_limits():
    from dataops_cli.emulator.telemetry import MAX_EVENT_BYTES, log_batches

    events = [{"timestamp": 1, "message": "é" * 200_000}] + [{"timestamp": 2, "message": "x"}] * 12_000
    batches = list(log_batches(events))
    assert len(batches[0][0]["message"].encode()) <= MAX_EVENT_BYTES
    assert [len(b) for b in batches] == [10_000, 2_001]
    assert sum(len(e["message"].encode()) + 26 for e in batches[0]) <= 1_048_576
