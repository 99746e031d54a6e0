"""Never strand the user: absent spellings, down past failures, failed functions, status per source, exit codes."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import boto3
import botocore.client
import pytest
from botocore.exceptions import ClientError

from dataops_cli.aws import not_found
from dataops_cli.cli import root as cli_module
from tests.functional.test_status import seed_runs, status_json
from tests.helpers import deploy as h

ALARM = h.ALARM


def client_error(code: str, message: str = "", status: int | None = 400) -> ClientError:
    response: dict = {"Error": {"Code": code, "Message": message}}
    if status is not None:
        response["ResponseMetadata"] = {"HTTPStatusCode": status}
    return ClientError(response, "Operation")


# --- not_found: every spelling of "absent" the reads and deletes we make can answer ---


@pytest.mark.parametrize(
    ("code", "message", "status", "name"),
    [
        ("NoSuchBucket", "The specified bucket does not exist", 404, None),  # s3
        ("NoSuchKey", "The specified key does not exist.", 404, None),  # s3 objects
        ("404", "Not Found", 404, None),  # s3 HEAD: no body, only the status
        ("NotFound", "Not Found", 404, None),  # s3 HEAD as some SDKs spell it
        ("NoSuchTagSet", "The TagSet does not exist", 404, None),
        ("NoSuchLifecycleConfiguration", "The lifecycle configuration does not exist", 404, None),
        ("NoSuchBucketPolicy", "The bucket policy does not exist", 404, None),
        ("ServerSideEncryptionConfigurationNotFoundError", "not found", 404, None),
        ("NoSuchPublicAccessBlockConfiguration", "not found", 404, None),
        ("NoSuchEntity", "Role x not found", 404, None),  # iam
        ("ResourceNotFoundException", "Function not found: arn:...", 404, None),  # lambda, logs, scheduler
        ("ResourceNotFound", "Dashboard does not exist", 404, None),  # cloudwatch GetDashboard / DeleteAlarms
        ("NotFound", "Topic does not exist", 404, None),  # sns
        ("NotFoundException", "Topic does not exist", 404, None),
        ("ParameterNotFound", "", 400, None),  # ssm
        # LocalStack's GetDashboard: a 400 with another code whose message names the missing dashboard
        (
            "InvalidParameterValue",
            "Dashboard DataOpsPipelineDashboard does not exist.",
            400,
            "DataOpsPipelineDashboard",
        ),
        ("ValidationException", "Schedule group dataops-schedules does not exist.", 400, "dataops-schedules"),
        (
            "InvalidParameterValueException",
            "Function DataOpsPipelineFunction not found",
            400,
            "DataOpsPipelineFunction",
        ),
        ("SomethingElse", "whatever", 404, None),  # any 404 that is not an auth answer
    ],
)
def test_not_found_knows_each_spelling(code, message, status, name):
    assert not_found(client_error(code, message, status), name)


@pytest.mark.parametrize(
    ("code", "message", "status", "name"),
    [
        ("AccessDenied", "Access Denied", 403, None),  # a 403 is never "not there"
        ("AccessDenied", "Access Denied", 404, None),
        ("403", "Forbidden", 403, None),
        ("InvalidParameterValue", "Dashboard X does not exist.", 400, None),  # message rule needs the name
        ("InvalidParameterValue", "Dashboard Other does not exist.", 400, "DataOpsPipelineDashboard"),
        ("InternalError", "Dashboard DataOpsPipelineDashboard does not exist", 500, "DataOpsPipelineDashboard"),
        ("InvalidParameterValueException", "The role defined for the function cannot be assumed", 400, "fn"),
        ("ThrottlingException", "Rate exceeded", 400, None),
    ],
)
def test_not_found_is_not_fooled(code, message, status, name):
    assert not not_found(client_error(code, message, status), name)


# --- down: every resource is tried; a second down finishes ---


def test_down_goes_on_past_a_failure_and_a_second_down_finishes(deployed):
    recorder, config = deployed
    recorder.fail_first("DeleteFunction", 1, "ServiceException", "Lambda had a bad moment", status=500)
    first = h.run(config, "down", "--yes")
    text = " ".join(first.output.split())
    assert first.exit_code == 1, first.output
    assert "failed: Lambda function DataOpsPipelineFunction: deleting Lambda function" in text
    assert "ServiceException: Lambda had a bad moment" in text
    # the log group waits for its function (a run would re-create it untagged); everything else went
    assert "kept: removing the Lambda function failed" in text
    left = h.leftovers()
    assert left["functions"] == ["DataOpsPipelineFunction"]
    assert left["log_groups"] == ["/aws/lambda/DataOpsPipelineFunction"]
    assert left["buckets"] == [] and left["roles"] == [] and left["dashboards"] == [] and left["alarms"] == []
    assert left["schedule_groups"] == [] and left["topics"] == []
    assert "remain: Lambda function DataOpsPipelineFunction, Log group" in text
    assert "run `dataops down` again" in text
    second = h.run(config, "down", "--yes")
    assert second.exit_code == 0, second.output
    assert h.leftovers() == {key: [] for key in h.leftovers()}


def test_down_goes_on_when_a_read_fails(deployed):
    recorder, config = deployed
    recorder.fail_first("GetDashboard", 1, "InternalServiceError", "try later", status=500)
    first = h.run(config, "down", "--yes")
    assert first.exit_code == 1
    assert "checking Dashboard DataOpsPipelineDashboard failed: InternalServiceError" in " ".join(first.output.split())
    assert h.leftovers()["dashboards"] == ["DataOpsPipelineDashboard"]
    assert h.leftovers()["functions"] == [] and h.leftovers()["buckets"] == []
    assert h.run(config, "down", "--yes").exit_code == 0
    assert h.leftovers() == {key: [] for key in h.leftovers()}


def test_a_backend_without_glue_does_not_stop_a_lambda_stack(stack):
    """LocalStack community answers every Glue call InternalFailure; a caller may lack glue:GetJob.

    Engine lambda: up and down say they could not check the Glue job and go on; exit codes
    are those of the lambda stack alone.
    """
    recorder, config = stack
    no_glue = "The API for service glue is either not included in your current license plan"
    recorder.fail_first("GetJob", 10, "InternalFailure", no_glue, status=501)
    deployed = h.run(config, "up")
    text = " ".join(deployed.output.split())
    assert deployed.exit_code == 0, deployed.output
    assert "could not check for Glue job dataops-pipeline-glue (only engine 'glue' uses it)" in text
    assert "InternalFailure" in text and "left alone" in text
    removed = h.run(config, "down", "--yes")
    text = " ".join(removed.output.split())
    assert removed.exit_code == 0, removed.output
    assert "Glue job dataops-pipeline-glue: skipped (could not check" in text
    assert h.leftovers() == {key: [] for key in h.leftovers()}


def test_down_takes_localstacks_spelling_of_a_missing_dashboard(deployed):
    recorder, config = deployed
    boto3.client("cloudwatch", region_name=h.REGION).delete_dashboards(DashboardNames=["DataOpsPipelineDashboard"])
    recorder.fail_first(
        "GetDashboard", 5, "InvalidParameterValue", "Dashboard DataOpsPipelineDashboard does not exist.", status=400
    )
    result = h.run(config, "down", "--yes")
    assert result.exit_code == 0, result.output
    assert h.leftovers() == {key: [] for key in h.leftovers()}


# --- a function that ends Failed: the reason, a repair, and status ---


@pytest.fixture
def failing_function(monkeypatch):
    """moto's functions are always Active: make them answer as AWS does for a function whose create failed."""
    from moto.awslambda import models

    original = models.LambdaFunction.get_configuration
    switch = {"on": True}

    def configuration(self, on_create: bool = False):
        found = original(self, on_create)
        if switch["on"]:
            found.update(
                State="Failed",
                StateReasonCode="InvalidConfiguration",
                StateReason="Layer version arn:aws:lambda:ap-south-1:123456789012:layer:X:9 does not exist.",
            )
        return found

    monkeypatch.setattr(models.LambdaFunction, "get_configuration", configuration)
    return switch


