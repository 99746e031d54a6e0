"""The one place that builds boto3 clients, counts API calls, and explains AWS errors.

Every client shares one session (profile, region, endpoint, retry mode) and one call
counter hooked into botocore's `before-call` event, so "zero mutating calls on a second
`up`" is measured, not assumed. `not_found` turns AWS's many spellings of "absent" into
a boolean, and nothing else: a 403 is never mistaken for "not there".
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Mapping
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

import dataops_cli.cli.exits as exits

READ_PREFIXES = ("Get", "List", "Describe", "Head", "Filter", "Lookup")
# Every "absent" code the reads and deletes we make can answer (botocore's error shapes for
# s3/iam/lambda/logs/scheduler/cloudwatch/sns, plus S3's per-subresource codes):
NOT_FOUND_CODES = frozenset(
    {
        "404",
        "NoSuchBucket",  # s3 HeadBucket/DeleteBucket/...
        "NoSuchKey",  # s3 HeadObject/GetObject
        "NoSuchEntity",  # iam GetRole/GetRolePolicy/DeleteRole (NoSuchEntityException)
        "NoSuchLifecycleConfiguration",
        "NoSuchBucketPolicy",
        "NoSuchTagSet",
        "NoSuchTagSetError",
        "ServerSideEncryptionConfigurationNotFoundError",
        "NoSuchPublicAccessBlockConfiguration",
        "ResourceNotFoundException",  # lambda, logs, scheduler, cloudwatch ListTagsForResource
        "EntityNotFoundException",  # glue GetJob/DeleteJob/GetTags (HTTP 400, not 404)
        "ResourceNotFound",  # cloudwatch GetDashboard (DashboardNotFoundError), DeleteAlarms; sns tags
        "NotFoundException",
        "NotFound",  # sns GetTopicAttributes/DeleteTopic (NotFoundException's wire code); s3 HEAD
        "ParameterNotFound",  # ssm
    }
)
# A 4xx with another code whose message says the thing does not exist, e.g. LocalStack's
# GetDashboard answer "InvalidParameterValue: Dashboard X does not exist." (AWS: ResourceNotFound).
ABSENT_MESSAGE = re.compile(r"does not exist|not found|cannot be found|no such", re.IGNORECASE)
NEVER_ABSENT = frozenset({"AccessDenied", "AccessDeniedException", "AuthorizationError", "403", "401"})
# Creating something that a concurrent `up` of the same stack created a moment earlier:
ALREADY_EXISTS_CODES = frozenset(
    {
        "BucketAlreadyOwnedByYou",
        "EntityAlreadyExists",
        "ResourceAlreadyExistsException",
        "ResourceConflictException",
        "ConflictException",
        "OperationAborted",  # s3: "A conflicting conditional operation is currently in progress"
        "OperationAbortedException",  # logs
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
    """An error for the user: one line (plus an optional hint), exit code 1, no traceback.

    A subclass may set another `exit_code` (2: the input or the environment is unusable).
    """

    exit_code = exits.FAILED

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def http_status(exc: ClientError) -> int | None:
    return exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")


def error_message(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Message", "") or "")


def not_found(exc: ClientError, name: str | None = None) -> bool:
    """True when the answer means "absent": a known code, a 404, or a 4xx saying the named thing does not exist.

    The message rule needs `name` (the resource asked about) to appear in the message, so an
    unrelated validation error ("role X does not exist" while reading a function) is never
    taken for the function's absence.
    """
    code, status = error_code(exc), http_status(exc)
    if code in NEVER_ABSENT or status in (401, 403):
        return False
    if code in NOT_FOUND_CODES or status == 404:
        return True
    message = error_message(exc)
    return (
        name is not None
        and status is not None
        and 400 <= status < 500
        and name in message
        and ABSENT_MESSAGE.search(message) is not None
    )


def already_exists(exc: ClientError) -> bool:
    """A create/update lost a race with another writer (another `up` of the same stack)."""
    return error_code(exc) in ALREADY_EXISTS_CODES


# The request parameters that name the thing read: a 4xx whose message says it does not exist means absent.
NAME_PARAMETERS = ("Bucket", "Key", "FunctionName", "RoleName", "DashboardName", "Name", "TopicArn", "PolicyName")


def read_or_none(call: Callable[..., Any], **kwargs: Any) -> Any:
    """A read that answers None when the thing is absent (and raises on anything else, 403 included)."""
    try:
        return call(**kwargs)
    except ClientError as exc:
        named = [str(kwargs[k]) for k in NAME_PARAMETERS if k in kwargs]
        if not_found(exc) or any(not_found(exc, name) for name in named):
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
    """Counts API calls by operation; mutating = anything that is not a read.

    `observers` also get each call's parameters as the caller gave them (botocore's
    `before-parameter-build` event): the deployer-policy test maps every call to the IAM
    action and resource it needs (tests/functional/test_deployer_policy.py).
    """

    calls: Counter = field(default_factory=Counter)
    listeners: list[Callable[[str, str], None]] = field(default_factory=list)
    observers: list[Callable[[str, str, Mapping[str, Any]], None]] = field(default_factory=list)

    def __call__(self, model: Any = None, **_: Any) -> None:
        service = model.service_model.service_name if model is not None else "?"
        name = model.name if model is not None else "?"
        self.calls[(service, name)] += 1
        for listener in self.listeners:
            listener(service, name)

    def parameters(self, model: Any = None, params: Mapping[str, Any] | None = None, **_: Any) -> None:
        if model is None or not self.observers:
            return
        for observer in self.observers:
            observer(model.service_model.service_name, model.name, dict(params or {}))

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
            retries = {"mode": "standard", "max_attempts": 2} if self.local else {"mode": "adaptive", "max_attempts": 8}
            self._clients[service] = self._build(service, retries)
        return self._clients[service]

    def probe_client(self, service: str) -> Any:
        """A client that never retries: for a request the backend may reject (a 500 is not retried for 3-30 s)."""
        key = f"{service}#probe"
        if key not in self._clients:
            self._clients[key] = self._build(service, {"mode": "standard", "total_max_attempts": 1})
        return self._clients[key]

    def _build(self, service: str, retries: dict[str, Any]) -> Any:
        if self._session is None:
            keys = dict(zip(("aws_access_key_id", "aws_secret_access_key"), self.credentials or (), strict=False))
            self._session = boto3.Session(profile_name=self.profile, region_name=self.region, **keys)
        client = self._session.client(
            service,
            region_name=self.region,
            endpoint_url=self.endpoint_url,
            config=BotoConfig(retries=retries, connect_timeout=5, read_timeout=70, user_agent_extra="dataops"),
        )
        client.meta.events.register("before-call.*.*", self.counter)
        client.meta.events.register("before-parameter-build.*.*", self.counter.parameters)
        return client

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
