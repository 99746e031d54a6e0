"""A warm execution environment runs the handler again: nothing may leak from one run to the next.

Lambda reuses the process (module globals, cached clients, /tmp) for the next invocation
(https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html), and the local
emulator now does too. The second run of a warm process must write exactly what a fresh process
writes from the same bucket state: same outputs, same history handling, its own cold-start flag.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import boto3
import pytest

from handler import lambda_function
from tests.conftest import SAMPLE_CSV

pytestmark = pytest.mark.handler

BUCKET = "dataops-warm-bucket"
INPUT_KEY = "input.csv"
ENV = {
    "BUCKET_NAME": BUCKET,
    "INPUT_KEY": INPUT_KEY,
    "OUTPUT_PREFIX": "processed/",
    "AWS_LAMBDA_FUNCTION_NAME": "DataOpsPipelineFunction",
}
REPO = Path(__file__).resolve().parents[2]
# Fields that differ between any two runs: when, how long, which run and request, which process.
VOLATILE = {"run_id", "request_id", "started_at", "finished_at", "duration_ms", "cold_start", "timestamp"}
VOLATILE_SUFFIXES = ("_at", "_ms", "_seconds")
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\d[T ][\d:.]+(Z|[+-]\d\d:\d\d)?")
DURATION = re.compile(r"\b\d+(\.\d+)? ?(ms|s)\b")

FRESH_PROCESS = """
import json, os, sys
from pathlib import Path
from types import SimpleNamespace
import boto3
from moto import mock_aws

snapshot, out, bucket = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
with mock_aws():
    client = boto3.client("s3", region_name="ap-south-1")
    client.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "ap-south-1"})
    for key, body in json.loads(snapshot.read_text()).items():
        client.put_object(Bucket=bucket, Key=key, Body=body.encode("latin-1"))
    from handler import lambda_function
    lambda_function._s3_client = client
    result = lambda_function.lambda_handler({}, SimpleNamespace(aws_request_id="fresh-request"))
    objects = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents", []):
            objects[item["Key"]] = client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read().decode("latin-1")
    out.write_text(json.dumps({"result": result, "objects": objects}))
"""


@pytest.fixture
def s3(mock_aws_env, monkeypatch):
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    client = boto3.client("s3", region_name="ap-south-1")
    client.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "ap-south-1"})
    monkeypatch.setattr(lambda_function, "_s3_client", client)
    monkeypatch.setattr(lambda_function, "_cold_start", True)
    return client


def every_object(client) -> dict[str, str]:
    found = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
        for item in page.get("Contents", []):
            found[item["Key"]] = client.get_object(Bucket=BUCKET, Key=item["Key"])["Body"].read().decode("latin-1")
    return found


def second_input() -> bytes:
    """The sample with every other row dropped and one value changed: a different profile."""
    lines = SAMPLE_CSV.read_bytes().splitlines(keepends=True)
    kept = [lines[0], *lines[1::2]]
    kept[1] = b"9," + kept[1].split(b",", 1)[1]
    return b"".join(kept)


def scrub(value: Any, run_ids: tuple[str, ...]) -> Any:
    """The value with what differs between any two runs taken out (run ids, times, durations)."""
    if isinstance(value, dict):
        return {
            k: scrub(v, run_ids) for k, v in value.items() if k not in VOLATILE and not k.endswith(VOLATILE_SUFFIXES)
        }
    if isinstance(value, list):
        return [scrub(v, run_ids) for v in value]
    if isinstance(value, str):
        for run_id in run_ids:
            value = value.replace(run_id, "<run>")
        return DURATION.sub("<duration>", TIMESTAMP.sub("<time>", value))
    return value


def this_runs_outputs(objects: dict[str, str], run_id: str) -> dict[str, Any]:
    """The run's own folder plus latest.json and the quality history, scrubbed."""
    found: dict[str, Any] = {}
    for key, body in objects.items():
        if f"/{run_id}/" in key or not key.startswith("processed/runs/"):
            name = key.replace(run_id, "<run>")
            try:
                found[name] = scrub(json.loads(body), (run_id,))
            except json.JSONDecodeError:
                found[name] = body
    return found


def test_a_warm_second_run_writes_what_a_fresh_process_writes(s3, tmp_path, capsys):
    s3.put_object(Bucket=BUCKET, Key=INPUT_KEY, Body=SAMPLE_CSV.read_bytes())
    first = lambda_function.lambda_handler({}, SimpleNamespace(aws_request_id="first-request"))
    s3.put_object(Bucket=BUCKET, Key=INPUT_KEY, Body=second_input())
    before_second = every_object(s3)
    capsys.readouterr()
    warm = lambda_function.lambda_handler({}, SimpleNamespace(aws_request_id="warm-request"))
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    warm_flags = [line["cold_start"] for line in lines if line.get("event") == "start"]

    snapshot = tmp_path / "snapshot.json"
    snapshot.write_text(json.dumps(before_second))
    out = tmp_path / "fresh.json"
    subprocess.run(
        [sys.executable, "-c", FRESH_PROCESS, str(snapshot), str(out), BUCKET],
        cwd=REPO,
        env={**_plain_environment(), **ENV},
        check=True,
        timeout=120,
        capture_output=True,
    )
    fresh = json.loads(out.read_text())

    assert first["status"] == warm["status"] == fresh["result"]["status"] == "succeeded"
    assert warm_flags == [False]  # the flag is per process: only its first run is cold
    warm_outputs = this_runs_outputs(every_object(s3), warm["run_id"])
    fresh_outputs = this_runs_outputs(fresh["objects"], fresh["result"]["run_id"])
    assert warm_outputs.keys() == fresh_outputs.keys()
    for key in warm_outputs:
        assert warm_outputs[key] == fresh_outputs[key], key
    assert scrub(warm, (warm["run_id"],)) == scrub(fresh["result"], (fresh["result"]["run_id"],))


def _plain_environment() -> dict[str, str]:
    """This test's AWS settings (fake credentials, the region) without anything of this machine's."""
    import os

    keep = ("PATH", "HOME", "LANG", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION", "AWS_REGION")
    env = {k: os.environ[k] for k in keep if k in os.environ}
    env.update({"AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull, "PYTHONPATH": str(REPO)})
    return env
