"""The function's log group, created before the function so its retention and tags are ours.

Lambda would create `/aws/lambda/<function>` on first run with infinite retention and no
tags; creating it first is how peers avoid the log groups that outlive their stacks.

An untagged group of this name is adopted (tagged, its retention set) only when it can be
nothing but ours: its function is this stack's or absent, and it holds no log event older
than the stack. Setting a retention on someone else's group would expire their older logs
(PutRetentionPolicy applies to the events already stored), and `down` deletes only a
tagged group, so adopting a stranger's group would hand its logs to `down`. The stack's
age is its execution role's creation time (the role is created just before the group):
with no such role to date it, a group that holds any event is refused.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from dataops_cli.aws import read_or_none
from dataops_cli.config import STACK_TAG
from dataops_cli.deploy.resources.base import Action, Change, Resource, Step, foreign_tags, missing_tags, tag_dict

# FilterLogEvents may answer a page with no events and a nextToken while it is still searching
# (https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_FilterLogEvents.html):
# past this many pages the group's age is undecided, and undecided is refused.
EVENT_SEARCH_PAGES = 10


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

    def ownership(self) -> str | None:
        group, tags = self._read()
        if group is None:
            return None
        if STACK_TAG in tags:
            return self.ctx.foreign(tags)
        why_not = self.why_not_adoptable()
        return None if why_not is None else f"{foreign_tags(tags)} and {why_not}"

    def why_not_adoptable(self) -> str | None:
        """None if this untagged group can only be our function's; else why it may be someone else's."""
        function = read_or_none(self.ctx.client("lambda").get_function, FunctionName=self.config.function.name)
        if function is not None and not self.ctx.owned(function.get("Tags", {})):
            return f"its function {self.config.function.name} is not this stack's"
        born = self.stack_created()
        older = self._holds_events_before(born)
        if older is None:
            return "its log events could not be dated (the search did not finish)"
        if not older:
            return None
        if born is None:
            return "it holds log events and nothing of this stack exists yet to date them against"
        return f"it holds log events older than this stack (created {born:%Y-%m-%d %H:%M:%S %Z})"

    def stack_created(self) -> datetime | None:
        """When this stack began: its execution role's creation time, if that role exists and is ours."""
        role = read_or_none(self.ctx.client("iam").get_role, RoleName=self.config.execution_role)
        if role is None or not self.ctx.owned(tag_dict(role["Role"].get("Tags"))):
            return None
        return role["Role"]["CreateDate"]

    def _holds_events_before(self, moment: datetime | None) -> bool | None:
        """Any event before `moment` (any at all when None)? None when the search did not finish."""
        logs = self.ctx.client("logs")
        params: dict[str, Any] = {"logGroupName": self.name, "limit": 1}
        if moment is not None:
            params["endTime"] = int(moment.timestamp() * 1000) - 1
        for _ in range(EVENT_SEARCH_PAGES):
            page = logs.filter_log_events(**params)
            if page.get("events"):
                return True
            if not page.get("nextToken"):
                return False
            params["nextToken"] = page["nextToken"]
        return None

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
        if STACK_TAG not in tags and (why_not := self.why_not_adoptable()):
            refusal = self.ctx.not_ours(self.kind, self.name, tags)
            return self.change(Action.REFUSED, f"{refusal.details[0]} ({why_not})")
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
        """Only a group tagged as this stack's is deleted (an untagged one may hold someone else's logs)."""
        group, tags = self._read()
        delete = self.step("logs", "delete_log_group", "delete the log group", logGroupName=self.name)
        return self.removal(
            group is not None, tags, f"{(group or {}).get('storedBytes', 0):,} bytes of logs", steps=[delete]
        )
