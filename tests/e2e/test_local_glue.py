"""The emulator's Glue job runs without Spark: the API over HTTP, run states, concurrency, logs,
the scheduler's universal target, the s3:// bridge, and the pyspark/Java preflight of the CLI.

The runs here use a stand-in runner (the real one starts Spark: tests/e2e/test_local_glue_e2e.py).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config as BotoConfig
from botocore.exceptions import ClientError
from werkzeug.serving import make_server

from dataops_cli.emulator import moto_internals
from dataops_cli.emulator.glue_bootstrap import S3Bridge
from dataops_cli.emulator.glue_runner import (
    GlueRunResult,
    JobSpec,
    error_message,
    job_argv,
    merged_arguments,
    split_logs,
)
from dataops_cli.emulator.glue_service import ERROR_LOG_GROUP, OUTPUT_LOG_GROUP, GlueService, driver_stream
from dataops_cli.emulator.glue_state_events import GlueStateEvents
from dataops_cli.emulator.identities import CredentialStore
from dataops_cli.emulator.middleware import EmulatorApp
from dataops_cli.emulator.roles import RoleDocuments, Roles
from dataops_cli.emulator.scheduler import ScheduleDef, ScheduleTarget, universal_action
from dataops_cli.emulator.sigv4 import Secret
from dataops_cli.emulator.telemetry import Telemetry
from tests.helpers.local import wait_until

REGION = "ap-south-1"
GLUE_TARGET = "arn:aws:scheduler:::aws-sdk:glue:startJobRun"
SPARK_LINE = "26/11/26 17:32:07 WARN NativeCodeLoader: Unable to load native-hadoop library"


def job_spec(**changes: Any) -> JobSpec:
    fields: dict[str, Any] = {
        "account": "123456789012",
        "region": REGION,
        "name": "J",
        "created": 0.0,
        "script_location": "s3://b/dataops/glue/glue_entry.py",
        "command": "glueetl",
        "default_arguments": {"--extra-py-files": "s3://b/dataops/glue/handler.zip", "--BUCKET_NAME": "b"},
        "non_overridable_arguments": {},
        "max_concurrent_runs": 1,
        "timeout_minutes": 30,
        "glue_version": "5.0",
        "worker_type": "G.1X",
        "number_of_workers": 2,
    }
    return JobSpec(**{**fields, **changes})


# ---- pure parts -------------------------------------------------------------------------------


def test_arguments_are_defaults_then_the_runs_then_the_non_overridable_ones():
    job = job_spec(default_arguments={"--A": "1", "--B": "1"}, non_overridable_arguments={"--C": "fixed"})
    assert merged_arguments(job, {"--B": "2", "--C": "mine"}) == {"--A": "1", "--B": "2", "--C": "fixed"}
    argv = job_argv(job, "jr_1", {"--A": "1", "TRIGGER": "up"})
    assert argv[:2] == ["--JOB_ID", argv[1]] and argv[1].startswith("j_")
    assert argv[2:] == ["--JOB_RUN_ID", "jr_1", "--JOB_NAME", "J", "--A", "1", "--TRIGGER", "up"]


def test_sparks_own_lines_go_to_the_error_group_and_the_scripts_to_the_output_group():
    lines = [
        (1.0, "stderr", 'Setting default log level to "WARN".'),
        (2.0, "stderr", "26/11/26 17:32:07 WARN NativeCodeLoader: Unable to load native-hadoop library"),
        (2.1, "stderr", "\tat org.apache.Something(Something.java:1)"),
        (3.0, "stdout", '{"event": "start"}'),
        (4.0, "stderr", "error: RaggedRowError: line 3 has 3 fields, the header has 2"),
    ]
    output, system = split_logs(lines)
    ragged = "RaggedRowError: line 3 has 3 fields, the header has 2"
    assert [m for _, m in output] == ['{"event": "start"}', f"error: {ragged}"]
    assert len(system) == 3 and system[2][1].startswith("\tat ")
    assert error_message(lines, 1) == ragged
    assert error_message([(1.0, "stdout", "hello")], 3) == "the job's script exited with status 3"


def test_universal_target_arns_name_their_service_and_action():
    assert universal_action(GLUE_TARGET) == "aws-sdk:glue:startJobRun"
    assert universal_action("arn:aws:lambda:ap-south-1:123456789012:function:F") is None


# ---- the Glue API over HTTP, with a stand-in runner -------------------------------------------


class StandInRunner:
    """Runs nothing: each run waits until the test releases it with an outcome."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, str]]] = []
        self.outcomes: dict[str, GlueRunResult] = {}
        self.release = threading.Event()

    def __call__(self, job: JobSpec, run_id: str, arguments: Any) -> GlueRunResult:
        self.calls.append((run_id, dict(arguments)))
        assert self.release.wait(10), "the test never released the run"
        now = time.time()
        return self.outcomes.get(run_id) or GlueRunResult(
            now - 3.4, now, 0, lines=[(now - 3, "stdout", "hello from the job"), (now - 2, "stderr", SPARK_LINE)]
        )


