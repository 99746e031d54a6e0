"""Draw the dashboard's data (dashboard_data.py) as one self-contained HTML page.

Nothing is fetched when the page is viewed: charts are inline SVG drawn by pygal (no script
of its own: `js=[]`), the styles are inline, and a Content-Security-Policy forbids any other
source. Every text that came from AWS or the logs is HTML-escaped (log lines are input from
anyone who can make the function log). Colours follow the reader's light or dark scheme
(`prefers-color-scheme`); the charts' text and axes use `currentColor`, so they follow too.
Widgets sit on CloudWatch's 24-column grid at their own x, y, width and height.
"""

from __future__ import annotations

import html
import math
import re
from datetime import UTC, datetime

import pygal
from pygal.style import Style

from dataops_cli.observe.dashboard_data import DashboardData, Series, WidgetData

ROW_PX = 34  # one grid row (CloudWatch's height unit)
COLUMN_PX = 56  # one of 24 columns at a ~1400 px page: the charts' drawing size (they scale to fit)
DAY_MS = 86_400_000
TICK_STEPS = (60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400)
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f")
CSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:"
CSS = """
:root { color-scheme: light dark; --bg: #f2f3f3; --panel: #ffffff; --fg: #16191f; --muted: #5f6b7a;
  --border: #d5dbdb; --bad: #d13212; --code: #eaeded; }
@media (prefers-color-scheme: dark) { :root { --bg: #0f1b2a; --panel: #192534; --fg: #e9ebed;
  --muted: #a4aab1; --border: #414d5c; --bad: #ff7a6b; --code: #232f3e; } }
* { box-sizing: border-box; }
body { margin: 0; padding: 12px; background: var(--bg); color: var(--fg);
  font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Color Emoji", sans-serif; }
header { display: flex; flex-wrap: wrap; gap: 4px 16px; align-items: baseline; margin-bottom: 8px; }
header h1 { font-size: 18px; margin: 0; }
header span { color: var(--muted); }
.grid { display: grid; grid-template-columns: repeat(24, minmax(0, 1fr)); grid-auto-rows: %(row)spx; gap: 8px; }
.widget { background: var(--panel); border: 1px solid var(--border); border-radius: 4px; padding: 6px 8px;
  overflow: auto; display: flex; flex-direction: column; min-width: 0; }
.widget h2 { font-size: 14px; margin: 0 0 4px; }
.widget svg { width: 100%%; flex: 1; min-height: 0; color: var(--fg); }
.widget .axis .guide.line { opacity: .25; }
.tiles { display: flex; gap: 16px; flex-wrap: wrap; }
.tile .value { font-size: 28px; font-weight: 600; }
.tile .label, .note { color: var(--muted); font-size: 12px; }
.error { color: var(--bad); }
table { border-collapse: collapse; font-size: 12px; width: 100%%; }
th, td { text-align: left; padding: 2px 6px; border-bottom: 1px solid var(--border); vertical-align: top; }
th { position: sticky; top: 0; background: var(--panel); }
code { background: var(--code); padding: 0 3px; border-radius: 3px; }
.markdown h1 { font-size: 18px; margin: 0 0 4px; }
"""


def render(data: DashboardData, refresh_seconds: int | None = None) -> str:
    """The whole page; with `refresh_seconds`, the browser reloads it that often (--serve)."""
    refresh = f'<meta http-equiv="refresh" content="{int(refresh_seconds)}">' if refresh_seconds else ""
    widgets = "\n".join(widget_html(w) for w in data.widgets)
    link = (
        f' · <a href="{_e(data.console_url)}">open in the CloudWatch console</a>' if data.console_url else ""
    )  # a link the reader may follow, never fetched by the page itself
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">{refresh}
<title>{_e(data.name)} · dataops dashboard</title>
<style>{CSS % {"row": ROW_PX}}</style></head>
<body data-widgets="{len(data.widgets)}">
<header><h1>{_e(data.name)}</h1>
<span>{_e(data.region)} · {_e(_clock(data.start))} to {_e(_clock(data.end))} UTC · drawn {_e(data.generated_at)}
 · {data.api_calls} API calls{link}</span></header>
