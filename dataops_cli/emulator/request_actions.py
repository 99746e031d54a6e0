"""Which IAM action, on which resource ARN, with which condition keys, an HTTP request asks for.

The emulator authorizes a role session's request (a function's or a Glue job's own calls) by
mapping it, as the service does, to the actions of the Service Authorization Reference
(https://docs.aws.amazon.com/service-authorization/latest/reference/reference_policies_actions-resources-contextkeys.html):
S3 object and bucket operations (multipart included; HeadObject is s3:GetObject, ListObjectsV2
is s3:ListBucket with s3:prefix, DeleteObjects is s3:DeleteObject per key), CloudWatch Logs
streams and events, CloudWatch PutMetricData (with cloudwatch:namespace), Lambda invoke and
reads, Glue job runs. A request this module does not know raises UnmappedRequestError: the caller refuses
it (fail closed) instead of letting an unknown operation through.
"""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ElementTree
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote

S3_NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"
LAMBDA_FUNCTIONS = "/2015-03-31/functions/"


class UnmappedRequestError(Exception):
    """The request is not one the emulator can map to an IAM action."""


@dataclass(frozen=True)
class HttpRequest:
    """What the mapping needs of a request: all decoded (path, query values), headers lower-cased."""

    method: str
    path: str
    query: Mapping[str, list[str]]
    headers: Mapping[str, str]
    body: bytes
    service: str  # the SigV4 credential scope's service
    region: str
    account: str
    partition: str = "aws"

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def param(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None


@dataclass(frozen=True)
class Authz:
    """One thing to authorize: an action on a resource, with the request's condition keys."""

    action: str
    resource: str
    context: Mapping[str, str] = field(default_factory=dict)
    key: str | None = None  # DeleteObjects: the object this entry is for (denied keys fail one by one)


@dataclass(frozen=True)
class Operation:
    """The operation's name (for messages) and everything it needs authorized (empty: always allowed)."""

    name: str
    checks: list[Authz]


def parse_query(query: str) -> dict[str, list[str]]:
    return parse_qs(query, keep_blank_values=True)


def operation_of(request: HttpRequest) -> Operation:
    mapper = MAPPERS.get(request.service)
    if mapper is None:
        raise UnmappedRequestError(f"the emulator maps no {request.service} request to an IAM action")
    return mapper(request)


# ---- S3 ---------------------------------------------------------------------------------------

BUCKET_READS = {
    "location": "s3:GetBucketLocation",
    "versioning": "s3:GetBucketVersioning",
    "tagging": "s3:GetBucketTagging",
    "policy": "s3:GetBucketPolicy",
    "encryption": "s3:GetEncryptionConfiguration",
    "acl": "s3:GetBucketAcl",
    "lifecycle": "s3:GetLifecycleConfiguration",
    "publicAccessBlock": "s3:GetBucketPublicAccessBlock",
}
OBJECT_READS = {"tagging": "s3:GetObjectTagging", "acl": "s3:GetObjectAcl", "attributes": "s3:GetObjectAttributes"}
WRITE_CONTEXT_HEADERS = ("x-amz-acl", "x-amz-server-side-encryption", "x-amz-storage-class")


def _s3(request: HttpRequest) -> Operation:
    bucket, _, key = request.path.lstrip("/").partition("/")
    arn = f"arn:{request.partition}:s3:::{bucket}"
    if not bucket:
        if request.method == "GET":
            return Operation("ListBuckets", [Authz("s3:ListAllMyBuckets", "*")])
        raise UnmappedRequestError(f"S3 {request.method} / is not an operation the emulator maps")
    subresources = [name for name in request.query if not name.startswith(("X-Amz-", "x-id"))]
    if key:
        return _s3_object(request, arn, bucket, key, subresources)
    return _s3_bucket(request, arn, subresources)


def _list_context(request: HttpRequest) -> dict[str, str]:
    # An absent prefix is the empty prefix: IAM's own example allows listing the root with
    # "s3:prefix": [""] (https://docs.aws.amazon.com/AmazonS3/latest/userguide/amazon-s3-policy-keys.html).
    context = {"s3:prefix": request.param("prefix") or ""}
    for name in ("delimiter", "max-keys"):
        value = request.param(name)
        if value is not None:
            context[f"s3:{name}"] = value
    return context


def _s3_bucket(request: HttpRequest, arn: str, subresources: list[str]) -> Operation:
    method = request.method
    listing = {"list-type", "prefix", "delimiter", "max-keys", "continuation-token", "start-after", "encoding-type"}
    listing |= {"marker", "fetch-owner", "key-marker", "version-id-marker", "upload-id-marker"}
    rest = [name for name in subresources if name not in listing]
    if method == "HEAD" and not rest:
        return Operation("HeadBucket", [Authz("s3:ListBucket", arn)])
    if method == "GET" and not rest:
        name = "ListObjectsV2" if request.param("list-type") == "2" else "ListObjects"
        return Operation(name, [Authz("s3:ListBucket", arn, _list_context(request))])
    if method == "GET" and rest == ["versions"]:
        return Operation("ListObjectVersions", [Authz("s3:ListBucketVersions", arn, _list_context(request))])
    if method == "GET" and rest == ["uploads"]:
        return Operation("ListMultipartUploads", [Authz("s3:ListBucketMultipartUploads", arn)])
    if method == "GET" and len(rest) == 1 and rest[0] in BUCKET_READS:
        return Operation(BUCKET_READS[rest[0]], [Authz(BUCKET_READS[rest[0]], arn)])
    if method == "POST" and rest == ["delete"]:
        return Operation("DeleteObjects", _delete_objects(request, arn))
    if method == "PUT" and not rest:
        return Operation("CreateBucket", [Authz("s3:CreateBucket", arn)])
    if method == "DELETE" and not rest:
        return Operation("DeleteBucket", [Authz("s3:DeleteBucket", arn)])
    raise UnmappedRequestError(f"S3 {method} on a bucket with {sorted(rest)} is not an operation the emulator maps")


def delete_objects_keys(body: bytes) -> list[tuple[str, str | None]]:
    """(key, version id) of every object a DeleteObjects body names."""
    try:
        root = ElementTree.parse(io.BytesIO(body)).getroot()
    except ElementTree.ParseError as exc:
        raise UnmappedRequestError(f"the DeleteObjects body is not XML: {exc}") from exc
    found = []
    for entry in root.iter():
        if entry.tag.removeprefix(S3_NS) != "Object":
            continue
        key = version = None
        for child in entry:
            name = child.tag.removeprefix(S3_NS)
            if name == "Key":
                key = child.text or ""
            elif name == "VersionId":
                version = child.text
        if key is None:
            raise UnmappedRequestError("a DeleteObjects entry has no Key")
        found.append((key, version))
    return found


def _delete_objects(request: HttpRequest, arn: str) -> list[Authz]:
    checks = []
    for key, version in delete_objects_keys(request.body):
        action = "s3:DeleteObjectVersion" if version else "s3:DeleteObject"
        context = {"s3:VersionId": version} if version else {}
        checks.append(Authz(action, f"{arn}/{key}", context, key=key))
    return checks


def _write_context(request: HttpRequest) -> dict[str, str]:
    return {f"s3:{name}": value for name in WRITE_CONTEXT_HEADERS if (value := request.header(name)) is not None}


def _copy_source(request: HttpRequest) -> Authz | None:
    source = request.header("x-amz-copy-source")
    if source is None:
        return None
    path, _, query = unquote(source).lstrip("/").partition("?")
    version = parse_query(query).get("versionId", [None])[0]
    action = "s3:GetObjectVersion" if version else "s3:GetObject"
    return Authz(action, f"arn:{request.partition}:s3:::{path}")


def _s3_object(request: HttpRequest, arn: str, bucket: str, key: str, subresources: list[str]) -> Operation:
    method, resource = request.method, f"{arn}/{key}"
    version = request.param("versionId")
    read = ("s3:GetObjectVersion", {"s3:VersionId": version}) if version else ("s3:GetObject", {})
    extras = {"versionId", "partNumber", "response-content-type", "response-content-disposition"}
    extras |= {"response-cache-control", "response-content-encoding", "response-expires", "response-content-language"}
    rest = sorted(name for name in subresources if name not in extras)
    if method in ("GET", "HEAD") and not rest:
        return Operation("GetObject" if method == "GET" else "HeadObject", [Authz(read[0], resource, read[1])])
    if method == "GET" and rest == ["uploadId"]:
        return Operation("ListParts", [Authz("s3:ListMultipartUploadParts", resource)])
    if method == "GET" and len(rest) == 1 and rest[0] in OBJECT_READS:
        return Operation(OBJECT_READS[rest[0]], [Authz(OBJECT_READS[rest[0]], resource)])
    if method == "PUT" and rest in ([], ["uploadId"]):
        if rest and request.param("partNumber") is None:
            raise UnmappedRequestError("S3 PUT with uploadId and no partNumber is not an operation")
        name = "UploadPart" if rest else "PutObject"
        checks = [Authz("s3:PutObject", resource, _write_context(request))]
        if not rest and request.header("x-amz-tagging"):
            checks.append(Authz("s3:PutObjectTagging", resource))
        source = _copy_source(request)
        if source is not None:
            name = "UploadPartCopy" if rest else "CopyObject"
            checks.append(source)
        return Operation(name, checks)
    if method == "PUT" and rest == ["tagging"]:
        return Operation("PutObjectTagging", [Authz("s3:PutObjectTagging", resource)])
    if method == "POST" and rest == ["uploads"]:
        return Operation("CreateMultipartUpload", [Authz("s3:PutObject", resource, _write_context(request))])
    if method == "POST" and rest == ["uploadId"]:
        return Operation("CompleteMultipartUpload", [Authz("s3:PutObject", resource)])
    if method == "DELETE" and rest == ["uploadId"]:
        return Operation("AbortMultipartUpload", [Authz("s3:AbortMultipartUpload", resource)])
    if method == "DELETE" and not rest:
        action = "s3:DeleteObjectVersion" if version else "s3:DeleteObject"
        return Operation("DeleteObject", [Authz(action, resource, {"s3:VersionId": version} if version else {})])
    raise UnmappedRequestError(f"S3 {method} on an object with {rest} is not an operation the emulator maps")


# ---- JSON-protocol services: the operation is the X-Amz-Target's suffix --------------------------


def _json_body(request: HttpRequest) -> dict[str, Any]:
    try:
        body = json.loads(request.body or b"{}")
    except ValueError as exc:
        raise UnmappedRequestError(f"the request body is not JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise UnmappedRequestError("the request body is not a JSON object")
    return body


def _target_operation(request: HttpRequest) -> str:
    target = request.header("x-amz-target") or ""
    if "." not in target:
        raise UnmappedRequestError(f"a {request.service} request without X-Amz-Target")
    return target.rsplit(".", 1)[1]


def _logs(request: HttpRequest) -> Operation:
    operation = _target_operation(request)
    body = _json_body(request)
    base = f"arn:{request.partition}:logs:{request.region}:{request.account}:log-group:"
    group, stream = str(body.get("logGroupName", "")), str(body.get("logStreamName", ""))
    on_group = {"CreateLogGroup", "DescribeLogStreams", "FilterLogEvents", "DeleteLogGroup"}
    on_stream = {"CreateLogStream", "PutLogEvents", "GetLogEvents"}
    if operation in on_stream and group and stream:
        return Operation(operation, [Authz(f"logs:{operation}", f"{base}{group}:log-stream:{stream}")])
    if operation in on_group and group:
        return Operation(operation, [Authz(f"logs:{operation}", f"{base}{group}")])
    if operation == "DescribeLogGroups":
        return Operation(operation, [Authz("logs:DescribeLogGroups", f"{base}*")])
    raise UnmappedRequestError(f"CloudWatch Logs {operation} is not an operation the emulator maps")


def _glue(request: HttpRequest) -> Operation:
    operation = _target_operation(request)
    if operation not in ("StartJobRun", "GetJobRun", "GetJobRuns", "GetJob"):
        raise UnmappedRequestError(f"Glue {operation} is not an operation the emulator maps")
    job = _json_body(request).get("JobName")
    if not isinstance(job, str) or not job:
        raise UnmappedRequestError(f"Glue {operation} without a JobName")
    arn = f"arn:{request.partition}:glue:{request.region}:{request.account}:job/{job}"
    return Operation(operation, [Authz(f"glue:{operation}", arn)])


# ---- CloudWatch: rpc-v2-cbor (what botocore sends now), JSON or query ----------------------------


def _cloudwatch(request: HttpRequest) -> Operation:
    if request.path.startswith("/service/") and "/operation/" in request.path:
        operation = request.path.rsplit("/operation/", 1)[1]
    elif request.header("x-amz-target"):
        operation = _target_operation(request)
    else:
        form = parse_query(request.body.decode("utf-8", errors="replace")) if request.body else {}
        operation = (form.get("Action") or request.query.get("Action") or [""])[0]
    if operation == "PutMetricData":
        namespace = _metric_namespace(request)
        context = {"cloudwatch:namespace": namespace} if namespace is not None else {}
        return Operation(operation, [Authz("cloudwatch:PutMetricData", "*", context)])
    if operation in ("GetMetricData", "GetMetricStatistics", "ListMetrics"):
        return Operation(operation, [Authz(f"cloudwatch:{operation}", "*")])
    raise UnmappedRequestError(f"CloudWatch {operation or '(no operation)'} is not an operation the emulator maps")


def _metric_namespace(request: HttpRequest) -> str | None:
    """The Namespace a PutMetricData names (the cloudwatch:namespace key), whatever the protocol."""
    content_type = request.header("content-type") or ""
    try:
        if "cbor" in content_type or request.header("smithy-protocol") == "rpc-v2-cbor":
            from botocore.parsers import BaseCBORParser

            document = BaseCBORParser().parse_data_item(io.BytesIO(request.body))
        elif "json" in content_type:
            document = json.loads(request.body or b"{}")
        else:
            document = {k: v[0] for k, v in parse_query(request.body.decode("utf-8", errors="replace")).items()}
    except (ValueError, TypeError, IndexError, AttributeError):
        return None
    namespace = document.get("Namespace") if isinstance(document, dict) else None
    return namespace if isinstance(namespace, str) else None


# ---- Lambda (REST-JSON) and STS ------------------------------------------------------------------


def function_arn(request: HttpRequest, name: str, qualifier: str | None) -> str:
    """A full function ARN from a name, a partial ARN (`123:function:F`) or a full ARN."""
    if name.startswith("arn:"):
        arn = name
    elif ":function:" in name:
        arn = f"arn:{request.partition}:lambda:{request.region}:{name}"
    else:
        arn = f"arn:{request.partition}:lambda:{request.region}:{request.account}:function:{name}"
    if qualifier and arn.count(":") == 6:
        arn += f":{qualifier}"
    return arn


def _lambda(request: HttpRequest) -> Operation:
    if not request.path.startswith(LAMBDA_FUNCTIONS):
        raise UnmappedRequestError(f"Lambda {request.method} {request.path} is not an operation the emulator maps")
    name, _, rest = request.path[len(LAMBDA_FUNCTIONS) :].partition("/")
    arn = function_arn(request, name, request.param("Qualifier"))
    rest = rest.rstrip("/")
    if request.method == "POST" and rest == "invocations":
        return Operation("Invoke", [Authz("lambda:InvokeFunction", arn)])
    if request.method == "GET" and rest == "":
        return Operation("GetFunction", [Authz("lambda:GetFunction", arn)])
    if request.method == "GET" and rest == "configuration":
        return Operation("GetFunctionConfiguration", [Authz("lambda:GetFunctionConfiguration", arn)])
    raise UnmappedRequestError(f"Lambda {request.method} {request.path} is not an operation the emulator maps")


def _sts(request: HttpRequest) -> Operation:
    form = parse_query(request.body.decode("utf-8", errors="replace")) if request.body else {}
    action = (form.get("Action") or request.query.get("Action") or [""])[0]
    if action == "GetCallerIdentity":  # needs no permission, even under an explicit Deny (IAM docs)
        return Operation(action, [])
    raise UnmappedRequestError(f"STS {action or '(no action)'} is not an operation the emulator maps")


MAPPERS = {"s3": _s3, "logs": _logs, "glue": _glue, "monitoring": _cloudwatch, "lambda": _lambda, "sts": _sts}