@pytest.fixture
def glue_api(aws_env: None, tmp_path: Path) -> Iterator[tuple[Any, Any, StandInRunner, str]]:
    """The middleware with a GlueService in front of the real moto app, on a real port."""
    clients: dict[tuple[str, str], Any] = {}
    runner = StandInRunner()
    holder: dict[str, Any] = {}

    def client_for(service: str, region: str) -> Any:
        if (service, region) not in clients:
            config = BotoConfig(retries={"max_attempts": 1})
            clients[(service, region)] = boto3.client(
                service, region_name=region, endpoint_url=holder["endpoint"], config=config
            )
        return clients[(service, region)]

    events = GlueStateEvents(
        client_for, Telemetry(client_for, lambda _spec: True), moto_internals.event_pattern_matches
    )
    service = GlueService(
        "unused", tmp_path, client_for, moto_internals.glue_job_spec, runner=runner, on_finished=events
    )
    app = EmulatorApp(moto_internals.moto_wsgi_app(), None, lambda *_: None, dict, REGION, glue=service)  # type: ignore[arg-type]
    server = make_server("127.0.0.1", 0, app, threaded=True)
    holder["endpoint"] = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    name = f"job-{uuid.uuid4().hex[:8]}"  # moto's backends are process-wide: one job per test
    glue = client_for("glue", REGION)
    glue.create_job(
        Name=name,
        Role="arn:aws:iam::123456789012:role/r",
        Command={"Name": "glueetl", "ScriptLocation": "s3://b/dataops/glue/glue_entry.py"},
        DefaultArguments={"--BUCKET_NAME": "b"},
        ExecutionProperty={"MaxConcurrentRuns": 1},
        GlueVersion="5.0",
        WorkerType="G.1X",
        NumberOfWorkers=2,
        Timeout=30,
    )
    try:
        yield glue, client_for("logs", REGION), runner, name
    finally:
        runner.release.set()
        server.shutdown()
        thread.join()


def state_of(glue: Any, job: str, run_id: str) -> str:
    return glue.get_job_run(JobName=job, RunId=run_id)["JobRun"]["JobRunState"]


def test_a_run_goes_running_then_succeeded_with_its_timings_and_arguments(glue_api):
    glue, logs, runner, job = glue_api
    run_id = glue.start_job_run(JobName=job, Arguments={"--TRIGGER": "manual"})["JobRunId"]
    assert run_id.startswith("jr_") and len(run_id) == 67
    wait_until(lambda: state_of(glue, job, run_id) == "RUNNING", 5, "the run to be RUNNING")
    assert runner.calls == [(run_id, {"--BUCKET_NAME": "b", "--TRIGGER": "manual"})]  # defaults + the run's
    runner.release.set()
    wait_until(lambda: state_of(glue, job, run_id) == "SUCCEEDED", 5, "the run to succeed")
    run = glue.get_job_run(JobName=job, RunId=run_id)["JobRun"]
    assert run["Arguments"] == {"--TRIGGER": "manual"}
    assert run["ExecutionTime"] == 3 and run["CompletedOn"] >= run["StartedOn"]
    assert (run["WorkerType"], run["NumberOfWorkers"], run["MaxCapacity"], run["Timeout"]) == ("G.1X", 2, 2.0, 30)
    assert "ErrorMessage" not in run
    out = logs.get_log_events(logGroupName=OUTPUT_LOG_GROUP, logStreamName=driver_stream(run_id))["events"]
    err = logs.get_log_events(logGroupName=ERROR_LOG_GROUP, logStreamName=driver_stream(run_id))["events"]
    assert [e["message"] for e in out] == ["hello from the job"]
    assert [e["message"] for e in err] == [SPARK_LINE]


