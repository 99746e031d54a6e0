"""The exported template, deployed by moto's CloudFormation, then read by `dataops status` (issue 24).

moto's CloudFormation creates the resource types it implements and skips the others with
a warning; MOTO_CREATES / MOTO_SKIPS record which is which (docs/export.md repeats the
list). What moto skips is checked by cfn-lint and the plan comparison only
(tests/functional/test_export_cfn.py). moto does not add CloudFormation's own
`aws:cloudformation:*` tags, so the refusal tests add the one AWS adds.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import boto3
import pytest

from dataops_cli.deploy.export.guard import CFN_STACK_TAG
from tests.helpers import cfn
from tests.helpers import deploy as h

ARTIFACTS = "dataops-artifacts"
CFN_STACK = "dataops-from-template"
MOTO_CREATES = {
    "lambda": {
        "AWS::S3::Bucket",
        "AWS::IAM::Role",
        "AWS::Logs::LogGroup",
        "AWS::Lambda::Function",
        "AWS::CloudWatch::Dashboard",
        "AWS::SNS::Topic",
    },
    "glue": {"AWS::S3::Bucket", "AWS::IAM::Role", "AWS::Events::Rule", "AWS::CloudWatch::Dashboard", "AWS::SNS::Topic"},
}
MOTO_SKIPS = {
    "lambda": {
        "AWS::S3::BucketPolicy",
        "AWS::Lambda::EventInvokeConfig",
        "AWS::Scheduler::ScheduleGroup",
        "AWS::Scheduler::Schedule",
        "AWS::CloudWatch::Alarm",
    },
    "glue": {
        "AWS::S3::BucketPolicy",
        "AWS::Glue::Job",
        "AWS::Scheduler::ScheduleGroup",
        "AWS::Scheduler::Schedule",
        "AWS::CloudWatch::Alarm",
    },
}
EXTRA = {"lambda": '[alarm]\nemail = "ops@example.com"\n', "glue": '[alarm]\nemail = "ops@example.com"\n'}


def export_and_deploy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, engine: str) -> tuple[Path, dict, set[str]]:
    """Export with --upload-to (into moto's S3), create the stack, run its CopyCommands; the types skipped."""
    h.publish_stand_in_layer()
    h.install(monkeypatch)
    s3 = boto3.client("s3", region_name=h.REGION)
    s3.create_bucket(Bucket=ARTIFACTS, CreateBucketConfiguration={"LocationConstraint": h.REGION})
    config = h.write_config(tmp_path / "config.toml", EXTRA[engine])
    if engine == "glue":
        config.write_text(config.read_text().replace("[function]\n", '[function]\nengine = "glue"\n'))
    out = tmp_path / "stack.json"
    result = h.run(config, "export", "cloudformation", "--format", "json", "--upload-to", f"s3://{ARTIFACTS}/cfn/")
    assert result.exit_code == 0, result.output
    result = h.run(
        config,
        "export",
        "cloudformation",
        "--format",
        "json",
        "--upload-to",
        f"s3://{ARTIFACTS}/cfn/",
        "--out",
        str(out),
    )
    assert result.exit_code == 0, result.output
    assert "(already there)" in result.output  # content-addressed: the second export uploads nothing
    template = json.loads(out.read_text(encoding="utf-8"))
    cloudformation = boto3.client("cloudformation", region_name=h.REGION)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cloudformation.create_stack(
            StackName=CFN_STACK, TemplateBody=out.read_text(encoding="utf-8"), Capabilities=["CAPABILITY_NAMED_IAM"]
        )
    skipped = {str(w.message).split()[3] for w in caught if "not supported by moto" in str(w.message)}
    stack = cloudformation.describe_stacks(StackName=CFN_STACK)["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    _apply_what_moto_drops(template)
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    for command in outputs["CopyCommands"].split(" && "):  # what the user runs after creation
        words = command.split()
        assert words[:3] == ["aws", "s3api", "copy-object"], command
        options = dict(zip(words[3::2], words[4::2], strict=True))
        bucket, _, key = options["--copy-source"].partition("/")
        s3.copy_object(Bucket=options["--bucket"], Key=options["--key"], CopySource={"Bucket": bucket, "Key": key})
    return config, template, skipped


def _apply_what_moto_drops(template: dict) -> None:
    """Set what moto 5.2's CloudFormation ignores of properties it accepts, with the template's own values.

    AWS applies every one of these properties (the CloudFormation resource reference); moto:
    - AWS::IAM::Role stores an inline policy as the Python dict, not JSON text (iam/models.py,
      Role.create_from_cloudformation_json), so GetRolePolicy answers its repr;
    - AWS::S3::Bucket ignores PublicAccessBlockConfiguration and LifecycleConfiguration;
    - AWS::Lambda::Function ignores Tags and Layers; AWS::SNS::Topic ignores Tags.
    Without this, `status` would report those moto gaps as drift and foreign resources.
    """
    resolved = cfn.resolve(template["Resources"], cfn.names_for(template, h.ACCOUNT, h.REGION))
    iam, s3, lam, sns = (boto3.client(s, region_name=h.REGION) for s in ("iam", "s3", "lambda", "sns"))
    for body in resolved.values():
        p = body["Properties"]
        if body["Type"] == "AWS::IAM::Role":
            for policy in p["Policies"]:
                document = json.dumps(policy["PolicyDocument"])
                iam.put_role_policy(RoleName=p["RoleName"], PolicyName=policy["PolicyName"], PolicyDocument=document)
        elif body["Type"] == "AWS::S3::Bucket":
            calls = cfn.as_calls(body)
            s3.put_public_access_block(**calls["put_public_access_block"])
            s3.put_bucket_lifecycle_configuration(**calls["put_bucket_lifecycle_configuration"])
        elif body["Type"] == "AWS::Lambda::Function":
            arn = f"arn:aws:lambda:{h.REGION}:{h.ACCOUNT}:function:{p['FunctionName']}"
            lam.tag_resource(Resource=arn, Tags=cfn.tag_map(p["Tags"]))
            lam.update_function_configuration(FunctionName=p["FunctionName"], Layers=p["Layers"])
        elif body["Type"] == "AWS::SNS::Topic":
            topic = f"arn:aws:sns:{h.REGION}:{h.ACCOUNT}:{p['TopicName']}"
            sns.tag_resource(ResourceArn=topic, Tags=p["Tags"])


@pytest.mark.parametrize("engine", ["lambda", "glue"])
def test_moto_creates_what_it_supports(mock_aws_env, monkeypatch, tmp_path, engine):
    _, template, skipped = export_and_deploy(tmp_path, monkeypatch, engine)
    types = {r["Type"] for r in template["Resources"].values()}
    assert skipped == MOTO_SKIPS[engine]
    assert types - skipped == MOTO_CREATES[engine]
    created = boto3.client("cloudformation", region_name=h.REGION).describe_stack_resources(StackName=CFN_STACK)
    assert {r["ResourceType"] for r in created["StackResources"] if "ResourceType" in r} == MOTO_CREATES[engine]
    assert boto3.client("s3", region_name=h.REGION).head_object(
        Bucket="dataops-pipeline-bucket", Key="diabetes_preprocessed.csv"
    )["Metadata"]["sha256"]


def test_status_reads_a_template_deployed_stack(mock_aws_env, monkeypatch, tmp_path):
    config, _, _ = export_and_deploy(tmp_path, monkeypatch, "lambda")
    result = h.run(config, "status", "--json")
    report = json.loads(result.output)
    states = {row["name"]: (row["state"], row["details"]) for row in report["resources"]}
    skipped_by_moto = {
        # AWS::Scheduler::*, AWS::CloudWatch::Alarm: moto cannot create them
        "dataops-schedules": "missing",
        "dataops-schedules/dataops-run-pipeline": "missing",
        "DataOpsPipelineFunction-errors": "missing",
        "DataOpsPipelineFunction-quality-failures": "missing",
    }
    for name, (state, details) in states.items():
        if name in skipped_by_moto:
            assert state == skipped_by_moto[name], name
        elif name == "DataOpsPipelineFunction":  # AWS::Lambda::EventInvokeConfig: moto cannot create it
            assert (state, details) == (
                "drifted",
                ["MaximumRetryAttempts: None -> 0", "MaximumEventAgeInSeconds: None -> 300"],
            )
        elif name == "dataops-pipeline-bucket (TLS only)":  # the test harness's moto gap (helpers/deploy.py)
            assert state == "skipped"
        else:  # bucket, input, output marker, roles, log group, dashboard, topic: as `up` would leave them
            assert state == "ok", (name, state, details)
    assert len(states) == 14
    assert result.exit_code == 4  # incomplete: what moto could not create is missing
    assert report["stack"] == "dataops"


@pytest.mark.parametrize("command", ["down --yes", "up", "up --dry-run"])
def test_up_and_down_refuse_a_cloudformation_stack(mock_aws_env, monkeypatch, tmp_path, command):
    config, _, _ = export_and_deploy(tmp_path, monkeypatch, "lambda")
    # AWS tags what CloudFormation creates with aws:cloudformation:stack-name; moto does not: added here.
    lam = boto3.client("lambda", region_name=h.REGION)
    function = lam.get_function(FunctionName="DataOpsPipelineFunction")["Configuration"]["FunctionArn"]
    lam.tag_resource(Resource=function, Tags={CFN_STACK_TAG: CFN_STACK})
    before = h.leftovers()
    result = h.run(config, *command.split())
    assert result.exit_code == 1, result.output
    said = " ".join(result.output.split())  # the terminal wraps long lines
    assert f"was created by CloudFormation stack '{CFN_STACK}'" in said
    todo = "delete" if command.startswith("down") else "update"
    assert f"aws cloudformation {todo}-stack --stack-name {CFN_STACK}" in said
    assert h.leftovers() == before  # nothing deleted or changed
