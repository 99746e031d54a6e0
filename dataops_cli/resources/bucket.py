"""The S3 bucket (tags, public access block, encryption, lifecycle) and its TLS-only policy."""

from __future__ import annotations

import time
from typing import Any

from botocore.exceptions import ClientError

from dataops_cli.aws import DataopsError, error_code, not_found
from dataops_cli.policies import tls_only_bucket_policy
from dataops_cli.resources.base import Action, Change, Resource, canonical, missing_tags, tag_dict, tag_list

PUBLIC_ACCESS_BLOCK = {
    "BlockPublicAcls": True,
    "IgnorePublicAcls": True,
    "BlockPublicPolicy": True,
    "RestrictPublicBuckets": True,
}
ENCRYPTION = {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}
LIFECYCLE_RULE_ID = "dataops-expire-runs"
EMPTY_RETRY_SECONDS = 2


def read_or_none(call: Any, **kwargs: Any) -> dict[str, Any] | None:
    """A read that answers None when the thing is absent (and raises on anything else)."""
    try:
        return call(**kwargs)
    except ClientError as exc:
        if not_found(exc):
            return None
        raise


def bucket_tags(s3: Any, bucket: str) -> dict[str, str]:
    response = read_or_none(s3.get_bucket_tagging, Bucket=bucket)
    return tag_dict(response["TagSet"]) if response else {}


def bucket_exists(s3: Any, bucket: str) -> bool:
    """True if it exists and is ours to see; a bucket another account owns is an error, not absent."""
    try:
        s3.head_bucket(Bucket=bucket)
    except ClientError as exc:
        if not_found(exc):
            return False
        if error_code(exc) in ("403", "AccessDenied"):
            raise DataopsError(
                f"bucket {bucket!r} exists but this account cannot use it (403)",
                "bucket names are global: another account probably owns it; set bucket.name in config.toml",
            ) from exc
        raise
    return True


