"""The emulator's front door: only its owner and the role sessions it issued get in, as far as AWS allows.

In order, for every request:
1. No browser: a request with an `Origin` header, a CORS preflight (OPTIONS), or a `Host`
   that is not the loopback address and port the emulator listens on (DNS rebinding) is
   refused with 403. No response ever carries an Access-Control-* header.
2. A valid SigV4 signature (sigv4.py) by the owner's credentials or a live role session's;
   anything else is refused as AWS refuses it (MissingAuthenticationToken, InvalidClientTokenId,
   SignatureDoesNotMatch, ExpiredToken, ... in the service's error shape).
3. `/moto-api/...` and `/_dataops/...` answer the owner only.
4. A role session's request is mapped to its IAM action(s) and resource(s)
   (request_actions.py) and must be allowed by the role's policies (roles.py); a denied or
   unmapped request is 403 AccessDenied. DeleteObjects is judged key by key, as S3 does: the
   allowed keys are deleted and each denied key comes back as an AccessDenied <Error> entry.
   A GetObject/HeadObject of a missing key answers 403 instead of 404 unless the role may
   s3:ListBucket the bucket (https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html).
The owner is not evaluated against policies: like an account's administrator, it may do anything.
"""

from __future__ import annotations

import io
import logging
import re
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any
from xml.sax.saxutils import escape

from dataops_cli.emulator import request_actions
from dataops_cli.emulator.error_shapes import (
    ERROR_STATUS,
    access_denied_code,
    error_response,
    protocol_of,
    uses_query_codes,
)
from dataops_cli.emulator.identities import CredentialStore, Principal
from dataops_cli.emulator.request_actions import HttpRequest, Operation, UnmappedRequestError
from dataops_cli.emulator.roles import Roles
from dataops_cli.emulator.sigv4 import ERROR_CODES, SignatureError, Signed, verify

log = logging.getLogger("dataops.emulator")
StartResponse = Callable[..., Any]
OWNER_ONLY_PREFIXES = ("/moto-api", "/_dataops/")
CHECKSUM_HEADERS = ("HTTP_CONTENT_MD5", "HTTP_X_AMZ_SDK_CHECKSUM_ALGORITHM")


def read_body(environ: dict[str, Any]) -> bytes:
    """The whole request body, left in place for the next reader."""
    length = int(environ.get("CONTENT_LENGTH") or 0)
    stream = environ["wsgi.input"]
    if length:
        body = stream.read(length)
    elif environ.get("wsgi.input_terminated"):  # chunked transfer: the server ends the stream for us
        body = stream.read()
    else:
        body = b""
    environ["wsgi.input"] = io.BytesIO(body)
    return body


def without_cors(headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(k, v) for k, v in headers if not k.lower().startswith("access-control-")]