def test_a_second_run_beyond_max_concurrent_runs_is_refused_like_aws(glue_api):
    glue, _, runner, job = glue_api
    first = glue.start_job_run(JobName=job)["JobRunId"]
    with pytest.raises(ClientError) as refused:
        glue.start_job_run(JobName=job)
    assert refused.value.response["Error"]["Code"] == "ConcurrentRunsExceededException"
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    runner.release.set()
    wait_until(lambda: state_of(glue, job, first) == "SUCCEEDED", 5, "the first run to end")
    second = glue.start_job_run(JobName=job)["JobRunId"]  # a slot is free again
    wait_until(lambda: state_of(glue, job, second) == "SUCCEEDED", 5, "the second run to end")


def test_a_failed_run_is_failed_with_its_error_message_in_the_log(glue_api):
    glue, logs, runner, job = glue_api
    run_id = glue.start_job_run(JobName=job)["JobRunId"]
    now = time.time()
    runner.outcomes[run_id] = GlueRunResult(
        now - 2, now, 1, lines=[(now - 1, "stderr", "error: RaggedRowError: line 2")], error="RaggedRowError: line 2"
    )
    runner.release.set()
    wait_until(lambda: state_of(glue, job, run_id) == "FAILED", 5, "the run to fail")
    run = glue.get_job_run(JobName=job, RunId=run_id)["JobRun"]
    assert run["ErrorMessage"] == "RaggedRowError: line 2"
    err = logs.get_log_events(logGroupName=ERROR_LOG_GROUP, logStreamName=driver_stream(run_id))["events"]
    assert err[-1]["message"] == f"ERROR GlueJobRun: {run_id} RaggedRowError: line 2"


def test_a_run_that_ends_counts_matched_events_for_the_rules_its_state_change_matches(glue_api):
    from datetime import UTC, datetime, timedelta

    glue, _, runner, job = glue_api
    events = boto3.client(
        "events",
        region_name=REGION,
        endpoint_url=glue.meta.endpoint_url,
        config=BotoConfig(retries={"max_attempts": 1}),
    )
    cloudwatch = boto3.client("cloudwatch", region_name=REGION, endpoint_url=glue.meta.endpoint_url)
    rules = {"failed": ["FAILED", "TIMEOUT"], "succeeded": ["SUCCEEDED"]}
    for name, states in rules.items():
        pattern = {
            "source": ["aws.glue"],
            "detail-type": ["Glue Job State Change"],
            "detail": {"jobName": [job], "state": states},
        }
        events.put_rule(Name=f"{job}-{name}", EventPattern=json.dumps(pattern), State="ENABLED")
    run_id = glue.start_job_run(JobName=job)["JobRunId"]
    now = time.time()
    runner.outcomes[run_id] = GlueRunResult(now - 1, now, 1, error="RaggedRowError: line 2")
    runner.release.set()
    wait_until(lambda: state_of(glue, job, run_id) == "FAILED", 5, "the run to fail")

    def matched(rule: str) -> float:
        points = cloudwatch.get_metric_statistics(
            Namespace="AWS/Events",
            MetricName="MatchedEvents",
            Dimensions=[{"Name": "RuleName", "Value": rule}],
            StartTime=datetime.now(UTC) - timedelta(minutes=5),
            EndTime=datetime.now(UTC) + timedelta(minutes=1),
            Period=60,
            Statistics=["Sum"],
        )["Datapoints"]
        return sum(p["Sum"] for p in points)

    assert wait_until(lambda: matched(f"{job}-failed"), 5, "the failed rule's MatchedEvents") == 1
    assert matched(f"{job}-succeeded") == 0


