"""What a new user still tripped over (issue 20): each behaviour here failed before its fix.

A broken input is refused before anything is deployed; a manual run against a busy function
waits (bounded, visibly) and says what happened instead of a raw throttle; the errors KPI
counts the stack's first metric period from its log; a failed run leads with its own error;
`logs` says when it found nothing and exits 130 on Ctrl-C; Ctrl-C names the step really in
flight; hints keep `--local`.
"""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import boto3
import pytest
from botocore.exceptions import ClientError
from click.testing import CliRunner
from rich.console import Console

from dataops_cli import cli as cli_module
from dataops_cli import logtail, stack
from dataops_cli.aws import Aws
from dataops_cli.invoke import InvokeOutcome, render_result
from dataops_cli.local import bridge
from dataops_cli.resources.base import StackContext
from dataops_cli.resources.monitoring import Dashboard
from tests import deploy_helpers as h
from tests import test_status
from tests.conftest import SAMPLE_CSV
from tests.test_status import FN, handler_line, put_logs, put_metric, status_json

deployed = test_status.deployed  # the fixture: a stack up in moto
HEADER = SAMPLE_CSV.read_text(encoding="utf-8").splitlines()[0]
ROW = "8,115,62,0,0,36.9,0.219,38,1"


def as_local(monkeypatch, recorder: h.Recorder) -> None:
    """`--local` against in-process moto: the bridge hands out moto clients instead of the emulator's."""
    monkeypatch.setattr(
        bridge, "local_aws", lambda config, directory, start=False, console=None: recorder.factory(region=config.region)
    )
    monkeypatch.setattr(bridge, "local_stack_context", lambda config, aws: StackContext(config=config, aws=aws))
    monkeypatch.setattr(bridge, "time_scale", lambda directory: 1.0)


