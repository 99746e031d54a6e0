"""The function's log group, created before the function so its retention and tags are ours.

Lambda would create `/aws/lambda/<function>` on first run with infinite retention and no
tags; creating it first is how peers avoid the log groups that outlive their stacks.
An untagged log group of our function (e.g. left by an earlier manual deploy) is adopted.
"""

from __future__ import annotations

from typing import Any

from dataops_cli.config import STACK_TAG
from dataops_cli.resources.base import Action, Change, Resource, Step, missing_tags


class LogGroup(Resource):
    kind = "Log group"
    engines = ("lambda",)  # the function's; Glue writes its own groups under /aws-glue/
    removed_after = ("Function",)

    @property
    def name(self) -> str:
        return self.config.log_group

    def _read(self) -> tuple[dict[str, Any] | None, dict[str, str]]:
        logs = self.ctx.client("logs")
        for page in logs.get_paginator("describe_log_groups").paginate(logGroupNamePrefix=self.name):
            for group in page["logGroups"]:
                if group["logGroupName"] == self.name:
                    tags = logs.list_tags_for_resource(resourceArn=self.ctx.log_group_arn).get("tags", {})
                    return group, tags
        return None, {}

    def plan(self) -> Change:
        group, tags = self._read()
        retention = self.config.function.log_retention_days
        if group is None:
            create = self.step(
                "logs", "create_log_group", "create the log group", logGroupName=self.name, tags=self.ctx.tags
            )
            return self.change(Action.CREATE, f"retention {retention} days", steps=[create, self._retention()])
        if STACK_TAG in tags and not self.ctx.owned(tags):
            return self.ctx.not_ours(self.kind, self.name, tags)
        details, steps = [], []
        if missing_tags(tags, self.ctx.tags):
            steps.append(
                self.step(
                    "logs", "tag_resource", "tag the log group", resourceArn=self.ctx.log_group_arn, tags=self.ctx.tags
                )
            )
            details.append("tags" if STACK_TAG in tags else "adopting the function's untagged log group")
        if group.get("retentionInDays") != retention:
            steps.append(self._retention())
            details.append(f"retention {group.get('retentionInDays') or 'never expire'} -> {retention} days")
        return self.change(Action.UPDATE if steps else Action.UNCHANGED, *details, steps=steps)

    def _retention(self) -> Step:
        days = self.config.function.log_retention_days
        return self.step(
            "logs", "put_retention_policy", f"keep logs {days} days", logGroupName=self.name, retentionInDays=days
        )

    def plan_destroy(self) -> Change:
        group, tags = self._read()
        delete = self.step("logs", "delete_log_group", "delete the log group", logGroupName=self.name)
        return self.removal(
            group is not None, tags, f"{(group or {}).get('storedBytes', 0):,} bytes of logs", steps=[delete]
        )
