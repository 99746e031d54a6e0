"""SigV4 verification: botocore signs, the emulator re-computes; every way a request can be wrong is refused."""

from __future__ import annotations

import hashlib
from typing import Any
from urllib.parse import urlsplit

import pytest
from botocore.auth import S3SigV4Auth, S3SigV4QueryAuth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

from dataops_cli.emulator.sigv4 import Secret, SignatureError, verify

OWNER = Secret("AKIAOWNER0000000000A", "owner-secret")
SESSION = Secret("ASIASESSION000000001", "session-secret", "session-token")
KNOWN = {s.access_key: s for s in (OWNER, SESSION)}
HOST = "127.0.0.1:4566"


def environ_of(request: AWSRequest) -> tuple[dict[str, Any], bytes]:
    """What werkzeug hands the WSGI app for this request."""
    parts = urlsplit(request.url)
    raw = parts.path + (f"?{parts.query}" if parts.query else "")
    environ: dict[str, Any] = {"REQUEST_METHOD": request.method, "RAW_URI": raw, "PATH_INFO": parts.path}
    for name, value in request.headers.items():
        value = value.decode() if isinstance(value, bytes) else value
        key = name.upper().replace("-", "_")
        environ[key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else f"HTTP_{key}"] = value
    environ.setdefault("HTTP_HOST", parts.netloc)
    body = request.body or b""
    return environ, body if isinstance(body, bytes) else body.encode()


def signed(
    secret: Secret = OWNER,
    service: str = "lambda",
    method: str = "POST",
    path: str = "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aap-south-1%3A1%3Afunction%3AF/invocations",
    body: bytes = b"{}",
    headers: dict[str, str] | None = None,
    sign_payload: bool = True,
) -> tuple[dict[str, Any], bytes]:
    request = AWSRequest(method=method, url=f"http://{HOST}{path}", data=body, headers=headers or {})
    if not sign_payload:  # as botocore's s3={"payload_signing_enabled": False} does
        request.context["client_config"] = Config(s3={"payload_signing_enabled": False})
    credentials = Credentials(secret.access_key, secret.secret_key, secret.token)
    (S3SigV4Auth if service == "s3" else SigV4Auth)(credentials, service, "ap-south-1").add_auth(request)
    return environ_of(request)


def check(environ: dict[str, Any], body: bytes, now: float | None = None, expired: Any = lambda _k: False) -> Any:
    stamp = environ.get("HTTP_X_AMZ_DATE")
    if now is None:
        from datetime import UTC, datetime

        now = datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC).timestamp() if stamp else 0.0
    return verify(environ, body, KNOWN.get, now, expired)


def refused(environ: dict[str, Any], body: bytes, **kwargs: Any) -> str:
    with pytest.raises(SignatureError) as caught:
        check(environ, body, **kwargs)
    return caught.value.kind


def test_a_botocore_signed_request_verifies_with_its_scope():
    found = check(*signed())
    assert (found.access_key, found.region, found.service) == (OWNER.access_key, "ap-south-1", "lambda")


def test_s3_paths_and_queries_are_verified_as_sent():
    path = "/bucket/a%20b/c%2Bd.csv?list-type=2&prefix=a%20b%2F&encoding-type=url"
    environ, body = signed(service="s3", method="GET", path=path, body=b"")
    assert check(environ, body).service == "s3"
    environ["RAW_URI"] = environ["RAW_URI"].replace("prefix=a%20b", "prefix=zz")
    assert refused(environ, body) == "mismatch"


def test_a_session_needs_its_token():
    environ, body = signed(SESSION)
    assert check(environ, body).access_key == SESSION.access_key
    environ["HTTP_X_AMZ_SECURITY_TOKEN"] = "another-token"
    assert refused(environ, body) == "bad-token"


def test_the_owner_sending_a_token_is_refused():
    environ, body = signed(Secret(OWNER.access_key, OWNER.secret_key, "made-up"))
    assert refused(environ, body) == "bad-token"


