"""IAM roles: the function's execution role and the scheduler's invoke role, inline policies only."""

from __future__ import annotations

import json
from typing import Any

from dataops_cli.policies import execution_policy, lambda_trust_policy, scheduler_policy, scheduler_trust_policy
from dataops_cli.resources.base import Action, Change, Resource, canonical, missing_tags, tag_dict, tag_list
from dataops_cli.resources.bucket import read_or_none

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
        self._todo: list[str] = []
        role = read_or_none(iam.get_role, RoleName=self.name)
        if role is None:
            self._todo = ["create", "policy"]
            return self.change(Action.CREATE)
        tags = tag_dict(role["Role"].get("Tags"))
        if not self.ctx.owned(tags):
            return self.ctx.not_ours(self.kind, self.name, tags)
        details = []
        if canonical(role["Role"]["AssumeRolePolicyDocument"]) != canonical(self.trust_policy()):
            self._todo.append("trust")
            details.append("trust policy")
        current = read_or_none(iam.get_role_policy, RoleName=self.name, PolicyName=POLICY_NAME)
        if current is None or canonical(current["PolicyDocument"]) != canonical(self.inline_policy()):
            self._todo.append("policy")
            details.append(f"inline policy {POLICY_NAME}")
        if missing_tags(tags, self.ctx.tags):
            self._todo.append("tags")
            details.append("tags")
        return self.change(Action.UPDATE if self._todo else Action.UNCHANGED, *details)

    def apply(self, change: Change) -> None:
        iam = self.ctx.client("iam")
        if "create" in self._todo:
            iam.create_role(
                RoleName=self.name,
                AssumeRolePolicyDocument=json.dumps(self.trust_policy()),
                Description=self.description,
                Tags=tag_list(self.ctx.tags),
            )
        if "trust" in self._todo:
            iam.update_assume_role_policy(RoleName=self.name, PolicyDocument=json.dumps(self.trust_policy()))
        if "policy" in self._todo:
            iam.put_role_policy(
                RoleName=self.name, PolicyName=POLICY_NAME, PolicyDocument=json.dumps(self.inline_policy())
            )
        if "tags" in self._todo:
            iam.tag_role(RoleName=self.name, Tags=tag_list(self.ctx.tags))

    def plan_destroy(self) -> Change:
        role = read_or_none(self.ctx.client("iam").get_role, RoleName=self.name)
        return self.removal(role is not None, tag_dict(role["Role"].get("Tags")) if role else {})

    def destroy(self, change: Change) -> None:
        """Inline and attached policies first: IAM refuses to delete a role that has any."""
        iam = self.ctx.client("iam")
        for page in iam.get_paginator("list_role_policies").paginate(RoleName=self.name):
            for policy in page["PolicyNames"]:
                iam.delete_role_policy(RoleName=self.name, PolicyName=policy)
        for page in iam.get_paginator("list_attached_role_policies").paginate(RoleName=self.name):
            for policy in page["AttachedPolicies"]:
                iam.detach_role_policy(RoleName=self.name, PolicyArn=policy["PolicyArn"])
        iam.delete_role(RoleName=self.name)


class ExecutionRole(Role):
    description = "dataops: lets the pipeline function read its input, write its outputs and logs"

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
    description = "dataops: lets the pipeline's schedule invoke the pipeline function"

    @property
    def name(self) -> str:
        return self.config.scheduler_role

    def trust_policy(self) -> dict[str, Any]:
        return scheduler_trust_policy(self.ctx.aws.account_id, self.ctx.schedule_group_arn)

    def inline_policy(self) -> dict[str, Any]:
        return scheduler_policy(self.ctx.function_arn)
