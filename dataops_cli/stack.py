"""Walk the resources: `up` in dependency order, `down` in reverse. No state file is read or written.

Each step plans (reads) right before it applies, so what it compares against is current
even when an earlier step just changed something. An AWS error becomes one DataopsError
naming the step and the resource.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from botocore.exceptions import BotoCoreError, ClientError

from dataops_cli.aws import DataopsError, explain
from dataops_cli.resources.base import MUTATING, Action, Change, Resource, StackContext
from dataops_cli.resources.bucket import Bucket, BucketPolicy
from dataops_cli.resources.function import Function
from dataops_cli.resources.input_data import InputObject, OutputPrefix
from dataops_cli.resources.log_group import LogGroup
from dataops_cli.resources.monitoring import AlarmTopic, Dashboard, ErrorsAlarm, QualityAlarm
from dataops_cli.resources.roles import ExecutionRole, SchedulerRole
from dataops_cli.resources.schedule import Schedule, ScheduleGroup

RESOURCE_ORDER: tuple[type[Resource], ...] = (
    Bucket,
    BucketPolicy,
    InputObject,
    OutputPrefix,
    ExecutionRole,
    LogGroup,
    Function,
    SchedulerRole,
    ScheduleGroup,
    Schedule,
    Dashboard,
    AlarmTopic,
    ErrorsAlarm,
    QualityAlarm,
)


class Reporter:
    """What `up`/`down` tell the user as they go; the CLI supplies a rich or a plain one."""

    def begin(self, index: int, total: int, resource: Resource) -> None: ...

    def note(self, message: str) -> None: ...

    def end(self, change: Change, applied: bool) -> None: ...


def resources(ctx: StackContext) -> list[Resource]:
    return [cls(ctx) for cls in RESOURCE_ORDER]


@contextmanager
def _step(resource: Resource, verb: str) -> Iterator[None]:
    try:
        yield
    except (ClientError, BotoCoreError) as exc:
        raise explain(exc, f"{verb} {resource.kind} {resource.name}") from exc


def _verb(action: Action) -> str:
    return {Action.CREATE: "creating", Action.UPDATE: "updating", Action.DELETE: "deleting"}.get(action, "checking")


def up(ctx: StackContext, reporter: Reporter, dry_run: bool = False) -> list[Change]:
    """Create or update every resource; with dry_run, only plan (no mutating call)."""
    changes = []
    steps = resources(ctx)
    ctx.progress = reporter.note
    _ = ctx.layer_arn  # preflight: fail before changing anything if the layer cannot be resolved
    for index, resource in enumerate(steps, start=1):
        reporter.begin(index, len(steps), resource)
        with _step(resource, "checking"):
            change = resource.plan()
        if change.action is Action.REFUSED:
            reporter.end(change, applied=False)
            raise DataopsError(
                f"{change.kind} {change.name}: {change.details[0]}", "choose another name in config.toml"
            )
        apply = change.action in MUTATING and not dry_run
        if apply:
            with _step(resource, _verb(change.action)):
                resource.apply(change)
        reporter.end(change, applied=apply)
        changes.append(change)
    return changes


def plan_down(ctx: StackContext, keep_data: bool) -> list[tuple[Resource, Change]]:
    """What `down` would do, in the order it would do it (reads only)."""
    planned = []
    for resource in reversed(resources(ctx)):
        with _step(resource, "checking"):
            change = resource.plan_destroy()
        if change is None:
            continue
        if keep_data and isinstance(resource, Bucket) and change.action is Action.DELETE:
            change = resource.change(Action.SKIPPED, "kept: --keep-data")
        planned.append((resource, change))
    return planned


def down(planned: list[tuple[Resource, Change]], reporter: Reporter, ctx: StackContext) -> list[Change]:
    """Delete what plan_down marked DELETE; refusals are reported and left alone."""
    ctx.progress = reporter.note
    done = []
    for index, (resource, change) in enumerate(planned, start=1):
        reporter.begin(index, len(planned), resource)
        if change.action is Action.DELETE:
            with _step(resource, "deleting"):
                resource.destroy(change)
        reporter.end(change, applied=change.action is Action.DELETE)
        done.append(change)
    return done