def test_up_says_why_the_function_failed_and_repairs_it(stack, failing_function):
    recorder, config = stack
    first = h.run(config, "up")
    text = " ".join(first.output.split())
    assert first.exit_code == 1
    assert "Lambda function DataOpsPipelineFunction: state Failed: InvalidConfiguration: Layer version" in text
    assert "hint: the layer was not found or this account may not use it" in text
    assert "Traceback" not in first.output and "Waiter" not in first.output

    code, report = status_json(config)
    row = next(r for r in report["resources"] if r["kind"] == "Lambda function")
    assert row["state"] == "failed" and "InvalidConfiguration" in row["details"][0]
    # `up` stopped at the function, so the stack is also incomplete (4); the reason is in the verdict
    assert code == 4 and report["health"]["level"] == "not_deployed"
    assert any(
        "Lambda function DataOpsPipelineFunction cannot run: state Failed" in r for r in report["health"]["reasons"]
    )

    calls: list[str] = []

    def fixed_once_recreated(_service, operation):  # the cause is gone: a new function comes up Active
        calls.append(operation)
        if operation == "DeleteFunction":
            failing_function["on"] = False

    recorder.listeners.append(fixed_once_recreated)
    second = h.run(config, "up")
    assert second.exit_code == 0, second.output
    assert "re-creating it" in second.output
    assert calls.count("DeleteFunction") == 1 and calls.count("CreateFunction") == 1


