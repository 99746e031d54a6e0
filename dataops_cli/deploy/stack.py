"""Walk the resources: `up` in dependency order, `down` in reverse. No state file is read or written.

Each step plans (reads) right before it applies, so what it compares against is current
even when an earlier step just changed something. An AWS error becomes one DataopsError
naming the step and the resource.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from botocore.exceptions import BotoCoreError, ClientError

from dataops_cli.aws import DataopsError, already_exists, explain
from dataops_cli.deploy.resources.base import MUTATING, Action, Change, Resource, StackContext
from dataops_cli.deploy.resources.bucket import Bucket, BucketPolicy
from dataops_cli.deploy.resources.function import Function
from dataops_cli.deploy.resources.glue import GlueJob, GlueRole, GlueScript
from dataops_cli.deploy.resources.glue_events import GlueFailedRule, GlueSucceededRule
from dataops_cli.deploy.resources.input_data import InputObject, OutputPrefix
from dataops_cli.deploy.resources.log_group import LogGroup
from dataops_cli.deploy.resources.monitoring import AlarmTopic, Dashboard, ErrorsAlarm, QualityAlarm
from dataops_cli.deploy.resources.roles import ExecutionRole, SchedulerRole
from dataops_cli.deploy.resources.schedule import Schedule, ScheduleGroup
from dataops_cli.engines.base import traits, uses
from dataops_cli.engines.registry import engine_for

RESOURCE_ORDER: tuple[type[Resource], ...] = (
    Bucket,
    BucketPolicy,
    InputObject,
    OutputPrefix,
    ExecutionRole,
    LogGroup,
    Function,
    GlueScript,
    GlueRole,
    GlueJob,
    GlueFailedRule,
    GlueSucceededRule,
    SchedulerRole,
    ScheduleGroup,
    Schedule,
    Dashboard,
    AlarmTopic,
    ErrorsAlarm,
    QualityAlarm,
)


class Reporter:
    """What `up`/`down` tell the user as they go; the CLI supplies a rich or a plain one.

    `step` is what is in flight right now, so an interrupt can name it (the CLI's error line).
    """

    step: str | None = None

    def __enter__(self) -> Reporter:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def begin(self, index: int, total: int, resource: Resource) -> None: ...

    def note(self, message: str) -> None: ...

    def end(self, change: Change, applied: bool) -> None: ...


def resources(ctx: StackContext) -> list[Resource]:
    """What the configured engine needs (function.engine), in `up` order."""
    return [cls(ctx) for cls in engine_for(ctx.config).resources(RESOURCE_ORDER)]


def other_engine_resources(ctx: StackContext) -> list[Resource]:
    """What only the other engine needs, in removal order: `up` removes these after the switch."""
    return [cls(ctx) for cls in reversed(engine_for(ctx.config).other_resources(RESOURCE_ORDER))]


def all_resources(ctx: StackContext) -> list[Resource]:
    """Every resource of either engine, in `up` order: `down` removes them all."""
    return [cls(ctx) for cls in RESOURCE_ORDER]


CONCURRENT_HINT = "wait for the other `{up}` to finish, then run `{up}` again: it converges"


def command(ctx: StackContext, words: str) -> str:
    """A command to suggest, aimed at the same target as this one (the emulator or AWS)."""
    return f"dataops --local {words}" if ctx.aws.local else f"dataops {words}"


@contextmanager
def _step(resource: Resource, verb: str) -> Iterator[None]:
    try:
        yield
    except ClientError as exc:
        error = explain(exc, f"{verb} {resource.kind} {resource.name}")
        if verb in ("creating", "updating") and already_exists(exc):
            raise DataopsError(
                f"{error}: another `up` of stack {resource.ctx.stack!r} seems to be in progress",
                CONCURRENT_HINT.format(up=command(resource.ctx, "up")),
            ) from exc
        raise error from exc
    except BotoCoreError as exc:
        raise explain(exc, f"{verb} {resource.kind} {resource.name}") from exc


def _verb(action: Action) -> str:
    return {Action.CREATE: "creating", Action.UPDATE: "updating", Action.DELETE: "deleting"}.get(action, "checking")


def up(ctx: StackContext, reporter: Reporter, dry_run: bool = False) -> list[Change]:
    """Create or update every resource; with dry_run, only plan (no mutating call)."""
    changes = []
    steps = resources(ctx)
    ctx.progress = reporter.note
    ctx.config.check_input_file()  # preflight: a typo in bucket.input_file must not deploy stale data
    if traits(ctx.config.function.engine).runs_function:
        reporter.step = f"looking up the layer {ctx.config.function.layer_name} (nothing changed yet)"
        _ = ctx.layer_arn  # preflight: fail before changing anything if the layer cannot be resolved
    _refuse_foreign(steps, reporter)
    reporter.step = "checking for the other engine's resources (nothing changed yet)"
    leftovers = _leftovers(ctx)
    total = len(steps) + len(leftovers)
    for index, resource in enumerate(steps, start=1):
        reporter.begin(index, total, resource)
        reporter.step = f"checking {resource.kind} {resource.name}"
        with _step(resource, "checking"):
            change = resource.plan()
        if change.action is Action.REFUSED:
            reporter.end(change, applied=False)
            raise DataopsError(
                f"{change.kind} {change.name}: {change.details[0]}", "choose another name in config.toml"
            )
        apply = change.action in MUTATING and not dry_run
        if apply:
            reporter.step = f"{_verb(change.action)} {resource.kind} {resource.name}"
            with _step(resource, _verb(change.action)):
                resource.apply(change)
        reporter.end(change, applied=apply)
        changes.append(change)
    for index, resource in enumerate(leftovers, start=len(steps) + 1):
        reporter.begin(index, total, resource)
        changes.append(_remove_leftover(resource, reporter, dry_run))
    reporter.step = None
    return changes


FOREIGN_HINT = (
    "dataops changes only what its stack created: choose other names in config.toml (stack.name, "
    "bucket.name, function.name, dashboard.name), or remove those resources; if one really is this "
    "stack's, tag it dataops:stack=<stack.name>"
)


def foreign_resources(steps: list[Resource], reporter: Reporter) -> list[str]:
    """'<kind> <name> (<why>)' for every resource of the plan whose name is taken by something not ours. Reads only."""
    found = []
    for resource in steps:
        reporter.step = f"checking who owns {resource.kind} {resource.name}"
        with _step(resource, "checking"):
            why = resource.ownership()
        if why is not None:
            found.append(f"{resource.kind} {resource.name} ({why})")
    return found


def _refuse_foreign(steps: list[Resource], reporter: Reporter) -> None:
    """Before anything is created: one foreign resource refuses the whole plan, and every one is named.

    Without this, `up` would create the bucket and roles, reach the foreign function and stop,
    leaving half a stack beside someone else's resources (issue 19, item 4).
    """
    foreign = foreign_resources(steps, reporter)
    if foreign:
        count = (
            "a resource of this stack's plan exists but is not"
            if len(foreign) == 1
            else f"{len(foreign)} resources of this stack's plan exist but are not"
        )
        raise DataopsError(
            f"nothing was changed: {count} stack {steps[0].ctx.stack!r}'s: " + "; ".join(foreign),
            FOREIGN_HINT,
        )


def _leftovers(ctx: StackContext) -> list[Resource]:
    """The other engine's resources that exist (reads only): after a switch, `up` removes them.

    Absent ones are not shown at all, so a stack that never switched reports what it always did.
    One that cannot be read (a backend without that service, a caller without its read
    permission) is said in one line and left alone: `up` of the configured engine never
    fails because of the engine it does not use.
    """
    found = []
    for resource in other_engine_resources(ctx):
        try:
            with _step(resource, "checking"):
                change = resource.plan_destroy()
        except DataopsError as exc:
            ctx.progress(f"{_unchecked(resource, exc)}; left alone")
            continue
        if change is not None and change.action is not Action.ABSENT:
            found.append(resource)
    return found


def _unchecked(resource: Resource, exc: DataopsError) -> str:
    """Why the other engine's resource could not be checked, and what that means."""
    other = traits(resource.config.function.engine).other
    return f"could not check for {resource.kind} {resource.name} (only engine {other!r} uses it): {_reason(exc)}"


def _remove_leftover(resource: Resource, reporter: Reporter, dry_run: bool) -> Change:
    """The other engine's resource, after the switch (the schedule already targets this engine).

    Not this stack's: left alone (it was never ours to remove). A failed removal stops `up`
    with the reason: re-running it converges.
    """
    reporter.step = f"deleting {resource.kind} {resource.name}"
    with _step(resource, "checking"):
        change = resource.plan_destroy()
    if change is None:
        return resource.change(Action.ABSENT)
    if change.action is Action.REFUSED:
        change = resource.change(
            Action.SKIPPED, f"not needed by engine {resource.config.function.engine}; " + change.details[0]
        )
    elif change.action is Action.DELETE:
        change = resource.change(
            Action.DELETE,
            f"not needed by engine {resource.config.function.engine}",
            *change.details,
            steps=change.steps,
        )
    apply = change.action is Action.DELETE and not dry_run
    if apply:
        with _step(resource, "deleting"):
            change = resource.destroy(change) or change
    reporter.end(change, applied=apply)
    return change


def plan_down(ctx: StackContext, keep_data: bool) -> list[tuple[Resource, Change]]:
    """What `down` would do, in the order it would do it (reads only).

    A read that fails does not stop the plan: that resource is FAILED (with the reason) and
    every other one is still checked, so one odd answer never hides the rest of the stack.
    """
    planned = []
    for resource in reversed(all_resources(ctx)):
        other_engine = not uses(ctx.config.function.engine, resource.engines)
        try:
            with _step(resource, "checking"):
                change = resource.plan_destroy()
        except DataopsError as exc:
            # The engine the config does not use: a backend or caller without that service
            # (LocalStack community has no Glue) must not make every `down` fail. Said, not hidden.
            action = Action.SKIPPED if other_engine else Action.FAILED
            change = resource.change(action, _unchecked(resource, exc) if other_engine else _reason(exc))
        if change is None:
            continue
        if change.action is Action.ABSENT and other_engine:
            continue  # the other engine's, never deployed (or gone): not worth a line
        if keep_data and isinstance(resource, Bucket) and change.action is Action.DELETE:
            change = resource.change(Action.SKIPPED, "kept: --keep-data")
        planned.append((resource, change))
    return planned


def down(planned: list[tuple[Resource, Change]], reporter: Reporter, ctx: StackContext) -> list[Change]:
    """Delete what plan_down marked DELETE, every one of them, whatever fails on the way.

    A failed deletion is reported (FAILED, with AWS's reason) and the walk goes on; only a
    resource whose `removed_after` names a resource that remains is skipped. Refusals are
    reported and left alone. Returns what happened to each resource, in order.
    """
    ctx.progress = reporter.note
    done = []
    remaining: set[str] = {type(r).__name__ for r, c in planned if c.action is Action.FAILED}
    for index, (resource, change) in enumerate(planned, start=1):
        reporter.begin(index, len(planned), resource)
        reporter.step = f"deleting {resource.kind} {resource.name}"
        outcome = change
        blockers = [name for name in resource.removed_after if name in remaining]
        if change.action is Action.DELETE and blockers:
            outcome = resource.change(Action.FAILED, f"kept: removing the {_kind_of(planned, blockers[0])} failed")
        elif change.action is Action.DELETE:
            try:
                with _step(resource, "deleting"):
                    outcome = resource.destroy(change) or change  # what was done, if it differs from the plan
            except DataopsError as exc:
                outcome = resource.change(Action.FAILED, _reason(exc))
        if outcome.action is Action.FAILED:
            remaining.add(type(resource).__name__)
        reporter.end(outcome, applied=outcome.action is Action.DELETE)
        done.append(outcome)
    reporter.step = None
    return done


def _reason(exc: DataopsError) -> str:
    return str(exc) + (f" (hint: {exc.hint})" if exc.hint else "")


def _kind_of(planned: list[tuple[Resource, Change]], class_name: str) -> str:
    return next((r.kind for r, _ in planned if type(r).__name__ == class_name), class_name)
