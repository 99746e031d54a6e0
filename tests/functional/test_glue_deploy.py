"""`up`/`down` with function.engine = "glue" against moto, and switching engines both ways.

moto 5.2 implements CreateJob, GetJob, DeleteJob, GetTags and TagResource; it has no
UpdateJob, so a drifted job is planned here but its update is tested by plan equality
only (tests/functional/test_planning_glue.py). moto's Scheduler takes the universal target ARN as it
takes any ARN (AWS checks the role may call glue:StartJobRun only when the schedule fires).
"""

from __future__ import annotations

import json

import boto3
import pytest

from dataops_cli.deploy.packaging import GLUE_ENTRY, build_glue_package
from tests.helpers import deploy as h

GLUE = '[function]\nengine = "glue"\n'
JOB = "dataops-pipeline-glue"


@pytest.fixture
def stack(mock_aws_env, monkeypatch, tmp_path):
    h.publish_stand_in_layer()
    recorder = h.install(monkeypatch)
    lam = h.write_config(tmp_path / "lambda.toml")
    glue = h.write_config(tmp_path / "glue.toml")
    glue.write_text(glue.read_text().replace("[function]\n", '[function]\nengine = "glue"\n', 1), encoding="utf-8")
    return recorder, lam, glue


@pytest.fixture
def deployed(mock_aws_env, monkeypatch, tmp_path):
    """`stack` with the Glue stack up: a private copy of the process's deployed moto state (helpers/moto_state.py)."""
    glue = tmp_path / "glue.toml"
    recorder = h.deployed_stack(monkeypatch, glue, 'engine = "glue"\n')  # a key of write_config's last table
    assert 'engine = "glue"' in glue.read_text(encoding="utf-8").split("[function]", 1)[1]
    return recorder, h.write_config(tmp_path / "lambda.toml"), glue


def up(config, *args):
    result = h.run(config, "up", *args)
    assert result.exit_code == 0, result.output
    return result


def glue_state() -> dict:
    glue, s3, iam, scheduler = h.clients("glue", "s3", "iam", "scheduler")
    job = glue.get_job(JobName=JOB)["Job"]
    role = iam.get_role(RoleName="dataops-glue-job")["Role"]
    return {
        "job": job,
        "job_tags": glue.get_tags(ResourceArn=f"arn:aws:glue:{h.REGION}:{h.ACCOUNT}:job/{JOB}")["Tags"],
        "role": role,
        "role_policy": iam.get_role_policy(RoleName="dataops-glue-job", PolicyName="dataops-least-privilege"),
        "scheduler_policy": iam.get_role_policy(
            RoleName="dataops-scheduler-invoke", PolicyName="dataops-least-privilege"
        )["PolicyDocument"],
        "schedule": scheduler.get_schedule(Name="dataops-run-pipeline", GroupName="dataops-schedules"),
        "objects": {
            o["Key"] for o in s3.list_objects_v2(Bucket="dataops-pipeline-bucket", Prefix="dataops/glue/")["Contents"]
        },
    }


