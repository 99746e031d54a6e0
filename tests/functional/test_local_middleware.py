"""The WSGI layer in front of moto: which requests it answers itself, and how botocore reads the answers."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config as BotoConfig
from botocore.exceptions import ClientError
from werkzeug.serving import make_server
from werkzeug.test import Client

from dataops_cli.emulator.lambda_service import ThrottledError
from dataops_cli.emulator.middleware import EmulatorApp
from dataops_cli.emulator.moto_internals import moto_wsgi_app
from dataops_cli.emulator.runner import FunctionSpec, RunResult
from tests.helpers.local import make_spec

AUTH = "AWS4-HMAC-SHA256 Credential=testing/20261125/ap-south-1/lambda/aws4_request, SignedHeaders=host, Signature=x"


def spec(name: str = "F", region: str = "ap-south-1") -> FunctionSpec:
    return make_spec(name, region)


class FakeService:
    """Stands in for LambdaService: records calls, answers with a canned result."""

    def __init__(self, error: dict[str, Any] | None = None, throttled: bool = False) -> None:
        self.error, self.throttled = error, throttled
        self.sync: list[tuple[str, bytes]] = []
        self.queued: list[tuple[str, bytes]] = []

    def invoke_sync(self, function: FunctionSpec, body: bytes, request_id: str) -> tuple[RunResult, str]:
        if self.throttled:
            raise ThrottledError(function.name)
        self.sync.append((function.name, body))
        result = RunResult(request_id, 0.0, 0.1, 100.0, None, 90, payload=b'{"status": "succeeded"}')
        if self.error:
            result.error = self.error
            result.payload = json.dumps(self.error).encode()
        return result, "START RequestId: x\nEND RequestId: x\n"

    def invoke_async(self, function: FunctionSpec, body: bytes, request_id: str) -> None:
        self.queued.append((function.name, body))


class FakeMoto:
    """Records what reaches moto, and proves the body arrives intact."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, bytes]] = []

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        self.seen.append((environ["REQUEST_METHOD"], environ["PATH_INFO"], body))
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"moto"]


def lookup(account: str, region: str, name: str) -> FunctionSpec | None:
    return spec(name.rsplit(":", 1)[-1], region) if name.endswith("F") else None


def app(service: FakeService, moto: Any = None) -> EmulatorApp:
    return EmulatorApp(moto or FakeMoto(), service, lookup, lambda: {"service": "dataops-emulator"}, "ap-south-1")


def post(client: Client, name: str, body: bytes = b"{}", **headers: str) -> Any:
    return client.post(
        f"/2015-03-31/functions/{name}/invocations", data=body, headers={"Authorization": AUTH, **headers}
    )


def test_request_response_runs_the_function_and_answers_with_its_payload():
    service = FakeService()
    response = post(Client(app(service)), "F", b'{"trigger": "manual"}')
    assert response.status_code == 200
    assert response.get_json() == {"status": "succeeded"}
    assert service.sync == [("F", b'{"trigger": "manual"}')]
    assert response.headers["X-Amz-Executed-Version"] == "$LATEST"
    assert "X-Amz-Function-Error" not in response.headers
    assert "X-Amz-Log-Result" not in response.headers


def test_a_failed_run_is_200_with_function_error_unhandled():
    error = {"errorType": "ValueError", "errorMessage": "bad"}
    response = post(Client(app(FakeService(error=error))), "F")
    assert response.status_code == 200
    assert response.headers["X-Amz-Function-Error"] == "Unhandled"
    assert response.get_json() == error


def test_log_type_tail_returns_the_log_base64():
    response = post(Client(app(FakeService())), "F", **{"X-Amz-Log-Type": "Tail"})
    assert base64.b64decode(response.headers["X-Amz-Log-Result"]).decode().startswith("START RequestId: x")


def test_event_invocations_are_queued_and_answered_202():
    service = FakeService()
    response = post(Client(app(service)), "F", b'{"trigger": "schedule"}', **{"X-Amz-Invocation-Type": "Event"})
    assert response.status_code == 202
    assert service.queued == [("F", b'{"trigger": "schedule"}')] and service.sync == []


def test_dry_run_only_checks_the_function_exists():
    service = FakeService()
    response = post(Client(app(service)), "F", **{"X-Amz-Invocation-Type": "DryRun"})
    assert response.status_code == 204 and service.sync == [] and service.queued == []


def test_throttled_synchronous_invoke_is_429_too_many_requests():
    response = post(Client(app(FakeService(throttled=True))), "F")
    assert response.status_code == 429
    assert response.headers["x-amzn-ErrorType"] == "TooManyRequestsException"
    assert response.get_json()["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"


def test_function_arns_are_accepted_url_encoded():
    service = FakeService()
    post(Client(app(service)), "arn%3Aaws%3Alambda%3Aap-south-1%3A123456789012%3Afunction%3AF")
    assert [name for name, _ in service.sync] == ["F"]


def test_unknown_functions_other_qualifiers_and_other_calls_go_to_moto_unchanged():
    moto, service = FakeMoto(), FakeService()
    client = Client(app(service, moto))
    post(client, "Unknown", b'{"a": 1}')
    client.post("/2015-03-31/functions/F/invocations?Qualifier=1", data=b'{"b": 2}', headers={"Authorization": AUTH})
    client.get("/2015-03-31/functions/")
    client.post("/", data=b"Action=ListBuckets")
    assert moto.seen == [
        ("POST", "/2015-03-31/functions/Unknown/invocations", b'{"a": 1}'),
        ("POST", "/2015-03-31/functions/F/invocations", b'{"b": 2}'),
        ("GET", "/2015-03-31/functions/", b""),
        ("POST", "/", b"Action=ListBuckets"),
    ]
    assert service.sync == []


def test_health_is_served_by_the_emulator_itself():
    moto = FakeMoto()
    response = Client(app(FakeService(), moto)).get("/_dataops/health")
    assert response.get_json() == {"service": "dataops-emulator"} and moto.seen == []


@pytest.fixture
def served(aws_env: None) -> Iterator[tuple[str, FakeService]]:
    """The middleware in front of the real moto app, on a real port."""
    service = FakeService()
    server = make_server("127.0.0.1", 0, app(service, moto_wsgi_app()), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", service
    server.shutdown()
    thread.join()


def lambda_client(endpoint: str) -> Any:
    config = BotoConfig(retries={"max_attempts": 1})
    return boto3.client("lambda", region_name="ap-south-1", endpoint_url=endpoint, config=config)


def test_boto3_reads_the_answers_like_aws_ones(served):
    endpoint, service = served
    lam = lambda_client(endpoint)
    response = lam.invoke(FunctionName="F", LogType="Tail", Payload=b"{}")
    assert response["StatusCode"] == 200 and "FunctionError" not in response
    assert json.loads(response["Payload"].read()) == {"status": "succeeded"}
    assert base64.b64decode(response["LogResult"]).startswith(b"START")
    assert lam.invoke(FunctionName="F", InvocationType="Event", Payload=b"{}")["StatusCode"] == 202
    service.error = {"errorType": "ValueError", "errorMessage": "bad"}
    assert lam.invoke(FunctionName="F")["FunctionError"] == "Unhandled"
    service.throttled = True
    with pytest.raises(ClientError) as caught:
        lam.invoke(FunctionName="F")
    assert caught.value.response["Error"]["Code"] == "TooManyRequestsException"


def test_everything_else_is_moto(served):
    endpoint, _ = served
    assert lambda_client(endpoint).list_functions()["Functions"] == []
