"""End to end: the real `dataops` CLI, in subprocesses, against the local emulator over HTTP.

One emulator (own state dir, own free port, speed 120: rate(2 minutes) fires every second)
carries the whole story: start, up (with its first run), scheduled runs, status, invoke,
a failing run that is counted as an Error and leaves latest.json alone, down, proof from
moto's /moto-api/data.json that nothing of the stack is left, and stop with no process
left behind. Every wait is a wait-until with a timeout. The test reads the emulator as its
owner: with the credentials the emulator wrote to the state directory.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from dataops_cli.emulator.loopback_clients import LocalClients
from dataops_cli.local import process
from dataops_cli.local.credentials import owner_credentials, signed_get
from dataops_cli.local.state import STATE_DIR_ENV, pid_alive, read_state
from tests.conftest import SAMPLE_CSV
from tests.helpers.local import set_schedule_state, wait_until

pytestmark = pytest.mark.e2e

REGION = "ap-south-1"
BUCKET = "dataops-pipeline-bucket"
FUNCTION = "DataOpsPipelineFunction"
GROUP = "dataops-schedules"
SCHEDULE = "dataops-run-pipeline"
STACK_NAMES = (BUCKET, FUNCTION, GROUP, SCHEDULE, "dataops-lambda-exec", "dataops-scheduler-invoke")
# Left in the emulator on purpose: metric datapoints (CloudWatch cannot delete them either),
# the emulator's stand-in layer, IAM's per-account summary, and Scheduler's default group.
NOT_STACK = {("cloudwatch", "MetricDatum"), ("awslambda", "LayerVersion"), ("iam", "AccountSummary")}


def dataops_command() -> list[str]:
    script = Path(sys.executable).with_name("dataops")
    return [str(script)] if script.exists() else [sys.executable, "-m", "dataops_cli"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Session:
    """Runs the CLI with a private state dir and config, and reads the emulator directly."""

    def __init__(self, tmp_path: Path) -> None:
        self.state_dir = tmp_path / "state"
        self.config = tmp_path / "config.toml"
        self.config.write_text(f'[bucket]\ninput_file = "{SAMPLE_CSV}"\n', encoding="utf-8")
        self.env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("AWS_") and k not in ("DATAOPS_LOCAL", "DATAOPS_CONFIG")
        }
        self.env.update(
            {
                STATE_DIR_ENV: str(self.state_dir),
                "AWS_CONFIG_FILE": "/nonexistent/aws-config",
                "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/aws-credentials",
            }
        )
        self.cwd = tmp_path
        self.clients: LocalClients | None = None
        self.endpoint = ""

    def run(self, *args: str, local: bool = True, timeout: float = 60) -> subprocess.CompletedProcess:
        command = [*dataops_command(), *(["--local", "--config", str(self.config)] if local else []), *args]
        return subprocess.run(command, env=self.env, cwd=self.cwd, capture_output=True, text=True, timeout=timeout)

    def connect(self) -> None:
        state = read_state(self.state_dir)
        assert state is not None
        self.endpoint = state.endpoint
        self.clients = LocalClients(state.endpoint, owner_credentials(self.state_dir))

    def client(self, service: str) -> Any:
        assert self.clients is not None
        return self.clients(service, REGION)

    def metric_sum(self, namespace: str, name: str, dimension: tuple[str, str]) -> float:
        response = self.client("cloudwatch").get_metric_statistics(
            Namespace=namespace,
            MetricName=name,
            Dimensions=[{"Name": dimension[0], "Value": dimension[1]}],
            StartTime=datetime.now(UTC) - timedelta(minutes=30),
            EndTime=datetime.now(UTC) + timedelta(minutes=1),
            Period=60,
            Statistics=["Sum"],
        )
        return sum(point["Sum"] for point in response["Datapoints"])

    def lambda_sum(self, name: str) -> float:
        return self.metric_sum("AWS/Lambda", name, ("FunctionName", FUNCTION))

    def latest(self) -> bytes:
        return self.client("s3").get_object(Bucket=BUCKET, Key="processed/latest.json")["Body"].read()

    def invoke(self, *flags: str) -> subprocess.CompletedProcess:
        """`dataops --local invoke --json`, again while a scheduled run holds the one reserved slot."""

        def attempt() -> subprocess.CompletedProcess | None:
            result = self.run("invoke", "--json", *flags)
            return None if "TooManyRequestsException" in result.stderr else result

        return wait_until(attempt, 30, "an invoke that is not throttled", interval=0.05)

    def health(self) -> dict[str, Any]:
        return json.loads(signed_get(self.endpoint, "/_dataops/health", owner_credentials(self.state_dir), 5))

    def data_json(self) -> dict[str, Any]:
        """moto's list of every resource: the emulator serves it to its owner only (signed)."""
        return json.loads(signed_get(self.endpoint, "/moto-api/data.json", owner_credentials(self.state_dir), 30))


