"""`dataops up` and `dataops down` against moto: what is built, idempotence, convergence, teardown."""

from __future__ import annotations

import json
import re
import shutil

import boto3
import pytest

from dataops_cli.deploy import packaging
from dataops_cli.deploy.resources import base as base_module
from tests.helpers import deploy as h

ALARM = h.ALARM


def up(config, *args, verbose=False):
    result = h.run(config, *(["-v"] if verbose else []), "up", *args)
    assert result.exit_code == 0, result.output
    return result


def test_up_builds_every_resource_as_configured(stack):
    _, config = stack
    result = up(config)
    assert "Lambda function DataOpsPipelineFunction: created" in result.output
    assert "S3 bucket policy dataops-pipeline-bucket (TLS only): skipped (moto evaluates" in result.output
    assert "Next scheduled run:" in result.output

    lam = boto3.client("lambda", region_name=h.REGION)
    function = lam.get_function(FunctionName="DataOpsPipelineFunction")
    conf = function["Configuration"]
    assert (conf["Runtime"], conf["MemorySize"], conf["Timeout"]) == ("python3.12", 1024, 60)
    assert conf["Handler"] == "handler.lambda_function.lambda_handler"
    assert conf["Environment"]["Variables"]["BUCKET_NAME"] == "dataops-pipeline-bucket"
    assert conf["Environment"]["Variables"]["INPUT_KEY"] == "diabetes_preprocessed.csv"
    assert conf["Environment"]["Variables"]["OUTPUT_PREFIX"] == "processed/"
    assert [layer["Arn"] for layer in conf["Layers"]] == [h.STAND_IN_LAYER]
    assert conf["CodeSha256"] == packaging.build_package().sha256
    assert function["Concurrency"]["ReservedConcurrentExecutions"] == 1
    assert function["Tags"]["dataops:stack"] == "dataops"

    schedule = boto3.client("scheduler", region_name=h.REGION).get_schedule(
        Name="dataops-run-pipeline", GroupName="dataops-schedules"
    )
    assert schedule["ScheduleExpression"] == "rate(2 minutes)"
    assert schedule["FlexibleTimeWindow"] == {"Mode": "OFF"}
    assert schedule["State"] == "ENABLED"
    assert schedule["Target"]["Arn"] == conf["FunctionArn"]
    assert schedule["Target"]["RoleArn"].endswith(":role/dataops-scheduler-invoke")

    iam = boto3.client("iam", region_name=h.REGION)
    invoke = iam.get_role_policy(RoleName="dataops-scheduler-invoke", PolicyName="dataops-least-privilege")
    assert invoke["PolicyDocument"]["Statement"] == [
        {"Sid": "InvokePipeline", "Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": conf["FunctionArn"]}
    ]
    trust = iam.get_role(RoleName="dataops-lambda-exec")["Role"]["AssumeRolePolicyDocument"]
    assert trust["Statement"][0]["Principal"] == {"Service": "lambda.amazonaws.com"}

    logs = boto3.client("logs", region_name=h.REGION)
    assert logs.describe_log_groups(logGroupNamePrefix="/aws/lambda/")["logGroups"][0]["retentionInDays"] == 14

    s3 = boto3.client("s3", region_name=h.REGION)
    head = s3.head_object(Bucket="dataops-pipeline-bucket", Key="diabetes_preprocessed.csv")
    assert head["ContentLength"] == h.SAMPLE_CSV.stat().st_size
    assert s3.head_object(Bucket="dataops-pipeline-bucket", Key="processed/")["ContentLength"] == 0
    assert s3.get_bucket_lifecycle_configuration(Bucket="dataops-pipeline-bucket")["Rules"][0]["Filter"] == {
        "Prefix": "processed/runs/"
    }
    assert s3.get_public_access_block(Bucket="dataops-pipeline-bucket")["PublicAccessBlockConfiguration"][
        "BlockPublicPolicy"
    ]

    cloudwatch = boto3.client("cloudwatch", region_name=h.REGION)
    alarm = cloudwatch.describe_alarms(AlarmNames=["DataOpsPipelineFunction-errors"])["MetricAlarms"][0]
    assert (alarm["MetricName"], alarm["Period"], alarm["Threshold"]) == ("Errors", 120, 1.0)
    topic = alarm["AlarmActions"][0]
    assert topic.endswith(":dataops-alarms")
    quality = cloudwatch.describe_alarms(AlarmNames=["DataOpsPipelineFunction-quality-failures"])["MetricAlarms"][0]
    assert (quality["Namespace"], quality["MetricName"], quality["Statistic"]) == (
        "DataOps/Pipeline",
        "QualityFailures",
        "Sum",
    )
    assert quality["Dimensions"] == [{"Name": "Function", "Value": "DataOpsPipelineFunction"}]
    assert (quality["Threshold"], quality["ComparisonOperator"]) == (1.0, "GreaterThanOrEqualToThreshold")
    assert quality["AlarmActions"] == [topic]
    subscriptions = boto3.client("sns", region_name=h.REGION).list_subscriptions_by_topic(TopicArn=topic)
    assert subscriptions["Subscriptions"][0]["Endpoint"] == "ops@example.com"
    body = json.loads(cloudwatch.get_dashboard(DashboardName="DataOpsPipelineDashboard")["DashboardBody"])
    assert any(w["type"] == "log" for w in body["widgets"])


