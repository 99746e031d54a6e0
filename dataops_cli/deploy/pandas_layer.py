"""Find the ARN of AWS's managed AWS SDK for pandas layer for our region, runtime and architecture.

AWS publishes the ARNs as public SSM parameters; two path layouts have been used over the
releases (with and without the region), so both are asked for in one GetParameters call.
"""

from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError

from dataops_cli.aws import DataopsError, explain
from dataops_cli.deploy.resources.base import StackContext

AWS_LAYER_ACCOUNT = "336392948345"


def layer_parameter_names(sdk_version: str, region: str, runtime: str, architecture: str) -> list[str]:
    python = "py" + runtime.removeprefix("python")
    return [
        f"/aws/service/aws-sdk-pandas/{sdk_version}/{python}/{architecture}/layer-arn",
        f"/aws/service/aws-sdk-pandas/{sdk_version}/{region}/{python}/{architecture}/layer-arn",
    ]


def expected_layer_name(layer_name: str, architecture: str) -> str:
    return layer_name + ("-Arm64" if architecture == "arm64" and not layer_name.endswith("-Arm64") else "")


def resolve_pandas_layer(ctx: StackContext) -> str:
    """The layer version ARN from SSM, checked against the configured layer name."""
    f, region = ctx.config.function, ctx.config.region
    names = layer_parameter_names(f.layer_sdk_version, region, f.runtime, f.architecture)
    wanted = expected_layer_name(f.layer_name, f.architecture)
    example = f"arn:aws:lambda:{region}:{AWS_LAYER_ACCOUNT}:layer:{wanted}:<version>"
    try:
        found = ctx.client("ssm").get_parameters(Names=names).get("Parameters", [])
    except (ClientError, BotoCoreError) as exc:
        raise explain(exc, f"resolving the {f.layer_name} layer ARN from SSM") from exc
    if not found:
        raise DataopsError(
            f"cannot resolve the {f.layer_name} layer for {region}: no SSM parameter {names[0]}",
            f"pin it: set function.layer_arn in config.toml, e.g. {example} (see the AWS SDK for pandas layer list)",
        )
    arn = found[0]["Value"]
    if f":layer:{wanted}:" not in arn:
        raise DataopsError(
            f"SSM resolved {arn}, which is not the configured layer {wanted}",
            "set function.layer_arn in config.toml to the layer you want",
        )
    return arn
