"""The emulator answers only its owner (issue 19): a real emulator process, requests from outside.

Each test here failed before the emulator checked signatures: an unsigned Invoke ran the
pipeline, a text/plain POST to /moto-api/reset wiped the stack, data.json echoed any Origin.
"""

from __future__ import annotations

import io
import json
import os
import shlex
import subprocess
import sys
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config as BotoConfig
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from click.testing import CliRunner

from dataops_cli.cli import cli
from dataops_cli.deploy.policies import lambda_trust_policy
from dataops_cli.local import process
from dataops_cli.local.credentials import owner_credentials, owner_credentials_path, signed_get
from dataops_cli.local.state import STATE_DIR_ENV, EmulatorState

pytestmark = pytest.mark.e2e
REGION = "ap-south-1"
ONE_TRY = BotoConfig(retries={"total_max_attempts": 1})


class Emulator:
    def __init__(self, directory: Path, state: EmulatorState) -> None:
        self.directory, self.state = directory, state
        self.keys = owner_credentials(directory)

    @property
    def endpoint(self) -> str:
        return self.state.endpoint

    def client(self, service: str, keys: tuple[str, str] | None = None, **extra: Any) -> Any:
        access, secret = keys or self.keys
        return boto3.client(
            service,
            region_name=REGION,
            endpoint_url=self.endpoint,
            aws_access_key_id=access,
            aws_secret_access_key=secret,
            config=ONE_TRY,
            **extra,
        )

    def health(self) -> dict[str, Any]:
        return json.loads(signed_get(self.endpoint, "/_dataops/health", self.keys))

    def raw(
        self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> tuple[int, dict, bytes]:
        request = urllib.request.Request(self.endpoint + path, data=body or None, method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers), exc.read()

    def signed(
        self, method: str, path: str, extra_headers: dict[str, str] | None = None, host: str | None = None
    ) -> tuple[int, dict, bytes]:
        """An owner-signed request, with headers added after signing (or a Host signed as given)."""
        url = self.endpoint + path
        headers = {"Host": host} if host else {}
        request = AWSRequest(method=method, url=url, headers=headers)
        SigV4Auth(Credentials(*self.keys), "dataops", "us-east-1").add_auth(request)
        prepared = dict(request.prepare().headers.items())
        prepared.update(extra_headers or {})
        return self.raw(method, path, headers=prepared)


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    directory = tmp_path_factory.mktemp("access") / "state"
    state = process.start(directory, region=REGION)
    try:
        yield Emulator(directory, state)
    finally:
        process.stop(directory)


def zipped(source: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("fn.py", source)
    return buffer.getvalue()


def make_function(emulator: Emulator, name: str, trust: dict[str, Any] | None = None) -> str:
    iam = emulator.client("iam")
    role = iam.create_role(RoleName=f"{name}-role", AssumeRolePolicyDocument=json.dumps(trust or lambda_trust_policy()))
    code = zipped("import os\ndef handler(event, context):\n    return {'ran': True}\n")
    emulator.client("lambda").create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=role["Role"]["Arn"],
        Handler="fn.handler",
        Code={"ZipFile": code},
        Timeout=10,
    )
    return role["Role"]["Arn"]


def test_the_credentials_file_is_private_and_the_owner_gets_in(emulator):
    mode = owner_credentials_path(emulator.directory).stat().st_mode & 0o777
    assert mode == 0o600
    assert emulator.keys[0].startswith("AKIA") and emulator.keys != ("testing", "testing")
    assert emulator.client("s3").list_buckets()["Buckets"] == []
    assert emulator.health()["pid"] == emulator.state.pid


def test_an_unsigned_invoke_is_refused_and_runs_nothing(emulator):
    make_function(emulator, "unsigned-target")
    status, headers, body = emulator.raw("POST", "/2015-03-31/functions/unsigned-target/invocations", b"{}")
    assert status == 403 and headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException", body
    assert "unsigned-target" not in emulator.health()["functions"]  # it never ran
    answer = emulator.client("lambda").invoke(FunctionName="unsigned-target", Payload=b"{}")
    assert json.loads(answer["Payload"].read()) == {"ran": True}  # the owner's signed invoke runs it


@pytest.mark.parametrize(
    ("keys", "code"),
    [
        (("owner", "wrong-secret"), "SignatureDoesNotMatch"),
        (("AKIAUNKNOWNUNKNOWN00", "x"), "InvalidAccessKeyId"),
        (("testing", "testing"), "InvalidAccessKeyId"),  # what every client used before
    ],
)
def test_a_wrong_secret_or_an_unknown_key_is_refused(emulator, keys, code):
    if keys[0] == "owner":
        keys = (emulator.keys[0], keys[1])
    with pytest.raises(ClientError) as caught:
        emulator.client("s3", keys).list_buckets()
    assert caught.value.response["Error"]["Code"] == code
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_json_services_get_their_own_error_shape(emulator):
    with pytest.raises(ClientError) as caught:
        emulator.client("logs", (emulator.keys[0], "wrong")).describe_log_groups()
    assert caught.value.response["Error"]["Code"] == "InvalidSignatureException"
    with pytest.raises(ClientError) as caught:
        emulator.client("cloudwatch", ("AKIAUNKNOWNUNKNOWN00", "x")).list_metrics()
    assert caught.value.response["Error"]["Code"] == "InvalidClientTokenId"
    with pytest.raises(ClientError) as caught:
        emulator.client("lambda", ("AKIAUNKNOWNUNKNOWN00", "x")).list_functions()
    assert caught.value.response["Error"]["Code"] == "UnrecognizedClientException"


def test_a_text_plain_post_to_moto_api_reset_is_refused_and_the_stack_stays(emulator):
    emulator.client("s3").create_bucket(Bucket="kept-bucket", CreateBucketConfiguration={"LocationConstraint": REGION})
    status, _, _ = emulator.raw("POST", "/moto-api/reset", b"x", {"Content-Type": "text/plain"})
    assert status == 403
    status, _, _ = emulator.raw("GET", "/moto-api/data.json")
    assert status == 403
    buckets = [b["Name"] for b in emulator.client("s3").list_buckets()["Buckets"]]
    assert "kept-bucket" in buckets


def test_data_json_never_answers_an_origin_and_carries_no_cors_header(emulator):
    status, headers, _ = emulator.signed("GET", "/moto-api/data.json", {"Origin": "https://evil.example"})
    assert status == 403
    assert not any(k.lower().startswith("access-control-") for k in headers), headers
    status, headers, body = emulator.signed("GET", "/moto-api/data.json")
    assert status == 200 and "s3" in json.loads(body)
    assert not any(k.lower().startswith("access-control-") for k in headers), headers


def test_a_cors_preflight_is_refused(emulator):
    headers = {"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
    status, answer, _ = emulator.raw("OPTIONS", "/moto-api/reset", headers=headers)
    assert status == 403 and not any(k.lower().startswith("access-control-") for k in answer)
    status, _, _ = emulator.raw("OPTIONS", "/")
    assert status == 403


def test_a_request_with_an_origin_or_a_foreign_host_is_refused_even_when_signed(emulator):
    assert emulator.signed("GET", "/_dataops/health")[0] == 200
    assert emulator.signed("GET", "/_dataops/health", {"Origin": "null"})[0] == 403
    rebound = f"evil.example:{emulator.state.port}"  # DNS rebinding: the page's own name, our port
    status, _, body = emulator.signed("GET", "/_dataops/health", host=rebound)
    assert status == 403 and b"answers only to Host 127.0.0.1:" in body
    assert emulator.signed("GET", "/_dataops/health", host=f"localhost:{emulator.state.port}")[0] == 403


def test_the_health_endpoint_answers_the_owner_only(emulator):
    status, _, _ = emulator.raw("GET", "/_dataops/health")
    assert status == 403


def test_a_presigned_url_of_the_owner_works_and_a_tampered_one_does_not(emulator):
    s3 = emulator.client("s3")
    s3.create_bucket(Bucket="presigned", CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_object(Bucket="presigned", Key="a.txt", Body=b"hello")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": "presigned", "Key": "a.txt"}, ExpiresIn=60)
    path = url.removeprefix(emulator.endpoint)
    status, _, body = emulator.raw("GET", path)
    assert (status, body) == (200, b"hello")
    status, _, body = emulator.raw("GET", path.replace("a.txt", "b.txt"))
    assert status == 403 and b"SignatureDoesNotMatch" in body


def test_a_body_that_does_not_match_its_signed_hash_is_refused(emulator):
    s3 = emulator.client("s3")
    s3.create_bucket(Bucket="tampered", CreateBucketConfiguration={"LocationConstraint": REGION})

    def swap_body(request: Any, **_: Any) -> None:
        request.body = b"not what was signed"
        request.headers["Content-Length"] = str(len(request.body))

    s3.meta.events.register("before-send.s3.PutObject", swap_body)
    with pytest.raises(ClientError) as caught:
        s3.put_object(Bucket="tampered", Key="k", Body=b"what was signed")
    assert caught.value.response["Error"]["Code"] == "XAmzContentSHA256Mismatch"


def test_create_function_refuses_a_role_lambda_cannot_assume(emulator):
    glue_only = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "glue.amazonaws.com"}, "Action": "sts:AssumeRole"}],
    }
    with pytest.raises(ClientError) as caught:
        make_function(emulator, "untrusting", trust=glue_only)
    error = caught.value.response["Error"]
    assert (error["Code"], error["Message"]) == (
        "InvalidParameterValueException",
        "The role defined for the function cannot be assumed by Lambda.",
    )


