"""Nothing foreign is touched (issue 19, item 4): `up` checks every name of its plan before creating anything.

A same-named resource that is not this stack's refuses the whole plan, with one message
naming every such resource, and `up` makes no changing call at all (no bucket or role
created before it finds the foreign function). An untagged log group is adopted only when
it can be nothing but ours; `down` deletes only a tagged one.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import boto3
import pytest

from tests.helpers import deploy as h

THEIRS = {"dataops:stack": "someone-else"}
THEIRS_LIST = [{"Key": "dataops:stack", "Value": "someone-else"}]
FUNCTION = "DataOpsPipelineFunction"
GROUP = f"/aws/lambda/{FUNCTION}"
TRUST = json.dumps({"Version": "2012-10-17", "Statement": []})


@pytest.fixture
def moto_cli(mock_aws_env, monkeypatch, tmp_path):
    h.publish_stand_in_layer()
    recorder = h.install(monkeypatch)
    return recorder, tmp_path


def client(service: str):
    return boto3.client(service, region_name=h.REGION)


def a_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("lambda_function.py", "def lambda_handler(event, context):\n    return 1\n")
    return buffer.getvalue()


def their_function(tags: dict[str, str] | None = None) -> None:
    role = client("iam").create_role(RoleName="their-role", AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
    client("lambda").create_function(
        FunctionName=FUNCTION,
        Runtime="python3.12",
        Role=role,
        Handler="lambda_function.lambda_handler",
        Code={"ZipFile": a_zip()},
        **({"Tags": tags} if tags else {}),
    )


def their_log_events(count: int = 5, hours_ago: float = 1.0) -> None:
    logs = client("logs")
    logs.create_log_stream(logGroupName=GROUP, logStreamName="2026/01/01/[$LATEST]abc")
    start = datetime.now(UTC) - timedelta(hours=hours_ago)
    events = [
        {"timestamp": int((start + timedelta(seconds=i)).timestamp() * 1000), "message": f"their line {i}"}
        for i in range(count)
    ]
    logs.put_log_events(logGroupName=GROUP, logStreamName="2026/01/01/[$LATEST]abc", logEvents=events)


def stored_events() -> list[str]:
    return [e["message"] for e in client("logs").filter_log_events(logGroupName=GROUP)["events"]]


def group_state() -> tuple[int | None, dict[str, str]]:
    logs = client("logs")
    group = logs.describe_log_groups(logGroupNamePrefix=GROUP)["logGroups"][0]
    tags = logs.list_tags_for_resource(resourceArn=group["arn"].removesuffix(":*")).get("tags", {})
    return group.get("retentionInDays"), tags


def words(text: str) -> str:
    return " ".join(text.split())


def test_an_untagged_function_and_its_log_group_refuse_the_whole_up_and_down_keeps_them(moto_cli):
    """The issue's case: up adopted the group (retention 14 days), then refused the function, leaving half a stack."""
    recorder, tmp_path = moto_cli
    their_function()
    client("logs").create_log_group(logGroupName=GROUP)
    their_log_events()
    before = h.leftovers()
    config = h.write_config(tmp_path / "config.toml")

    result = h.run(config, "up")

    assert result.exit_code == 1, result.output
    said = words(result.output)
    assert "nothing was changed: 2 resources of this stack's plan exist but are not stack 'dataops''s" in said
    assert f"Lambda function {FUNCTION} (has no dataops:stack tag)" in said
    assert f"Log group {GROUP} (has no dataops:stack tag and its function {FUNCTION} is not this stack's)" in said
    assert recorder.last.counter.mutating == 0, recorder.last.counter.mutating_calls()
    assert h.leftovers() == before  # no bucket, no role: nothing half-built
    assert group_state() == (None, {})  # retention not set (it would expire their older logs), not tagged

    removed = h.run(config, "down", "--yes")
    assert f"Log group {GROUP}" in words(removed.output)
    assert len(stored_events()) == 5 and group_state() == (None, {})
    assert client("lambda").get_function(FunctionName=FUNCTION)


def test_an_untagged_group_with_events_and_no_stack_to_date_them_is_refused(moto_cli):
    """No function at all, but the group holds someone's logs: nothing of ours exists to be older than them."""
    recorder, tmp_path = moto_cli
    client("logs").create_log_group(logGroupName=GROUP)
    their_log_events(count=3)
    result = h.run(h.write_config(tmp_path / "config.toml"), "up")
    assert result.exit_code == 1
    assert "it holds log events and nothing of this stack exists yet to date them against" in words(result.output)
    assert recorder.last.counter.mutating == 0
    assert h.leftovers()["buckets"] == [] and group_state() == (None, {})


def test_an_untagged_group_our_function_wrote_after_the_stack_began_is_adopted(moto_cli):
    """`down` removed the group while a run was going; the run re-created it untagged: that one is ours."""
    _, tmp_path = moto_cli
    config = h.write_config(tmp_path / "config.toml")
    assert h.run(config, "up").exit_code == 0
    logs = client("logs")
    logs.delete_log_group(logGroupName=GROUP)
    logs.create_log_group(logGroupName=GROUP)
    logs.untag_log_group(logGroupName=GROUP, tags=["dataops:stack", "Project"])  # moto keeps a deleted group's tags
    their_log_events(count=2, hours_ago=0)
    again = h.run(config, "up")
    assert again.exit_code == 0, again.output
    assert "adopting the function's untagged log group" in words(again.output)
    assert group_state()[1]["dataops:stack"] == "dataops"


