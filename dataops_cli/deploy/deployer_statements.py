"""The statements of the deployer's policy, one builder per part of the stack (deployer_policy.py assembles them).

Each builder names the actions `up`, `status`, `logs`, `invoke`, `runs`, `cost` and `down`
call on that part, scoped to this stack's resources.
"""

from __future__ import annotations

from typing import Any

from dataops_cli.config import Config

VERSION = "2012-10-17"
AWS_LAYER_ACCOUNT = "336392948345"  # AWS SDK for pandas' managed layers (dataops_cli/deploy/pandas_layer.py)
GLUE_LOG_GROUPS = ("/aws-glue/jobs/output", "/aws-glue/jobs/error")  # dataops_cli/engines/glue_logs.py
DOC_ACCOUNT = "111122223333"  # the example account id docs/PERMISSIONS.md shows
Document = dict[str, Any]
Statement = dict[str, Any]

# iam:PassRole is allowed only toward the service that assumes the role: "Grant a user
# permissions to pass a role to an AWS service" and the iam:PassedToService condition key,
# https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_passrole.html
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_iam-condition-keys.html#ck_PassedToService
LAMBDA_SERVICE = "lambda.amazonaws.com"
GLUE_SERVICE = "glue.amazonaws.com"
SCHEDULER_SERVICE = "scheduler.amazonaws.com"

ROLE_MANAGE = (
    "iam:GetRole",
    "iam:CreateRole",
    "iam:DeleteRole",
    "iam:TagRole",  # CreateRole with Tags needs it too
    "iam:UpdateAssumeRolePolicy",
    "iam:GetRolePolicy",
    "iam:PutRolePolicy",
    "iam:DeleteRolePolicy",
    "iam:ListRolePolicies",
    "iam:ListAttachedRolePolicies",
    "iam:DetachRolePolicy",
)
ROLE_REMOVE = (
    "iam:GetRole",
    "iam:DeleteRole",
    "iam:DeleteRolePolicy",
    "iam:ListRolePolicies",
    "iam:ListAttachedRolePolicies",
    "iam:DetachRolePolicy",
)
# Reading a tagged function (GetFunction) also needs lambda:ListTags, and creating it with Tags
# needs lambda:TagResource: https://docs.aws.amazon.com/lambda/latest/dg/configuration-tags.html
FUNCTION_MANAGE = (
    "lambda:GetFunction",
    "lambda:ListTags",
    "lambda:GetFunctionConfiguration",
    "lambda:CreateFunction",
    "lambda:DeleteFunction",
    "lambda:UpdateFunctionCode",
    "lambda:UpdateFunctionConfiguration",
    "lambda:TagResource",
    "lambda:PutFunctionConcurrency",
    "lambda:GetFunctionEventInvokeConfig",
    "lambda:PutFunctionEventInvokeConfig",
    "lambda:InvokeFunction",
)
FUNCTION_REMOVE = ("lambda:GetFunction", "lambda:ListTags", "lambda:DeleteFunction")
LOG_GROUP_MANAGE = (
    "logs:CreateLogGroup",
    "logs:DeleteLogGroup",
    "logs:PutRetentionPolicy",
    "logs:ListTagsForResource",
    "logs:TagResource",  # CreateLogGroup with tags needs it too
    "logs:FilterLogEvents",
)
LOG_GROUP_REMOVE = ("logs:ListTagsForResource", "logs:DeleteLogGroup")
JOB_MANAGE = (
    "glue:GetJob",
    "glue:CreateJob",
    "glue:UpdateJob",
    "glue:DeleteJob",
    "glue:GetTags",
    "glue:TagResource",
    "glue:StartJobRun",
    "glue:GetJobRun",
    "glue:GetJobRuns",
)
JOB_REMOVE = ("glue:GetJob", "glue:GetTags", "glue:DeleteJob")
RULE_MANAGE = (
    "events:DescribeRule",
    "events:PutRule",
    "events:DeleteRule",
    "events:ListTagsForResource",
    "events:TagResource",
    "events:ListTargetsByRule",
    "events:RemoveTargets",
)
RULE_REMOVE = (
    "events:DescribeRule",
    "events:DeleteRule",
    "events:ListTagsForResource",
    "events:ListTargetsByRule",
    "events:RemoveTargets",
)
TOPIC_MANAGE = (
    "sns:GetTopicAttributes",
    "sns:CreateTopic",
    "sns:DeleteTopic",
    "sns:ListTagsForResource",
    "sns:TagResource",
    "sns:Subscribe",
    "sns:ListSubscriptionsByTopic",
)
# Without alarm.email `up` still reads the topic's name (and removes the topic it made before).
TOPIC_REMOVE = ("sns:GetTopicAttributes", "sns:ListTagsForResource", "sns:DeleteTopic")


