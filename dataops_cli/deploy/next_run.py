"""When the deployed schedule fires next (what `up` prints last), from the schedule and its creation time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from dataops_cli.config import Config
from dataops_cli.schedule_expr import Rate


@dataclass(frozen=True)
class NextRun:
    due: datetime
    seconds: float  # from now
    scale: float  # the emulator's speed (1 on AWS)


def next_run(config: Config, scheduler: Any, scale: float, now: datetime | None = None) -> NextRun | None:
    """The next firing (None: none is due, e.g. a past `at(...)`); a rate counts from the schedule's creation.

    The emulator fires a rate `scale` times as often (`--speed`).
    """
    now = now or datetime.now(UTC)
    schedule = config.schedule.parsed
    found = scheduler.get_schedule(Name=config.schedule_name, GroupName=config.schedule_group)
    if isinstance(schedule, Rate):
        due = schedule.scaled(scale).next_after(now, found["CreationDate"].astimezone(UTC))
    else:
        due = schedule.next_after(now, ZoneInfo(config.schedule.timezone))
    return NextRun(due, (due - now).total_seconds(), scale) if due is not None else None
