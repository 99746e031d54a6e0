"""One line of block characters for a series: shared by status's and the quality section's views.

Its own module so status_view and quality_view (which status_view renders) need not import
each other (tests/test_architecture.py checks that no import cycle exists).
"""

from __future__ import annotations

BLOCKS = "▁▂▃▄▅▆▇█"


def sparkline(values: list[float], width: int = 48) -> str:
    """One block character per period (bucketed down to `width`), scaled to the maximum."""
    if not values:
        return ""
    size = max(1, -(-len(values) // width))
    buckets = [sum(values[i : i + size]) / size for i in range(0, len(values), size)]
    top = max(buckets)
    if top <= 0:
        return BLOCKS[0] * len(buckets)
    return "".join(BLOCKS[min(len(BLOCKS) - 1, int(v / top * (len(BLOCKS) - 1) + 0.5))] for v in buckets)
