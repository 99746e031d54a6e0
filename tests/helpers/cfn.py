"""Read an exported template back: resolve its intrinsic functions, map properties to API calls.

Written apart from dataops_cli/deploy/export (the mapping in the other direction), so the
plan-equality tests compare two independent spellings of the same resources.
"""

from __future__ import annotations

import json
import re
from typing import Any

TOKEN = re.compile(r"\$\{([^}!][^}]*)\}")


def resolve(value: Any, names: dict[str, str]) -> Any:
    """Ref and Fn::Sub (the only intrinsics the export writes) with the given values."""
    if isinstance(value, dict):
        if set(value) == {"Ref"}:
            return names[value["Ref"]]
        if set(value) == {"Fn::Sub"}:
            text = TOKEN.sub(lambda m: names[m.group(1)], value["Fn::Sub"])
            return text.replace("${!", "${")
        return {k: resolve(v, names) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, names) for v in value]
    return value


def names_for(template: dict[str, Any], account: str, region: str) -> dict[str, str]:
    """Every parameter at its default, and the pseudo parameters for this account and region."""
    found = {name: p.get("Default", "") for name, p in template["Parameters"].items()}
    return {**found, "AWS::AccountId": account, "AWS::Region": region, "AWS::Partition": "aws"}


def tag_map(tags: list[dict[str, str]]) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in tags}


def _bucket(p: dict[str, Any]) -> dict[str, dict[str, Any]]:
    rules = p["LifecycleConfiguration"]["Rules"]
    return {
        # CreateBucket's region is not a property: the template's region rule holds it (see the test)
        "create_bucket": {"Bucket": p["BucketName"], "Tags": p["Tags"]},
        "put_bucket_tagging": {"Bucket": p["BucketName"], "Tagging": {"TagSet": p["Tags"]}},
        "put_public_access_block": {
            "Bucket": p["BucketName"],
            "PublicAccessBlockConfiguration": p["PublicAccessBlockConfiguration"],
        },
        "put_bucket_encryption": {
            "Bucket": p["BucketName"],
            "ServerSideEncryptionConfiguration": {
                "Rules": [
                    {"ApplyServerSideEncryptionByDefault": r["ServerSideEncryptionByDefault"]}
                    for r in p["BucketEncryption"]["ServerSideEncryptionConfiguration"]
                ]
            },
        },
        "put_bucket_lifecycle_configuration": {
            "Bucket": p["BucketName"],
            "LifecycleConfiguration": {
                "Rules": [
                    {
                        "ID": r["Id"],
                        "Filter": {"Prefix": r["Prefix"]},
                        "Status": r["Status"],
                        "Expiration": {"Days": r["ExpirationInDays"]},
                        "AbortIncompleteMultipartUpload": r["AbortIncompleteMultipartUpload"],
                    }
                    for r in rules
                ]
            },
        },
    }


def _role(p: dict[str, Any]) -> dict[str, dict[str, Any]]:
    (policy,) = p["Policies"]
    return {
        "create_role": {
            "RoleName": p["RoleName"],
            "AssumeRolePolicyDocument": p["AssumeRolePolicyDocument"],
            "Description": p["Description"],
            "Tags": p["Tags"],
        },
        "put_role_policy": {
            "RoleName": p["RoleName"],
            "PolicyName": policy["PolicyName"],
            "PolicyDocument": policy["PolicyDocument"],
        },
    }


def _function(p: dict[str, Any]) -> dict[str, dict[str, Any]]:
    settings = {k: v for k, v in p.items() if k not in ("Code", "ReservedConcurrentExecutions", "Tags")}
    return {
        "create_function": {**settings, "Tags": tag_map(p["Tags"]), "Code": p["Code"]},
        "put_function_concurrency": {
            "FunctionName": p["FunctionName"],
            "ReservedConcurrentExecutions": p["ReservedConcurrentExecutions"],
        },
    }


def _invoke_config(p: dict[str, Any]) -> dict[str, dict[str, Any]]:
    assert p["Qualifier"] == "$LATEST"
    return {"put_function_event_invoke_config": {k: v for k, v in p.items() if k != "Qualifier"}}


def _topic(p: dict[str, Any]) -> dict[str, dict[str, Any]]:
    (subscription,) = p["Subscription"]
    return {
        "create_topic": {"Name": p["TopicName"], "Tags": p["Tags"]},
        "subscribe": {"Protocol": subscription["Protocol"], "Endpoint": subscription["Endpoint"]},
    }


INVERSE = {
    "AWS::S3::Bucket": _bucket,
    "AWS::S3::BucketPolicy": lambda p: {"put_bucket_policy": {"Bucket": p["Bucket"], "Policy": p["PolicyDocument"]}},
    "AWS::IAM::Role": _role,
    "AWS::Logs::LogGroup": lambda p: {
        "create_log_group": {"logGroupName": p["LogGroupName"], "tags": tag_map(p["Tags"])},
        "put_retention_policy": {"logGroupName": p["LogGroupName"], "retentionInDays": p["RetentionInDays"]},
    },
    "AWS::Lambda::Function": _function,
    "AWS::Lambda::EventInvokeConfig": _invoke_config,
    "AWS::Glue::Job": lambda p: {"create_job": p},
    "AWS::Events::Rule": lambda p: {"put_rule": {**p, "EventPattern": p["EventPattern"]}},
    "AWS::Scheduler::ScheduleGroup": lambda p: {"create_schedule_group": p},
    "AWS::Scheduler::Schedule": lambda p: {"create_schedule": p},
    "AWS::CloudWatch::Dashboard": lambda p: {"put_dashboard": p},
    "AWS::SNS::Topic": _topic,
    "AWS::CloudWatch::Alarm": lambda p: {"put_metric_alarm": p},
}
# Parameters the plan sends as JSON text and the template holds as objects: compared as data.
JSON_TEXT = {"AssumeRolePolicyDocument", "PolicyDocument", "Policy", "EventPattern"}


def as_calls(resource: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The API calls (operation -> parameters) a resolved template resource stands for."""
    return INVERSE[resource["Type"]](resource["Properties"])


def comparable(params: dict[str, Any]) -> dict[str, Any]:
    """A plan step's parameters with JSON text parsed (key order and spacing do not matter)."""
    return {k: json.loads(v) if k in JSON_TEXT and isinstance(v, str) else v for k, v in params.items()}