def test_get_job_runs_lists_newest_first_in_pages(glue_api):
    glue, _, runner, job = glue_api
    runner.release.set()
    started = []
    for _ in range(3):
        started.append(glue.start_job_run(JobName=job)["JobRunId"])
        wait_until(lambda: state_of(glue, job, started[-1]) == "SUCCEEDED", 5, "the run to end")
    first = glue.get_job_runs(JobName=job, MaxResults=2)
    rest = glue.get_job_runs(JobName=job, MaxResults=2, NextToken=first["NextToken"])
    assert [r["Id"] for r in first["JobRuns"] + rest["JobRuns"]] == started[::-1]
    assert "NextToken" not in rest


def test_unknown_jobs_and_runs_are_entity_not_found_and_a_deleted_jobs_runs_go_with_it(glue_api):
    glue, _, runner, job = glue_api
    for call in (
        lambda: glue.start_job_run(JobName="no-such-job"),
        lambda: glue.get_job_runs(JobName="no-such-job"),
        lambda: glue.get_job_run(JobName=job, RunId="jr_nope"),
    ):
        with pytest.raises(ClientError) as missing:
            call()
        assert missing.value.response["Error"]["Code"] == "EntityNotFoundException"
    runner.release.set()
    run_id = glue.start_job_run(JobName=job)["JobRunId"]
    wait_until(lambda: state_of(glue, job, run_id) == "SUCCEEDED", 5, "the run to end")
    glue.delete_job(JobName=job)
    with pytest.raises(ClientError):
        glue.get_job_run(JobName=job, RunId=run_id)


def test_a_runner_bug_fails_the_run_instead_of_leaving_it_running(aws_env, tmp_path):
    def broken(job: JobSpec, run_id: str, arguments: Any) -> GlueRunResult:
        raise RuntimeError("boom")

    class NoLogs:
        def __getattr__(self, name: str) -> Any:
            return lambda **kwargs: None

    job = job_spec()
    service = GlueService("unused", tmp_path, lambda *_: NoLogs(), lambda *_: job, runner=broken)
    run_id = service.start_job_run(job.account, REGION, {"JobName": "J"})["JobRunId"]

    def failed() -> dict[str, Any] | None:
        run = service.get_job_run(job.account, REGION, {"JobName": "J", "RunId": run_id})["JobRun"]
        return run if run["JobRunState"] == "FAILED" else None

    run = wait_until(failed, 5, "the run to fail")
    assert run["ErrorMessage"] == "the emulator could not run the job: boom"


def test_a_job_whose_role_glue_cannot_assume_fails_before_it_runs(aws_env, tmp_path):
    """Glue assumes the job's role for each run: a trust policy for another service fails the run."""
    lambda_only = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    role = "arn:aws:iam::123456789012:role/glue-job"
    documents = {role: RoleDocuments(role, lambda_only, ())}
    roles = Roles(CredentialStore(Secret("AKIAOWNER", "s"), "123456789012"), documents.get)
    called: list[str] = []

    def runner(job: JobSpec, run_id: str, arguments: Any, credentials: Any = None) -> GlueRunResult:
        called.append(run_id)
        raise AssertionError("the script must not run")

    class NoLogs:
        def __getattr__(self, name: str) -> Any:
            return lambda **kwargs: None

    job = job_spec(role_arn=role)
    service = GlueService("unused", tmp_path, lambda *_: NoLogs(), lambda *_: job, runner=runner, roles=roles)
    run_id = service.start_job_run(job.account, REGION, {"JobName": "J"})["JobRunId"]

    def failed() -> dict[str, Any] | None:
        run = service.get_job_run(job.account, REGION, {"JobName": "J", "RunId": run_id})["JobRun"]
        return run if run["JobRunState"] == "FAILED" else None

    run = wait_until(failed, 5, "the run to fail")
    assert run["ErrorMessage"].startswith("Glue could not assume the job's role: glue.amazonaws.com is not authorized")
    assert called == []

    trusting = {
        **lambda_only,
        "Statement": [{**lambda_only["Statement"][0], "Principal": {"Service": "glue.amazonaws.com"}}],
    }
    documents[role] = RoleDocuments(role, trusting, ())
    given: list[Any] = []

    def recording(job: JobSpec, run_id: str, arguments: Any, credentials: Any = None) -> GlueRunResult:
        given.append(credentials)
        now = time.time()
        return GlueRunResult(now, now, 0)

    service.runner = recording
    second = service.start_job_run(job.account, REGION, {"JobName": "J"})["JobRunId"]
    wait_until(
        lambda: (
            service.get_job_run(job.account, REGION, {"JobName": "J", "RunId": second})["JobRun"]["JobRunState"]
            == "SUCCEEDED"
        ),
        5,
    )
    assert given[0].access_key.startswith("ASIA") and given[0].token  # the role's session, revoked after the run
    assert roles.store.lookup(given[0].access_key) is None


