"""Which IAM action (on which resource, with which request context) each API call of the CLI needs.

A table from (service, operation) to a function of the call's parameters, after the Service
Authorization Reference (https://docs.aws.amazon.com/service-authorization/latest/reference/)
and the services' own pages where an operation needs more than its namesake action:
- CreateX with tags also needs the service's tagging action (S3: "You must have the
  s3:TagResource permission to create a general purpose bucket with tags",
  https://docs.aws.amazon.com/AmazonS3/latest/API/API_CreateBucketConfiguration.html;
  Lambda: https://docs.aws.amazon.com/lambda/latest/dg/configuration-tags.html);
- GetFunction on a tagged function also needs lambda:ListTags (same Lambda page);
- passing a role (CreateFunction, CreateSchedule, CreateJob, their updates) needs
  iam:PassRole on it, with iam:PassedToService in the request context
  (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_passrole.html);
- a function created or updated with layers reads each layer version (lambda:GetLayerVersion).
An operation the CLI calls that is not in this table fails tests/functional/test_deployer_policy.py, so
a new call cannot ship without its permission. A small evaluator (Allow statements,
wildcards in actions and ARNs, StringEquals/StringLike/ArnLike conditions) answers whether
a policy allows a need.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Need:
    """One IAM authorization a call needs."""

    action: str
    resource: str
    context: Mapping[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        extra = "".join(f" with {k}={v}" for k, v in self.context.items())
        return f"{self.action} on {self.resource}{extra}"


@dataclass(frozen=True)
class Where:
    """What an ARN needs besides the call: partition, region, account."""

    region: str
    account: str
    partition: str = "aws"

    def arn(self, service: str, resource: str, region: bool = True, account: bool = True) -> str:
        where, who = (self.region if region else ""), (self.account if account else "")
        return f"arn:{self.partition}:{service}:{where}:{who}:{resource}"


Rule = Callable[[Mapping[str, Any], Where], list[Need]]


def _bucket(w: Where, p: Mapping[str, Any]) -> str:
    return f"arn:{w.partition}:s3:::{p['Bucket']}"


def _object(w: Where, p: Mapping[str, Any], key: str | None = None) -> str:
    return f"arn:{w.partition}:s3:::{p['Bucket']}/{key if key is not None else p['Key']}"


def s3_bucket(action: str) -> Rule:
    return lambda p, w: [Need(action, _bucket(w, p))]


def s3_object(action: str) -> Rule:
    return lambda p, w: [Need(action, _object(w, p))]


def _create_bucket(p: Mapping[str, Any], w: Where) -> list[Need]:
    needs = [Need("s3:CreateBucket", _bucket(w, p))]
    if p.get("CreateBucketConfiguration", {}).get("Tags"):
        needs.append(Need("s3:TagResource", _bucket(w, p)))
    return needs


def _delete_objects(p: Mapping[str, Any], w: Where) -> list[Need]:
    needs = []
    for entry in p["Delete"]["Objects"]:
        action = "s3:DeleteObjectVersion" if entry.get("VersionId") else "s3:DeleteObject"
        needs.append(Need(action, _object(w, p, entry["Key"])))
    return needs


def _role(w: Where, name: str) -> str:
    return w.arn("iam", f"role/{name}", region=False)


def iam_role(action: str) -> Rule:
    return lambda p, w: [Need(action, _role(w, p["RoleName"]))]


def _create_role(p: Mapping[str, Any], w: Where) -> list[Need]:
    needs = [Need("iam:CreateRole", _role(w, p["RoleName"]))]
    return needs + ([Need("iam:TagRole", _role(w, p["RoleName"]))] if p.get("Tags") else [])


def pass_role(role_arn: str, service: str) -> Need:
    return Need("iam:PassRole", role_arn, {"iam:PassedToService": service})


def _function_arn(w: Where, name: str) -> str:
    return name if name.startswith("arn:") else w.arn("lambda", f"function:{name}")


def lambda_function(action: str, *more: str) -> Rule:
    return lambda p, w: [Need(a, _function_arn(w, p["FunctionName"])) for a in (action, *more)]


def _function_settings(action: str) -> Rule:
    def needs(p: Mapping[str, Any], w: Where) -> list[Need]:
        found = [Need(action, _function_arn(w, p["FunctionName"]))]
        if p.get("Role"):
            found.append(pass_role(p["Role"], "lambda.amazonaws.com"))
        found += [Need("lambda:GetLayerVersion", layer) for layer in p.get("Layers", [])]
        if p.get("Tags"):
            found.append(Need("lambda:TagResource", _function_arn(w, p["FunctionName"])))
        return found

    return needs


def _log_group(w: Where, name: str) -> str:
    return w.arn("logs", f"log-group:{name}")


def logs_group(action: str) -> Rule:
    return lambda p, w: [Need(action, _log_group(w, p["logGroupName"]))]


_STARTED_ON: list[str] = []  # the groups of the last StartQuery: GetQueryResults names only its query id


def _start_query(p: Mapping[str, Any], w: Where) -> list[Need]:
    groups = list(p.get("logGroupNames") or [p["logGroupName"]])
    _STARTED_ON[:] = [_log_group(w, g) for g in groups]
    return [Need("logs:StartQuery", arn) for arn in _STARTED_ON]


def _query_results(p: Mapping[str, Any], w: Where) -> list[Need]:
    """Authorized on the log groups the query reads (the service reference's resource for it)."""
    return [Need("logs:GetQueryResults", arn) for arn in _STARTED_ON]


def _create_log_group(p: Mapping[str, Any], w: Where) -> list[Need]:
    needs = [Need("logs:CreateLogGroup", _log_group(w, p["logGroupName"]))]
    return needs + ([Need("logs:TagResource", _log_group(w, p["logGroupName"]))] if p.get("tags") else [])


def by_arn(action: str, key: str) -> Rule:
    """Tagging calls name their resource by ARN; a log group's may end in ':*'."""
    return lambda p, w: [Need(action, str(p[key]).removesuffix(":*"))]


def _schedule_group(w: Where, name: str) -> str:
    return w.arn("scheduler", f"schedule-group/{name}")


def _schedule(w: Where, p: Mapping[str, Any]) -> str:
    return w.arn("scheduler", f"schedule/{p.get('GroupName', 'default')}/{p['Name']}")


def scheduler_group(action: str) -> Rule:
    return lambda p, w: [Need(action, _schedule_group(w, p["Name"]))]


def _create_schedule_group(p: Mapping[str, Any], w: Where) -> list[Need]:
    needs = [Need("scheduler:CreateScheduleGroup", _schedule_group(w, p["Name"]))]
    return needs + ([Need("scheduler:TagResource", _schedule_group(w, p["Name"]))] if p.get("Tags") else [])


def scheduler_schedule(action: str) -> Rule:
    def needs(p: Mapping[str, Any], w: Where) -> list[Need]:
        found = [Need(action, _schedule(w, p))]
        if p.get("Target", {}).get("RoleArn"):
            found.append(pass_role(p["Target"]["RoleArn"], "scheduler.amazonaws.com"))
        return found

    return needs


def _dashboard(w: Where, name: str) -> str:
    return w.arn("cloudwatch", f"dashboard/{name}", region=False)


def _alarm(w: Where, name: str) -> str:
    return w.arn("cloudwatch", f"alarm:{name}")


def _put_metric_alarm(p: Mapping[str, Any], w: Where) -> list[Need]:
    needs = [Need("cloudwatch:PutMetricAlarm", _alarm(w, p["AlarmName"]))]
    return needs + ([Need("cloudwatch:TagResource", _alarm(w, p["AlarmName"]))] if p.get("Tags") else [])


def _alarms(action: str) -> Rule:
    """DescribeAlarms/DeleteAlarms: on each named alarm (DescribeAlarms without names: on every alarm, "*")."""
    return lambda p, w: [Need(action, _alarm(w, n)) for n in p.get("AlarmNames", [])] or [Need(action, "*")]


def _topic(w: Where, name: str) -> str:
    return w.arn("sns", name)


def _create_topic(p: Mapping[str, Any], w: Where) -> list[Need]:
    needs = [Need("sns:CreateTopic", _topic(w, p["Name"]))]
    return needs + ([Need("sns:TagResource", _topic(w, p["Name"]))] if p.get("Tags") else [])


def _job(w: Where, name: str) -> str:
    return w.arn("glue", f"job/{name}")


def glue_job(action: str, key: str = "JobName") -> Rule:
    return lambda p, w: [Need(action, _job(w, p[key]))]


def _create_job(p: Mapping[str, Any], w: Where) -> list[Need]:
    needs = [Need("glue:CreateJob", _job(w, p["Name"])), pass_role(p["Role"], "glue.amazonaws.com")]
    return needs + ([Need("glue:TagResource", _job(w, p["Name"]))] if p.get("Tags") else [])


def _update_job(p: Mapping[str, Any], w: Where) -> list[Need]:
    return [Need("glue:UpdateJob", _job(w, p["JobName"])), pass_role(p["JobUpdate"]["Role"], "glue.amazonaws.com")]


def _rule(w: Where, name: str) -> str:
    return w.arn("events", f"rule/{name}")


def events_rule(action: str, key: str = "Name") -> Rule:
    return lambda p, w: [Need(action, _rule(w, p[key]))]


def _put_rule(p: Mapping[str, Any], w: Where) -> list[Need]:
    needs = [Need("events:PutRule", _rule(w, p["Name"]))]
    return needs + ([Need("events:TagResource", _rule(w, p["Name"]))] if p.get("Tags") else [])


def _layer_version(p: Mapping[str, Any], w: Where) -> list[Need]:
    name = p["LayerName"]
    arn = name if name.startswith("arn:") else w.arn("lambda", f"layer:{name}")
    return [Need("lambda:GetLayerVersion", f"{arn}:{p['VersionNumber']}")]


def _ssm_parameters(p: Mapping[str, Any], w: Where) -> list[Need]:
    # AWS's public parameters have no account in their ARN
    return [Need("ssm:GetParameters", f"arn:{w.partition}:ssm:{w.region}::parameter{name}") for name in p["Names"]]


def anywhere(action: str) -> Rule:
    """Actions AWS authorizes on "*" alone (no resource-level permission)."""
    return lambda p, w: [Need(action, "*")]


ACTIONS: dict[tuple[str, str], Rule] = {
    ("sts", "GetCallerIdentity"): anywhere("sts:GetCallerIdentity"),
    # S3: HeadBucket is authorized as ListBucket, HeadObject as GetObject
    ("s3", "HeadBucket"): s3_bucket("s3:ListBucket"),
    ("s3", "ListObjectsV2"): s3_bucket("s3:ListBucket"),
    ("s3", "ListObjectVersions"): s3_bucket("s3:ListBucketVersions"),
    ("s3", "ListMultipartUploads"): s3_bucket("s3:ListBucketMultipartUploads"),
    ("s3", "CreateBucket"): _create_bucket,
    ("s3", "DeleteBucket"): s3_bucket("s3:DeleteBucket"),
    ("s3", "GetBucketTagging"): s3_bucket("s3:GetBucketTagging"),
    ("s3", "PutBucketTagging"): s3_bucket("s3:PutBucketTagging"),
    ("s3", "GetPublicAccessBlock"): s3_bucket("s3:GetBucketPublicAccessBlock"),
    ("s3", "PutPublicAccessBlock"): s3_bucket("s3:PutBucketPublicAccessBlock"),
    ("s3", "GetBucketEncryption"): s3_bucket("s3:GetEncryptionConfiguration"),
    ("s3", "PutBucketEncryption"): s3_bucket("s3:PutEncryptionConfiguration"),
    ("s3", "GetBucketPolicy"): s3_bucket("s3:GetBucketPolicy"),
    ("s3", "PutBucketPolicy"): s3_bucket("s3:PutBucketPolicy"),
    ("s3", "GetBucketLifecycleConfiguration"): s3_bucket("s3:GetLifecycleConfiguration"),
    ("s3", "PutBucketLifecycleConfiguration"): s3_bucket("s3:PutLifecycleConfiguration"),
    ("s3", "GetBucketVersioning"): s3_bucket("s3:GetBucketVersioning"),
    ("s3", "HeadObject"): s3_object("s3:GetObject"),
    ("s3", "GetObject"): s3_object("s3:GetObject"),
    ("s3", "PutObject"): s3_object("s3:PutObject"),
    ("s3", "DeleteObject"): s3_object("s3:DeleteObject"),
    ("s3", "DeleteObjects"): _delete_objects,
    ("s3", "AbortMultipartUpload"): s3_object("s3:AbortMultipartUpload"),
    # IAM
    ("iam", "GetRole"): iam_role("iam:GetRole"),
    ("iam", "CreateRole"): _create_role,
    ("iam", "DeleteRole"): iam_role("iam:DeleteRole"),
    ("iam", "TagRole"): iam_role("iam:TagRole"),
    ("iam", "UpdateAssumeRolePolicy"): iam_role("iam:UpdateAssumeRolePolicy"),
    ("iam", "GetRolePolicy"): iam_role("iam:GetRolePolicy"),
    ("iam", "PutRolePolicy"): iam_role("iam:PutRolePolicy"),
    ("iam", "DeleteRolePolicy"): iam_role("iam:DeleteRolePolicy"),
    ("iam", "ListRolePolicies"): iam_role("iam:ListRolePolicies"),
    ("iam", "ListAttachedRolePolicies"): iam_role("iam:ListAttachedRolePolicies"),
    ("iam", "DetachRolePolicy"): iam_role("iam:DetachRolePolicy"),
    # Lambda
    ("lambda", "GetFunction"): lambda_function("lambda:GetFunction", "lambda:ListTags"),
    ("lambda", "GetFunctionConfiguration"): lambda_function("lambda:GetFunctionConfiguration"),
    ("lambda", "CreateFunction"): _function_settings("lambda:CreateFunction"),
    ("lambda", "UpdateFunctionConfiguration"): _function_settings("lambda:UpdateFunctionConfiguration"),
    ("lambda", "UpdateFunctionCode"): lambda_function("lambda:UpdateFunctionCode"),
    ("lambda", "DeleteFunction"): lambda_function("lambda:DeleteFunction"),
    ("lambda", "TagResource"): by_arn("lambda:TagResource", "Resource"),
    ("lambda", "PutFunctionConcurrency"): lambda_function("lambda:PutFunctionConcurrency"),
    ("lambda", "GetFunctionEventInvokeConfig"): lambda_function("lambda:GetFunctionEventInvokeConfig"),
    ("lambda", "PutFunctionEventInvokeConfig"): lambda_function("lambda:PutFunctionEventInvokeConfig"),
    ("lambda", "Invoke"): lambda_function("lambda:InvokeFunction"),
    ("lambda", "GetLayerVersion"): _layer_version,
    ("ssm", "GetParameters"): _ssm_parameters,
    # CloudWatch Logs
    ("logs", "DescribeLogGroups"): anywhere("logs:DescribeLogGroups"),
    ("logs", "CreateLogGroup"): _create_log_group,
    ("logs", "DeleteLogGroup"): logs_group("logs:DeleteLogGroup"),
    ("logs", "PutRetentionPolicy"): logs_group("logs:PutRetentionPolicy"),
    ("logs", "FilterLogEvents"): logs_group("logs:FilterLogEvents"),
    ("logs", "StartQuery"): _start_query,
    ("logs", "GetQueryResults"): _query_results,
    ("logs", "ListTagsForResource"): by_arn("logs:ListTagsForResource", "resourceArn"),
    ("logs", "TagResource"): by_arn("logs:TagResource", "resourceArn"),
    # EventBridge Scheduler
    ("scheduler", "GetScheduleGroup"): scheduler_group("scheduler:GetScheduleGroup"),
    ("scheduler", "CreateScheduleGroup"): _create_schedule_group,
    ("scheduler", "DeleteScheduleGroup"): scheduler_group("scheduler:DeleteScheduleGroup"),
    ("scheduler", "ListTagsForResource"): by_arn("scheduler:ListTagsForResource", "ResourceArn"),
    ("scheduler", "TagResource"): by_arn("scheduler:TagResource", "ResourceArn"),
    ("scheduler", "GetSchedule"): scheduler_schedule("scheduler:GetSchedule"),
    ("scheduler", "CreateSchedule"): scheduler_schedule("scheduler:CreateSchedule"),
    ("scheduler", "UpdateSchedule"): scheduler_schedule("scheduler:UpdateSchedule"),
    ("scheduler", "DeleteSchedule"): scheduler_schedule("scheduler:DeleteSchedule"),
    # CloudWatch
    ("cloudwatch", "GetDashboard"): lambda p, w: [Need("cloudwatch:GetDashboard", _dashboard(w, p["DashboardName"]))],
    ("cloudwatch", "PutDashboard"): lambda p, w: [Need("cloudwatch:PutDashboard", _dashboard(w, p["DashboardName"]))],
    ("cloudwatch", "DeleteDashboards"): lambda p, w: [
        Need("cloudwatch:DeleteDashboards", _dashboard(w, name)) for name in p["DashboardNames"]
    ],
    ("cloudwatch", "DescribeAlarms"): _alarms("cloudwatch:DescribeAlarms"),
    ("cloudwatch", "DeleteAlarms"): _alarms("cloudwatch:DeleteAlarms"),
    ("cloudwatch", "PutMetricAlarm"): _put_metric_alarm,
    ("cloudwatch", "ListTagsForResource"): by_arn("cloudwatch:ListTagsForResource", "ResourceARN"),
    ("cloudwatch", "TagResource"): by_arn("cloudwatch:TagResource", "ResourceARN"),
    ("cloudwatch", "GetMetricData"): anywhere("cloudwatch:GetMetricData"),
    # SNS
    ("sns", "GetTopicAttributes"): by_arn("sns:GetTopicAttributes", "TopicArn"),
    ("sns", "CreateTopic"): _create_topic,
    ("sns", "DeleteTopic"): by_arn("sns:DeleteTopic", "TopicArn"),
    ("sns", "ListTagsForResource"): by_arn("sns:ListTagsForResource", "ResourceArn"),
    ("sns", "TagResource"): by_arn("sns:TagResource", "ResourceArn"),
    ("sns", "Subscribe"): by_arn("sns:Subscribe", "TopicArn"),
    ("sns", "ListSubscriptionsByTopic"): by_arn("sns:ListSubscriptionsByTopic", "TopicArn"),
    # Glue
    ("glue", "GetJob"): glue_job("glue:GetJob"),
    ("glue", "CreateJob"): _create_job,
    ("glue", "UpdateJob"): _update_job,
    ("glue", "DeleteJob"): glue_job("glue:DeleteJob"),
    ("glue", "GetTags"): by_arn("glue:GetTags", "ResourceArn"),
    ("glue", "TagResource"): by_arn("glue:TagResource", "ResourceArn"),
    ("glue", "StartJobRun"): glue_job("glue:StartJobRun"),
    ("glue", "GetJobRun"): glue_job("glue:GetJobRun"),
    ("glue", "GetJobRuns"): glue_job("glue:GetJobRuns"),
    # EventBridge rules (the Glue engine's run counters)
    ("events", "DescribeRule"): events_rule("events:DescribeRule"),
    ("events", "PutRule"): _put_rule,
    ("events", "DeleteRule"): events_rule("events:DeleteRule"),
    ("events", "ListTagsForResource"): by_arn("events:ListTagsForResource", "ResourceARN"),
    ("events", "TagResource"): by_arn("events:TagResource", "ResourceARN"),
    ("events", "ListTargetsByRule"): events_rule("events:ListTargetsByRule", key="Rule"),
    ("events", "RemoveTargets"): events_rule("events:RemoveTargets", key="Rule"),
    # Price List (dataops cost --pricing-api)
    ("pricing", "GetProducts"): anywhere("pricing:GetProducts"),
}


# --- a small evaluator for identity policies -------------------------------------------------


def _wildcard(pattern: str, case_sensitive: bool) -> re.Pattern[str]:
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(body, 0 if case_sensitive else re.IGNORECASE)


def _values(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _matches(patterns: Any, value: str, case_sensitive: bool) -> bool:
    return any(_wildcard(p, case_sensitive).fullmatch(value) for p in _values(patterns))


CONDITIONS: dict[str, Callable[[list[str], str], bool]] = {
    "StringEquals": lambda allowed, actual: actual in allowed,
    "StringLike": lambda allowed, actual: _matches(allowed, actual, True),
    "ArnLike": lambda allowed, actual: _matches(allowed, actual, True),
    "ArnEquals": lambda allowed, actual: actual in allowed,
}


def _conditions_hold(conditions: Mapping[str, Mapping[str, Any]], context: Mapping[str, str]) -> bool:
    """Every operator and key must hold; a key absent from the request context does not."""
    for operator, keys in conditions.items():
        test = CONDITIONS.get(operator)
        if test is None:
            raise AssertionError(f"the evaluator does not know condition operator {operator}")
        for key, allowed in keys.items():
            if key not in context or not test(_values(allowed), context[key]):
                return False
    return True


def _statement_applies(statement: Mapping[str, Any], need: Need) -> bool:
    assert "NotAction" not in statement and "NotResource" not in statement, "the evaluator handles Action/Resource"
    return (
        _matches(statement["Action"], need.action, case_sensitive=False)
        and _matches(statement["Resource"], need.resource, case_sensitive=True)
        and _conditions_hold(statement.get("Condition", {}), need.context)
    )


def allowed(policy: Mapping[str, Any], need: Need) -> bool:
    """An explicit Deny wins; else some Allow must apply (IAM's evaluation for one identity policy)."""
    statements = policy["Statement"]
    if any(s["Effect"] == "Deny" and _statement_applies(s, need) for s in statements):
        return False
    return any(s["Effect"] == "Allow" and _statement_applies(s, need) for s in statements)
