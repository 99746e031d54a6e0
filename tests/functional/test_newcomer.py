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
    line = logtail.pretty(
        {
            "timestamp": 0,
            "message": json.dumps(
                {"level": "INFO", "event": "shape", "message": "shape \x1b]0;owned\x07", "column_names": ["\x9b2J"]}
            ),
        }
    )
    assert "\x1b" not in line.plain and "\x9b" not in line.plain and "\x07" not in line.plain
    assert "\\x1b]0;owned\\x07" in line.plain and "\\x9b2J" in line.plain
    raw = logtail.pretty({"timestamp": 0, "message": "plain \x1b[31m line\n\tnext"})
    assert raw.plain.endswith("plain \\x1b[31m line\n  next")


# ---- 8. 80 columns ----------------------------------------------------------------------------------


def test_cost_never_cuts_a_number_at_80_columns(mock_aws_env, monkeypatch, tmp_path):
    h.install(monkeypatch)
    config = h.write_config(tmp_path / "config.toml")
    for args in (["--rows", "50000000"], ["--engine", "glue", "--workers", "10", "--worker-type", "G.2X"]):
        output = run_at(config, 80, "cost", "--model", *args).output
        assert "…" not in output, output
        assert all(len(line) <= 80 for line in output.splitlines()), max(output.splitlines(), key=len)
    whole = run_at(config, 80, "cost", "--model", "--rows", "50000000").output
    assert whole == COST_50M_80, whole
    glue = run_at(config, 80, "cost", "--model", "--engine", "glue", "--workers", "10", "--worker-type", "G.2X")
    assert glue.output.split("How each quantity")[0] == COST_GLUE_80


def run_at(config, columns: int, *args: str):
    return CliRunner().invoke(cli_module.cli, ["--config", str(config), *args], env={"COLUMNS": str(columns)})


