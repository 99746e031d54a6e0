"""The emulator's schedule firing logic, on a fake clock: when each schedule fires, and exactly once."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from dataops_cli.emulator.scheduler import FiringPlan, ScheduleDef, VirtualClock, due_firings

T0 = datetime(2026, 11, 25, 10, 0, 0, tzinfo=UTC).timestamp()


def schedule(expression: str = "rate(2 minutes)", created: float = T0, **extra) -> ScheduleDef:
    defaults = {
        "region": "ap-south-1",
        "group": "dataops-schedules",
        "name": "dataops-run-pipeline",
        "timezone": "UTC",
        "enabled": True,
        "target_arn": "arn:aws:lambda:ap-south-1:123456789012:function:F",
    }
    return ScheduleDef(expression=expression, created=created, **{**defaults, **extra})


def test_virtual_clock_compresses_intervals_from_its_origin():
    clock = VirtualClock(origin=T0, speed=60)
    assert clock.virtual(T0) == T0
    assert clock.virtual(T0 + 2) == T0 + 120
    assert clock.real(clock.virtual(T0 + 7.5)) == pytest.approx(T0 + 7.5)


def test_rate_fires_every_interval_from_its_creation_date():
    s = schedule(created=T0 + 30)
    fired = due_firings(s, VirtualClock(T0), T0, T0 + 600)
    assert fired == [T0 + 150, T0 + 270, T0 + 390, T0 + 510]


def test_speed_compresses_only_the_interval():
    s = schedule(created=T0 + 10)
    fired = due_firings(s, VirtualClock(T0, speed=60), T0, T0 + 20)
    # Created 10 s after the emulator started; then every 2 minutes / 60 = 2 s of wall time.
    assert fired == pytest.approx([T0 + 12, T0 + 14, T0 + 16, T0 + 18, T0 + 20])


def test_cron_follows_the_schedule_time_zone():
    s = schedule("cron(30 9 * * ? *)", timezone="Asia/Kolkata")  # 09:30 IST = 04:00 UTC
    fired = due_firings(s, VirtualClock(T0), T0, T0 + 2 * 86400)
    assert [datetime.fromtimestamp(t, UTC).strftime("%d %H:%M") for t in fired] == ["26 04:00", "27 04:00"]


def test_at_fires_once():
    s = schedule("at(2026-11-25T10:05:00)")
    assert due_firings(s, VirtualClock(T0), T0, T0 + 3600) == [T0 + 300]
    assert due_firings(s, VirtualClock(T0), T0 + 300, T0 + 7200) == []


def test_start_and_end_dates_bound_the_firings():
    s = schedule("rate(1 minute)", start=T0 + 120, end=T0 + 300)
    assert due_firings(s, VirtualClock(T0), T0, T0 + 900) == [T0 + 180, T0 + 240, T0 + 300]


def test_an_invalid_expression_never_fires():
    assert due_firings(schedule("rate(banana)"), VirtualClock(T0), T0, T0 + 900) == []


def test_plan_fires_each_firing_exactly_once_across_ticks():
    plan = FiringPlan(VirtualClock(T0, speed=60))
    s = schedule(created=T0)
    fired = []
    now = T0
    while now < T0 + 10:  # uneven tick spacing, as a busy thread would have
        now += 0.37
        fired += [t for _, t in plan.tick([s], now)]
    assert fired == pytest.approx([T0 + 2, T0 + 4, T0 + 6, T0 + 8, T0 + 10])


def test_plan_catches_up_after_a_stall():
    plan = FiringPlan(VirtualClock(T0, speed=60))
    s = schedule(created=T0)
    assert plan.tick([s], T0 + 1) == []
    assert [t for _, t in plan.tick([s], T0 + 7)] == pytest.approx([T0 + 2, T0 + 4, T0 + 6])


def test_a_schedule_created_between_ticks_fires_from_its_creation():
    plan = FiringPlan(VirtualClock(T0, speed=60))
    assert plan.tick([], T0 + 1) == []
    s = schedule(created=T0 + 1.5)
    assert [t for _, t in plan.tick([s], T0 + 4)] == pytest.approx([T0 + 3.5])


def test_disabled_schedules_do_not_fire_and_reenabling_fires_no_backlog():
    plan = FiringPlan(VirtualClock(T0, speed=60))
    s = schedule(created=T0)
    assert len(plan.tick([s], T0 + 2.5)) == 1
    disabled = schedule(created=T0, enabled=False)
    assert plan.tick([disabled], T0 + 9) == []
    assert [t for _, t in plan.tick([s], T0 + 10.5)] == pytest.approx([T0 + 10])


def test_a_deleted_schedule_stops_firing():
    plan = FiringPlan(VirtualClock(T0, speed=60))
    s = schedule(created=T0)
    plan.tick([s], T0 + 1)
    assert plan.tick([], T0 + 10) == []


def test_firings_of_several_schedules_come_oldest_first():
    plan = FiringPlan(VirtualClock(T0))
    a = schedule("rate(1 minute)", name="a")
    b = schedule("rate(2 minutes)", name="b", created=T0 + 30)
    fired = [(d.name, t - T0) for d, t in plan.tick([b, a], T0 + 180)]
    assert fired == [("a", 60), ("a", 120), ("b", 150), ("a", 180)]


def test_next_due_is_the_soonest_firing_or_the_horizon():
    plan = FiringPlan(VirtualClock(T0, speed=60))
    s = schedule(created=T0)
    assert plan.next_due([s], T0 + 0.5, horizon=0.25) == T0 + 0.75
    assert plan.next_due([s], T0 + 1.9, horizon=0.25) == pytest.approx(T0 + 2)


def test_from_api_reads_a_get_schedule_response():
    found = {
        "Name": "dataops-run-pipeline",
        "GroupName": "dataops-schedules",
        "ScheduleExpression": "rate(2 minutes)",
        "ScheduleExpressionTimezone": "UTC",
        "State": None,  # moto clears State on an update without it; AWS's default is ENABLED
        "CreationDate": datetime.fromtimestamp(T0, UTC),
        "Target": {"Arn": "arn:aws:lambda:ap-south-1:123456789012:function:F", "Input": '{"trigger": "schedule"}'},
    }
    s = ScheduleDef.from_api("ap-south-1", found)
    assert (s.enabled, s.created, s.input, s.group) == (True, T0, '{"trigger": "schedule"}', "dataops-schedules")
