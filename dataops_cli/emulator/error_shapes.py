"""Errors the emulator answers itself, in the shape each AWS protocol uses, so botocore reads them.

S3 answers an XML <Error>; JSON services (Logs, Glue) a JSON object with __type; REST-JSON
services (Lambda, Scheduler) a JSON body with the code in x-amzn-ErrorType; query services
(IAM, STS, SNS) an XML <ErrorResponse>; CloudWatch's rpc-v2-cbor a CBOR map with __type. A
query-compatible service spoken in JSON or CBOR (CloudWatch: botocore sends
`x-amzn-query-mode: true`) gets the query service's code, also in the x-amzn-query-error
header, which botocore reads first. A HEAD answer has no body, as on AWS.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any
from xml.sax.saxutils import escape

StartResponse = Callable[..., Any]
S3, JSON, REST_JSON, QUERY, CBOR = "s3", "json", "rest-json", "query", "cbor"
REST_JSON_SERVICES = ("lambda", "scheduler")
QUERY_SERVICES = ("iam", "sts", "sns")
REASONS = {400: "Bad Request", 403: "Forbidden", 404: "Not Found", 501: "Not Implemented"}
# AWS's HTTP status for the errors whose status is not 403.
ERROR_STATUS = {
    "AuthorizationHeaderMalformed": 400,
    "XAmzContentSHA256Mismatch": 400,
    "IncompleteSignature": 400,
    "IncompleteSignatureException": 400,
    "NotImplemented": 501,
}


def protocol_of(environ: Mapping[str, Any], service: str | None) -> str:
    """Which error shape the caller expects: from the signed service, else from the request's look."""
    path = str(environ.get("PATH_INFO", ""))
    if environ.get("HTTP_SMITHY_PROTOCOL") == "rpc-v2-cbor" or path.startswith("/service/"):
        return CBOR
    if environ.get("HTTP_X_AMZ_TARGET"):
        return JSON
    if service in REST_JSON_SERVICES or path.startswith(("/2015-03-31/", "/schedules", "/schedule-groups")):
        return REST_JSON
    if path.startswith(("/moto-api", "/_dataops")):
        return REST_JSON
    content_type = str(environ.get("CONTENT_TYPE", ""))
    if service in QUERY_SERVICES or content_type.startswith("application/x-www-form-urlencoded"):
        return QUERY
    return S3


def query_compatible(environ: Mapping[str, Any]) -> bool:
    return str(environ.get("HTTP_X_AMZN_QUERY_MODE", "")).lower() == "true"


def cbor_text_map(document: Mapping[str, str]) -> bytes:
    """A CBOR map of text strings (RFC 8949): all an rpc-v2-cbor error body needs."""

    def head(major: int, length: int) -> bytes:
        if length < 24:
            return bytes([major << 5 | length])
        for extra, size in ((24, 1), (25, 2), (26, 4)):
            if length < 1 << (8 * size):
                return bytes([major << 5 | extra]) + length.to_bytes(size, "big")
        raise ValueError("text too long for an error body")

    def text(value: str) -> bytes:
        encoded = value.encode("utf-8")
        return head(3, len(encoded)) + encoded

    return head(5, len(document)) + b"".join(text(k) + text(v) for k, v in document.items())


def error_response(
    start_response: StartResponse,
    environ: Mapping[str, Any],
    protocol: str,
    status: int,
    code: str,
    message: str,
    request_id: str,
) -> list[bytes]:
    headers: list[tuple[str, str]] = []
    if protocol == S3:
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{escape(code)}</Code><Message>{escape(message)}</Message>"
            f"<RequestId>{request_id}</RequestId></Error>"
        ).encode()
        headers += [("Content-Type", "application/xml"), ("x-amz-request-id", request_id)]
    elif protocol == QUERY:
        body = (
            f"<ErrorResponse><Error><Type>Sender</Type><Code>{escape(code)}</Code>"
            f"<Message>{escape(message)}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>"
        ).encode()
        headers += [("Content-Type", "text/xml"), ("x-amzn-RequestId", request_id)]
    elif protocol == CBOR:
        body = cbor_text_map({"__type": code, "message": message})
        headers += [
            ("Content-Type", "application/cbor"),
            ("smithy-protocol", "rpc-v2-cbor"),
            ("x-amzn-query-error", f"{code};Sender"),
            ("x-amzn-RequestId", request_id),
        ]
    elif protocol == JSON:
        body = json.dumps({"__type": code, "message": message}).encode()
        headers += [("Content-Type", "application/x-amz-json-1.1"), ("x-amzn-RequestId", request_id)]
        if query_compatible(environ):
            headers.append(("x-amzn-query-error", f"{code};Sender"))
    else:
        body = json.dumps({"Type": "User", "message": message, "Message": message}).encode()
        headers += [
            ("Content-Type", "application/json"),
            ("x-amzn-ErrorType", code),
            ("x-amzn-RequestId", request_id),
        ]
    if environ.get("REQUEST_METHOD") == "HEAD":
        body = b""
    headers.append(("Content-Length", str(len(body))))
    start_response(f"{status} {REASONS.get(status, '')}".rstrip(), headers)
    return [body]


def uses_query_codes(environ: Mapping[str, Any], protocol: str) -> bool:
    """Whether the caller expects the query services' error codes (query, CBOR, query-compatible JSON)."""
    return protocol in (QUERY, CBOR) or (protocol == JSON and query_compatible(environ))


def access_denied_code(environ: Mapping[str, Any], protocol: str) -> str:
    """AWS's code for a request the caller's policies do not allow, per protocol family."""
    if protocol == S3 or uses_query_codes(environ, protocol):
        return "AccessDenied"
    return "AccessDeniedException"