# ---- the scheduler's universal target ---------------------------------------------------------


class Recorder:
    def __init__(self, fail: Exception | None = None) -> None:
        self.started: list[dict[str, Any]] = []
        self.metrics: list[Any] = []
        self.fail = fail

    def __call__(self, service: str, region: str) -> Any:
        assert (service, region) == ("glue", REGION)
        return self

    def start_job_run(self, **request: Any) -> dict[str, str]:
        if self.fail:
            raise self.fail
        self.started.append(request)
        return {"JobRunId": "jr_x"}

    def put_metrics(self, region: str, metrics: Any) -> None:
        self.metrics.extend(metrics)


def schedule(input_text: str) -> ScheduleDef:
    return ScheduleDef(REGION, "g", "s", "rate(2 minutes)", "UTC", True, 0.0, GLUE_TARGET, input_text)


def target_errors(recorder: Recorder) -> list[str]:
    return [datum["MetricName"] for _, datum in recorder.metrics if datum["MetricName"] == "TargetErrorCount"]


def test_a_glue_start_job_run_target_starts_a_run_with_its_input():
    recorder = Recorder()
    ScheduleTarget(recorder, recorder)(schedule(json.dumps({"JobName": "J"})), 1.0)  # type: ignore[arg-type]
    assert recorder.started == [{"JobName": "J"}]
    assert target_errors(recorder) == []


@pytest.mark.parametrize("input_text", ["not json", "[]", '{"Name": "J"}'])
def test_a_glue_target_without_a_job_name_is_a_target_error(input_text):
    recorder = Recorder()
    ScheduleTarget(recorder, recorder)(schedule(input_text), 1.0)  # type: ignore[arg-type]
    assert recorder.started == [] and target_errors(recorder) == ["TargetErrorCount"]


def test_a_glue_run_refused_for_concurrency_is_a_target_error():
    busy = ClientError({"Error": {"Code": "ConcurrentRunsExceededException", "Message": "busy"}}, "StartJobRun")
    recorder = Recorder(fail=busy)
    ScheduleTarget(recorder, recorder)(schedule('{"JobName": "J"}'), 1.0)  # type: ignore[arg-type]
    assert target_errors(recorder) == ["TargetErrorCount"]


def test_the_schedules_role_must_trust_scheduler_for_its_group_and_may_start_only_its_job():
    from dataops_cli.deploy.policies import scheduler_glue_policy, scheduler_trust_policy

    role = "arn:aws:iam::123456789012:role/sched"
    group_arn = f"arn:aws:scheduler:{REGION}:123456789012:schedule-group/g"
    shipped = RoleDocuments(
        role,
        scheduler_trust_policy("123456789012", group_arn),
        (scheduler_glue_policy(f"arn:aws:glue:{REGION}:123456789012:job/J"),),
    )
    documents = {role: shipped}
    roles = Roles(CredentialStore(Secret("AKIAOWNER", "s"), "123456789012"), documents.get)
    base = schedule('{"JobName": "J"}')
    fired = ScheduleDef(
        **{**base.__dict__, "role_arn": role, "arn": f"arn:aws:scheduler:{REGION}:123456789012:schedule/g/s"}
    )
    assert fired.group_arn == group_arn

    recorder = Recorder()
    ScheduleTarget(recorder, recorder, roles)(fired, 1.0)  # type: ignore[arg-type]
    assert recorder.started == [{"JobName": "J"}] and target_errors(recorder) == []

    other_job = ScheduleDef(**{**fired.__dict__, "input": '{"JobName": "K"}'})
    recorder = Recorder()
    ScheduleTarget(recorder, recorder, roles)(other_job, 1.0)  # type: ignore[arg-type]
    assert recorder.started == [] and target_errors(recorder) == ["TargetErrorCount"]

    other_group = ScheduleDef(**{**fired.__dict__, "group": "h"})
    recorder = Recorder()
    ScheduleTarget(recorder, recorder, roles)(other_group, 1.0)  # type: ignore[arg-type]
    assert recorder.started == [] and target_errors(recorder) == ["TargetErrorCount"]


