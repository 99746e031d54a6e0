"""The WSGI layer in front of moto: Lambda Invoke and Glue job runs are real, everything else is moto's.

`POST /2015-03-31/functions/<name>/invocations` for a function moto knows is answered
here, like AWS: RequestResponse runs it and answers 200 with the payload
(`X-Amz-Function-Error: Unhandled` and an error document when it raised;
`X-Amz-Log-Result` with the last 4 KB of its log for `X-Amz-Log-Type: Tail`; 429
TooManyRequestsException when reserved concurrency is used up); Event queues it and
answers 202. So `boto3 lambda.invoke` works unchanged against the emulator.
Glue's StartJobRun, GetJobRun and GetJobRuns (JSON protocol, `X-Amz-Target: AWSGlue.<op>`)
go to the GlueService, which runs the job's script (see glue_service.py); its errors come
back in the JSON protocol's shape (HTTP 400, `__type`), e.g. ConcurrentRunsExceededException.
CreateFunction and UpdateFunctionConfiguration with a Role that Lambda may not assume (its
trust policy does not allow lambda.amazonaws.com) are refused as AWS refuses them: 400
InvalidParameterValueException "The role defined for the function cannot be assumed by Lambda."
Two small additions: `GET /_dataops/health` (who is serving, since when, run counters)
and pruning deleted instances before moto serves `/moto-api/data.json`.
Who may call at all, and which of a role's calls are allowed, is decided before this
(access.py).
"""

from __future__ import annotations

import base64
import io
import json
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import parse_qs, unquote

from dataops_cli.emulator.glue_service import GlueApiError, GlueService
from dataops_cli.emulator.insights_service import InsightsApiError, InsightsService
from dataops_cli.emulator.lambda_service import LambdaService, Lookup, ThrottledError
from dataops_cli.emulator.moto_internals import forget_deleted_instances, request_account, request_region
from dataops_cli.emulator.roles import LAMBDA_PRINCIPAL, AssumeRoleError, Roles
from dataops_cli.emulator.telemetry import new_request_id
from dataops_cli.local.state import HEALTH_PATH

INVOKE_PATH = re.compile(r"^/2015-03-31/functions/(?P<name>[^/]+)/invocations/?$")
CREATE_FUNCTION_PATH = re.compile(r"^/2015-03-31/functions/?$")
CONFIGURATION_PATH = re.compile(r"^/2015-03-31/functions/[^/]+/configuration/?$")
# https://docs.aws.amazon.com/lambda/latest/api/API_CreateFunction.html (InvalidParameterValueException)
ROLE_NOT_ASSUMABLE = "The role defined for the function cannot be assumed by Lambda."
DATA_JSON_PATH = "/moto-api/data.json"
GLUE_OPERATIONS = {
    "AWSGlue.StartJobRun": GlueService.start_job_run,
    "AWSGlue.GetJobRun": GlueService.get_job_run,
    "AWSGlue.GetJobRuns": GlueService.get_job_runs,
}
# Logs Insights: moto's evaluator is thin, the emulator's own answers (insights_service.py)
INSIGHTS_OPERATIONS = {
    "Logs_20140328.StartQuery": InsightsService.start_query,
    "Logs_20140328.GetQueryResults": InsightsService.get_query_results,
}
StartResponse = Callable[..., Any]


def request_headers(environ: Mapping[str, Any]) -> dict[str, str]:
    headers = {key[5:].replace("_", "-").title(): value for key, value in environ.items() if key.startswith("HTTP_")}
    if environ.get("CONTENT_TYPE"):
        headers["Content-Type"] = environ["CONTENT_TYPE"]
    return headers


def header(headers: Mapping[str, str], name: str, default: str = "") -> str:
    wanted = name.lower()
    return next((value for key, value in headers.items() if key.lower() == wanted), default)