def stack_instances(data: dict[str, Any]) -> dict[str, list[str]]:
    """Every tracked moto instance that belongs to the stack, by service/model."""
    found: dict[str, list[str]] = {}
    for service, models in data.items():
        for model, instances in models.items():
            if (service, model) in NOT_STACK:
                continue
            for instance in instances:
                if service == "scheduler" and model == "ScheduleGroup" and instance.get("name") == "default":
                    continue
                # every account has a default event bus; moto makes it when EventBridge is first asked
                # (`up` reads the Glue engine's run rules even with engine lambda, to remove leftovers)
                if service == "events" and model == "EventBus" and str(instance.get("arn", "")).endswith("/default"):
                    continue
                label = next((str(v) for k, v in sorted(instance.items()) if k in ("name", "arn", "function_name")), "")
                found.setdefault(f"{service}.{model}", []).append(label)
    return found


def processes_mentioning(text: str) -> list[int]:
    """Pids whose command line contains `text` (Linux), e.g. function runs under the state dir."""
    pids = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmdline and pid_alive_any(int(proc.name)):
            pids.append(int(proc.name))
    return pids


def pid_alive_any(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] not in ("Z", "X")


def test_local_mode_end_to_end(tmp_path):
    s = Session(tmp_path)
    port = free_port()

    # A keep-alive of 10 h is 5 min of wall clock at 120x (the default 10 min is 5 s, which a
    # loaded machine outlasted between two checks): the one environment must still be there.
    started = s.run("local", "start", "--speed", "120", "--keep-alive", "36000", "--port", str(port), local=False)
    assert started.returncode == 0, started.stderr
    assert f"running at http://127.0.0.1:{port}" in started.stdout
    pid = read_state(s.state_dir).pid
    s.connect()
    try:
        status = json.loads(s.run("local", "status", "--json", local=False).stdout)
        assert (status["running"], status["speed"], status["endpoint"]) == (True, 120.0, f"http://127.0.0.1:{port}")

        # Nothing deployed yet: the hint names the local command (issue 9).
        empty = s.run("status")
        assert empty.returncode == 4 and "run dataops --local up" in empty.stdout, empty.stdout

        # up: deploys, reports the TLS policy gap, and runs the pipeline once right away.
        up = s.run("up")
        assert up.returncode == 0, up.stdout + up.stderr
        assert up.stdout.splitlines()[0] == f"Config: {s.config}"
        assert "(TLS only): skipped (the emulator cannot evaluate aws:SecureTransport" in up.stdout
        assert "✅ DataOpsPipelineFunction run " in up.stdout and "768 rows × 9 columns" in up.stdout
        assert "Invocations" in up.stdout and "exit code" in up.stdout  # the status printout after the run

        # Scheduled runs happen: at speed 120 the 2-minute schedule fires every second.
        wait_until(lambda: s.lambda_sum("Invocations") >= 4, 30, "three scheduled runs after up's own run")
        assert s.metric_sum("AWS/Scheduler", "InvocationAttemptCount", ("ScheduleGroup", GROUP)) >= 3
        assert s.lambda_sum("Errors") == 0

        report = s.run("status", "--json")
        kpis = json.loads(report.stdout)["kpis"]
        assert kpis["invocations"]["value"] >= 4, report.stdout
        assert kpis["errors"]["value"] == 0
        assert kpis["runs_skipped"]["value"] >= 1, report.stdout  # scheduled runs found up's input unchanged

        # Pause the schedule and let the run in flight finish, so what follows is deterministic:
        # at speed 120 a scheduled run holds the one reserved slot most of the time (a manual
        # invoke would be throttled), and a run writing into the bucket while `down` empties it
        # would make DeleteBucket fail (on AWS as here).
        set_schedule_state(s.client("scheduler"), "DISABLED", SCHEDULE, GROUP)
        idle = {"running": 0, "queued": 0}
        wait_until(
            lambda: {k: s.health()["functions"][FUNCTION][k] for k in idle} == idle, 30, "the emulator to go idle"
        )

        # invoke: a synchronous run through plain boto3 lambda.invoke, answered by the emulator.
        # The input has not changed since up's run: the run skips (pipeline.skip_unchanged), and
        # --force runs it in full.
        skipped = s.invoke()
        assert skipped.returncode == 0, skipped.stdout + skipped.stderr
        assert json.loads(skipped.stdout)["payload"]["status"] == "skipped"
        invoked = s.invoke("--force")
        assert invoked.returncode == 0, invoked.stdout + invoked.stderr
        outcome = json.loads(invoked.stdout)
        assert outcome["payload"]["status"] == "succeeded"
        assert "REPORT RequestId:" in "\n".join(outcome["log_tail"])

        # Outputs: latest.json names files that exist under processed/.
        latest = json.loads(s.latest())
        keys = {
            item["Key"]
            for page in s.client("s3").get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix="processed/")
            for item in page.get("Contents", [])
        }
        assert latest["run_id"] == outcome["payload"]["run_id"]
        assert set(latest["outputs"].values()) <= keys
        # up's run and the forced one: the scheduled runs on the unchanged input wrote nothing.
        assert len({k.split("/")[2] for k in keys if k.startswith("processed/runs/")}) == 2

        # A bad input makes runs fail: counted as Errors, latest.json untouched.
        before = s.latest()
        s.client("s3").put_object(Bucket=BUCKET, Key="diabetes_preprocessed.csv", Body=b"a,b\n1,2,3\n")
        failed = s.invoke()
        assert failed.returncode == 1, failed.stdout + failed.stderr
        failure = json.loads(failed.stdout)
        assert failure["function_error"] == "Unhandled"
        assert failure["payload"]["errorType"] == "RaggedRowError", failure["payload"]
        assert s.lambda_sum("Errors") == 1
        assert s.latest() == before

        # The last run failed: failing, with one row for it (the runtime's [ERROR] line and its
        # traceback folded into our structured line, no path of this machine), and the note
        # that runs execute on this machine's Python, not the configured runtime.
        after = s.run("status", "--json")
        document = json.loads(after.stdout)
        assert after.returncode == 3 and document["health"]["level"] == "failing", after.stdout
        assert len(document["errors"]) == 1, document["errors"]
        error = document["errors"][0]
        assert error["runtime"].startswith("RaggedRowError: ") and "/" not in error["message"] + error["runtime"]
        assert any("not the configured runtime python3.12" in note for note in document["notes"])
        errors_only = s.run("logs", "--errors", "--since", "10m")
        assert len(errors_only.stdout.splitlines()) == 1 and error["run_id"] in errors_only.stdout

        # Every run left Lambda's log lines in /aws/lambda/<function>.
        found = s.client("logs").filter_log_events(logGroupName=f"/aws/lambda/{FUNCTION}", filterPattern="REPORT")
        reports = [e["message"] for e in found["events"] if e["message"].startswith("REPORT RequestId: ")]
        assert len(reports) == s.lambda_sum("Invocations")
        assert all("\tBilled Duration: " in line and "\tMax Memory Used: " in line for line in reports)
        # One execution environment served every run (reserved concurrency 1, no run killed, the
        # failed one's error was the handler's own): one cold start, then warm ones (issue 26).
        assert [("\tInit Duration: " in line) for line in reports] == [True] + [False] * (len(reports) - 1)
        every = s.client("logs").filter_log_events(logGroupName=f"/aws/lambda/{FUNCTION}")["events"]
        lines = [json.loads(e["message"]) for e in every if e["message"].startswith("{")]
        first_lines = ("start", "skipped")  # a skipped run logs only its ⏭️ line
        flags = [line["cold_start"] for line in lines if line.get("event") in first_lines]
        assert flags == [True] + [False] * (len(reports) - 1), flags
        assert s.health()["environments"] == {FUNCTION: {"idle": 1, "busy": 0}}

        # Every run used the shipped roles, evaluated by the emulator: nothing was refused.
        assert "refused" not in (s.state_dir / "emulator.log").read_text(encoding="utf-8")

        deployed = stack_instances(s.data_json())
        assert any(BUCKET in label for label in deployed.get("s3.FakeBucket", [])), deployed
        assert any(FUNCTION in label for label in deployed.get("awslambda.LambdaFunction", [])), deployed

        down = s.run("down", "--yes")
        assert down.returncode == 0, down.stdout + down.stderr
        left = stack_instances(s.data_json())
        assert left == {}, f"left behind after down: {left}"
    finally:
        stopped = s.run("local", "stop", local=False)
        process.stop(s.state_dir)  # safety net if the assertion above failed
    assert stopped.returncode == 0, stopped.stderr
    assert f"Stopped the local emulator (pid {pid}" in stopped.stdout
    assert not pid_alive(pid)
    assert not (s.state_dir / "emulator.json").exists()
    assert not (s.state_dir / "credentials.json").exists()  # this instance's keys die with it
    assert processes_mentioning(str(s.state_dir)) == []