# ---- the s3:// bridge Spark's reads and writes go through -------------------------------------


@pytest.fixture
def bridge(mock_aws_env: None, tmp_path: Path) -> tuple[S3Bridge, Any]:
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="bb-bridge", CreateBucketConfiguration={"LocationConstraint": REGION})
    return S3Bridge(s3, tmp_path / "staging"), s3


def test_a_read_stages_the_object_or_every_object_under_a_prefix(bridge):
    b, s3 = bridge
    s3.put_object(Bucket="bb-bridge", Key="in/data.csv", Body=b"a\n1\n")
    s3.put_object(Bucket="bb-bridge", Key="in/more/x.csv", Body=b"a\n2\n")
    one = Path(b.stage_read("s3://bb-bridge/in/data.csv").removeprefix("file://"))
    assert one.read_bytes() == b"a\n1\n"
    folder = Path(b.stage_read("s3://bb-bridge/in/more/").removeprefix("file://"))
    assert (folder / "x.csv").read_bytes() == b"a\n2\n"
    with pytest.raises(FileNotFoundError, match=r"Path does not exist: s3://bb-bridge/in/nothing"):
        b.stage_read("s3://bb-bridge/in/nothing")


def test_a_write_uploads_what_spark_wrote_and_honours_the_save_mode(bridge):
    b, s3 = bridge
    local, upload = b.staged_write("s3://bb-bridge/out/cleaned/", None)
    folder = Path(local.removeprefix("file://"))
    folder.mkdir(parents=True)
    (folder / "part-00000.csv").write_text("a\n1\n")
    (folder / ".part-00000.csv.crc").write_text("x")
    upload()
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="bb-bridge", Prefix="out/")["Contents"]]
    assert keys == ["out/cleaned/part-00000.csv"]
    with pytest.raises(FileExistsError, match="already exists"):
        b.staged_write("s3://bb-bridge/out/cleaned/", "errorifexists")
    assert b.staged_write("s3://bb-bridge/out/cleaned/", "ignore")[0] is None
    local, upload = b.staged_write("s3://bb-bridge/out/cleaned", "overwrite")
    folder = Path(local.removeprefix("file://"))
    folder.mkdir(parents=True)
    (folder / "part-00001.csv").write_text("a\n2\n")
    upload()
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="bb-bridge", Prefix="out/")["Contents"]]
    assert keys == ["out/cleaned/part-00001.csv"]


# ---- the CLI's preflight: pyspark and Java, before anything starts ----------------------------


def glue_config(tmp_path: Path) -> Path:
    from tests.conftest import SAMPLE_CSV

    config = tmp_path / "config.toml"
    config.write_text(f'[bucket]\ninput_file = "{SAMPLE_CSV}"\n[function]\nengine = "glue"\n', encoding="utf-8")
    return config


def run_cli(tmp_path: Path, *args: str) -> Any:
    from click.testing import CliRunner

    from dataops_cli.cli import cli

    config, state = glue_config(tmp_path), tmp_path / "state"
    return CliRunner().invoke(cli, ["--local", "--config", str(config), "--state-dir", str(state), *args])


@pytest.mark.parametrize("command", [["up"], ["invoke"]])
def test_without_pyspark_local_glue_fails_in_one_line_before_anything_starts(tmp_path, monkeypatch, aws_env, command):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "pyspark" else real(name, *a))
    result = run_cli(tmp_path, *command)
    assert result.exit_code == 2, result.output
    assert result.output.count("error:") == 1  # one error (wrapped at the pipe's width)
    error = " ".join(result.output[result.output.index("error:") :].split())
    assert error == (
        'error: function.engine = "glue" with --local runs the job on local pyspark, which is not installed: '
        "pip install -e '.[spark]' (AWS Glue 5.x = Spark 3.5)"
    )
    assert "hint:" not in result.output
    assert not (tmp_path / "state" / "emulator.json").exists()  # no emulator started, nothing deployed


