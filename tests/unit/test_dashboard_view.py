"""The dashboard page: reading the body (dashboard_spec) and drawing plain data (dashboard_view), no AWS."""

from __future__ import annotations

import re

import pytest

from dataops_cli.aws import DataopsError
from dataops_cli.deploy.dashboard import DashboardInputs, build_dashboard
from dataops_cli.observe import dashboard_spec
from dataops_cli.observe.dashboard_data import DashboardData, Series, WidgetData, merged_columns
from dataops_cli.observe.dashboard_view import axis_ticks, render, widget_html

HOSTILE = '<script>alert("x")</script><img src=http://evil.example/x.png onerror=alert(1)>'


def inputs() -> DashboardInputs:
    return DashboardInputs(stack="s", region="ap-south-1", function="Fn", log_group="/aws/lambda/Fn",
                           schedule_group="g", bucket="b")  # fmt: skip


def page(*widgets: WidgetData) -> str:
    data = DashboardData("Dash", "ap-south-1", "2026-12-07T10:00:00+00:00", "2026-12-07T13:00:00+00:00", 10800,
                         list(widgets), "2026-12-07T13:00:00+00:00", api_calls=7)  # fmt: skip
    return render(data)


def test_the_deployed_body_reads_as_16_widgets_on_the_24_column_grid():
    specs = dashboard_spec.widgets(build_dashboard(inputs()))
    assert len(specs) == 16
    assert [s.kind for s in specs].count("log") == 2 and [s.kind for s in specs].count("single") == 5
    assert all(s.x >= 0 and s.x + s.width <= 24 for s in specs)
    duration = next(s for s in specs if s.title == "Lambda duration (ms)")
    assert [(ln.label, ln.stat, ln.period) for ln in duration.lines] == [("avg", "Average", 120), ("p99", "p99", 120)]
    tiles = [s for s in specs if s.kind == "single"]
    assert all(line.whole_window for s in tiles for line in s.lines)  # setPeriodToTimeRange


def test_range_and_metric_rows_follow_the_body_syntax():
    assert dashboard_spec.range_seconds({"start": "-PT3H"}) == 10800
    assert dashboard_spec.range_seconds({"start": "-P1DT30M"}) == 88200
    assert dashboard_spec.range_seconds({}) == 10800
    lines = dashboard_spec.metric_lines(
        0,
        [["AWS/Lambda", "Errors", "FunctionName", "f"], [".", "Invocations", ".", ".", {"stat": "p90"}]],
        "Sum",
        60,
        False,
    )
    assert [(ln.metric, ln.dimensions, ln.stat) for ln in lines] == [
        ("Errors", (("FunctionName", "f"),), "Sum"),
        ("Invocations", (("FunctionName", "f"),), "p90"),
    ]
    math = dashboard_spec.metric_lines(0, [[{"expression": "m1*2", "id": "e1", "label": "double"}]], "Sum", 60, False)
    assert math[0].request(None)["Expression"] == "m1*2"  # type: ignore[arg-type]
    assert dashboard_spec.split_sources("SOURCE 'a' | SOURCE 'b/c' | fields x") == (["a", "b/c"], "fields x")


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"start": "yesterday"}, "'yesterday' is not a relative ISO 8601 duration"),
        ({"widgets": [{"type": "metric", "properties": {"metrics": [["AWS/Lambda"]]}}]}, "is not [namespace, name"),
    ],
)
def test_a_body_dataops_cannot_read_is_refused_naming_the_part(body, named):
    with pytest.raises(DataopsError, match=re.escape(named)):
        dashboard_spec.range_seconds(body)
        dashboard_spec.widgets(body)


def test_log_lines_are_escaped_and_the_page_loads_nothing():
    table = WidgetData("log", "Activity (🚀 start · ✅ saved)", 0, 0, 24, 6, columns=["@timestamp", "message"],
                       rows=[{"@timestamp": "2026-12-07 10:00:00.000", "message": HOSTILE}])  # fmt: skip
    html = page(table)
    assert "<script>alert" not in html and "<img" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html
    assert "🚀 start · ✅ saved" in html  # the feed's emojis, intact
    assert 'http-equiv="Content-Security-Policy" content="default-src \'none\'' in html
    assert not re.search(r"<[a-zA-Z][^<>]*\s(?:src|href)\s*=", html)  # no element that fetches at view time
    assert "prefers-color-scheme: dark" in html


