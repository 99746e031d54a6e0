"""Schedule expressions: parsing and the firing times used by status and the local scheduler."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from dataops_cli.schedule_expr import At, Cron, Rate, ScheduleExpressionError, expected_firings, parse_schedule

UTC_ZONE = ZoneInfo("UTC")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("expression", "seconds"),
    [("rate(1 minute)", 60), ("rate(2 minutes)", 120), ("rate(3 hours)", 10800), ("rate(1 day)", 86400)],
)
def test_rates(expression, seconds):
    assert parse_schedule(expression) == Rate(seconds)


def test_rate_repeats_from_its_anchor():
    rate, anchor = Rate(120), at("2026-01-01T00:00:30")
    assert rate.next_after(at("2026-01-01T00:00:00"), anchor) == at("2026-01-01T00:02:30")
    assert rate.next_after(at("2026-01-01T00:02:30"), anchor) == at("2026-01-01T00:04:30")
    assert expected_firings(rate, at("2026-01-01T00:00:30"), at("2026-01-01T03:00:30"), UTC_ZONE, anchor) == 90


def test_at_fires_once():
    schedule = parse_schedule("at(2030-05-01T10:00:00)")
    assert isinstance(schedule, At)
    zone = ZoneInfo("Asia/Kolkata")
    assert schedule.next_after(at("2030-01-01T00:00:00"), zone) == datetime(2030, 5, 1, 10, tzinfo=zone)
    assert schedule.next_after(at("2031-01-01T00:00:00"), zone) is None
    assert expected_firings(schedule, at("2030-01-01T00:00:00"), at("2031-01-01T00:00:00"), zone) == 1


def test_cron_every_fifteen_minutes_on_weekdays():
    cron = parse_schedule("cron(0/15 8-9 ? * MON-FRI *)")
    assert isinstance(cron, Cron)
    friday_evening = at("2026-11-27T09:50:00")  # a Friday
    assert cron.next_after(friday_evening, UTC_ZONE) == at("2026-11-30T08:00:00")  # Monday
    monday = at("2026-11-30T00:00:00")
    assert expected_firings(cron, monday, monday + timedelta(days=1), UTC_ZONE) == 8


@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        ("cron(0 12 L * ? *)", "2026-02-01T00:00:00", "2026-02-28T12:00:00"),
        ("cron(0 12 ? * 6#3 *)", "2026-11-01T00:00:00", "2026-11-20T12:00:00"),  # third Friday
        ("cron(0 12 ? * 6L *)", "2026-11-01T00:00:00", "2026-11-27T12:00:00"),  # last Friday
        ("cron(0 12 1W * ? *)", "2026-11-01T00:00:00", "2026-11-02T12:00:00"),  # 1st is a Sunday
        ("cron(30 6 1 JAN,JUL ? 2027)", "2026-11-01T00:00:00", "2027-01-01T06:30:00"),
    ],
)
def test_cron_special_fields(expression, after, expected):
    assert parse_schedule(expression).next_after(at(after), UTC_ZONE) == at(expected)


def test_cron_in_a_time_zone():
    cron = parse_schedule("cron(0 9 * * ? *)")
    zone = ZoneInfo("Asia/Kolkata")
    assert cron.next_after(at("2026-11-25T00:00:00"), zone) == at("2026-11-25T03:30:00")


@pytest.mark.parametrize(
    "expression",
    [
        "rate(0 minutes)",
        "rate(5 weeks)",
        "cron(* * * * *)",
        "cron(0 25 * * ? *)",
        "cron(0 1 * JANUARY ? *)",
        "cron(0 1 ? * MON *)x",
        "at(2026-13-01T00:00:00)",
        "at(tomorrow)",
        "",
    ],
)
def test_rejected(expression):
    with pytest.raises(ScheduleExpressionError):
        parse_schedule(expression)
