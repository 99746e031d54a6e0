"""Read a CloudWatch dashboard body (as GetDashboard returns it) into what must be fetched and drawn.

The body's structure is AWS's (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/
CloudWatch-Dashboard-Body-Structure.html): widgets on a 24-column grid (x, y, width, height);
a metric widget's `metrics` rows are `[namespace, name, dim, value, ..., {options}]` where "."
repeats the row above's item, or `[{"expression": ..., "id": ...}]` for metric math; a log
widget's query starts with `SOURCE 'group' |` once per log group; `start` is an ISO 8601
duration before now (`-PT3H`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from dataops_cli.aws import DataopsError
from dataops_cli.observe.metrics import metric_stat_query
from dataops_cli.timewindow import Window

GRID_COLUMNS = 24
DEFAULT_RANGE_SECONDS = 3 * 3600  # the console's default when a body names no start
_DURATION_RE = re.compile(r"-?P(?:(?P<w>\d+)W)?(?:(?P<d>\d+)D)?(?:T(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?(?:(?P<s>\d+)S)?)?")
_SOURCE_RE = re.compile(r"\s*SOURCE\s+'((?:[^'\\]|\\.)*)'\s*\|")


@dataclass(frozen=True)
class MetricLine:
    """One row of a metric widget: a metric with its stat, or a math expression."""

    id: str
    label: str
    stat: str = ""
    namespace: str = ""
    metric: str = ""
    dimensions: tuple[tuple[str, str], ...] = ()
    expression: str = ""
    color: str = ""
    right_axis: bool = False
    visible: bool = True
    period: int = 0
    whole_window: bool = False

    def request(self, window: Window) -> dict[str, Any]:
        """This line as one MetricDataQuery of GetMetricData."""
        if self.expression:
            return {"Id": self.id, "Expression": self.expression, "Label": self.label, "ReturnData": self.visible}
        period = window.seconds if self.whole_window else self.period
        return metric_stat_query(self.id, self.namespace, self.metric, self.dimensions, period, self.stat, self.visible)


@dataclass
class WidgetSpec:
    index: int
    kind: str  # metric / single / log / text / other
    x: int
    y: int
    width: int
    height: int
    title: str
    properties: dict[str, Any] = field(default_factory=dict)
    lines: list[MetricLine] = field(default_factory=list)
    log_groups: list[str] = field(default_factory=list)
    query: str = ""
    period: int = 300


def range_seconds(body: dict[str, Any]) -> int:
    """The body's `start` (`-PT3H`) in seconds; the console's 3 hours when it has none."""
    start = body.get("start")
    if not start:
        return DEFAULT_RANGE_SECONDS
    match = _DURATION_RE.fullmatch(str(start))
    units = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}
    seconds = sum(int(match[k] or 0) * v for k, v in units.items()) if match else 0
    if not seconds:
        raise DataopsError(f"the dashboard's start {start!r} is not a relative ISO 8601 duration such as -PT3H")
    return seconds


def widgets(body: dict[str, Any]) -> list[WidgetSpec]:
    """Every widget in reading order (by row, then column), as CloudWatch places them."""
    specs = [_widget(i, w) for i, w in enumerate(body.get("widgets", []))]
    return sorted(specs, key=lambda s: (s.y, s.x, s.index))


def _widget(index: int, raw: dict[str, Any]) -> WidgetSpec:
    props = raw.get("properties", {}) or {}
    kind = raw.get("type", "")
    width = min(GRID_COLUMNS, max(1, int(raw.get("width", 6))))
    spec = WidgetSpec(
        index=index,
        kind=kind if kind in ("metric", "log", "text") else "other",
        x=min(GRID_COLUMNS - width, max(0, int(raw.get("x", 0)))),
        y=max(0, int(raw.get("y", 0))),
        width=width,
        height=max(1, int(raw.get("height", 6))),
        title=str(props.get("title", "")),
        properties=props,
        period=int(props.get("period", 300)),
    )
    if kind == "metric":
        whole = props.get("view") == "singleValue" and bool(props.get("setPeriodToTimeRange"))
        spec.kind = "single" if props.get("view") == "singleValue" else "metric"
        spec.lines = metric_lines(index, props.get("metrics", []), props.get("stat", "Average"), spec.period, whole)
    elif kind == "log":
        spec.log_groups, spec.query = split_sources(str(props.get("query", "")))
    return spec


def metric_lines(widget: int, rows: list[Any], default_stat: str, period: int, whole: bool) -> list[MetricLine]:
    lines: list[MetricLine] = []
    previous: list[Any] = []
    for number, row in enumerate(rows):
        options = row[-1] if row and isinstance(row[-1], dict) else {}
        items = [p for p in row if not isinstance(p, dict)]
        if options.get("expression"):
            lines.append(
                MetricLine(
                    id=str(options.get("id") or f"e{widget}x{number}"),
                    label=str(options.get("label") or options["expression"]),
                    expression=str(options["expression"]),
                    color=str(options.get("color", "")),
                    right_axis=options.get("yAxis") == "right",
                    visible=options.get("visible", True) is not False,
                    period=int(options.get("period", period)),
                    whole_window=whole,
                )
            )
            continue
        items = [previous[i] if item == "." and i < len(previous) else item for i, item in enumerate(items)]
        previous = items
        if len(items) < 2 or len(items) % 2:
            raise DataopsError(f"widget {widget}: metric row {row!r} is not [namespace, name, dim, value, ...]")
        namespace, name, *dims = (str(item) for item in items)
        lines.append(
            MetricLine(
                id=str(options.get("id") or f"w{widget}m{number}"),
                label=str(options.get("label") or name),
                stat=str(options.get("stat", default_stat)),
                namespace=namespace,
                metric=name,
                dimensions=tuple(zip(dims[::2], dims[1::2], strict=True)),
                color=str(options.get("color", "")),
                right_axis=options.get("yAxis") == "right",
                visible=options.get("visible", True) is not False,
                period=int(options.get("period", period)),
                whole_window=whole,
            )
        )
    return lines


def split_sources(query: str) -> tuple[list[str], str]:
    """(log groups, the query proper): the widget's `SOURCE 'g' |` prefixes become StartQuery's logGroupNames."""
    groups: list[str] = []
    rest = query
    while match := _SOURCE_RE.match(rest):
        groups.append(re.sub(r"\\(.)", r"\1", match[1]))
        rest = rest[match.end() :]
    return groups, rest.strip()
