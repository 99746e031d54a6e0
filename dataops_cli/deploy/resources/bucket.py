"""The S3 bucket (tags, public access block, encryption, lifecycle) and its TLS-only policy."""

from __future__ import annotations

import time
from typing import Any

from botocore.exceptions import ClientError, ParamValidationError

from dataops_cli.aws import DataopsError, error_code, http_status, not_found, read_or_none
from dataops_cli.deploy.policies import tls_only_bucket_policy
from dataops_cli.deploy.resources.base import (
    Action,
    Change,
    Resource,
    Step,
    canonical,
    foreign_tags,
    missing_tags,
    tag_dict,
    tag_list,
)

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
    _emptied = 0  # object versions deleted by this removal so far (for the progress note and the result)

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
        if not bucket_exists(s3, self.name):
            return self._creation()
        tags = bucket_tags(s3, self.name)
        details, steps = [], []
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
            steps.append(self._tagging(tags))
            details.append("tags")
        access = read_or_none(s3.get_public_access_block, Bucket=self.name)
        if not access or access["PublicAccessBlockConfiguration"] != PUBLIC_ACCESS_BLOCK:
            steps.append(self._public_access())
            details.append("public access block")
        encryption = read_or_none(s3.get_bucket_encryption, Bucket=self.name)
        if (
            not encryption
            or encryption["ServerSideEncryptionConfiguration"]["Rules"][0]["ApplyServerSideEncryptionByDefault"]
            != ENCRYPTION["Rules"][0]["ApplyServerSideEncryptionByDefault"]
        ):
            steps.append(self._encryption())
            details.append("default encryption")
        lifecycle = read_or_none(s3.get_bucket_lifecycle_configuration, Bucket=self.name)
        ours = [r for r in (lifecycle or {}).get("Rules", []) if r.get("ID") == LIFECYCLE_RULE_ID]
        if ours != self._lifecycle()["Rules"]:
            steps.append(self._lifecycle_step())
            details.append(
                f"lifecycle: expire {self.config.runs_prefix} after {self.config.bucket.run_retention_days} days"
            )
        return self.change(Action.UPDATE if steps else Action.UNCHANGED, *details, steps=steps)

    def _creation(self) -> Change:
        configuration: dict[str, Any] = {}
        if self.config.region != "us-east-1":
            configuration["LocationConstraint"] = self.config.region
        configuration["Tags"] = tag_list(self.ctx.tags)  # tagged in the same call: never left untagged
        steps = [
            self.step(
                "s3",
                "create_bucket",
                f"create the bucket in {self.config.region}",
                Bucket=self.name,
                CreateBucketConfiguration=configuration,
            ),
            Step(
                "s3",
                "bucket_exists",
                {"Bucket": self.name, "WaiterConfig": {"Delay": 1, "MaxAttempts": 30}},
                f"waiting up to 30 s for bucket {self.name} to be visible (HeadBucket)",
                wait=True,
            ),
            self._tagging({}),
            self._public_access(),
            self._encryption(),
            self._lifecycle_step(),
        ]
        return self.change(Action.CREATE, f"region {self.config.region}", steps=steps)

    def ownership(self) -> str | None:
        """Another account's (403), another stack's, or untagged and not what a half-finished `up` leaves."""
        s3 = self.ctx.client("s3")
        try:
            if not bucket_exists(s3, self.name):
                return None
        except DataopsError:
            return "another account owns it (403)"
        tags = bucket_tags(s3, self.name)
        if tags:
            return self.ctx.foreign(tags)
        why_not = self.why_not_adoptable(s3)
        return None if why_not is None else f"{foreign_tags(tags)} and {why_not}"

    def _tagging(self, current: dict[str, str]) -> Step:
        """PutBucketTagging replaces the whole set: tags someone else added are sent back unchanged."""
        tag_set = tag_list({**current, **self.ctx.tags})
        return self.step("s3", "put_bucket_tagging", "tag the bucket", Bucket=self.name, Tagging={"TagSet": tag_set})

    def _public_access(self) -> Step:
        return self.step(
            "s3",
            "put_public_access_block",
            "block every form of public access",
            Bucket=self.name,
            PublicAccessBlockConfiguration=PUBLIC_ACCESS_BLOCK,
        )

    def _encryption(self) -> Step:
        return self.step(
            "s3",
            "put_bucket_encryption",
            "default encryption SSE-S3",
            Bucket=self.name,
            ServerSideEncryptionConfiguration=ENCRYPTION,
        )

    def _lifecycle_step(self) -> Step:
        return self.step(
            "s3",
            "put_bucket_lifecycle_configuration",
            f"expire {self.config.runs_prefix} after {self.config.bucket.run_retention_days} days",
            Bucket=self.name,
            LifecycleConfiguration=self._lifecycle(),
        )

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
        """Every version, delete marker and pending upload, deleted in batches of 1000; then the bucket."""
        s3 = self.ctx.client("s3")
        if not bucket_exists(s3, self.name):
            return self.change(Action.ABSENT)
        tags = bucket_tags(s3, self.name)
        delete = self.step("s3", "delete_bucket", "delete the bucket", Bucket=self.name)
        if not self.ctx.owned(tags):
            if tags or (why_not := self.why_not_adoptable(s3)):
                refusal = self.ctx.not_ours(self.kind, self.name, tags)
                return refusal if tags else self.change(Action.REFUSED, f"{refusal.details[0]} ({why_not})")
            return self.change(Action.DELETE, "empty and untagged: left by a half-finished `up`", steps=[delete])
        steps = self._emptying_steps(s3)
        count = sum(len(step.params["Delete"]["Objects"]) for step in steps if step.operation == "delete_objects")
        steps.append(delete)
        return self.change(Action.DELETE, f"{count} object versions to empty" if count else "empty", steps=steps)

    def _create(self, step: Step) -> Any:
        try:
            return super().run_step(step)
        except ParamValidationError:
            pass
        except ClientError as exc:
            status = http_status(exc) or 0
            if error_code(exc) in CREATE_ERRORS_NOT_ABOUT_TAGS or not (400 <= status < 500 or status == 501):
                raise
            self.ctx.progress(f"CreateBucket with tags refused ({error_code(exc)}); creating, then tagging")
        configuration = {k: v for k, v in step.params["CreateBucketConfiguration"].items() if k != "Tags"}
        params = {"Bucket": self.name, **({"CreateBucketConfiguration": configuration} if configuration else {})}
        return self.ctx.client("s3").create_bucket(**params)

    def destroy(self, change: Change) -> Change:
        """Run the removal plan; the change done says how many object versions were actually emptied."""
        self._emptied = 0
        super().destroy(change)
        adopted = [d for d in change.details if "half-finished" in d]
        emptied = self._emptied
        return self.change(
            Action.DELETE,
            *adopted,
            f"emptied {emptied} object versions" if emptied else "was empty",
            steps=change.steps,
        )

    def _emptying_steps(self, s3: Any) -> list[Step]:
        versions = [
            {"Key": v["Key"], "VersionId": v["VersionId"]}
            for page in s3.get_paginator("list_object_versions").paginate(Bucket=self.name)
            for v in page.get("Versions", []) + page.get("DeleteMarkers", [])
        ]
        steps = [
            self.step(
                "s3",
                "delete_objects",
                f"delete {len(versions[start : start + 1000])} object versions",
                Bucket=self.name,
                Delete={"Objects": versions[start : start + 1000], "Quiet": True},
            )
            for start in range(0, len(versions), 1000)
        ]
        for page in s3.get_paginator("list_multipart_uploads").paginate(Bucket=self.name):
            for upload in page.get("Uploads", []):
                steps.append(
                    self.step(
                        "s3",
                        "abort_multipart_upload",
                        f"abort the pending upload of {upload['Key']}",
                        Bucket=self.name,
                        Key=upload["Key"],
                        UploadId=upload["UploadId"],
                    )
                )
        return steps

    def run_step(self, step: Step) -> Any:
        """Four calls need more than a call.

        CreateBucket sends the stack's tags in the same call, so no untagged bucket can be left.
        `CreateBucketConfiguration.Tags` is recent: an older botocore rejects it before sending
        (ParamValidationError) and a backend may answer 4xx/501 (moto 5.2.1 said InvalidBucketName;
        moto 5.2.5 accepts it and drops the tags). Then the bucket is created without tags, and
        the PutBucketTagging the plan holds next closes the gap (a window that `plan` closes by
        adopting an empty untagged bucket). That PutBucketTagging is skipped when a read shows
        CreateBucket's tags took.

        DeleteObjects reports failures in its answer; DeleteBucket empties again while a run in flight writes.

        A run already going when `down` deleted the function and schedule can still write
        its outputs (for up to the function's timeout): DeleteBucket then answers
        BucketNotEmpty, so empty again (reading what is there now) and retry until that
        run must have ended.
        """
        if step.operation == "create_bucket":
            return self._create(step)
        if step.operation == "put_bucket_tagging" and not missing_tags(
            bucket_tags(self.ctx.client("s3"), self.name), self.ctx.tags
        ):
            return None  # CreateBucket's tags took
        if step.operation == "delete_objects":
            response = super().run_step(step)
            if response.get("Errors"):
                first = response["Errors"][0]
                raise DataopsError(
                    f"could not delete s3://{self.name}/{first['Key']}: {first['Code']}: {first['Message']}"
                )
            self._emptied += len(step.params["Delete"]["Objects"])
            self.ctx.progress(f"emptied {self._emptied} object versions so far")
            return response
        if step.operation != "delete_bucket":
            return super().run_step(step)
        deadline = time.monotonic() + self.config.function.timeout_seconds + 15
        while True:
            try:
                return super().run_step(step)
            except ClientError as exc:
                if error_code(exc) != "BucketNotEmpty" or time.monotonic() > deadline:
                    raise
                self.ctx.progress("a run still in flight wrote new objects; emptying the bucket again")
                time.sleep(EMPTY_RETRY_SECONDS)
                for again in self._emptying_steps(self.ctx.client("s3")):
                    self.run_step(again)


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
        put = self.step(
            "s3",
            "put_bucket_policy",
            "deny every request without TLS",
            Bucket=self.config.bucket.name,
            Policy=canonical(self._document()),
        )
        current = (
            read_or_none(s3.get_bucket_policy, Bucket=self.config.bucket.name)
            if bucket_exists(s3, self.config.bucket.name)
            else None
        )
        if current is None:
            return self.change(Action.CREATE, steps=[put])
        if canonical(current["Policy"]) == canonical(self._document()):
            return self.change(Action.UNCHANGED)
        return self.change(Action.UPDATE, "policy differs from the TLS-only policy", steps=[put])

    def plan_destroy(self) -> None:
        return None  # goes with the bucket
