"""Operating the Glue engine: `logs` reads the job's runs' streams, `cost` prices both engines,
the dashboard and the errors alarm watch the job (function.engine = "glue").

moto 5.2's Glue runs are a fake state machine (every run SUCCEEDED, ExecutionTime 123,
LogGroupName "test/log") and its FilterLogEvents ignores logStreamNamePrefix: the tests
write the log streams Glue would write and check that other jobs' streams stay out.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import boto3
import pytest

from dataops_cli.engines import glue_logs
from tests.functional.test_glue_deploy import JOB, stack  # noqa: F401 (fixture)
from tests.helpers import deploy as h

OUTPUT, ERROR = glue_logs.GLUE_LOG_GROUPS


def make_job(name: str) -> str:
    """A job and one run of it (moto); returns the run id."""
    glue = boto3.client("glue", region_name=h.REGION)
    glue.create_job(Name=name, Role="arn:aws:iam::123456789012:role/r", Command={"Name": "glueetl"})
    return glue.start_job_run(JobName=name)["JobRunId"]


def line(event: str, message: str, level: str = "INFO", **fields) -> str:
    return json.dumps({"level": level, "event": event, "message": message, "function": "DataOpsPipelineJob", **fields})


def put(group: str, stream: str, *messages: str, at: datetime | None = None) -> None:
    logs = boto3.client("logs", region_name=h.REGION)
    if not any(g["logGroupName"] == group for g in logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]):
        logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName=stream)
    start = at or datetime.now(UTC) - timedelta(minutes=1)
    logs.put_log_events(
        logGroupName=group,
        logStreamName=stream,
        logEvents=[
            {"timestamp": int((start + timedelta(milliseconds=i)).timestamp() * 1000), "message": m}
            for i, m in enumerate(messages)
        ],
    )


def test_glue_logs_read_only_this_jobs_runs_in_both_groups(stack):  # noqa: F811
    _, _, config = stack
    ours, theirs = make_job(JOB), make_job("someone-elses-job")
    put(OUTPUT, ours, line("shape", "📊 Dataset shape", rows=768), line("saved", "💾 files saved"))
    put(OUTPUT, f"{ours}_g-1a2b", "executor: task 3 finished")
    failed = line("error", "❌ Pipeline run failed", level="ERROR", run_id="run-1", error={"code": "EmptyInput"})
    put(ERROR, ours, failed)
    put(OUTPUT, theirs, "a line of another job")
    put(ERROR, theirs, "ERROR another job failed")

    result = h.run(config, "logs", "--since", "10m")
    assert result.exit_code == 0, result.output
    shown = result.output
    assert "Dataset shape" in shown and "files saved" in shown and "executor: task 3 finished" in shown
    assert "Pipeline run failed" in shown
    assert "another job" not in shown

    errors = h.run(config, "logs", "--since", "10m", "--errors").output.splitlines()
    assert len(errors) == 1 and "ERROR ❌ Pipeline run failed" in errors[0]
    filtered = h.run(config, "logs", "--since", "10m", "--filter", "DATASET SHAPE").output.splitlines()
    assert len(filtered) == 1 and "Dataset shape" in filtered[0]
    raw = [json.loads(x) for x in h.run(config, "logs", "--since", "10m", "--json").output.splitlines()]
    assert {e["logGroupName"] for e in raw} == {OUTPUT, ERROR}
    assert {e["logStreamName"] for e in raw} == {ours, f"{ours}_g-1a2b"}


def test_glue_logs_window_leaves_out_lines_before_since(stack):  # noqa: F811
    _, _, config = stack
    run = make_job(JOB)
    put(OUTPUT, run, "old line", at=datetime.now(UTC) - timedelta(hours=3))
    result = h.run(config, "logs", "--since", "1h")
    assert result.exit_code == 0 and "old line" not in result.output
    assert "old line" in h.run(config, "logs", "--since", "4h").output


def test_glue_logs_say_what_is_missing(stack):  # noqa: F811
    _, _, config = stack
    missing_job = h.run(config, "logs")
    assert missing_job.exit_code == 1 and f"Glue job {JOB} does not exist" in missing_job.output
    make_job(JOB)
    no_groups = h.run(config, "logs")
    assert no_groups.exit_code == 0 and "No Glue log group yet" in no_groups.output


def test_run_ids_stop_at_the_first_run_that_ended_before_the_window():
    now = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)

    class Glue:
        def get_job_runs(self, **_kw):
            return {
                "JobRuns": [
                    {"Id": "jr_going", "StartedOn": now},  # no CompletedOn: still running
                    {"Id": "jr_recent", "StartedOn": now, "CompletedOn": now - timedelta(minutes=5)},
                    {"Id": "jr_old", "StartedOn": now, "CompletedOn": now - timedelta(hours=2)},
                    {"Id": "jr_older", "StartedOn": now, "CompletedOn": now - timedelta(hours=3)},
                ]
            }

    since = int((now - timedelta(hours=1)).timestamp() * 1000)
    assert glue_logs.run_ids(Glue(), "job", since) == ["jr_going", "jr_recent"]


def test_follow_reads_new_lines_of_a_new_run_once(stack, monkeypatch):  # noqa: F811
    from dataops_cli.observe import logtail

    _, _, config = stack
    first = make_job(JOB)
    put(OUTPUT, first, "line of run one")
    polls = []

    def follow(follower, emit, _interval):
        second = boto3.client("glue", region_name=h.REGION).start_job_run(JobName=JOB)["JobRunId"]
        put(OUTPUT, second, "line of run two", at=datetime.now(UTC))
        for _ in range(2):
            for event in follower.poll():
                emit(event)
            polls.append(1)

    monkeypatch.setattr(logtail, "follow", follow)
    result = h.run(config, "logs", "-f", "--since", "10m")
    assert result.exit_code == 0, result.output
    assert result.output.count("line of run one") == 1 and result.output.count("line of run two") == 1
    assert len(polls) == 2


@pytest.mark.parametrize("code", ["AccessDeniedException"])
def test_glue_logs_do_not_hide_a_denied_read(stack, monkeypatch, code):  # noqa: F811
    from botocore.exceptions import ClientError

    _, _, config = stack
    make_job(JOB)
    put(OUTPUT, "jr_x", "x")

    def denied(*_a, **_kw):
        raise ClientError({"Error": {"Code": code, "Message": "no logs:FilterLogEvents"}}, "FilterLogEvents")
        yield  # pragma: no cover

    monkeypatch.setattr(glue_logs.runlog_reader, "filter_events", denied)
    result = h.run(config, "logs")
    assert result.exit_code == 1 and "AccessDenied" in result.output


# --- the dashboard, the rules and the errors alarm ----------------------------------------------------------------

FAILED_RULE, SUCCEEDED_RULE = "dataops-glue-run-failed", "dataops-glue-run-succeeded"


def test_up_with_glue_watches_the_job_and_down_removes_it_all(stack):  # noqa: F811
    _, lam, config = stack
    assert h.run(config, "up").exit_code == 0
    events, cloudwatch = h.clients("events", "cloudwatch")
    rules = {name: events.describe_rule(Name=name) for name in (FAILED_RULE, SUCCEEDED_RULE)}
    assert json.loads(rules[FAILED_RULE]["EventPattern"]) == {
        "source": ["aws.glue"],
        "detail-type": ["Glue Job State Change"],
        "detail": {"jobName": [JOB], "state": ["FAILED", "TIMEOUT"]},
    }
    assert json.loads(rules[SUCCEEDED_RULE]["EventPattern"])["detail"]["state"] == ["SUCCEEDED"]
    for rule in rules.values():
        assert rule["State"] == "ENABLED"
        assert events.list_targets_by_rule(Rule=rule["Name"])["Targets"] == []  # nothing invoked: no role needed
        tags = {t["Key"]: t["Value"] for t in events.list_tags_for_resource(ResourceARN=rule["Arn"])["Tags"]}
        assert tags["dataops:stack"] == "dataops"
    alarm = cloudwatch.describe_alarms(AlarmNames=["DataOpsPipelineFunction-errors"])["MetricAlarms"][0]
    assert (alarm["Namespace"], alarm["MetricName"]) == ("AWS/Events", "MatchedEvents")
    assert alarm["Dimensions"] == [{"Name": "RuleName", "Value": FAILED_RULE}]
    body = json.loads(cloudwatch.get_dashboard(DashboardName="DataOpsPipelineDashboard")["DashboardBody"])
    text = json.dumps(body)
    assert "AWS/Lambda" not in text and FAILED_RULE in text and SUCCEEDED_RULE in text
    queries = [w["properties"]["query"] for w in body["widgets"] if w["type"] == "log"]
    sources = "SOURCE '/aws-glue/jobs/output' | SOURCE '/aws-glue/jobs/error' |"
    assert queries and all(q.startswith(sources) for q in queries)
    again = h.run(config, "up")
    assert again.exit_code == 0 and "EventBridge rule" in again.output
    assert "created" not in again.output and "updated" not in again.output

    to_lambda = h.run(lam, "up")  # switching back: the rules go, the alarm watches the function again
    assert to_lambda.exit_code == 0, to_lambda.output
    assert h.leftovers()["event_rules"] == []
    alarm = cloudwatch.describe_alarms(AlarmNames=["DataOpsPipelineFunction-errors"])["MetricAlarms"][0]
    assert (alarm["Namespace"], alarm["MetricName"]) == ("AWS/Lambda", "Errors")
    assert h.run(config, "up").exit_code == 0
    assert h.run(config, "down", "--yes").exit_code == 0
    assert h.leftovers() == {key: [] for key in h.leftovers()}


def test_down_removes_a_rule_someone_gave_a_target(stack):  # noqa: F811
    _, _, config = stack
    assert h.run(config, "up").exit_code == 0
    events = boto3.client("events", region_name=h.REGION)
    events.put_targets(Rule=FAILED_RULE, Targets=[{"Id": "mine", "Arn": "arn:aws:sns:ap-south-1:123456789012:t"}])
    result = h.run(config, "down", "--yes")
    assert result.exit_code == 0, result.output
    assert h.leftovers()["event_rules"] == []


def test_a_same_named_rule_that_is_not_ours_is_refused_and_kept(stack):  # noqa: F811
    _, _, config = stack
    boto3.client("events", region_name=h.REGION).put_rule(Name=FAILED_RULE, ScheduleExpression="rate(1 day)")
    refused = h.run(config, "up")
    assert refused.exit_code != 0 and f"EventBridge rule {FAILED_RULE}" in " ".join(refused.output.split())  # wrapped
    assert h.leftovers()["event_rules"] == [FAILED_RULE]


def test_the_job_logs_under_its_glue_name_and_the_dashboard_filters_on_it():
    """Glue's log groups are shared by every job in the account: two stacks' tables must not mix."""
    from dataops_cli.deploy.dashboard import DashboardInputs, build_dashboard
    from handler.spark_job import glue_entry
    from handler.spark_job.__main__ import parser
    from handler.spark_job.glue_entry import spark_job_argv
    from handler.spark_job.job import JOB_NAME

    glue_argv = ["--JOB_ID", "j_1", "--JOB_RUN_ID", "jr_1", "--JOB_NAME", "stack-b-job"]
    glue_argv += [f"--{key}=x" for key in glue_entry.REQUIRED]
    assert parser().parse_known_args(spark_job_argv(glue_argv))[0].job_name == "stack-b-job"
    without = [a for a in glue_argv if a not in ("--JOB_NAME", "stack-b-job")]
    assert parser().parse_known_args(spark_job_argv(without))[0].job_name == JOB_NAME  # a local run
    inputs = DashboardInputs("b", h.REGION, "fn", "/aws/lambda/fn", "grp", "bkt", engine="glue", glue_job="stack-b-job")
    queries = [w["properties"]["query"] for w in build_dashboard(inputs)["widgets"] if w["type"] == "log"]
    # the tables key on the lines' `function`, the skipped-runs series on the EMF lines' `Function` dimension
    assert len(queries) == 3
    assert all(("filter function = 'stack-b-job'" in q) != ("filter Function = 'stack-b-job'" in q) for q in queries)


def test_the_glue_role_may_write_the_groups_logs_reads_and_nothing_else():
    from fnmatch import fnmatchcase

    from dataops_cli.deploy.policies import glue_job_policy
    from dataops_cli.deploy.resources.glue import GlueJob
    from tests.functional.test_planning_glue import GLUE
    from tests.unit.test_planning import ACCOUNT, REGION, context

    policy = glue_job_policy(
        partition="aws",
        region=REGION,
        account_id=ACCOUNT,
        bucket="b",
        input_key="in.csv",
        output_prefix="processed/",
        script_prefix="dataops/glue/",
    )
    logs = next(s for s in policy["Statement"] if s["Sid"] == "WriteGlueLogs")
    assert set(logs["Action"]) == {"logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"}

    def allowed(arn: str) -> bool:
        return any(fnmatchcase(arn, pattern) for pattern in logs["Resource"])

    for group in (*glue_logs.GLUE_LOG_GROUPS, "/aws-glue/jobs/logs-v2"):
        base = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{group}"
        assert allowed(base) and allowed(f"{base}:log-stream:jr_abc"), group
    assert not allowed(f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/other")
    # No Glue job metrics (they would need cloudwatch:PutMetricData on "*"): resources/glue_events.py says why
    arguments = GlueJob(context({}, GLUE)).definition()["DefaultArguments"]
    assert "--enable-metrics" not in arguments and "--enable-observability-metrics" not in arguments
    assert not any("cloudwatch:" in str(s["Action"]) for s in policy["Statement"])


def test_glue_logs_read_the_newest_runs_and_say_how_many_were_left_out(stack, monkeypatch):  # noqa: F811
    _, _, config = stack
    glue = boto3.client("glue", region_name=h.REGION)
    runs = [make_job(JOB)] + [glue.start_job_run(JobName=JOB)["JobRunId"] for _ in range(3)]
    for run in runs:
        put(OUTPUT, run, f"line of {run}")
    monkeypatch.setattr(glue_logs, "MAX_RUNS", 2)
    newest_first = [r["Id"] for r in sorted(glue.get_job_runs(JobName=JOB)["JobRuns"], key=lambda r: r["StartedOn"])][
        ::-1
    ]
    assert newest_first == runs[::-1]  # moto's StartedOn are distinct (it answers oldest first: sorted here)
    result = h.run(config, "logs", "--since", "10m", "--json")
    assert result.exit_code == 0
    shown = {json.loads(x)["logStreamName"] for x in result.stdout.splitlines()}
    assert shown == set(newest_first[:2])
    assert "Reading the newest 2 of 4 runs" in result.stderr