def test_local_env_output_works_with_a_plain_boto3_client(emulator):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        {STATE_DIR_ENV: str(emulator.directory), "AWS_PROFILE": "someones-profile", "AWS_SESSION_TOKEN": "stale"}
    )
    env.update({"AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull})
    dataops = shlex.join([sys.executable, "-m", "dataops_cli"])
    check = shlex.join([sys.executable, "-c", "import boto3; print(len(boto3.client('s3').list_buckets()['Buckets']))"])
    script = f'eval "$({dataops} local env)" && {check}'
    result = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert int(result.stdout.strip()) >= 1

    printed = CliRunner().invoke(cli, ["--state-dir", str(emulator.directory), "local", "env", "--json"])
    settings = json.loads(printed.output)
    assert settings["AWS_ENDPOINT_URL"] == emulator.endpoint
    assert (settings["AWS_ACCESS_KEY_ID"], settings["AWS_SECRET_ACCESS_KEY"]) == emulator.keys
    client = boto3.client(
        "s3",
        endpoint_url=settings["AWS_ENDPOINT_URL"],
        region_name=settings["AWS_DEFAULT_REGION"],
        aws_access_key_id=settings["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=settings["AWS_SECRET_ACCESS_KEY"],
    )
    assert client.list_buckets()["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert all(
        len(line) <= 80
        for line in CliRunner()
        .invoke(cli, ["--state-dir", str(emulator.directory), "local", "env"])
        .output.splitlines()
    )


def test_local_env_without_an_emulator_exits_1_with_a_hint(tmp_path):
    result = CliRunner().invoke(cli, ["--state-dir", str(tmp_path), "local", "env"])
    assert result.exit_code == 1
    assert "not running" in result.output and "dataops local start" in result.output


def test_the_emulator_refuses_to_listen_beyond_loopback(tmp_path):
    from dataops_cli.emulator.server import is_loopback, main

    assert is_loopback("127.0.0.1") and is_loopback("::1")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5") and not is_loopback("localhost")
    assert main(["--state-dir", str(tmp_path), "--host", "0.0.0.0"]) == 2
    assert list(tmp_path.iterdir()) == []  # nothing started, no credentials written
