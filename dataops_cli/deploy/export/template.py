"""Assemble the template: parameters, the translated resources, what to upload, where, and why.

Values the plan carries as `${Name}` tokens (the bucket name, the alarm email, the layer,
the account id, the artifact bucket) become `Ref` when they are the whole value and
`Fn::Sub` when they are part of one; any other `${` in such a string is written `${!` so
Fn::Sub leaves it as it is
(https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/intrinsic-function-reference-sub.html).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from dataops_cli import __version__
from dataops_cli.config import Config
from dataops_cli.deploy.export.artifacts import ARTIFACT_BUCKET_TOKEN, Artifact, collect
from dataops_cli.deploy.export.capture import capture, layer_parameter, parameter_defaults
from dataops_cli.deploy.export.translate import translate
from dataops_cli.engines.base import traits

PSEUDO = frozenset({"AWS::AccountId", "AWS::Region", "AWS::Partition", "AWS::StackName"})
TOKEN = re.compile(r"\$\{([^}]*)\}")
DESCRIPTION_LIMIT = 1024  # CloudFormation's limit on a template's Description


@dataclass(frozen=True)
class Export:
    """The template and the files it needs, with where they go."""

    template: dict[str, Any]
    artifacts: list[Artifact]
    artifact_bucket: str  # a bucket name, or ARTIFACT_BUCKET_TOKEN when not uploaded
    prefix: str

    def location(self, artifact: Artifact) -> str:
        bucket = "<ArtifactBucket>" if self.artifact_bucket == ARTIFACT_BUCKET_TOKEN else self.artifact_bucket
        return f"s3://{bucket}/{artifact.key(self.prefix)}"


def build(config: Config, artifact_bucket: str | None = None, prefix: str | None = None) -> Export:
    """The template for `config`; artifacts at s3://artifact_bucket/prefix (a parameter when None)."""
    planned = capture(config)
    artifacts = collect(planned)
    bucket = artifact_bucket or ARTIFACT_BUCKET_TOKEN
    prefix = prefix if prefix is not None else f"dataops/{config.stack.name}/"
    code = next((a for a in artifacts if a.destination is None), None)
    location = {"S3Bucket": bucket, "S3Key": code.key(prefix)} if code else {}
    export = Export({}, artifacts, bucket, prefix)
    template: dict[str, Any] = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": description(config, export),
        "Metadata": {"dataops": metadata(config, export)},
        "Parameters": parameters(config, with_artifact_bucket=artifact_bucket is None),
        "Rules": region_rule(config),
        "Resources": translate(planned, location),
        "Outputs": outputs(config, export),
    }
    return Export(substituted(template, set(template["Parameters"]) | PSEUDO), artifacts, bucket, prefix)


def parameters(config: Config, with_artifact_bucket: bool) -> dict[str, Any]:
    defaults = parameter_defaults(config)
    found: dict[str, Any] = {
        "BucketName": {
            "Type": "String",
            "Default": defaults["BucketName"],
            "Description": "The pipeline's bucket (bucket.name): input, outputs and run history",
            "AllowedPattern": r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$",
            "ConstraintDescription": "an S3 bucket name: 3-63 lowercase letters, digits, '.' or '-'",
        }
    }
    if "AlarmEmail" in defaults:
        found["AlarmEmail"] = {
            "Type": "String",
            "Default": defaults["AlarmEmail"],
            "Description": "Who the alarms email (alarm.email); the address must confirm the subscription",
            "AllowedPattern": r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
        }
    if "LayerArn" in defaults:
        kind, default = layer_parameter(config)
        found["LayerArn"] = {
            "Type": kind,
            "Default": default,
            "Description": "The AWS SDK for pandas layer version ARN"
            + (" (function.layer_arn)" if kind == "String" else ", read from AWS's public SSM parameter"),
        }
    if with_artifact_bucket:
        found["ArtifactBucket"] = {
            "Type": "String",
            "Description": "The bucket you uploaded the files listed in the Description to (same region as the stack)",
            "AllowedPattern": r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$",
        }
    return found