def test_widgets_sit_at_their_grid_place_and_say_their_state():
    invocations = Series("Invocations", [(0, 1.0), (120_000, 3.0)])
    chart = WidgetData("metric", "Lambda invocations", 8, 2, 8, 6, series=[invocations], start_ms=0, end_ms=240_000)
    empty = WidgetData(
        "metric", "S3 objects", 0, 8, 12, 6, series=[Series("NumberOfObjects", [])], start_ms=0, end_ms=1
    )
    broken = WidgetData("log", "Errors", 0, 14, 24, 5, error="Logs Insights: AccessDenied: <no>")
    text = WidgetData("text", "", 0, 0, 24, 2, markdown="# Fn pipeline\nruns on `group` <b>x</b>")
    right = WidgetData("metric", "Quality", 0, 20, 24, 6, start_ms=0, end_ms=1,
                       series=[Series("Warnings", [(0, 1.0)]), Series("Rows", [], right_axis=True)])  # fmt: skip
    html = page(chart, empty, broken, text, right)
    assert 'style="grid-column: 9 / span 8; grid-row: 3 / span 6;"' in html
    assert re.search(r'data-title="Lambda invocations" data-state="ok" data-series="1" data-points="2"', html)
    assert 'data-title="S3 objects" data-state="empty"' in html and "No data available" in html
    assert 'data-state="error"' in html and "AccessDenied: &lt;no&gt;" in html
    assert "<h1>Fn pipeline</h1><p>runs on <code>group</code> &lt;b&gt;x&lt;/b&gt;</p>" in html
    assert html.count("<svg") == 3  # one chart per metric widget, inline (an empty right axis too)


def test_single_value_tiles_show_the_last_figure_and_notes_say_where_p99_came_from():
    tile = WidgetData("single", "Duration (avg / p99)", 0, 0, 8, 3,
                      series=[Series("avg", [(0, 18.25)]), Series("p99", [(0, 1029.0)])],
                      notes=["p99: from REPORT log lines (exact, 51 durations)"])  # fmt: skip
    html = page(tile)
    assert '<div class="value">18.25</div>' in html and '<div class="value">1,029</div>' in html
    assert "from REPORT log lines" in html


def test_table_columns_keep_the_querys_order_when_rows_lack_fields():
    rows = [{"@timestamp": "t", "run_id": "r", "message": "m", "cleaned_csv": "c", "@ptr": "p"},
            {"@timestamp": "t", "run_id": "r", "message": "m", "start_time": "s", "@ptr": "p"},
            {"@timestamp": "t", "run_id": "r", "message": "m", "rows": "1", "columns": "2", "@ptr": "p"}]  # fmt: skip
    merged = ["@timestamp", "run_id", "message", "rows", "columns", "start_time", "cleaned_csv"]
    assert merged_columns(rows) == merged
    query = "fields @timestamp, run_id, message, start_time, rows, columns, files.0 as cleaned_csv | sort rows"
    assert merged_columns(rows, query) == [
        "@timestamp",
        "run_id",
        "message",
        "start_time",
        "rows",
        "columns",
        "cleaned_csv",
    ]


def test_the_time_axis_spans_the_window_with_round_ticks():
    start = 1_796_000_007_000  # not on a minute
    assert [t.strftime("%H:%M") for t in axis_ticks(start, start + 600_000)] == [
        "00:54", "00:56", "00:58", "01:00", "01:02",
    ]  # fmt: skip
    three_hours = axis_ticks(start, start + 3 * 3600_000)
    assert len(three_hours) <= 7 and all(t.minute in (0, 30) and t.second == 0 for t in three_hours)
    assert axis_ticks(start, start) == []


def test_a_log_widget_with_a_time_series_view_is_drawn_as_a_chart():
    skipped = Series("skipped_runs", [(0, 1.0), (120_000, 0.0)])
    chart = WidgetData(
        "log", "Glue runs skipped", 0, 0, 24, 6, series=[skipped], start_ms=0, end_ms=240_000, chart=True
    )
    table = WidgetData("log", "Activity", 0, 6, 24, 7, columns=["run_id"], rows=[{"run_id": "r1"}])
    html = widget_html(chart)
    assert "<svg" in html and "<table" not in html and 'data-points="2"' in html
    assert "<table" in widget_html(table)
