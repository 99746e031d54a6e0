"""What every resource module shares: the Change and Step records, the Resource verbs, the context.

A plan is data. A resource reads what exists and compares it with what the config wants
(`plan`, reads only); the Change it returns carries the exact, ordered AWS calls that
close the gap (`steps`: service, operation, parameters, a human description), and
`apply` makes exactly those and nothing else. Removal is the same shape (`plan_destroy`
then `destroy`). `up --dry-run` stops after `plan` (`-vv` prints the steps); a second
`up` finds every plan UNCHANGED, with no steps, and makes no mutating call. Planning is
tested by equality of step lists against given remote states (tests/unit/test_planning.py),
as Chalice tests its planner.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from contextlib import ExitStack
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from dataops_cli.aws import Aws, DataopsError
from dataops_cli.config import STACK_TAG, Config
from dataops_cli.deploy.packaging import CodePackage, build_package


class Action(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    UNCHANGED = "unchanged"
    SKIPPED = "skipped"
    DELETE = "delete"
    ABSENT = "absent"
    REFUSED = "refused"
    FAILED = "failed"  # down: a read or delete failed; the resource (probably) remains


MUTATING = (Action.CREATE, Action.UPDATE, Action.DELETE)


@dataclass(frozen=True)
class FileBody:
    """A request body streamed from a local file when the step runs, so a plan holds no file data."""

    path: Path
    size: int

    def __str__(self) -> str:
        return f"<file {self.path}, {self.size:,} bytes>"


@dataclass(frozen=True)
class Step:
    """One AWS API call of a plan, exactly as `apply` makes it.

    `operation` is the boto3 method name (or, with `wait`, the waiter that polls until the
    resource is ready: botocore's, or the resource's own in its `run_step`). `retry_role`:
    retried with bounded backoff while an IAM role created seconds ago is not yet assumable.
    """

    service: str
    operation: str
    params: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""
    wait: bool = False
    retry_role: bool = False
    note: bool = False  # say the description as progress when the step runs (waits always do)

    @property
    def api_name(self) -> str:
        if self.wait:
            return f"{self.service}:wait:{self.operation}"
        return f"{self.service}:{''.join(part.title() for part in self.operation.split('_'))}"

    def render(self, limit: int = 160) -> str:
        """`s3:PutBucketTagging Bucket='b', Tagging={...}`: long values shortened, bytes as a size."""
        return f"{self.api_name} " + ", ".join(f"{k}={_shown(v, limit)}" for k, v in self.params.items())


def _shown(value: Any, limit: int) -> str:
    if isinstance(value, (bytes, FileBody)):
        return _summarized(value)
    text = repr(value) if isinstance(value, (str, int, float, bool)) else json.dumps(_summarized(value))
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text):,} chars)"


def _summarized(value: Any) -> Any:
    """The value with every byte string and file body, however deep, replaced by its size."""
    if isinstance(value, bytes):
        return f"<{len(value):,} bytes>"
    if isinstance(value, FileBody):
        return str(value)
    if isinstance(value, Mapping):
        return {k: _summarized(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_summarized(v) for v in value]
    return value


@dataclass(frozen=True)
class Change:
    """What planning found for one resource, and the calls (`steps`) that would close the gap."""

    kind: str
    name: str
    action: Action
    details: tuple[str, ...] = ()
    steps: tuple[Step, ...] = ()


Progress = Callable[[str], None]


@dataclass
class StackContext:
    """Config + AWS clients + the facts resources share (ARNs, code package, layer)."""

    config: Config
    aws: Aws
    layer_resolver: Callable[[StackContext], str] | None = None
    # What the backend cannot do, and why: set by the local emulator bridge (and by tests
    # on moto), never for AWS. Keys: "tls_policy", "percentiles".
    gaps: Mapping[str, str] = field(default_factory=dict)
    progress: Progress = field(default=lambda _message: None)

    @property
    def stack(self) -> str:
        return self.config.stack.name

    @property
    def tags(self) -> dict[str, str]:
        return self.config.all_tags

    def client(self, service: str) -> Any:
        return self.aws.client(service)

    @cached_property
    def package(self) -> CodePackage:
        return build_package()

    @cached_property
    def layer_arn(self) -> str:
        if self.config.function.layer_arn:
            return self.config.function.layer_arn
        if self.layer_resolver is None:
            raise DataopsError("no way to resolve the pandas layer", "set function.layer_arn in config.toml")
        return self.layer_resolver(self)

    def role_arn(self, name: str) -> str:
        return self.aws.arn("iam", f"role/{name}", region=False)

    @property
    def function_arn(self) -> str:
        return self.aws.arn("lambda", f"function:{self.config.function.name}")

    @property
    def glue_job_arn(self) -> str:
        return self.aws.arn("glue", f"job/{self.config.glue_job}")

    @property
    def log_group_arn(self) -> str:
        return self.aws.arn("logs", f"log-group:{self.config.log_group}")

    @property
    def schedule_group_arn(self) -> str:
        return self.aws.arn("scheduler", f"schedule-group/{self.config.schedule_group}")

    @property
    def topic_arn(self) -> str:
        return self.aws.arn("sns", self.config.alarm_topic)

    def owned(self, tags: Mapping[str, str]) -> bool:
        return tags.get(STACK_TAG) == self.stack

    def not_ours(self, kind: str, name: str, tags: Mapping[str, str]) -> Change:
        return Change(
            kind,
            name,
            Action.REFUSED,
            (
                f"a resource with this name exists but {foreign_tags(tags)}; "
                f"dataops only changes what stack {self.stack!r} created",
            ),
        )

    def foreign(self, tags: Mapping[str, str]) -> str | None:
        """None when the tags say this stack's, else what they say instead (for `up`'s ownership check)."""
        return None if self.owned(tags) else foreign_tags(tags)


def foreign_tags(tags: Mapping[str, str]) -> str:
    """How a same-named resource shows it is not ours: another stack's tag, or none."""
    return f"tagged {STACK_TAG}={tags[STACK_TAG]!r}" if STACK_TAG in tags else f"has no {STACK_TAG} tag"


