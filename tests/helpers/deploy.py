"""Helpers for driving the CLI against in-process moto, with moto's gaps made explicit.

moto differs from AWS in two ways that matter for `up` (see ../shared/AWS-NOTES.md):
- it rejects AWS's own pandas layer (account 336392948345), so tests publish a stand-in
  layer in moto's account and pin its ARN in the test config;
- it treats the TLS-only bucket policy's `Bool aws:SecureTransport` condition as always
  met, which denies every object call afterwards, so the CLI tests skip that one step
  (the policy document itself is tested on its own).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
from click.testing import CliRunner, Result

from dataops_cli.aws import Aws
from dataops_cli.cli import app as app_module
from dataops_cli.cli import root as cli_module
from tests.conftest import SAMPLE_CSV

REGION = "ap-south-1"
ACCOUNT = "123456789012"
STAND_IN_LAYER = f"arn:aws:lambda:{REGION}:{ACCOUNT}:layer:AWSSDKPandas-Python312:1"
MOTO_TLS_GAP = "moto evaluates aws:SecureTransport as always false and would deny every request"
MOTO_PERCENTILE_GAP = "moto crashes on percentile statistics"

ALARM = '[alarm]\nemail = "ops@example.com"\n'  # a config section: the alarms and the SNS topic


def write_config(path: Path, extra: str = "") -> Path:
    path.write_text(
        f'[bucket]\ninput_file = "{SAMPLE_CSV}"\n[function]\nlayer_arn = "{STAND_IN_LAYER}"\n' + extra,
        encoding="utf-8",
    )
    return path


def publish_stand_in_layer() -> None:
    boto3.client("lambda", region_name=REGION).publish_layer_version(
        LayerName="AWSSDKPandas-Python312", Content={"ZipFile": b"PK\x05\x06" + b"\0" * 18}
    )


class Recorder:
    """Captures every Aws the CLI builds, so tests read its call counter."""

    def __init__(self) -> None:
        self.instances: list[Aws] = []
        self.listeners: list[Any] = []  # more (service, operation) hooks for every client
        self.observers: list[Any] = []  # (service, operation, parameters) hooks for every client
        self.fail_at: int | None = None
        self._mutating = 0

    def factory(self, *args: Any, **kwargs: Any) -> Aws:
        aws = Aws(*args, **kwargs)
        aws.counter.listeners.append(self._maybe_fail)
        aws.counter.listeners.extend(self.listeners)
        aws.counter.observers.extend(self.observers)
        self.instances.append(aws)
        return aws

    def _maybe_fail(self, service: str, operation: str) -> None:
        from botocore.exceptions import ClientError

        if not aws_is_mutating(operation):
            return
        self._mutating += 1
        if self.fail_at is not None and self._mutating == self.fail_at:
            raise ClientError({"Error": {"Code": "InjectedFailure", "Message": f"at call {self._mutating}"}}, operation)

    def fail_first(self, operation: str, times: int, code: str, message: str, status: int | None = None) -> list[str]:
        """Make the first `times` calls of `operation` fail with this AWS error; returns every attempt seen."""
        from botocore.exceptions import ClientError

        attempts: list[str] = []
        response: dict[str, Any] = {"Error": {"Code": code, "Message": message}}
        if status is not None:
            response["ResponseMetadata"] = {"HTTPStatusCode": status}

        def listener(service: str, called: str) -> None:
            if called == operation:
                attempts.append(called)
                if len(attempts) <= times:
                    raise ClientError(response, called)

        self.listeners.append(listener)
        return attempts

    @property
    def last(self) -> Aws:
        return self.instances[-1]


def aws_is_mutating(operation: str) -> bool:
    from dataops_cli.aws import CallCounter

    return CallCounter.is_mutating(operation)


def install(monkeypatch: Any) -> Recorder:
    """Route the CLI's AWS access through a Recorder and bridge moto's TLS-policy gap."""
    recorder = Recorder()
    monkeypatch.setattr(app_module, "Aws", recorder.factory)
    original = app_module.App.stack

    def stack_without_tls_policy(self: Any, start_emulator: bool = False) -> Any:
        ctx = original(self, start_emulator)
        ctx.gaps = {**ctx.gaps, "tls_policy": MOTO_TLS_GAP, "percentiles": MOTO_PERCENTILE_GAP}
        return ctx

    monkeypatch.setattr(app_module.App, "stack", stack_without_tls_policy)
    return recorder


def run(config: Path, *args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(cli_module.cli, ["--config", str(config), *args], input=input)


def clients(*services: str) -> list[Any]:
    return [boto3.client(service, region_name=REGION) for service in services]


def write_config_for_bucket(path: Path, bucket: str, extra: str = "") -> Path:
    """A test config whose bucket name is `bucket` (e.g. one moto has never seen)."""
    write_config(path, extra)
    path.write_text(path.read_text().replace("[bucket]\n", f'[bucket]\nname = "{bucket}"\n', 1), encoding="utf-8")
    return path


def snapshot(config_name_prefix: str = "dataops", bucket: str = "dataops-pipeline-bucket") -> dict[str, Any]:
    """Everything `up` manages, read back from moto, without timestamps."""
    s3, iam, lam, logs, scheduler, cloudwatch = clients("s3", "iam", "lambda", "logs", "scheduler", "cloudwatch")
    state: dict[str, Any] = {}
    state["bucket_tags"] = s3.get_bucket_tagging(Bucket=bucket)["TagSet"]
    state["bucket_pab"] = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    state["bucket_encryption"] = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]
    state["bucket_lifecycle"] = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    state["objects"] = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", []))
    for role in (f"{config_name_prefix}-lambda-exec", f"{config_name_prefix}-scheduler-invoke"):
        found = iam.get_role(RoleName=role)["Role"]
        state[role] = {
            "trust": found["AssumeRolePolicyDocument"],
            "tags": found.get("Tags"),
            "policies": {
                name: iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
                for name in iam.list_role_policies(RoleName=role)["PolicyNames"]
            },
        }
    function = lam.get_function(FunctionName="DataOpsPipelineFunction")
    keep = (
        "Runtime",
        "Handler",
        "MemorySize",
        "Timeout",
        "Role",
        "Environment",
        "Layers",
        "CodeSha256",
        "Architectures",
    )
    state["function"] = {k: function["Configuration"].get(k) for k in keep}
    state["function_tags"] = function.get("Tags")
    state["function_concurrency"] = function.get("Concurrency")
    invoke_config = lam.get_function_event_invoke_config(FunctionName="DataOpsPipelineFunction")
    state["function_async"] = {k: invoke_config.get(k) for k in ("MaximumRetryAttempts", "MaximumEventAgeInSeconds")}
    group = logs.describe_log_groups(logGroupNamePrefix="/aws/lambda/DataOpsPipelineFunction")["logGroups"][0]
    state["log_group"] = {"retention": group.get("retentionInDays")}
    schedule = scheduler.get_schedule(
        Name=f"{config_name_prefix}-run-pipeline", GroupName=f"{config_name_prefix}-schedules"
    )
    state["schedule"] = {
        k: v for k, v in schedule.items() if k not in ("CreationDate", "LastModificationDate", "ResponseMetadata")
    }
    state["dashboard"] = json.loads(cloudwatch.get_dashboard(DashboardName="DataOpsPipelineDashboard")["DashboardBody"])
    alarm = cloudwatch.describe_alarms(AlarmNames=["DataOpsPipelineFunction-errors"])["MetricAlarms"][0]
    state["alarm"] = {
        k: alarm[k] for k in ("MetricName", "Namespace", "Statistic", "Period", "Threshold", "ComparisonOperator")
    }
    return state


def leftovers() -> dict[str, list[str]]:
    """Every resource of ours still present in any service the stack touches."""
    s3, iam, lam, logs, scheduler, cloudwatch, sns, glue, events = clients(
        "s3", "iam", "lambda", "logs", "scheduler", "cloudwatch", "sns", "glue", "events"
    )
    return {
        "glue_jobs": glue.list_jobs()["JobNames"],
        "event_rules": [r["Name"] for r in events.list_rules()["Rules"]],
        "buckets": [b["Name"] for b in s3.list_buckets()["Buckets"]],
        "roles": [r["RoleName"] for r in iam.list_roles()["Roles"]],
        "functions": [f["FunctionName"] for f in lam.list_functions()["Functions"]],
        "log_groups": [g["logGroupName"] for g in logs.describe_log_groups()["logGroups"]],
        "schedules": [s["Name"] for s in scheduler.list_schedules()["Schedules"]],
        "schedule_groups": [
            g["Name"] for g in scheduler.list_schedule_groups()["ScheduleGroups"] if g["Name"] != "default"
        ],
        "dashboards": [d["DashboardName"] for d in cloudwatch.list_dashboards()["DashboardEntries"]],
        "alarms": [a["AlarmName"] for a in cloudwatch.describe_alarms()["MetricAlarms"]],
        "topics": [t["TopicArn"] for t in sns.list_topics()["Topics"]],
    }


_DEPLOYED: dict[str, Any] = {}  # config extra -> moto state right after `up`, one per test process


def deployed_stack(monkeypatch: Any, config: Path, extra: str = "") -> Recorder:
    """A stack `up` in moto (inside `mock_aws_env`) for the config written at `config`.

    The first call per process and `extra` runs the real `up` and keeps a copy of moto's
    state; later calls restore a fresh copy instead (tests/helpers/moto_state.py): the same
    stack, without a second deploy's cost. Returns the Recorder the CLI's AWS access goes through.
    """
    from tests.helpers import moto_state

    recorder = install(monkeypatch)
    write_config(config, extra)
    state = _DEPLOYED.get(extra)
    if state is None:
        publish_stand_in_layer()
        result = run(config, "up")
        assert result.exit_code == 0, result.output
        _DEPLOYED[extra] = moto_state.capture()
    else:
        moto_state.restore(state)
    return recorder
