"""Pure builders: IAM documents, the dashboard body, layer parameter names."""

from __future__ import annotations

import json
from dataclasses import replace

import boto3
import pytest

from dataops_cli.deploy import policies
from dataops_cli.deploy.dashboard import DashboardInputs, build_dashboard, dashboard_json, owner_of
from dataops_cli.deploy.pandas_layer import expected_layer_name, layer_parameter_names
from tests.helpers import deploy as h

INPUTS = DashboardInputs(
    stack="dataops",
    region="ap-south-1",
    function="DataOpsPipelineFunction",
    log_group="/aws/lambda/DataOpsPipelineFunction",
    schedule_group="dataops-schedules",
    bucket="dataops-pipeline-bucket",
)


def metric_lines(body: dict) -> list[tuple[str, str, str, int]]:
    lines = []
    for widget in body["widgets"]:
        if widget["type"] != "metric":
            continue
        props = widget["properties"]
        for metric in props["metrics"]:
            lines.append((metric[0], metric[1], metric[-1]["stat"], props["period"], props["view"]))
    return lines


def test_execution_policy_is_exactly_what_the_handler_needs():
    document = policies.execution_policy(
        partition="aws",
        bucket="b",
        input_key="in.csv",
        output_prefix="processed/",
        log_group_arn="arn:aws:logs:ap-south-1:111122223333:log-group:/aws/lambda/F",
    )
    grants = {(s["Sid"], json.dumps(s["Action"]), s["Resource"]) for s in document["Statement"]}
    assert grants == {
        ("ReadInput", '"s3:GetObject"', "arn:aws:s3:::b/in.csv"),
        ("ReadQualityHistory", '"s3:GetObject"', "arn:aws:s3:::b/processed/quality/history.json"),
        ("CheckPublishedPointer", '"s3:GetObject"', "arn:aws:s3:::b/processed/latest.json"),
        ("Distinguish404From403", '"s3:ListBucket"', "arn:aws:s3:::b"),
        ("WriteOutputs", '"s3:PutObject"', "arn:aws:s3:::b/processed/*"),
        ("UndoFailedRun", '["s3:DeleteObject", "s3:AbortMultipartUpload"]', "arn:aws:s3:::b/processed/runs/*"),
        (
            "WriteOwnLogs",
            '["logs:CreateLogStream", "logs:PutLogEvents"]',
            "arn:aws:logs:ap-south-1:111122223333:log-group:/aws/lambda/F:*",
        ),
    }
    assert policies.wildcards(document) == []


def test_scheduler_policies_name_one_function_and_one_group():
    invoke = policies.scheduler_policy("arn:aws:lambda:ap-south-1:1:function:F")
    assert policies.wildcards(invoke) == []
    trust = policies.scheduler_trust_policy(
        "111122223333", "arn:aws:scheduler:ap-south-1:111122223333:schedule-group/g"
    )
    statement = trust["Statement"][0]
    assert statement["Principal"] == {"Service": "scheduler.amazonaws.com"}
    assert statement["Action"] == "sts:AssumeRole"
    # The group's ARN (what Scheduler sends today) and its schedules' ARNs (the page's older
    # form), as one ArnLike key with a list of exactly two values, and the account.
    assert statement["Condition"] == {
        "StringEquals": {"aws:SourceAccount": "111122223333"},
        "ArnLike": {
            "aws:SourceArn": [
                "arn:aws:scheduler:ap-south-1:111122223333:schedule-group/g",
                "arn:aws:scheduler:ap-south-1:111122223333:schedule/g/*",
            ]
        },
    }


def test_schedule_arns_of_a_group_need_a_group_arn():
    assert (
        policies.schedule_arns_of_group("arn:aws:scheduler:r:1:schedule-group/g")
        == "arn:aws:scheduler:r:1:schedule/g/*"
    )
    for bad in ("arn:aws:scheduler:r:1:schedule/g/s", "arn:aws:scheduler:r:1:schedule-group/", "g"):
        with pytest.raises(ValueError, match="not a schedule group ARN"):
            policies.schedule_arns_of_group(bad)


def test_glue_trust_keeps_the_account_check_only_where_glue_sends_it():
    trust = policies.glue_trust_policy("111122223333")["Statement"][0]
    assert trust["Principal"] == {"Service": "glue.amazonaws.com"} and trust["Action"] == "sts:AssumeRole"
    assert trust["Condition"] == {"StringEqualsIfExists": {"aws:SourceAccount": "111122223333"}}


