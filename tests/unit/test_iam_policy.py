"""The emulator's IAM evaluator, case by case: what AWS allows it allows, what AWS denies it denies."""

from __future__ import annotations

from typing import Any

import pytest

from dataops_cli.deploy.policies import execution_policy, scheduler_trust_policy
from dataops_cli.emulator.iam_policy import (
    ALLOW,
    EXPLICIT_DENY,
    IMPLICIT_DENY,
    arn_like,
    evaluate,
    trust_allows,
)

BUCKET = "arn:aws:s3:::b"


def policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(action: Any, resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action: Any, resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


CASES = [
    # (id, policy, action, resource, context, expected decision)
    ("exact allow", policy(allow("s3:GetObject", f"{BUCKET}/k")), "s3:GetObject", f"{BUCKET}/k", {}, ALLOW),
    ("other key", policy(allow("s3:GetObject", f"{BUCKET}/k")), "s3:GetObject", f"{BUCKET}/k2", {}, IMPLICIT_DENY),
    ("other action", policy(allow("s3:GetObject", f"{BUCKET}/k")), "s3:PutObject", f"{BUCKET}/k", {}, IMPLICIT_DENY),
    ("action case", policy(allow("S3:getobject", f"{BUCKET}/k")), "s3:GetObject", f"{BUCKET}/k", {}, ALLOW),
    ("action wildcard", policy(allow("s3:Get*", f"{BUCKET}/*")), "s3:GetObject", f"{BUCKET}/a/b", {}, ALLOW),
    ("action ?", policy(allow("s3:?etObject", f"{BUCKET}/*")), "s3:GetObject", f"{BUCKET}/a", {}, ALLOW),
    ("resource case", policy(allow("s3:GetObject", f"{BUCKET}/K")), "s3:GetObject", f"{BUCKET}/k", {}, IMPLICIT_DENY),
    (
        "prefix wildcard",
        policy(allow("s3:PutObject", f"{BUCKET}/out/*")),
        "s3:PutObject",
        f"{BUCKET}/out/x/y",
        {},
        ALLOW,
    ),
    (
        "outside prefix",
        policy(allow("s3:PutObject", f"{BUCKET}/out/*")),
        "s3:PutObject",
        f"{BUCKET}/in/x",
        {},
        IMPLICIT_DENY,
    ),
    ("bucket vs objects", policy(allow("s3:ListBucket", f"{BUCKET}/*")), "s3:ListBucket", BUCKET, {}, IMPLICIT_DENY),
    (
        "star resource",
        policy(allow("logs:PutLogEvents")),
        "logs:PutLogEvents",
        "arn:aws:logs:r:1:log-group:g",
        {},
        ALLOW,
    ),
    (
        "log stream under group:*",
        policy(allow("logs:PutLogEvents", "arn:aws:logs:r:1:log-group:/aws/lambda/f:*")),
        "logs:PutLogEvents",
        "arn:aws:logs:r:1:log-group:/aws/lambda/f:log-stream:2026/[$LATEST]ab",
        {},
        ALLOW,
    ),
    (
        "other log group",
        policy(allow("logs:PutLogEvents", "arn:aws:logs:r:1:log-group:/aws/lambda/f:*")),
        "logs:PutLogEvents",
        "arn:aws:logs:r:1:log-group:/aws/lambda/g:log-stream:s",
        {},
        IMPLICIT_DENY,
    ),
    (
        "list of actions",
        policy(allow(["s3:PutObject", "s3:GetObject"], f"{BUCKET}/*")),
        "s3:GetObject",
        f"{BUCKET}/k",
        {},
        ALLOW,
    ),
    (
        "list of resources",
        policy(allow("s3:GetObject", [f"{BUCKET}/a", f"{BUCKET}/k"])),
        "s3:GetObject",
        f"{BUCKET}/k",
        {},
        ALLOW,
    ),
    (
        "deny wins",
        policy(allow("s3:*", f"{BUCKET}/*"), deny("s3:GetObject", f"{BUCKET}/k")),
        "s3:GetObject",
        f"{BUCKET}/k",
        {},
        EXPLICIT_DENY,
    ),
    (
        "deny elsewhere",
        policy(allow("s3:*", f"{BUCKET}/*"), deny("s3:GetObject", f"{BUCKET}/x")),
        "s3:GetObject",
        f"{BUCKET}/k",
        {},
        ALLOW,
    ),
    (
        "NotAction",
        policy({"Effect": "Allow", "NotAction": "s3:DeleteObject", "Resource": f"{BUCKET}/*"}),
        "s3:GetObject",
        f"{BUCKET}/k",
        {},
        ALLOW,
    ),
    (
        "NotAction excludes",
        policy({"Effect": "Allow", "NotAction": "s3:Delete*", "Resource": f"{BUCKET}/*"}),
        "s3:DeleteObject",
        f"{BUCKET}/k",
        {},
        IMPLICIT_DENY,
    ),
    (
        "NotResource",
        policy({"Effect": "Deny", "Action": "s3:*", "NotResource": f"{BUCKET}/ok/*"}, allow("s3:*", f"{BUCKET}/*")),
        "s3:GetObject",
        f"{BUCKET}/secret",
        {},
        EXPLICIT_DENY,
    ),
    (
        "StringLike s3:prefix",
        policy(allow("s3:ListBucket", BUCKET, Condition={"StringLike": {"s3:prefix": ["out/runs/*"]}})),
        "s3:ListBucket",
        BUCKET,
        {"s3:prefix": "out/runs/r1/"},
        ALLOW,
    ),
    (
        "StringLike other prefix",
        policy(allow("s3:ListBucket", BUCKET, Condition={"StringLike": {"s3:prefix": ["out/runs/*"]}})),
        "s3:ListBucket",
        BUCKET,
        {"s3:prefix": "secrets/"},
        IMPLICIT_DENY,
    ),
    (
        "missing key fails a positive operator",
        policy(allow("s3:ListBucket", BUCKET, Condition={"StringEquals": {"s3:prefix": ""}})),
        "s3:ListBucket",
        BUCKET,
        {},
        IMPLICIT_DENY,
    ),
    (
        "condition key names are case-insensitive",
        policy(allow("s3:ListBucket", BUCKET, Condition={"StringEquals": {"S3:Prefix": "a/"}})),
        "s3:ListBucket",
        BUCKET,
        {"s3:prefix": "a/"},
        ALLOW,
    ),
    (
        "StringEquals values are case-sensitive",
        policy(allow("s3:ListBucket", BUCKET, Condition={"StringEquals": {"s3:prefix": "A/"}})),
        "s3:ListBucket",
        BUCKET,
        {"s3:prefix": "a/"},
        IMPLICIT_DENY,
    ),
    (
        "StringEqualsIgnoreCase",
        policy(allow("s3:ListBucket", BUCKET, Condition={"StringEqualsIgnoreCase": {"s3:prefix": "A/"}})),
        "s3:ListBucket",
        BUCKET,
        {"s3:prefix": "a/"},
        ALLOW,
    ),
    (
        "IfExists with the key absent",
        policy(allow("s3:ListBucket", BUCKET, Condition={"StringEqualsIfExists": {"s3:prefix": "a/"}})),
        "s3:ListBucket",
        BUCKET,
        {},
        ALLOW,
    ),
    (
        "IfExists with another value",
        policy(allow("s3:ListBucket", BUCKET, Condition={"StringEqualsIfExists": {"s3:prefix": "a/"}})),
        "s3:ListBucket",
        BUCKET,
        {"s3:prefix": "b/"},
        IMPLICIT_DENY,
    ),
    (
        "negated operator with the key absent holds",
        policy(deny("s3:*", "*", Condition={"StringNotEquals": {"aws:PrincipalAccount": "1"}}), allow("s3:*")),
        "s3:GetObject",
        f"{BUCKET}/k",
        {},
        EXPLICIT_DENY,
    ),
    (
        "negated operator with a matching value",
        policy(deny("s3:*", "*", Condition={"StringNotEquals": {"aws:PrincipalAccount": "1"}}), allow("s3:*")),
        "s3:GetObject",
        f"{BUCKET}/k",
        {"aws:PrincipalAccount": "1"},
        ALLOW,
    ),
    (
        "Bool SecureTransport deny over HTTP",
        policy(allow("s3:*"), deny("s3:*", "*", Condition={"Bool": {"aws:SecureTransport": "false"}})),
        "s3:GetObject",
        f"{BUCKET}/k",
        {"aws:SecureTransport": "false"},
        EXPLICIT_DENY,
    ),
    (
        "Bool with a JSON boolean",
        policy(allow("s3:*"), deny("s3:*", "*", Condition={"Bool": {"aws:SecureTransport": False}})),
        "s3:GetObject",
        f"{BUCKET}/k",
        {"aws:SecureTransport": "true"},
        ALLOW,
    ),
    (
        "Null true needs the key absent",
        policy(allow("s3:PutObject", "*", Condition={"Null": {"s3:x-amz-acl": "true"}})),
        "s3:PutObject",
        f"{BUCKET}/k",
        {"s3:x-amz-acl": "public-read"},
        IMPLICIT_DENY,
    ),
    (
        "two operators are ANDed",
        policy(
            allow(
                "s3:ListBucket",
                BUCKET,
                Condition={"StringLike": {"s3:prefix": "a/*"}, "NumericLessThanEquals": {"s3:max-keys": "10"}},
            )
        ),
        "s3:ListBucket",
        BUCKET,
        {"s3:prefix": "a/x", "s3:max-keys": "1000"},
        IMPLICIT_DENY,
    ),
    (
        "ForAnyValue",
        policy(allow("s3:*", "*", Condition={"ForAnyValue:StringEquals": {"aws:TagKeys": ["a", "b"]}})),
        "s3:PutObject",
        f"{BUCKET}/k",
        {"aws:TagKeys": ["z", "b"]},
        ALLOW,
    ),
    (
        "ForAllValues",
        policy(allow("s3:*", "*", Condition={"ForAllValues:StringEquals": {"aws:TagKeys": ["a", "b"]}})),
        "s3:PutObject",
        f"{BUCKET}/k",
        {"aws:TagKeys": ["z", "b"]},
        IMPLICIT_DENY,
    ),
    (
        "policy variables fail closed",
        policy(allow("s3:*", "arn:aws:s3:::${aws:username}/*")),
        "s3:GetObject",
        f"{BUCKET}/k",
        {},
        EXPLICIT_DENY,
    ),
    (
        "unknown operator fails closed",
        policy(allow("s3:*", "*", Condition={"DateLessThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"}})),
        "s3:GetObject",
        f"{BUCKET}/k",
        {},
        EXPLICIT_DENY,
    ),
    (
        "a Principal in an identity policy fails closed",
        policy(allow("s3:*", "*", Principal="*")),
        "s3:GetObject",
        f"{BUCKET}/k",
        {},
        EXPLICIT_DENY,
    ),
    ("no statements", policy(), "s3:GetObject", f"{BUCKET}/k", {}, IMPLICIT_DENY),
    (
        "bad Effect",
        policy({"Effect": "allow", "Action": "s3:*", "Resource": "*"}),
        "s3:GetObject",
        "x",
        {},
        EXPLICIT_DENY,
    ),
]


