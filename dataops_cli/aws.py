"""The one place that builds boto3 clients, counts API calls, and explains AWS errors.

Every client shares one session (profile, region, endpoint, retry mode) and one call
counter hooked into botocore's `before-call` event, so "zero mutating calls on a second
`up`" is measured, not assumed. `not_found` turns AWS's many spellings of "absent" into
a boolean, and nothing else: a 403 is never mistaken for "not there".
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.config import Config as BotoConfig
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
)

READ_PREFIXES = ("Get", "List", "Describe", "Head", "Filter", "Lookup")
NOT_FOUND_CODES = frozenset(
    {
        "404",
        "NoSuchBucket",
        "NoSuchKey",
        "NoSuchEntity",
        "NoSuchLifecycleConfiguration",
        "NoSuchBucketPolicy",
        "NoSuchTagSet",
        "ServerSideEncryptionConfigurationNotFoundError",
        "NoSuchPublicAccessBlockConfiguration",
        "ResourceNotFoundException",
        "ResourceNotFound",
        "NotFoundException",
        "ParameterNotFound",
        "NotFound",
    }
)
# Error codes with a known fix: shown as a hint under the one-line error.
HINTS = {
    "ExpiredToken": "your session credentials expired: refresh them (aws sso login, or new keys)",
    "InvalidClientTokenId": "the access key is not valid in this account/partition: check AWS_PROFILE",
    "UnrecognizedClientException": "the credentials are not valid: check AWS_PROFILE / AWS_ACCESS_KEY_ID",
    "AccessDenied": "the caller lacks this permission: see docs/PERMISSIONS.md for the deployer's policy",
    "AccessDeniedException": "the caller lacks this permission: see docs/PERMISSIONS.md for the deployer's policy",
    "BucketAlreadyExists": "bucket names are global and another account owns this one: set bucket.name",
    "IllegalLocationConstraintException": "the bucket exists in another region: set stack.region or bucket.name",
    "AuthorizationHeaderMalformed": "the region is wrong for this bucket: check stack.region",
    "301": "the bucket exists in another region (or account): check stack.region, or set bucket.name",
    "PermanentRedirect": "the bucket exists in another region (or account): check stack.region, or set bucket.name",
}


class DataopsError(Exception):
    """An error for the user: one line (plus an optional hint), exit code 1, no traceback."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def not_found(exc: ClientError) -> bool:
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return error_code(exc) in NOT_FOUND_CODES or (status == 404 and error_code(exc) not in ("AccessDenied",))


def read_or_none(call: Callable[..., Any], **kwargs: Any) -> Any:
    """A read that answers None when the thing is absent (and raises on anything else, 403 included)."""
    try:
        return call(**kwargs)
    except ClientError as exc:
        if not_found(exc):
            return None
        raise


def explain(exc: BaseException, doing: str) -> DataopsError:
    """Turn a botocore/boto3 exception into one clear line: what, which resource, code, message, fix."""
    if isinstance(exc, ClientError):
        code = error_code(exc)
        message = exc.response.get("Error", {}).get("Message", "") or str(exc)
        return DataopsError(f"{doing} failed: {code}: {message}", HINTS.get(code))
    if isinstance(exc, (NoCredentialsError, PartialCredentialsError)):
        return DataopsError(
            f"{doing} failed: no AWS credentials found",
            "configure credentials (aws configure, AWS_PROFILE or --profile), or try everything offline with --local",
        )
    if isinstance(exc, NoRegionError):
        return DataopsError(f"{doing} failed: no region", "set stack.region in config.toml or pass --region")
    if isinstance(exc, EndpointConnectionError):
        return DataopsError(
            f"{doing} failed: cannot reach {exc.kwargs.get('endpoint_url', 'the endpoint')}",
            "check the network and stack.region; with --local, is the emulator running (dataops local status)?",
        )
    return DataopsError(f"{doing} failed: {exc}")


@dataclass
class CallCounter:
    """Counts API calls by operation; mutating = anything that is not a read."""

    calls: Counter = field(default_factory=Counter)
    listeners: list[Callable[[str, str], None]] = field(default_factory=list)

    def __call__(self, model: Any = None, **_: Any) -> None:
        service = model.service_model.service_name if model is not None else "?"
        name = model.name if model is not None else "?"
        self.calls[(service, name)] += 1
        for listener in self.listeners:
            listener(service, name)

    @staticmethod
    def is_mutating(operation: str) -> bool:
        return not operation.startswith(READ_PREFIXES)

    @property
    def total(self) -> int:
        return sum(self.calls.values())

    @property
    def mutating(self) -> int:
        return sum(n for (_, op), n in self.calls.items() if self.is_mutating(op))

    def mutating_calls(self) -> list[str]:
        return sorted(f"{svc}:{op}" for (svc, op), n in self.calls.items() if self.is_mutating(op) for _ in range(n))


@dataclass
class Aws:
    """Clients for one region/profile/endpoint, built lazily and cached."""

    region: str
    profile: str | None = None
    endpoint_url: str | None = None
    credentials: tuple[str, str] | None = None  # (access key, secret): the emulator's fake ones
    counter: CallCounter = field(default_factory=CallCounter)
    _session: Any = None
    _clients: dict[str, Any] = field(default_factory=dict)
    _account: str | None = None

    @property
    def local(self) -> bool:
        """True only against the embedded emulator (never for AWS)."""
        return self.endpoint_url is not None

    def client(self, service: str) -> Any:
        if service not in self._clients:
            if self._session is None:
                keys = dict(zip(("aws_access_key_id", "aws_secret_access_key"), self.credentials or (), strict=False))
                self._session = boto3.Session(profile_name=self.profile, region_name=self.region, **keys)
            retries = {"mode": "standard", "max_attempts": 2} if self.local else {"mode": "adaptive", "max_attempts": 8}
            client = self._session.client(
                service,
                region_name=self.region,
                endpoint_url=self.endpoint_url,
                config=BotoConfig(retries=retries, connect_timeout=5, read_timeout=70, user_agent_extra="dataops"),
            )
            client.meta.events.register("before-call.*.*", self.counter)
            self._clients[service] = client
        return self._clients[service]

    @property
    def account_id(self) -> str:
        if self._account is None:
            try:
                self._account = self.client("sts").get_caller_identity()["Account"]
            except (ClientError, BotoCoreError) as exc:
                raise explain(exc, "finding the AWS account (sts:GetCallerIdentity)") from exc
        return self._account

    @property
    def partition(self) -> str:
        if self.region.startswith("cn-"):
            return "aws-cn"
        return "aws-us-gov" if self.region.startswith("us-gov-") else "aws"

    def arn(self, service: str, resource: str, region: bool = True, account: bool = True) -> str:
        return (
            f"arn:{self.partition}:{service}:{self.region if region else ''}:"
            f"{self.account_id if account else ''}:{resource}"
        )
