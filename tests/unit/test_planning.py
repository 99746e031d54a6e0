"""Each resource's planning is pure: given what exists, it returns the exact calls, compared by equality.

Modelled on Chalice's planner tests: the remote state is a dict of read answers (anything
not given answers 404), no moto and no network. For every resource: absent, equal, one
field drifted, and (where a resource carries ownership) not ours. Planning itself may
only read: the fake fails the test on any mutating call. moto tests (test_deploy.py)
keep the end-to-end behaviour.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError

from dataops_cli.aws import Aws, CallCounter
from dataops_cli.config import Config, parse_config
from dataops_cli.deploy.dashboard import build_dashboard, dashboard_json
from dataops_cli.deploy.policies import execution_policy, lambda_trust_policy, tls_only_bucket_policy
from dataops_cli.deploy.resources.base import (
    Action,
    Change,
    FileBody,
    Resource,
    StackContext,
    Step,
    canonical,
    tag_list,
)
from dataops_cli.deploy.resources.bucket import ADOPT_NOTE, ENCRYPTION, PUBLIC_ACCESS_BLOCK, Bucket, BucketPolicy
from dataops_cli.deploy.resources.function import DESCRIPTION, Function
from dataops_cli.deploy.resources.input_data import InputObject, OutputPrefix, file_sha256
from dataops_cli.deploy.resources.log_group import LogGroup
from dataops_cli.deploy.resources.monitoring import AlarmTopic, Dashboard, ErrorsAlarm, dashboard_inputs
from dataops_cli.deploy.resources.roles import POLICY_NAME, ExecutionRole
from dataops_cli.deploy.resources.schedule import Schedule, ScheduleGroup
from tests.conftest import SAMPLE_CSV

REGION, ACCOUNT = "ap-south-1", "123456789012"
LAYER = f"arn:aws:lambda:{REGION}:{ACCOUNT}:layer:AWSSDKPandas-Python312:1"
OURS = {"Project": "dataops", "dataops:stack": "dataops"}
THEIRS = {"dataops:stack": "someone-else"}
EMPTY_PAGES = {
    "logs.describe_log_groups": [{"logGroups": []}],
    "s3.list_object_versions": [{}],
    "s3.list_multipart_uploads": [{}],
    "iam.list_role_policies": [{"PolicyNames": []}],
    "iam.list_attached_role_policies": [{"AttachedPolicies": []}],
    "sns.list_subscriptions_by_topic": [{"Subscriptions": []}],
}


class FakeClient:
    """Answers reads from `answers` ("service.operation" -> response, callable or pages); 404 otherwise."""

    def __init__(self, service: str, answers: dict[str, Any]) -> None:
        self.service, self.answers = service, answers

    def __getattr__(self, operation: str) -> Callable[..., Any]:
        def call(**params: Any) -> Any:
            api = "".join(part.title() for part in operation.split("_"))
            assert not CallCounter.is_mutating(api), f"planning made a mutating call: {self.service}:{api}"
            answer = self.answers.get(f"{self.service}.{operation}")
            if answer is None:
                error = {"Code": "ResourceNotFoundException", "Message": "not found"}
                raise ClientError({"Error": error, "ResponseMetadata": {"HTTPStatusCode": 404}}, api)
            return answer(**params) if callable(answer) else answer

        return call

    def get_paginator(self, operation: str) -> Any:
        pages = self.answers.get(f"{self.service}.{operation}", EMPTY_PAGES.get(f"{self.service}.{operation}"))
        assert pages is not None, f"no pages for {self.service}.{operation}"
        return type("Paginator", (), {"paginate": lambda _self, **_: iter(pages)})()


class FakeAws(Aws):
    def __init__(self, answers: dict[str, Any]) -> None:
        super().__init__(region=REGION, _account=ACCOUNT)
        self.answers = answers

    def client(self, service: str) -> Any:
        return FakeClient(service, self.answers)


def config(**sections: dict[str, Any]) -> Config:
    raw: dict[str, Any] = {"bucket": {"input_file": str(SAMPLE_CSV)}, "function": {"layer_arn": LAYER}}
    for name, values in sections.items():
        raw[name] = {**raw.get(name, {}), **values}
    return parse_config(raw)


def context(answers: dict[str, Any], cfg: Config | None = None) -> StackContext:
    return StackContext(config=cfg or config(), aws=FakeAws(answers))


def plan(resource: type[Resource], answers: dict[str, Any], cfg: Config | None = None) -> Change:
    return resource(context(answers, cfg)).plan()


def refused(change: Change) -> bool:
    return change.action is Action.REFUSED and change.steps == ()


# --- S3 bucket ---------------------------------------------------------------------------------------------------

BUCKET = "dataops-pipeline-bucket"
LIFECYCLE = {
    "Rules": [
        {
            "ID": "dataops-expire-runs",
            "Filter": {"Prefix": "processed/runs/"},
            "Status": "Enabled",
            "Expiration": {"Days": 30},
            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
        }
    ]
}


def bucket_state(tags: dict[str, str] = OURS, **overrides: Any) -> dict[str, Any]:
    state = {
        "s3.head_bucket": {},
        "s3.get_bucket_tagging": {"TagSet": tag_list(tags)},
        "s3.get_public_access_block": {"PublicAccessBlockConfiguration": PUBLIC_ACCESS_BLOCK},
        "s3.get_bucket_encryption": {"ServerSideEncryptionConfiguration": ENCRYPTION},
        "s3.get_bucket_lifecycle_configuration": LIFECYCLE,
    }
    return {**state, **overrides}


def test_bucket_absent_is_created_then_configured():
    assert plan(Bucket, {}).steps == (
        Step(
            "s3",
            "create_bucket",
            {"Bucket": BUCKET, "CreateBucketConfiguration": {"LocationConstraint": REGION, "Tags": tag_list(OURS)}},
            f"create the bucket in {REGION}",
        ),
        Step(
            "s3",
            "bucket_exists",
            {"Bucket": BUCKET, "WaiterConfig": {"Delay": 1, "MaxAttempts": 30}},
            f"waiting up to 30 s for bucket {BUCKET} to be visible (HeadBucket)",
            wait=True,
        ),
        Step("s3", "put_bucket_tagging", {"Bucket": BUCKET, "Tagging": {"TagSet": tag_list(OURS)}}, "tag the bucket"),
        Step(
            "s3",
            "put_public_access_block",
            {"Bucket": BUCKET, "PublicAccessBlockConfiguration": PUBLIC_ACCESS_BLOCK},
            "block every form of public access",
        ),
        Step(
            "s3",
            "put_bucket_encryption",
            {"Bucket": BUCKET, "ServerSideEncryptionConfiguration": ENCRYPTION},
            "default encryption SSE-S3",
        ),
        Step(
            "s3",
            "put_bucket_lifecycle_configuration",
            {"Bucket": BUCKET, "LifecycleConfiguration": LIFECYCLE},
            "expire processed/runs/ after 30 days",
        ),
    )


def test_bucket_equal_plans_nothing():
    change = plan(Bucket, bucket_state())
    assert (change.action, change.steps) == (Action.UNCHANGED, ())


def test_bucket_one_field_drifted_plans_one_call():
    drifted = {"Rules": [{**LIFECYCLE["Rules"][0], "Expiration": {"Days": 7}}]}
    change = plan(Bucket, bucket_state(**{"s3.get_bucket_lifecycle_configuration": drifted}))
    assert change.action is Action.UPDATE
    assert change.steps == (
        Step(
            "s3",
            "put_bucket_lifecycle_configuration",
            {"Bucket": BUCKET, "LifecycleConfiguration": LIFECYCLE},
            "expire processed/runs/ after 30 days",
        ),
    )


def test_bucket_tags_keep_what_someone_else_added():
    change = plan(Bucket, bucket_state(tags={"dataops:stack": "dataops", "CostCentre": "42"}))
    (step,) = change.steps
    assert step.params["Tagging"]["TagSet"] == tag_list({"CostCentre": "42", **OURS})


def test_bucket_left_empty_and_untagged_by_a_half_finished_up_is_adopted():
    empty_untagged = {
        "s3.head_bucket": {},
        "s3.list_object_versions": {},
        "s3.list_multipart_uploads": {},
        "s3.get_bucket_versioning": {},
    }
    change = plan(Bucket, empty_untagged)
    assert change.action is Action.UPDATE and change.details[0] == ADOPT_NOTE
    assert [s.operation for s in change.steps] == [
        "put_bucket_tagging",
        "put_public_access_block",
        "put_bucket_encryption",
        "put_bucket_lifecycle_configuration",
    ]
    not_empty = plan(Bucket, {**empty_untagged, "s3.list_object_versions": {"Versions": [{"Key": "k"}]}})
    assert refused(not_empty) and not_empty.details[0].endswith("(it is not empty)")


def test_bucket_not_ours_is_refused():
    assert refused(plan(Bucket, bucket_state(tags=THEIRS)))


def test_bucket_removal_deletes_every_version_then_the_bucket():
    versions = [{"Versions": [{"Key": f"k{i}", "VersionId": "null"} for i in range(1500)]}]
    uploads = [{"Uploads": [{"Key": "big.csv", "UploadId": "u1"}]}]
    ctx = context(bucket_state(**{"s3.list_object_versions": versions, "s3.list_multipart_uploads": uploads}))
    change = Bucket(ctx).plan_destroy()
    assert change.action is Action.DELETE and change.details == ("1500 object versions to empty",)
    assert [(s.operation, len(s.params.get("Delete", {}).get("Objects", []))) for s in change.steps] == [
        ("delete_objects", 1000),
        ("delete_objects", 500),
        ("abort_multipart_upload", 0),
        ("delete_bucket", 0),
    ]
    assert change.steps[-1] == Step("s3", "delete_bucket", {"Bucket": BUCKET}, "delete the bucket")
    assert Bucket(context({})).plan_destroy() == Change("S3 bucket", BUCKET, Action.ABSENT)
    assert refused(Bucket(context(bucket_state(tags=THEIRS))).plan_destroy())


# --- bucket policy, input object, output prefix (owned through the bucket) ----------------------------------------


def test_bucket_policy_absent_equal_drifted():
    policy = json.dumps(tls_only_bucket_policy("aws", BUCKET))
    put = Step(
        "s3", "put_bucket_policy", {"Bucket": BUCKET, "Policy": canonical(policy)}, "deny every request without TLS"
    )
    assert plan(BucketPolicy, {}).steps == (put,)
    assert plan(BucketPolicy, {"s3.head_bucket": {}, "s3.get_bucket_policy": {"Policy": policy}}).steps == ()
    loose = json.dumps({"Version": "2012-10-17", "Statement": []})
    drifted = plan(BucketPolicy, {"s3.head_bucket": {}, "s3.get_bucket_policy": {"Policy": loose}})
    assert (drifted.action, drifted.steps) == (Action.UPDATE, (put,))


def test_input_object_absent_equal_drifted():
    sha = file_sha256(SAMPLE_CSV)
    upload = Step(
        "s3",
        "put_object",
        {
            "Bucket": BUCKET,
            "Key": "diabetes_preprocessed.csv",
            "Body": FileBody(SAMPLE_CSV, SAMPLE_CSV.stat().st_size),
            "ContentType": "text/csv",
            "Metadata": {"sha256": sha},
        },
        f"upload {SAMPLE_CSV}",
    )
    assert plan(InputObject, {}).steps == (upload,)
    same = plan(InputObject, {"s3.head_bucket": {}, "s3.head_object": {"Metadata": {"sha256": sha}}})
    assert (same.action, same.steps) == (Action.UNCHANGED, ())
    other = plan(InputObject, {"s3.head_bucket": {}, "s3.head_object": {"Metadata": {"sha256": "0" * 64}}})
    assert (other.action, other.steps) == (Action.UPDATE, (upload,))


def test_output_prefix_absent_equal():
    marker = Step("s3", "put_object", {"Bucket": BUCKET, "Key": "processed/", "Body": b""}, "an empty marker object")
    assert plan(OutputPrefix, {}).steps == (marker,)
    assert plan(OutputPrefix, {"s3.head_bucket": {}, "s3.head_object": {"ContentLength": 0}}).steps == ()


# --- IAM role --------------------------------------------------------------------------------------------------


def role_state(ctx: StackContext, tags: dict[str, str] = OURS, trust: Any = None, policy: Any = None) -> dict[str, Any]:
    role = ExecutionRole(ctx)
    return {
        "iam.get_role": {"Role": {"AssumeRolePolicyDocument": trust or role.trust_policy(), "Tags": tag_list(tags)}},
        "iam.get_role_policy": {"PolicyDocument": policy or role.inline_policy()},
    }


def test_role_absent_equal_drifted_not_ours():
    ctx = context({})
    role = ExecutionRole(ctx)
    inline = execution_policy(
        partition="aws",
        bucket=BUCKET,
        input_key="diabetes_preprocessed.csv",
        output_prefix="processed/",
        log_group_arn=f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/DataOpsPipelineFunction",
    )
    put_policy = Step(
        "iam",
        "put_role_policy",
        {"RoleName": "dataops-lambda-exec", "PolicyName": POLICY_NAME, "PolicyDocument": json.dumps(inline)},
        f"inline policy {POLICY_NAME}",
    )
    assert role.plan().steps == (
        Step(
            "iam",
            "create_role",
            {
                "RoleName": "dataops-lambda-exec",
                "AssumeRolePolicyDocument": json.dumps(lambda_trust_policy()),
                "Description": ExecutionRole.description,
                "Tags": tag_list(OURS),
            },
            "create the role",
        ),
        put_policy,
    )
    ctx.aws.answers.update(role_state(ctx))
    assert role.plan().steps == ()
    ctx.aws.answers.update(role_state(ctx, policy={"Version": "2012-10-17", "Statement": []}))
    drifted = role.plan()
    assert (drifted.action, drifted.details, drifted.steps) == (
        Action.UPDATE,
        (f"inline policy {POLICY_NAME}",),
        (put_policy,),
    )
    ctx.aws.answers.update(role_state(ctx, tags=THEIRS))
    assert refused(role.plan())


def test_role_removal_deletes_its_policies_first():
    ctx = context({})
    ctx.aws.answers.update(
        {
            **role_state(ctx),
            "iam.list_role_policies": [{"PolicyNames": [POLICY_NAME]}],
            "iam.list_attached_role_policies": [{"AttachedPolicies": [{"PolicyArn": "arn:aws:iam::aws:policy/X"}]}],
        }
    )
    assert [s.api_name for s in ExecutionRole(ctx).plan_destroy().steps] == [
        "iam:DeleteRolePolicy",
        "iam:DetachRolePolicy",
        "iam:DeleteRole",
    ]


# --- log group ---------------------------------------------------------------------------------------------------

LOG_GROUP = "/aws/lambda/DataOpsPipelineFunction"
RETENTION = Step(
    "logs", "put_retention_policy", {"logGroupName": LOG_GROUP, "retentionInDays": 14}, "keep logs 14 days"
)


def log_state(retention: int | None = 14, tags: dict[str, str] = OURS) -> dict[str, Any]:
    group = {"logGroupName": LOG_GROUP, **({"retentionInDays": retention} if retention else {})}
    return {"logs.describe_log_groups": [{"logGroups": [group]}], "logs.list_tags_for_resource": {"tags": tags}}


def test_log_group_absent_equal_drifted_not_ours():
    create = Step("logs", "create_log_group", {"logGroupName": LOG_GROUP, "tags": OURS}, "create the log group")
    assert plan(LogGroup, {}).steps == (create, RETENTION)
    assert plan(LogGroup, log_state()).steps == ()
    drifted = plan(LogGroup, log_state(retention=None))
    assert (drifted.details, drifted.steps) == (("retention never expire -> 14 days",), (RETENTION,))
    assert refused(plan(LogGroup, log_state(tags=THEIRS)))


NO_EVENTS = {"logs.filter_log_events": {"events": []}}
STACK_BORN = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
OUR_ROLE = {
    "iam.get_role": {"Role": {"RoleName": "dataops-lambda-exec", "CreateDate": STACK_BORN, "Tags": tag_list(OURS)}}
}


def events_before(found: bool) -> dict[str, Any]:
    """FilterLogEvents over a group whose events (if `found`) all predate the stack."""

    def answer(**params: Any) -> dict[str, Any]:
        before_stack = "endTime" not in params or params["endTime"] < STACK_BORN.timestamp() * 1000
        return {"events": [{"timestamp": 1, "message": "x"}] if found and before_stack else []}

    return {"logs.filter_log_events": answer}


def test_log_group_untagged_is_adopted():
    change = plan(LogGroup, {**log_state(tags={}), **NO_EVENTS})
    assert change.details == ("adopting the function's untagged log group",)
    assert [s.operation for s in change.steps] == ["tag_resource"]
    ours = {"lambda.get_function": {"Configuration": {}, "Tags": OURS}}
    with_newer_events = plan(LogGroup, {**log_state(tags={}), **ours, **OUR_ROLE, **events_before(False)})
    assert with_newer_events.details == ("adopting the function's untagged log group",)


@pytest.mark.parametrize(
    ("answers", "why"),
    [
        ({"lambda.get_function": {"Configuration": {}, "Tags": {}}, **NO_EVENTS}, "its function"),
        ({"lambda.get_function": {"Configuration": {}, "Tags": THEIRS}, **NO_EVENTS}, "is not this stack's"),
        (events_before(True), "nothing of this stack exists yet to date them against"),
        ({**OUR_ROLE, **events_before(True)}, "older than this stack (created 2026-01-02 03:04:05 UTC)"),
        ({"logs.filter_log_events": {"events": [], "nextToken": "more"}}, "could not be dated"),
    ],
)
def test_untagged_log_group_that_may_be_someone_elses_is_refused(answers, why):
    state = {**log_state(tags={}, retention=None), **answers}
    change = plan(LogGroup, state)
    assert refused(change) and why in change.details[0] and "has no dataops:stack tag" in change.details[0]
    assert why in LogGroup(context(state)).ownership()


# --- Lambda function ---------------------------------------------------------------------------------------------

FUNCTION = "DataOpsPipelineFunction"
UPDATE_WAIT = f"waiting up to 300 s for Lambda function {FUNCTION} to be its update to finish (LastUpdateStatus)"
WAIT_PREVIOUS = Step("lambda", "previous_update_finished", {"FunctionName": FUNCTION}, UPDATE_WAIT, wait=True)
WAIT_UPDATED = Step("lambda", "function_updated", {"FunctionName": FUNCTION}, UPDATE_WAIT, wait=True)
WAIT_ACTIVE = Step(
    "lambda",
    "function_active",
    {"FunctionName": FUNCTION},
    f"waiting up to 300 s for Lambda function {FUNCTION} to be Active (State)",
    wait=True,
)


def function_state(ctx: StackContext, tags: dict[str, str] = OURS, **configuration: Any) -> dict[str, Any]:
    function = Function(ctx)
    desired = function.desired_configuration()
    current = {
        **desired,
        "Environment": {"Variables": desired["Environment"]},
        "Layers": [{"Arn": arn} for arn in desired["Layers"]],
        "CodeSha256": ctx.package.sha256,
        "Architectures": ["x86_64"],
        **configuration,
    }
    return {
        "lambda.get_function": {
            "Configuration": current,
            "Tags": tags,
            "Concurrency": {"ReservedConcurrentExecutions": 1},
        },
        "lambda.get_function_event_invoke_config": function.desired_async(),
    }


def test_function_absent_is_created_waited_for_then_limited():
    ctx = context({})
    change = Function(ctx).plan()
    create = change.steps[0]
    assert (create.service, create.operation, create.retry_role) == ("lambda", "create_function", True)
    assert create.params["Code"] == {"ZipFile": ctx.package.data}
    assert create.params["Environment"] == {"Variables": ctx.config.handler_environment()}
    assert {k: create.params[k] for k in ("Runtime", "MemorySize", "Timeout", "Layers", "Description")} == {
        "Runtime": "python3.12",
        "MemorySize": 1024,
        "Timeout": 60,
        "Layers": [LAYER],
        "Description": DESCRIPTION,
    }
    assert change.steps[1:] == (
        WAIT_ACTIVE,
        Step(
            "lambda",
            "put_function_concurrency",
            {"FunctionName": FUNCTION, "ReservedConcurrentExecutions": 1},
            "reserve 1 concurrent run(s)",
        ),
        Step(
            "lambda",
            "put_function_event_invoke_config",
            {"FunctionName": FUNCTION, "MaximumRetryAttempts": 0, "MaximumEventAgeInSeconds": 300},
            "asynchronous retries and event age",
        ),
    )


def test_function_equal_plans_nothing():
    ctx = context({})
    ctx.aws.answers.update(function_state(ctx))
    change = Function(ctx).plan()
    assert (change.action, change.steps) == (Action.UNCHANGED, ())


def test_function_memory_drifted_is_one_configuration_update_between_waits():
    ctx = context({})
    ctx.aws.answers.update(function_state(ctx, MemorySize=512))
    change = Function(ctx).plan()
    assert change.details == ("MemorySize: 512 -> 1024",)
    settings = Function(ctx).desired_configuration()
    settings["Environment"] = {"Variables": settings["Environment"]}
    assert change.steps == (
        WAIT_PREVIOUS,
        Step(
            "lambda",
            "update_function_configuration",
            {"FunctionName": FUNCTION, **settings},
            "update the configuration",
            retry_role=True,
        ),
        WAIT_UPDATED,
    )


def test_function_code_changed_uploads_the_package():
    ctx = context({})
    ctx.aws.answers.update(function_state(ctx, CodeSha256="old"))
    assert Function(ctx).plan().steps == (
        WAIT_PREVIOUS,
        Step(
            "lambda",
            "update_function_code",
            {"FunctionName": FUNCTION, "ZipFile": ctx.package.data, "Architectures": ["x86_64"]},
            "upload the new code",
        ),
        WAIT_UPDATED,
    )


def test_function_that_failed_is_deleted_and_created_again():
    ctx = context({})
    failed = {"State": "Failed", "StateReasonCode": "InvalidZipFileException", "StateReason": "bad zip"}
    ctx.aws.answers.update(function_state(ctx, **failed))
    change = Function(ctx).plan()
    assert change.details == ("state Failed: InvalidZipFileException: bad zip; re-creating it",)
    assert [s.operation for s in change.steps] == [
        "delete_function",
        "create_function",
        "function_active",
        "put_function_concurrency",
        "put_function_event_invoke_config",
    ]
    assert change.steps[0] == Step(
        "lambda",
        "delete_function",
        {"FunctionName": FUNCTION},
        "deleting the failed function (state Failed: InvalidZipFileException: bad zip) to create it again",
        note=True,
    )


def test_function_whose_update_failed_gets_code_and_configuration_again():
    ctx = context({})
    ctx.aws.answers.update(function_state(ctx, LastUpdateStatus="Failed", LastUpdateStatusReasonCode="X"))
    change = Function(ctx).plan()
    assert change.details == ("last update Failed: X: ; repairing it",)
    assert [s.operation for s in change.steps] == [
        "previous_update_finished",
        "update_function_code",
        "function_updated",
        "update_function_configuration",
        "function_updated",
    ]


def test_function_not_ours_is_refused():
    ctx = context({})
    ctx.aws.answers.update(function_state(ctx, tags=THEIRS))
    assert refused(Function(ctx).plan())


# --- schedule group and schedule ---------------------------------------------------------------------------------

GROUP = "dataops-schedules"


def test_schedule_group_absent_equal_drifted_not_ours():
    ctx = context({})
    create = Step("scheduler", "create_schedule_group", {"Name": GROUP, "Tags": tag_list(OURS)}, "create the group")
    assert ScheduleGroup(ctx).plan().steps == (create,)
    ctx.aws.answers.update(
        {"scheduler.get_schedule_group": {}, "scheduler.list_tags_for_resource": {"Tags": tag_list(OURS)}}
    )
    assert ScheduleGroup(ctx).plan().steps == ()
    ctx.aws.answers["scheduler.list_tags_for_resource"] = {"Tags": tag_list({"dataops:stack": "dataops"})}
    assert ScheduleGroup(ctx).plan().steps == (
        Step(
            "scheduler",
            "tag_resource",
            {"ResourceArn": ctx.schedule_group_arn, "Tags": tag_list(OURS)},
            "tag the group",
        ),
    )
    ctx.aws.answers["scheduler.list_tags_for_resource"] = {"Tags": tag_list(THEIRS)}
    assert refused(ScheduleGroup(ctx).plan())


def test_schedule_absent_equal_drifted():
    ctx = context({})
    schedule = Schedule(ctx)
    params = {"Name": "dataops-run-pipeline", "GroupName": GROUP, **schedule.definition()}
    assert schedule.plan().steps == (
        Step("scheduler", "create_schedule", params, "create the schedule", retry_role=True),
    )
    ctx.aws.answers["scheduler.get_schedule"] = schedule.definition()
    assert schedule.plan().steps == ()
    ctx.aws.answers["scheduler.get_schedule"] = {**schedule.definition(), "ScheduleExpression": "rate(5 minutes)"}
    drifted = schedule.plan()
    assert drifted.details == ("ScheduleExpression: 'rate(5 minutes)' -> 'rate(2 minutes)'",)
    assert drifted.steps == (Step("scheduler", "update_schedule", params, "replace the schedule", retry_role=True),)


# --- dashboard, topic, alarm -------------------------------------------------------------------------------------


def test_dashboard_absent_equal_drifted_not_ours():
    ctx = context({})
    body = build_dashboard(dashboard_inputs(ctx))
    put = Step(
        "cloudwatch",
        "put_dashboard",
        {"DashboardName": "DataOpsPipelineDashboard", "DashboardBody": dashboard_json(dashboard_inputs(ctx))},
        "write the generated body",
    )
    assert Dashboard(ctx).plan().steps == (put,)
    ctx.aws.answers["cloudwatch.get_dashboard"] = {"DashboardBody": json.dumps(body)}
    assert Dashboard(ctx).plan().steps == ()
    ctx.aws.answers["cloudwatch.get_dashboard"] = {"DashboardBody": json.dumps({**body, "start": "-PT1H"})}
    assert Dashboard(ctx).plan().steps == (put,)
    ctx.aws.answers["cloudwatch.get_dashboard"] = {"DashboardBody": json.dumps({"widgets": []})}
    assert refused(Dashboard(ctx).plan())


def test_alarm_topic_skipped_without_email_and_planned_with_one():
    assert plan(AlarmTopic, {}).action is Action.SKIPPED and plan(AlarmTopic, {}).steps == ()
    cfg = config(alarm={"email": "ops@example.com"})
    ctx = context({}, cfg)
    topic = ctx.topic_arn
    subscribe = Step(
        "sns",
        "subscribe",
        {"TopicArn": topic, "Protocol": "email", "Endpoint": "ops@example.com"},
        "email ops@example.com",
    )
    assert AlarmTopic(ctx).plan().steps == (
        Step("sns", "create_topic", {"Name": "dataops-alarms", "Tags": tag_list(OURS)}, "create the topic"),
        subscribe,
    )
    ctx.aws.answers.update({"sns.get_topic_attributes": {}, "sns.list_tags_for_resource": {"Tags": tag_list(OURS)}})
    assert AlarmTopic(ctx).plan().steps == (subscribe,)  # drifted: the subscription is gone
    subscribed = [{"Subscriptions": [{"Protocol": "email", "Endpoint": "ops@example.com"}]}]
    ctx.aws.answers["sns.list_subscriptions_by_topic"] = subscribed
    assert AlarmTopic(ctx).plan().steps == ()
    ctx.aws.answers["sns.list_tags_for_resource"] = {"Tags": tag_list(THEIRS)}
    assert refused(AlarmTopic(ctx).plan())


def alarm_state(ctx: StackContext, tags: dict[str, str] = OURS, **fields: Any) -> dict[str, Any]:
    alarm = {**ErrorsAlarm(ctx).definition(), "AlarmArn": "arn:alarm", **fields}
    return {
        "cloudwatch.describe_alarms": {"MetricAlarms": [alarm]},
        "cloudwatch.list_tags_for_resource": {"Tags": tag_list(tags)},
    }


def test_errors_alarm_absent_equal_drifted_not_ours():
    ctx = context({"cloudwatch.describe_alarms": {"MetricAlarms": []}})
    alarm = ErrorsAlarm(ctx)
    put = Step(
        "cloudwatch",
        "put_metric_alarm",
        {"AlarmName": "DataOpsPipelineFunction-errors", "Tags": tag_list(OURS), **alarm.definition()},
        "write the alarm",
    )
    assert alarm.plan().steps == (put,)
    ctx.aws.answers.update(alarm_state(ctx))
    assert alarm.plan().steps == ()
    ctx.aws.answers.update(alarm_state(ctx, Threshold=5.0))
    drifted = alarm.plan()
    assert (drifted.details, drifted.steps) == (("Threshold: 5.0 -> 1.0",), (put,))
    ctx.aws.answers.update(alarm_state(ctx, tags=THEIRS))
    assert refused(alarm.plan())


# --- the plan runs exactly its steps -------------------------------------------------------------------------------


class Recording:
    """A client that records the calls apply makes (and answers them with nothing)."""

    def __init__(self, service: str, calls: list[tuple[str, str, dict[str, Any]]]) -> None:
        self.service, self.calls = service, calls

    def __getattr__(self, operation: str) -> Callable[..., Any]:
        return lambda **params: self.calls.append((self.service, operation, params)) or {}


def test_apply_makes_exactly_the_planned_calls_and_nothing_else():
    calls: list[tuple[str, str, dict[str, Any]]] = []
    ctx = context({})
    change = LogGroup(ctx).plan()
    ctx.aws.client = lambda service: Recording(service, calls)  # type: ignore[method-assign]
    LogGroup(ctx).apply(change)
    assert calls == [(s.service, s.operation, dict(s.params)) for s in change.steps]


def test_apply_streams_file_bodies_from_disk():
    calls: list[tuple[str, str, dict[str, Any]]] = []
    ctx = context({})
    change = InputObject(ctx).plan()
    ctx.aws.client = lambda service: Recording(service, calls)  # type: ignore[method-assign]
    InputObject(ctx).apply(change)
    ((_, _, params),) = calls
    assert params["Body"].name == str(SAMPLE_CSV) and params["Metadata"]["sha256"] == file_sha256(SAMPLE_CSV)


@pytest.mark.parametrize(
    ("step", "shown"),
    [
        (Step("s3", "put_object", {"Bucket": "b", "Body": b"abc"}), "s3:PutObject Bucket='b', Body=<3 bytes>"),
        (
            Step("lambda", "function_active_v2", {"FunctionName": "f"}, wait=True),
            "lambda:wait:function_active_v2 FunctionName='f'",
        ),
        (Step("logs", "put_retention_policy", {"retentionInDays": 14}), "logs:PutRetentionPolicy retentionInDays=14"),
        (
            Step("lambda", "create_function", {"Code": {"ZipFile": b"PK.."}}),
            'lambda:CreateFunction Code={"ZipFile": "<4 bytes>"}',
        ),
    ],
)
def test_steps_render_as_the_calls_they_are(step, shown):
    assert step.render() == shown
