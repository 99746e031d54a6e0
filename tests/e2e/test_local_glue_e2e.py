"""End to end with function.engine = "glue": the real CLI against the emulator, which runs the
uploaded Glue job script on local pyspark.

One emulator carries the story, with one Spark run in all (each run starts its own JVM, as
each Glue run does): `up` deploys and runs the job once, and while that run goes `invoke` is
refused (MaxConcurrentRuns 1); its outputs are read through the emulator (latest.json,
summary, the cleaned manifest and its parts) and its logs from /aws-glue/jobs/output; the
schedule (configured DISABLED, so that no firing can take the job's one run slot before up's
run; enabled once up is done: rate(1 minute) at speed 12 fires every 5 s) starts a run
through EventBridge Scheduler's universal target glue:startJobRun, which finds the input
unchanged and skips without starting Spark (pipeline.skip_unchanged, the default); disabled
again as configured, status is healthy with no drift; a run with a bad option fails
before Spark starts (FAILED, ErrorMessage, latest.json untouched, status failing); `down`
leaves nothing of the stack; `local stop` leaves no process.
Skipped without pyspark or Java (CI installs the test extra, which has pyspark).
"""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest
from botocore.exceptions import ClientError

from dataops_cli.local import process
from dataops_cli.local.spark_check import local_glue_problem
from dataops_cli.local.state import pid_alive, read_state
from tests.e2e.test_local_e2e import (
    BUCKET,
    Session,
    dataops_command,
    free_port,
    processes_mentioning,
    stack_instances,
)
from tests.helpers.local import set_schedule_state, wait_until
from tests.helpers.spark import FAST_JVM

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(local_glue_problem() is not None, reason=str(local_glue_problem())),
]
JOB = "dataops-pipeline-glue"
RUN_WAIT = 240  # one local Spark run of the sample file: ~15 s on a quiet machine, much more under load


def glue_runs(s: Session) -> list[dict[str, Any]]:
    return s.client("glue").get_job_runs(JobName=JOB)["JobRuns"]


def runs_once_deployed(s: Session) -> list[dict[str, Any]]:
    """The job's runs, or none while `up` has not created the job yet."""
    try:
        return glue_runs(s)
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "EntityNotFoundException":
            return []
        raise


