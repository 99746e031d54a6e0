"""Which emulator a state directory names, proven by its instance token; what it trusts on disk.

Issue 19 part 2 and part 4 (emulator side), each reproduced here against a real emulator
process: a copied emulator.json let one project's CLI read and stop another project's
emulator; a process whose command line merely contains `dataops_cli.emulator.server` was
reported as running and killed by `local stop`; a pre-made `functions/<code sha>/` folder
was run instead of the deployed zip; deleting the state directory orphaned a running
emulator; a deleted resource's tags survived in moto, so a stranger's bucket of the same
name looked like ours to `up` and `down`.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from werkzeug.test import Client

from dataops_cli.cli import cli
from dataops_cli.emulator.instance_routes import InstanceRoutes
from dataops_cli.emulator.loopback_clients import LocalClients
from dataops_cli.emulator.state_watch import why_lost
from dataops_cli.local import process
from dataops_cli.local.credentials import Keys, owner_credentials, owner_credentials_path, signed_request
from dataops_cli.local.instance import (
    CHALLENGE_HEADER,
    HEALTH_PATH,
    STOP_PATH,
    TOKEN_HEADER,
    identify,
    new_token,
    proof,
)
from dataops_cli.local.private_files import ensure_private_dir
from dataops_cli.local.state import (
    EMULATOR_MODULE,
    INSTANCE_DIR_PREFIX,
    STATE_DIR_ENV,
    EmulatorState,
    pid_alive,
    read_state,
    state_path,
    write_state,
)
from tests.conftest import SAMPLE_CSV
from tests.helpers.local import wait_until

REGION = "ap-south-1"
ASSUME = {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
TRUST = json.dumps({"Version": "2012-10-17", "Statement": [ASSUME]})
TAGS = {"dataops:stack": "dataops"}
TAG_LIST = [{"Key": "dataops:stack", "Value": "dataops"}]


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def code_zip(source: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("lambda_function.py", source)
    return buffer.getvalue()


def deploy_function(clients: LocalClients, name: str, source: str, timeout: int = 30) -> bytes:
    """A function whose code is `source` as lambda_function.py (handler `lambda_function.handler`)."""
    iam = clients("iam", REGION)
    try:
        role = iam.create_role(RoleName=f"{name}-role", AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
    except iam.exceptions.EntityAlreadyExistsException:
        role = iam.get_role(RoleName=f"{name}-role")["Role"]["Arn"]
    code = code_zip(source)
    clients("lambda", REGION).create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=role,
        Handler="lambda_function.handler",
        Code={"ZipFile": code},
        Timeout=timeout,
    )
    return code


def health(endpoint: str, keys: Keys | None, **headers: str) -> tuple[int, bytes]:
    """GET the health path, signed by `keys` (None: unsigned)."""
    if keys is None:
        request = urllib.request.Request(endpoint + HEALTH_PATH, headers=headers)
    else:
        request = signed_request(endpoint, HEALTH_PATH, keys, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def post_stop(endpoint: str, keys: Keys | None, method: str = "POST", **headers: str) -> int:
    """Ask to stop, signed by `keys` (None: unsigned)."""
    if keys is None:
        request = urllib.request.Request(endpoint + STOP_PATH, method=method, data=b"", headers=headers)
    else:
        request = signed_request(endpoint, STOP_PATH, keys, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def cli_run(state_dir: Path, *args: str, config: Path | None = None) -> Any:
    options = ["--config", str(config)] if config else []
    return CliRunner().invoke(cli, [*options, *args], env={STATE_DIR_ENV: str(state_dir)})


def running_under(text: str) -> list[int]:
    """Pids of live processes whose command line contains `text` (Linux)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in command and pid_alive(int(entry.name)):
            found.append(int(entry.name))
    return found


def kill_if_alive(pid: int) -> None:
    """Last-resort cleanup of an emulator this test process spawned (its unreaped child: the pid is its own)."""
    if pid_alive(pid):
        os.kill(pid, signal.SIGKILL)
    with pytest.raises(ChildProcessError):
        while True:
            os.waitpid(pid, 0)


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, EmulatorState]]:
    """One emulator for the tests that leave it running; its own private state directory."""
    directory = tmp_path_factory.mktemp("shared") / "state"
    state = process.start(directory, region=REGION)
    try:
        yield directory, state
    finally:
        process.stop(directory)
        if pid_alive(state.pid):
            kill_if_alive(state.pid)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, aws_env: None, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)


