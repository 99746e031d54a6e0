"""dashboard_data.collect against stand-in clients: what it asks AWS, and what it does with the answers.

A backend that refuses percentiles (as LocalStack and moto's server answer p99: HTTP 500) gets
one more GetMetricData without them, and p99 comes from REPORT lines like `status`'s; a Logs
Insights query is polled until Complete; a widget whose source fails keeps its error alone.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from botocore.exceptions import ClientError

from dataops_cli.aws import DataopsError
from dataops_cli.deploy.dashboard import DashboardInputs, build_dashboard
from dataops_cli.observe import dashboard_data

NOW = datetime(2026, 12, 7, 12, 0, 30, tzinfo=UTC)
INPUTS = DashboardInputs(stack="s", region="ap-south-1", function="Fn", log_group="/aws/lambda/Fn",
                         schedule_group="g", bucket="b")  # fmt: skip


def error(code: str, status: int = 400) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "no"}, "ResponseMetadata": {"HTTPStatusCode": status}}, "X")


class CloudWatch:
    def __init__(self, refuses_percentiles: bool, body: dict | None = None) -> None:
        self.refuses, self.body, self.calls = refuses_percentiles, body, []

    def get_dashboard(self, DashboardName: str) -> dict[str, Any]:  # noqa: N803 - boto3's names
        if self.body is None:
            raise error("ResourceNotFound", 404)
        return {"DashboardBody": json.dumps(self.body)}

    def get_metric_data(self, MetricDataQueries: list, StartTime: datetime, EndTime: datetime, **_: Any) -> dict:  # noqa: N803
        self.calls.append(MetricDataQueries)
        if self.refuses and any(q["MetricStat"]["Stat"].startswith("p") for q in MetricDataQueries):
            raise error("InternalFailure", 500)
        results = []
        for q in MetricDataQueries:
            stamps = [StartTime] if q["MetricStat"]["Metric"]["Namespace"] == "AWS/Lambda" else []
            results.append({"Id": q["Id"], "Timestamps": stamps, "Values": [7.0] * len(stamps)})
        return {"MetricDataResults": results}


class Logs:
    def __init__(self, fail_queries: bool = False) -> None:
        self.fail, self.polls, self.queries, self.filters = fail_queries, 0, [], 0

    def filter_log_events(self, **kwargs: Any) -> dict:
        self.filters += 1
        assert kwargs["filterPattern"] == '"REPORT RequestId"'
        start = kwargs["startTime"]
        lines = [f"REPORT RequestId: r{i}\tDuration: {d} ms" for i, d in enumerate((100.0, 300.0, 200.0))]
        return {"events": [{"timestamp": start + 1000 * i, "message": m} for i, m in enumerate(lines)]}

    def start_query(self, **kwargs: Any) -> dict:
        if self.fail:
            raise error("AccessDeniedException")
        self.queries.append(kwargs)
        return {"queryId": f"q{len(self.queries)}"}

    def get_query_results(self, queryId: str) -> dict:  # noqa: N803
        self.polls += 1
        if self.polls % 2:
            return {"status": "Running", "results": []}
        cells = [
            {"field": "@timestamp", "value": "t"},
            {"field": "run_id", "value": "<r1>"},
            {"field": "@ptr", "value": "p"},
        ]
        return {"status": "Complete", "results": [cells]}


def context(cloudwatch: CloudWatch, logs: Logs, gaps: dict | None = None) -> Any:
    clients = {"cloudwatch": cloudwatch, "logs": logs}
    config = SimpleNamespace(region="ap-south-1", log_group="/aws/lambda/Fn", function=SimpleNamespace(name="Fn"))
    aws = SimpleNamespace(counter=SimpleNamespace(total=0), probe_client=lambda service: clients[service])
    return SimpleNamespace(client=lambda service: clients[service], aws=aws, config=config, gaps=gaps or {})


def collect(cloudwatch: CloudWatch, logs: Logs, gaps: dict | None = None) -> dict[str, Any]:
    slept: list[float] = []
    data = dashboard_data.collect(context(cloudwatch, logs, gaps), "Dash", 600, NOW, sleep=slept.append)
    return {"data": data, "slept": slept, "by_title": {w.title: w for w in data.widgets}}


def test_a_backend_without_percentiles_gets_p99_from_report_lines_and_the_widget_says_so():
    cloudwatch, logs = CloudWatch(refuses_percentiles=True, body=build_dashboard(INPUTS)), Logs()
    got = collect(cloudwatch, logs)
    tile = got["by_title"]["Duration (avg / p99)"]
    assert [(s.label, s.points[-1][1]) for s in tile.series] == [("avg", 7.0), ("p99", 300.0)]
    assert (
        "REPORT log lines (exact, 3 durations; GetMetricData refused percentiles (InternalFailure: no))"
        in tile.notes[0]
    )
    chart = got["by_title"]["Lambda duration (ms)"]
    assert [len(s.points) for s in chart.series] == [1, 1]  # the three durations fall in one 120 s period
    # three windows (120 s series, whole-range tiles, daily S3): the first two asked twice (p99 refused)
    assert len(cloudwatch.calls) == 5
    assert logs.filters == 1  # the tile and the graph share one window: its REPORT lines are read once
    assert all(w.error is None for w in got["data"].widgets)


def test_the_emulators_gap_skips_the_refused_attempt():
    cloudwatch = CloudWatch(refuses_percentiles=True, body=build_dashboard(INPUTS))
    got = collect(cloudwatch, Logs(), gaps={"percentiles": "moto crashes on percentile statistics"})
    assert len(cloudwatch.calls) == 3
    assert "this backend has no percentile statistics" in got["by_title"]["Duration (avg / p99)"].notes[0]


def test_a_backend_with_percentiles_draws_them_from_getmetricdata():
    cloudwatch = CloudWatch(refuses_percentiles=False, body=build_dashboard(INPUTS))
    got = collect(cloudwatch, Logs())
    tile = got["by_title"]["Duration (avg / p99)"]
    assert [s.points[-1][1] for s in tile.series] == [7.0, 7.0] and tile.notes == []
    assert len(cloudwatch.calls) == 3


def test_log_tables_run_their_own_query_on_their_groups_and_poll_until_complete():
    logs = Logs()
    got = collect(CloudWatch(False, build_dashboard(INPUTS)), logs)
    assert [q["logGroupNames"] for q in logs.queries] == [["/aws/lambda/Fn"]] * 2
    assert all(q["queryString"].startswith("fields @timestamp") for q in logs.queries)
    assert logs.queries[0]["endTime"] - logs.queries[0]["startTime"] == 600
    activity = next(w for t, w in got["by_title"].items() if t.startswith("Activity"))
    assert activity.columns == ["@timestamp", "run_id"] and activity.rows[0]["run_id"] == "<r1>"
    assert got["slept"] == [0.25, 0.25]


def test_a_failing_source_marks_its_widgets_only():
    got = collect(CloudWatch(False, build_dashboard(INPUTS)), Logs(fail_queries=True))
    failed = [w.title.split(" ")[0] for w in got["data"].widgets if w.error]
    assert failed == ["Activity:", "Errors"]
    assert got["by_title"]["Lambda invocations"].error is None


def test_no_dashboard_deployed_is_exit_4_naming_it():
    with pytest.raises(DataopsError, match="no dashboard named 'Dash' is deployed") as caught:
        collect(CloudWatch(False, body=None), Logs())
    assert caught.value.exit_code == 4


def test_windows_end_at_now_and_span_the_range():
    got = collect(CloudWatch(False, build_dashboard(INPUTS)), Logs())
    data = got["data"]
    assert data.end == NOW.isoformat(timespec="seconds") and data.seconds == 600
    chart = got["by_title"]["Lambda invocations"]
    assert chart.end_ms - chart.start_ms >= 600_000 and chart.end_ms >= NOW.timestamp() * 1000
    assert data.refresh_seconds == 120 and (NOW - timedelta(seconds=600)).isoformat(timespec="seconds") == data.start


def test_a_metrics_read_that_fails_marks_the_metric_widgets_and_draws_the_rest():
    class Failing(CloudWatch):
        def get_metric_data(self, **kwargs: Any) -> dict:
            raise error("AccessDeniedException")

    got = collect(Failing(False, build_dashboard(INPUTS)), Logs(), gaps={"percentiles": "none here"})
    failed = {w.kind for w in got["data"].widgets if w.error}
    assert failed == {"metric", "single"}
    assert "GetMetricData: AccessDeniedException: no" in got["by_title"]["Lambda invocations"].error
    assert got["by_title"]["Duration (avg / p99)"].error and not got["by_title"]["Errors (❌)"].error


def test_a_query_that_never_completes_is_given_up_after_the_timeout():
    class Slow(Logs):
        def get_query_results(self, queryId: str) -> dict:  # noqa: N803
            return {"status": "Running", "results": []}

    got = collect(CloudWatch(False, build_dashboard(INPUTS)), Slow())
    assert "still running after 60 s" in got["by_title"]["Errors (❌)"].error
    assert sum(got["slept"]) >= 2 * dashboard_data.QUERY_TIMEOUT_SECONDS  # two tables, each waited in full


def test_engine_glues_dashboard_queries_glues_shared_groups_for_this_job_only():
    from dataclasses import replace

    from dataops_cli.engines.glue_logs import GLUE_LOG_GROUPS

    glue = replace(INPUTS, engine="glue", glue_job="job", glue_failed_rule="f", glue_succeeded_rule="ok")
    logs = Logs()
    got = collect(CloudWatch(False, build_dashboard(glue)), logs)
    assert [q["logGroupNames"] for q in logs.queries] == [list(GLUE_LOG_GROUPS)] * 3
    # the activity and error tables key on the lines' `function`; the skipped-runs series on the EMF
    # line's `Function` dimension (the Spark job's RunsSkipped, summed per bin)
    strings = sorted(q["queryString"].split("\n")[0] for q in logs.queries)
    assert strings == ["filter Function = 'job' and ispresent(RunsSkipped)", *["filter function = 'job'"] * 2]
    assert len(got["data"].widgets) == len(build_dashboard(glue)["widgets"])
    assert all(w.error is None for w in got["data"].widgets)


class AnswersOnce:
    """A CloudWatch client whose GetDashboard raises the given error."""

    def __init__(self, exc: ClientError) -> None:
        self.exc = exc

    def get_dashboard(self, DashboardName: str) -> dict[str, Any]:  # noqa: N803 - boto3's names
        raise self.exc


@pytest.mark.parametrize(
    ("code", "status", "message"),
    [
        ("ResourceNotFound", 404, "Dashboard D does not exist"),  # AWS
        ("InvalidParameterValue", 400, "Dashboard D does not exist."),  # LocalStack, seen in host mode
    ],
)
def test_a_missing_dashboard_is_not_deployed_in_either_spelling(code, status, message):
    exc = ClientError(
        {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}}, "X"
    )
    with pytest.raises(dashboard_data.NotDeployedError) as caught:
        dashboard_data.read_body(AnswersOnce(exc), "D")
    assert caught.value.exit_code == 4


def test_other_dashboard_errors_are_not_taken_for_absence():
    exc = ClientError(
        {"Error": {"Code": "AccessDenied", "Message": "D"}, "ResponseMetadata": {"HTTPStatusCode": 403}}, "X"
    )
    with pytest.raises(ClientError):
        dashboard_data.read_body(AnswersOnce(exc), "D")


def test_a_log_widgets_time_series_view_becomes_series_per_numeric_column():
    rows = [
        {"bin(2m)": "2026-12-07 11:58:00.000", "skipped_runs": "1", "runs": "1"},
        {"bin(2m)": "2026-12-07 11:56:00.000", "skipped_runs": "0", "runs": "2"},
        {"bin(2m)": "not a time", "skipped_runs": "5"},  # left out: no bin to place it at
        {"bin(2m)": "2026-12-07 11:54:00.000", "skipped_runs": "n/a", "runs": "1"},  # n/a is not a number
    ]
    series = {s.label: s.points for s in dashboard_data.log_series(rows)}
    t = int(datetime(2026, 12, 7, 11, 54, tzinfo=UTC).timestamp() * 1000)
    assert series["skipped_runs"] == [(t + 120_000, 0.0), (t + 240_000, 1.0)]
    assert series["runs"] == [(t, 1.0), (t + 120_000, 2.0), (t + 240_000, 1.0)]
    assert dashboard_data.log_series([{"hour": "x", "n": "1"}]) == []  # no bin column: nothing to draw


def test_engine_glues_skipped_runs_widget_is_drawn_as_a_chart():
    from dataclasses import replace

    glue = replace(INPUTS, engine="glue", glue_job="job", glue_failed_rule="f", glue_succeeded_rule="ok")
    got = collect(CloudWatch(False, build_dashboard(glue)), Logs())
    widget = next(w for w in got["data"].widgets if "skipped" in w.title)
    assert widget.kind == "log" and widget.chart and widget.error is None
    assert widget.end_ms - widget.start_ms == got["data"].seconds * 1000  # the time axis: the query's window
    table = next(w for w in got["data"].widgets if w.title.startswith("Activity"))
    assert not table.chart