def start(s: Session, *args: str) -> subprocess.Popen:
    """`dataops --local ARGS` in the background, as Session.run would run it."""
    command = [*dataops_command(), "--local", "--config", str(s.config), *args]
    return subprocess.Popen(command, env=s.env, cwd=s.cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def driver_log(s: Session, run_id: str) -> list[str]:
    """The run's own lines: /aws-glue/jobs/output, stream <run id>-driver."""
    events = s.client("logs").get_log_events(
        logGroupName="/aws-glue/jobs/output", logStreamName=f"{run_id}-driver", startFromHead=True
    )["events"]
    return [e["message"] for e in events]


def read_json(s: Session, key: str) -> Any:
    return json.loads(s.client("s3").get_object(Bucket=BUCKET, Key=key)["Body"].read())


def test_a_scheduled_glue_run_on_local_spark_end_to_end(tmp_path):
    s = Session(tmp_path)
    s.env.setdefault("PYSPARK_SUBMIT_ARGS", FAST_JVM)  # the emulator passes it to the Glue run's JVM
    s.config.write_text(
        s.config.read_text(encoding="utf-8")
        + '[function]\nengine = "glue"\n[schedule]\nexpression = "rate(1 minute)"\nenabled = false\n',
        encoding="utf-8",
    )
    started = s.run("local", "start", "--speed", "12", "--port", str(free_port()), local=False)
    assert started.returncode == 0, started.stderr
    pid = read_state(s.state_dir).pid
    s.connect()
    deploying: subprocess.Popen | None = None
    try:
        # up: deploys the job and runs it once, waiting for it with its progress shown. While that
        # run goes (a local Spark run takes well over the few seconds `invoke` takes), `invoke` is
        # refused as on AWS: MaxConcurrentRuns 1.
        deploying = start(s, "up")
        first = wait_until(
            lambda: next((r for r in runs_once_deployed(s) if r["JobRunState"] == "RUNNING"), None),
            RUN_WAIT,
            "up's Glue run to start",
            interval=0.2,
        )
        assert first["Arguments"] == {"--TRIGGER": "up"}, first
        busy = s.run("invoke")
        assert busy.returncode == 1, busy.stdout + busy.stderr
        assert f"a run of Glue job {JOB} is already going (max concurrent runs 1)" in busy.stderr, busy.stderr
        out, err = deploying.communicate(timeout=RUN_WAIT + 60)
        assert deploying.returncode == 0, out + err
        assert "Running Glue job dataops-pipeline-glue once now" in out
        assert f"of {JOB}: SUCCEEDED in " in " ".join(out.split()), out
        up_run = next(r for r in glue_runs(s) if r["Id"] == first["Id"])
        assert up_run["JobRunState"] == "SUCCEEDED", up_run.get("ErrorMessage")
        assert up_run["CompletedOn"] > up_run["StartedOn"] and up_run["ExecutionTime"] >= 1

        # Its outputs, read through the emulator: the run folder and latest.json contract of the Spark job.
        latest = read_json(s, "processed/latest.json")
        assert latest["engine"] == "spark"
        run_log = read_json(s, latest["outputs"]["log"])
        assert (run_log["status"], run_log["trigger"], run_log["run_id"]) == ("succeeded", "up", latest["run_id"])
        summary = read_json(s, latest["outputs"]["summary"])
        assert (summary["rows"], summary["columns"], summary["engine"]) == (768, 9, "spark"), summary
        manifest = read_json(s, latest["outputs"]["cleaned"])
        assert manifest["rows"] == 768 and manifest["parts"]
        rows = 0
        for part in manifest["parts"]:
            body = s.client("s3").get_object(Bucket=BUCKET, Key=part["key"])["Body"].read().decode()
            assert len(body.encode()) == part["size_bytes"]
            lines = body.splitlines()
            assert lines[0].split(",") == manifest["column_names"]
            rows += len(lines) - 1
        assert rows == 768
        # Its log: the script's stdout in /aws-glue/jobs/output, stream <run id>-driver.
        assert any("Pipeline run started" in line for line in driver_log(s, first["Id"]))

        # The schedule fires glue:startJobRun with its Input {"JobName": ...}: a run without arguments.
        # The input has not changed since up's run: it skips before Spark starts, and says so.
        published = s.latest()
        set_schedule_state(s.client("scheduler"), "ENABLED")  # at speed 12, rate(1 minute) fires every 5 s
        scheduled = wait_until(
            lambda: next((r for r in glue_runs(s) if not r.get("Arguments")), None), 60, "a scheduled Glue run"
        )
        # one scheduled run is enough, and the config says DISABLED
        set_schedule_state(s.client("scheduler"), "DISABLED")
        done = wait_until(
            lambda: next(
                (r for r in glue_runs(s) if r["Id"] == scheduled["Id"] and r["JobRunState"] != "RUNNING"), None
            ),
            RUN_WAIT,
            "the scheduled run to end",
            interval=0.5,
        )
        assert done["JobRunState"] == "SUCCEEDED", done.get("ErrorMessage")
        wait_until(lambda: all(r["JobRunState"] != "RUNNING" for r in glue_runs(s)), RUN_WAIT, "no run going", 1)
        skipped = driver_log(s, done["Id"])
        assert any("Run skipped: input unchanged" in line and latest["run_id"] in line for line in skipped), skipped
        assert not any("Pipeline run started" in line for line in skipped), skipped
        assert s.latest() == published, "a skipped run never moves latest.json"
        logs = s.run("logs", "--since", "10m")  # `dataops logs` reads them as it does on AWS
        assert logs.returncode == 0, logs.stdout + logs.stderr
        assert "Pipeline run started" in logs.stdout and "Run skipped" in logs.stdout, logs.stdout

        report = s.run("status", "--json")
        document = json.loads(report.stdout)
        # Healthy: the schedule is DISABLED again, as configured (no drift).
        assert report.returncode == 0 and document["health"]["level"] == "healthy", report.stdout
        assert document["health"]["reasons"] == [], report.stdout
        assert document["glue_runs"]["states"] == {"SUCCEEDED": 2}

        # A run with a bad option fails before Spark starts: FAILED with the job's error, latest.json untouched.
        before = s.latest()
        bad = s.client("glue").start_job_run(JobName=JOB, Arguments={"--IMPUTE_STRATEGY": "banana"})["JobRunId"]
        failed = wait_until(
            lambda: next((r for r in glue_runs(s) if r["Id"] == bad and r["JobRunState"] == "FAILED"), None),
            60,
            "the bad run to fail",
            interval=0.5,
        )
        assert "IMPUTE_STRATEGY" in failed["ErrorMessage"], failed["ErrorMessage"]
        assert s.latest() == before
        # Each run's Glue Job State Change event matched the stack's rules: what the dashboard and alarm read.
        assert s.metric_sum("AWS/Events", "MatchedEvents", ("RuleName", "dataops-glue-run-succeeded")) == 2
        wait_until(
            lambda: s.metric_sum("AWS/Events", "MatchedEvents", ("RuleName", "dataops-glue-run-failed")) == 1,
            10,
            "the failed run's MatchedEvents",
        )
        after = s.run("status", "--json")
        assert after.returncode == 3 and json.loads(after.stdout)["health"]["level"] == "failing", after.stdout

        # Under the shipped job role nothing the runs did was refused (the emulator evaluates its policies).
        assert "refused" not in (s.state_dir / "emulator.log").read_text(encoding="utf-8")

        down = s.run("down", "--yes")
        assert down.returncode == 0, down.stdout + down.stderr
        # Glue creates /aws-glue/jobs/{output,error} itself, shared by every job: not the stack's, and
        # `down` leaves them (on AWS too). Removed here so that the check below sees the stack alone.
        logs = s.client("logs")
        groups = [g["logGroupName"] for g in logs.describe_log_groups()["logGroups"]]
        assert sorted(groups) == ["/aws-glue/jobs/error", "/aws-glue/jobs/output"], groups
        for group in groups:
            logs.delete_log_group(logGroupName=group)
        left = stack_instances(s.data_json())
        assert left == {}, f"left behind after down: {left}"
    finally:
        if deploying is not None and deploying.poll() is None:  # an assertion above failed while up ran
            deploying.kill()
            deploying.communicate()
        stopped = s.run("local", "stop", local=False)
        process.stop(s.state_dir)  # safety net if an assertion above failed
    assert stopped.returncode == 0, stopped.stderr
    assert not pid_alive(pid)
    assert not (s.state_dir / "credentials.json").exists()
    assert processes_mentioning(str(s.state_dir)) == []