# --- the proof of identity, in-process ---------------------------------------------------------------


def routes(stopped: list[str]) -> Client:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"moto"]

    return Client(
        InstanceRoutes(app, "t" * 64, "/nonexistent/state", lambda: {"service": "dataops-emulator"}, stopped.append)
    )


def test_health_answers_a_challenge_with_a_proof_bound_to_the_state_dir_and_never_the_token():
    client = routes([])
    plain = client.get(HEALTH_PATH).get_json()
    assert "proof" not in plain and plain["state_dir"] == "/nonexistent/state" and len(plain["instance"]) == 12
    challenge = "ab" * 16
    answered = client.get(HEALTH_PATH, headers={CHALLENGE_HEADER: challenge}).get_json()
    assert answered["proof"] == proof("t" * 64, challenge, "/nonexistent/state")
    assert answered["proof"] != proof("t" * 64, challenge, "/nonexistent/other")
    assert "t" * 64 not in json.dumps(answered)
    assert client.get(HEALTH_PATH, headers={CHALLENGE_HEADER: "not hex!"}).status_code == 400
    assert client.get("/anything").data == b"moto"


def test_stop_needs_the_token_and_post():
    stopped: list[str] = []
    client = routes(stopped)
    assert client.post(STOP_PATH).status_code == 403
    assert client.post(STOP_PATH, headers={TOKEN_HEADER: "t" * 63 + "u"}).status_code == 403
    assert client.get(STOP_PATH, headers={TOKEN_HEADER: "t" * 64}).status_code == 405
    assert stopped == []
    assert client.post(STOP_PATH, headers={TOKEN_HEADER: "t" * 64}).status_code == 202
    assert len(stopped) == 1


def test_the_watch_says_why_the_state_file_no_longer_names_the_emulator(tmp_path):
    directory = ensure_private_dir(tmp_path / "state")
    token = new_token()
    state = EmulatorState(1, "127.0.0.1", 1, 1.0, 0.0, "log", token=token)
    assert why_lost(directory, token) == f"its state file {state_path(directory)} is gone"
    write_state(directory, state)
    assert why_lost(directory, token) is None
    write_state(directory, EmulatorState(2, "127.0.0.1", 2, 1.0, 0.0, "log", token=new_token()))
    assert "now names another emulator (pid 2, port 2)" in why_lost(directory, token)
    state_path(directory).write_text("{")
    assert why_lost(directory, token) == f"its state file {state_path(directory)} is unreadable"
    shutil.rmtree(directory)
    assert why_lost(directory, token) == f"its state file {state_path(directory)} is gone"


def test_a_state_file_without_a_token_names_no_emulator(tmp_path):
    assert identify("http://127.0.0.1:1", "", tmp_path).verdict == "other"


# --- a real emulator -------------------------------------------------------------------------------


def test_the_emulator_proves_its_token_for_its_own_state_dir_only(emulator, tmp_path):
    directory, state = emulator
    assert identify(state.endpoint, state.token, directory).verdict == "ours"
    wrong = identify(state.endpoint, new_token(), directory)
    assert (wrong.verdict, wrong.detail) == ("other", "the emulator there does not hold this state file's token")
    keys = owner_credentials(directory)
    elsewhere = identify(state.endpoint, state.token, tmp_path, keys=keys)  # even signed by its owner
    assert elsewhere.verdict == "other" and "serves another state directory" in elsewhere.detail
    code, body = health(state.endpoint, keys)
    assert code == 200 and state.token.encode() not in body


def test_the_emulator_proves_nothing_to_whoever_is_not_its_owner(emulator, tmp_path):
    """The proof, like every /_dataops/ path, is for the owner's signature only (emulator/access.py)."""
    directory, state = emulator
    code, body = health(state.endpoint, None, **{CHALLENGE_HEADER: "ab" * 16})
    assert code == 403 and b"proof" not in body and b"state_dir" not in body
    unsigned = identify(state.endpoint, state.token, tmp_path)  # a copy of the state file, no credentials
    assert unsigned.verdict == "other"
    assert unsigned.detail == (
        "it refuses unsigned requests and this state directory has no readable owner credentials "
        f"({owner_credentials_path(tmp_path)})"
    )
    strangers = identify(state.endpoint, state.token, directory, keys=("AKIAEXAMPLEEXAMPLE00", "x" * 40))
    assert (strangers.verdict, strangers.detail) == (
        "other",
        "it refuses this state directory's owner credentials (HTTP 403)",
    )