def test_second_up_makes_no_mutating_call(deployed):
    recorder, config = deployed
    result = up(config, verbose=True)
    assert recorder.last.counter.mutating == 0, recorder.last.counter.mutating_calls()
    assert recorder.last.counter.total > 10
    assert "(0 mutating)" in result.output
    assert "created" not in result.output and "updated" not in result.output


def test_dry_run_changes_nothing(stack):
    recorder, config = stack
    result = up(config, "--dry-run")
    assert recorder.last.counter.mutating == 0
    assert "would create" in result.output and "13 of 14 resources would change" in result.output
    assert boto3.client("s3", region_name=h.REGION).list_buckets()["Buckets"] == []
    up(config)
    config.write_text(config.read_text() + '\n[schedule]\nexpression = "rate(5 minutes)"\n')
    result = up(config, "--dry-run")
    expected = "would update (ScheduleExpression: 'rate(2 minutes)' -> 'rate(5 minutes)'"
    assert f"Schedule dataops-schedules/dataops-run-pipeline: {expected}" in result.output
    assert "1 of 14 resources would change" in result.output
    assert recorder.last.counter.mutating == 0


def planned_calls(output: str) -> list[str]:
    """The API names `--dry-run -vv` lists (waiters are reads, so they are left out)."""
    lines = output.split("API calls it would make:", 1)[1].splitlines()[1:]
    calls = [line for line in lines if re.match(r"  [a-z0-9-]+:\w+", line)]  # not the estimate's lines after
    return sorted(line.split()[0] for line in calls if ":wait:" not in line)


def test_dry_run_vv_lists_exactly_the_calls_up_then_makes(stack):
    recorder, config = stack
    planned = h.run(config, "-vv", "up", "--dry-run")
    assert planned.exit_code == 0, planned.output
    assert "  s3:CreateBucket Bucket='dataops-pipeline-bucket', CreateBucketConfiguration=" in planned.output
    assert "  lambda:CreateFunction FunctionName='DataOpsPipelineFunction'" in planned.output
    assert re.search(r'Code=\{"ZipFile": "<[\d,]+ bytes>"\}', planned.output)  # bodies shown as their size
    assert "Body=<file " in planned.output
    made = up(config)
    assert planned_calls(planned.output) == sorted(recorder.last.counter.mutating_calls()), made.output
    config.write_text(config.read_text().replace("[function]\n", "[function]\nmemory_mb = 2048\n"))
    drift = h.run(config, "-vv", "up", "--dry-run")
    assert planned_calls(drift.output) == ["lambda:UpdateFunctionConfiguration"]
    assert "MemorySize=2048" in drift.output