def with_input(tmp_path, name: str, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    config = tmp_path / f"{name}.toml"
    config.write_text(
        f'[bucket]\ninput_file = "{path}"\n[function]\nlayer_arn = "{h.STAND_IN_LAYER}"\n', encoding="utf-8"
    )
    return path, config


class FakeClock:
    """invoke's clock: sleeping advances it, so a 70 s wait takes no time."""

    def __init__(self) -> None:
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


# ---- 1. `up` refuses an input the function would reject ------------------------------------------


@pytest.mark.parametrize(
    ("name", "data", "where", "problem"),
    [
        ("empty.csv", b"", "", "EmptyInputError: input is empty"),
        ("header.csv", f"{HEADER}\n".encode(), ":1", "NoDataRowsError: input has a header (9 columns) but no data"),
        (
            "latin1.csv",
            f"{HEADER}\n{ROW}\n".encode() + b"8,115,62,0,0,36.9,0.219,38,\xe9\n",
            ":3",
            "NotTextError: column 'Outcome' line 3 is not UTF-8 text",
        ),
        ("ragged.csv", f"{HEADER}\n{ROW}\n{ROW}\n1,2,3\n".encode(), ":4", "RaggedRowError: line 4 has 3 fields"),
        ("inf.csv", f"{HEADER}\n{ROW}\n8,inf,62,0,0,36.9,0.219,38,1\n".encode(), ":3", "NonFiniteValueError"),
    ],
)
def test_up_refuses_an_input_the_function_would_reject(mock_aws_env, monkeypatch, tmp_path, name, data, where, problem):
    h.publish_stand_in_layer()
    h.install(monkeypatch)
    path, config = with_input(tmp_path, name, data)
    result = h.run(config, "up")
    assert result.exit_code == 2, result.output
    text = " ".join(result.output.split())
    assert f"error: {path}{where}: the function would reject this input: {problem}" in text
    assert "pass --force-input to upload it anyway" in text
    assert h.leftovers()["buckets"] == []  # nothing deployed, not even the bucket
    assert "Deploying" not in result.output


def test_up_force_input_uploads_it_anyway_and_says_so(mock_aws_env, monkeypatch, tmp_path):
    h.publish_stand_in_layer()
    h.install(monkeypatch)
    path, config = with_input(tmp_path, "header.csv", f"{HEADER}\n".encode())
    assert h.run(config, "up", "--dry-run").exit_code == 2  # a dry run is refused too
    result = h.run(config, "up", "--force-input")
    assert result.exit_code == 0, result.output
    assert f"--force-input: uploading it anyway. {path}:1: the function would reject" in " ".join(result.output.split())
    assert h.leftovers()["buckets"] == ["dataops-pipeline-bucket"]
    assert "--force-input" in CliRunner().invoke(cli_module.cli, ["up", "--help"]).output


# ---- 2. a manual run against a busy function -----------------------------------------------------


def test_invoke_waits_for_a_busy_function_then_says_what_happened(deployed, monkeypatch):
    recorder, config = deployed
    recorder.fail_first("Invoke", 10**6, "TooManyRequestsException", "Rate Exceeded.", status=429)
    clock = FakeClock()
    monkeypatch.setattr("dataops_cli.invoke.time", clock)
    result = h.run(config, "invoke")
    assert result.exit_code == 1, result.output
    assert "An error occurred" not in result.output and "Traceback" not in result.output
    lines = result.output.splitlines()
    assert lines[0].startswith(f"{FN} is busy: a run already going (likely a scheduled one) holds its only")
    assert "still waiting: 15 s of at most 70 s" in result.output  # a visible, bounded wait
    text = " ".join(result.output.split())
    assert f"error: function {FN} stayed busy for 70 s (Lambda: TooManyRequestsException): a run already going" in text
    assert "its only concurrency slot (function.reserved_concurrency = 1); nothing was run" in text
    assert "to run it by hand, run dataops invoke again when the current run has ended" in text
    assert 70 <= clock.now <= 71


class BusyThenFree:
    """A Lambda client whose function is busy for the first `busy` Invokes (moto cannot run the handler)."""

    def __init__(self, busy: int) -> None:
        self.busy = busy
        self.calls = 0

    def invoke(self, **_kwargs):
        self.calls += 1
        if self.calls <= self.busy:
            raise ClientError({"Error": {"Code": "TooManyRequestsException", "Message": "Rate Exceeded."}}, "Invoke")
        body = b'{"run_id": "r1", "rows": 1500000, "columns": 9, "missing_total": 1272674}'
        return {"StatusCode": 200, "Payload": io.BytesIO(body)}


def test_invoke_runs_once_the_slot_is_free(deployed, monkeypatch):
    _, config = deployed
    fake = BusyThenFree(busy=3)
    real_client = Aws.client
    monkeypatch.setattr(Aws, "client", lambda self, name: fake if name == "lambda" else real_client(self, name))
    monkeypatch.setattr("dataops_cli.invoke.time", FakeClock())
    result = h.run(config, "invoke")
    assert result.exit_code == 0, result.output
    assert fake.calls == 4
    assert "is busy" in result.output and "The slot is free: the run started." in result.output
    assert "shape  1,500,000 rows × 9 columns" in result.output  # counts formatted once, everywhere


def test_local_up_with_a_busy_function_shows_the_status_then_says_why_not_run(mock_aws_env, monkeypatch, tmp_path):
    h.publish_stand_in_layer()
    recorder = h.install(monkeypatch)
    as_local(monkeypatch, recorder)
    recorder.fail_first("Invoke", 10**6, "TooManyRequestsException", "Rate Exceeded.", status=429)
    monkeypatch.setattr("dataops_cli.invoke.time", FakeClock())
    config = h.write_config(tmp_path / "config.toml")
    result = h.run(config, "up", "--local")
    assert result.exit_code == 1, result.output
    assert "Not run: the stack is deployed, but its first run did not start" in result.output
    assert "Resources" in result.output  # the status was still shown
    last = " ".join(result.output.split()).split("error: ")[-1]
    assert last.startswith("the stack is deployed, but its first run did not start: function")
    assert "TooManyRequestsException: Rate Exceeded" not in result.output


def test_invoke_now_raises_function_busy_only_for_the_throttle():
    class Throttled:
        def invoke(self, **_kwargs):
            raise ClientError({"Error": {"Code": "TooManyRequestsException", "Message": "Rate Exceeded."}}, "Invoke")

    from dataops_cli import invoke as invoke_module

    waits: list[float] = []
    with pytest.raises(invoke_module.FunctionBusyError) as caught:
        invoke_module.invoke_now(Throttled(), "F", wait_seconds=0, on_wait=waits.append)
    assert caught.value.waited >= 0 and waits == []  # no wait allowed: said at once


# ---- 3. the errors KPI counts the stack's first period -------------------------------------------


def _period_start(moment: datetime, period: int = 120) -> datetime:
    return datetime.fromtimestamp(int(moment.timestamp()) // period * period, UTC)


def seed_first_minutes(now: datetime, age: timedelta) -> tuple[datetime, datetime]:
    """The issue's story: a stack created `age` ago inside a metric period, 5 runs failing in its first
    minutes, an earlier stack's error in the same period (metrics only: its log group is gone), one
    more failure early in the next period, then successes from 4 s later on."""
    p0 = _period_start(now - age)
    created = p0 + timedelta(seconds=30)
    fn = {"FunctionName": FN}
    put_metric("AWS/Lambda", "Invocations", fn, 1, p0 + timedelta(seconds=10))  # the earlier stack's
    put_metric("AWS/Lambda", "Errors", fn, 1, p0 + timedelta(seconds=10))
    lines: list[tuple[datetime, str]] = []
    ms = timedelta(milliseconds=1)

    def run(at: datetime, n: int, failed: bool) -> None:
        request = f"{n:08d}-0000-0000-0000-00000000000f"
        run_id = f"20261126T0130{n:02d}Z-{n:08d}"
        put_metric("AWS/Lambda", "Invocations", fn, 1, at)
        put_metric("AWS/Lambda", "Errors", fn, 1 if failed else 0, at)
        lines.append((at, f"START RequestId: {request} Version: $LATEST"))
        lines.append((at + ms, handler_line("start", request, run_id)))
        last = handler_line("error", request, run_id, error={"code": "NoDataRows"}) if failed else None
        last = last or handler_line("saved", request, run_id, files=[])
        lines.append((at + 2 * ms, last))
        lines.append((at + 3 * ms, f"REPORT RequestId: {request}\tDuration: 80.00 ms"))

    for n in range(5):
        run(created + timedelta(seconds=10 + 10 * n), n, failed=True)
    p1 = p0 + timedelta(seconds=120)
    run(p1 + timedelta(seconds=2), 5, failed=True)
    recovered = p1 + timedelta(seconds=4)
    for n, at in enumerate([recovered, p1 + timedelta(seconds=130), p1 + timedelta(seconds=180)], start=6):
        run(at, n, failed=False)
    run(p1 + timedelta(seconds=250), 9, failed=False)
    put_logs(lines)
    return created, recovered


def test_errors_in_the_stacks_first_period_are_counted_from_its_log(deployed, monkeypatch):
    """A young stack: the runs feed (10 minutes back) holds every run, but only 3 are listed."""
    _, config = deployed
    created, recovered = seed_first_minutes(datetime.now(UTC), timedelta(minutes=7))
    monkeypatch.setattr("dataops_cli.runlog_reader.log_group_created", lambda logs, group: created)
    _, report = status_json(config, "--since", "30m", "--runs", "3")
    errors = report["kpis"]["errors"]
    assert errors["value"] == 6, errors  # 5 in the first period (not the earlier stack's) + 1
    # the first success after the last failure, from the feed: not the next metric period's start
    assert errors["source"] == f"recovered at {recovered:%H:%M} UTC after 6 errors"
    assert f"errors: recovered at {recovered:%H:%M} UTC after 6 errors" in report["health"]["reasons"]
    assert report["kpis"]["error_rate"]["value"] == pytest.approx(6 / 10)


def test_errors_in_an_older_stacks_first_period_are_read_from_its_log(deployed, monkeypatch):
    """The feed no longer reaches the creation: one bounded read of the first period's log instead."""
    recorder, config = deployed
    created, _ = seed_first_minutes(datetime.now(UTC), timedelta(minutes=25))
    monkeypatch.setattr("dataops_cli.runlog_reader.log_group_created", lambda logs, group: created)
    reads: list[str] = []
    recorder.listeners.append(lambda service, operation: reads.append(operation))
    _, report = status_json(config, "--since", "30m", "--runs", "3")
    assert report["kpis"]["errors"]["value"] == 6, report["kpis"]["errors"]
    assert "logs (the stack's first minutes)" not in report["unavailable"]
    assert reads.count("FilterLogEvents") == 3  # the feed, p99's REPORT lines, and the first period


# ---- 4. a failed run leads with its own error -----------------------------------------------------

TRACEBACK = "\n".join(
    f'  File "/home/someone/project/.dataops/functions/0f3a9c/handler/{name}.py", line {n}, in step_{n}'
    for n, name in enumerate(["lambda_function", "lambda_function", "reader", "reader", "reader", "errors"])
)


def failed_outcome() -> InvokeOutcome:
    request, run_id = "ab12cd34-0000-0000-0000-000000000000", "20261126T013126Z-ab12cd34"
    message = "input has a header (9 columns) but no data rows"
    tail = "\n".join(
        [
            f"START RequestId: {request} Version: $LATEST",
            handler_line("start", request, run_id),
            json.dumps(
                {
                    "level": "ERROR",
                    "event": "error",
                    "message": f"❌ Pipeline run failed: {message}",
                    "request_id": request,
                    "run_id": run_id,
                    "error": {"type": "NoDataRowsError", "code": "NoDataRows", "message": message, "columns": 9},
                },
                ensure_ascii=False,
            ),
            f"[ERROR] NoDataRowsError: {message}\nTraceback (most recent call last):\n{TRACEBACK}",
            f"END RequestId: {request}",
            f"REPORT RequestId: {request}\tDuration: 80.00 ms\tBilled Duration: 81 ms\tMax Memory Used: 120 MB",
        ]
    )
    payload = {"errorMessage": message, "errorType": "NoDataRowsError", "stackTrace": TRACEBACK.splitlines()}
    return InvokeOutcome(FN, 200, "Unhandled", payload, tail, request)


def test_a_failed_run_shows_its_error_first_and_the_tail_only_with_v():
    console = Console(width=80, record=True, file=io.StringIO())
    console.print(render_result(failed_outcome(), 80, logs_command="dataops --local logs"))
    assert [line.rstrip() for line in console.export_text().splitlines()] == [
        f"❌ {FN} run 20261126T013126Z-ab12cd34 failed",
        "NoDataRowsError: input has a header (9 columns) but no data rows",
        "code     NoDataRows",
        "columns  9",
        "Lambda duration 80.0 ms, max memory 120 MB",
        "The run's log: -v shows its last lines, dataops --local logs --errors one line",
        "per failed run.",
    ]
    verbose = Console(width=80, record=True, file=io.StringIO())
    verbose.print(render_result(failed_outcome(), 80, verbose=True))
    text = verbose.export_text()
    assert "Log tail:" in text and "Traceback (most recent call last):" in text
    assert all(len(line) <= 80 for line in text.splitlines())
    assert failed_outcome().error_summary == "NoDataRowsError: input has a header (9 columns) but no data rows"


def test_local_up_names_the_first_runs_error_not_unhandled(mock_aws_env, monkeypatch, tmp_path):
    h.publish_stand_in_layer()
    recorder = h.install(monkeypatch)
    as_local(monkeypatch, recorder)
    monkeypatch.setattr("dataops_cli.invoke.invoke_now", lambda *args, **kwargs: failed_outcome())
    config = h.write_config(tmp_path / "config.toml")
    result = h.run(config, "up", "--local")
    assert result.exit_code == 1
    text = " ".join(result.output.split())
    assert "error: the stack is deployed but its first run failed: NoDataRowsError: input has a header" in text
    assert "(Unhandled)" not in text and "Traceback" not in text
    assert "see the run above (dataops --local logs --errors)" in text


# ---- 5. logs says when it found nothing ----------------------------------------------------------


def test_logs_says_on_stderr_when_nothing_matched(deployed):
    _, config = deployed
    now = datetime.now(UTC) - timedelta(minutes=1)
    put_logs([(now, handler_line("saved", "r1", "run-1", files=[]))])
    errors = h.run(config, "logs", "--since", "10m", "--errors")
    assert errors.exit_code == 0 and errors.stdout == ""
    assert errors.stderr.startswith("no errors since ") and errors.stderr.rstrip().endswith(" UTC")
    nothing = h.run(config, "logs", "--since", "10m", "--filter", "no such text")
    assert nothing.stdout == "" and nothing.stderr.startswith("no events matched 'no such text' since ")
    found = h.run(config, "logs", "--since", "10m", "--filter", "files saved")
    assert "Files saved" in found.stdout and found.stderr == ""


def test_logs_follow_ctrl_c_exits_130(deployed, monkeypatch):
    _, config = deployed
    monkeypatch.setattr(logtail.time, "sleep", lambda _: (_ for _ in ()).throw(KeyboardInterrupt))
    result = h.run(config, "logs", "--since", "10m", "-f")
    assert result.exit_code == 130
    assert "no log events since" in result.stderr and result.stderr.rstrip().endswith("yet")


# ---- 6. Ctrl-C names the step really in flight -----------------------------------------------------


def test_ctrl_c_names_the_step_in_flight_with_its_verb(mock_aws_env, monkeypatch, tmp_path):
    h.publish_stand_in_layer()
    h.install(monkeypatch)
    config = h.write_config(tmp_path / "config.toml")

    def interrupted(*_args, **_kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(Dashboard, "apply", interrupted)
    result = h.run(config, "up")
    assert result.exit_code == 130
    assert "interrupted (Ctrl-C) while creating Dashboard DataOpsPipelineDashboard" in result.output


def test_ctrl_c_after_deploying_started_does_not_blame_the_emulator(mock_aws_env, monkeypatch, tmp_path):
    h.publish_stand_in_layer()
    recorder = h.install(monkeypatch)
    as_local(monkeypatch, recorder)
    config = h.write_config(tmp_path / "config.toml")

    def interrupted(*_args, **_kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(stack, "_leftovers", interrupted)
    result = h.run(config, "up", "--local")
    assert result.exit_code == 130
    assert "Deploying stack dataops" in result.output
    assert "interrupted (Ctrl-C) while checking for the other engine's resources" in result.output
    assert "starting the local emulator" not in result.output


# ---- 7. hints keep --local; no config file says how to give one ------------------------------------


def test_runs_show_hints_keep_local(mock_aws_env, monkeypatch, tmp_path):
    h.publish_stand_in_layer()
    recorder = h.install(monkeypatch)
    as_local(monkeypatch, recorder)
    config = h.write_config(tmp_path / "config.toml")
    boto3.client("s3", region_name=h.REGION).create_bucket(
        Bucket="dataops-pipeline-bucket", CreateBucketConfiguration={"LocationConstraint": h.REGION}
    )
    missing = h.run(config, "--local", "runs", "show", "20200101T000000Z-deadbeef")
    assert missing.exit_code == 1 and "hint: list run ids with dataops --local runs --since 30d" in missing.output
    malformed = h.run(config, "--local", "runs", "show", "../latest")
    assert malformed.exit_code == 1 and "hint: list run ids with dataops --local runs" in malformed.output


def test_concurrent_up_hint_keeps_local():
    local = SimpleNamespace(
        ctx=SimpleNamespace(aws=SimpleNamespace(local=True), stack="dataops"), kind="Log group", name="/aws/x"
    )
    exists = ClientError({"Error": {"Code": "ResourceAlreadyExistsException", "Message": "exists"}}, "CreateLogGroup")
    with pytest.raises(stack.DataopsError) as caught, stack._step(local, "creating"):
        raise exists
    assert caught.value.hint == (
        "wait for the other `dataops --local up` to finish, then run `dataops --local up` again: it converges"
    )


def test_no_config_file_hint_says_how_to_give_one(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DATAOPS_CONFIG", raising=False)
    result = CliRunner().invoke(cli_module.cli, ["up", "--dry-run"])
    assert result.exit_code == 2
    text = " ".join(result.output.split())
    assert "bucket.input_file = 'data/diabetes_preprocessed.csv' (the built-in default" in text
    assert "hint: no config file was found (--config, $DATAOPS_CONFIG, ./config.toml), so built-in defaults" in text
    assert "create config.toml or pass --config PATH" in text and "--region" not in text
    region = CliRunner().invoke(cli_module.cli, ["--region", "nowhere-9", "config"])
    assert "hint: check the value given to --region" in region.output