def test_up_with_glue_builds_the_job_and_no_function(stack):
    recorder, _, glue = stack
    result = up(glue)
    assert "Glue job dataops-pipeline-glue" in result.output
    state = glue_state()
    job = state["job"]
    assert job["Command"] == {
        "Name": "glueetl",
        "ScriptLocation": "s3://dataops-pipeline-bucket/dataops/glue/glue_entry.py",
        "PythonVersion": "3",
    }
    assert (job["GlueVersion"], job["WorkerType"], job["NumberOfWorkers"], job["Timeout"]) == ("5.0", "G.1X", 2, 30)
    assert job["ExecutionProperty"] == {"MaxConcurrentRuns": 1}
    assert job["Role"] == f"arn:aws:iam::{h.ACCOUNT}:role/dataops-glue-job"
    assert job["DefaultArguments"]["--BUCKET_NAME"] == "dataops-pipeline-bucket"
    assert job["DefaultArguments"]["--extra-py-files"] == "s3://dataops-pipeline-bucket/dataops/glue/handler.zip"
    assert state["job_tags"]["dataops:stack"] == "dataops"
    assert state["objects"] == {"dataops/glue/glue_entry.py", "dataops/glue/handler.zip"}
    s3 = boto3.client("s3", region_name=h.REGION)
    stored = s3.get_object(Bucket="dataops-pipeline-bucket", Key="dataops/glue/handler.zip")["Body"].read()
    assert stored == build_glue_package().data
    entry = s3.get_object(Bucket="dataops-pipeline-bucket", Key="dataops/glue/glue_entry.py")["Body"].read()
    assert entry == GLUE_ENTRY.read_bytes()
    trust = state["role"]["AssumeRolePolicyDocument"]
    assert trust["Statement"][0]["Principal"] == {"Service": "glue.amazonaws.com"}
    target = state["schedule"]["Target"]
    assert target["Arn"] == "arn:aws:scheduler:::aws-sdk:glue:startJobRun"
    assert json.loads(target["Input"]) == {"JobName": JOB}
    assert state["scheduler_policy"]["Statement"] == [
        {
            "Sid": "StartPipelineJob",
            "Effect": "Allow",
            "Action": "glue:StartJobRun",
            "Resource": f"arn:aws:glue:{h.REGION}:{h.ACCOUNT}:job/{JOB}",
        }
    ]
    left = h.leftovers()
    assert left["functions"] == [] and "/aws/lambda/DataOpsPipelineFunction" not in left["log_groups"]
    assert "dataops-lambda-exec" not in left["roles"]

    second = up(glue)
    assert recorder.last.counter.mutating == 0, recorder.last.counter.mutating_calls()
    assert "created" not in second.output and "updated" not in second.output


def test_switching_engines_removes_what_the_other_needed(stack):
    _, lam, glue = stack
    up(lam)
    assert h.leftovers()["functions"] == ["DataOpsPipelineFunction"]
    to_glue = up(glue)
    assert "not needed by engine glue" in to_glue.output
    left = h.leftovers()
    assert left["functions"] == [] and left["glue_jobs"] == [JOB]
    assert "dataops-lambda-exec" not in left["roles"] and "dataops-glue-job" in left["roles"]
    assert "/aws/lambda/DataOpsPipelineFunction" not in left["log_groups"]

    back = up(lam)
    assert "not needed by engine lambda" in back.output
    left = h.leftovers()
    assert left["functions"] == ["DataOpsPipelineFunction"] and left["glue_jobs"] == []
    assert "dataops-glue-job" not in left["roles"]
    s3 = boto3.client("s3", region_name=h.REGION)
    assert "Contents" not in s3.list_objects_v2(Bucket="dataops-pipeline-bucket", Prefix="dataops/glue/")
    schedule = boto3.client("scheduler", region_name=h.REGION).get_schedule(
        Name="dataops-run-pipeline", GroupName="dataops-schedules"
    )
    assert schedule["Target"]["Arn"].endswith(":function:DataOpsPipelineFunction")


def test_down_removes_the_glue_stack_and_leaves_nothing(deployed):
    _, _, glue = deployed
    result = h.run(glue, "down", "--yes")
    assert result.exit_code == 0, result.output
    assert h.leftovers() == {key: [] for key in h.leftovers()}


def test_down_with_lambda_config_still_removes_a_glue_job_left_behind(deployed):
    _, lam, _ = deployed
    result = h.run(lam, "down", "--yes")  # the config says lambda; the deployed stack is glue
    assert result.exit_code == 0, result.output
    assert h.leftovers() == {key: [] for key in h.leftovers()}


