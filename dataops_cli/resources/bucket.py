"""The S3 bucket (tags, public access block, encryption, lifecycle) and its TLS-only policy."""

from __future__ import annotations

import time
from typing import Any

from botocore.exceptions import ClientError, ParamValidationError

from dataops_cli.aws import DataopsError, error_code, http_status, not_found
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
ADOPT_NOTE = "adopting the empty, untagged bucket a half-finished `up` left"
# A CreateBucket answer that is not about the Tags parameter: never retried without tags.
CREATE_ERRORS_NOT_ABOUT_TAGS = frozenset(
    {
        "BucketAlreadyExists",
        "BucketAlreadyOwnedByYou",
        "AccessDenied",
        "IllegalLocationConstraintException",
        "OperationAborted",
        "TooManyBuckets",
    }
)


# The request parameter that names the thing read: a 4xx whose message says it does not exist means absent.
NAME_PARAMETERS = ("Bucket", "Key", "FunctionName", "RoleName", "DashboardName", "Name", "TopicArn", "PolicyName")


def read_or_none(call: Any, **kwargs: Any) -> dict[str, Any] | None:
    """A read that answers None when the thing is absent (and raises on anything else)."""
    try:
        return call(**kwargs)
    except ClientError as exc:
        named = [str(kwargs[k]) for k in NAME_PARAMETERS if k in kwargs]
        if not_found(exc) or any(not_found(exc, name) for name in named):
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
        details = []
        if not tags and (why_not := self.why_not_adoptable(s3)):
            tags = bucket_tags(s3, self.name)  # a concurrent `up` may have tagged and configured it meanwhile
            if not tags:
                refusal = self.ctx.not_ours(self.kind, self.name, tags)
                return self.change(Action.REFUSED, f"{refusal.details[0]} ({why_not})")
        elif not tags:
            details.append(ADOPT_NOTE)
            self.ctx.progress(f"bucket {self.name} is empty, untagged and this account's: {ADOPT_NOTE}")
        if tags and not self.ctx.owned(tags):
            return self.ctx.not_ours(self.kind, self.name, tags)
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
            self._create(s3)
            self.ctx.progress(f"waiting up to 30 s for bucket {self.name} to be visible (HeadBucket)")
            s3.get_waiter("bucket_exists").wait(Bucket=self.name, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
        if "tags" in self._todo:
            current = bucket_tags(s3, self.name)  # after a create: did CreateBucket's Tags take?
            if missing_tags(current, self.ctx.tags):
                s3.put_bucket_tagging(Bucket=self.name, Tagging={"TagSet": tag_list({**current, **self.ctx.tags})})
        if "public_access" in self._todo:
            s3.put_public_access_block(Bucket=self.name, PublicAccessBlockConfiguration=PUBLIC_ACCESS_BLOCK)
        if "encryption" in self._todo:
            s3.put_bucket_encryption(Bucket=self.name, ServerSideEncryptionConfiguration=ENCRYPTION)
        if "lifecycle" in self._todo:
            s3.put_bucket_lifecycle_configuration(Bucket=self.name, LifecycleConfiguration=self._lifecycle())

    def _create(self, s3: Any) -> None:
        """CreateBucket with the stack's tags in the same call, so no untagged bucket can be left.

        `CreateBucketConfiguration.Tags` is recent: an older botocore rejects it before sending
        (ParamValidationError) and a backend may answer 4xx/501 (moto 5.2.1 said InvalidBucketName;
        moto 5.2.5 accepts it and drops the tags). Then the bucket is created without tags and
        PutBucketTagging follows: a window that `plan` closes by adopting an empty untagged bucket.
        """
        configuration: dict[str, Any] = {}
        if self.config.region != "us-east-1":
            configuration["LocationConstraint"] = self.config.region
        try:
            s3.create_bucket(
                Bucket=self.name, CreateBucketConfiguration={**configuration, "Tags": tag_list(self.ctx.tags)}
            )
            return
        except ParamValidationError:
            pass
        except ClientError as exc:
            status = http_status(exc) or 0
            if error_code(exc) in CREATE_ERRORS_NOT_ABOUT_TAGS or not (400 <= status < 500 or status == 501):
                raise
            self.ctx.progress(f"CreateBucket with tags refused ({error_code(exc)}); creating, then tagging")
        kwargs: dict[str, Any] = {"Bucket": self.name}
        if configuration:
            kwargs["CreateBucketConfiguration"] = configuration
        s3.create_bucket(**kwargs)

    def why_not_adoptable(self, s3: Any) -> str | None:
        """None if this untagged bucket is what a half-finished `up` leaves: this account's, empty, unconfigured.

        Public access block and SSE-S3 encryption are not counted: AWS sets both on every new
        bucket. moto ignores ExpectedBucketOwner (a bucket of another account gives 403 before this).
        """
        try:
            s3.head_bucket(Bucket=self.name, ExpectedBucketOwner=self.ctx.aws.account_id)
        except ClientError as exc:
            if error_code(exc) in ("403", "AccessDenied"):
                return "it belongs to another account"
            raise
        listing = s3.list_object_versions(Bucket=self.name, MaxKeys=1)
        if listing.get("Versions") or listing.get("DeleteMarkers"):
            return "it is not empty"
        if s3.list_multipart_uploads(Bucket=self.name, MaxUploads=1).get("Uploads"):
            return "it has uploads in progress"
        if read_or_none(s3.get_bucket_policy, Bucket=self.name):
            return "it has a bucket policy"
        if read_or_none(s3.get_bucket_lifecycle_configuration, Bucket=self.name):
            return "it has lifecycle rules"
        if s3.get_bucket_versioning(Bucket=self.name).get("Status"):
            return "versioning was configured"
        return None

    def plan_destroy(self) -> Change:
        s3 = self.ctx.client("s3")
        if not bucket_exists(s3, self.name):
            return self.change(Action.ABSENT)
        tags = bucket_tags(s3, self.name)
        if not self.ctx.owned(tags):
            if tags or (why_not := self.why_not_adoptable(s3)):
                refusal = self.ctx.not_ours(self.kind, self.name, tags)
                return refusal if tags else self.change(Action.REFUSED, f"{refusal.details[0]} ({why_not})")
            return self.change(Action.DELETE, "empty and untagged: left by a half-finished `up`")
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
                adopted = [d for d in change.details if "half-finished" in d]
                return self.change(
                    Action.DELETE, *adopted, f"emptied {emptied} object versions" if emptied else "was empty"
                )
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
