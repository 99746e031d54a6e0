"""Verify the AWS Signature Version 4 of a request the emulator received, with botocore's own signer.

The request is rebuilt from what arrived (method, the raw path and query as sent, the signed
headers, the body) and botocore's SigV4Auth (S3SigV4Auth for S3, the query variants for
presigned URLs) computes the canonical request, the string to sign and the signature for the
credentials the access key names; they must equal the ones sent. Nothing of SigV4 itself is
re-implemented here: only the parsing of what the client sent.
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html

Checked as AWS does: the credential scope's date equals X-Amz-Date's; the request is at most
15 minutes old or ahead (presigned: not past X-Amz-Expires); a session's token is the one its
credentials came with; a hex X-Amz-Content-SHA256 equals the body's hash. UNSIGNED-PAYLOAD and
STREAMING-UNSIGNED-PAYLOAD-TRAILER are accepted as S3 accepts them (the signature then covers
the headers only); chunk-signed uploads (STREAMING-AWS4-HMAC-SHA256-PAYLOAD), which botocore
does not send, are refused with a message saying so.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import unquote

from botocore.auth import S3SigV4Auth, S3SigV4QueryAuth, SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

ALGORITHM = "AWS4-HMAC-SHA256"
MAX_SKEW_SECONDS = 15 * 60  # https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-authenticating-requests.html
MAX_PRESIGN_SECONDS = 7 * 24 * 3600
UNSIGNED_PAYLOADS = ("UNSIGNED-PAYLOAD", "STREAMING-UNSIGNED-PAYLOAD-TRAILER")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_AUTH_FIELD = re.compile(r"(Credential|SignedHeaders|Signature)=([^,\s]+)")


@dataclass(frozen=True)
class Secret:
    """What the emulator knows of an access key: its secret and, for a role session, its token."""

    access_key: str
    secret_key: str
    token: str | None = None


@dataclass(frozen=True)
class Signed:
    """A request whose signature checked out: who signed it, and the scope they signed for."""

    access_key: str
    region: str
    service: str


class SignatureError(Exception):
    """Why a request's signature is refused: AWS's code for it (per protocol family) and a message."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind, self.message = kind, message


# kind -> (S3's error code, the JSON services' code, the query services' code), HTTP 403 unless noted.
ERROR_CODES = {
    "missing": ("AccessDenied", "MissingAuthenticationTokenException", "MissingAuthenticationToken"),
    "incomplete": ("AuthorizationHeaderMalformed", "IncompleteSignatureException", "IncompleteSignature"),
    "unknown-key": ("InvalidAccessKeyId", "UnrecognizedClientException", "InvalidClientTokenId"),
    "bad-token": ("InvalidToken", "UnrecognizedClientException", "InvalidClientTokenId"),
    "expired-token": ("ExpiredToken", "ExpiredTokenException", "ExpiredToken"),
    "mismatch": ("SignatureDoesNotMatch", "InvalidSignatureException", "SignatureDoesNotMatch"),
    "skewed": ("RequestTimeTooSkewed", "InvalidSignatureException", "SignatureDoesNotMatch"),
    "expired": ("AccessDenied", "InvalidSignatureException", "SignatureDoesNotMatch"),
    "payload": ("XAmzContentSHA256Mismatch", "InvalidSignatureException", "SignatureDoesNotMatch"),
    "unsupported": ("NotImplemented", "InvalidSignatureException", "IncompleteSignature"),
}


def header_environ_key(name: str) -> str:
    lowered = name.lower()
    if lowered in ("content-type", "content-length"):
        return lowered.upper().replace("-", "_")
    return "HTTP_" + lowered.upper().replace("-", "_")


def raw_target(environ: Mapping[str, object]) -> tuple[str, str]:
    """(path, query) exactly as the client sent them (percent-encoding untouched): what it signed."""
    raw = str(environ.get("RAW_URI") or environ.get("REQUEST_URI") or "")
    if not raw:
        path, query = str(environ.get("PATH_INFO", "")), str(environ.get("QUERY_STRING", ""))
        return path, query
    if "://" in raw:  # an absolute-form target: keep the path and query only
        raw = "/" + raw.split("://", 1)[1].partition("/")[2]
    path, _, query = raw.partition("?")
    return path, query


def _parse_header(authorization: str) -> tuple[str, list[str], str]:
    if authorization.startswith("AWS "):
        raise SignatureError("unsupported", "Signature Version 2 is not supported: sign with SigV4")
    if not authorization.startswith(ALGORITHM + " "):
        raise SignatureError("incomplete", f"Authorization must use {ALGORITHM}")
    fields = dict(_AUTH_FIELD.findall(authorization))
    missing = [name for name in ("Credential", "SignedHeaders", "Signature") if name not in fields]
    if missing:
        raise SignatureError("incomplete", f"Authorization header requires {', '.join(missing)}")
    return fields["Credential"], fields["SignedHeaders"].split(";"), fields["Signature"]


def _query_pairs(query: str) -> list[tuple[str, str]]:
    return [(unquote(k), unquote(v)) for k, _, v in (part.partition("=") for part in query.split("&") if part)]