# --- status: each source on its own; percentiles fall back to REPORT lines ---


def without_percentile_gap(monkeypatch):
    original = cli_module.App.stack

    def stack(self, start_emulator=False):
        ctx = original(self, start_emulator)
        ctx.gaps = {k: v for k, v in ctx.gaps.items() if k != "percentiles"}
        return ctx

    monkeypatch.setattr(cli_module.App, "stack", stack)


def test_status_retries_without_percentiles_and_takes_p99_from_report_lines(deployed, monkeypatch):
    recorder, config = deployed
    without_percentile_gap(monkeypatch)  # nothing tells status that this backend lacks percentiles
    seed_runs(datetime.now(UTC), [float(d) for d in (100, 200, 300, 400)], failed=set())
    attempts = recorder.fail_first(
        "GetMetricData", 1, "InternalError", "exception while calling cloudwatch.GetMetricData: 'p99'", status=500
    )
    _, report = status_json(config, "--since", "30m")
    assert report["unavailable"] == {}
    k = report["kpis"]
    assert k["invocations"]["value"] == 4 and k["duration_avg"]["value"] == 250
    assert k["duration_p99"]["value"] == 400
    assert (
        "REPORT log lines (exact, from 4 durations; GetMetricData refused percentiles (InternalError"
        in (k["duration_p99"]["source"])
    )
    assert len(attempts) == 4  # KPIs with percentiles (refused), KPIs without, S3 storage, month-to-date cost
    calls_30m = report["api_calls"]
    recorder.fail_first("GetMetricData", 1, "InternalError", "'p99'", status=500)
    _, longer = status_json(config, "--since", "2w")
    assert longer["api_calls"] == calls_30m  # the number of calls does not grow with the window


def test_status_shows_what_is_unavailable_and_the_rest(deployed, monkeypatch):
    recorder, config = deployed
    seed_runs(datetime.now(UTC), [100.0, 200.0], failed=set())
    recorder.fail_first("FilterLogEvents", 5, "AccessDeniedException", "not authorized to filter logs", status=400)
    recorder.fail_first("GetObject", 1, "SlowDown", "reduce your request rate", status=503)
    code, report = status_json(config, "--since", "30m")
    assert report["unavailable"]["logs"] == "AccessDeniedException: not authorized to filter logs"
    assert report["unavailable"]["s3 outputs"] == "SlowDown: reduce your request rate"
    assert report["kpis"]["invocations"]["value"] == 2  # metrics still read
    assert code == 5 and report["health"]["level"] == "incomplete"
    recorder.fail_first("FilterLogEvents", 5, "AccessDeniedException", "not authorized to filter logs", status=400)
    plain = h.run(config, "status", "--since", "30m")
    assert plain.exit_code == 5
    assert "logs: unavailable: AccessDeniedException: not authorized to filter logs" in plain.output
    assert "Invocations" in plain.output


