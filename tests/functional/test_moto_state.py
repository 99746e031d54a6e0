"""The shared deployed stack (tests/helpers/moto_state.py) is the stack `up` leaves, and private to each test."""

from __future__ import annotations

import gc
import json
from datetime import UTC, datetime

import boto3
from moto import mock_aws

from tests.helpers import deploy as h
from tests.helpers import moto_state


def deploy_and_capture(monkeypatch, tmp_path) -> tuple[dict, moto_state.MotoState]:
    h.publish_stand_in_layer()
    h.install(monkeypatch)
    config = h.write_config(tmp_path / "config.toml")
    assert h.run(config, "up").exit_code == 0
    return h.snapshot(), moto_state.capture()


def test_a_restored_stack_is_the_stack_up_left(aws_env, monkeypatch, tmp_path):
    with mock_aws():
        deployed, state = deploy_and_capture(monkeypatch, tmp_path)
    with mock_aws():
        assert h.leftovers()["functions"] == []  # a new mock starts empty...
        moto_state.restore(state)
        assert h.snapshot() == deployed  # ...and the restore is everything `up` made


def test_what_one_test_changes_never_reaches_the_next(aws_env, monkeypatch, tmp_path):
    with mock_aws():
        deployed, state = deploy_and_capture(monkeypatch, tmp_path)
    gc.collect()  # the deployed objects are gone: the copy must not lean on them
    with mock_aws():
        moto_state.restore(state)
        boto3.client("lambda", region_name=h.REGION).delete_function(FunctionName="DataOpsPipelineFunction")
        s3 = boto3.client("s3", region_name=h.REGION)
        s3.put_object(Bucket="dataops-pipeline-bucket", Key="processed/latest.json", Body=b"{}")
        s3.delete_object(Bucket="dataops-pipeline-bucket", Key=deployed["objects"][0])
    with mock_aws():
        moto_state.restore(state)
        assert h.snapshot() == deployed


def test_a_restored_stack_was_created_at_the_restore(aws_env, monkeypatch, tmp_path):
    with mock_aws():
        _, state = deploy_and_capture(monkeypatch, tmp_path)
    with mock_aws():
        before = datetime.now(UTC).replace(microsecond=0)
        moto_state.restore(state)
        schedule = boto3.client("scheduler", region_name=h.REGION).get_schedule(
            Name="dataops-run-pipeline", GroupName="dataops-schedules"
        )
        group = boto3.client("logs", region_name=h.REGION).describe_log_groups(
            logGroupNamePrefix="/aws/lambda/DataOpsPipelineFunction"
        )["logGroups"][0]
        assert schedule["CreationDate"] >= before
        assert datetime.fromtimestamp(group["creationTime"] / 1000, UTC) >= before


def test_a_restored_function_answers_invoke_as_the_deployed_one(aws_env, monkeypatch, tmp_path):
    """moto cannot run the code without Docker; what matters is the same answer, not an AttributeError."""

    def invoke() -> dict:
        stdout = h.run(tmp_path / "config.toml", "invoke", "--json").stdout
        answer = json.loads(stdout[stdout.index("{\n") :])  # moto may print a Docker warning first
        return {k: v for k, v in answer.items() if k != "request_id"}

    with mock_aws():
        _, state = deploy_and_capture(monkeypatch, tmp_path)
        fresh = invoke()
    gc.collect()
    with mock_aws():
        moto_state.restore(state)
        restored = invoke()
    assert fresh["failed"] is True and restored == fresh