@pytest.mark.parametrize(
    ("policy_doc", "action", "resource", "context", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_identity_policy_evaluation(policy_doc, action, resource, context, expected):
    assert evaluate([policy_doc], action, resource, context).decision == expected


def test_policies_are_evaluated_together_and_a_deny_in_any_wins():
    grants = policy(allow("s3:GetObject", f"{BUCKET}/*"))
    guard = policy(deny("s3:GetObject", f"{BUCKET}/secret"))
    assert evaluate([grants, guard], "s3:GetObject", f"{BUCKET}/secret", {}).decision == EXPLICIT_DENY
    assert evaluate([grants, guard], "s3:GetObject", f"{BUCKET}/open", {}).allowed
    assert evaluate([], "s3:GetObject", f"{BUCKET}/open", {}).decision == IMPLICIT_DENY


def test_json_text_as_iam_stores_it_and_invalid_json_fails_closed():
    import json

    text = json.dumps(policy(allow("s3:GetObject", f"{BUCKET}/k")))
    assert evaluate([text], "s3:GetObject", f"{BUCKET}/k", {}).allowed
    verdict = evaluate(["{not json"], "s3:GetObject", f"{BUCKET}/k", {})
    assert verdict.decision == EXPLICIT_DENY and "not JSON" in verdict.reason


def test_the_denial_says_why():
    verdict = evaluate([policy(allow("s3:GetObject", f"{BUCKET}/k"))], "s3:PutObject", f"{BUCKET}/k", {})
    assert verdict.reason == "because no identity-based policy allows the s3:PutObject action"
    verdict = evaluate([policy(allow("s3:*"), deny("s3:PutObject", "*", Sid="NoWrites"))], "s3:PutObject", "x", {})
    assert verdict.statement == "NoWrites" and "explicit deny" in verdict.reason


ARN_CASES = [
    ("arn:aws:scheduler:*:1:schedule-group/g", "arn:aws:scheduler:ap-south-1:1:schedule-group/g", True),
    ("arn:aws:scheduler:*:1:schedule-group/g/*", "arn:aws:scheduler:ap-south-1:1:schedule-group/g", False),
    ("arn:aws:scheduler:*:1:schedule/g/*", "arn:aws:scheduler:ap-south-1:1:schedule/g/s", True),
    ("arn:aws:scheduler:*:1:schedule/g/*", "arn:aws:scheduler:ap-south-1:2:schedule/g/s", False),
    ("arn:aws:s3:::b/*", "arn:aws:s3:::b/a:b/c", True),  # the resource part keeps its colons
    ("arn:aws:s3:::b", "arn:aws:s3:::B", False),
    ("arn:*:s3:::b", "arn:aws-cn:s3:::b", True),
    ("*", "arn:aws:s3:::b", False),  # ArnLike needs six parts; a bare "*" Resource is handled apart
    ("arn:aws:s3:::b", "not-an-arn", False),
]


@pytest.mark.parametrize(("pattern", "arn", "expected"), ARN_CASES)
def test_arn_like_matches_part_by_part(pattern, arn, expected):
    assert arn_like(pattern, arn) is expected


GROUP = "arn:aws:scheduler:ap-south-1:123456789012:schedule-group/pipeline"
SCHEDULER_CONTEXT = {"aws:SourceArn": GROUP, "aws:SourceAccount": "123456789012"}


def test_the_shipped_scheduler_trust_lets_scheduler_in_with_what_it_sends():
    trust = scheduler_trust_policy("123456789012", GROUP)
    assert trust_allows(trust, "scheduler.amazonaws.com", "sts:AssumeRole", SCHEDULER_CONTEXT).allowed
    # ...and the older documented form (a schedule of the group as the source) too
    older = {**SCHEDULER_CONTEXT, "aws:SourceArn": GROUP.replace("schedule-group/", "schedule/") + "/s"}
    assert trust_allows(trust, "scheduler.amazonaws.com", "sts:AssumeRole", older).allowed


@pytest.mark.parametrize(
    ("service", "context", "why"),
    [
        ("lambda.amazonaws.com", SCHEDULER_CONTEXT, "another service"),
        ("scheduler.amazonaws.com", {**SCHEDULER_CONTEXT, "aws:SourceAccount": "999999999999"}, "another account"),
        ("scheduler.amazonaws.com", {**SCHEDULER_CONTEXT, "aws:SourceArn": GROUP + "-other"}, "another group"),
        ("scheduler.amazonaws.com", {"aws:SourceAccount": "123456789012"}, "no source ARN"),
    ],
)
def test_the_shipped_scheduler_trust_refuses_the_rest(service, context, why):
    trust = scheduler_trust_policy("123456789012", GROUP)
    assert not trust_allows(trust, service, "sts:AssumeRole", context).allowed, why


def test_the_old_scheduler_trust_refuses_what_scheduler_sends():
    """Issue 18: `schedule-group/<group>/*` cannot match the group ARN Scheduler puts in aws:SourceArn."""
    old = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "scheduler.amazonaws.com"},
                "Action": "sts:AssumeRole",
                "Condition": {
                    "StringEquals": {"aws:SourceAccount": "123456789012"},
                    "ArnLike": {"aws:SourceArn": f"{GROUP}/*"},
                },
            }
        ],
    }
    verdict = trust_allows(old, "scheduler.amazonaws.com", "sts:AssumeRole", SCHEDULER_CONTEXT)
    assert verdict.decision == IMPLICIT_DENY


