"""Status arithmetic without AWS: time windows, metric queries, zero-filled series, percentiles, freshness."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dataops_cli.observe import metrics
from dataops_cli.observe.metrics import Query
from dataops_cli.timewindow import Window, parse_since

FN = "DataOpsPipelineFunction"


def test_window_periods_and_since_parsing():
    assert parse_since("30m") == 1800 and parse_since("3h") == 10800 and parse_since("1d") == 86400
    window = Window.ending_now(3 * 3600, 120, datetime(2026, 1, 1, 12, 0, 59, tzinfo=UTC))
    assert window.end == datetime(2026, 1, 1, 12, 2, tzinfo=UTC)
    assert len(window.periods) == 90 and window.seconds == 10800


def test_p99_from_metrics_uses_the_whole_window_query():
    queries = metrics.kpi_queries(FN, "g", percentiles=True)
    window = Window.ending_now(3600, 120, datetime(2026, 1, 1, tzinfo=UTC))
    p99 = next(q for q in queries if q.id == "window_duration_p99")
    assert p99.request(window)["MetricStat"] == {
        "Metric": {
            "Namespace": "AWS/Lambda",
            "MetricName": "Duration",
            "Dimensions": [{"Name": "FunctionName", "Value": FN}],
        },
        "Period": 3600,
        "Stat": "p99",
    }
    assert not any(q.stat == "p99" for q in metrics.kpi_queries(FN, "g", percentiles=False))


def test_assemble_zero_fills_and_sums_across_periods():
    window = Window.ending_now(600, 120, datetime(2026, 1, 1, tzinfo=UTC))
    queries = [
        Query("n", "A", "M", (), "Sum"),
        Query("mx", "A", "M", (), "Maximum"),
        Query("w", "A", "M", (), "p99", True),
    ]
    raw = {
        "n": {window.start: 2.0, window.start + timedelta(seconds=240): 3.0},
        "mx": {window.start + timedelta(seconds=120): 7.0},
        "w": {window.start: 42.0},
    }
    results = metrics.assemble(queries, raw, window)
    assert results.series["n"] == [2.0, 0.0, 3.0, 0.0, 0.0]
    assert results.total("n") == 5.0
    assert results.peak("mx") == 7.0
    assert results.window_values["w"] == 42.0


@pytest.mark.parametrize(
    ("values", "expected"),
    [([], None), ([5.0], 5.0), (list(map(float, range(1, 101))), 99.0), (list(map(float, range(1, 201))), 198.0)],
)
def test_nearest_rank_percentile(values, expected):
    assert metrics.percentile(values, 99) == expected


def test_fit_period_keeps_one_call_under_the_datapoint_limit():
    assert metrics.fit_period(3 * 3600, 20) == 120
    big = metrics.fit_period(90 * 86400, 20)
    assert big % 60 == 0 and 90 * 86400 / big * 20 <= metrics.MAX_DATAPOINTS_PER_CALL


def test_freshness_levels():
    from dataops_cli.observe.health import freshness

    assert freshness(None, 360, "k").level == "warn"
    assert freshness({"age_seconds": 100.0}, 360, "k").level == "ok"
    assert freshness({"age_seconds": 400.0}, 360, "k").level == "fail"
    assert freshness({"age_seconds": 400.0}, None, "k").level == "ok"  # cron/at: no fixed interval
