"""Plan every resource `up` would create, as if none existed, and keep the plans' calls.

The config is planned with three values replaced by template parameters, written as
`${Name}` tokens that template.py turns into Ref/Fn::Sub: the bucket name, the alarm email
(when set) and the pandas layer's ARN (engine lambda). The account id is CloudFormation's
`${AWS::AccountId}` (empty_account.py). Everything else is the config's own value.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from dataops_cli.aws import DataopsError
from dataops_cli.config import Config
from dataops_cli.deploy.export.empty_account import EmptyAccount
from dataops_cli.deploy.pandas_layer import layer_parameter_names
from dataops_cli.deploy.resources.base import MUTATING, Action, Change, Resource, StackContext
from dataops_cli.deploy.stack import resources
from dataops_cli.engines.base import traits

BUCKET_TOKEN = "${BucketName}"
# What the bucket is called while planning: botocore checks bucket names before a request is
# built, so the token cannot be planned with; every occurrence becomes BUCKET_TOKEN after.
BUCKET_STAND_IN = "dataops-export-bucket-name-stand-in"
EMAIL_TOKEN = "${AlarmEmail}"
LAYER_TOKEN = "${LayerArn}"


@dataclass(frozen=True)
class Planned:
    """One resource of the plan and the CREATE `up` would make for it in an empty account."""

    resource: Resource
    change: Change

    @property
    def kind(self) -> str:
        return type(self.resource).__name__

    def calls(self) -> dict[str, dict[str, Any]]:
        """operation -> parameters, for the calls that create (waits left out); one call per operation."""
        found: dict[str, dict[str, Any]] = {}
        for step in self.change.steps:
            if step.wait:
                continue
            if step.operation in found and step.operation != "put_object":
                raise DataopsError(f"{self.kind}: the plan makes {step.operation} twice; cannot export it")
            found.setdefault(step.operation, detokenized(dict(step.params)))
        return found

    def objects(self) -> list[dict[str, Any]]:
        """Every PutObject of this plan (the input CSV, the Glue scripts, the output marker)."""
        return [detokenized(dict(s.params)) for s in self.change.steps if s.operation == "put_object"]


def detokenized(value: Any) -> Any:
    """The value with the bucket's stand-in name, however deep, replaced by BUCKET_TOKEN."""
    if isinstance(value, str):
        return value.replace(BUCKET_STAND_IN, BUCKET_TOKEN)
    if isinstance(value, Mapping):
        return {k: detokenized(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [detokenized(v) for v in value]
    return value


def parameter_defaults(config: Config) -> dict[str, str]:
    """The template parameters and their defaults: the config's values (the layer: see layer_parameter)."""
    defaults = {"BucketName": config.bucket.name}
    if config.alarm.enabled and config.alarm.email:
        defaults["AlarmEmail"] = config.alarm.email
    if traits(config.function.engine).runs_function:
        defaults["LayerArn"] = layer_parameter(config)[1]
    return defaults


def layer_parameter(config: Config) -> tuple[str, str]:
    """(parameter type, default) for the layer, as `up` resolves it.

    A pinned function.layer_arn is the default of a String parameter. Otherwise `up` reads
    AWS's public SSM parameter for the AWS SDK for pandas layer (pandas_layer.py): the
    template does the same, with a parameter of type AWS::SSM::Parameter::Value<String>
    whose default is that parameter's name, resolved by CloudFormation at deploy time
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/parameters-section-structure.html#aws-ssm-parameter-types).
    """
    f = config.function
    if f.layer_arn:
        return "String", f.layer_arn
    names = layer_parameter_names(f.layer_sdk_version, config.region, f.runtime, f.architecture)
    return "AWS::SSM::Parameter::Value<String>", names[0]


def tokenized(config: Config) -> Config:
    """The config with the parameterised values replaced by their tokens (validation is not rerun)."""
    alarm = config.alarm
    if alarm.enabled and alarm.email:
        alarm = replace(alarm, email=EMAIL_TOKEN)
    return replace(
        config,
        bucket=replace(config.bucket, name=BUCKET_STAND_IN),
        alarm=alarm,
        function=replace(config.function, layer_arn=""),
    )


def export_context(config: Config) -> StackContext:
    """A StackContext on an empty account, with the tokenised config."""
    return StackContext(
        config=tokenized(config), aws=EmptyAccount(config.region), layer_resolver=lambda _ctx: LAYER_TOKEN
    )


def capture(config: Config) -> list[Planned]:
    """What `up` would create, in `up`'s order; a resource `up` would skip (no alarm email) is left out."""
    config.check_input_file()  # as `up`: the input CSV is one of the artifacts
    ctx = export_context(config)
    planned = []
    for resource in resources(ctx):
        change = resource.plan()
        if change.action is Action.SKIPPED:
            continue
        if change.action not in MUTATING:
            raise DataopsError(f"{change.kind} {change.name}: planned {change.action} in an empty account")
        planned.append(Planned(resource, change))
    return planned