def test_trust_principals():
    anyone = policy({"Effect": "Allow", "Principal": "*", "Action": "sts:AssumeRole"})
    assert trust_allows(anyone, "glue.amazonaws.com", "sts:AssumeRole", {}).allowed
    listed = policy(
        {
            "Effect": "Allow",
            "Principal": {"Service": ["a.amazonaws.com", "glue.amazonaws.com"]},
            "Action": "sts:AssumeRole",
        }
    )
    assert trust_allows(listed, "glue.amazonaws.com", "sts:AssumeRole", {}).allowed
    assert not trust_allows(listed, "lambda.amazonaws.com", "sts:AssumeRole", {}).allowed
    other_action = policy(
        {"Effect": "Allow", "Principal": {"Service": "glue.amazonaws.com"}, "Action": "sts:TagSession"}
    )
    assert not trust_allows(other_action, "glue.amazonaws.com", "sts:AssumeRole", {}).allowed
    not_principal = policy({"Effect": "Allow", "NotPrincipal": {"Service": "x"}, "Action": "sts:AssumeRole"})
    assert trust_allows(not_principal, "glue.amazonaws.com", "sts:AssumeRole", {}).decision == EXPLICIT_DENY


def test_the_shipped_execution_policy_grants_the_history_and_pointer_keys_and_nothing_next_to_them():
    document = execution_policy(
        partition="aws",
        bucket="b",
        input_key="in.csv",
        output_prefix="out/",
        log_group_arn="arn:aws:logs:r:1:log-group:/aws/lambda/f",
    )
    assert evaluate([document], "s3:GetObject", f"{BUCKET}/out/quality/history.json", {}).allowed
    assert evaluate([document], "s3:GetObject", f"{BUCKET}/in.csv", {}).allowed
    assert evaluate([document], "s3:GetObject", f"{BUCKET}/out/latest.json", {}).allowed  # read back after a failure
    assert not evaluate([document], "s3:GetObject", f"{BUCKET}/out/summary.json", {}).allowed
    assert not evaluate([document], "s3:GetObject", f"{BUCKET}/out/runs/r1/run.json", {}).allowed
    assert not evaluate([document], "s3:PutObject", f"{BUCKET}/in.csv", {}).allowed
    assert not evaluate([document], "s3:DeleteObject", f"{BUCKET}/out/latest.json", {}).allowed
    assert evaluate([document], "s3:DeleteObject", f"{BUCKET}/out/runs/r1/cleaned.csv", {}).allowed