def test_everything_in_the_state_dir_is_private(emulator):
    directory, _ = emulator
    assert mode(directory) == 0o700
    files = (state_path(directory), owner_credentials_path(directory), directory / "emulator.log")
    assert [mode(path) for path in (*files, directory / "start.lock")] == [0o600] * 4
    (instance,) = [p for p in directory.iterdir() if p.name.startswith(INSTANCE_DIR_PREFIX)]
    assert {p.name: mode(p) for p in [instance, *instance.iterdir()]} == {
        instance.name: 0o700,
        "functions": 0o700,
        "glue-runs": 0o700,
    }


def test_stop_over_http_without_the_token_changes_nothing(emulator):
    directory, state = emulator
    keys = owner_credentials(directory)
    assert post_stop(state.endpoint, keys) == 403
    assert post_stop(state.endpoint, keys, **{TOKEN_HEADER: new_token()}) == 403
    assert post_stop(state.endpoint, keys, method="GET", **{TOKEN_HEADER: state.token}) == 405
    assert post_stop(state.endpoint, None, **{TOKEN_HEADER: state.token}) == 403  # the token without the owner
    assert identify(state.endpoint, state.token, directory).verdict == "ours"


def test_a_copied_state_file_neither_reads_nor_stops_another_projects_emulator(emulator, tmp_path, clean_env):
    directory, state = emulator
    other = ensure_private_dir(tmp_path / "other-project")
    shutil.copy(state_path(directory), state_path(other))
    status = cli_run(other, "local", "status")
    assert status.exit_code == 1, status.output
    assert status.output.startswith("The local emulator is not running (removed a stale state file).")
    shutil.copy(state_path(directory), state_path(other))
    stopped = cli_run(other, "local", "stop")
    assert stopped.exit_code == 0, stopped.output
    assert stopped.output == "The local emulator was not running; removed its stale state file.\n"
    shutil.copy(state_path(directory), state_path(other))
    used = cli_run(other, "--local", "status")
    assert used.exit_code == 1 and "error: the local emulator is not running" in used.output
    assert not state_path(other).exists()
    # With its owner credentials copied too, requests are signed, but the proof names the other directory.
    shutil.copy(state_path(directory), state_path(other))
    shutil.copy(owner_credentials_path(directory), owner_credentials_path(other))
    stopped = cli_run(other, "local", "stop")
    assert stopped.output == "The local emulator was not running; removed its stale state file.\n"
    assert identify(state.endpoint, state.token, directory).verdict == "ours"  # untouched, still running


def test_a_process_that_only_looks_like_an_emulator_is_never_running_nor_stopped(emulator, tmp_path, clean_env):
    shared, running = emulator
    directory = ensure_private_dir(tmp_path / "state")
    command = [sys.executable, "-c", "import time; time.sleep(120)", EMULATOR_MODULE, "--state-dir", str(directory)]
    imposter = subprocess.Popen(command)
    try:
        # Its pid, with a port nothing listens on, then with a real emulator's port (another state dir's).
        for port in (free_port(), running.port):
            write_state(directory, EmulatorState(imposter.pid, "127.0.0.1", port, 1.0, 0.0, "x", token=new_token()))
            status = cli_run(directory, "local", "status", "--json")
            assert status.exit_code == 1 and json.loads(status.output)["running"] is False, status.output
            write_state(directory, EmulatorState(imposter.pid, "127.0.0.1", port, 1.0, 0.0, "x", token=new_token()))
            stopped = cli_run(directory, "local", "stop")
            assert stopped.output == "The local emulator was not running; removed its stale state file.\n"
            assert imposter.poll() is None, "local stop killed a process for its command line"
    finally:
        imposter.kill()
        imposter.wait()
    assert identify(running.endpoint, running.token, shared).verdict == "ours"


def test_a_planted_function_folder_is_never_run_the_deployed_zip_is(emulator):
    directory, state = emulator
    clients = LocalClients(state.endpoint, owner_credentials(directory))
    code = deploy_function(clients, "Planted", "def handler(event, context):\n    return {'ran': 'deployed'}\n")
    planted = "def handler(event, context):\n    return {'ran': 'planted'}\n"
    digest = hashlib.sha256(code).hexdigest()
    for name in (digest[:32], digest):  # where the emulator used to look, and the full hash
        folder = directory / "functions" / name
        folder.mkdir(parents=True)
        (folder / "lambda_function.py").write_text(planted)
    answer = clients("lambda", REGION).invoke(FunctionName="Planted", Payload=b"{}")
    assert json.loads(answer["Payload"].read()) == {"ran": "deployed"}


