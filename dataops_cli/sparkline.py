"""One line of block characters for a series: shared by status's and the quality section's views.

Its own module so status_view and quality_view (which status_view renders) need not import
each other (tests/unit/test_architecture.py checks that no import cycle exists).

`Sparkline` is a rich renderable that draws itself in the width its table column got, so a
3-hour window (90 periods) at 80 columns is bucketed to fit rather than drawn 45 wide and
cut with "…" (which dropped the newest periods, where the runs were). Buckets are counted
from the newest period back, so the newest always has the rightmost character.
"""

from __future__ import annotations

from rich.console import Console, ConsoleOptions, RenderResult
from rich.measure import Measurement
from rich.text import Text

BLOCKS = "▁▂▃▄▅▆▇█"
MIN_WIDTH = 8  # narrower than this a sparkline says nothing


def buckets(values: list[float], width: int) -> list[float]:
    """At most `width` averages of consecutive values, grouped from the newest (last) value back:
    the last bucket always holds the newest value; only the oldest bucket may be short."""
    if not values:
        return []
    size = max(1, -(-len(values) // max(1, width)))
    groups = [values[max(0, end - size) : end] for end in range(len(values), 0, -size)][::-1]
    return [sum(group) / len(group) for group in groups]


def sparkline(values: list[float], width: int = 48) -> str:
    """One block character per bucket, scaled to the largest; any non-zero bucket shows above the floor."""
    points = buckets(values, width)
    if not points:
        return ""
    top = max(points)
    if top <= 0:
        return BLOCKS[0] * len(points)
    steps = len(BLOCKS) - 1
    return "".join(BLOCKS[0] if v <= 0 else BLOCKS[max(1, min(steps, round(v / top * steps)))] for v in points)


class Sparkline:
    """A sparkline drawn in the width rich gives it (at most one character per value)."""

    def __init__(self, values: list[float], style: str = "") -> None:
        self.values = list(values)
        self.style = style

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        natural = max(1, len(self.values))
        return Measurement(min(MIN_WIDTH, natural), natural).clamp(max_width=options.max_width)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield Text(sparkline(self.values, options.max_width), style=self.style, no_wrap=True, overflow="crop")
