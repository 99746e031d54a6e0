"""Helpers shared by the local-emulator tests: a FunctionSpec to run, wait-until, and the schedule switched."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from dataops_cli.emulator.runner import FunctionSpec


def make_spec(name: str = "F", region: str = "ap-south-1", **overrides: Any) -> FunctionSpec:
    """A function as the emulator sees it in moto, with small test-friendly defaults."""
    fields: dict[str, Any] = {
        "account": "123456789012",
        "region": region,
        "name": name,
        "arn": f"arn:aws:lambda:{region}:123456789012:function:{name}",
        "handler": "handler.lambda_function.lambda_handler",
        "runtime": "python3.12",
        "timeout": 3,
        "memory_mb": 128,
        "environment": {},
        "code": b"",
        "code_sha256": "",
        "reserved_concurrency": 1,
        "max_event_age": 300,
    }
    return FunctionSpec(**{**fields, **overrides})


def wait_until(check: Callable[[], Any], timeout: float = 30.0, what: str = "", interval: float = 0.05) -> Any:
    """Poll `check` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what or check}")
        time.sleep(interval)


# UpdateSchedule replaces the whole schedule: what it would otherwise reset is passed back as it is.
SCHEDULE_KEPT = ("ScheduleExpression", "ScheduleExpressionTimezone", "FlexibleTimeWindow", "Target", "Description")


def set_schedule_state(
    scheduler: Any, state: str, name: str = "dataops-run-pipeline", group: str = "dataops-schedules"
) -> None:
    """ENABLED or DISABLED, the rest of the deployed schedule unchanged."""
    current = scheduler.get_schedule(Name=name, GroupName=group)
    kept = {k: current[k] for k in SCHEDULE_KEPT if k in current}
    scheduler.update_schedule(Name=name, GroupName=group, State=state, **kept)
