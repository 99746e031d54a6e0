"""Errors, hints and the input preflight: what a new user tripped over (issue 20).

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

from dataops_cli.aws import Aws
from dataops_cli.cli import root as cli_module
from dataops_cli.deploy import stack
from dataops_cli.deploy.resources.base import StackContext
from dataops_cli.deploy.resources.monitoring import Dashboard
from dataops_cli.engines.lambda_run import InvokeOutcome
from dataops_cli.engines.run_view import render_result
from dataops_cli.local import bridge
from dataops_cli.observe import logtail
from dataops_cli.observe.logs_view import pretty
from tests.conftest import SAMPLE_CSV
from tests.functional import test_status
from tests.functional.test_status import FN, handler_line, put_logs, put_metric, status_json
from tests.helpers import deploy as h

deployed = test_status.deployed  # the fixture: a stack up in moto
HEADER = SAMPLE_CSV.read_text(encoding="utf-8").splitlines()[0]
ROW = "8,115,62,0,0,36.9,0.219,38,1"


def as_local(monkeypatch, recorder: h.Recorder) -> None:
    """`--local` against in-process moto: the bridge hands out moto clients instead of the emulator's."""
    monkeypatch.setattr(
        bridge, "local_aws", lambda config, directory, start=False, say=None: recorder.factory(region=config.region)
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
    monkeypatch.setattr("dataops_cli.engines.lambda_run.time", clock)
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
    monkeypatch.setattr("dataops_cli.engines.lambda_run.time", FakeClock())
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
    monkeypatch.setattr("dataops_cli.engines.lambda_run.time", FakeClock())
    config = h.write_config(tmp_path / "config.toml")
    result = h.run(config, "up", "--local")
    assert result.exit_code == 1, result.output
    assert f"Not run: function {FN} stayed busy for 70 s (Lambda: TooManyRequestsException); the status" in (
        " ".join(result.output.split())
    )
    assert "Resources" in result.output  # the status was still shown
    last = " ".join(result.output.split()).split("error: ")[-1]
    assert last.startswith("the stack is deployed, but its first run did not start: function")
    assert "TooManyRequestsException: Rate Exceeded" not in result.output


def test_invoke_now_raises_function_busy_only_for_the_throttle():
    class Throttled:
        def invoke(self, **_kwargs):
            raise ClientError({"Error": {"Code": "TooManyRequestsException", "Message": "Rate Exceeded."}}, "Invoke")

    from dataops_cli.engines import lambda_run as invoke_module

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
    monkeypatch.setattr("dataops_cli.observe.runlog_reader.log_group_created", lambda logs, group: created)
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
    monkeypatch.setattr("dataops_cli.observe.runlog_reader.log_group_created", lambda logs, group: created)
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


def test_a_run_killed_before_our_logger_is_named_from_lambdas_own_line():
    tail = "\n".join(
        [
            "START RequestId: r9 Version: $LATEST",
            "2026-11-26T10:00:00.000Z r9 Task timed out after 60.00 seconds",
            "END RequestId: r9",
            "REPORT RequestId: r9\tDuration: 60000.00 ms\tStatus: timeout",
        ]
    )
    outcome = InvokeOutcome(FN, 200, "Unhandled", None, tail, "r9")
    assert outcome.error_summary == "Timeout: Task timed out after 60.00 seconds"


def test_local_up_names_the_first_runs_error_not_unhandled(mock_aws_env, monkeypatch, tmp_path):
    h.publish_stand_in_layer()
    recorder = h.install(monkeypatch)
    as_local(monkeypatch, recorder)
    monkeypatch.setattr("dataops_cli.engines.lambda_engine.invoke_now", lambda *args, **kwargs: failed_outcome())
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


# ---- 10. text from the data is escaped on terminals (issue 19, item 6) -------------------------------

MARKUP_NAME, ESCAPE_NAME = "[/]", "\x1b[2J"


def hostile_input() -> bytes:
    """The sample's first 40 rows plus two columns named `[/]` and ESC[2J, each 97.5% empty, so the
    completeness check fails on both and their names reach status, runs show and the log."""
    rows = SAMPLE_CSV.read_text(encoding="utf-8").splitlines()[:41]
    out = [f"{rows[0]},{MARKUP_NAME},{ESCAPE_NAME}"]
    out += [f"{row},{'1' if n == 1 else ''},{'2' if n == 1 else ''}" for n, row in enumerate(rows[1:], start=1)]
    return ("\n".join(out) + "\n").encode()


def test_column_names_holding_markup_or_escapes_are_printed_as_text(mock_aws_env, monkeypatch, tmp_path):
    from tests.functional.test_quality_cli import deploy, run_handler

    config = deploy(monkeypatch, tmp_path)
    result = run_handler(monkeypatch, config, hostile_input(), 1)
    status = h.run(config, "status", "--since", "30m")
    assert "MarkupError" not in repr(status.exception), status.exception
    assert status.exit_code == 3, status.output  # the failing completeness checks
    assert "completeness" in status.output and "[/]" in status.output and "\\x1b[2J" in status.output
    assert "\x1b" not in status.output
    logs = h.run(config, "logs", "--since", "30m")
    assert logs.exit_code == 0 and "\x1b" not in logs.output
    assert "Quality check completeness [\\x1b[2J]" in logs.output
    shown = h.run(config, "runs", "show", result["run_id"])
    assert shown.exit_code == 0, shown.exception
    assert "[/]" in shown.output and "\\x1b[2J" in shown.output and "\x1b" not in shown.output
    errors = h.run(config, "logs", "--since", "30m", "--errors")
    assert "\x1b" not in errors.output


def test_safe_text_shows_control_characters_and_keeps_markup_literal():
    from dataops_cli.safe_text import data_text, markup_safe, printable

    assert printable("a\x1b[2Jb\x07\u202e\x9b") == "a\\x1b[2Jb\\x07\\u202e\\x9b"
    assert printable("line 1\n\tline 2", keep_newlines=True) == "line 1\n\tline 2"
    assert printable("line 1\nline 2") == "line 1\\x0aline 2"
    console = Console(width=80, record=True, file=io.StringIO())
    console.print(markup_safe("[/] and [bold]x[/bold]"))
    console.print(data_text("[/]\x1b[2J", style="red"))
    assert console.export_text().splitlines() == ["[/] and [bold]x[/bold]", "[/]\\x1b[2J"]


def test_logs_pretty_escapes_every_field():
    line = pretty(
        {
            "timestamp": 0,
            "message": json.dumps(
                {"level": "INFO", "event": "shape", "message": "shape \x1b]0;owned\x07", "column_names": ["\x9b2J"]}
            ),
        }
    )
    assert "\x1b" not in line.plain and "\x9b" not in line.plain and "\x07" not in line.plain
    assert "\\x1b]0;owned\\x07" in line.plain and "\\x9b2J" in line.plain
    raw = pretty({"timestamp": 0, "message": "plain \x1b[31m line\n\tnext"})
    assert raw.plain.endswith("plain \\x1b[31m line\n  next")


# ---- 8. a large input is checked on its first lines ------------------------------------------------


def test_a_large_input_is_checked_on_its_first_lines(tmp_path, monkeypatch):
    """Over WHOLE_FILE_MAX_BYTES only the first PREFIX_BYTES (whole lines) are read: an error there
    is the file's, with its line; a column still empty there may get values later (not an error)."""
    from dataops_cli.config import load_config
    from dataops_cli.deploy import input_check

    monkeypatch.setattr(input_check, "WHOLE_FILE_MAX_BYTES", 1000)
    monkeypatch.setattr(input_check, "PREFIX_BYTES", 500)
    rows = [f"{ROW}," for _ in range(30)]  # Late is empty in the first lines...
    late = f"{HEADER},Late\n" + "\n".join(rows) + "\n" + "\n".join(f"{ROW},5" for _ in range(30)) + "\n"
    path, config = with_input(tmp_path, "late.csv", late.encode())
    verdict = input_check.inspect_input(load_config(config))
    assert verdict.rejection is None and verdict.checked_bytes is not None and verdict.checked_bytes <= 500
    ragged = f"{HEADER}\n{ROW}\n1,2\n" + "\n".join([ROW] * 60) + "\n"
    path, config = with_input(tmp_path, "ragged-head.csv", ragged.encode())
    verdict = input_check.inspect_input(load_config(config))
    assert verdict.rejection is not None and verdict.rejection.startswith(f"{path}:3: the function would reject")
