"""The deployer's own permissions (issue 18, item 3): complete, least privilege, one source.

- docs/PERMISSIONS.md shows exactly what dataops_cli/deployer_policy.py builds;
- every command (`up`, `status`, `logs`, `invoke`, `runs`, `cost`, `down`, both engines, and
  the paths a drifted, half-made or switched stack takes) runs against moto with an observer
  on the one client factory; each API call is mapped to the IAM actions it needs
  (tests/helpers/iam_actions.py) and each must be allowed by the policy built for that config;
- parliament reports nothing on any document the stack generates.
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import boto3
import parliament  # the test extra: a missing linter fails here rather than skipping the audit
import pytest

from dataops_cli.aws import Aws
from dataops_cli.config import Config, load_config, parse_config
from dataops_cli.deploy import deployer_policy as dp
from dataops_cli.deploy.resources.base import StackContext
from dataops_cli.deploy.resources.bucket import BucketPolicy
from dataops_cli.deploy.resources.glue import GlueRole
from dataops_cli.deploy.resources.roles import ExecutionRole, SchedulerRole
from tests.helpers import deploy as h
from tests.helpers.iam_actions import ACTIONS, Need, Where, allowed

WHERE = Where(region=h.REGION, account=h.ACCOUNT)
EMAIL = '[alarm]\nemail = "ops@example.com"\n'
FUNCTION = "DataOpsPipelineFunction"
BUCKET = "dataops-pipeline-bucket"


# --- one source: the doc is the builder's output ---------------------------------------------


def test_the_documented_policies_are_what_the_builder_makes():
    blocks = dp.doc_blocks()
    assert set(blocks) == set(dp.DOC_VARIANTS), "docs/PERMISSIONS.md lost or gained a generated block"
    for name, shown in blocks.items():
        assert shown == dp.doc_variant(name), f"docs/PERMISSIONS.md block {name!r}: run --write-docs"
    text = dp.DOC.read_text(encoding="utf-8")
    assert all(dp.render(dp.doc_variant(name)) in text for name in blocks), "run --write-docs to re-render"


def test_pass_role_goes_only_to_the_service_that_uses_each_role():
    for engine, service in (("lambda", "lambda.amazonaws.com"), ("glue", "glue.amazonaws.com")):
        policy = dp.deployer_policy(parse_config({"function": {"engine": engine}}), "111122223333")
        passes = [s for s in policy["Statement"] if "iam:PassRole" in json.dumps(s["Action"])]
        assert {(s["Resource"], s["Condition"]["StringEquals"]["iam:PassedToService"]) for s in passes} == {
            (
                f"arn:aws:iam::111122223333:role/{'dataops-lambda-exec' if engine == 'lambda' else 'dataops-glue-job'}",
                service,
            ),
            ("arn:aws:iam::111122223333:role/dataops-scheduler-invoke", "scheduler.amazonaws.com"),
        }
        role = "arn:aws:iam::111122223333:role/dataops-scheduler-invoke"
        assert allowed(policy, Need("iam:PassRole", role, {"iam:PassedToService": "scheduler.amazonaws.com"}))
        assert not allowed(policy, Need("iam:PassRole", role, {"iam:PassedToService": "ec2.amazonaws.com"}))
        assert not allowed(policy, Need("iam:PassRole", role))


def test_only_reads_without_resource_level_permissions_use_a_star():
    for name in dp.DOC_VARIANTS:
        starred = {
            action
            for s in dp.variant_policy(name)["Statement"]
            if s["Resource"] == "*"
            for action in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
        }
        expected = {"sts:GetCallerIdentity", "cloudwatch:GetMetricData", "logs:DescribeLogGroups"}
        assert starred == expected | ({"pricing:GetProducts"} if name == "pricing-api" else set())


def test_the_module_prints_the_policy_for_a_config(tmp_path, capsys):
    config = h.write_config(tmp_path / "c.toml")
    assert dp.main(["--config", str(config), "--account", "444455556666"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == dp.deployer_policy(load_config(config), "444455556666")
    assert "LayerLookup" not in {s["Sid"] for s in printed["Statement"]}  # the config pins the layer


# --- every call the CLI makes is allowed -----------------------------------------------------


class Audit:
    """Runs CLI commands, mapping each API call to its IAM needs and checking them against the policy."""

    def __init__(self, recorder: h.Recorder) -> None:
        self.calls: list[tuple[str, str, dict[str, Any]]] = []
        self.problems: list[str] = []
        self.seen: set[tuple[str, str]] = set()
        recorder.observers.append(lambda service, op, params: self.calls.append((service, op, params)))

    def run(self, config: Path, *args: str, codes: tuple[int, ...] = (0,), pricing: bool = False) -> Any:
        self.calls.clear()
        result = h.run(config, *args)
        assert result.exit_code in codes, f"{args}: {result.output}"
        self.check(dp.deployer_policy(load_config(config), h.ACCOUNT, pricing_api=pricing), " ".join(args))
        return result

    def check(self, policy: dict[str, Any], command: str) -> None:
        for service, operation, params in self.calls:
            self.seen.add((service, operation))
            rule = ACTIONS.get((service, operation))
            if rule is None:
                self.problems.append(f"{command}: {service}:{operation} is not in tests/helpers/iam_actions.py")
                continue
            self.problems += [
                f"{command}: {service}:{operation} needs {need}"
                for need in rule(params, WHERE)
                if not allowed(policy, need)
            ]


@pytest.fixture
def audit(mock_aws_env, monkeypatch, tmp_path):
    h.publish_stand_in_layer()
    recorder = h.install(monkeypatch)
    monkeypatch.setattr("dataops_cli.cli.run.time.sleep", lambda _s: None)  # Glue run polling
    monkeypatch.setattr("dataops_cli.cost.estimate.Aws", recorder.factory)  # its Price List client (us-east-1)
    return Audit(recorder), recorder, tmp_path


def run_handler_once(monkeypatch) -> str:
    """The real handler, in process, against the deployed bucket: gives `runs` and `cost` real outputs to read."""
    from handler import lambda_function

    env = {"BUCKET_NAME": BUCKET, "INPUT_KEY": "diabetes_preprocessed.csv", "OUTPUT_PREFIX": "processed/"}
    for key, value in {**env, "AWS_LAMBDA_FUNCTION_NAME": FUNCTION}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(lambda_function, "_s3_client", boto3.client("s3", region_name=h.REGION))
    with contextlib.redirect_stdout(io.StringIO()):
        result = lambda_function.lambda_handler({}, SimpleNamespace(aws_request_id="11111111-2222-3333-4444-5555"))
    return result["run_id"]


def drift_everything() -> None:
    """Change what `up` manages behind its back, so the next `up` makes every kind of update call."""
    lam, iam, logs, scheduler, s3, cloudwatch, sns = h.clients(
        "lambda", "iam", "logs", "scheduler", "s3", "cloudwatch", "sns"
    )
    arn = f"arn:aws:lambda:{h.REGION}:{h.ACCOUNT}:function:{FUNCTION}"
    lam.update_function_configuration(FunctionName=FUNCTION, MemorySize=256)
    lam.update_function_code(FunctionName=FUNCTION, ZipFile=b"PK\x05\x06" + b"\0" * 18)
    lam.untag_resource(Resource=arn, TagKeys=["Project"])
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}],
    }
    iam.update_assume_role_policy(RoleName="dataops-lambda-exec", PolicyDocument=json.dumps(trust))
    iam.untag_role(RoleName="dataops-scheduler-invoke", TagKeys=["Project"])
    logs.put_retention_policy(logGroupName=f"/aws/lambda/{FUNCTION}", retentionInDays=30)
    logs.untag_log_group(logGroupName=f"/aws/lambda/{FUNCTION}", tags=["Project"])
    group_arn = f"arn:aws:scheduler:{h.REGION}:{h.ACCOUNT}:schedule-group/dataops-schedules"
    scheduler.untag_resource(ResourceArn=group_arn, TagKeys=["Project"])
    schedule = scheduler.get_schedule(Name="dataops-run-pipeline", GroupName="dataops-schedules")
    keep = ("Name", "GroupName", "FlexibleTimeWindow", "Target", "State")
    scheduler.update_schedule(**{k: schedule[k] for k in keep}, ScheduleExpression="rate(5 minutes)")
    s3.delete_bucket_encryption(Bucket=BUCKET)
    s3.delete_bucket_lifecycle(Bucket=BUCKET)
    cloudwatch.untag_resource(
        ResourceARN=f"arn:aws:cloudwatch:{h.REGION}:{h.ACCOUNT}:alarm:{FUNCTION}-errors", TagKeys=["Project"]
    )
    sns.untag_resource(ResourceArn=f"arn:aws:sns:{h.REGION}:{h.ACCOUNT}:dataops-alarms", TagKeys=["Project"])
    body = json.loads(cloudwatch.get_dashboard(DashboardName="DataOpsPipelineDashboard")["DashboardBody"])
    body["widgets"] = body["widgets"][:-1]
    cloudwatch.put_dashboard(DashboardName="DataOpsPipelineDashboard", DashboardBody=json.dumps(body))


def engine(config: Path, name: str) -> None:
    text = config.read_text(encoding="utf-8")
    for other in ('engine = "glue"\n', 'engine = "lambda"\n'):
        text = text.replace(other, "")
    config.write_text(text.replace("[function]\n", f'[function]\nengine = "{name}"\n', 1), encoding="utf-8")


# Calls that the scenario below must reach, so the audit cannot quietly stop covering them
# (the issue named the first two as missing from the hand-written policy).
MUST_SEE = {
    ("lambda", "GetFunctionConfiguration"),
    ("s3", "GetBucketVersioning"),
    ("lambda", "CreateFunction"),
    ("lambda", "UpdateFunctionConfiguration"),
    ("lambda", "UpdateFunctionCode"),
    ("lambda", "Invoke"),
    ("scheduler", "CreateSchedule"),
    ("scheduler", "UpdateSchedule"),
    ("glue", "CreateJob"),
    ("glue", "StartJobRun"),
    ("glue", "GetJobRuns"),
    ("events", "RemoveTargets"),
    ("logs", "FilterLogEvents"),
    ("s3", "DeleteObjects"),
    ("sns", "Subscribe"),
    ("sns", "DeleteTopic"),
    ("ssm", "GetParameters"),
    ("pricing", "GetProducts"),
    ("iam", "UpdateAssumeRolePolicy"),
    ("cloudwatch", "GetMetricData"),
}


def test_every_call_of_every_command_is_allowed_by_the_generated_policy(audit, monkeypatch):
    checker, recorder, tmp_path = audit
    config = h.write_config(tmp_path / "config.toml", EMAIL)

    # lambda engine: build, run, look, drift and repair
    checker.run(config, "up")
    run_id = run_handler_once(monkeypatch)
    for command in (("status",), ("status", "--json"), ("logs", "--since", "1h"), ("logs", "--errors")):
        checker.run(config, *command)
    checker.run(config, "invoke", codes=(1,))  # moto cannot run the code: a failed run, calls made all the same
    checker.run(config, "runs")
    checker.run(config, "runs", "show", run_id)
    checker.run(config, "cost")
    checker.run(config, "cost", "--pricing-api", codes=(0, 1), pricing=True)
    drift_everything()
    checker.run(config, "up")
    config.write_text(config.read_text().replace(EMAIL, ""), encoding="utf-8")  # alarm.email removed: topic goes
    checker.run(config, "up")

    # switch to glue: the function's resources are removed; then run and look
    engine(config, "glue")
    checker.run(config, "up")
    checker.run(config, "status")
    checker.run(config, "logs", "--since", "1h")
    checker.run(config, "invoke", codes=(0, 1))
    checker.run(config, "runs")
    checker.run(config, "cost")
    events = boto3.client("events", region_name=h.REGION)
    events.put_targets(Rule="dataops-glue-run-failed", Targets=[{"Id": "someone", "Arn": "arn:aws:sqs:x:1:q"}])

    # back to lambda (the Glue job, its role and rules are removed), then down
    engine(config, "lambda")
    checker.run(config, "up")
    checker.run(config, "down", "--yes")

    # a bucket a half-finished `up` left (adoption reads GetBucketVersioning), then down; a new
    # name, as moto keeps a deleted bucket's tags
    half = h.write_config_for_bucket(tmp_path / "half.toml", "dataops-never-seen-audit")
    recorder.fail_first("PutBucketTagging", 1, "RequestTimeout", "connection dropped")
    checker.run(half, "up", codes=(1,))
    checker.run(half, "up")
    checker.run(half, "down", "--yes")

    # the layer looked up in SSM (moto has no public parameters: the lookup fails, the call was made)
    looked_up = h.write_config(tmp_path / "lookup.toml")
    looked_up.write_text(looked_up.read_text().replace(f'layer_arn = "{h.STAND_IN_LAYER}"\n', ""), encoding="utf-8")
    checker.run(looked_up, "up", "--dry-run", codes=(1,))

    assert checker.problems == [], "\n".join(checker.problems)
    assert checker.seen >= MUST_SEE, f"the scenario no longer reaches {sorted(MUST_SEE - checker.seen)}"


def test_the_audit_fails_when_the_policy_lacks_an_action(audit):
    """The check can fail: the policy as docs/PERMISSIONS.md showed it before lacked GetFunctionConfiguration."""
    checker, _, tmp_path = audit
    config = h.write_config(tmp_path / "config.toml")
    checker.calls.clear()
    assert h.run(config, "up").exit_code == 0
    policy = dp.deployer_policy(load_config(config), h.ACCOUNT)
    for statement in policy["Statement"]:
        if statement["Sid"] == "Function":
            statement["Action"].remove("lambda:GetFunctionConfiguration")
    checker.check(policy, "up")
    assert any("lambda:GetFunctionConfiguration on arn:aws:lambda:" in p for p in checker.problems), checker.problems


def test_an_operation_missing_from_the_table_fails_the_audit(audit):
    checker, _, _ = audit
    checker.calls.append(("lambda", "ListFunctions", {}))
    checker.check(dp.variant_policy("lambda"), "imaginary")
    assert checker.problems == ["imaginary: lambda:ListFunctions is not in tests/helpers/iam_actions.py"]


# --- parliament over every generated document -----------------------------------------------

# Findings that are expected, and why (each is checked to be the only one of its document):
# - MALFORMED "Statement contains neither Resource nor NotResource" on trust policies: a
#   trust policy (AssumeRolePolicyDocument) is a resource policy with a Principal and no
#   Resource, which parliament reads as an identity policy.
TRUST_FALSE_POSITIVE = ("MALFORMED", "Statement contains neither Resource nor NotResource")


def stack_documents(config: Config) -> dict[str, dict[str, Any]]:
    """Every IAM and bucket policy the stack writes, built by the resources themselves."""
    ctx = StackContext(config=config, aws=Aws(region=config.region, _account="111122223333"))
    documents: dict[str, dict[str, Any]] = {"bucket policy": BucketPolicy(ctx)._document()}
    roles = [SchedulerRole(ctx), ExecutionRole(ctx) if config.function.engine == "lambda" else GlueRole(ctx)]
    for role in roles:
        documents[f"{role.name} policy"] = role.inline_policy()
        documents[f"{role.name} trust"] = role.trust_policy()
    return documents


def findings(document: dict[str, Any], community: bool = False) -> list[tuple[str, str]]:
    analyzed = parliament.analyze_policy_string(json.dumps(document), include_community_auditors=community)
    return [(f.issue, str(f.detail)) for f in analyzed.findings]


@pytest.mark.parametrize("engine_name", ["lambda", "glue"])
def test_parliament_finds_nothing_in_the_pipelines_documents(engine_name):
    config = parse_config({"function": {"engine": engine_name}})
    for name, document in stack_documents(config).items():
        found = findings(document, community=True)
        if name.endswith("trust"):
            assert set(found) <= {TRUST_FALSE_POSITIVE}, (name, found)
        else:
            assert found == [], (name, found)


@pytest.mark.parametrize("variant", list(dp.DOC_VARIANTS))
def test_parliament_finds_nothing_in_the_deployer_policy(variant):
    assert findings(dp.variant_policy(variant)) == []


def test_parliaments_community_auditors_flag_only_what_a_deployer_must_do():
    """Creating roles and writing their policies is the deployer's job: these two findings are by design.

    PERMISSIONS_MANAGEMENT_ACTIONS (iam:CreateRole, iam:PutRolePolicy, ...) and
    PRIVILEGE_ESCALATION (write a role's policy, then pass it to a new function) are true of
    any tool that deploys a Lambda with its own role; they are limited to this stack's role
    names, and docs/PERMISSIONS.md says who should hold this policy.
    """
    for name in dp.DOC_VARIANTS:
        issues = {issue for issue, _ in findings(dp.variant_policy(name), community=True)}
        assert issues <= {"PERMISSIONS_MANAGEMENT_ACTIONS", "PRIVILEGE_ESCALATION"}, (name, issues)