def test_without_java_on_path_local_glue_fails_naming_java(tmp_path, monkeypatch, aws_env):
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    result = run_cli(tmp_path, "up")
    assert result.exit_code == 2, result.output
    assert "needs Java for pyspark and finds none on PATH: install a Java 17 runtime" in result.output
    assert not (tmp_path / "state" / "emulator.json").exists()


def test_a_java_home_without_java_is_named(tmp_path, monkeypatch, aws_env):
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "no-jdk"))
    result = run_cli(tmp_path, "up")
    assert result.exit_code == 2, result.output
    assert f"`{tmp_path / 'no-jdk' / 'bin' / 'java'} -version` failed" in result.output.replace("\n", "")


# ---- the real runner and bootstrap, with small scripts instead of the Spark job -----------------


@pytest.fixture
def staged(mock_aws_env: None) -> Any:
    import io
    import zipfile

    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="bb-runner", CreateBucketConfiguration={"LocationConstraint": REGION})
    modules = io.BytesIO()
    with zipfile.ZipFile(modules, "w") as archive:
        archive.writestr("shipped_module.py", "WHERE = 'from the extra zip'\n")
    s3.put_object(Bucket="bb-runner", Key="glue/modules.zip", Body=modules.getvalue())
    return s3


def runner_job(s3: Any, script: str, **changes: Any) -> JobSpec:
    s3.put_object(Bucket="bb-runner", Key="glue/entry.py", Body=script.encode())
    return job_spec(
        script_location="s3://bb-runner/glue/entry.py",
        default_arguments={"--extra-py-files": "s3://bb-runner/glue/modules.zip"},
        **changes,
    )


def test_the_runner_runs_the_uploaded_script_with_glues_argv_and_its_extra_files(staged, tmp_path):
    from dataops_cli.emulator.glue_runner import run_glue_job

    script = (
        "import sys, shipped_module\n"
        "print(shipped_module.WHERE)\n"
        "print(' '.join(sys.argv[1:]))\n"
        "print('error: BadThing: it broke', file=sys.stderr)\n"
        "sys.exit(3)\n"
    )
    job = runner_job(staged, script)
    arguments = merged_arguments(job, {"--TRIGGER": "manual"})
    result = run_glue_job(job, "jr_test", arguments, "http://127.0.0.1:9", lambda region: staged, tmp_path)
    out = [text for _, stream, text in result.lines if stream == "stdout"]
    assert out[0] == "from the extra zip"
    assert out[1].split()[:6] == ["--JOB_ID", out[1].split()[1], "--JOB_RUN_ID", "jr_test", "--JOB_NAME", "J"]
    assert out[1].endswith("--extra-py-files s3://bb-runner/glue/modules.zip --TRIGGER manual")
    assert (result.exit_code, result.error, result.timed_out) == (3, "BadThing: it broke", False)
    assert list(tmp_path.iterdir()) == []  # the run's staging folder is removed


def test_the_runner_kills_a_run_at_its_timeout(staged, tmp_path):
    from dataops_cli.emulator.glue_runner import run_glue_job

    job = runner_job(staged, "import time\nprint('started', flush=True)\ntime.sleep(60)\n")
    result = run_glue_job(job, "jr_t", merged_arguments(job, {}), "http://x", lambda r: staged, tmp_path, None, 1.5)
    assert result.timed_out and result.error.startswith("Job run timed out")
    assert [text for _, _, text in result.lines] == ["started"]
    assert result.ended - result.started < 30


def test_a_missing_script_fails_the_run_naming_it(staged, tmp_path):
    from dataops_cli.emulator.glue_runner import run_glue_job

    job = job_spec(script_location="s3://bb-runner/glue/nothing.py", default_arguments={})
    result = run_glue_job(job, "jr_m", {}, "http://x", lambda r: staged, tmp_path)
    assert result.failed and result.error.startswith("could not read the job's script s3://bb-runner/glue/nothing.py")
