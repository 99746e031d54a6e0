"""Each request the handler and the Spark job make, mapped to the IAM action and resource AWS checks."""

from __future__ import annotations

import json

import pytest

from dataops_cli.emulator.request_actions import (
    HttpRequest,
    UnmappedRequestError,
    operation_of,
    parse_query,
)

B = "arn:aws:s3:::b"
LOGS = "arn:aws:logs:ap-south-1:123456789012:log-group:"


def request(service: str, method: str, path: str, query: str = "", body: bytes = b"", **headers: str) -> HttpRequest:
    return HttpRequest(
        method=method,
        path=path,
        query=parse_query(query),
        headers={k.replace("_", "-").lower(): v for k, v in headers.items()},
        body=body,
        service=service,
        region="ap-south-1",
        account="123456789012",
    )


S3_CASES = [
    # (method, path, query, headers, operation, [(action, resource, context)])
    ("GET", "/b/in.csv", "", {}, "GetObject", [("s3:GetObject", f"{B}/in.csv", {})]),
    (
        "GET",
        "/b/in.csv",
        "versionId=v1",
        {},
        "GetObject",
        [("s3:GetObjectVersion", f"{B}/in.csv", {"s3:VersionId": "v1"})],
    ),
    ("HEAD", "/b/in.csv", "", {}, "HeadObject", [("s3:GetObject", f"{B}/in.csv", {})]),
    ("GET", "/b/a b/c.csv", "", {}, "GetObject", [("s3:GetObject", f"{B}/a b/c.csv", {})]),
    ("PUT", "/b/out/x.json", "", {}, "PutObject", [("s3:PutObject", f"{B}/out/x.json", {})]),
    (
        "PUT",
        "/b/out/x.json",
        "",
        {"x_amz_server_side_encryption": "AES256"},
        "PutObject",
        [("s3:PutObject", f"{B}/out/x.json", {"s3:x-amz-server-side-encryption": "AES256"})],
    ),
    (
        "PUT",
        "/b/out/x.json",
        "",
        {"x_amz_tagging": "a=b"},
        "PutObject",
        [("s3:PutObject", f"{B}/out/x.json", {}), ("s3:PutObjectTagging", f"{B}/out/x.json", {})],
    ),
    (
        "PUT",
        "/b/out/copy",
        "",
        {"x_amz_copy_source": "/b/in.csv"},
        "CopyObject",
        [("s3:PutObject", f"{B}/out/copy", {}), ("s3:GetObject", f"{B}/in.csv", {})],
    ),
    ("POST", "/b/out/big.csv", "uploads", {}, "CreateMultipartUpload", [("s3:PutObject", f"{B}/out/big.csv", {})]),
    ("PUT", "/b/out/big.csv", "partNumber=1&uploadId=u", {}, "UploadPart", [("s3:PutObject", f"{B}/out/big.csv", {})]),
    ("POST", "/b/out/big.csv", "uploadId=u", {}, "CompleteMultipartUpload", [("s3:PutObject", f"{B}/out/big.csv", {})]),
    (
        "DELETE",
        "/b/out/big.csv",
        "uploadId=u",
        {},
        "AbortMultipartUpload",
        [("s3:AbortMultipartUpload", f"{B}/out/big.csv", {})],
    ),
    ("GET", "/b/out/big.csv", "uploadId=u", {}, "ListParts", [("s3:ListMultipartUploadParts", f"{B}/out/big.csv", {})]),
    ("DELETE", "/b/out/x", "", {}, "DeleteObject", [("s3:DeleteObject", f"{B}/out/x", {})]),
    (
        "GET",
        "/b",
        "list-type=2&prefix=out%2Fruns%2F&delimiter=%2F",
        {},
        "ListObjectsV2",
        [("s3:ListBucket", B, {"s3:prefix": "out/runs/", "s3:delimiter": "/"})],
    ),
    ("GET", "/b", "list-type=2", {}, "ListObjectsV2", [("s3:ListBucket", B, {"s3:prefix": ""})]),
    (
        "GET",
        "/b/",
        "prefix=a&max-keys=5",
        {},
        "ListObjects",
        [("s3:ListBucket", B, {"s3:prefix": "a", "s3:max-keys": "5"})],
    ),
    ("HEAD", "/b", "", {}, "HeadBucket", [("s3:ListBucket", B, {})]),
    ("GET", "/b", "versions", {}, "ListObjectVersions", [("s3:ListBucketVersions", B, {"s3:prefix": ""})]),
    ("GET", "/b", "location", {}, "s3:GetBucketLocation", [("s3:GetBucketLocation", B, {})]),
    ("GET", "/", "", {}, "ListBuckets", [("s3:ListAllMyBuckets", "*", {})]),
]