def test_deleted_resources_forget_their_tags_in_the_emulator(emulator):
    """Every kind of resource the stack tags: deleted, then made again untagged, it has no tags."""
    directory, state = emulator
    clients = LocalClients(state.endpoint, owner_credentials(directory))
    s3, logs = clients("s3", REGION), clients("logs", REGION)
    scheduler, cloudwatch = clients("scheduler", REGION), clients("cloudwatch", REGION)
    glue, events, sns = clients("glue", REGION), clients("events", REGION), clients("sns", REGION)
    iam, lam = clients("iam", REGION), clients("lambda", REGION)

    bucket = {"Bucket": "tag-probe-bucket", "CreateBucketConfiguration": {"LocationConstraint": REGION}}
    s3.create_bucket(**bucket)
    s3.put_bucket_tagging(Bucket="tag-probe-bucket", Tagging={"TagSet": TAG_LIST})
    s3.delete_bucket(Bucket="tag-probe-bucket")
    s3.create_bucket(**bucket)
    with pytest.raises(s3.exceptions.ClientError, match="NoSuchTagSet"):
        s3.get_bucket_tagging(Bucket="tag-probe-bucket")

    logs.create_log_group(logGroupName="/tag/probe", tags=TAGS)
    logs.delete_log_group(logGroupName="/tag/probe")
    logs.create_log_group(logGroupName="/tag/probe")
    assert logs.list_tags_log_group(logGroupName="/tag/probe")["tags"] == {}

    scheduler.create_schedule_group(Name="tag-probe", Tags=TAG_LIST)
    group_arn = scheduler.get_schedule_group(Name="tag-probe")["Arn"]
    scheduler.delete_schedule_group(Name="tag-probe")
    scheduler.create_schedule_group(Name="tag-probe")
    assert scheduler.list_tags_for_resource(ResourceArn=group_arn)["Tags"] == []

    alarm = {
        "AlarmName": "tag-probe",
        "MetricName": "Errors",
        "Namespace": "AWS/Lambda",
        "Statistic": "Sum",
        "Period": 60,
        "EvaluationPeriods": 1,
        "Threshold": 1.0,
        "ComparisonOperator": "GreaterThanOrEqualToThreshold",
    }
    cloudwatch.put_metric_alarm(**alarm, Tags=TAG_LIST)
    alarm_arn = cloudwatch.describe_alarms(AlarmNames=["tag-probe"])["MetricAlarms"][0]["AlarmArn"]
    cloudwatch.delete_alarms(AlarmNames=["tag-probe"])
    cloudwatch.put_metric_alarm(**alarm)
    assert cloudwatch.list_tags_for_resource(ResourceARN=alarm_arn)["Tags"] == []

    job = {"Name": "tag-probe", "Role": "r", "Command": {"Name": "glueetl", "ScriptLocation": "s3://b/k.py"}}
    glue.create_job(**job, Tags=TAGS)
    glue.delete_job(JobName="tag-probe")
    glue.create_job(**job)
    assert glue.get_tags(ResourceArn=f"arn:aws:glue:{REGION}:123456789012:job/tag-probe")["Tags"] == {}

    pattern = '{"source": ["aws.glue"]}'
    rule_arn = events.put_rule(Name="tag-probe", EventPattern=pattern, Tags=TAG_LIST)["RuleArn"]
    events.delete_rule(Name="tag-probe")
    events.put_rule(Name="tag-probe", EventPattern=pattern)
    assert events.list_tags_for_resource(ResourceARN=rule_arn)["Tags"] == []

    topic_arn = sns.create_topic(Name="tag-probe", Tags=TAG_LIST)["TopicArn"]
    sns.delete_topic(TopicArn=topic_arn)
    sns.create_topic(Name="tag-probe")
    assert sns.list_tags_for_resource(ResourceArn=topic_arn)["Tags"] == []

    iam.create_role(RoleName="tag-probe", AssumeRolePolicyDocument=TRUST, Tags=TAG_LIST)
    iam.delete_role(RoleName="tag-probe")
    role_arn = iam.create_role(RoleName="tag-probe", AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
    assert iam.list_role_tags(RoleName="tag-probe")["Tags"] == []

    function = {"FunctionName": "TagProbe", "Runtime": "python3.12", "Role": role_arn, "Handler": "lambda_function.h"}
    lam.create_function(**function, Code={"ZipFile": code_zip("")}, Tags=TAGS)
    lam.delete_function(FunctionName="TagProbe")
    arn = lam.create_function(**function, Code={"ZipFile": code_zip("")})["FunctionArn"]
    assert lam.list_tags(Resource=arn)["Tags"] == {}


def test_deleting_the_state_dir_stops_the_emulator_and_its_runs(tmp_path):
    directory = tmp_path / "state"
    state = process.start(directory, region=REGION)
    try:
        clients = LocalClients(state.endpoint, owner_credentials(directory))
        deploy_function(clients, "Sleeper", "import time\ndef handler(event, context):\n    time.sleep(120)\n", 300)
        clients("lambda", REGION).invoke(FunctionName="Sleeper", InvocationType="Event", Payload=b"{}")
        runs = wait_until(lambda: running_under(str(directory / INSTANCE_DIR_PREFIX)), 30, "the run to start")
        shutil.rmtree(directory)
        assert wait_until(lambda: not pid_alive(state.pid), 15, "the emulator to stop itself")
        assert wait_until(lambda: not any(pid_alive(pid) for pid in runs), 15, "its run to be killed")
    finally:
        kill_if_alive(state.pid)
    assert not directory.exists()  # it did not bring the deleted state directory back


def test_a_state_file_naming_another_emulator_stops_this_one(tmp_path):
    directory = tmp_path / "state"
    state = process.start(directory, region=REGION)
    try:
        write_state(directory, EmulatorState(1, "127.0.0.1", 1, 1.0, 0.0, "x", token=new_token()))
        assert wait_until(lambda: not pid_alive(state.pid), 15, "the emulator to stop itself")
        assert read_state(directory).pid == 1  # the other emulator's state file is left alone
    finally:
        kill_if_alive(state.pid)


def test_local_stop_stops_exactly_the_proven_emulator_over_http(tmp_path, clean_env):
    directory = tmp_path / "state"
    state = process.start(directory, region=REGION)
    try:
        result = cli_run(directory, "local", "stop")
        assert result.exit_code == 0, result.output
        assert result.output.startswith(f"Stopped the local emulator (pid {state.pid}, {state.endpoint})")
        assert not pid_alive(state.pid)
        assert not state_path(directory).exists()
        assert [p for p in directory.iterdir() if p.name.startswith(INSTANCE_DIR_PREFIX)] == []
        assert "asked to stop over HTTP by the holder of its token" in (directory / "emulator.log").read_text()
    finally:
        kill_if_alive(state.pid)


@pytest.mark.e2e
def test_after_down_a_strangers_bucket_of_the_same_name_is_neither_adopted_nor_emptied(tmp_path, clean_env):
    directory = tmp_path / "state"
    config = tmp_path / "config.toml"
    config.write_text(f'[bucket]\ninput_file = "{SAMPLE_CSV}"\n', encoding="utf-8")
    try:
        up = cli_run(directory, "--local", "up", config=config)
        assert up.exit_code == 0, up.output
        down = cli_run(directory, "--local", "down", "--yes", config=config)
        assert down.exit_code == 0, down.output
        clients = LocalClients(read_state(directory).endpoint, owner_credentials(directory))
        s3 = clients("s3", REGION)
        s3.create_bucket(Bucket="dataops-pipeline-bucket", CreateBucketConfiguration={"LocationConstraint": REGION})
        s3.put_object(Bucket="dataops-pipeline-bucket", Key="theirs.csv", Body=b"a,b\n1,2\n")

        again = cli_run(directory, "--local", "up", config=config)
        assert again.exit_code != 0, again.output
        # up's ownership check (before anything changes) refuses it: no dataops:stack tag survived the delete.
        assert "nothing was changed" in again.output, again.output
        assert "S3 bucket dataops-pipeline-bucket (has no dataops:stack tag" in " ".join(again.output.split()), (
            again.output
        )  # wrapped
        removed = cli_run(directory, "--local", "down", "--yes", config=config)
        assert removed.exit_code == 1, removed.output
        listed = s3.list_objects_v2(Bucket="dataops-pipeline-bucket").get("Contents", [])
        assert [item["Key"] for item in listed] == ["theirs.csv"]
        assert s3.get_object(Bucket="dataops-pipeline-bucket", Key="theirs.csv")["Body"].read() == b"a,b\n1,2\n"
    finally:
        process.stop(directory)