def statement(sid: str, actions: tuple[str, ...] | list[str], resources: list[str] | str) -> Statement:
    action: str | list[str] = actions[0] if len(actions) == 1 else list(actions)
    resource: str | list[str] = resources[0] if isinstance(resources, list) and len(resources) == 1 else resources
    return {"Sid": sid, "Effect": "Allow", "Action": action, "Resource": resource}


class Arns:
    """Every ARN of the stack, from the config and the account id alone."""

    def __init__(self, config: Config, account: str) -> None:
        self.config, self.account = config, account
        self.partition, self.region = config.partition, config.region

    def arn(self, service: str, resource: str, region: bool = True, account: bool = True) -> str:
        where = self.region if region else ""
        who = self.account if account else ""
        return f"arn:{self.partition}:{service}:{where}:{who}:{resource}"

    def role(self, name: str) -> str:
        return self.arn("iam", f"role/{name}", region=False)

    def log_group(self, name: str) -> list[str]:
        """Both forms: CloudWatch Logs authorizes some actions on `...:log-group:NAME:*`."""
        group = self.arn("logs", f"log-group:{name}")
        return [group, f"{group}:*"]

    @property
    def bucket(self) -> str:
        return f"arn:{self.partition}:s3:::{self.config.bucket.name}"

    @property
    def layer(self) -> str:
        f = self.config.function
        if f.layer_arn:
            return f.layer_arn
        name = f.layer_name + ("-Arm64" if f.architecture == "arm64" and not f.layer_name.endswith("-Arm64") else "")
        return f"arn:{self.partition}:lambda:{self.region}:{AWS_LAYER_ACCOUNT}:layer:{name}:*"


def pricing_statement() -> Statement:
    """`dataops cost --pricing-api` only: the Price List API authorizes on "*" alone."""
    return statement("PriceList", ("pricing:GetProducts",), "*")


def bucket_statements(arns: Arns) -> list[Statement]:
    # CreateBucket with tags needs s3:TagResource ("You must have the s3:TagResource permission
    # to create a general purpose bucket with tags"):
    # https://docs.aws.amazon.com/AmazonS3/latest/API/API_CreateBucketConfiguration.html
    bucket_actions = (
        "s3:CreateBucket",
        "s3:DeleteBucket",
        "s3:ListBucket",
        "s3:ListBucketVersions",
        "s3:ListBucketMultipartUploads",
        "s3:GetBucketTagging",
        "s3:PutBucketTagging",
        "s3:TagResource",
        "s3:GetBucketPublicAccessBlock",
        "s3:PutBucketPublicAccessBlock",
        "s3:GetEncryptionConfiguration",
        "s3:PutEncryptionConfiguration",
        "s3:GetBucketPolicy",
        "s3:PutBucketPolicy",
        "s3:GetLifecycleConfiguration",
        "s3:PutLifecycleConfiguration",
        "s3:GetBucketVersioning",
    )
    object_actions = (
        "s3:GetObject",
        "s3:PutObject",
        "s3:DeleteObject",
        "s3:DeleteObjectVersion",
        "s3:AbortMultipartUpload",
    )
    return [
        statement("Bucket", bucket_actions, [arns.bucket]),
        # `down` empties every version of every key, so objects are the whole bucket's
        statement("Objects", object_actions, [f"{arns.bucket}/*"]),
    ]


def role_statements(arns: Arns, lambda_engine: bool) -> list[Statement]:
    config = arns.config
    pipeline_role, service = (
        (config.execution_role, LAMBDA_SERVICE) if lambda_engine else (config.glue_role, GLUE_SERVICE)
    )
    other_role = config.glue_role if lambda_engine else config.execution_role
    return [
        statement("Roles", ROLE_MANAGE, [arns.role(pipeline_role), arns.role(config.scheduler_role)]),
        _pass_role("PassPipelineRole", arns.role(pipeline_role), service),
        _pass_role("PassSchedulerRole", arns.role(config.scheduler_role), SCHEDULER_SERVICE),
        statement("OtherEngineRole", ROLE_REMOVE, [arns.role(other_role)]),
    ]


def _pass_role(sid: str, role: str, service: str) -> Statement:
    return {
        **statement(sid, ("iam:PassRole",), [role]),
        "Condition": {"StringEquals": {"iam:PassedToService": service}},
    }