def test_down_dry_run_vv_lists_the_deletes_down_then_makes(deployed):
    recorder, config = deployed
    planned = h.run(config, "-vv", "down", "--dry-run")
    assert planned.exit_code == 0, planned.output
    assert (
        "  iam:DeleteRolePolicy RoleName='dataops-lambda-exec', PolicyName='dataops-least-privilege'" in planned.output
    )
    deleted = h.run(config, "down", "--yes")
    assert deleted.exit_code == 0, deleted.output
    assert planned_calls(planned.output) == sorted(recorder.last.counter.mutating_calls())


@pytest.mark.parametrize(
    ("setting", "expected_calls"),
    [
        ("[function]\nmemory_mb = 2048\n", ["lambda:UpdateFunctionConfiguration"]),
        ('[schedule]\nexpression = "rate(10 minutes)"\n', ["scheduler:UpdateSchedule"]),
        ("[function]\nlog_retention_days = 30\n", ["logs:PutRetentionPolicy"]),
        ("[bucket]\nrun_retention_days = 7\n", ["s3:PutBucketLifecycleConfiguration"]),
        ("[function]\nreserved_concurrency = 2\n", ["lambda:PutFunctionConcurrency"]),
    ],
)
def test_one_setting_updates_only_its_resource(deployed, setting, expected_calls):
    recorder, config = deployed
    text = config.read_text()
    section = setting.split("\n", 1)[0]
    if section in text:
        text = text.replace(section + "\n", setting)
    else:
        text += setting
    config.write_text(text)
    up(config)
    assert recorder.last.counter.mutating_calls() == expected_calls


