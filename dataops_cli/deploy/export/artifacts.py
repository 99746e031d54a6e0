"""What a template cannot create itself: the function's zip, the input CSV, the Glue job's files.

Handled as `aws cloudformation package` handles local code: each file is uploaded under a
content-addressed key (its SHA-256), so an unchanged file is not uploaded again and a
changed one gets a new key (a stack update then sees a new S3Key and updates the code).
The bytes are those of `up`'s plan (the same zip `up` builds, the same CSV it uploads).

The function's zip is referenced in place (Code.S3Bucket/S3Key: CloudFormation reads it
when it creates the function). The input CSV and the Glue files must be in the stack's own
bucket, at the keys the execution role and the Glue job read; that bucket only exists once
the stack does, so the template names the copy to make (Outputs `CopyCommands`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dataops_cli.aws import DataopsError, read_or_none
from dataops_cli.deploy.export.capture import Planned
from dataops_cli.deploy.resources.base import FileBody

ARTIFACT_BUCKET_TOKEN = "${ArtifactBucket}"
CHUNK = 8 << 20


@dataclass(frozen=True)
class Artifact:
    """One file to upload before the stack is created."""

    what: str
    body: bytes | FileBody
    sha256: str
    suffix: str
    destination: str | None = None  # the key in the stack's bucket it must be copied to; None: used in place
    content_type: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return self.body.size if isinstance(self.body, FileBody) else len(self.body)

    def key(self, prefix: str) -> str:
        return f"{prefix}{self.sha256}{self.suffix}"


def _sha256(body: bytes | FileBody) -> str:
    digest = hashlib.sha256()
    if isinstance(body, bytes):
        digest.update(body)
        return digest.hexdigest()
    with body.path.open("rb") as stream:
        while chunk := stream.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _object(what: str, put: dict[str, Any]) -> Artifact:
    body = put["Body"]
    return Artifact(
        what=what,
        body=body,
        sha256=put.get("Metadata", {}).get("sha256") or _sha256(body),
        suffix=Path(put["Key"]).suffix,
        destination=put["Key"],
        content_type=put.get("ContentType"),
        metadata=dict(put.get("Metadata", {})),
    )


def collect(planned: list[Planned]) -> list[Artifact]:
    """The files of the plan, in `up`'s order; the empty output-prefix marker too (`status` looks for it)."""
    found = []
    for plan in planned:
        if plan.kind == "Function":
            data = plan.calls()["create_function"]["Code"]["ZipFile"]
            found.append(Artifact("function code (zip)", data, _sha256(data), ".zip"))
        elif plan.kind == "InputObject":
            found.append(_object("input CSV", plan.objects()[0]))
        elif plan.kind == "OutputPrefix":
            found.append(_object("output prefix marker (empty)", plan.objects()[0]))
        elif plan.kind == "GlueScript":
            found.extend(_object(f"Glue job file {Path(put['Key']).name}", put) for put in plan.objects())
    return found


def parse_s3_url(url: str) -> tuple[str, str]:
    """`s3://bucket/prefix/` -> (bucket, 'prefix/'); the prefix always ends with '/' (or is empty)."""
    if not url.startswith("s3://") or len(url) <= len("s3://"):
        raise DataopsError(
            f"--upload-to {url!r}: expected s3://BUCKET/PREFIX/", "e.g. --upload-to s3://my-artifacts/dataops/"
        )
    bucket, _, prefix = url[len("s3://") :].partition("/")
    if not bucket:
        raise DataopsError(f"--upload-to {url!r}: no bucket name", "e.g. --upload-to s3://my-artifacts/dataops/")
    return bucket, (prefix if not prefix or prefix.endswith("/") else prefix + "/")


def upload(s3: Any, bucket: str, prefix: str, artifacts: list[Artifact]) -> list[tuple[Artifact, bool]]:
    """Put each file not already there (a key names its content); (artifact, uploaded now) for each.

    The plan's content type and metadata go with it, so a copy into the stack's bucket
    carries the `sha256` metadata `up` compares by.
    """
    done = []
    for artifact in artifacts:
        key = artifact.key(prefix)
        if _exists(s3, bucket, key):
            done.append((artifact, False))
            continue
        extra: dict[str, Any] = {"Metadata": artifact.metadata} if artifact.metadata else {}
        if artifact.content_type:
            extra["ContentType"] = artifact.content_type
        if isinstance(artifact.body, FileBody):
            with artifact.body.path.open("rb") as stream:
                s3.put_object(Bucket=bucket, Key=key, Body=stream, **extra)
        else:
            s3.put_object(Bucket=bucket, Key=key, Body=artifact.body, **extra)
        done.append((artifact, True))
    return done


def _exists(s3: Any, bucket: str, key: str) -> bool:
    return read_or_none(s3.head_object, Bucket=bucket, Key=key) is not None


def write_local(directory: Path, prefix: str, artifacts: list[Artifact]) -> list[Path]:
    """The files under `directory`, at their keys, for uploading by hand."""
    written = []
    for artifact in artifacts:
        path = directory / artifact.key(prefix)
        path.parent.mkdir(parents=True, exist_ok=True)
        data = artifact.body.path.read_bytes() if isinstance(artifact.body, FileBody) else artifact.body
        path.write_bytes(data)
        written.append(path)
    return written
