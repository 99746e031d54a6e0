"""The IAM policy the person or CI role running `dataops` needs: built from the config, not written by hand.

docs/PERMISSIONS.md shows what this builds (tests/functional/test_deployer_policy.py checks they agree,
`python -m dataops_cli.deployer_policy --write-docs` regenerates them), and the same test
runs every command against moto and checks each API call the CLI makes is allowed here, so
a new call cannot ship without its permission.

What goes in, for the configured engine:
- everything `up`, `status`, `logs`, `invoke`, `runs`, `cost` and `down` call, scoped to
  this stack's resources (only the reads AWS authorizes on "*" alone use "*");
- for the engine the config does not use, reads and deletes only: after a switch `up`
  removes that engine's resources, and `down` removes them too;
- `iam:PassRole` per role, each only to the service that uses it (iam:PassedToService);
- creating a resource with its tags in the same call also needs the service's tagging
  action (e.g. s3:TagResource for CreateBucket with tags, lambda:TagResource for
  CreateFunction with Tags), and reading a tagged function needs lambda:ListTags.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

from dataops_cli.config import Config, load_config

VERSION = "2012-10-17"
AWS_LAYER_ACCOUNT = "336392948345"  # AWS SDK for pandas' managed layers (dataops_cli/pandas_layer.py)
GLUE_LOG_GROUPS = ("/aws-glue/jobs/output", "/aws-glue/jobs/error")  # dataops_cli/glue_logs.py
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


def _statement(sid: str, actions: tuple[str, ...] | list[str], resources: list[str] | str) -> Statement:
    action: str | list[str] = actions[0] if len(actions) == 1 else list(actions)
    resource: str | list[str] = resources[0] if isinstance(resources, list) and len(resources) == 1 else resources
    return {"Sid": sid, "Effect": "Allow", "Action": action, "Resource": resource}


class _Arns:
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


def deployer_policy(
    config: Config, account: str, *, pricing_api: bool = False, upload_to: str | None = None
) -> Document:
    """What the deployer needs for this config (engine, alarm email, pinned or looked-up layer).

    `upload_to` (s3://BUCKET/PREFIX/): also `dataops export cloudformation --upload-to` there.
    """
    arns = _Arns(config, account)
    lambda_engine = config.function.engine == "lambda"
    statements = [
        _statement("Identity", ("sts:GetCallerIdentity",), "*"),
        *_bucket(arns),
        *_roles(arns, lambda_engine),
        *(_function(arns) if lambda_engine else _glue(arns)),
        *(_glue_leftovers(arns) if lambda_engine else _function_leftovers(arns)),
        *_schedule(arns),
        *_monitoring(arns),
        # DescribeLogGroups has no resource-level permission ("*" only): finding the function's
        # group (and Glue's shared ones) by name prefix.
        _statement("LogDiscovery", ("logs:DescribeLogGroups",), "*"),
    ]
    if pricing_api:
        statements.append(pricing_statement())
    if upload_to:
        statements.append(export_upload_statement(config.partition, upload_to))
    return {"Version": VERSION, "Statement": statements}


def export_upload_statement(partition: str, upload_to: str) -> Statement:
    """`export cloudformation --upload-to`: HeadObject (authorized as s3:GetObject) to skip a file
    already there, PutObject for the rest; only under the prefix (dataops_cli/export_cfn/artifacts.py)."""
    bucket, _, prefix = upload_to.removeprefix("s3://").partition("/")
    return _statement("ExportArtifacts", ("s3:GetObject", "s3:PutObject"), f"arn:{partition}:s3:::{bucket}/{prefix}*")


def pricing_statement() -> Statement:
    """`dataops cost --pricing-api` only: the Price List API authorizes on "*" alone."""
    return _statement("PriceList", ("pricing:GetProducts",), "*")


def _bucket(arns: _Arns) -> list[Statement]:
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
        _statement("Bucket", bucket_actions, [arns.bucket]),
        # `down` empties every version of every key, so objects are the whole bucket's
        _statement("Objects", object_actions, [f"{arns.bucket}/*"]),
    ]


def _roles(arns: _Arns, lambda_engine: bool) -> list[Statement]:
    config = arns.config
    pipeline_role, service = (
        (config.execution_role, LAMBDA_SERVICE) if lambda_engine else (config.glue_role, GLUE_SERVICE)
    )
    other_role = config.glue_role if lambda_engine else config.execution_role
    return [
        _statement("Roles", ROLE_MANAGE, [arns.role(pipeline_role), arns.role(config.scheduler_role)]),
        _pass_role("PassPipelineRole", arns.role(pipeline_role), service),
        _pass_role("PassSchedulerRole", arns.role(config.scheduler_role), SCHEDULER_SERVICE),
        _statement("OtherEngineRole", ROLE_REMOVE, [arns.role(other_role)]),
    ]


def _pass_role(sid: str, role: str, service: str) -> Statement:
    return {
        **_statement(sid, ("iam:PassRole",), [role]),
        "Condition": {"StringEquals": {"iam:PassedToService": service}},
    }


def _function(arns: _Arns) -> list[Statement]:
    config = arns.config
    statements = [
        _statement("Function", FUNCTION_MANAGE, [arns.arn("lambda", f"function:{config.function.name}")]),
        _statement("FunctionLogs", LOG_GROUP_MANAGE, arns.log_group(config.log_group)),
        # CreateFunction and UpdateFunctionConfiguration with a layer read the layer version.
        _statement("PandasLayer", ("lambda:GetLayerVersion",), [arns.layer]),
    ]
    if not config.function.layer_arn:
        # AWS's public SSM parameters: their ARNs have no account (arn:aws:ssm:<region>::parameter/aws/...);
        # "*" in the account field matches that empty field too.
        lookup = f"arn:{arns.partition}:ssm:{arns.region}:*:parameter/aws/service/aws-sdk-pandas/*"
        statements.append(_statement("LayerLookup", ("ssm:GetParameters",), [lookup]))
    return statements


def _function_leftovers(arns: _Arns) -> list[Statement]:
    config = arns.config
    return [
        _statement("OtherEngineFunction", FUNCTION_REMOVE, [arns.arn("lambda", f"function:{config.function.name}")]),
        _statement("OtherEngineFunctionLogs", LOG_GROUP_REMOVE, arns.log_group(config.log_group)),
    ]


def _rules(arns: _Arns) -> list[str]:
    return [
        arns.arn("events", f"rule/{arns.config.glue_failed_rule}"),
        arns.arn("events", f"rule/{arns.config.glue_succeeded_rule}"),
    ]


def _glue(arns: _Arns) -> list[Statement]:
    glue_logs = [arn for group in GLUE_LOG_GROUPS for arn in arns.log_group(group)]
    return [
        _statement("GlueJob", JOB_MANAGE, [arns.arn("glue", f"job/{arns.config.glue_job}")]),
        # The errors alarm and the dashboard count the job's runs through these two rules.
        _statement("GlueRunRules", RULE_MANAGE, _rules(arns)),
        # `dataops logs` reads the job's streams in Glue's shared groups (every job of the
        # account and region writes there: dataops narrows to this job's run ids itself).
        _statement("GlueLogs", ("logs:FilterLogEvents",), glue_logs),
    ]


def _glue_leftovers(arns: _Arns) -> list[Statement]:
    return [
        _statement("OtherEngineGlueJob", JOB_REMOVE, [arns.arn("glue", f"job/{arns.config.glue_job}")]),
        _statement("OtherEngineGlueRules", RULE_REMOVE, _rules(arns)),
    ]


def _schedule(arns: _Arns) -> list[Statement]:
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
        _statement("ScheduleGroup", group_actions, [group]),
        _statement("Schedule", schedule_actions, [schedule]),
    ]


def _monitoring(arns: _Arns) -> list[Statement]:
    config = arns.config
    alarms = [arns.arn("cloudwatch", f"alarm:{name}") for name in (config.alarm_name, config.quality_alarm_name)]
    dashboard = arns.arn("cloudwatch", f"dashboard/{config.dashboard.name}", region=False)
    topic_actions = TOPIC_MANAGE if config.alarm.email else TOPIC_REMOVE
    return [
        _statement(
            "Dashboard",
            ("cloudwatch:GetDashboard", "cloudwatch:PutDashboard", "cloudwatch:DeleteDashboards"),
            [dashboard],
        ),
        _statement(
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
        _statement("MetricsRead", ("cloudwatch:GetMetricData",), "*"),
        _statement("AlarmTopic", topic_actions, [arns.arn("sns", config.alarm_topic)]),
    ]


# --- docs/PERMISSIONS.md: its JSON blocks are this module's output ----------------------------

DOC = Path(__file__).resolve().parent.parent / "docs" / "PERMISSIONS.md"
# Each generated block of the doc: the config it is built for (over the defaults), whether it
# adds `cost --pricing-api`, and whether it shows only what differs from the "lambda" block.
DOC_VARIANTS: dict[str, tuple[dict[str, Any], bool, bool]] = {
    "lambda": ({}, False, False),
    "lambda-alarm-email": ({"alarm": {"email": "ops@example.com"}}, False, True),
    "pricing-api": ({}, True, True),
    "glue": ({"function": {"engine": "glue"}}, False, False),
    "export-upload": ({}, False, True),
}
DOC_UPLOAD_TO = {"export-upload": "s3://my-artifacts/dataops/"}  # the blocks made with --upload-to
_BLOCK = re.compile(r"(<!-- generated: (?P<name>[a-z-]+) -->\n```json\n)(?P<body>.*?)(```)", re.DOTALL)


def variant_policy(name: str) -> Document:
    """The whole policy for a doc variant's config (account DOC_ACCOUNT)."""
    from dataops_cli.config import parse_config

    raw, pricing, _ = DOC_VARIANTS[name]
    return deployer_policy(parse_config(raw), DOC_ACCOUNT, pricing_api=pricing, upload_to=DOC_UPLOAD_TO.get(name))


def doc_variant(name: str) -> Document:
    """What a docs/PERMISSIONS.md block shows: the variant's policy, or only its statements that differ."""
    policy = variant_policy(name)
    if not DOC_VARIANTS[name][2]:
        return policy
    base = variant_policy("lambda")["Statement"]
    return {"Version": VERSION, "Statement": [s for s in policy["Statement"] if s not in base]}


def render(document: Document, width: int = 100) -> str:
    """Compact JSON: one statement per few lines, action lists wrapped (json.loads gives it back)."""
    lines = ["{", f'  "Version": {json.dumps(document["Version"])},', '  "Statement": [']
    statements = document["Statement"]
    for index, statement in enumerate(statements):
        lines.extend(_render_statement(statement, width, last=index == len(statements) - 1))
    lines += ["  ]", "}"]
    return "\n".join(lines) + "\n"


def _render_statement(statement: Statement, width: int, last: bool) -> list[str]:
    head = ", ".join(f"{json.dumps(k)}: {json.dumps(v)}" for k, v in statement.items() if k in ("Sid", "Effect"))
    rest = [(k, v) for k, v in statement.items() if k not in ("Sid", "Effect")]
    out = [f"    {{{head},"]
    for position, (key, value) in enumerate(rest):
        end = "}" + ("" if last else ",") if position == len(rest) - 1 else ","
        out.extend(_wrapped(f'     "{key}": ', value, width, end))
    return out


def _wrapped(prefix: str, value: Any, width: int, end: str) -> list[str]:
    if not isinstance(value, list):
        return [prefix + json.dumps(value, separators=(", ", ": ")) + end]
    items = [json.dumps(v) for v in value]
    lines, current = [], prefix + "["
    for index, item in enumerate(items):
        piece = item + ("]" + end if index == len(items) - 1 else ",")
        if len(current) + len(piece) + 1 > width and not current.endswith("["):
            lines.append(current.rstrip())
            current = " " * (len(prefix) + 1)
        current += piece + ("" if index == len(items) - 1 else " ")
    lines.append(current)
    return lines


def write_docs(path: Path = DOC) -> bool:
    """Rewrite every generated block of docs/PERMISSIONS.md; True if anything changed."""
    text = path.read_text(encoding="utf-8")
    updated = _BLOCK.sub(lambda m: m.group(1) + render(doc_variant(m.group("name"))) + m.group(4), text)
    if updated != text:
        path.write_text(updated, encoding="utf-8")
    return updated != text


def doc_blocks(path: Path = DOC) -> dict[str, Document]:
    """The generated blocks as the doc shows them, parsed."""
    return {m.group("name"): json.loads(m.group("body")) for m in _BLOCK.finditer(path.read_text(encoding="utf-8"))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m dataops_cli.deployer_policy",
        description="Print the IAM policy the deployer needs for a config (or rewrite docs/PERMISSIONS.md).",
    )
    parser.add_argument("--config", help="config.toml to build it for (default: the built-in defaults)")
    parser.add_argument("--account", default=DOC_ACCOUNT, help="your AWS account id (default: %(default)s)")
    parser.add_argument(
        "--pricing-api", action="store_true", help="add pricing:GetProducts (dataops cost --pricing-api)"
    )
    parser.add_argument("--upload-to", metavar="S3URL", help="add `dataops export cloudformation --upload-to S3URL`")
    parser.add_argument("--write-docs", action="store_true", help="regenerate the JSON blocks of docs/PERMISSIONS.md")
    args = parser.parse_args(argv)
    if args.write_docs:
        print("docs/PERMISSIONS.md " + ("updated" if write_docs() else "already up to date"))
        return 0
    config = load_config(args.config) if args.config else Config()
    policy = deployer_policy(config, args.account, pricing_api=args.pricing_api, upload_to=args.upload_to)
    sys.stdout.write(render(policy))
    return 0


if __name__ == "__main__":
    sys.exit(main())