COST_50M_80 = """\
Monthly cost, ap-south-1 (lambda, month = 30 days)

 Item                     Quantity            Price     Cost   Free/mo      Pay
 ──────────────────────────────────────────────────────────────────────────────
 Lambda requests        21,600 req         $0.20/1M   <$0.01        1M       $0
 Lambda GB-s            22.1M GB-s   $0.0000166667*     $368   400,000     $361
 x86_64
 Scheduler runs         21,600 inv        $1.00/1M*    $0.02       14M       $0
 S3 PUT requests         19.5M req       $0.005/1K*   $97.42         –   $97.42
 S3 GET requests        64,800 req      $0.0004/1K*    $0.03         –    $0.03
 Logs ingested            0.075 GB           $0.50*    $0.04         5       $0
 Custom metrics          7 metrics           $0.30*    $2.10        10       $0
 S3 storage          150,544 GB-mo          $0.025*   $3,764         –   $3,764
 Logs stored          0.0052 GB-mo           $0.03*   <$0.01         5       $0
 Dashboard                  1 dash            $3.00    $3.00         3       $0
 Alarms                   2 alarms           $0.10*    $0.20        10       $0

 Total                                                $4,234             $4,222

How each quantity was reached:
  Lambda requests: 21,600 runs x 1
  Lambda GB-s x86_64: 21,600 runs x 1,022,176 ms x 1 GB
  Scheduler runs: 21,600 runs
  S3 PUT requests: 21,600 runs x 902 (cleaned.csv, correlation.csv,
  summary.json, dtypes.json, quality.json, run.json, latest.json,
  quality/history.json; LIST 0)
  S3 GET requests: 21,600 runs x 3 (GetObject quality/history.json, HeadObject
  input, GetObject input)
  Logs ingested: 21,600 runs x 3.6 KiB
  Custom metrics: 7 EMF metrics x 1 dimension set
  S3 storage: input 1.50 GB + 21,600 runs kept (30 d) x 7.48 GB
  Logs stored: 14 d of logs x 0.15 compressed
  Dashboard: 1 dashboard
  Alarms: 2 standard alarms
Where the figures came from:
  runs: 21,600 from schedule rate(2 minutes)
  duration ms: 1,022,175 ms from model (bench/cost_model_bench.py, 2026-11-26)
  for 50,000,000 rows / 0.58 CPU share at 1024 MB
  input bytes: 1.50 GB from --rows x diabetes_preprocessed.csv's bytes per row
  cleaned bytes: 7.48 GB from model (bench/cost_model_bench.py, 2026-11-26) for
  50,000,000 rows
  other output bytes: 16.2 kB from model (bench/cost_model_bench.py, 2026-11-26)
  for 50,000,000 rows
  log bytes: 3.7 kB from model (bench/cost_model_bench.py, 2026-11-26): handler
  lines + Lambda's 3
  active hours: 720 from schedule rate(2 minutes)
warning: a run takes 1,022.2 s here, over function.timeout_seconds = 60: runs
would time out (and be billed the full 60 s)
Both engines, same schedule and input

 Engine                           s/run   Compute/run   Compute/mo       Pay/mo
 ──────────────────────────────────────────────────────────────────────────────
 Lambda 1024 MB x86_64          1,022.2       $0.0170         $368       $4,222
 (configured)
 Glue 2 x G.1X (2 DPU)          1,703.0       $0.4163       $8,992      $12,758
 (minimum)

warning (Lambda 1024 MB x86_64): a run takes 1,022.2 s here, over
function.timeout_seconds = 60: runs would time out (and be billed the full 60 s)
warning (Glue 2 x G.1X (2 DPU)): a Glue run takes 1,703 s here, longer than the
schedule's average interval (120 s): with max concurrent runs 1 the starts in
between fail (ConcurrentRunsExceededException), so fewer runs happen (and cost)
than counted here
Where each engine's run time came from:
  Lambda 1024 MB x86_64: model (bench/cost_model_bench.py, 2026-11-26) for
  50,000,000 rows / 0.58 CPU share at 1024 MB
  Glue 2 x G.1X (2 DPU): ASSUMPTION (bench/spark_bench.py 5M rows, 2026-11-26
  (docs/BENCHMARKS.md)): 30 s start + 50,000,000 rows x 66.92 us per row on 2
  cores x 2 / 4 executor vCPUs
Prices: built-in table (verified prices read 2026-11-26).
* unverified prices (flagged *): alarms, custom_metrics, glue_dpu_hours,
lambda_gb_s_arm64, lambda_gb_s_x86_64, logs_ingestion, logs_storage, s3_get,
s3_put, s3_storage, scheduler_invocations, sns_email
Free/mo is the always-free monthly allowance (per account, shared with
everything else in it): Cost is before it, Pay after.
Free of charge:
  - S3 default encryption is SSE-S3 (AES256): free; no resource uses KMS keys
  - Lambda environment variables use the AWS managed key: free
  - S3 lifecycle expirations and DELETE requests: free
  - AWS/Lambda, AWS/Scheduler and AWS/S3 metrics: free (basic monitoring)
  - S3 <-> Lambda data transfer in one region: free
  - IAM roles, the log group, the schedule group and the SNS topic itself: free
  - Lambda's 512 MB of /tmp: free (the function uses none)
Not counted:
  - Opening the dashboard runs Logs Insights queries ($ per GB scanned) and
    `dataops status` makes one GetMetricData call (about 20 metrics, $0.01 per
    1,000): both depend on how often you look
  - Failed runs retried by Lambda or the scheduler add requests and compute
  - One-off costs of `up` (uploading the input, a few API calls)
"""

COST_GLUE_80 = """\
Monthly cost, ap-south-1 (glue, month = 30 days)

 Item                        Quantity         Price     Cost   Free/mo      Pay
 ──────────────────────────────────────────────────────────────────────────────
 Glue DPU-hours 10 x      7,200 DPU-h        $0.44*   $3,168         –   $3,168
 G.2X
 Scheduler runs            21,600 inv     $1.00/1M*    $0.02       14M       $0
 S3 PUT requests          172,800 req    $0.005/1K*    $0.86         –    $0.86
 S3 GET requests           86,400 req   $0.0004/1K*    $0.03         –    $0.03
 Logs ingested                2.01 GB        $0.50*    $1.01         5       $0
 S3 storage                2.64 GB-mo       $0.025*    $0.07         –    $0.07
 Logs stored                0.3 GB-mo        $0.03*   <$0.01         5       $0
 Dashboard                     1 dash         $3.00    $3.00         3       $0
 Alarms                      2 alarms        $0.10*    $0.20        10       $0

 Total                                                $3,173             $3,169

"""