<main class="grid">
{widgets}
</main>
<script>document.body.dataset.rendered = String(document.querySelectorAll("section.widget").length);</script>
</body></html>
"""


def widget_html(w: WidgetData) -> str:
    points = sum(len(s.points) for s in w.series)
    state = "error" if w.error else ("ok" if points or w.rows or w.markdown else "empty")
    if w.kind == "text":
        inner = f'<div class="markdown">{markdown_html(w.markdown)}</div>'
    elif w.kind == "single":
        inner = tiles_html(w.series)
    elif w.kind == "log":
        inner = chart_svg(w) if w.chart else table_html(w.columns, w.rows)
    elif w.kind == "metric":
        inner = chart_svg(w)
    else:
        inner = ""
    title = f"<h2>{_e(w.title)}</h2>" if w.title else ""
    notes = "".join(f'<p class="note">{_e(n)}</p>' for n in w.notes)
    error = f'<p class="error">{_e(w.error)}</p>' if w.error else ""
    style = f"grid-column: {w.x + 1} / span {w.width}; grid-row: {w.y + 1} / span {w.height};"
    return (
        f'<section class="widget" style="{style}" data-kind="{_e(w.kind)}" data-title="{_e(w.title)}" '
        f'data-state="{state}" data-series="{len(w.series)}" data-points="{points}" data-rows="{len(w.rows)}">'
        f"{title}{error}{inner}{notes}</section>"
    )


def chart_svg(w: WidgetData) -> str:
    colors = tuple(s.color or PALETTE[i % len(PALETTE)] for i, s in enumerate(w.series)) or PALETTE
    style = Style(
        background="transparent",
        plot_background="transparent",
        foreground="currentColor",
        foreground_strong="currentColor",
        foreground_subtle="currentColor",
        colors=colors,
        font_family="inherit",
        label_font_size=11,
        major_label_font_size=11,
        legend_font_size=12,
        no_data_font_size=14,
        tooltip_font_size=12,
    )
    chart = pygal.DateTimeLine(
        style=style,
        js=[],  # no script fetched at view time
        width=w.width * COLUMN_PX,
        height=max(120, (w.height - 1) * ROW_PX),
        explicit_size=False,
        disable_xml_declaration=True,
        legend_at_bottom=True,
        legend_at_bottom_columns=max(1, w.width // 6 + 1),
        truncate_legend=-1,
        show_x_guides=False,
        dots_size=2,
        max_scale=6,
        x_value_formatter=lambda moment: moment.strftime("%H:%M" if w.end_ms - w.start_ms <= DAY_MS else "%m-%d %H:%M"),
        x_labels=axis_ticks(w.start_ms, w.end_ms),
        xrange=(w.start_ms / 1000, w.end_ms / 1000) if w.end_ms > w.start_ms else None,  # the whole window
        no_data_text="No data available",
        margin=4,
    )
    for series in w.series:
        values = [(datetime.fromtimestamp(t / 1000, UTC), v) for t, v in series.points]
        # an empty right-axis series has no range: pygal cannot scale it (drawn on the left, as empty)
        chart.add(_legend(series), values, secondary=series.right_axis and bool(values))
    return chart.render(is_unicode=True)


def axis_ticks(start_ms: int, end_ms: int, most: int = 7) -> list[datetime]:
    """Round times (every 1, 2, 5, 10, 15, 30 min, 1, 2, 3, 6, 12 h, 1 d ...) inside the window, at most `most`."""
    span = (end_ms - start_ms) / 1000
    if span <= 0:
        return []
    step = next((s for s in TICK_STEPS if span / s <= most), math.ceil(span / most / 86400) * 86400)
    first = math.ceil(start_ms / 1000 / step) * step
    return [datetime.fromtimestamp(t, UTC) for t in range(int(first), int(end_ms / 1000) + 1, step)]


def tiles_html(series: list[Series]) -> str:
    tiles = []
    for s in series:
        value = s.points[-1][1] if s.points else None
        tiles.append(
            f'<div class="tile"><div class="value">{_e(_figure(value))}</div>'
            f'<div class="label">{_e(_legend(s))}</div></div>'
        )
    return f'<div class="tiles">{"".join(tiles)}</div>'


def table_html(columns: list[str], rows: list[dict[str, str]]) -> str:
    if not rows:
        return '<p class="note">No data found for this time range.</p>'
    head = "".join(f"<th>{_e(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{_e(row.get(c, ''))}</td>" for c in columns) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def markdown_html(text: str) -> str:
    """The few Markdown forms a text widget uses here: `#` headings, `code` spans, paragraphs."""
    out = []
    for line in text.splitlines():
        escaped = re.sub(r"`([^`]*)`", r"<code>\1</code>", _e(line))
        heading = re.match(r"(#{1,6})\s+(.*)", escaped)
        if heading:
            out.append(f"<h{len(heading[1])}>{heading[2]}</h{len(heading[1])}>")
        elif escaped.strip():
            out.append(f"<p>{escaped}</p>")
    return "".join(out)


def _legend(series: Series) -> str:
    return series.label


def _figure(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:,.0f}" if float(value).is_integer() or abs(value) >= 100 else f"{value:,.2f}"


def _clock(iso: str) -> str:
    return iso[:16].replace("T", " ")


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)
