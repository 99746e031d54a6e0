"""Pure builders of every IAM and bucket policy document the stack uses.

Least privilege, checked by tests: no bare "*" action or resource anywhere (wildcards only
scoped inside this stack's ARNs, e.g. <bucket>/processed/* and <log group>:*). The
execution role may read exactly the input object and the quality history, write under the
output prefix, and write to its own log group; the scheduler role may invoke exactly this
function.
"""

from __future__ import annotations

from typing import Any

from handler.contract import LATEST_POINTER, QUALITY_HISTORY

VERSION = "2012-10-17"
Document = dict[str, Any]


def assume_role_policy(service: str, conditions: dict[str, Any] | None = None) -> Document:
    statement: dict[str, Any] = {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
    if conditions:
        statement["Condition"] = conditions
    return {"Version": VERSION, "Statement": [statement]}


def lambda_trust_policy() -> Document:
    return assume_role_policy("lambda.amazonaws.com")


def scheduler_trust_policy(account_id: str, schedule_group_arn: str) -> Document:
    """Only schedules of our own group, in our own account, may assume the role (confused deputy).

    EventBridge Scheduler puts the schedule GROUP's ARN in aws:SourceArn and the account in
    aws:SourceAccount when it assumes the role ("Confused deputy prevention",
    https://docs.aws.amazon.com/scheduler/latest/UserGuide/cross-service-confused-deputy-prevention.html);
    earlier revisions of that page showed the schedule's own ARN (`schedule/<group>/<name>`),
    so both forms are accepted, as one ArnLike key with two values (ORed), and nothing else.
    A pattern ending in `schedule-group/<group>/*` matches neither: it cannot match the bare
    group ARN. ArnLike compares the six colon-separated parts one by one
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html#Conditions_ARN).
    """
    return assume_role_policy(
        "scheduler.amazonaws.com",
        {
            "StringEquals": {"aws:SourceAccount": account_id},
            "ArnLike": {"aws:SourceArn": [schedule_group_arn, schedule_arns_of_group(schedule_group_arn)]},
        },
    )


def schedule_arns_of_group(schedule_group_arn: str) -> str:
    """`arn:...:schedule-group/<g>` -> `arn:...:schedule/<g>/*`: every schedule of that group."""
    prefix, marker, group = schedule_group_arn.rpartition(":schedule-group/")
    if not marker or not group or "/" in group:
        raise ValueError(f"not a schedule group ARN: {schedule_group_arn!r}")
    return f"{prefix}:schedule/{group}/*"


def execution_policy(
    *, partition: str, bucket: str, input_key: str, output_prefix: str, log_group_arn: str
) -> Document:
    """What the handler does and nothing more.

    ListBucket (on this bucket only) is what makes S3 answer 404 rather than 403 for a
    missing object (the input, and the quality history on a stack's first run), so the run
    can say "does not exist" instead of "access denied"
    (https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html, "Permissions").
    The handler itself lists nothing, so there is no s3:prefix to limit it to; and S3 does
    not document which s3:prefix its implicit 404 check carries, so a condition here could
    turn the first run's missing history into AccessDenied on AWS.
    """
    bucket_arn = f"arn:{partition}:s3:::{bucket}"
    read_input, *s3_rest = _pipeline_s3_statements(bucket_arn, input_key, output_prefix)
    return {
        "Version": VERSION,
        "Statement": [
            read_input,
            _read_quality_history(bucket_arn, output_prefix),
            _check_published_pointer(bucket_arn, output_prefix),
            *s3_rest,
            {
                "Sid": "WriteOwnLogs",
                "Effect": "Allow",
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": f"{log_group_arn}:*",
            },
        ],
    }


def _read_quality_history(bucket_arn: str, output_prefix: str) -> Document:
    # Each run compares itself with the profiles of earlier runs, then rewrites this one
    # object (covered by WriteOutputs: it lies under the output prefix).
    return {
        "Sid": "ReadQualityHistory",
        "Effect": "Allow",
        "Action": "s3:GetObject",
        "Resource": f"{bucket_arn}/{output_prefix}{QUALITY_HISTORY}",
    }


def _check_published_pointer(bucket_arn: str, output_prefix: str) -> Document:
    # A run that fails after it tried to write latest.json reads it back before undoing anything:
    # a run latest.json names (or might name, if it cannot be read) is published and keeps its files.
    return {
        "Sid": "CheckPublishedPointer",
        "Effect": "Allow",
        "Action": "s3:GetObject",
        "Resource": f"{bucket_arn}/{output_prefix}{LATEST_POINTER}",
    }


def _pipeline_s3_statements(bucket_arn: str, input_key: str, output_prefix: str) -> list[Document]:
    """What either engine's run does in S3: read the input, write outputs, undo a failed run."""
    return [
        {"Sid": "ReadInput", "Effect": "Allow", "Action": "s3:GetObject", "Resource": f"{bucket_arn}/{input_key}"},
        {"Sid": "Distinguish404From403", "Effect": "Allow", "Action": "s3:ListBucket", "Resource": bucket_arn},
        {
            "Sid": "WriteOutputs",
            "Effect": "Allow",
            "Action": "s3:PutObject",
            "Resource": f"{bucket_arn}/{output_prefix}*",
        },
        {
            "Sid": "UndoFailedRun",
            "Effect": "Allow",
            "Action": ["s3:DeleteObject", "s3:AbortMultipartUpload"],
            "Resource": f"{bucket_arn}/{output_prefix}runs/*",
        },
    ]


def scheduler_policy(function_arn: str) -> Document:
    return {
        "Version": VERSION,
        "Statement": [
            {"Sid": "InvokePipeline", "Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": function_arn}
        ],
    }


def glue_trust_policy(account_id: str) -> Document:
    """Only Glue may assume the role; on behalf of this account if Glue says which (confused deputy).

    AWS Glue documents a plain `glue.amazonaws.com` trust for job roles ("Step 2: Create an
    IAM role for AWS Glue", https://docs.aws.amazon.com/glue/latest/dg/create-an-iam-role.html)
    and no aws:SourceArn or aws:SourceAccount for them. A positive condition on a key the
    service does not send fails, so a plain StringEquals could lock Glue out of its own role;
    `...IfExists` keeps the account check wherever Glue sends the key and cannot lock it out
    where it does not (IAM: "use the IfExists version of the condition operator" for keys that
    are only sometimes present, https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html).
    """
    return assume_role_policy("glue.amazonaws.com", {"StringEqualsIfExists": {"aws:SourceAccount": account_id}})


def glue_job_policy(
    *, partition: str, region: str, account_id: str, bucket: str, input_key: str, output_prefix: str, script_prefix: str
) -> Document:
    """The Glue job's role: the execution role's S3 rights, plus reading its script, plus Glue's own logs.

    Glue writes the driver's and executors' logs to log groups under /aws-glue/ (creating
    them on first use), so those are allowed and no other group.
    """
    bucket_arn = f"arn:{partition}:s3:::{bucket}"
    logs = f"arn:{partition}:logs:{region}:{account_id}:log-group:/aws-glue/*"
    read_input, *s3_rest = _pipeline_s3_statements(bucket_arn, input_key, output_prefix)
    return {
        "Version": VERSION,
        "Statement": [
            read_input,
            {
                "Sid": "ReadJobScript",
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": f"{bucket_arn}/{script_prefix}*",
            },
            _read_quality_history(bucket_arn, output_prefix),
            _check_published_pointer(bucket_arn, output_prefix),
            *s3_rest,
            {
                "Sid": "WriteGlueLogs",
                "Effect": "Allow",
                "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": [logs, f"{logs}:*"],
            },
        ],
    }


def scheduler_glue_policy(job_arn: str) -> Document:
    return {
        "Version": VERSION,
        "Statement": [
            {"Sid": "StartPipelineJob", "Effect": "Allow", "Action": "glue:StartJobRun", "Resource": job_arn}
        ],
    }


def tls_only_bucket_policy(partition: str, bucket: str) -> Document:
    bucket_arn = f"arn:{partition}:s3:::{bucket}"
    return {
        "Version": VERSION,
        "Statement": [
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [bucket_arn, f"{bucket_arn}/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ],
    }


def wildcards(document: Document) -> list[str]:
    """Every "*" action or resource in Allow statements (a Deny on "*" only narrows access)."""
    found = []
    for statement in document["Statement"]:
        if statement["Effect"] != "Allow":
            continue
        for key in ("Action", "Resource"):
            values = statement.get(key, [])
            for value in [values] if isinstance(values, str) else values:
                if value == "*" or (key == "Action" and value.endswith(":*")):
                    found.append(f"{statement.get('Sid', '?')}: {key} {value}")
    return found