def test_status_row_for_a_resource_read_that_fails(deployed):
    recorder, config = deployed
    recorder.fail_first("GetRole", 1, "ServiceFailure", "IAM is having a moment", status=500)
    code, report = status_json(config)
    row = next(r for r in report["resources"] if r["kind"] == "IAM role")
    assert row["state"] == "error" and row["details"] == ["unavailable: ServiceFailure: IAM is having a moment"]
    assert "resource: IAM role dataops-lambda-exec" in report["unavailable"]
    assert code == 5


# --- exit codes tell the truth ---


def test_missing_input_file_is_a_config_error(stack, tmp_path):
    _, config = stack
    config.write_text(config.read_text().replace(str(h.SAMPLE_CSV), "typo.csv"))
    result = h.run(config, "up")
    assert result.exit_code == 2
    text = " ".join(result.output.split())
    assert "bucket.input_file = 'typo.csv'" in text and f"{tmp_path / 'typo.csv'} does not exist" in text
    assert h.leftovers()["buckets"] == []  # nothing was created
    dry = h.run(config, "up", "--dry-run")
    assert dry.exit_code == 2


def test_default_input_file_missing_from_this_folder_is_a_config_error(stack, tmp_path, monkeypatch):
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.chdir(empty)
    monkeypatch.delenv("DATAOPS_CONFIG", raising=False)
    from click.testing import CliRunner

    result = CliRunner().invoke(cli_module.cli, ["up"])
    assert result.exit_code == 2
    text = " ".join(result.output.split())
    assert "bucket.input_file = 'diabetes_preprocessed.csv' (the built-in default" in text
    assert str(empty / "diabetes_preprocessed.csv") in text
    assert "run `dataops init`" in text


def test_interrupt_exits_130_and_names_the_step(stack, monkeypatch):
    recorder, config = stack

    def interrupt(_service, operation):
        if operation == "CreateRole":
            raise KeyboardInterrupt

    recorder.listeners.append(interrupt)
    result = h.run(config, "up")
    assert result.exit_code == 130
    text = " ".join(result.output.split())
    assert "interrupted (Ctrl-C) while creating IAM role dataops-lambda-exec" in text
    assert "`up` and `down` converge" in text and "Traceback" not in result.output
    recorder.listeners.remove(interrupt)
    again = h.run(config, "up")
    assert again.exit_code == 0, again.output


def test_concurrent_create_says_another_up_is_in_progress(stack):
    recorder, config = stack
    message = "Role with name dataops-lambda-exec already exists."
    recorder.fail_first("CreateRole", 1, "EntityAlreadyExists", message, status=409)
    result = h.run(config, "up")
    assert result.exit_code == 1
    assert "another `up` of stack 'dataops' seems to be in progress" in " ".join(result.output.split())
    assert h.run(config, "up").exit_code == 0


def test_bucket_is_tagged_in_the_create_call(stack, tmp_path):
    case = h.write_config_for_bucket(tmp_path / "t.toml", "dataops-never-seen-tags", ALARM)
    sent: list[dict] = []
    real = botocore.client.BaseClient._make_api_call

    def spy(self, operation, params):
        if operation == "CreateBucket":
            sent.append(params)
        return real(self, operation, params)

    monkey = pytest.MonkeyPatch()
    monkey.setattr(botocore.client.BaseClient, "_make_api_call", spy)
    try:
        assert h.run(case, "up").exit_code == 0
    finally:
        monkey.undo()
    tags = {t["Key"]: t["Value"] for t in sent[0]["CreateBucketConfiguration"]["Tags"]}
    assert tags["dataops:stack"] == "dataops"
    assert json.dumps(sent[0]).count("LocationConstraint") == 1
