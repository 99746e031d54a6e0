"""The schedule group (per-pipeline AWS/Scheduler metrics) and the schedule in it.

UpdateSchedule replaces the whole definition (a field left out is cleared, State
included), so every update sends everything.
"""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from dataops_cli.aws import error_code, read_or_none
from dataops_cli.deploy.resources.base import (
    Action,
    Change,
    Resource,
    Step,
    differences,
    missing_tags,
    tag_dict,
    tag_list,
)
from dataops_cli.engines.base import traits


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

    def ownership(self) -> str | None:
        group = read_or_none(self.ctx.client("scheduler").get_schedule_group, Name=self.name)
        return None if group is None else self.ctx.foreign(self._tags())

    def plan(self) -> Change:
        group = read_or_none(self.ctx.client("scheduler").get_schedule_group, Name=self.name)
        if group is None:
            create = self.step(
                "scheduler", "create_schedule_group", "create the group", Name=self.name, Tags=tag_list(self.ctx.tags)
            )
            return self.change(Action.CREATE, steps=[create])
        tags = self._tags()
        if not self.ctx.owned(tags):
            return self.ctx.not_ours(self.kind, self.name, tags)
        if missing_tags(tags, self.ctx.tags):
            tag = self.step(
                "scheduler",
                "tag_resource",
                "tag the group",
                ResourceArn=self.ctx.schedule_group_arn,
                Tags=tag_list(self.ctx.tags),
            )
            return self.change(Action.UPDATE, "tags", steps=[tag])
        return self.change(Action.UNCHANGED)

    def plan_destroy(self) -> Change:
        exists = read_or_none(self.ctx.client("scheduler").get_schedule_group, Name=self.name) is not None
        delete = self.step("scheduler", "delete_schedule_group", "delete the group", Name=self.name)
        return self.removal(exists, self._tags() if exists else {}, steps=[delete])


class Schedule(Resource):
    """Schedules take no tags: ownership is that of the group they live in."""

    kind = "Schedule"
    role_user = "EventBridge Scheduler"
    role_not_ready = staticmethod(scheduler_role_not_ready)

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
        if not traits(self.config.function.engine).runs_function:
            # EventBridge Scheduler's universal target: the scheduler role calls glue:StartJobRun.
            arn = f"arn:{self.ctx.aws.partition}:scheduler:::aws-sdk:glue:startJobRun"
            target = {"Arn": arn, "Input": json.dumps({"JobName": self.config.glue_job})}
            runs = f"Glue job {self.config.glue_job}"
        else:
            target = {
                "Arn": self.ctx.function_arn,
                "Input": json.dumps({"trigger": "schedule", "stack": self.ctx.stack}),
            }
            runs = self.config.function.name
        return {
            "ScheduleExpression": s.expression,
            "ScheduleExpressionTimezone": s.timezone,
            "State": "ENABLED" if s.enabled else "DISABLED",
            "FlexibleTimeWindow": window,
            "Description": f"dataops: runs {runs} on {s.expression}",
            "Target": {
                "Arn": target["Arn"],
                "RoleArn": self.ctx.role_arn(self.config.scheduler_role),
                "Input": target["Input"],
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

    def _put(self, operation: str, description: str) -> Step:
        """UpdateSchedule replaces the whole definition, so create and update send the same parameters."""
        params = {"Name": self.config.schedule_name, "GroupName": self.config.schedule_group, **self.definition()}
        return Step("scheduler", operation, params, description, retry_role=True)

    def plan(self) -> Change:
        current = self._read()
        desired = self.definition()
        if current is None:
            window = desired["FlexibleTimeWindow"]["Mode"]
            return self.change(
                Action.CREATE,
                f"{desired['ScheduleExpression']}, {desired['State']}, flexible window {window}",
                steps=[self._put("create_schedule", "create the schedule")],
            )
        current = {**current, "Description": current.get("Description", "")}
        changed = differences(current, desired)
        if not changed:
            return self.change(Action.UNCHANGED)
        return self.change(Action.UPDATE, *changed, steps=[self._put("update_schedule", "replace the schedule")])

    def plan_destroy(self) -> Change:
        if self._read() is None:
            return self.change(Action.ABSENT)
        if ScheduleGroup(self.ctx).plan_destroy().action is Action.REFUSED:
            return self.change(Action.REFUSED, f"its group {self.config.schedule_group} is not this stack's")
        delete = self.step(
            "scheduler",
            "delete_schedule",
            "delete the schedule",
            Name=self.config.schedule_name,
            GroupName=self.config.schedule_group,
        )
        return self.change(Action.DELETE, steps=[delete])
