"""`up` and `down` leave a stack that CloudFormation created to CloudFormation.

CloudFormation tags what it creates with `aws:cloudformation:stack-name`
("Resource tag", https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-resource-tags.html);
the `aws:` prefix is reserved, so nothing else can have set it. A stack exported with
`dataops export cloudformation` and deployed by CloudFormation carries the same names and
`dataops:stack` tag as one `up` made: without this check `up` would change it behind
CloudFormation's back (drift) and `down` would delete it under CloudFormation.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

from botocore.exceptions import BotoCoreError, ClientError

from dataops_cli.aws import DataopsError, read_or_none
from dataops_cli.deploy.resources.base import StackContext, tag_dict
from dataops_cli.engines.base import traits

CFN_STACK_TAG = "aws:cloudformation:stack-name"


def _tag_readers(ctx: StackContext) -> Iterator[Callable[[], Mapping[str, str]]]:
    """The stack's first resources, by engine: one of them carries the tag if CloudFormation made the stack."""
    c = ctx.config

    def bucket() -> Mapping[str, str]:
        found = read_or_none(ctx.client("s3").get_bucket_tagging, Bucket=c.bucket.name)
        return tag_dict(found["TagSet"]) if found else {}

    def function() -> Mapping[str, str]:
        found = read_or_none(ctx.client("lambda").get_function, FunctionName=c.function.name)
        return (found or {}).get("Tags", {})

    def glue_job() -> Mapping[str, str]:
        found = read_or_none(ctx.client("glue").get_tags, ResourceArn=ctx.glue_job_arn)
        return (found or {}).get("Tags") or {}

    yield bucket
    yield function if traits(c.function.engine).runs_function else glue_job


def cloudformation_stack(ctx: StackContext) -> str | None:
    """The CloudFormation stack that created this dataops stack, or None.

    A read that fails here is not this check's to report: `up`'s and `down`'s own reads
    of the same resource say it with the resource's name, so it is skipped.
    """
    for read in _tag_readers(ctx):
        try:
            tags = read()
        except (ClientError, BotoCoreError):
            continue
        if CFN_STACK_TAG in tags:
            return tags[CFN_STACK_TAG]
    return None


def refuse_cloudformation_stack(ctx: StackContext, command: str) -> None:
    """Raise when CloudFormation manages this stack: `command` ("up" or "down") would fight it."""
    owner = cloudformation_stack(ctx)
    if owner is None:
        return
    todo = "update" if command == "up" else "delete"
    raise DataopsError(
        f"nothing was changed: stack {ctx.stack!r} was created by CloudFormation stack {owner!r} "
        f"(tag {CFN_STACK_TAG}); `dataops {command}` does not change what CloudFormation manages",
        f"{todo} the CloudFormation stack instead: aws cloudformation {todo}-stack --stack-name {owner}"
        + (" (with a template from `dataops export cloudformation`)" if command == "up" else ""),
    )