def test_status_sparklines_fit_the_width_with_the_newest_period_at_the_right(deployed, monkeypatch):
    """3 hours of 120 s periods (90) at 80 columns: bucketed to fit, never cut with "…", and the
    13 runs of the last half hour show at the right end (before, they were the part cut off)."""
    from tests.functional.test_status import seed_runs

    _, config = deployed
    monkeypatch.setattr("dataops_cli.status.month_to_date_cost", lambda ctx, now, stored: {"error": "not asked"})
    seed_runs(datetime.now(UTC), [100.0 + i for i in range(13)], failed=set())
    output = run_at(config, 80, "status", "--since", "3h").output
    line = next(line for line in output.splitlines() if line.startswith("invocations "))
    assert len(line) <= 80 and "…" not in line, line
    spark = line.split()[1]
    assert set(spark) <= set("▁▂▃▄▅▆▇█") and 30 <= len(spark) <= 46, spark
    assert set(spark[:-6]) == {"▁"}, spark  # nothing ran before the last half hour (13 of 90 periods) ...
    assert set(spark[-4:]) <= set("▂▃▄▅▆▇█"), spark  # ... and the newest buckets, at the right, show the runs
    assert line.endswith("peak 1/period")


def test_sparkline_buckets_from_the_newest_value_back():
    from dataops_cli.sparkline import Sparkline, buckets, sparkline

    assert buckets([1, 2, 3, 4, 5], 2) == [1.5, 4.0]  # the oldest bucket short, never the newest
    assert buckets([0, 0, 0, 0, 9], 3) == [0.0, 0.0, 4.5]
    assert sparkline([0, 1, 10], 3) == "▁▂█"  # one run among many still shows above the floor
    console = Console(width=30, record=True, file=io.StringIO())
    console.print(Sparkline([0.0] * 89 + [5.0]))
    drawn = console.export_text().rstrip("\n")
    assert len(drawn) == 30 and drawn.endswith("█") and set(drawn[:-1]) == {"▁"}


def test_step_notes_wrap_within_the_width():
    from dataops_cli.ui import PlainReporter

    console = Console(width=80, record=True, file=io.StringIO())
    PlainReporter(console).note(
        "waiting up to 300 s for function DataOpsPipelineFunction to become Active (GetFunctionConfiguration)"
    )
    assert console.export_text().splitlines() == [
        "      waiting up to 300 s for function DataOpsPipelineFunction to become Active",
        "      (GetFunctionConfiguration)",
    ]


def test_local_start_and_status_lines_fit_80(monkeypatch, tmp_path):
    from dataops_cli import cli_local
    from dataops_cli.local.state import Found

    state = SimpleNamespace(
        pid=1234567, host="127.0.0.1", port=45678, speed=60.0, started=1.8e9, log=".dataops/emulator.log"
    )
    state.endpoint = "http://127.0.0.1:45678"
    monkeypatch.setattr(cli_local, "live_state", lambda directory: (None, False))
    monkeypatch.setattr(cli_local.process, "start", lambda *args, **kwargs: state)
    started = CliRunner().invoke(cli_module.cli, ["local", "start", "--speed", "60"], env={"COLUMNS": "80"})
    assert started.exit_code == 0, started.output
    assert started.output.splitlines()[:2] == [
        "Local emulator running at http://127.0.0.1:45678, ready in 0.0 s.",
        "pid 1234567, speed 60x; it runs until `dataops local stop`.",
    ]
    health = {"functions": {FN: {"invocations": 1, "errors": 0, "throttles": 2}}}
    monkeypatch.setattr(cli_local, "find_emulator", lambda directory: Found(state, health))
    shown = CliRunner().invoke(cli_module.cli, ["local", "status"], env={"COLUMNS": "80"})
    lines = shown.output.splitlines()
    assert lines[0] == "Running at http://127.0.0.1:45678 (pid 1234567)"
    assert lines[1].startswith("Since: 2027-01-15 08:00:00 UTC (up ")
    assert lines[-1] == f"{FN}: 1 run, 0 errors, 2 throttles"
    assert all(len(line) <= 80 for line in lines)


def test_every_help_fits_80_columns():
    import click

    def walk(command, path):
        yield path
        if isinstance(command, click.Group):
            for name, sub in command.commands.items():
                yield from walk(sub, [*path, name])

    for path in walk(cli_module.cli, []):
        text = CliRunner().invoke(cli_module.cli, [*path, "--help"], env={"COLUMNS": "80"}).output
        too_long = [line for line in text.splitlines() if len(line) > 80]
        assert too_long == [], (path, too_long)