def test_wildcard_detector_catches_star_actions_and_resources():
    bad = {"Statement": [{"Sid": "x", "Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
    assert policies.wildcards(bad) == ["x: Action s3:*", "x: Resource *"]
    deny = policies.tls_only_bucket_policy("aws", "b")
    assert policies.wildcards(deny) == []  # a Deny on * narrows access


def test_tls_policy_document_is_accepted_by_s3(mock_aws_env):
    """Only the document is checked here: moto then denies everything (see deploy_helpers)."""
    s3 = boto3.client("s3", region_name=h.REGION)
    s3.create_bucket(Bucket="tls-bucket", CreateBucketConfiguration={"LocationConstraint": h.REGION})
    document = policies.tls_only_bucket_policy("aws", "tls-bucket")
    s3.put_bucket_policy(Bucket="tls-bucket", Policy=json.dumps(document))
    stored = json.loads(s3.get_bucket_policy(Bucket="tls-bucket")["Policy"])
    assert stored["Statement"][0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert stored["Statement"][0]["Resource"] == ["arn:aws:s3:::tls-bucket", "arn:aws:s3:::tls-bucket/*"]


def test_dashboard_has_every_required_widget_at_120s():
    body = build_dashboard(INPUTS)
    lines = metric_lines(body)
    for expected in [
        ("AWS/Lambda", "Invocations", "Sum", 120, "timeSeries"),
        ("AWS/Lambda", "Errors", "Sum", 120, "timeSeries"),
        ("AWS/Lambda", "Duration", "Average", 120, "timeSeries"),
        ("AWS/Lambda", "Duration", "p99", 120, "timeSeries"),
        ("AWS/Scheduler", "InvocationAttemptCount", "Sum", 120, "timeSeries"),
        ("AWS/Scheduler", "TargetErrorCount", "Sum", 120, "timeSeries"),
        ("AWS/S3", "NumberOfObjects", "Average", 86400, "timeSeries"),
        ("AWS/S3", "BucketSizeBytes", "Average", 86400, "timeSeries"),
    ]:
        assert expected in lines, expected
    tiles = {(m, s) for ns, m, s, _, view in lines if view == "singleValue"}
    assert tiles == {
        ("Invocations", "Sum"),
        ("RunsSkipped", "Sum"),
        ("Errors", "Sum"),
        ("Throttles", "Sum"),
        ("Duration", "Average"),
        ("Duration", "p99"),
        ("AsyncEventAge", "Maximum"),
    }
    scheduler = next(w for w in body["widgets"] if "Scheduler" in w["properties"].get("title", ""))
    assert scheduler["properties"]["metrics"][0][2:4] == ["ScheduleGroup", "dataops-schedules"]


def test_dashboard_shows_skipped_runs_from_the_handlers_runs_skipped():
    """RunsSkipped (1 for a run that skipped an unchanged input) beside Invocations, chart and tile."""
    widgets = [w for w in build_dashboard(INPUTS)["widgets"] if w["type"] == "metric"]
    skipped = [
        (w["properties"]["title"], w["properties"]["view"], m)
        for w in widgets
        for m in w["properties"]["metrics"]
        if m[1] == "RunsSkipped"
    ]
    assert [(title, view) for title, view, _ in skipped] == [
        ("Invocations", "singleValue"),
        ("Lambda invocations", "timeSeries"),
    ]
    for _, _, metric in skipped:
        assert metric[:4] == ["DataOps/Pipeline", "RunsSkipped", "Function", "DataOpsPipelineFunction"]
        assert metric[4]["stat"] == "Sum" and metric[4]["label"] == "skipped (input unchanged)"


def test_glue_dashboard_draws_the_jobs_skipped_runs_from_its_log_lines():
    glue = replace(INPUTS, engine="glue", glue_job="job", glue_failed_rule="f", glue_succeeded_rule="ok")
    widget = next(w for w in build_dashboard(glue)["widgets"] if "skipped" in w["properties"].get("title", ""))
    assert widget["type"] == "log" and widget["properties"]["view"] == "timeSeries"
    assert "filter Function = 'job' and ispresent(RunsSkipped)" in widget["properties"]["query"]
    assert "stats sum(RunsSkipped) as skipped_runs" in widget["properties"]["query"]
    assert "by bin(2m)" in widget["properties"]["query"]  # the metric widgets' 120 s period


def test_dashboard_has_a_data_quality_widget():
    widget = next(w for w in build_dashboard(INPUTS)["widgets"] if "Data quality" in w["properties"].get("title", ""))
    metrics = widget["properties"]["metrics"]
    assert [(m[0], m[1], m[2:4]) for m in metrics] == [
        ("DataOps/Pipeline", name, ["Function", "DataOpsPipelineFunction"])
        for name in ("QualityWarnings", "QualityFailures", "RowsProcessed")
    ]
    assert metrics[2][-1] == {"stat": "Sum", "yAxis": "right"}
    assert widget["properties"]["period"] == 120 and widget["properties"]["view"] == "timeSeries"


def test_dashboard_log_tables_query_the_function_log_group():
    logs = [w for w in build_dashboard(INPUTS)["widgets"] if w["type"] == "log"]
    assert len(logs) == 2
    activity, errors = (w["properties"] for w in logs)
    assert activity["query"].startswith("SOURCE '/aws/lambda/DataOpsPipelineFunction' | fields @timestamp")
    assert (
        "'start', 'shape', 'missing', 'quality', 'saved', 'quarantined'" in activity["query"]
        and activity["view"] == "table"
    )
    for field in ("start_time", "rows", "columns", "missing_total", "files.0 as cleaned_csv"):
        assert field in activity["query"]
    assert "🚀" in activity["title"] and "✅" in activity["title"]
    assert "level = 'ERROR'" in errors["query"]


def test_dashboard_layout_fits_24_columns_without_overlap():
    cells = set()
    for widget in build_dashboard(INPUTS)["widgets"]:
        assert widget["x"] + widget["width"] <= 24
        for x in range(widget["x"], widget["x"] + widget["width"]):
            for y in range(widget["y"], widget["y"] + widget["height"]):
                assert (x, y) not in cells
                cells.add((x, y))


def test_dashboard_marker_identifies_the_owner():
    assert owner_of(build_dashboard(INPUTS)) == "dataops"
    assert owner_of({"widgets": [{"type": "text", "properties": {"markdown": "hello"}}]}) is None
    assert json.loads(dashboard_json(INPUTS)) == build_dashboard(INPUTS)


def test_layer_parameter_names_cover_both_ssm_layouts():
    assert layer_parameter_names("3.17.0", "ap-south-1", "python3.12", "x86_64") == [
        "/aws/service/aws-sdk-pandas/3.17.0/py3.12/x86_64/layer-arn",
        "/aws/service/aws-sdk-pandas/3.17.0/ap-south-1/py3.12/x86_64/layer-arn",
    ]
    assert expected_layer_name("AWSSDKPandas-Python312", "arm64") == "AWSSDKPandas-Python312-Arm64"