def test_demo_tells_the_whole_story_from_an_empty_folder_and_leaves_nothing(tmp_path, monkeypatch, aws_env):
    """No config file and no sample here (issue 25): the demo runs the packaged sample."""
    from click.testing import CliRunner

    from dataops_cli.cli import cli

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(STATE_DIR_ENV, raising=False)
    monkeypatch.delenv("DATAOPS_CONFIG", raising=False)
    # at 240x the schedule fires every 0.5 s: the story is the same, with less waiting
    result = CliRunner().invoke(cli, ["demo", "--runs", "2", "--speed", "240"], env={"COLUMNS": "500"})
    out = result.output
    assert result.exit_code == 0, out
    assert "No config file here: the demo runs the packaged sample" in out, out
    assert "Your turn: dataops init; dataops local start" in out, out
    assert list(tmp_path.iterdir()) == []  # nothing written here: the project lived in the private state dir
    assert all(f"{step}/7" in out for step in range(1, 8)), out
    # the scheduled runs find up's input unchanged; the handler's RunsSkipped can trail Lambda's Invocations
    skips = re.search(r"scheduled run 2 finished \(skipped, input unchanged: (\d+); errors: 0\)", out)
    assert skips is not None and int(skips[1]) >= 1, out
    assert "diabetes_preprocessed.csv replaced: 767 rows (was 768)" in out, out
    assert "processed it and published its outputs (latest.json)" in out, out
    assert "processed/latest.json" in out, out
    assert "Demo done in" in out, out
    assert not (tmp_path / ".dataops").exists()  # a private state dir, removed afterwards
    assert processes_mentioning("dataops-demo-") == []
