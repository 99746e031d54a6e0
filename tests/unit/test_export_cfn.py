"""`dataops export cloudformation` without AWS: the empty account, tokens, rendering, writing, bad input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from botocore.exceptions import ClientError
from click.testing import CliRunner

from dataops_cli.aws import DataopsError
from dataops_cli.cli import root as cli_module
from dataops_cli.config import Config, load_config
from dataops_cli.deploy.export.artifacts import parse_s3_url
from dataops_cli.deploy.export.empty_account import EmptyAccount
from dataops_cli.deploy.export.guard import CFN_STACK_TAG, cloudformation_stack, refuse_cloudformation_stack
from dataops_cli.deploy.export.render import render, write_atomically
from dataops_cli.deploy.export.template import build, substituted
from dataops_cli.deploy.resources.base import StackContext
from tests.conftest import SAMPLE_CSV


def write_config(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "config.toml"
    path.write_text(f'[bucket]\ninput_file = "{SAMPLE_CSV.as_posix()}"\n' + extra, encoding="utf-8")
    return path


def run(config: Path, *args: str) -> Any:
    return CliRunner().invoke(cli_module.cli, ["--config", str(config), "export", "cloudformation", *args])


def test_the_empty_account_answers_absent_and_refuses_changes():
    account = EmptyAccount("ap-south-1")
    s3 = account.client("s3")
    with pytest.raises(ClientError) as caught:
        s3.head_bucket(Bucket="any-bucket")
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert account.client("logs").describe_log_groups()["logGroups"] == []
    with pytest.raises(DataopsError, match="changing call"):
        s3.create_bucket(Bucket="any-bucket")


def test_substitution_refs_whole_tokens_subs_parts_and_escapes_the_rest():
    names = {"BucketName", "AWS::AccountId"}
    assert substituted("${BucketName}", names) == {"Ref": "BucketName"}
    assert substituted("arn:aws:s3:::${BucketName}/x", names) == {"Fn::Sub": "arn:aws:s3:::${BucketName}/x"}
    assert substituted("${BucketName} ${LAST}", names) == {"Fn::Sub": "${BucketName} ${!LAST}"}
    assert substituted("no token ${LAST}", names) == "no token ${LAST}"
    assert substituted({"a": ["${AWS::AccountId}"]}, names) == {"a": [{"Ref": "AWS::AccountId"}]}


def test_parameters_default_to_the_config(tmp_path):
    path = write_config(tmp_path, '[alarm]\nemail = "ops@example.com"\n')
    path.write_text(path.read_text().replace("[bucket]\n", '[bucket]\nname = "my-data-bucket"\n'), encoding="utf-8")
    template = build(load_config(path)).template
    parameters = template["Parameters"]
    assert parameters["BucketName"]["Default"] == "my-data-bucket"
    assert parameters["AlarmEmail"]["Default"] == "ops@example.com"
    assert parameters["LayerArn"]["Type"] == "AWS::SSM::Parameter::Value<String>"
    assert parameters["LayerArn"]["Default"].startswith("/aws/service/aws-sdk-pandas/")
    assert "ArtifactBucket" in parameters and "Default" not in parameters["ArtifactBucket"]
    assert "my-data-bucket" not in json.dumps(template["Resources"])  # every use is the parameter
    assert len(template["Description"]) <= 1024


def test_no_alarm_email_no_topic_and_no_parameter(tmp_path):
    template = build(load_config(write_config(tmp_path))).template
    assert "AlarmEmail" not in template["Parameters"]
    assert "AlarmTopic" not in template["Resources"]
    assert template["Resources"]["ErrorsAlarm"]["Properties"]["AlarmActions"] == []


def test_alarms_off_no_alarms_and_a_disabled_schedule_stays_disabled(tmp_path):
    extra = '[alarm]\nenabled = false\nemail = "ops@example.com"\n[schedule]\nenabled = false\n'
    template = build(load_config(write_config(tmp_path, extra))).template
    kinds = {r["Type"] for r in template["Resources"].values()}
    assert "AWS::CloudWatch::Alarm" not in kinds and "AWS::SNS::Topic" not in kinds
    assert "AlarmEmail" not in template["Parameters"]
    assert template["Resources"]["Schedule"]["Properties"]["State"] == "DISABLED"


def test_a_pinned_layer_is_a_string_parameter(tmp_path):
    arn = "arn:aws:lambda:ap-south-1:336392948345:layer:AWSSDKPandas-Python312:16"
    template = build(load_config(write_config(tmp_path, f'[function]\nlayer_arn = "{arn}"\n'))).template
    assert template["Parameters"]["LayerArn"] == {
        **template["Parameters"]["LayerArn"],
        "Type": "String",
        "Default": arn,
    }


def test_glue_has_no_function_and_no_layer(tmp_path):
    template = build(load_config(write_config(tmp_path, '[function]\nengine = "glue"\n'))).template
    kinds = {r["Type"] for r in template["Resources"].values()}
    assert "AWS::Glue::Job" in kinds and "AWS::Lambda::Function" not in kinds
    assert "LayerArn" not in template["Parameters"]


def test_yaml_reads_back_as_the_same_template(tmp_path):
    template = build(load_config(write_config(tmp_path))).template
    assert yaml.safe_load(render(template, "yaml")) == template
    assert json.loads(render(template, "json")) == template


def test_out_is_written_whole_and_not_overwritten_without_force(tmp_path):
    out = tmp_path / "t.yaml"
    write_atomically(out, "first\n", force=False)
    with pytest.raises(DataopsError, match="exists"):
        write_atomically(out, "second\n", force=False)
    assert out.read_text() == "first\n"
    write_atomically(out, "second\n", force=True)
    assert out.read_text() == "second\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.yaml"]  # no temporary file left


def test_cli_writes_json_and_refuses_overwrite(tmp_path):
    config = write_config(tmp_path)
    out = tmp_path / "stack.json"
    first = run(config, "--format", "json", "--out", str(out))
    assert first.exit_code == 0, first.output
    assert json.loads(out.read_text())["AWSTemplateFormatVersion"] == "2010-09-09"
    again = run(config, "--out", str(out))
    assert again.exit_code == 1 and "--force" in again.output
    assert run(config, "--out", str(out), "--force").exit_code == 0


def test_cli_writes_the_files_for_upload_by_hand(tmp_path):
    result = run(write_config(tmp_path), "--artifacts-dir", str(tmp_path / "files"))
    assert result.exit_code == 0, result.output
    written = sorted(p.suffix for p in (tmp_path / "files").rglob("*") if p.is_file())
    assert written == ["", ".csv", ".zip"]  # the output marker, the input, the function


@pytest.mark.parametrize(
    ("url", "message"),
    [("my-bucket/prefix", "expected s3://BUCKET/PREFIX/"), ("s3://", "expected s3://"), ("s3:///x", "no bucket")],
)
def test_bad_upload_url_is_refused(tmp_path, url, message):
    with pytest.raises(DataopsError, match=message):
        parse_s3_url(url)
    result = run(write_config(tmp_path), "--upload-to", url)
    assert result.exit_code == 2 and "--upload-to" in result.output


def test_upload_url_prefix_gets_its_slash():
    assert parse_s3_url("s3://b/p") == ("b", "p/")
    assert parse_s3_url("s3://b") == ("b", "")


def test_a_missing_input_file_is_a_config_error(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('[bucket]\ninput_file = "nope.csv"\n', encoding="utf-8")
    result = run(path)
    assert result.exit_code == 2 and "bucket.input_file" in result.output


class _Stub:
    """A client whose reads answer from a table; an absent entry is AWS's 404."""

    def __init__(self, answers: dict[str, Any]) -> None:
        self.answers = answers

    def __getattr__(self, operation: str) -> Any:
        def call(**_: Any) -> Any:
            answer = self.answers.get(operation)
            if isinstance(answer, Exception):
                raise answer
            if answer is None:
                raise ClientError(
                    {"Error": {"Code": "NoSuchEntity"}, "ResponseMetadata": {"HTTPStatusCode": 404}}, operation
                )
            return answer

        return call