def test_changed_handler_file_updates_only_the_code(deployed, monkeypatch, tmp_path):
    recorder, config = deployed
    copy = tmp_path / "handler"
    shutil.copytree(packaging.HANDLER_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    with (copy / "pipeline.py").open("a") as f:
        f.write("\n# a comment changes the code hash\n")
    monkeypatch.setattr(packaging, "HANDLER_DIR", copy)
    monkeypatch.setattr(packaging.build_package, "__defaults__", (copy,))
    up(config)
    assert recorder.last.counter.mutating_calls() == ["lambda:UpdateFunctionCode"]


def test_package_is_deterministic():
    first, second = packaging.build_package(), packaging.build_package()
    assert first.data == second.data and first.sha256 == second.sha256
    assert "handler/lambda_function.py" in first.files
    assert not any("__pycache__" in name for name in first.files)
    assert not any(name.startswith("handler/spark_job/") for name in first.files)  # the Glue job is not shipped


def untagged_bucket(name: str) -> bool:
    """The bucket exists without tags: what an `up` stopped between CreateBucket and PutBucketTagging leaves."""
    s3 = boto3.client("s3", region_name=h.REGION)
    if name not in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
        return False
    try:
        s3.get_bucket_tagging(Bucket=name)
    except s3.exceptions.ClientError as exc:
        return exc.response["Error"]["Code"] == "NoSuchTagSet"
    return False


def test_up_converges_after_a_failure_at_any_mutating_call(stack, tmp_path):
    """Fail each mutating call of a clean `up` once; a plain `up` must then converge to the clean state.

    Each case starts from a private copy of moto's state after the clean stack's `down`
    (tests/helpers/moto_state.py) instead of a `down` of the case before: a converged case
    equals the clean stack, whose `down` is checked here to leave nothing. The case that
    fails right after CreateBucket (an untagged bucket left) is also taken down: the bucket a
    half-finished `up` made is adopted, then removed. Each case still uses a bucket name of
    its own (moto keeps a deleted bucket's tags, which once hid the CreateBucket ->
    PutBucketTagging gap).
    """
    from tests.helpers import moto_state

    recorder, _ = stack

    def normalised(bucket: str) -> str:
        return json.dumps(h.snapshot(bucket=bucket), sort_keys=True, default=str).replace(bucket, "<bucket>")

    clean_config = h.write_config_for_bucket(tmp_path / "clean.toml", "dataops-converge-clean", ALARM)
    up(clean_config)
    clean = normalised("dataops-converge-clean")
    assert h.run(clean_config, "down", "--yes").exit_code == 0
    assert h.leftovers() == {key: [] for key in h.leftovers()}
    after_down = moto_state.capture()  # every service `up` touches is in it, and nothing of the stack
    taken_down = False
    for fail_at in range(1, 60):
        moto_state.restore(after_down)
        bucket = f"dataops-converge-{fail_at}"
        case = h.write_config_for_bucket(tmp_path / f"case{fail_at}.toml", bucket, ALARM)
        recorder._mutating = 0
        recorder.fail_at = fail_at
        broken = h.run(case, "up")
        recorder.fail_at = None
        if broken.exit_code == 0:  # fewer mutating calls than fail_at
            break
        assert "InjectedFailure" in broken.output and "Traceback" not in broken.output
        assert broken.output.count("error:") == 1
        half_made = untagged_bucket(bucket)
        again = up(case)
        assert normalised(bucket) == clean, f"state after failing at mutating call {fail_at} differs:\n{again.output}"
        if half_made:
            removed = h.run(case, "down", "--yes")
            assert removed.exit_code == 0, removed.output
            assert h.leftovers()["buckets"] == []
            taken_down = True
    else:
        pytest.fail("up made more mutating calls than the test injects failures into")
    assert fail_at > 20  # every mutating call of a clean up was failed once
    assert taken_down, "no case left an untagged bucket: the CreateBucket -> PutBucketTagging window went untested"


def test_half_made_bucket_is_adopted_by_up_and_removed_by_down(stack, tmp_path):
    """CreateBucket done, PutBucketTagging never sent (Ctrl-C, dropped connection): not a stranger's bucket."""
    recorder, _ = stack
    case = h.write_config_for_bucket(tmp_path / "c.toml", "dataops-never-seen-adopt", ALARM)
    recorder.fail_first("PutBucketTagging", 1, "RequestTimeout", "connection dropped")
    assert h.run(case, "up").exit_code == 1
    s3 = boto3.client("s3", region_name=h.REGION)
    with pytest.raises(s3.exceptions.ClientError, match="NoSuchTagSet"):
        s3.get_bucket_tagging(Bucket="dataops-never-seen-adopt")
    adopted = up(case)
    assert "adopting the empty, untagged bucket a half-finished `up` left" in " ".join(adopted.output.split())
    tags = {t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket="dataops-never-seen-adopt")["TagSet"]}
    assert tags["dataops:stack"] == "dataops"
    # and `down` alone (without an `up` first) also removes such a bucket
    recorder.fail_first("PutBucketTagging", 1, "RequestTimeout", "connection dropped")
    other = h.write_config_for_bucket(tmp_path / "d.toml", "dataops-never-seen-down", ALARM)
    assert h.run(other, "down", "--yes").exit_code == 0
    assert h.run(other, "up").exit_code == 1
    removed = h.run(other, "down", "--yes")
    assert removed.exit_code == 0, removed.output
    assert "empty and untagged: left by a half-finished `up`" in " ".join(removed.output.split())
    assert h.leftovers()["buckets"] == ["dataops-never-seen-adopt"]


def test_role_not_yet_assumable_is_retried(stack, monkeypatch):
    recorder, config = stack
    monkeypatch.setattr(base_module.time, "sleep", lambda _s: None)
    message = "The role defined for the function cannot be assumed by Lambda."
    attempts = recorder.fail_first("CreateFunction", 2, "InvalidParameterValueException", message)
    result = up(config)
    assert len(attempts) == 3
    assert "IAM role not assumable by Lambda yet" in result.output and "retry 2/10" in result.output


