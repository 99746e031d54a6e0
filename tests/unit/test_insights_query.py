"""The emulator's Logs Insights engine, on the exact queries the deployed dashboard body holds.

The query strings are read from the body `up` deploys (dataops_cli.deploy.dashboard.build_dashboard),
split from their `SOURCE` prefixes as the dashboard command splits them, never copied here.
Expected answers follow the Logs Insights query syntax pages cited in insights_query.py.
"""

from __future__ import annotations

import json
from functools import cmp_to_key

import pytest

from dataops_cli.deploy.dashboard import DashboardInputs, build_dashboard
from dataops_cli.emulator.insights_parse import QueryError, parse_query
from dataops_cli.emulator.insights_query import event_record, natural_compare, run
from dataops_cli.observe.dashboard_spec import split_sources
from handler import contract as c

GROUP = "/aws/lambda/Fn"
T0 = 1_796_000_000_000  # epoch ms


def body_queries(engine: str = "lambda") -> dict[str, tuple[list[str], str]]:
    inputs = DashboardInputs(
        stack="s",
        region="ap-south-1",
        function="Fn",
        log_group=GROUP,
        schedule_group="g",
        bucket="b",
        engine=engine,
        glue_job="job",
        glue_failed_rule="f",
        glue_succeeded_rule="ok",
    )
    logs = [w for w in build_dashboard(inputs)["widgets"] if w["type"] == "log"]
    return {w["properties"]["title"].split(" ")[0].rstrip(":"): split_sources(w["properties"]["query"]) for w in logs}


def line(ms: int, document: dict | str, stream: str = "2026/12/07/[$LATEST]abc") -> dict:
    message = document if isinstance(document, str) else json.dumps(document, ensure_ascii=False)
    return event_record(
        {"timestamp": T0 + ms, "message": message, "logStreamName": stream, "eventId": str(ms)}, GROUP, "123456789012"
    )


def handler_events(run_id: str, at: int) -> list[dict]:
    base = {c.F_RUN_ID: run_id, c.F_LEVEL: "INFO", c.F_FUNCTION: "Fn"}
    return [
        line(at, {**base, c.F_EVENT: c.EVENT_START, c.F_MESSAGE: "🚀 started", c.F_START_TIME: "2026-12-07T10:00:00Z"}),
        line(at + 1, {**base, c.F_EVENT: c.EVENT_SHAPE, c.F_MESSAGE: "📊 shape", c.F_ROWS: 768, c.F_COLUMNS: 9}),
        line(at + 2, {**base, c.F_EVENT: "metrics", c.F_MESSAGE: "not an activity event"}),
        line(
            at + 3, {**base, c.F_EVENT: c.EVENT_SAVED, c.F_MESSAGE: "✅ saved", c.F_FILES: ["a/cleaned.csv", "b.json"]}
        ),
        line(at + 4, f"REPORT RequestId: {run_id}-r\tDuration: 12.5 ms\tBilled Duration: 13 ms\tMemory Size: 512 MB"),
    ]


def as_dicts(result) -> list[dict[str, str]]:
    return [{cell["field"]: cell["value"] for cell in row} for row in result.rows]


def test_the_body_holds_the_two_lambda_tables_and_names_their_group():
    queries = body_queries()
    assert set(queries) == {"Activity", "Errors"}
    assert all(groups == [GROUP] for groups, _ in queries.values())
    for _, query in queries.values():
        parse_query(query)  # every query of the body parses


def test_activity_query_returns_the_activity_events_newest_first_with_their_fields_in_order():
    _, query = body_queries()["Activity"]
    events = handler_events("r1", 0) + handler_events("r2", 1000)
    rows = as_dicts(run(query, events))
    assert [(r[c.F_RUN_ID], r[c.F_MESSAGE]) for r in rows] == [
        ("r2", "✅ saved"),
        ("r2", "📊 shape"),
        ("r2", "🚀 started"),
        ("r1", "✅ saved"),
        ("r1", "📊 shape"),
        ("r1", "🚀 started"),
    ]
    saved = run(query, events).rows[0]
    # the query's field order, an alias for the array's first item, fields the event lacks left out, @ptr last
    assert [cell["field"] for cell in saved] == ["@timestamp", c.F_RUN_ID, c.F_MESSAGE, "cleaned_csv", "@ptr"]
    assert rows[0]["cleaned_csv"] == "a/cleaned.csv"
    assert rows[1][c.F_ROWS] == "768" and rows[1][c.F_COLUMNS] == "9"
    assert rows[0]["@timestamp"] == "2026-11-30 00:53:21.003"


def test_activity_query_keeps_its_limit_of_40_rows():
    _, query = body_queries()["Activity"]
    events = [e for i in range(20) for e in handler_events(f"r{i:02}", i * 100)]
    result = run(query, events)
    assert len(result.rows) == 40 and result.records_matched == 40 and result.records_scanned == 100
    assert as_dicts(result)[0][c.F_RUN_ID] == "r19"


