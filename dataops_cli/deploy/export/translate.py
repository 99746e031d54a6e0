"""Each planned CREATE as the AWS::* resources that make the same thing.

A translator takes the parameters of the calls `up` would make (capture.Planned.calls) and
returns CloudFormation resources whose properties are those parameters in the resource
type's spelling: the same names, tags, settings and documents, nothing added. Names are
set explicitly, so CloudFormation creates exactly the names `status`, `logs` and `runs`
look for. Property names and shapes follow the CloudFormation resource reference
(https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-template-resource-type-ref.html).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from dataops_cli.deploy.export.capture import Planned
from dataops_cli.deploy.resources.base import tag_list

Resources = dict[str, dict[str, Any]]
Calls = dict[str, dict[str, Any]]
# Where the function's zip is: {"S3Bucket": ..., "S3Key": ...} (artifacts.py).
CodeLocation = dict[str, str]
# The objects `up` puts in the stack's bucket: CloudFormation has no resource for them (artifacts.py).
NOT_RESOURCES = frozenset({"InputObject", "OutputPrefix", "GlueScript"})


def resource(kind: str, properties: dict[str, Any], **attributes: Any) -> dict[str, Any]:
    return {"Type": kind, **attributes, "Properties": properties}


def _bucket(calls: Calls, _code: CodeLocation) -> Resources:
    rules = calls["put_bucket_lifecycle_configuration"]["LifecycleConfiguration"]["Rules"]
    encryption = calls["put_bucket_encryption"]["ServerSideEncryptionConfiguration"]["Rules"]
    properties = {
        "BucketName": calls["create_bucket"]["Bucket"],
        "Tags": calls["put_bucket_tagging"]["Tagging"]["TagSet"],
        "PublicAccessBlockConfiguration": calls["put_public_access_block"]["PublicAccessBlockConfiguration"],
        "BucketEncryption": {
            "ServerSideEncryptionConfiguration": [
                {"ServerSideEncryptionByDefault": rule["ApplyServerSideEncryptionByDefault"]} for rule in encryption
            ]
        },
        "LifecycleConfiguration": {
            "Rules": [
                {
                    "Id": rule["ID"],
                    "Prefix": rule["Filter"]["Prefix"],
                    "Status": rule["Status"],
                    "ExpirationInDays": rule["Expiration"]["Days"],
                    "AbortIncompleteMultipartUpload": rule["AbortIncompleteMultipartUpload"],
                }
                for rule in rules
            ]
        },
    }
    # Deleting the CloudFormation stack keeps the bucket and its data, as `down --keep-data`
    # does: CloudFormation cannot delete a bucket that holds objects.
    return {"Bucket": resource("AWS::S3::Bucket", properties, DeletionPolicy="Retain", UpdateReplacePolicy="Retain")}


def _bucket_policy(calls: Calls, _code: CodeLocation) -> Resources:
    put = calls["put_bucket_policy"]
    properties = {"Bucket": put["Bucket"], "PolicyDocument": json.loads(put["Policy"])}
    return {"BucketPolicy": resource("AWS::S3::BucketPolicy", properties)}


def _role(logical_id: str) -> Callable[[Calls, CodeLocation], Resources]:
    def translate(calls: Calls, _code: CodeLocation) -> Resources:
        create, policy = calls["create_role"], calls["put_role_policy"]
        properties = {
            "RoleName": create["RoleName"],
            "Description": create["Description"],
            "AssumeRolePolicyDocument": json.loads(create["AssumeRolePolicyDocument"]),
            "Policies": [{"PolicyName": policy["PolicyName"], "PolicyDocument": json.loads(policy["PolicyDocument"])}],
            "Tags": create["Tags"],
        }
        return {logical_id: resource("AWS::IAM::Role", properties)}

    return translate


def _log_group(calls: Calls, _code: CodeLocation) -> Resources:
    create = calls["create_log_group"]
    properties = {
        "LogGroupName": create["logGroupName"],
        "RetentionInDays": calls["put_retention_policy"]["retentionInDays"],
        "Tags": tag_list(create["tags"]),
    }
    # Deleted with the stack, as `down` deletes it (said explicitly: it holds data).
    return {
        "LogGroup": resource("AWS::Logs::LogGroup", properties, DeletionPolicy="Delete", UpdateReplacePolicy="Delete")
    }


FUNCTION_SETTINGS = (
    "FunctionName",
    "Description",
    "Runtime",
    "Handler",
    "Architectures",
    "MemorySize",
    "Timeout",
    "Role",
    "Environment",
    "Layers",
)


def _function(calls: Calls, code: CodeLocation) -> Resources:
    create = calls["create_function"]
    properties = {
        **{key: create[key] for key in FUNCTION_SETTINGS},
        "Code": dict(code),
        "ReservedConcurrentExecutions": calls["put_function_concurrency"]["ReservedConcurrentExecutions"],
        "Tags": tag_list(create["Tags"]),
    }
    invoke = calls["put_function_event_invoke_config"]
    async_config = {
        "FunctionName": invoke["FunctionName"],
        "Qualifier": "$LATEST",  # PutFunctionEventInvokeConfig without a qualifier configures $LATEST
        "MaximumRetryAttempts": invoke["MaximumRetryAttempts"],
        "MaximumEventAgeInSeconds": invoke["MaximumEventAgeInSeconds"],
    }
    return {
        "Function": resource("AWS::Lambda::Function", properties),
        "FunctionEventInvokeConfig": resource("AWS::Lambda::EventInvokeConfig", async_config),
    }


def _glue_job(calls: Calls, _code: CodeLocation) -> Resources:
    create = dict(calls["create_job"])  # CreateJob's and AWS::Glue::Job's names are the same
    return {"GlueJob": resource("AWS::Glue::Job", create)}


def _rule(logical_id: str) -> Callable[[Calls, CodeLocation], Resources]:
    def translate(calls: Calls, _code: CodeLocation) -> Resources:
        put = calls["put_rule"]
        properties = {**put, "EventPattern": json.loads(put["EventPattern"])}
        return {logical_id: resource("AWS::Events::Rule", properties)}

    return translate


def _schedule_group(calls: Calls, _code: CodeLocation) -> Resources:
    return {"ScheduleGroup": resource("AWS::Scheduler::ScheduleGroup", dict(calls["create_schedule_group"]))}


def _schedule(calls: Calls, _code: CodeLocation) -> Resources:
    return {"Schedule": resource("AWS::Scheduler::Schedule", dict(calls["create_schedule"]))}


def _dashboard(calls: Calls, _code: CodeLocation) -> Resources:
    return {"Dashboard": resource("AWS::CloudWatch::Dashboard", dict(calls["put_dashboard"]))}


def _topic(calls: Calls, _code: CodeLocation) -> Resources:
    create, subscribe = calls["create_topic"], calls["subscribe"]
    properties = {
        "TopicName": create["Name"],
        "Subscription": [{"Protocol": subscribe["Protocol"], "Endpoint": subscribe["Endpoint"]}],
        "Tags": create["Tags"],
    }
    return {"AlarmTopic": resource("AWS::SNS::Topic", properties)}


def _alarm(logical_id: str) -> Callable[[Calls, CodeLocation], Resources]:
    def translate(calls: Calls, _code: CodeLocation) -> Resources:
        # PutMetricAlarm's and AWS::CloudWatch::Alarm's names are the same
        return {logical_id: resource("AWS::CloudWatch::Alarm", dict(calls["put_metric_alarm"]))}

    return translate


TRANSLATORS: dict[str, Callable[[Calls, CodeLocation], Resources]] = {
    "Bucket": _bucket,
    "BucketPolicy": _bucket_policy,
    "ExecutionRole": _role("ExecutionRole"),
    "LogGroup": _log_group,
    "Function": _function,
    "GlueRole": _role("GlueRole"),
    "GlueJob": _glue_job,
    "GlueFailedRule": _rule("GlueFailedRule"),
    "GlueSucceededRule": _rule("GlueSucceededRule"),
    "SchedulerRole": _role("SchedulerRole"),
    "ScheduleGroup": _schedule_group,
    "Schedule": _schedule,
    "Dashboard": _dashboard,
    "AlarmTopic": _topic,
    "ErrorsAlarm": _alarm("ErrorsAlarm"),
    "QualityAlarm": _alarm("QualityAlarm"),
}
# Creation order CloudFormation cannot infer: the plan names resources by name or ARN, not Ref.
DEPENDS_ON = {
    "BucketPolicy": ("Bucket",),
    "Function": ("ExecutionRole", "LogGroup"),
    "FunctionEventInvokeConfig": ("Function",),
    "GlueJob": ("GlueRole",),
    "Schedule": ("ScheduleGroup", "SchedulerRole", "Function", "GlueJob"),
    "ErrorsAlarm": ("AlarmTopic",),
    "QualityAlarm": ("AlarmTopic",),
}


def translate(planned: list[Planned], code: CodeLocation) -> Resources:
    """The template's Resources, in `up`'s order, each depending on what must exist first."""
    found: Resources = {}
    for plan in planned:
        if plan.kind in NOT_RESOURCES:
            continue
        found.update(TRANSLATORS[plan.kind](plan.calls(), code))
    for logical_id, body in found.items():
        needs = [name for name in DEPENDS_ON.get(logical_id, ()) if name in found]
        if needs:
            found[logical_id] = {
                "Type": body["Type"],
                "DependsOn": needs,
                **{k: v for k, v in body.items() if k != "Type"},
            }
    return found