class Resource:
    """One AWS resource of the stack. Subclasses set `kind` and implement `plan` and `plan_destroy`.

    `apply` and `destroy` run the steps of the Change they are given, in order, through
    `run_step`; a resource overrides `run_step` only where one call needs more than a call
    (the bucket's DeleteBucket, which empties again while a run in flight still writes).
    """

    kind = "resource"
    # The function.engine values that need this resource; with another engine `up` removes it.
    engines: tuple[str, ...] = ("lambda", "glue")
    # For steps with retry_role: which service assumes the role, and how it says "not yet".
    role_user = ""
    role_not_ready: Callable[[ClientError], bool] | None = None
    # `down` skips this one while the removal of any of these (class names) failed: e.g. the
    # log group stays while its function stays, or the function's next run would re-create it untagged.
    removed_after: tuple[str, ...] = ()
    # Set by `plan` when the resource exists but is broken (a Failed function): `status` is unhealthy.
    problem: str | None = None

    def __init__(self, ctx: StackContext) -> None:
        self.ctx = ctx
        self.config = ctx.config

    @property
    def name(self) -> str:
        raise NotImplementedError

    def change(self, action: Action, *details: str, steps: tuple[Step, ...] | list[Step] = ()) -> Change:
        return Change(self.kind, self.name, action, tuple(d for d in details if d), tuple(steps))

    def step(self, service: str, operation: str, description: str, **params: Any) -> Step:
        return Step(service, operation, params, description)

    def plan(self) -> Change:
        raise NotImplementedError

    def ownership(self) -> str | None:
        """Why `up` may not touch the resource of this name that exists, else None (absent, ours, adoptable).

        Reads only. `up` asks every resource of the plan before it changes anything, and
        refuses the whole plan if any answers (nothing half-built). `plan` makes the same
        check again right before applying. Resources that live inside another one (objects
        in the bucket, the schedule in its group) have no ownership of their own: None.
        """
        return None

    def apply(self, change: Change) -> None:
        """Make exactly the calls the plan holds, in order."""
        for step in change.steps:
            self.run_step(step)

    def plan_destroy(self) -> Change | None:
        """None: removed together with another resource (e.g. objects with their bucket)."""
        raise NotImplementedError

    def removal(self, exists: bool, tags: Mapping[str, str], *details: str, steps: list[Step] | None = None) -> Change:
        """What `down` does here: nothing if absent, refuse if not this stack's, else delete (`steps`)."""
        if not exists:
            return self.change(Action.ABSENT)
        if not self.ctx.owned(tags):
            return self.ctx.not_ours(self.kind, self.name, tags)
        return self.change(Action.DELETE, *details, steps=steps or [])

    def destroy(self, change: Change) -> Change | None:
        """Make exactly the deleting calls the removal plan holds, in order.

        May return the change as done, where that differs from the plan (the bucket says how
        many object versions it actually emptied), else None.
        """
        for step in change.steps:
            self.run_step(step)
        return None

    def run_step(self, step: Step) -> Any:
        """One call (or wait) of a plan, with its file bodies opened and the role retry if it asks for one."""
        client = self.ctx.client(step.service)
        with ExitStack() as files:
            params = {
                k: files.enter_context(v.path.open("rb")) if isinstance(v, FileBody) else v
                for k, v in step.params.items()
            }
            if step.description and (step.wait or step.note):
                self.ctx.progress(step.description)
            if step.wait:
                client.get_waiter(step.operation).wait(**params)
                return None
            call = getattr(client, step.operation)
            if step.retry_role and self.role_not_ready is not None:
                return retry_while_role_propagates(self.ctx, self.role_user, self.role_not_ready, call, **params)
            return call(**params)