def _partition(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


class AccessGate:
    """WSGI middleware in front of the emulator's app (see the module docstring)."""

    def __init__(
        self,
        app: Callable[[dict[str, Any], StartResponse], Iterable[bytes]],
        store: CredentialStore,
        roles: Roles,
        host: str,
        port: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.app, self.store, self.roles, self.clock = app, store, roles, clock
        self.host_header = f"{host}:{port}"

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        request_id = uuid.uuid4().hex.upper()[:16]

        def refuse(status: int, code: str, message: str, service: str | None = None) -> list[bytes]:
            protocol = protocol_of(environ, service)
            log.info("refused %s %s: %s", environ.get("REQUEST_METHOD"), environ.get("PATH_INFO"), message)
            return error_response(start_response, environ, protocol, status, code, message, request_id)

        method, path = environ.get("REQUEST_METHOD", "GET"), environ.get("PATH_INFO", "")
        if environ.get("HTTP_ORIGIN") is not None:
            return refuse(403, "AccessDenied", "the emulator refuses requests from web pages (Origin header)")
        if method == "OPTIONS":
            return refuse(403, "AccessDenied", "the emulator answers no CORS preflight")
        if environ.get("HTTP_HOST") != self.host_header:
            return refuse(403, "AccessDenied", f"the emulator answers only to Host {self.host_header}")
        body = read_body(environ)
        try:
            signed = verify(environ, body, self.store.secret_of, self.clock(), self.store.was_revoked)
        except SignatureError as exc:
            service = _scope_service(environ)
            protocol = protocol_of(environ, service)
            s3_code, json_code, query_code = ERROR_CODES[exc.kind]
            code = s3_code if protocol == "s3" else query_code if uses_query_codes(environ, protocol) else json_code
            return refuse(ERROR_STATUS.get(code, 403), code, exc.message, service)
        principal = self.store.lookup(signed.access_key)
        if principal is None:  # revoked between the check and now
            return refuse(403, "ExpiredToken", "The security token included in the request is expired", signed.service)
        if path.startswith(OWNER_ONLY_PREFIXES) and not principal.is_owner:
            return refuse(403, "AccessDenied", "only the emulator's owner may use this endpoint", signed.service)
        if principal.is_owner:
            return self._forward(environ, start_response, request_id)
        return self._as_role(environ, start_response, request_id, principal, signed, body, refuse)

    def _as_role(
        self,
        environ: dict[str, Any],
        start_response: StartResponse,
        request_id: str,
        principal: Principal,
        signed: Signed,
        body: bytes,
        refuse: Callable[..., list[bytes]],
    ) -> Iterable[bytes]:
        service, region = signed.service, signed.region
        request = HttpRequest(
            method=environ.get("REQUEST_METHOD", "GET"),
            path=environ.get("PATH_INFO", ""),
            query=request_actions.parse_query(environ.get("QUERY_STRING", "")),
            headers={k[5:].lower().replace("_", "-"): str(v) for k, v in environ.items() if k.startswith("HTTP_")}
            | ({"content-type": environ["CONTENT_TYPE"]} if environ.get("CONTENT_TYPE") else {}),
            body=body,
            service=service,
            region=region,
            account=principal.account,
            partition=_partition(region),
        )
        protocol = protocol_of(environ, service)
        denied_code = access_denied_code(environ, protocol)
        try:
            operation = request_actions.operation_of(request)
        except UnmappedRequestError as exc:
            return refuse(403, denied_code, f"{principal.arn}: {exc} (refused: the emulator fails closed)", service)
        context = {
            "aws:SecureTransport": "false",
            "aws:PrincipalType": "AssumedRole",
            "aws:RequestedRegion": region,
            "aws:SourceIp": "127.0.0.1",
        }
        role = principal.role_arn or ""
        denied = []
        for check in operation.checks:
            verdict = self.roles.verdict(role, check.action, check.resource, {**context, **check.context})
            if not verdict.allowed:
                denied.append((check, verdict))
        if operation.name == "DeleteObjects" and denied:
            keys = {c.key for c, _ in denied}
            return self._delete_some(environ, start_response, request_id, operation, keys, principal)
        if denied:
            check, verdict = denied[0]
            message = (
                f'User: {principal.arn} is not authorized to perform: {check.action} on resource: "{check.resource}" '
                f"{verdict.reason}"
            )
            return refuse(403, denied_code, message, service)
        reads_object = operation.name in ("GetObject", "HeadObject")
        return self._forward(environ, start_response, request_id, principal if reads_object else None, operation)

    def _forward(
        self,
        environ: dict[str, Any],
        start_response: StartResponse,
        request_id: str,
        reader: Principal | None = None,
        operation: Operation | None = None,
        extra_errors: list[str] | None = None,
    ) -> Iterable[bytes]:
        """Call the app; strip CORS headers; for a role's read of a missing object, 403 unless it may list."""
        captured: dict[str, Any] = {}
        written: list[bytes] = []  # what an app writes through start_response's legacy write()

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], None]:
            captured["status"], captured["headers"] = status, headers
            return written.append

        answer = self.app(environ, capture)
        try:
            chunks = written + list(answer)
        finally:
            if hasattr(answer, "close"):
                answer.close()
        status, headers = captured["status"], without_cors(captured["headers"])
        no_such_key = environ.get("REQUEST_METHOD") == "HEAD" or b"<Code>NoSuchKey</Code>" in b"".join(chunks)
        if reader is not None and operation is not None and status.startswith("404") and no_such_key:
            bucket_arn = operation.checks[0].resource.split("/", 1)[0]
            if not self.roles.allows(reader.role_arn or "", "s3:ListBucket", bucket_arn, {}):
                message = "Access Denied (the object does not exist and the role may not s3:ListBucket the bucket)"
                return error_response(start_response, environ, "s3", 403, "AccessDenied", message, request_id)
        if extra_errors:
            chunks, headers = _with_delete_errors(chunks, headers, extra_errors)
        start_response(status, headers)
        return chunks

    def _delete_some(
        self,
        environ: dict[str, Any],
        start_response: StartResponse,
        request_id: str,
        operation: Operation,
        denied: set[str | None],
        principal: Principal,
    ) -> Iterable[bytes]:
        """DeleteObjects with some keys denied: delete the others, report each denied key as S3 does."""
        keys = request_actions.delete_objects_keys(environ["wsgi.input"].getvalue())
        quiet = b"<Quiet>true</Quiet>" in environ["wsgi.input"].getvalue()
        allowed = [(k, v) for k, v in keys if k not in denied]
        errors = [
            f"<Error><Key>{escape(k)}</Key><Code>AccessDenied</Code><Message>Access Denied</Message></Error>"
            for k, _ in keys
            if k in denied
        ]
        log.info("%s may not delete %d of %d objects", principal.arn, len(errors), len(keys))
        if not allowed:
            body = (
                '<?xml version="1.0" encoding="UTF-8"?>\n'
                f'<DeleteResult xmlns="{request_actions.S3_NS[1:-1]}">{"".join(errors)}</DeleteResult>'
            ).encode()
            start_response("200 OK", [("Content-Type", "application/xml"), ("Content-Length", str(len(body)))])
            return [body]
        objects = "".join(
            f"<Object><Key>{escape(k)}</Key>" + (f"<VersionId>{escape(v)}</VersionId>" if v else "") + "</Object>"
            for k, v in allowed
        )
        new_body = (
            f'<Delete xmlns="{request_actions.S3_NS[1:-1]}">'
            + ("<Quiet>true</Quiet>" if quiet else "")
            + f"{objects}</Delete>"
        ).encode()
        environ["wsgi.input"] = io.BytesIO(new_body)
        environ["CONTENT_LENGTH"] = str(len(new_body))
        for name in list(environ):  # the body changed: its checksums no longer apply
            if name in CHECKSUM_HEADERS or name.startswith("HTTP_X_AMZ_CHECKSUM_"):
                del environ[name]
        return self._forward(environ, start_response, request_id, None, operation, extra_errors=errors)


