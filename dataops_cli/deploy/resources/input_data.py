"""The input CSV object and the output prefix marker.

The upload is skipped when S3 already holds the same bytes: the object carries the
SHA-256 of its content in its metadata (ETags are not content hashes for multipart or
KMS objects, so they are not used for the comparison).
"""

from __future__ import annotations

import hashlib
from functools import cached_property
from pathlib import Path

from dataops_cli.aws import DataopsError, read_or_none
from dataops_cli.deploy.resources.base import Action, Change, FileBody, Resource, Step
from dataops_cli.deploy.resources.bucket import bucket_exists

CHUNK = 8 << 20


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


class InputObject(Resource):
    kind = "S3 input object"

    @property
    def name(self) -> str:
        return f"s3://{self.config.bucket.name}/{self.config.bucket.input_key}"

    @cached_property
    def _local(self) -> Path:
        return self.config.input_path

    def plan(self) -> Change:
        s3 = self.ctx.client("s3")
        exists = bucket_exists(s3, self.config.bucket.name)
        head = (
            read_or_none(s3.head_object, Bucket=self.config.bucket.name, Key=self.config.bucket.input_key)
            if exists
            else None
        )
        if not self._local.is_file():
            if head is not None:
                return self.change(Action.SKIPPED, f"local file {self._local} not found; keeping the object in S3")
            raise DataopsError(
                f"bucket.input_file: {self._local} does not exist, and there is no input in S3 yet",
                "point bucket.input_file in config.toml at your CSV (relative to the config file)",
            )
        sha256 = file_sha256(self._local)
        size = self._local.stat().st_size
        if head is None:
            return self.change(
                Action.CREATE, f"upload {self._local.name} ({size:,} bytes)", steps=[self._upload(sha256)]
            )
        if head.get("Metadata", {}).get("sha256") == sha256:
            return self.change(Action.UNCHANGED, "same content")
        return self.change(
            Action.UPDATE, f"upload {self._local.name} ({size:,} bytes): content differs", steps=[self._upload(sha256)]
        )

    def _upload(self, sha256: str) -> Step:
        return self.step(
            "s3",
            "put_object",
            f"upload {self._local}",
            Bucket=self.config.bucket.name,
            Key=self.config.bucket.input_key,
            Body=FileBody(self._local, self._local.stat().st_size),
            ContentType="text/csv",
            Metadata={"sha256": sha256},
        )

    def plan_destroy(self) -> None:
        return None  # goes with the bucket


class OutputPrefix(Resource):
    """An empty `processed/` object, so the prefix shows in consoles before the first run."""

    kind = "S3 output prefix"

    @property
    def name(self) -> str:
        return f"s3://{self.config.bucket.name}/{self.config.bucket.output_prefix}"

    def plan(self) -> Change:
        s3 = self.ctx.client("s3")
        if bucket_exists(s3, self.config.bucket.name) and read_or_none(
            s3.head_object, Bucket=self.config.bucket.name, Key=self.config.bucket.output_prefix
        ):
            return self.change(Action.UNCHANGED)
        marker = self.step(
            "s3",
            "put_object",
            "an empty marker object",
            Bucket=self.config.bucket.name,
            Key=self.config.bucket.output_prefix,
            Body=b"",
        )
        return self.change(Action.CREATE, steps=[marker])

    def plan_destroy(self) -> None:
        return None  # goes with the bucket