def test_the_local_emulator_refusing_a_role_is_not_retried(monkeypatch):
    """The emulator's IAM is immediately consistent: a refused role is final, not a minute of retries."""
    from types import SimpleNamespace

    from botocore.exceptions import ClientError

    from dataops_cli.deploy.resources.function import role_not_ready

    slept: list[float] = []
    monkeypatch.setattr(base_module.time, "sleep", slept.append)
    message = "The role defined for the function cannot be assumed by Lambda."
    refused = ClientError({"Error": {"Code": "InvalidParameterValueException", "Message": message}}, "CreateFunction")
    calls: list[dict] = []

    def create_function(**params):
        calls.append(params)
        raise refused

    progress: list[str] = []
    for local, expected_calls in ((True, 1), (False, len(base_module.ROLE_RETRY_DELAYS) + 1)):
        calls.clear()
        ctx = SimpleNamespace(aws=SimpleNamespace(local=local), progress=progress.append)
        with pytest.raises(ClientError, match="cannot be assumed by Lambda"):
            base_module.retry_while_role_propagates(ctx, "Lambda", role_not_ready, create_function, FunctionName="f")
        assert len(calls) == expected_calls
        if local:
            assert slept == [] and progress == []
    assert slept == list(base_module.ROLE_RETRY_DELAYS)


def test_schedule_retries_while_its_new_role_propagates(stack, monkeypatch):
    recorder, config = stack
    monkeypatch.setattr(base_module.time, "sleep", lambda _s: None)
    message = "The execution role you provide must allow AWS EventBridge Scheduler to assume the role."
    attempts = recorder.fail_first("CreateSchedule", 1, "ValidationException", message)
    result = up(config)
    assert len(attempts) == 2
    assert "IAM role not assumable by EventBridge Scheduler yet" in result.output


def test_down_removes_everything_and_leaves_nothing(deployed):
    _, config = deployed
    s3 = boto3.client("s3", region_name=h.REGION)
    s3.put_bucket_versioning(Bucket="dataops-pipeline-bucket", VersioningConfiguration={"Status": "Enabled"})
    for i in range(3):
        s3.put_object(Bucket="dataops-pipeline-bucket", Key="processed/runs/x/cleaned.csv", Body=b"v%d" % i)
    s3.delete_object(Bucket="dataops-pipeline-bucket", Key="processed/runs/x/cleaned.csv")
    boto3.client("logs", region_name=h.REGION).create_log_stream(
        logGroupName="/aws/lambda/DataOpsPipelineFunction", logStreamName="s"
    )
    result = h.run(config, "down", "--yes")
    assert result.exit_code == 0, result.output
    assert "Deleted 11 resources." in result.output
    assert h.leftovers() == {key: [] for key in h.leftovers()}


def test_down_is_idempotent_and_works_after_a_half_finished_up(stack):
    recorder, config = stack
    recorder.fail_at = 12
    assert h.run(config, "up").exit_code == 1
    recorder.fail_at = None
    first = h.run(config, "down", "--yes")
    assert first.exit_code == 0, first.output
    assert "already gone" in first.output
    second = h.run(config, "down", "--yes")
    assert second.exit_code == 0 and "Nothing to delete." in second.output
    assert h.leftovers() == {key: [] for key in h.leftovers()}


def test_down_keep_data_keeps_the_bucket_and_objects(deployed):
    _, config = deployed
    result = h.run(config, "down", "--yes", "--keep-data")
    assert result.exit_code == 0, result.output
    assert "kept: --keep-data" in result.output
    left = h.leftovers()
    assert left["buckets"] == ["dataops-pipeline-bucket"]
    assert left["functions"] == [] and left["roles"] == [] and left["log_groups"] == []
    keys = boto3.client("s3", region_name=h.REGION).list_objects_v2(Bucket="dataops-pipeline-bucket")["Contents"]
    assert {k["Key"] for k in keys} == {"diabetes_preprocessed.csv", "processed/"}