class EmulatorApp:
    """moto's WSGI app, with Lambda Invoke and two emulator paths handled in front of it."""

    def __init__(
        self,
        moto_app: Any,
        service: LambdaService,
        lookup: Lookup,
        health: Callable[[], dict[str, Any]],
        default_region: str,
        glue: GlueService | None = None,
        roles: Roles | None = None,
        insights: InsightsService | None = None,
    ) -> None:
        self.moto_app, self.service, self.lookup, self.health = moto_app, service, lookup, health
        self.default_region, self.glue, self.roles, self.insights = default_region, glue, roles, insights

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "GET")
        if path == HEALTH_PATH and method == "GET":
            return respond(start_response, 200, json.dumps(self.health()).encode(), {})
        if path == DATA_JSON_PATH:
            forget_deleted_instances()
        sets_role = (method == "POST" and CREATE_FUNCTION_PATH.match(path)) or (
            method == "PUT" and CONFIGURATION_PATH.match(path)
        )
        if self.roles is not None and sets_role:
            refused = self.refuse_unassumable_role(environ, start_response)
            if refused is not None:
                return refused
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if self.glue is not None and method == "POST" and target in GLUE_OPERATIONS:
            return self.json_call(GLUE_OPERATIONS[target], self.glue, environ, start_response)
        if self.insights is not None and method == "POST" and target in INSIGHTS_OPERATIONS:
            return self.json_call(INSIGHTS_OPERATIONS[target], self.insights, environ, start_response)
        match = INVOKE_PATH.match(path) if method == "POST" else None
        if match is not None:
            qualifier = parse_qs(environ.get("QUERY_STRING", "")).get("Qualifier", ["$LATEST"])[0]
            headers = request_headers(environ)
            account = request_account(headers)
            region = request_region(headers, self.default_region)
            spec = self.lookup(account, region, unquote(match["name"])) if qualifier == "$LATEST" else None
            if spec is not None:
                body = read_body(environ)
                return self.invoke(spec, body, headers, start_response)
        return self.moto_app(environ, start_response)

    def refuse_unassumable_role(self, environ: dict[str, Any], start_response: StartResponse) -> list[bytes] | None:
        """Lambda checks at CreateFunction (and when the Role changes) that it can assume the role."""
        try:
            request = json.loads(read_body(environ) or b"{}")
        except ValueError:
            return None  # moto answers a malformed body itself
        role = request.get("Role") if isinstance(request, dict) else None
        if not isinstance(role, str) or self.roles is None:
            return None
        try:
            self.roles.check_trust(role, LAMBDA_PRINCIPAL, {})
        except AssumeRoleError:
            error = {"Type": "User", "message": ROLE_NOT_ASSUMABLE}
            extra = {"x-amzn-RequestId": new_request_id(), "x-amzn-ErrorType": "InvalidParameterValueException"}
            return respond(start_response, 400, json.dumps(error).encode(), extra)
        return None

    def json_call(
        self,
        operation: Callable[..., dict[str, Any]],
        service: Any,
        environ: dict[str, Any],
        start_response: StartResponse,
    ) -> list[bytes]:
        """A JSON-protocol operation answered by one of the emulator's services (Glue, Logs Insights)."""
        headers = request_headers(environ)
        base = {"x-amzn-RequestId": new_request_id()}
        try:
            request = json.loads(read_body(environ) or b"{}")
        except ValueError:
            return _glue_error(start_response, base, "SerializationException", "the request body is not JSON")
        try:
            if not isinstance(request, dict):
                raise GlueApiError("InvalidInputException", "the request body must be a JSON object")
            region = request_region(headers, self.default_region)
            answer = operation(service, request_account(headers), region, request)
        except (GlueApiError, InsightsApiError) as exc:
            return _glue_error(start_response, base, exc.code, exc.message)
        return respond(start_response, 200, json.dumps(answer).encode(), base)

    def invoke(self, spec: Any, body: bytes, headers: Mapping[str, str], start_response: StartResponse) -> list[bytes]:
        request_id = new_request_id()
        base = {"x-amzn-RequestId": request_id}
        kind = header(headers, "X-Amz-Invocation-Type", "RequestResponse")
        if kind == "DryRun":
            return respond(start_response, 204, b"", base)
        if kind == "Event":
            self.service.invoke_async(spec, body, request_id)
            return respond(start_response, 202, b"", base)
        try:
            result, log_tail = self.service.invoke_sync(spec, body, request_id)
        except ThrottledError:
            error = {
                "Reason": "ReservedFunctionConcurrentInvocationLimitExceeded",
                "Type": "User",
                "message": "Rate Exceeded.",
            }
            extra = {**base, "x-amzn-ErrorType": "TooManyRequestsException"}
            return respond(start_response, 429, json.dumps(error).encode(), extra)
        extra = {**base, "X-Amz-Executed-Version": "$LATEST"}
        if result.failed:
            extra["X-Amz-Function-Error"] = "Unhandled"
        if header(headers, "X-Amz-Log-Type") == "Tail":
            extra["X-Amz-Log-Result"] = base64.b64encode(log_tail.encode("utf-8")).decode()
        return respond(start_response, 200, result.payload, extra)


def _glue_error(start_response: StartResponse, base: Mapping[str, str], code: str, message: str) -> list[bytes]:
    body = json.dumps({"__type": code, "Message": message}).encode()
    return respond(start_response, 400, body, {**base, "x-amzn-ErrorType": code})


def read_body(environ: dict[str, Any]) -> bytes:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    environ["wsgi.input"] = io.BytesIO(body)
    return body


def respond(start_response: StartResponse, status: int, body: bytes, headers: Mapping[str, str]) -> list[bytes]:
    reason = {200: "OK", 202: "Accepted", 204: "No Content", 400: "Bad Request", 429: "Too Many Requests"}.get(
        status, ""
    )
    start_response(
        f"{status} {reason}",
        [("Content-Type", "application/json"), ("Content-Length", str(len(body))), *headers.items()],
    )
    return [body]