def test_config_errors_wrap_at_80(tmp_path):
    config = tmp_path / "a-rather-long-directory-name-for-a-config" / "config.toml"
    config.parent.mkdir()
    config.write_text('[schedule]\nexpression = "rate(banana)"\n', encoding="utf-8")
    result = run_at(config, 80, "config")
    assert result.exit_code == 2
    assert all(len(line) <= 80 for line in result.output.splitlines()), result.output
    assert "schedule.expression = 'rate(banana)' is not allowed" in " ".join(result.output.split())


def test_runs_show_keeps_column_names_whole_and_drops_an_empty_message_column():
    from dataops_cli.runs import RunSummary
    from dataops_cli.runs_commands import run_detail

    checks = [
        {"name": "completeness", "level": "ok", "column": "DiabetesPedigreeFunction", "observed": 0.0,
         "expected": 0.1, "message": "missing rate 0.0% within 10.0%"},
        {"name": "distribution", "level": "ok", "column": "DiabetesPedigreeFunction", "observed": 0.4718,
         "expected": 0.4718, "message": "mean within 0.5 std"},
        {"name": "zero_markers", "level": "ok", "column": "BloodPressure", "observed": 30,
         "expected": "0 zeros, or values beyond [0, 1]", "message": "30 zeros; other values beyond [0, 1]"},
    ]  # fmt: skip
    run = RunSummary("20261126T155541Z-9c3293b5", "2026-11-26T15:55:41Z", "succeeded", "manual", 1500000, 9, 1272674)
    console = Console(width=80, record=True, file=io.StringIO())
    console.print(run_detail(run, {"baseline_runs": 3, "summary": {"ok": 3}, "checks": checks}))
    text = console.export_text()
    assert "DiabetesPedigreeFunction" in text and "Message" not in text
    table = [line.rstrip() for line in text.splitlines() if line[:1] in "│┃┏┡└"]
    assert all(line.endswith(("│", "┃", "┓", "┩", "┘")) and len(line) <= 80 for line in table), table  # not cropped
    assert "1,500,000 rows × 9 columns" in text and "1,272,674 cells imputed" in text
    flagged = [{**checks[1], "level": "warn", "message": "mean moved 0.8 std from its baseline (0.4718)"}]
    console = Console(width=80, record=True, file=io.StringIO())
    console.print(run_detail(run, {"baseline_runs": 3, "summary": {"warn": 1}, "checks": flagged}))
    lines = [line.rstrip() for line in console.export_text().splitlines()]
    assert all(len(line) <= 80 for line in lines), lines
    assert all(line.endswith(("│", "┃", "┓", "┩", "┘")) for line in lines if line[:1] in "│┃┏┡└"), lines  # not cropped
    assert "│ ⚠️ warn │ distribution │ DiabetesPedigreeFunction │   0.4718 │ 0.4718   │" in lines
    assert lines[-2:] == [
        "⚠️ warn distribution [DiabetesPedigreeFunction]: mean moved 0.8 std from its",
        "        baseline (0.4718)",
    ]


def test_counts_read_the_same_everywhere():
    from dataops_cli.counts import count, counted, shape
    from dataops_cli.status_view import runs_table

    assert count(1272674) == "1,272,674" and shape(1500000, 9) == "1,500,000 × 9"
    assert counted(1, "run") == "1 run" and counted(6, "metric") == "6 metrics" and counted(2, "match") == "2 matches"
    report = SimpleNamespace(
        runs=[{"run_id": "r1", "started": 0, "outcome": "succeeded", "rows": 1500000, "columns": 9,
               "missing_total": 1272674, "duration_ms": 812.4, "error": None}]
    )  # fmt: skip
    console = Console(width=80, record=True, file=io.StringIO())
    console.print(runs_table(report))
    text = console.export_text()
    assert "1,500,000 × 9" in text and "1,272,674" in text


def test_a_large_input_is_checked_on_its_first_lines(tmp_path, monkeypatch):
    """Over WHOLE_FILE_MAX_BYTES only the first PREFIX_BYTES (whole lines) are read: an error there
    is the file's, with its line; a column still empty there may get values later (not an error)."""
    from dataops_cli import input_check
    from dataops_cli.config import load_config

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