def test_an_empty_untagged_group_is_adopted_before_the_function_exists(moto_cli):
    _, tmp_path = moto_cli
    client("logs").create_log_group(logGroupName=GROUP)
    result = h.run(h.write_config(tmp_path / "config.toml"), "up")
    assert result.exit_code == 0, result.output
    assert group_state() == (14, {"Project": "dataops", "dataops:stack": "dataops"})


def _bucket() -> None:
    s3 = client("s3")
    s3.create_bucket(Bucket="dataops-pipeline-bucket", CreateBucketConfiguration={"LocationConstraint": h.REGION})
    s3.put_bucket_tagging(Bucket="dataops-pipeline-bucket", Tagging={"TagSet": THEIRS_LIST})


def _role(name: str) -> Callable[[], None]:
    return lambda: client("iam").create_role(RoleName=name, AssumeRolePolicyDocument=TRUST, Tags=THEIRS_LIST)


def _alarm(name: str) -> Callable[[], None]:
    return lambda: client("cloudwatch").put_metric_alarm(
        AlarmName=name,
        MetricName="Errors",
        Namespace="AWS/Lambda",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1.0,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
        Tags=THEIRS_LIST,
    )


def _glue_job() -> None:
    client("glue").create_job(
        Name="dataops-pipeline-glue",
        Role="arn:aws:iam::123456789012:role/x",
        Command={"Name": "glueetl", "ScriptLocation": "s3://x/y.py"},
        Tags=THEIRS,
    )


def _rule(name: str) -> Callable[[], None]:
    return lambda: client("events").put_rule(Name=name, EventPattern='{"source": ["x"]}', Tags=THEIRS_LIST)


LAMBDA_CASES = {
    "S3 bucket dataops-pipeline-bucket (tagged dataops:stack='someone-else')": _bucket,
    "IAM role dataops-lambda-exec (tagged": _role("dataops-lambda-exec"),
    "IAM role dataops-scheduler-invoke (tagged": _role("dataops-scheduler-invoke"),
    f"Log group {GROUP} (tagged": lambda: client("logs").create_log_group(logGroupName=GROUP, tags=THEIRS),
    f"Lambda function {FUNCTION} (tagged": lambda: their_function(THEIRS),
    "Schedule group dataops-schedules (tagged": lambda: client("scheduler").create_schedule_group(
        Name="dataops-schedules", Tags=THEIRS_LIST
    ),
    "Dashboard DataOpsPipelineDashboard (has no dataops marker widget)": lambda: client("cloudwatch").put_dashboard(
        DashboardName="DataOpsPipelineDashboard", DashboardBody='{"widgets": []}'
    ),
    "SNS topic dataops-alarms (tagged": lambda: client("sns").create_topic(Name="dataops-alarms", Tags=THEIRS_LIST),
    "Alarm DataOpsPipelineFunction-errors (tagged": _alarm("DataOpsPipelineFunction-errors"),
    "Alarm DataOpsPipelineFunction-quality-failures (tagged": _alarm("DataOpsPipelineFunction-quality-failures"),
}
GLUE_CASES = {
    "IAM role dataops-glue-job (tagged": _role("dataops-glue-job"),
    "Glue job dataops-pipeline-glue (tagged": _glue_job,
    "EventBridge rule dataops-glue-run-failed (tagged": _rule("dataops-glue-run-failed"),
    "EventBridge rule dataops-glue-run-succeeded (tagged": _rule("dataops-glue-run-succeeded"),
}


@pytest.mark.parametrize(
    ("engine", "expected"), [("lambda", e) for e in LAMBDA_CASES] + [("glue", e) for e in GLUE_CASES]
)
def test_each_foreign_name_refuses_up_before_any_change(moto_cli, engine, expected):
    recorder, tmp_path = moto_cli
    (LAMBDA_CASES | GLUE_CASES)[expected]()
    before = h.leftovers()
    config = h.write_config(tmp_path / "config.toml")
    if engine == "glue":
        config.write_text(config.read_text().replace("[function]\n", '[function]\nengine = "glue"\n', 1))
    result = h.run(config, "up")
    assert result.exit_code == 1, result.output
    assert "nothing was changed: a resource of this stack's plan" in words(result.output)
    assert expected in words(result.output)
    assert recorder.last.counter.mutating == 0, recorder.last.counter.mutating_calls()
    assert h.leftovers() == before


def test_every_foreign_resource_is_named_in_one_message(moto_cli):
    recorder, tmp_path = moto_cli
    for make in LAMBDA_CASES.values():
        make()
    result = h.run(h.write_config(tmp_path / "config.toml"), "up", "--dry-run")
    assert result.exit_code == 1
    said = words(result.output)
    assert f"nothing was changed: {len(LAMBDA_CASES)} resources of this stack's plan" in said
    assert all(expected in said for expected in LAMBDA_CASES)
    assert recorder.last.counter.mutating == 0
