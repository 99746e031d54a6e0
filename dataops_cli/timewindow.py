"""`--since 30m / 3h / 1d`, and windows aligned to metric periods."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_SINCE_RE = re.compile(r"(\d+)\s*([smhdw])")


def parse_since(text: str) -> int:
    """Seconds in a span like '90s', '30m', '3h', '1d', '2w'."""
    match = _SINCE_RE.fullmatch(text.strip().lower())
    if not match:
        raise ValueError(
            f"{text!r} is not a time span: expected a number and a unit, e.g. 30m, 3h, 1d (units s m h d w)"
        )
    if int(match[1]) == 0:
        raise ValueError(f"{text!r} is an empty window: expected a span greater than zero, e.g. 30m, 3h, 1d")
    return int(match[1]) * _UNITS[match[2]]


@dataclass(frozen=True)
class Window:
    """[start, end) cut into whole periods; end is rounded up to a period boundary."""

    start: datetime
    end: datetime
    period: int

    @classmethod
    def ending_now(cls, seconds: int, period: int, now: datetime | None = None) -> Window:
        now = now or datetime.now(UTC)
        end_epoch = math.ceil(now.timestamp() / period) * period
        periods = max(1, math.ceil(seconds / period))
        end = datetime.fromtimestamp(end_epoch, UTC)
        return cls(end - timedelta(seconds=periods * period), end, period)

    @property
    def seconds(self) -> int:
        return int((self.end - self.start).total_seconds())

    @property
    def periods(self) -> list[datetime]:
        return [self.start + timedelta(seconds=i * self.period) for i in range(self.seconds // self.period)]


def iso_epoch_ms(moment: object) -> int | None:
    """Epoch milliseconds of an ISO 8601 time as the handler writes them (`...Z` or an offset;
    none means UTC); None for anything else: such times come from files anyone can edit."""
    if not isinstance(moment, str):
        return None
    try:
        parsed = datetime.fromisoformat(moment.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp() * 1000)


def human_duration(seconds: float) -> str:
    seconds = abs(seconds)
    if seconds < 90:
        return f"{seconds:.0f}s"
    if seconds < 5400:
        return f"{seconds / 60:.0f}m"
    if seconds < 172800:
        return f"{seconds / 3600:.1f}h"
    return f"{seconds / 86400:.1f}d"
