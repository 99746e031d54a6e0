"""StartQuery / GetQueryResults through the emulator's middleware in front of the real moto app, with boto3.

The log events are put with PutLogEvents (moto keeps them), the query is the deployed body's
activity query, and the answers and errors are read by botocore as AWS's would be.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config as BotoConfig
from botocore.exceptions import ClientError
from werkzeug.serving import make_server

from dataops_cli.deploy.dashboard import ACTIVITY_QUERY
from dataops_cli.emulator.insights_service import InsightsService
from dataops_cli.emulator.middleware import EmulatorApp
from dataops_cli.emulator.moto_internals import moto_wsgi_app
from dataops_cli.observe.dashboard_data import run_insights
from handler import contract as c

REGION = "ap-south-1"
GROUP = "/aws/lambda/Fn"


@pytest.fixture
def logs(aws_env: None) -> Iterator[Any]:
    config = BotoConfig(retries={"max_attempts": 1})
    holder: dict[str, str] = {}

    def clients(service: str, region: str) -> Any:
        return boto3.client(service, region_name=region, endpoint_url=holder["endpoint"], config=config)

    app = EmulatorApp(moto_wsgi_app(), None, lambda *a: None, dict, REGION, insights=InsightsService(clients))  # type: ignore[arg-type]
    server = make_server("127.0.0.1", 0, app, threaded=True)
    holder["endpoint"] = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield clients("logs", REGION)
    server.shutdown()
    thread.join()


@pytest.fixture
def group(logs: Any) -> str:
    """A group of this test's own: moto's server keeps its state for the whole process."""
    name = f"{GROUP}-{uuid.uuid4().hex[:8]}"
    logs.create_log_group(logGroupName=name)
    logs.create_log_stream(logGroupName=name, logStreamName="s")
    return name


def put(logs: Any, group: str, now_ms: int) -> None:
    lines = [
        {c.F_EVENT: c.EVENT_START, c.F_RUN_ID: "r1", c.F_MESSAGE: "🚀 started"},
        {c.F_EVENT: c.EVENT_SHAPE, c.F_RUN_ID: "r1", c.F_MESSAGE: "📊 <b>shape</b>", c.F_ROWS: 768},
        {c.F_EVENT: "metrics", c.F_RUN_ID: "r1", c.F_MESSAGE: "left out"},
    ]
    events = [
        {"timestamp": now_ms - 3000 + i, "message": json.dumps(d, ensure_ascii=False)} for i, d in enumerate(lines)
    ]
    logs.put_log_events(logGroupName=group, logStreamName="s", logEvents=events)


def test_the_activity_query_is_answered_as_logs_insights_answers_it(logs, group):
    now = int(time.time())
    put(logs, group, now * 1000)
    started = logs.start_query(logGroupNames=[group], startTime=now - 60, endTime=now, queryString=ACTIVITY_QUERY)
    answer = logs.get_query_results(queryId=started["queryId"])
    assert answer["status"] == "Complete"
    rows = [{cell["field"]: cell["value"] for cell in row} for row in answer["results"]]
    assert [(r[c.F_RUN_ID], r[c.F_MESSAGE]) for r in rows] == [("r1", "📊 <b>shape</b>"), ("r1", "🚀 started")]
    assert rows[0][c.F_ROWS] == "768" and "@ptr" in rows[0]
    assert answer["statistics"]["recordsScanned"] == 3.0 and answer["statistics"]["recordsMatched"] == 2.0
    # what the dashboard does: the same, polled until Complete
    polled = run_insights(logs, [group], ACTIVITY_QUERY, _at(now - 60), _at(now))
    assert [r[c.F_MESSAGE] for r in polled] == ["📊 <b>shape</b>", "🚀 started"]


def test_the_time_range_and_the_limit_parameter_are_kept(logs, group):
    now = int(time.time())
    put(logs, group, now * 1000)
    earlier = logs.start_query(logGroupNames=[group], startTime=now - 600, endTime=now - 60, queryString=ACTIVITY_QUERY)
    assert logs.get_query_results(queryId=earlier["queryId"])["results"] == []
    one = logs.start_query(logGroupName=group, startTime=now - 60, endTime=now, queryString=ACTIVITY_QUERY, limit=1)
    assert len(logs.get_query_results(queryId=one["queryId"])["results"]) == 1


@pytest.mark.parametrize(
    ("request_args", "code", "named"),
    [
        ({"logGroupNames": ["/nope"], "queryString": "fields @message"}, "ResourceNotFoundException", "/nope"),
        ({"queryString": "fields @message | bogus x"}, "MalformedQueryException", "bogus"),
        ({"queryString": "fields @message", "startTime": 10, "endTime": 5}, "InvalidParameterException", "endTime"),
    ],
)
def test_bad_queries_get_aws_errors_naming_the_fault(logs, group, request_args, code, named):
    args = {"logGroupNames": [group], "startTime": 0, "endTime": int(time.time()), **request_args}
    with pytest.raises(ClientError) as caught:
        logs.start_query(**args)
    assert caught.value.response["Error"]["Code"] == code
    assert named in caught.value.response["Error"]["Message"]


def test_an_unknown_query_id_is_not_found(logs):
    with pytest.raises(ClientError) as caught:
        logs.get_query_results(queryId="no-such-query")
    assert caught.value.response["Error"]["Code"] == "ResourceNotFoundException"


def _at(seconds: int) -> Any:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(seconds, UTC)