def verify(
    environ: Mapping[str, object],
    body: bytes,
    lookup: Callable[[str], Secret | None],
    now: float,
    expired: Callable[[str], bool] = lambda _key: False,
) -> Signed:
    """The signer of this request, or SignatureError saying why the signature is refused."""
    path, query = raw_target(environ)
    authorization = str(environ.get("HTTP_AUTHORIZATION", ""))
    params = dict(_query_pairs(query))
    presigned = not authorization and params.get("X-Amz-Algorithm") is not None
    if not authorization and not presigned:
        raise SignatureError("missing", "Request is missing Authentication Token")
    if presigned:
        if params.get("X-Amz-Algorithm") != ALGORITHM:
            raise SignatureError("unsupported", f"X-Amz-Algorithm must be {ALGORITHM}")
        credential = params.get("X-Amz-Credential", "")
        signed_headers = params.get("X-Amz-SignedHeaders", "").split(";")
        signature = params.get("X-Amz-Signature", "")
        amz_date = params.get("X-Amz-Date", "")
        token = params.get("X-Amz-Security-Token")
    else:
        credential, signed_headers, signature = _parse_header(authorization)
        amz_date = str(environ.get("HTTP_X_AMZ_DATE", ""))
        token = environ.get("HTTP_X_AMZ_SECURITY_TOKEN")  # type: ignore[assignment]
    scope = credential.split("/")
    if len(scope) != 5 or scope[4] != "aws4_request" or not all(scope):
        raise SignatureError(
            "incomplete", f"Credential must be KEY/DATE/REGION/SERVICE/aws4_request, got {credential!r}"
        )
    access_key, day, region, service = scope[:4]
    if "host" not in signed_headers:
        raise SignatureError("incomplete", "SignedHeaders must include host")
    when = _timestamp(amz_date)
    if day != amz_date[:8]:
        raise SignatureError("incomplete", f"the credential scope's date {day} is not X-Amz-Date's {amz_date[:8]}")
    if presigned:
        _check_presigned_window(params, when, now)
    elif abs(now - when) > MAX_SKEW_SECONDS:
        raise SignatureError("skewed", "The difference between the request time and the current time is too large.")
    secret = lookup(access_key)
    if secret is None:
        if expired(access_key):
            raise SignatureError("expired-token", "The security token included in the request is expired")
        raise SignatureError("unknown-key", "The security token included in the request is invalid.")
    if secret.token is not None and not hmac.compare_digest(str(token or ""), secret.token):
        raise SignatureError("bad-token", "The security token included in the request is invalid.")
    if secret.token is None and token:
        raise SignatureError("bad-token", "The security token included in the request is invalid.")
    if not presigned:
        _check_payload(environ, body)
    expected = _signature(environ, body, path, query, signed_headers, secret, region, service, amz_date, presigned)
    if not hmac.compare_digest(expected, signature):
        raise SignatureError(
            "mismatch",
            "The request signature we calculated does not match the signature you provided. "
            "Check your key and signing method.",
        )
    return Signed(access_key, region, service)


def _timestamp(amz_date: str) -> float:
    try:
        return datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC).timestamp()
    except ValueError:
        raise SignatureError("incomplete", f"X-Amz-Date must be YYYYMMDDTHHMMSSZ, got {amz_date!r}") from None


def _check_presigned_window(params: Mapping[str, str], when: float, now: float) -> None:
    try:
        expires = int(params.get("X-Amz-Expires", ""))
    except ValueError:
        raise SignatureError("incomplete", "X-Amz-Expires must be a number of seconds") from None
    if not 0 < expires <= MAX_PRESIGN_SECONDS:
        raise SignatureError("incomplete", f"X-Amz-Expires must be between 1 and {MAX_PRESIGN_SECONDS}")
    if now > when + expires:
        raise SignatureError("expired", "Request has expired")
    if when - now > MAX_SKEW_SECONDS:
        raise SignatureError("skewed", "The request is dated in the future.")


def _check_payload(environ: Mapping[str, object], body: bytes) -> None:
    declared = str(environ.get("HTTP_X_AMZ_CONTENT_SHA256", ""))
    if not declared or declared in UNSIGNED_PAYLOADS:
        return
    if declared.startswith("STREAMING-"):
        raise SignatureError("unsupported", f"the emulator does not verify chunk-signed uploads ({declared})")
    if not _HEX64.match(declared):
        raise SignatureError("payload", f"X-Amz-Content-SHA256 {declared!r} is not a SHA-256 hex digest")
    if not hmac.compare_digest(hashlib.sha256(body).hexdigest(), declared):
        raise SignatureError("payload", "The provided 'x-amz-content-sha256' header does not match what was computed.")


def _signature(
    environ: Mapping[str, object],
    body: bytes,
    path: str,
    query: str,
    signed_headers: list[str],
    secret: Secret,
    region: str,
    service: str,
    amz_date: str,
    presigned: bool,
) -> str:
    headers = {}
    for name in signed_headers:
        value = environ.get(header_environ_key(name))
        if value is None:
            raise SignatureError("incomplete", f"the signed header {name!r} is not in the request")
        headers[name] = str(value)
    if presigned:  # the canonical query has every parameter but the signature itself
        query = "&".join(p for p in query.split("&") if p and not p.startswith("X-Amz-Signature="))
    url = f"http://{headers.get('host', 'localhost')}{path}" + (f"?{query}" if query else "")
    request = AWSRequest(method=str(environ.get("REQUEST_METHOD", "GET")), url=url, headers=headers, data=body)
    request.context["timestamp"] = amz_date
    credentials = Credentials(secret.access_key, secret.secret_key, secret.token)
    if presigned:
        signer: SigV4Auth = (S3SigV4QueryAuth if service == "s3" else SigV4QueryAuth)(credentials, service, region)
    else:
        signer = (S3SigV4Auth if service == "s3" else SigV4Auth)(credentials, service, region)
    canonical = signer.canonical_request(request)
    return signer.signature(signer.string_to_sign(request, canonical), request)
