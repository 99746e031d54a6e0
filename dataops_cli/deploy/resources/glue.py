"""The AWS Glue engine (function.engine = "glue"): the job's script in the bucket, its role, the job.

The script is uploaded under config.GLUE_SCRIPT_PREFIX (the pipeline never writes there:
config checks output_prefix and input_key stay outside it): handler/spark_job/glue_entry.py
as the job's ScriptLocation, and handler/ zipped deterministically as its --extra-py-files.
Each object carries the SHA-256 of its bytes in its metadata, so an unchanged handler
uploads nothing. UpdateJob replaces the whole job definition (a field left out goes back
to its default), so every update sends everything, like the schedule's.

moto 5.2 has CreateJob, GetJob, DeleteJob, GetTags and TagResource but no UpdateJob (it
raises NotImplementedError): on moto a drifted job can be planned but not updated. The
plan is AWS's; the equality tests (tests/unit/test_planning.py) check the update it makes.
"""

from __future__ import annotations

import hashlib
from functools import cached_property
from typing import Any

from dataops_cli.aws import read_or_none
from dataops_cli.config import GLUE_SCRIPT_PREFIX
from dataops_cli.deploy.packaging import GLUE_ENTRY, build_glue_package
from dataops_cli.deploy.policies import glue_job_policy, glue_trust_policy
from dataops_cli.deploy.resources.base import Action, Change, Resource, Step, differences, missing_tags
from dataops_cli.deploy.resources.bucket import bucket_exists, bucket_tags
from dataops_cli.deploy.resources.roles import Role
from handler.spark_job.glue_entry import EMPTY, OPTIONAL, REQUIRED

JOB_DESCRIPTION = "dataops pipeline on AWS Glue (Spark): impute, normalize and correlate the input CSV"


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class GlueScript(Resource):
    """The two objects the job runs: its entry script and handler/ as a zip."""

    kind = "S3 Glue job script"
    engines = ("glue",)

    @property
    def name(self) -> str:
        return f"s3://{self.config.bucket.name}/{GLUE_SCRIPT_PREFIX}"

    @cached_property
    def objects(self) -> dict[str, tuple[bytes, str]]:
        """Key -> (bytes, content type)."""
        return {
            self.config.glue_script_key: (GLUE_ENTRY.read_bytes(), "text/x-python"),
            self.config.glue_modules_key: (build_glue_package().data, "application/zip"),
        }

    def _stored_sha256(self, s3: Any, key: str) -> str | None:
        """None when absent; '' when present without our checksum."""
        head = read_or_none(s3.head_object, Bucket=self.config.bucket.name, Key=key)
        return None if head is None else head.get("Metadata", {}).get("sha256", "")

    def plan(self) -> Change:
        s3 = self.ctx.client("s3")
        exists = bucket_exists(s3, self.config.bucket.name)
        steps, details, created = [], [], 0
        for key, (data, content_type) in self.objects.items():
            digest = sha256_hex(data)
            stored = self._stored_sha256(s3, key) if exists else None
            if stored == digest:
                continue
            created += stored is None
            details.append(f"upload {key} ({len(data):,} bytes)" + ("" if stored is None else ": content differs"))
            steps.append(
                self.step(
                    "s3",
                    "put_object",
                    f"upload {key}",
                    Bucket=self.config.bucket.name,
                    Key=key,
                    Body=data,
                    ContentType=content_type,
                    Metadata={"sha256": digest},
                )
            )
        if not steps:
            return self.change(Action.UNCHANGED, "same content")
        return self.change(Action.CREATE if created == len(self.objects) else Action.UPDATE, *details, steps=steps)

    def plan_destroy(self) -> Change:
        """The objects go; their older versions stay in the bucket until `down` empties it."""
        s3 = self.ctx.client("s3")
        if not bucket_exists(s3, self.config.bucket.name):
            return self.change(Action.ABSENT)
        present = [key for key in self.objects if self._stored_sha256(s3, key) is not None]
        steps = [
            self.step("s3", "delete_object", f"delete {key}", Bucket=self.config.bucket.name, Key=key)
            for key in present
        ]
        return self.removal(bool(present), bucket_tags(s3, self.config.bucket.name), steps=steps)