def test_a_same_named_job_that_is_not_ours_is_refused_and_kept(stack):
    _, lam, glue = stack
    boto3.client("glue", region_name=h.REGION).create_job(
        Name=JOB, Role="arn:aws:iam::123456789012:role/x", Command={"Name": "glueetl", "ScriptLocation": "s3://x/y.py"}
    )
    refused = h.run(glue, "up")
    assert refused.exit_code != 0 and "Glue job dataops-pipeline-glue" in " ".join(refused.output.split())  # wrapped
    up(lam)  # switching away does not touch it either
    assert h.leftovers()["glue_jobs"] == [JOB]


def test_local_up_of_glue_without_pyspark_says_what_to_install_and_deploys_nothing(stack, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "pyspark" else real(name, *a))
    _, _, glue = stack
    local = h.run(glue, "--local", "up")
    assert local.exit_code == 2 and "pip install -e '.[spark]'" in " ".join(local.output.split()), local.output
    assert h.leftovers()["buckets"] == []  # nothing deployed


def test_invoke_starts_a_glue_run_and_waits_for_it(stack, monkeypatch):
    from dataops_cli.engines import glue_run

    monkeypatch.setattr(glue_run, "POLL_SECONDS", 0.0)
    _, _, glue = stack
    missing = h.run(glue, "invoke")
    assert missing.exit_code == 1 and "Glue job dataops-pipeline-glue does not exist" in missing.output
    up(glue)
    result = h.run(glue, "invoke")
    assert result.exit_code == 0, result.output
    # moto's runs report ExecutionTime 123 whatever happens
    assert "of dataops-pipeline-glue: SUCCEEDED in 123 s" in " ".join(result.output.split())
    runs = boto3.client("glue", region_name=h.REGION).get_job_runs(JobName=JOB)["JobRuns"]
    assert [r["Arguments"]["--TRIGGER"] for r in runs] == ["manual"]
    assert runs[0]["Arguments"]["--BUCKET_NAME"] == "dataops-pipeline-bucket"  # the job's defaults come along
    as_json = json.loads(h.run(glue, "invoke", "--json").output)
    assert as_json["state"] == "SUCCEEDED" and as_json["finished"] is True


def test_status_reads_the_glue_job_runs(deployed, monkeypatch):
    from dataops_cli.engines import glue_run

    monkeypatch.setattr(glue_run, "POLL_SECONDS", 0.0)
    _, _, glue = deployed
    assert h.run(glue, "invoke").exit_code == 0
    assert h.run(glue, "invoke").exit_code == 0
    result = h.run(glue, "status", "--json")
    report = json.loads(result.output)
    runs = report["glue_runs"]
    assert (runs["runs"], runs["states"], runs["latest_state"]) == (2, {"SUCCEEDED": 2}, "SUCCEEDED")
    assert runs["execution_seconds_p99"] == 123  # moto's ExecutionTime
    assert {r["kind"] for r in report["resources"]} >= {"Glue job", "IAM role", "S3 Glue job script"}
    assert "Lambda function" not in {r["kind"] for r in report["resources"]}
    shown = " ".join(h.run(glue, "status").output.split())
    assert "Glue job runs in the window" in shown and "2 (SUCCEEDED 2)" in shown


def test_status_is_failing_when_the_latest_glue_run_failed(deployed, monkeypatch):
    from dataops_cli.cli import exits
    from dataops_cli.engines import glue_engine

    _, _, glue = deployed
    failed = {
        "source": "Glue GetJobRuns",
        "runs": 1,
        "states": {"FAILED": 1},
        "execution_seconds_avg": 40.0,
        "execution_seconds_p99": 40.0,
        "execution_seconds_max": 40.0,
        "latest_state": "FAILED",
        "failures": [{"run_id": "jr_9", "state": "FAILED", "started": "2026-01-01T00:00:00+00:00", "error": "boom"}],
    }
    # moto's runs always succeed: the summary of a failed one stands in for GetJobRuns here
    monkeypatch.setattr(glue_engine, "runs_summary", lambda *_args, **_kw: failed)
    result = h.run(glue, "status")
    assert result.exit_code == exits.FAILING, result.output
    assert "latest Glue job run jr_9 FAILED: boom" in " ".join(result.output.split())
