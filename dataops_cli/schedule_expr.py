"""EventBridge Scheduler expressions: rate(...), cron(...) and at(...), parsed and evaluated.

moto accepts any string (even `rate(banana)`), so the config is validated here. The same
parser tells `status` how many runs to expect in a window and tells the local emulator
when to fire, so what we deploy, what we check and what we simulate cannot disagree.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo


class ScheduleExpressionError(ValueError):
    """The expression is not one EventBridge Scheduler accepts; the message says why."""


_RATE_RE = re.compile(r"rate\((\d+) (minute|minutes|hour|hours|day|days)\)")
_AT_RE = re.compile(r"at\((\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\)")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}
_MONTHS = {m.upper(): i for i, m in enumerate(calendar.month_abbr) if m}
_DAYS = {"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}
_EXPECTED = "rate(N minutes|hours|days), cron(min hour day-of-month month day-of-week year) or at(yyyy-mm-ddThh:mm:ss)"

DayMatcher = Callable[[date], bool]


@dataclass(frozen=True)
class Rate:
    seconds: float

    def scaled(self, time_scale: float) -> Rate:
        """The same schedule with time compressed `time_scale` times (the emulator's --speed)."""
        return Rate(self.seconds / time_scale)

    def next_after(self, after: datetime, anchor: datetime) -> datetime:
        """First firing strictly after `after`; rate schedules repeat from their anchor."""
        if after < anchor:
            return anchor + timedelta(seconds=self.seconds)
        periods = int((after - anchor).total_seconds() // self.seconds) + 1
        return anchor + timedelta(seconds=periods * self.seconds)


@dataclass(frozen=True)
class At:
    when: datetime  # naive, in the schedule's time zone

    def next_after(self, after: datetime, tz: ZoneInfo) -> datetime | None:
        moment = self.when.replace(tzinfo=tz)
        return moment if moment > after else None


@dataclass(frozen=True)
class Cron:
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    months: frozenset[int]
    years: frozenset[int] | None
    day_matches: DayMatcher

    def next_after(self, after: datetime, tz: ZoneInfo, horizon_days: int = 366 * 4) -> datetime | None:
        """First firing strictly after `after` (aware), within a bounded search horizon."""
        local = after.astimezone(tz)
        day = local.date()
        for _ in range(horizon_days):
            if day.month in self.months and (self.years is None or day.year in self.years) and self.day_matches(day):
                for hour in self.hours:
                    for minute in self.minutes:
                        moment = datetime(day.year, day.month, day.day, hour, minute, tzinfo=tz)
                        if moment > after:
                            return moment
            day += timedelta(days=1)
        return None


Schedule = Rate | At | Cron


def parse_schedule(expression: str) -> Schedule:
    """Parse an expression or raise ScheduleExpressionError saying what is allowed."""
    expression = expression.strip()
    if match := _RATE_RE.fullmatch(expression):
        value, unit = int(match[1]), match[2]
        if value < 1:
            raise ScheduleExpressionError("a rate value of at least 1")
        if (value == 1) != (not unit.endswith("s")):
            fixed = f"rate({value} {unit.rstrip('s') if value == 1 else unit + 's'})"
            raise ScheduleExpressionError(f"singular unit for 1 and plural otherwise, e.g. {fixed}")
        return Rate(value * _UNIT_SECONDS[unit.rstrip("s")])
    if match := _AT_RE.fullmatch(expression):
        try:
            return At(datetime.fromisoformat(match[1]))
        except ValueError:
            raise ScheduleExpressionError(f"a real date and time in at(...), got {match[1]!r}") from None
    if expression.startswith("cron(") and expression.endswith(")"):
        return _parse_cron(expression[5:-1])
    raise ScheduleExpressionError(_EXPECTED)


def expected_firings(
    schedule: Schedule,
    start: datetime,
    end: datetime,
    tz: ZoneInfo,
    anchor: datetime | None = None,
    limit: int = 100_000,
) -> int:
    """How many times the schedule fires in (start, end]; rate needs its anchor (creation time)."""
    return sum(1 for _ in iter_firings(schedule, start, end, tz, anchor, limit))


def iter_firings(
    schedule: Schedule,
    start: datetime,
    end: datetime,
    tz: ZoneInfo,
    anchor: datetime | None = None,
    limit: int = 100_000,
) -> Iterator[datetime]:
    """Firing times in (start, end], at most `limit` of them."""
    moment: datetime | None = start
    for _ in range(limit):
        if isinstance(schedule, Rate):
            moment = schedule.next_after(moment, anchor or start)
        else:
            moment = schedule.next_after(moment, tz)
        if moment is None or moment > end:
            return
        yield moment


def _parse_cron(body: str) -> Cron:
    parts = body.split()
    if len(parts) != 6:
        raise ScheduleExpressionError(
            f"six cron fields (minutes hours day-of-month month day-of-week year), got {len(parts)}"
        )
    minute_f, hour_f, dom_f, month_f, dow_f, year_f = parts
    if (dom_f == "?") == (dow_f == "?"):
        raise ScheduleExpressionError("'?' in exactly one of day-of-month and day-of-week")
    minutes = _parse_field(minute_f, 0, 59, "minutes")
    hours = _parse_field(hour_f, 0, 23, "hours")
    months = _parse_field(month_f, 1, 12, "month", _MONTHS)
    years = None if year_f in ("*", "?") else frozenset(_parse_field(year_f, 1970, 2199, "year"))
    day_matches = _day_of_week_matcher(dow_f) if dom_f == "?" else _day_of_month_matcher(dom_f)
    return Cron(tuple(sorted(minutes)), tuple(sorted(hours)), frozenset(months), years, day_matches)


def _parse_field(text: str, low: int, high: int, name: str, names: dict[str, int] | None = None) -> set[int]:
    """A cron field of *, values, ranges a-b and steps x/n, comma-separated."""
    values: set[int] = set()
    for item in text.split(","):
        base, _, step_text = item.partition("/")
        step = _number(step_text, 1, high - low + 1, name) if step_text else 1
        if base in ("*", "?"):
            first, last = low, high
        elif "-" in base:
            left, right = base.split("-", 1)
            first, last = _value(left, low, high, name, names), _value(right, low, high, name, names)
            if first > last:
                raise ScheduleExpressionError(f"an ascending range in the {name} field, got {base!r}")
        else:
            first = _value(base, low, high, name, names)
            last = high if step_text else first
        values.update(range(first, last + 1, step))
    return values


def _value(text: str, low: int, high: int, name: str, names: dict[str, int] | None) -> int:
    if names and text.upper() in names:
        return names[text.upper()]
    return _number(text, low, high, name)


def _number(text: str, low: int, high: int, name: str) -> int:
    if not text.isdigit() or not low <= int(text) <= high:
        raise ScheduleExpressionError(f"{name} values from {low} to {high}, got {text!r}")
    return int(text)


def _day_of_month_matcher(text: str) -> DayMatcher:
    if text == "L":
        return lambda d: d.day == calendar.monthrange(d.year, d.month)[1]
    if text == "LW":
        return lambda d: d == _last_weekday(d.year, d.month)
    if text.endswith("W"):
        target = _number(text[:-1], 1, 31, "day-of-month")
        return lambda d: d == _nearest_weekday(d.year, d.month, target)
    days = _parse_field(text, 1, 31, "day-of-month")
    return lambda d: d.day in days


def _day_of_week_matcher(text: str) -> DayMatcher:
    if "#" in text:
        weekday_text, nth_text = text.split("#", 1)
        weekday = _value(weekday_text, 1, 7, "day-of-week", _DAYS)
        nth = _number(nth_text, 1, 5, "day-of-week occurrence")
        return lambda d: _aws_weekday(d) == weekday and (d.day - 1) // 7 + 1 == nth
    if text.endswith("L") and text != "L":
        weekday = _value(text[:-1], 1, 7, "day-of-week", _DAYS)
        return lambda d: _aws_weekday(d) == weekday and d.day + 7 > calendar.monthrange(d.year, d.month)[1]
    if text == "L":
        return lambda d: _aws_weekday(d) == 7
    weekdays = _parse_field(text, 1, 7, "day-of-week", _DAYS)
    return lambda d: _aws_weekday(d) in weekdays


def _aws_weekday(d: date) -> int:
    """AWS numbers days 1=SUN .. 7=SAT."""
    return (d.weekday() + 1) % 7 + 1


def _nearest_weekday(year: int, month: int, day: int) -> date | None:
    last = calendar.monthrange(year, month)[1]
    if day > last:
        return None
    target = date(year, month, day)
    if target.weekday() == 5:  # Saturday -> Friday, or Monday if Friday is last month
        return target - timedelta(days=1) if day > 1 else target + timedelta(days=2)
    if target.weekday() == 6:  # Sunday -> Monday, or Friday if Monday is next month
        return target + timedelta(days=1) if day < last else target - timedelta(days=2)
    return target


def _last_weekday(year: int, month: int) -> date:
    d = date(year, month, calendar.monthrange(year, month)[1])
    while d.weekday() >= 5:
        d -= timedelta(days=1)
    return d
