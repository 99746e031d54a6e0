"""IAM roles: the function's execution role and the scheduler's invoke role, inline policies only."""

from __future__ import annotations

import json
from typing import Any

from dataops_cli.aws import read_or_none
from dataops_cli.deploy.policies import (
    execution_policy,
    lambda_trust_policy,
    scheduler_glue_policy,
    scheduler_policy,
    scheduler_trust_policy,
)
from dataops_cli.deploy.resources.base import (
    Action,
    Change,
    Resource,
    Step,
    canonical,
    missing_tags,
    tag_dict,
    tag_list,
)
from dataops_cli.engines.base import traits

POLICY_NAME = "dataops-least-privilege"


class Role(Resource):
    kind = "IAM role"
    description = ""

    def trust_policy(self) -> dict[str, Any]:
        raise NotImplementedError

    def inline_policy(self) -> dict[str, Any]:
        raise NotImplementedError

    def plan(self) -> Change:
        iam = self.ctx.client("iam")
        role = read_or_none(iam.get_role, RoleName=self.name)
        if role is None:
            create = self.step(
                "iam",
                "create_role",
                "create the role",
                RoleName=self.name,
                AssumeRolePolicyDocument=json.dumps(self.trust_policy()),
                Description=self.description,
                Tags=tag_list(self.ctx.tags),
            )
            return self.change(Action.CREATE, steps=[create, self._put_policy()])
        tags = tag_dict(role["Role"].get("Tags"))
        if not self.ctx.owned(tags):
            return self.ctx.not_ours(self.kind, self.name, tags)
        details, steps = [], []
        if canonical(role["Role"]["AssumeRolePolicyDocument"]) != canonical(self.trust_policy()):
            steps.append(
                self.step(
                    "iam",
                    "update_assume_role_policy",
                    "replace the trust policy",
                    RoleName=self.name,
                    PolicyDocument=json.dumps(self.trust_policy()),
                )
            )
            details.append("trust policy")
        current = read_or_none(iam.get_role_policy, RoleName=self.name, PolicyName=POLICY_NAME)
        if current is None or canonical(current["PolicyDocument"]) != canonical(self.inline_policy()):
            steps.append(self._put_policy())
            details.append(f"inline policy {POLICY_NAME}")
        if missing_tags(tags, self.ctx.tags):
            steps.append(self.step("iam", "tag_role", "tag the role", RoleName=self.name, Tags=tag_list(self.ctx.tags)))
            details.append("tags")
        return self.change(Action.UPDATE if steps else Action.UNCHANGED, *details, steps=steps)

    def ownership(self) -> str | None:
        role = read_or_none(self.ctx.client("iam").get_role, RoleName=self.name)
        return None if role is None else self.ctx.foreign(tag_dict(role["Role"].get("Tags")))

    def _put_policy(self) -> Step:
        return self.step(
            "iam",
            "put_role_policy",
            f"inline policy {POLICY_NAME}",
            RoleName=self.name,
            PolicyName=POLICY_NAME,
            PolicyDocument=json.dumps(self.inline_policy()),
        )

    def plan_destroy(self) -> Change:
        """Inline and attached policies first: IAM refuses to delete a role that has any."""
        iam = self.ctx.client("iam")
        role = read_or_none(iam.get_role, RoleName=self.name)
        tags = tag_dict(role["Role"].get("Tags")) if role else {}
        if role is None or not self.ctx.owned(tags):
            return self.removal(role is not None, tags)
        steps = [
            self.step("iam", "delete_role_policy", f"delete inline policy {name}", RoleName=self.name, PolicyName=name)
            for page in iam.get_paginator("list_role_policies").paginate(RoleName=self.name)
            for name in page["PolicyNames"]
        ]
        steps += [
            self.step(
                "iam", "detach_role_policy", f"detach {p['PolicyArn']}", RoleName=self.name, PolicyArn=p["PolicyArn"]
            )
            for page in iam.get_paginator("list_attached_role_policies").paginate(RoleName=self.name)
            for p in page["AttachedPolicies"]
        ]
        steps.append(self.step("iam", "delete_role", "delete the role", RoleName=self.name))
        return self.removal(True, tags, steps=steps)


class ExecutionRole(Role):
    description = "dataops: lets the pipeline function read its input, write its outputs and logs"
    engines = ("lambda",)

    @property
    def name(self) -> str:
        return self.config.execution_role

    def trust_policy(self) -> dict[str, Any]:
        return lambda_trust_policy()

    def inline_policy(self) -> dict[str, Any]:
        return execution_policy(
            partition=self.ctx.aws.partition,
            bucket=self.config.bucket.name,
            input_key=self.config.bucket.input_key,
            output_prefix=self.config.bucket.output_prefix,
            log_group_arn=self.ctx.log_group_arn,
        )


class SchedulerRole(Role):
    description = "dataops: lets the pipeline's schedule start the pipeline (its function or its Glue job)"

    @property
    def name(self) -> str:
        return self.config.scheduler_role

    def trust_policy(self) -> dict[str, Any]:
        return scheduler_trust_policy(self.ctx.aws.account_id, self.ctx.schedule_group_arn)

    def inline_policy(self) -> dict[str, Any]:
        if not traits(self.config.function.engine).runs_function:
            return scheduler_glue_policy(self.ctx.glue_job_arn)
        return scheduler_policy(self.ctx.function_arn)