def region_rule(config: Config) -> dict[str, Any]:
    """The plan names ARNs and a dashboard in stack.region: deploying elsewhere is refused before anything starts."""
    return {
        "StackRegion": {
            "Assertions": [
                {
                    "Assert": {"Fn::Equals": [{"Ref": "AWS::Region"}, config.region]},
                    "AssertDescription": f"exported for stack.region {config.region}: deploy it there, or "
                    "export again with --region",
                }
            ]
        }
    }


def copy_commands(export: Export) -> list[str]:
    """One CopyObject per file that must be in the stack's bucket (tokens resolved by Fn::Sub).

    s3api copy-object, not `aws s3 cp`: the key is exact (`processed/` is an object, not a
    folder to copy into) and the object's metadata (`sha256`) is copied with it.
    """
    return [
        f"aws s3api copy-object --bucket ${{BucketName}} --key {a.destination} "
        f"--copy-source {export.artifact_bucket}/{a.key(export.prefix)}"
        for a in export.artifacts
        if a.destination is not None
    ]


def outputs(config: Config, export: Export) -> dict[str, Any]:
    found: dict[str, Any] = {
        "BucketName": {"Description": "The pipeline's bucket", "Value": "${BucketName}"},
        "CopyCommands": {
            "Description": "Run once the stack is created: copies the input, the output marker "
            "(and the Glue job's files) into the bucket",
            "Value": " && ".join(copy_commands(export)),
        },
    }
    if traits(config.function.engine).runs_function:
        found["FunctionName"] = {"Description": "The pipeline's Lambda function", "Value": config.function.name}
    else:
        found["GlueJobName"] = {"Description": "The pipeline's Glue job", "Value": config.glue_job}
    return found


def description(config: Config, export: Export) -> str:
    uploaded = export.artifact_bucket != ARTIFACT_BUCKET_TOKEN
    files = ", ".join(f"{a.what} {a.key(export.prefix)}" for a in export.artifacts)
    where = (
        "uploaded to s3://" + export.artifact_bucket if uploaded else "upload to the ArtifactBucket parameter's bucket"
    )
    text = (
        f"dataops stack {config.stack.name} (engine {config.function.engine}, {config.region}), exported by "
        f"dataops {__version__}; manage it with CloudFormation, not `dataops up`/`down`. Files ({where}): {files}. "
        "After creation run the CopyCommands output."
    )
    return text if len(text) <= DESCRIPTION_LIMIT else text[: DESCRIPTION_LIMIT - 30] + "... (see Metadata.dataops)"


def metadata(config: Config, export: Export) -> dict[str, Any]:
    return {
        "stack": config.stack.name,
        "engine": config.function.engine,
        "exported_by": f"dataops {__version__}",
        "artifacts": [
            {
                "what": a.what,
                "sha256": a.sha256,
                "bytes": a.size,
                "upload_to": export.location(a),
                **({"copy_to": f"s3://<BucketName>/{a.destination}"} if a.destination else {}),
            }
            for a in export.artifacts
        ],
    }


def substituted(value: Any, names: set[str]) -> Any:
    """Tokens of known names as Ref / Fn::Sub, however deep."""
    if isinstance(value, dict):
        return {k: substituted(v, names) for k, v in value.items()}
    if isinstance(value, list):
        return [substituted(v, names) for v in value]
    if not isinstance(value, str):
        return value
    used = [m.group(1) for m in TOKEN.finditer(value) if m.group(1) in names]
    if not used:
        return value
    whole = TOKEN.fullmatch(value)
    if whole and whole.group(1) in names:
        return {"Ref": whole.group(1)}
    return {"Fn::Sub": TOKEN.sub(lambda m: m.group(0) if m.group(1) in names else "${!" + m.group(1) + "}", value)}