def test_down_refuses_same_named_resources_without_our_tag(stack):
    _, config = stack
    iam = boto3.client("iam", region_name=h.REGION)
    iam.create_role(
        RoleName="dataops-lambda-exec", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []})
    )
    s3 = boto3.client("s3", region_name=h.REGION)
    s3.create_bucket(Bucket="dataops-pipeline-bucket", CreateBucketConfiguration={"LocationConstraint": h.REGION})
    s3.put_object(Bucket="dataops-pipeline-bucket", Key="someone-elses.csv", Body=b"a,b\n")
    result = h.run(config, "down", "--yes")
    assert result.exit_code == 1
    assert (
        "left alone because they are not this stack's: IAM role dataops-lambda-exec, S3 bucket dataops-pipeline-bucket"
        in " ".join(result.output.split())
    )
    assert iam.get_role(RoleName="dataops-lambda-exec")
    refused_up = h.run(config, "up")
    assert refused_up.exit_code == 1
    said = " ".join(refused_up.output.split())
    assert "nothing was changed: 2 resources of this stack's plan exist but are not stack 'dataops''s" in said
    assert "S3 bucket dataops-pipeline-bucket (has no dataops:stack tag and it is not empty)" in said
    assert "IAM role dataops-lambda-exec (has no dataops:stack tag)" in said


def test_down_without_yes_on_a_pipe_refuses(deployed):
    _, config = deployed
    result = h.run(config, "down")
    assert result.exit_code == 1
    assert "refusing to delete without confirmation" in result.output
    assert h.leftovers()["functions"] == ["DataOpsPipelineFunction"]


def test_bad_config_exits_2_with_one_line(stack, tmp_path):
    _, config = stack
    config.write_text(config.read_text() + '\n[schedule]\nexpression = "rate(banana)"\n')
    result = h.run(config, "up")
    assert result.exit_code == 2
    assert "schedule.expression = 'rate(banana)' is not allowed" in " ".join(result.output.split())
    assert "Traceback" not in result.output
    assert all(len(line) <= 120 for line in result.output.splitlines())  # wrapped at the pipe's width


def test_unresolvable_layer_names_the_fix(stack, tmp_path):
    _, _ = stack
    bare = tmp_path / "bare.toml"
    bare.write_text(f'[bucket]\ninput_file = "{h.SAMPLE_CSV}"\n')
    result = h.run(bare, "up", "--dry-run")
    assert result.exit_code == 1
    assert "cannot resolve the AWSSDKPandas-Python312 layer for ap-south-1" in " ".join(result.output.split())
    assert "set function.layer_arn" in result.output


def test_missing_input_file_names_the_key(stack, tmp_path):
    _, config = stack
    config.write_text(config.read_text().replace(str(h.SAMPLE_CSV), str(tmp_path / "nope.csv")))
    result = h.run(config, "up")
    assert result.exit_code == 2  # a config error: a typo must not keep the pipeline running on old data
    assert "bucket.input_file = " in result.output and "nope.csv does not exist" in " ".join(result.output.split())


def test_missing_credentials_is_one_clear_line(aws_env, monkeypatch, tmp_path):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    config = h.write_config(tmp_path / "config.toml")
    result = h.run(config, "up", "--dry-run")
    assert result.exit_code == 1
    assert "no AWS credentials found" in result.output and "--local" in result.output
    assert "Traceback" not in result.output


def test_down_empties_again_when_a_late_run_writes(deployed, monkeypatch):
    recorder, config = deployed
    from dataops_cli.deploy.resources import bucket as bucket_module

    monkeypatch.setattr(bucket_module, "EMPTY_RETRY_SECONDS", 0)
    late_writes = []

    def late_run_writes(service, operation):
        if operation == "DeleteBucket" and not late_writes:  # a run already going writes its outputs now
            late_writes.append(1)
            boto3.client("s3", region_name=h.REGION).put_object(
                Bucket="dataops-pipeline-bucket", Key="processed/runs/late/cleaned.csv", Body=b"x"
            )

    recorder.listeners.append(late_run_writes)
    result = h.run(config, "down", "--yes")
    assert result.exit_code == 0, result.output
    assert late_writes and "emptying the bucket again" in result.output
    assert h.leftovers()["buckets"] == []


def test_debug_shows_the_traceback(aws_env, monkeypatch, tmp_path):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    config = h.write_config(tmp_path / "config.toml")
    result = h.run(config, "--debug", "up", "--dry-run")
    assert result.exit_code == 1 and result.exception is not None
    assert type(result.exception).__name__ == "DataopsError"