class Bucket(Resource):
    kind = "S3 bucket"

    @property
    def name(self) -> str:
        return self.config.bucket.name

    def _lifecycle(self) -> dict[str, Any]:
        return {
            "Rules": [
                {
                    "ID": LIFECYCLE_RULE_ID,
                    "Filter": {"Prefix": self.config.runs_prefix},
                    "Status": "Enabled",
                    "Expiration": {"Days": self.config.bucket.run_retention_days},
                    "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
                }
            ]
        }

    def plan(self) -> Change:
        s3 = self.ctx.client("s3")
        self._todo: list[str] = []
        if not bucket_exists(s3, self.name):
            self._todo = ["create", "tags", "public_access", "encryption", "lifecycle"]
            return self.change(Action.CREATE, f"region {self.config.region}")
        tags = bucket_tags(s3, self.name)
        if not self.ctx.owned(tags):
            return self.ctx.not_ours(self.kind, self.name, tags)
        details = []
        if missing_tags(tags, self.ctx.tags):
            self._todo.append("tags")
            details.append("tags")
        access = read_or_none(s3.get_public_access_block, Bucket=self.name)
        if not access or access["PublicAccessBlockConfiguration"] != PUBLIC_ACCESS_BLOCK:
            self._todo.append("public_access")
            details.append("public access block")
        encryption = read_or_none(s3.get_bucket_encryption, Bucket=self.name)
        if (
            not encryption
            or encryption["ServerSideEncryptionConfiguration"]["Rules"][0]["ApplyServerSideEncryptionByDefault"]
            != ENCRYPTION["Rules"][0]["ApplyServerSideEncryptionByDefault"]
        ):
            self._todo.append("encryption")
            details.append("default encryption")
        lifecycle = read_or_none(s3.get_bucket_lifecycle_configuration, Bucket=self.name)
        ours = [r for r in (lifecycle or {}).get("Rules", []) if r.get("ID") == LIFECYCLE_RULE_ID]
        if ours != self._lifecycle()["Rules"]:
            self._todo.append("lifecycle")
            details.append(
                f"lifecycle: expire {self.config.runs_prefix} after {self.config.bucket.run_retention_days} days"
            )
        return self.change(Action.UPDATE if self._todo else Action.UNCHANGED, *details)

    def apply(self, change: Change) -> None:
        s3 = self.ctx.client("s3")
        if "create" in self._todo:
            kwargs: dict[str, Any] = {"Bucket": self.name}
            if self.config.region != "us-east-1":
                kwargs["CreateBucketConfiguration"] = {"LocationConstraint": self.config.region}
            s3.create_bucket(**kwargs)
            s3.get_waiter("bucket_exists").wait(Bucket=self.name, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
        if "tags" in self._todo:
            current = {} if "create" in self._todo else bucket_tags(s3, self.name)
            s3.put_bucket_tagging(Bucket=self.name, Tagging={"TagSet": tag_list({**current, **self.ctx.tags})})
        if "public_access" in self._todo:
            s3.put_public_access_block(Bucket=self.name, PublicAccessBlockConfiguration=PUBLIC_ACCESS_BLOCK)
        if "encryption" in self._todo:
            s3.put_bucket_encryption(Bucket=self.name, ServerSideEncryptionConfiguration=ENCRYPTION)
        if "lifecycle" in self._todo:
            s3.put_bucket_lifecycle_configuration(Bucket=self.name, LifecycleConfiguration=self._lifecycle())

    def plan_destroy(self) -> Change:
        s3 = self.ctx.client("s3")
        if not bucket_exists(s3, self.name):
            return self.change(Action.ABSENT)
        tags = bucket_tags(s3, self.name)
        if not self.ctx.owned(tags):
            return self.ctx.not_ours(self.kind, self.name, tags)
        count = sum(
            len(page.get("Versions", [])) + len(page.get("DeleteMarkers", []))
            for page in s3.get_paginator("list_object_versions").paginate(Bucket=self.name)
        )
        return self.change(Action.DELETE, f"{count} object versions to empty" if count else "empty")

    def destroy(self, change: Change) -> Change:
        """Empty (every version, delete marker and pending upload), then delete.

        A run already going when `down` deleted the function and schedule can still write
        its outputs (for up to the function's timeout): DeleteBucket then answers
        BucketNotEmpty, so empty again and retry until that run must have ended.
        """
        s3 = self.ctx.client("s3")
        deadline = time.monotonic() + self.config.function.timeout_seconds + 15
        emptied = 0
        while True:
            emptied += self._empty(s3, emptied)
            try:
                s3.delete_bucket(Bucket=self.name)
                return self.change(Action.DELETE, f"emptied {emptied} object versions" if emptied else "was empty")
            except ClientError as exc:
                if error_code(exc) != "BucketNotEmpty" or time.monotonic() > deadline:
                    raise
                self.ctx.progress("a run still in flight wrote new objects; emptying the bucket again")
                time.sleep(EMPTY_RETRY_SECONDS)

    def _empty(self, s3: Any, before: int = 0) -> int:
        """Delete every version and delete marker (and abort pending uploads); returns how many."""
        deleted = 0
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=self.name):
            batch = [
                {"Key": v["Key"], "VersionId": v["VersionId"]}
                for v in page.get("Versions", []) + page.get("DeleteMarkers", [])
            ]
            for start in range(0, len(batch), 1000):
                chunk = batch[start : start + 1000]
                response = s3.delete_objects(Bucket=self.name, Delete={"Objects": chunk, "Quiet": True})
                if response.get("Errors"):
                    first = response["Errors"][0]
                    raise DataopsError(
                        f"could not delete s3://{self.name}/{first['Key']}: {first['Code']}: {first['Message']}"
                    )
                deleted += len(chunk)
                self.ctx.progress(f"emptied {before + deleted} object versions so far")
        for page in s3.get_paginator("list_multipart_uploads").paginate(Bucket=self.name):
            for upload in page.get("Uploads", []):
                s3.abort_multipart_upload(Bucket=self.name, Key=upload["Key"], UploadId=upload["UploadId"])
        return deleted


class BucketPolicy(Resource):
    """Deny every request that does not use TLS."""

    kind = "S3 bucket policy"

    @property
    def name(self) -> str:
        return f"{self.config.bucket.name} (TLS only)"

    def _document(self) -> dict[str, Any]:
        return tls_only_bucket_policy(self.ctx.aws.partition, self.config.bucket.name)

    def plan(self) -> Change:
        if "tls_policy" in self.ctx.gaps:
            return self.change(Action.SKIPPED, self.ctx.gaps["tls_policy"])
        s3 = self.ctx.client("s3")
        if not bucket_exists(s3, self.config.bucket.name):
            return self.change(Action.CREATE)
        current = read_or_none(s3.get_bucket_policy, Bucket=self.config.bucket.name)
        if current is None:
            return self.change(Action.CREATE)
        if canonical(current["Policy"]) == canonical(self._document()):
            return self.change(Action.UNCHANGED)
        return self.change(Action.UPDATE, "policy differs from the TLS-only policy")

    def apply(self, change: Change) -> None:
        self.ctx.client("s3").put_bucket_policy(Bucket=self.config.bucket.name, Policy=canonical(self._document()))

    def plan_destroy(self) -> None:
        return None  # goes with the bucket