def test_errors_query_finds_structured_errors_and_lambdas_own_text_lines():
    _, query = body_queries()["Errors"]
    events = [
        *handler_events("ok", 0),
        line(100, {c.F_RUN_ID: "bad", c.F_LEVEL: c.LEVEL_ERROR, c.F_MESSAGE: "❌ failed", c.F_ERROR: {"code": "E1"}}),
        line(200, "2026-12-07T10:00:00.000Z abc-123 Task timed out after 3.00 seconds"),
        line(300, "[ERROR] Runtime.ImportModuleError: Unable to import module"),
        line(400, "an ERROR word in plain text is not enough"),
    ]
    rows = as_dicts(run(query, events))
    assert [r.get(c.F_RUN_ID, r["@timestamp"][-3:]) for r in rows] == ["300", "200", "bad"]
    assert rows[2]["error.code"] == "E1"


def test_glue_queries_keep_only_this_jobs_lines():
    queries = body_queries("glue")
    _, errors = queries["Errors"]
    other = line(5, {c.F_FUNCTION: "other-job", c.F_LEVEL: c.LEVEL_ERROR, c.F_MESSAGE: "not ours"})
    mine = line(6, {c.F_FUNCTION: "job", c.F_LEVEL: c.LEVEL_ERROR, c.F_MESSAGE: "ours", c.F_RUN_ID: "g1"})
    rows = as_dicts(run(errors, [other, mine]))
    assert [r[c.F_MESSAGE] for r in rows] == ["ours"] and rows[0]["@logStream"]


def emf(ms: int, job: str, skipped: int) -> dict:
    """The Spark job's EMF line (handler/runlog.py flush_metrics), as Glue writes it to its output group."""
    document = {
        "_aws": {"Timestamp": T0 + ms, "CloudWatchMetrics": [{"Namespace": c.METRICS_NAMESPACE, "Metrics": []}]},
        c.METRIC_DIMENSION: job,
        c.M_RUNS_SKIPPED: skipped,
        c.M_RUN_FAILED: 0,
    }
    return line(ms, document)


def test_glue_skipped_runs_series_sums_this_jobs_runs_skipped_per_bin():
    queries = body_queries("glue")
    _, query = queries["Glue"]  # "Glue runs skipped (input unchanged) per 2 minutes"
    start = -T0 % 120_000  # the first 2-minute bin starts here
    events = [
        emf(start, "job", 0),  # processed
        emf(start + 30_000, "job", 1),
        emf(start + 60_000, "job", 1),
        emf(start + 90_000, "other-job", 1),  # another job in Glue's shared group
        line(start + 100_000, {c.F_FUNCTION: "job", c.F_EVENT: c.EVENT_SKIPPED, c.F_MESSAGE: "⏭️ skipped"}),
        emf(start + 200_000, "job", 1),  # the next bin
    ]
    rows = sorted(as_dicts(run(query, events)), key=lambda r: r["bin(2m)"])
    assert [(r["skipped_runs"], r["runs"]) for r in rows] == [("2", "3"), ("1", "1")]


def test_report_lines_carry_lambdas_discovered_fields_and_stats_aggregate_them():
    events = handler_events("r1", 0) + handler_events("r2", 60_000)
    rows = as_dicts(
        run("filter @type = 'REPORT' | stats count(*) as runs, avg(@duration) as avg, pct(@duration, 99)", events)
    )
    assert rows == [{"runs": "2", "avg": "12.5", "pct(@duration, 99)": "12.5"}]
    by_bin = run("filter @type = 'REPORT' | stats count(*) as n by bin(1m)", events)
    assert [[cell["field"] for cell in row] for row in by_bin.rows] == [["bin(1m)", "n"]] * 2


def test_parse_with_a_glob_and_with_a_regex():
    events = [line(0, "REPORT RequestId: abc Duration: 7.25 ms")]
    glob = as_dicts(run('parse @message "RequestId: * Duration: * ms" as rid, ms | fields rid, ms', events))
    assert glob[0]["rid"] == "abc" and glob[0]["ms"] == "7.25"
    regex = as_dicts(run(r"parse @message /Duration: (?<ms>[\d.]+)/ | filter ms > 7 | display ms", events))
    assert [(r["ms"], sorted(r)) for r in regex] == [("7.25", ["@ptr", "ms"])]


def test_sort_follows_the_documented_natural_order():
    # the ascending example of https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/CWL_QuerySyntax-Sort.html
    expected = ["!:", "#", "*%04", "0#", "5A", "111A", "2345_", "@", "@_", "A", "A9876fghj", "a12345hfh", "0", "1", "2"]
    assert sorted(reversed(expected), key=cmp_to_key(natural_compare)) == expected


def test_without_fields_the_result_is_timestamp_and_message():
    rows = run("filter @message like 'RequestId'", [line(0, "REPORT RequestId: x\tDuration: 1 ms")]).rows
    assert [cell["field"] for cell in rows[0]] == ["@timestamp", "@message", "@ptr"]


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ("", "empty"),
        ("fields a |", "empty command"),
        ("select * from logs", "unknown or unsupported command 'select'"),
        ("limit -3", "limit"),
        ("limit 0", "positive whole number"),
        ("filter a like /[unclosed/", "invalid regular expression"),
        ('parse @message "a * b * c" as x', "2 '*' but 1 names"),
        ("filter a = ", "ends too early"),
        ("fields a b", "unexpected 'b'"),
        ("stats strlen(a)", "aggregate functions"),
    ],
)
def test_a_malformed_query_is_refused_naming_its_fault(query, named):
    with pytest.raises(QueryError, match=named.replace("(", r"\(").replace("*", r"\*")):
        run(query, [line(0, "x")])