@pytest.mark.parametrize(("method", "path", "query", "headers", "name", "expected"), S3_CASES)
def test_s3_requests_map_to_their_actions(method, path, query, headers, name, expected):
    operation = operation_of(request("s3", method, path, query, **headers))
    assert operation.name == name
    assert [(c.action, c.resource, dict(c.context)) for c in operation.checks] == expected


def test_delete_objects_is_one_delete_per_key():
    body = (
        b'<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Object><Key>out/runs/a</Key></Object>'
        b"<Object><Key>out/latest.json</Key><VersionId>v9</VersionId></Object></Delete>"
    )
    operation = operation_of(request("s3", "POST", "/b", "delete", body))
    assert operation.name == "DeleteObjects"
    assert [(c.action, c.resource, c.key) for c in operation.checks] == [
        ("s3:DeleteObject", f"{B}/out/runs/a", "out/runs/a"),
        ("s3:DeleteObjectVersion", f"{B}/out/latest.json", "out/latest.json"),
    ]


@pytest.mark.parametrize(
    ("method", "path", "query"),
    [
        ("PUT", "/b", "policy"),  # PutBucketPolicy: not something a run does
        ("DELETE", "/b", "tagging"),
        ("POST", "/b/k", "select&select-type=2"),
        ("PUT", "/b/k", "uploadId=u"),  # no part number: not an operation
        ("POST", "/b", "delete"),  # no body
    ],
)
def test_unknown_s3_operations_fail_closed(method, path, query):
    with pytest.raises(UnmappedRequestError):
        operation_of(request("s3", method, path, query))


def logs_request(operation: str, **body: str) -> HttpRequest:
    return request("logs", "POST", "/", body=json.dumps(body).encode(), x_amz_target=f"Logs_20140328.{operation}")


def test_logs_map_to_the_group_or_the_stream():
    put = operation_of(logs_request("PutLogEvents", logGroupName="/aws/lambda/F", logStreamName="2026/[$LATEST]ab"))
    assert [(c.action, c.resource) for c in put.checks] == [
        ("logs:PutLogEvents", f"{LOGS}/aws/lambda/F:log-stream:2026/[$LATEST]ab")
    ]
    create = operation_of(logs_request("CreateLogGroup", logGroupName="/aws-glue/jobs/output"))
    assert [(c.action, c.resource) for c in create.checks] == [("logs:CreateLogGroup", f"{LOGS}/aws-glue/jobs/output")]
    with pytest.raises(UnmappedRequestError):
        operation_of(logs_request("DeleteRetentionPolicy", logGroupName="/aws/lambda/F"))


def test_cloudwatch_put_metric_data_carries_its_namespace_in_each_protocol():
    as_json = request(
        "monitoring",
        "POST",
        "/",
        body=json.dumps({"Namespace": "DataOps"}).encode(),
        x_amz_target="GraniteServiceVersion20100801.PutMetricData",
        content_type="application/x-amz-json-1.0",
    )
    as_query = request("monitoring", "POST", "/", body=b"Action=PutMetricData&Namespace=DataOps&Version=2010-08-01")
    for each in (as_json, as_query):
        [check] = operation_of(each).checks
        assert (check.action, check.resource, dict(check.context)) == (
            "cloudwatch:PutMetricData",
            "*",
            {"cloudwatch:namespace": "DataOps"},
        )


def test_lambda_and_glue_and_sts():
    invoke = operation_of(request("lambda", "POST", "/2015-03-31/functions/F/invocations"))
    assert [(c.action, c.resource) for c in invoke.checks] == [
        ("lambda:InvokeFunction", "arn:aws:lambda:ap-south-1:123456789012:function:F")
    ]
    by_arn = "/2015-03-31/functions/arn:aws:lambda:ap-south-1:1:function:G/invocations"
    assert (
        operation_of(request("lambda", "POST", by_arn)).checks[0].resource == "arn:aws:lambda:ap-south-1:1:function:G"
    )
    start = request("glue", "POST", "/", body=b'{"JobName": "J"}', x_amz_target="AWSGlue.StartJobRun")
    assert [(c.action, c.resource) for c in operation_of(start).checks] == [
        ("glue:StartJobRun", "arn:aws:glue:ap-south-1:123456789012:job/J")
    ]
    who = operation_of(request("sts", "POST", "/", body=b"Action=GetCallerIdentity&Version=2011-06-15"))
    assert who.checks == []  # needs no permission
    with pytest.raises(UnmappedRequestError):
        operation_of(request("sts", "POST", "/", body=b"Action=AssumeRole&Version=2011-06-15"))
    with pytest.raises(UnmappedRequestError):
        operation_of(request("iam", "POST", "/", body=b"Action=CreateUser"))
    with pytest.raises(UnmappedRequestError):
        operation_of(request("lambda", "DELETE", "/2015-03-31/functions/F"))