# A role created seconds ago is not yet assumable (IAM is eventually consistent).
ROLE_RETRY_DELAYS = (1, 2, 3, 5, 5, 8, 8, 10, 10, 10)


def retry_while_role_propagates(
    ctx: StackContext, service: str, not_ready: Callable[[ClientError], bool], call: Callable[..., Any], **kwargs: Any
) -> Any:
    """Call, retrying with bounded backoff (~60 s in all) while `not_ready` says the role is too new.

    Against the local emulator the call is made once: its IAM has no propagation delay, so
    a role it refuses now (a trust policy Lambda or Scheduler cannot assume) is refused for
    good, and retrying would only hold `up --local` for a minute before the same error.
    """
    if ctx.aws.local:
        return call(**kwargs)
    for attempt, delay in enumerate(ROLE_RETRY_DELAYS, start=1):
        try:
            return call(**kwargs)
        except ClientError as exc:
            if not not_ready(exc):
                raise
            ctx.progress(
                f"IAM role not assumable by {service} yet (new roles take seconds to propagate); "
                f"retry {attempt}/{len(ROLE_RETRY_DELAYS)} in {delay}s"
            )
            time.sleep(delay)
    return call(**kwargs)


def tag_list(tags: Mapping[str, str], key: str = "Key", value: str = "Value") -> list[dict[str, str]]:
    return [{key: k, value: v} for k, v in sorted(tags.items())]


def tag_dict(tags: list[dict[str, str]] | None, key: str = "Key", value: str = "Value") -> dict[str, str]:
    return {t[key]: t[value] for t in tags or []}


def missing_tags(current: Mapping[str, str], desired: Mapping[str, str]) -> dict[str, str]:
    """Desired tags that are absent or different (tags someone else added are left alone)."""
    return {k: v for k, v in desired.items() if current.get(k) != v}


def canonical(document: Any) -> str:
    """JSON text for comparing policy documents regardless of key order or encoding."""
    if isinstance(document, str):
        document = json.loads(document)
    return json.dumps(document, sort_keys=True, separators=(",", ":"))


def differences(current: Mapping[str, Any], desired: Mapping[str, Any]) -> list[str]:
    """Readable `key: old -> new` lines for each desired value that differs."""
    return [f"{k}: {current.get(k)!r} -> {v!r}" for k, v in desired.items() if current.get(k) != v]