def function_statements(arns: Arns) -> list[Statement]:
    config = arns.config
    statements = [
        statement("Function", FUNCTION_MANAGE, [arns.arn("lambda", f"function:{config.function.name}")]),
        statement("FunctionLogs", LOG_GROUP_MANAGE, arns.log_group(config.log_group)),
        # CreateFunction and UpdateFunctionConfiguration with a layer read the layer version.
        statement("PandasLayer", ("lambda:GetLayerVersion",), [arns.layer]),
    ]
    if not config.function.layer_arn:
        # AWS's public SSM parameters: their ARNs have no account (arn:aws:ssm:<region>::parameter/aws/...);
        # "*" in the account field matches that empty field too.
        lookup = f"arn:{arns.partition}:ssm:{arns.region}:*:parameter/aws/service/aws-sdk-pandas/*"
        statements.append(statement("LayerLookup", ("ssm:GetParameters",), [lookup]))
    return statements


def function_leftovers(arns: Arns) -> list[Statement]:
    config = arns.config
    return [
        statement("OtherEngineFunction", FUNCTION_REMOVE, [arns.arn("lambda", f"function:{config.function.name}")]),
        statement("OtherEngineFunctionLogs", LOG_GROUP_REMOVE, arns.log_group(config.log_group)),
    ]


def _rules(arns: Arns) -> list[str]:
    return [
        arns.arn("events", f"rule/{arns.config.glue_failed_rule}"),
        arns.arn("events", f"rule/{arns.config.glue_succeeded_rule}"),
    ]


def glue_statements(arns: Arns) -> list[Statement]:
    glue_logs = [arn for group in GLUE_LOG_GROUPS for arn in arns.log_group(group)]
    return [
        statement("GlueJob", JOB_MANAGE, [arns.arn("glue", f"job/{arns.config.glue_job}")]),
        # The errors alarm and the dashboard count the job's runs through these two rules.
        statement("GlueRunRules", RULE_MANAGE, _rules(arns)),
        # `dataops logs` reads the job's streams in Glue's shared groups (every job of the
        # account and region writes there: dataops narrows to this job's run ids itself).
        statement("GlueLogs", ("logs:FilterLogEvents",), glue_logs),
    ]


def glue_leftovers(arns: Arns) -> list[Statement]:
    return [
        statement("OtherEngineGlueJob", JOB_REMOVE, [arns.arn("glue", f"job/{arns.config.glue_job}")]),
        statement("OtherEngineGlueRules", RULE_REMOVE, _rules(arns)),
    ]


def schedule_statements(arns: Arns) -> list[Statement]:
    config = arns.config
    group = arns.arn("scheduler", f"schedule-group/{config.schedule_group}")
    schedule = arns.arn("scheduler", f"schedule/{config.schedule_group}/{config.schedule_name}")
    group_actions = (
        "scheduler:GetScheduleGroup",
        "scheduler:CreateScheduleGroup",
        "scheduler:DeleteScheduleGroup",
        "scheduler:ListTagsForResource",
        "scheduler:TagResource",  # CreateScheduleGroup with Tags needs it too
    )
    schedule_actions = (
        "scheduler:GetSchedule",
        "scheduler:CreateSchedule",
        "scheduler:UpdateSchedule",
        "scheduler:DeleteSchedule",
    )
    return [
        statement("ScheduleGroup", group_actions, [group]),
        statement("Schedule", schedule_actions, [schedule]),
    ]


def monitoring_statements(arns: Arns) -> list[Statement]:
    config = arns.config
    alarms = [arns.arn("cloudwatch", f"alarm:{name}") for name in (config.alarm_name, config.quality_alarm_name)]
    dashboard = arns.arn("cloudwatch", f"dashboard/{config.dashboard.name}", region=False)
    topic_actions = TOPIC_MANAGE if config.alarm.email else TOPIC_REMOVE
    return [
        statement(
            "Dashboard",
            ("cloudwatch:GetDashboard", "cloudwatch:PutDashboard", "cloudwatch:DeleteDashboards"),
            [dashboard],
        ),
        statement(
            "Alarms",
            (
                "cloudwatch:DescribeAlarms",
                "cloudwatch:PutMetricAlarm",
                "cloudwatch:DeleteAlarms",
                "cloudwatch:ListTagsForResource",
                "cloudwatch:TagResource",  # PutMetricAlarm with Tags needs it too
            ),
            alarms,
        ),
        # GetMetricData has no resource-level permission: "*" is the only form AWS accepts.
        statement("MetricsRead", ("cloudwatch:GetMetricData",), "*"),
        statement("AlarmTopic", topic_actions, [arns.arn("sns", config.alarm_topic)]),
    ]