def _with_delete_errors(
    chunks: list[bytes], headers: list[tuple[str, str]], errors: list[str]
) -> tuple[list[bytes], list[tuple[str, str]]]:
    text = b"".join(chunks).decode("utf-8")
    closing = "</DeleteResult>"
    if closing in text:
        text = text.replace(closing, "".join(errors) + closing)
    else:  # an empty result written as <DeleteResult .../>
        text = re.sub(
            r"<DeleteResult([^>]*)/>", lambda m: f"<DeleteResult{m.group(1)}>{''.join(errors)}{closing}", text
        )
    body = text.encode("utf-8")
    headers = [(k, v) for k, v in headers if k.lower() != "content-length"] + [("Content-Length", str(len(body)))]
    return [body], headers


def _scope_service(environ: dict[str, Any]) -> str | None:
    """The service named in the credential scope, if the request has one (for the error's shape)."""
    authorization = str(environ.get("HTTP_AUTHORIZATION", ""))
    marker = "Credential="
    if marker in authorization:
        scope = authorization.split(marker, 1)[1].split(",", 1)[0].split("/")
        if len(scope) == 5:
            return scope[3]
    query = request_actions.parse_query(environ.get("QUERY_STRING", ""))
    credential = (query.get("X-Amz-Credential") or [""])[0].split("/")
    return credential[3] if len(credential) == 5 else None
