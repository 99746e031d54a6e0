"""`dataops export cloudformation`: thin click command over dataops_cli/deploy/export."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from dataops_cli.aws import DataopsError, explain
from dataops_cli.cli.app import App
from dataops_cli.cli.options import CONTEXT_SETTINGS


@click.group("export", context_settings=CONTEXT_SETTINGS)
def export_group() -> None:
    """Hand the stack to infrastructure as code (see docs/export.md)."""


@export_group.command("cloudformation", context_settings=CONTEXT_SETTINGS)
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), help="Write here (default: stdout).")
@click.option("--format", "fmt", type=click.Choice(["yaml", "json"]), default="yaml", show_default=True)
@click.option("--force", is_flag=True, help="Replace --out if it exists.")
@click.option("--upload-to", metavar="S3URL", help="Upload the files the template needs to s3://BUCKET/PREFIX/.")
@click.option(
    "--artifacts-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Without --upload-to: also write those files here, at the keys the template names.",
)
@click.pass_obj
def cloudformation(
    app: App, out: Path | None, fmt: str, force: bool, upload_to: str | None, artifacts_dir: Path | None
) -> None:
    """Write a CloudFormation template that creates the stack `up` creates.

    Built from the same plan code as `up` (every resource planned as if none
    existed): the same names, `dataops:stack` tags, settings and policy
    documents, so status, logs, runs, cost and invoke work on the stack it
    creates. The bucket name, the alarm email and the pandas layer are
    parameters with the config's values as defaults. Reads nothing from AWS
    unless --upload-to is given.

    The function's zip, the input CSV and the Glue job's files cannot be made by
    a template: --upload-to puts them in S3 under content-addressed keys (as
    `aws cloudformation package` does) and the template references them;
    without it, the template's Description says which file to upload where
    (--artifacts-dir writes them out). After the stack is created, run its
    CopyCommands output once to put the input in the stack's bucket.

    A stack made this way belongs to CloudFormation: `dataops up` and `down`
    refuse it (update or delete the CloudFormation stack instead).

    \b
    Exit codes:
      0  written (and uploaded, with --upload-to)
      1  an AWS error while uploading, or --out exists (pass --force)
      2  bad config or option, e.g. bucket.input_file does not exist

    \b
    Examples:
      dataops export cloudformation --out template.yaml
      dataops export cloudformation --format json --out template.json
      dataops export cloudformation --upload-to s3://my-artifacts/dataops/
    """
    from dataops_cli.deploy.export.artifacts import parse_s3_url, write_local
    from dataops_cli.deploy.export.render import render, write_atomically
    from dataops_cli.deploy.export.template import build

    try:
        bucket, prefix = parse_s3_url(upload_to) if upload_to else (None, None)
    except DataopsError as exc:
        raise click.BadParameter(f"{exc} ({exc.hint})", param_hint="--upload-to") from exc
    export = build(app.config, bucket, prefix)
    if bucket is not None:
        _upload(app, export, bucket)
    elif artifacts_dir is not None:
        for path in write_local(artifacts_dir, export.prefix, export.artifacts):
            click.echo(f"wrote {path}", err=True)
    text = render(export.template, fmt)
    if out is None:
        click.echo(text, nl=False)
        return
    write_atomically(out, text, force)
    resources = len(export.template["Resources"])
    click.echo(f"Wrote {out}: {resources} resources, {len(export.artifacts)} files to upload.", err=True)


def _upload(app: App, export: Any, bucket: str) -> None:
    """Put the files in s3://bucket/prefix (those already there are left), saying which is where."""
    from botocore.exceptions import BotoCoreError, ClientError

    from dataops_cli.deploy.export.artifacts import upload

    try:
        done = upload(app.aws().client("s3"), bucket, export.prefix, export.artifacts)
    except (ClientError, BotoCoreError) as exc:
        raise explain(exc, f"uploading to s3://{bucket}/{export.prefix}") from exc
    for artifact, uploaded in done:
        state = "uploaded" if uploaded else "already there"
        click.echo(f"{artifact.what}: {export.location(artifact)} ({state})", err=True)
