"""The schedule group (per-pipeline AWS/Scheduler metrics) and the schedule in it.

UpdateSchedule replaces the whole definition (a field left out is cleared, State
included), so every update sends everything.
"""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from dataops_cli.aws import error_code
from dataops_cli.resources.base import (
    Action,
    Change,
    Resource,
    differences,
    missing_tags,
    retry_while_role_propagates,
    tag_dict,
    tag_list,
)
from dataops_cli.resources.bucket import read_or_none


def scheduler_role_not_ready(exc: ClientError) -> bool:
    """Scheduler checks it can assume the target role; a brand-new role fails that for a few seconds."""
    message = exc.response.get("Error", {}).get("Message", "").lower()
    return error_code(exc) == "ValidationException" and "role" in message and "assume" in message


class ScheduleGroup(Resource):
    kind = "Schedule group"

    @property
    def name(self) -> str:
        return self.config.schedule_group

    def _tags(self) -> dict[str, str]:
        response = self.ctx.client("scheduler").list_tags_for_resource(ResourceArn=self.ctx.schedule_group_arn)
        return tag_dict(response.get("Tags"))

    def plan(self) -> Change:
        group = read_or_none(self.ctx.client("scheduler").get_schedule_group, Name=self.name)
        self._todo: list[str] = []
        if group is None:
            self._todo = ["create"]
            return self.change(Action.CREATE)
        tags = self._tags()
        if not self.ctx.owned(tags):
            return self.ctx.not_ours(self.kind, self.name, tags)
        if missing_tags(tags, self.ctx.tags):
            self._todo = ["tags"]
            return self.change(Action.UPDATE, "tags")
        return self.change(Action.UNCHANGED)

    def apply(self, change: Change) -> None:
        scheduler = self.ctx.client("scheduler")
        if "create" in self._todo:
            scheduler.create_schedule_group(Name=self.name, Tags=tag_list(self.ctx.tags))
        else:
            scheduler.tag_resource(ResourceArn=self.ctx.schedule_group_arn, Tags=tag_list(self.ctx.tags))

    def plan_destroy(self) -> Change:
        exists = read_or_none(self.ctx.client("scheduler").get_schedule_group, Name=self.name) is not None
        return self.removal(exists, self._tags() if exists else {})

    def destroy(self, change: Change) -> None:
        self.ctx.client("scheduler").delete_schedule_group(Name=self.name)


class Schedule(Resource):
    """Schedules take no tags: ownership is that of the group they live in."""

    kind = "Schedule"

    @property
    def name(self) -> str:
        return f"{self.config.schedule_group}/{self.config.schedule_name}"

    def definition(self) -> dict[str, Any]:
        s = self.config.schedule
        window = (
            {"Mode": "FLEXIBLE", "MaximumWindowInMinutes": s.flexible_window_minutes}
            if s.flexible_window_minutes
            else {"Mode": "OFF"}
        )
        return {
            "ScheduleExpression": s.expression,
            "ScheduleExpressionTimezone": s.timezone,
            "State": "ENABLED" if s.enabled else "DISABLED",
            "FlexibleTimeWindow": window,
            "Description": f"dataops: runs {self.config.function.name} on {s.expression}",
            "Target": {
                "Arn": self.ctx.function_arn,
                "RoleArn": self.ctx.role_arn(self.config.scheduler_role),
                "Input": json.dumps({"trigger": "schedule", "stack": self.ctx.stack}),
                "RetryPolicy": {
                    "MaximumRetryAttempts": s.retry_attempts,
                    "MaximumEventAgeInSeconds": s.max_event_age_seconds,
                },
            },
        }

    def _read(self) -> dict[str, Any] | None:
        return read_or_none(
            self.ctx.client("scheduler").get_schedule,
            Name=self.config.schedule_name,
            GroupName=self.config.schedule_group,
        )

    def plan(self) -> Change:
        current = self._read()
        desired = self.definition()
        if current is None:
            self._create = True
            window = desired["FlexibleTimeWindow"]["Mode"]
            return self.change(
                Action.CREATE, f"{desired['ScheduleExpression']}, {desired['State']}, flexible window {window}"
            )
        self._create = False
        current = {**current, "Description": current.get("Description", "")}
        changed = differences(current, desired)
        return self.change(Action.UPDATE if changed else Action.UNCHANGED, *changed)

    def apply(self, change: Change) -> None:
        scheduler = self.ctx.client("scheduler")
        call = scheduler.create_schedule if self._create else scheduler.update_schedule
        retry_while_role_propagates(
            self.ctx,
            "EventBridge Scheduler",
            scheduler_role_not_ready,
            call,
            Name=self.config.schedule_name,
            GroupName=self.config.schedule_group,
            **self.definition(),
        )

    def plan_destroy(self) -> Change:
        if self._read() is None:
            return self.change(Action.ABSENT)
        if ScheduleGroup(self.ctx).plan_destroy().action is Action.REFUSED:
            return self.change(Action.REFUSED, f"its group {self.config.schedule_group} is not this stack's")
        return self.change(Action.DELETE)

    def destroy(self, change: Change) -> None:
        self.ctx.client("scheduler").delete_schedule(
            Name=self.config.schedule_name, GroupName=self.config.schedule_group
        )