class GlueRole(Role):
    description = "dataops: lets the pipeline's Glue job read its input and script, write its outputs and logs"
    engines = ("glue",)

    @property
    def name(self) -> str:
        return self.config.glue_role

    def trust_policy(self) -> dict[str, Any]:
        return glue_trust_policy(self.ctx.aws.account_id)

    def inline_policy(self) -> dict[str, Any]:
        return glue_job_policy(
            partition=self.ctx.aws.partition,
            region=self.config.region,
            account_id=self.ctx.aws.account_id,
            bucket=self.config.bucket.name,
            input_key=self.config.bucket.input_key,
            output_prefix=self.config.bucket.output_prefix,
            script_prefix=GLUE_SCRIPT_PREFIX,
        )


def job_arguments(config: Any) -> dict[str, str]:
    """The pipeline settings as Glue job arguments (`--BUCKET_NAME`, ...): see handler/spark_job/glue_entry.py.

    The function's whole environment: the pipeline settings and the [quality] ones
    (`--QUALITY_HISTORY_RUNS`, ...), which the Spark job runs the same checks with.
    """
    environment = config.handler_environment()
    return {f"--{key}": environment[key] or EMPTY for key in (*REQUIRED, *OPTIONAL)}


class GlueJob(Resource):
    kind = "Glue job"
    engines = ("glue",)

    @property
    def name(self) -> str:
        return self.config.glue_job

    def definition(self) -> dict[str, Any]:
        glue, bucket = self.config.glue, self.config.bucket.name
        return {
            "Description": JOB_DESCRIPTION,
            "Role": self.ctx.role_arn(self.config.glue_role),
            "ExecutionProperty": {"MaxConcurrentRuns": glue.max_concurrent_runs},
            "Command": {
                "Name": "glueetl",
                "ScriptLocation": f"s3://{bucket}/{self.config.glue_script_key}",
                "PythonVersion": "3",
            },
            "DefaultArguments": {
                "--extra-py-files": f"s3://{bucket}/{self.config.glue_modules_key}",
                **job_arguments(self.config),
            },
            "MaxRetries": 0,
            "Timeout": glue.timeout_minutes,
            "GlueVersion": glue.glue_version,
            "WorkerType": glue.worker_type,
            "NumberOfWorkers": glue.number_of_workers,
        }

    def _read(self) -> dict[str, Any] | None:
        found = read_or_none(self.ctx.client("glue").get_job, JobName=self.name)
        return found["Job"] if found else None

    def _tags(self) -> dict[str, str]:
        return dict(self.ctx.client("glue").get_tags(ResourceArn=self.ctx.glue_job_arn).get("Tags") or {})

    def ownership(self) -> str | None:
        return None if self._read() is None else self.ctx.foreign(self._tags())

    def plan(self) -> Change:
        current = self._read()
        desired = self.definition()
        if current is None:
            create = Step("glue", "create_job", {"Name": self.name, **desired, "Tags": self.ctx.tags}, "create the job")
            shape = f"Glue {desired['GlueVersion']}, {desired['NumberOfWorkers']} x {desired['WorkerType']}"
            return self.change(Action.CREATE, shape, steps=[create])
        tags = self._tags()
        if not self.ctx.owned(tags):
            return self.ctx.not_ours(self.kind, self.name, tags)
        # AWS adds fields to Command (e.g. Runtime) and to the job; only what we set is compared.
        seen = {**current, "Command": {k: current.get("Command", {}).get(k) for k in desired["Command"]}}
        changed = differences(seen, desired)
        steps = []
        if changed:
            steps.append(Step("glue", "update_job", {"JobName": self.name, "JobUpdate": desired}, "replace the job"))
        if missing := missing_tags(tags, self.ctx.tags):
            steps.append(
                self.step("glue", "tag_resource", "tag the job", ResourceArn=self.ctx.glue_job_arn, TagsToAdd=missing)
            )
            changed.append("tags")
        return self.change(Action.UPDATE if steps else Action.UNCHANGED, *changed, steps=steps)

    def plan_destroy(self) -> Change:
        exists = self._read() is not None
        delete = self.step("glue", "delete_job", "delete the job", JobName=self.name)
        return self.removal(exists, self._tags() if exists else {}, steps=[delete])