@pytest.mark.parametrize(
    ("change", "kind"),
    [
        (lambda e: e.pop("HTTP_AUTHORIZATION"), "missing"),
        (lambda e: e.update(HTTP_AUTHORIZATION="AWS AKIA:sig"), "unsupported"),
        (lambda e: e.update(HTTP_AUTHORIZATION=e["HTTP_AUTHORIZATION"].replace("Signature=", "Sig=")), "incomplete"),
        (
            lambda e: e.update(
                HTTP_AUTHORIZATION=e["HTTP_AUTHORIZATION"].replace("SignedHeaders=host;", "SignedHeaders=")
            ),
            "incomplete",
        ),
        (
            lambda e: e.update(HTTP_AUTHORIZATION=e["HTTP_AUTHORIZATION"].replace(OWNER.access_key, "AKIANOBODY")),
            "unknown-key",
        ),
        (lambda e: e.update(HTTP_AUTHORIZATION=e["HTTP_AUTHORIZATION"][:-4] + "0000"), "mismatch"),
        (lambda e: e.update(HTTP_X_AMZ_DATE="20200101T000000Z"), "incomplete"),  # scope date differs
        (lambda e: e.update(REQUEST_METHOD="PUT"), "mismatch"),
        (lambda e: e.update(HTTP_HOST="127.0.0.1:9999"), "mismatch"),
    ],
)
def test_every_way_to_be_wrong_is_refused(change, kind):
    environ, body = signed()
    change(environ)
    assert refused(environ, body) == kind


def test_a_changed_body_is_refused():
    environ, _ = signed(body=b'{"a": 1}')
    assert refused(environ, b'{"a": 2}') == "mismatch"


def test_s3_body_hash_is_checked_and_unsigned_payload_accepted():
    environ, body = signed(service="s3", method="PUT", path="/b/k", body=b"data")
    assert environ["HTTP_X_AMZ_CONTENT_SHA256"] == hashlib.sha256(b"data").hexdigest()
    assert refused(environ, b"other") == "payload"
    environ, body = signed(service="s3", method="PUT", path="/b/k", body=b"data", sign_payload=False)
    assert environ["HTTP_X_AMZ_CONTENT_SHA256"] == "UNSIGNED-PAYLOAD"
    assert check(environ, b"anything").service == "s3"  # as S3 does: the signature covers the headers only
    environ["HTTP_X_AMZ_CONTENT_SHA256"] = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"  # chunk-signed: not botocore's
    assert refused(environ, body) == "unsupported"


def test_old_or_future_requests_are_refused():
    environ, body = signed()
    from datetime import UTC, datetime

    at = datetime.strptime(environ["HTTP_X_AMZ_DATE"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC).timestamp()
    assert check(environ, body, now=at + 14 * 60).access_key == OWNER.access_key
    assert refused(environ, body, now=at + 16 * 60) == "skewed"
    assert refused(environ, body, now=at - 16 * 60) == "skewed"


def test_a_revoked_session_answers_expired_token():
    environ, body = signed(Secret("ASIAGONE000000000001", "s", "t"))
    assert refused(environ, body, expired=lambda key: key == "ASIAGONE000000000001") == "expired-token"


def test_presigned_urls_verify_until_they_expire():
    request = AWSRequest(method="GET", url=f"http://{HOST}/b/a%20b.txt")
    signer = S3SigV4QueryAuth(Credentials(OWNER.access_key, OWNER.secret_key), "s3", "ap-south-1", expires=60)
    signer.add_auth(request)
    environ, body = environ_of(request)
    environ.pop("HTTP_AUTHORIZATION", None)
    from urllib.parse import parse_qs

    stamp = parse_qs(urlsplit(request.url).query)["X-Amz-Date"][0]
    from datetime import UTC, datetime

    at = datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC).timestamp()
    assert check(environ, body, now=at + 30).service == "s3"
    assert refused(environ, body, now=at + 61) == "expired"
    environ["RAW_URI"] = environ["RAW_URI"].replace("a%20b", "other")
    assert refused(environ, body, now=at + 30) == "mismatch"
