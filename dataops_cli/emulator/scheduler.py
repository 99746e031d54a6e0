"""EventBridge Scheduler for the emulator: fire every ENABLED schedule on its expression.

moto stores schedules but never fires them. Here a thread reads them back through the
Scheduler API (ListSchedules / GetSchedule, as any client would), works out which
firings fell due since it last looked, and invokes each target asynchronously, like
Scheduler with the flexible window off. Rate schedules repeat from their CreationDate
(or StartDate); cron and at expressions follow the schedule's time zone.

Time compression (`--speed N`) runs a virtual clock N times faster than the wall clock,
starting from the emulator's start: only the intervals between firings shrink. Every
timestamp written to logs and metrics stays a real wall-clock time.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from botocore.exceptions import BotoCoreError, ClientError

from dataops_cli.emulator.roles import SCHEDULER_PRINCIPAL, AssumeRoleError, Roles, scheduler_context
from dataops_cli.emulator.telemetry import Telemetry, scheduler_metrics
from dataops_cli.schedule_expr import Rate, ScheduleExpressionError, iter_firings, parse_schedule

log = logging.getLogger("dataops.emulator")
MAX_CATCH_UP = 1000  # firings fired at once after a stall (a suspended laptop), per schedule
ClientFor = Callable[[str, str], Any]


@dataclass(frozen=True)
class VirtualClock:
    """Wall time `origin` is virtual time `origin`; afterwards virtual time runs `speed` times faster."""

    origin: float
    speed: float = 1.0

    def virtual(self, real: float) -> float:
        return self.origin + (real - self.origin) * self.speed

    def real(self, virtual: float) -> float:
        return self.origin + (virtual - self.origin) / self.speed


@dataclass(frozen=True)
class ScheduleDef:
    """The parts of a schedule that decide when it fires and what it invokes."""

    region: str
    group: str
    name: str
    expression: str
    timezone: str
    enabled: bool
    created: float  # epoch seconds
    target_arn: str
    input: str = "{}"
    start: float | None = None
    end: float | None = None
    role_arn: str = ""  # the target's RoleArn: Scheduler assumes it to call the target
    arn: str = ""  # the schedule's own ARN (its account is the group's)

    @property
    def key(self) -> tuple[str, str, str, float]:
        return (self.region, self.group, self.name, self.created)

    @classmethod
    def from_api(cls, region: str, found: dict[str, Any]) -> ScheduleDef:
        """From a GetSchedule response (a missing State means ENABLED, AWS's default)."""
        target = found.get("Target", {})
        return cls(
            region=region,
            group=found.get("GroupName") or "default",
            name=found["Name"],
            expression=found.get("ScheduleExpression", ""),
            timezone=found.get("ScheduleExpressionTimezone") or "UTC",
            enabled=found.get("State") in (None, "ENABLED"),
            created=_epoch(found.get("CreationDate")) or time.time(),
            target_arn=target.get("Arn", ""),
            input=target.get("Input") or "{}",
            start=_epoch(found.get("StartDate")),
            end=_epoch(found.get("EndDate")),
            role_arn=target.get("RoleArn") or "",
            arn=found.get("Arn") or "",
        )

    @property
    def group_arn(self) -> str:
        """The schedule group's ARN: what Scheduler puts in aws:SourceArn when it assumes the role."""
        parts = self.arn.split(":")
        partition, account = (parts[1], parts[4]) if len(parts) == 6 else ("aws", "")
        return f"arn:{partition}:scheduler:{self.region}:{account}:schedule-group/{self.group}"


def _epoch(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.timestamp()
    return float(value)


def due_firings(schedule: ScheduleDef, clock: VirtualClock, after: float, until: float) -> list[float]:
    """Real times in (after, until] at which the schedule fires on the virtual clock."""
    try:
        parsed = parse_schedule(schedule.expression)
    except ScheduleExpressionError:
        return []
    tz = ZoneInfo(schedule.timezone)
    anchor_real = schedule.start if schedule.start is not None and isinstance(parsed, Rate) else schedule.created
    anchor = datetime.fromtimestamp(clock.virtual(anchor_real), UTC)
    start = datetime.fromtimestamp(clock.virtual(after), UTC)
    end = datetime.fromtimestamp(clock.virtual(until), UTC)
    fired = []
    for moment in iter_firings(parsed, start, end, tz, anchor=anchor, limit=MAX_CATCH_UP):
        stamp = moment.timestamp()
        if schedule.start is not None and stamp < schedule.start:
            continue
        if schedule.end is not None and stamp > schedule.end:
            break
        fired.append(clock.real(stamp))
    return fired


class FiringPlan:
    """Remembers how far each schedule has been checked, so no firing is missed or repeated."""

    def __init__(self, clock: VirtualClock) -> None:
        self.clock = clock
        self._checked: dict[tuple[str, str, str, float], float] = {}
        self._last_tick = clock.origin

    def tick(self, schedules: Iterable[ScheduleDef], now: float) -> list[tuple[ScheduleDef, float]]:
        """Firings due in (last look, now], oldest first.

        A schedule seen for the first time is checked from its creation (if it was created
        since the last look) or from the last look (a re-enabled schedule fires no backlog).
        """
        due: list[tuple[ScheduleDef, float]] = []
        checked: dict[tuple[str, str, str, float], float] = {}
        for schedule in schedules:
            if not schedule.enabled:
                continue
            since = self._checked.get(schedule.key, max(schedule.created, self._last_tick))
            due.extend((schedule, t) for t in due_firings(schedule, self.clock, since, now))
            checked[schedule.key] = now
        self._checked = checked
        self._last_tick = now
        return sorted(due, key=lambda item: item[1])

    def next_due(self, schedules: Iterable[ScheduleDef], now: float, horizon: float) -> float:
        """The earliest firing after `now`, or `now + horizon` if none comes sooner."""
        soonest = now + horizon
        for schedule in schedules:
            if schedule.enabled:
                upcoming = due_firings(schedule, self.clock, now, soonest)
                if upcoming:
                    soonest = min(soonest, upcoming[0])
        return soonest


class ScheduleSource:
    """Reads schedules back from the emulator's Scheduler API (GetSchedule cached per version)."""

    def __init__(self, client_for: ClientFor, regions: Callable[[], list[str]]) -> None:
        self._client_for = client_for
        self._regions = regions
        self._cache: dict[str, tuple[Any, ScheduleDef]] = {}

    def __call__(self) -> list[ScheduleDef]:
        found: list[ScheduleDef] = []
        for region in self._regions():
            client = self._client_for("scheduler", region)
            try:
                for page in client.get_paginator("list_schedules").paginate():
                    for item in page.get("Schedules", []):
                        schedule = self._definition(client, region, item)
                        if schedule is not None:
                            found.append(schedule)
            except (ClientError, BotoCoreError) as exc:
                log.debug("could not list schedules in %s: %s", region, exc)
        return found

    def _definition(self, client: Any, region: str, item: dict[str, Any]) -> ScheduleDef | None:
        version = (item.get("LastModificationDate"), item.get("State"))
        cached = self._cache.get(item["Arn"])
        if cached is not None and cached[0] == version:
            return cached[1]
        try:
            full = client.get_schedule(Name=item["Name"], GroupName=item.get("GroupName") or "default")
        except ClientError:
            return None  # deleted between the list and the get
        schedule = ScheduleDef.from_api(region, full)
        self._cache[item["Arn"]] = (version, schedule)
        return schedule


GLUE_START_JOB_RUN = (
    "aws-sdk:glue:startJobRun"  # the universal target's service:action, after arn:<partition>:scheduler:::
)


def universal_action(arn: str) -> str | None:
    """`aws-sdk:<service>:<action>` of a universal target ARN (`arn:aws:scheduler:::aws-sdk:glue:startJobRun`)."""
    parts = arn.split(":", 5)
    if len(parts) == 6 and parts[2] == "scheduler" and parts[3] == "" and parts[4] == "":
        return parts[5]
    return None


class ScheduleTarget:
    """Fires one schedule at its target, plus AWS/Scheduler metrics.

    A Lambda function gets an asynchronous Invoke with the schedule's Input as payload. The
    universal target `aws-sdk:glue:startJobRun` calls Glue's StartJobRun with the Input as its
    request (`{"JobName": ...}`, PascalCase as the API takes it), as Scheduler does. A target
    the emulator cannot reach, or a call that fails (an unknown function or job, a Glue job at
    its MaxConcurrentRuns), counts a TargetErrorCount. Not emulated: Scheduler's retry policy.

    With `roles`, Scheduler first assumes the target's RoleArn as scheduler.amazonaws.com with
    aws:SourceArn = the schedule group's ARN and aws:SourceAccount (the trust policy must allow
    exactly that), and the role must allow lambda:InvokeFunction on the function (or
    glue:StartJobRun on the job); otherwise the firing is a target error and nothing is called.
    """

    def __init__(self, client_for: ClientFor, telemetry: Telemetry, roles: Roles | None = None) -> None:
        self._client_for = client_for
        self._telemetry = telemetry
        self._roles = roles

    def __call__(self, schedule: ScheduleDef, due: float) -> None:
        arn = schedule.target_arn
        where = f"schedule {schedule.group}/{schedule.name}"
        parts = arn.split(":")
        try:
            self._authorize(schedule)
            if len(parts) >= 7 and parts[2] == "lambda" and parts[5] == "function":
                self._client_for("lambda", parts[3]).invoke(
                    FunctionName=arn, InvocationType="Event", Payload=schedule.input.encode()
                )
                failed = False
            elif universal_action(arn) == GLUE_START_JOB_RUN:
                failed = not self._start_job_run(schedule, where)
            else:
                failed = True
                log.warning("%s: target %r is not a Lambda function or Glue's StartJobRun", where, arn)
        except (ClientError, BotoCoreError) as exc:
            failed = True
            log.warning("%s could not call its target %s: %s", where, arn, exc)
        except AssumeRoleError as exc:
            failed = True
            log.warning("%s: Scheduler could not act as the schedule's role: %s", where, exc)
        metrics = scheduler_metrics(schedule.group, due, target_error=failed)
        self._telemetry.put_metrics(schedule.region, [("AWS/Scheduler", m) for m in metrics])
        log.info("fired %s/%s (due %.3f)%s", schedule.group, schedule.name, due, " - target error" if failed else "")

    def _authorize(self, schedule: ScheduleDef) -> None:
        """Assume the role as Scheduler does, then check it may call the target; AssumeRoleError if not."""
        if self._roles is None:
            return
        self._roles.check_trust(schedule.role_arn, SCHEDULER_PRINCIPAL, scheduler_context(schedule.group_arn))
        wanted = _target_permission(schedule)
        if wanted is None:
            return  # a target the emulator cannot reach fails below anyway
        action, resource = wanted
        verdict = self._roles.verdict(schedule.role_arn, action, resource)
        if not verdict.allowed:
            who = schedule.role_arn
            raise AssumeRoleError(f"{who} is not authorized to perform {action} on {resource} {verdict.reason}")

    def _start_job_run(self, schedule: ScheduleDef, where: str) -> bool:
        try:
            request = json.loads(schedule.input)
        except ValueError:
            request = None
        if not isinstance(request, dict) or not isinstance(request.get("JobName"), str):
            log.warning(
                "%s: the Input of glue:startJobRun must be a JSON object with JobName, got %r", where, schedule.input
            )
            return False
        started = self._client_for("glue", schedule.region).start_job_run(**request)
        log.info("%s started Glue job run %s of %s", where, started["JobRunId"], request["JobName"])
        return True


def _target_permission(schedule: ScheduleDef) -> tuple[str, str] | None:
    """(IAM action, resource) the schedule's role needs to call its target."""
    arn = schedule.target_arn
    parts = arn.split(":")
    if len(parts) >= 7 and parts[2] == "lambda" and parts[5] == "function":
        return "lambda:InvokeFunction", arn
    if universal_action(arn) == GLUE_START_JOB_RUN:
        try:
            job = json.loads(schedule.input).get("JobName")
        except (ValueError, AttributeError):
            return None
        group = schedule.group_arn.split(":")
        return "glue:StartJobRun", f"arn:{group[1]}:glue:{schedule.region}:{group[4]}:job/{job}"
    return None


class SchedulerThread(threading.Thread):
    """Looks at the schedules every `poll` seconds and wakes up for each firing in between."""

    def __init__(
        self,
        source: Callable[[], list[ScheduleDef]],
        fire: Callable[[ScheduleDef, float], None],
        clock: VirtualClock,
        poll: float = 0.25,
    ) -> None:
        super().__init__(name="scheduler", daemon=True)
        self.source, self.fire, self.plan, self.poll = source, fire, FiringPlan(clock), poll
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            now = time.time()
            schedules = self.source()
            for schedule, due in self.plan.tick(schedules, now):
                self.fire(schedule, due)
            wake = self.plan.next_due(schedules, now, self.poll)
            self._stop_event.wait(max(0.005, wake - time.time()))

    def stop(self) -> None:
        self._stop_event.set()