class _Aws:
    region, partition, account_id, local = "ap-south-1", "aws", "123456789012", False

    def __init__(self, clients: dict[str, _Stub]) -> None:
        self.clients = clients

    def client(self, service: str) -> Any:
        return self.clients.get(service, _Stub({}))

    def arn(self, service: str, resource: str, region: bool = True, account: bool = True) -> str:
        return f"arn:aws:{service}:{self.region if region else ''}:{self.account_id if account else ''}:{resource}"


def ctx_with(clients: dict[str, _Stub]) -> StackContext:
    return StackContext(config=Config(), aws=_Aws(clients))  # type: ignore[arg-type]


def test_the_bucket_tag_names_the_cloudformation_stack():
    tagged = {"TagSet": [{"Key": CFN_STACK_TAG, "Value": "prod-pipeline"}]}
    ctx = ctx_with({"s3": _Stub({"get_bucket_tagging": tagged})})
    assert cloudformation_stack(ctx) == "prod-pipeline"
    with pytest.raises(DataopsError, match="prod-pipeline") as caught:
        refuse_cloudformation_stack(ctx, "down")
    assert "aws cloudformation delete-stack --stack-name prod-pipeline" in (caught.value.hint or "")


def test_an_unreadable_bucket_falls_back_to_the_function():
    denied = ClientError({"Error": {"Code": "AccessDenied"}, "ResponseMetadata": {"HTTPStatusCode": 403}}, "x")
    function = {"Tags": {CFN_STACK_TAG: "from-function"}}
    ctx = ctx_with({"s3": _Stub({"get_bucket_tagging": denied}), "lambda": _Stub({"get_function": function})})
    assert cloudformation_stack(ctx) == "from-function"


def test_a_stack_up_made_is_not_refused():
    ours = {"TagSet": [{"Key": "dataops:stack", "Value": "dataops"}]}
    ctx = ctx_with({"s3": _Stub({"get_bucket_tagging": ours}), "lambda": _Stub({"get_function": {"Tags": {}}})})
    assert cloudformation_stack(ctx) is None
    refuse_cloudformation_stack(ctx, "up")  # does not raise
