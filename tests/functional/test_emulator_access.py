"""The access gate with a role session: what its policies allow passes, the rest is AccessDenied as S3 says it.

An in-process server: the gate in front of moto's app, a credential store and the role
lookup the emulator uses; sessions are issued here as Lambda would issue them for a run.
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config as BotoConfig
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from werkzeug.serving import make_server

from dataops_cli.deploy.policies import lambda_trust_policy
from dataops_cli.emulator import moto_internals
from dataops_cli.emulator.access import AccessGate
from dataops_cli.emulator.identities import CredentialStore, Principal, new_owner_secret
from dataops_cli.emulator.roles import LAMBDA_PRINCIPAL, AssumeRoleError, Roles

REGION = "ap-south-1"
ONE_TRY = BotoConfig(retries={"total_max_attempts": 1})


class Gate:
    def __init__(self) -> None:
        owner = new_owner_secret()
        self.store = CredentialStore(owner, moto_internals.DEFAULT_ACCOUNT)
        self.roles = Roles(self.store, moto_internals.role_documents)
        self.server = make_server("127.0.0.1", 0, None, threaded=True)
        port = self.server.server_port
        self.server.app = AccessGate(moto_internals.moto_wsgi_app(), self.store, self.roles, "127.0.0.1", port)
        self.endpoint = f"http://127.0.0.1:{port}"
        self.owner = (owner.access_key, owner.secret_key, None)

    def client(self, service: str, principal: Principal | None = None) -> Any:
        keys = (
            self.owner
            if principal is None
            else (principal.secret.access_key, principal.secret.secret_key, principal.secret.token)
        )
        return boto3.client(
            service,
            region_name=REGION,
            endpoint_url=self.endpoint,
            aws_access_key_id=keys[0],
            aws_secret_access_key=keys[1],
            aws_session_token=keys[2],
            config=ONE_TRY,
        )


@pytest.fixture(scope="module")
def gate() -> Iterator[Gate]:
    found = Gate()
    thread = threading.Thread(target=found.server.serve_forever, daemon=True)
    thread.start()
    yield found
    found.server.shutdown()


def code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return exc.value.response["Error"]["Code"]


def role_with(gate: Gate, *statements: dict[str, Any]) -> str:
    name = f"r-{uuid.uuid4().hex[:10]}"
    iam = gate.client("iam")
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(lambda_trust_policy()))["Role"]["Arn"]
    document = {"Version": "2012-10-17", "Statement": list(statements)}
    iam.put_role_policy(RoleName=name, PolicyName="p", PolicyDocument=json.dumps(document))
    return arn


def bucket(gate: Gate, *keys: str) -> str:
    name = f"b-{uuid.uuid4().hex[:10]}"
    s3 = gate.client("s3")
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
    for key in keys:
        s3.put_object(Bucket=name, Key=key, Body=b"x")
    return name


def test_a_role_session_may_do_what_its_policy_allows_and_nothing_else(gate):
    name = bucket(gate, "in.csv", "secret.csv")
    arn = role_with(gate, {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{name}/in.csv"})
    with gate.roles.session(arn, LAMBDA_PRINCIPAL) as session:
        s3 = gate.client("s3", session)
        assert s3.get_object(Bucket=name, Key="in.csv")["Body"].read() == b"x"
        assert s3.head_object(Bucket=name, Key="in.csv")["ContentLength"] == 1  # HeadObject is s3:GetObject
        with pytest.raises(ClientError) as denied:
            s3.get_object(Bucket=name, Key="secret.csv")
        assert code(denied) == "AccessDenied"
        message = denied.value.response["Error"]["Message"]
        assert f"assumed-role/{arn.rsplit('/', 1)[1]}/" in message
        assert f'perform: s3:GetObject on resource: "arn:aws:s3:::{name}/secret.csv"' in message
        with pytest.raises(ClientError) as denied:
            s3.put_object(Bucket=name, Key="in.csv", Body=b"y")
        assert code(denied) == "AccessDenied"
    assert gate.client("s3").get_object(Bucket=name, Key="in.csv")["Body"].read() == b"x"  # nothing written


def test_a_missing_object_is_403_without_list_bucket_and_404_with_it(gate):
    name = bucket(gate)
    read = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{name}/*"}
    listing = {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{name}"}
    with gate.roles.session(role_with(gate, read), LAMBDA_PRINCIPAL) as session:
        s3 = gate.client("s3", session)
        with pytest.raises(ClientError) as caught:
            s3.get_object(Bucket=name, Key="history.json")
        assert code(caught) == "AccessDenied"
        with pytest.raises(ClientError) as caught:
            s3.head_object(Bucket=name, Key="history.json")
        assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    with gate.roles.session(role_with(gate, read, listing), LAMBDA_PRINCIPAL) as session:
        s3 = gate.client("s3", session)
        with pytest.raises(ClientError) as caught:
            s3.get_object(Bucket=name, Key="history.json")
        assert code(caught) == "NoSuchKey"
        with pytest.raises(ClientError) as caught:
            s3.head_object(Bucket=name, Key="history.json")
        assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_listing_is_judged_on_its_prefix(gate):
    name = bucket(gate, "out/runs/r1/a.csv", "private/p.csv")
    listing = {
        "Effect": "Allow",
        "Action": "s3:ListBucket",
        "Resource": f"arn:aws:s3:::{name}",
        "Condition": {"StringLike": {"s3:prefix": "out/runs/*"}},
    }
    with gate.roles.session(role_with(gate, listing), LAMBDA_PRINCIPAL) as session:
        s3 = gate.client("s3", session)
        found = s3.list_objects_v2(Bucket=name, Prefix="out/runs/r1/")
        assert [o["Key"] for o in found["Contents"]] == ["out/runs/r1/a.csv"]
        for prefix in ("private/", ""):
            with pytest.raises(ClientError) as caught:
                s3.list_objects_v2(Bucket=name, Prefix=prefix)
            assert code(caught) == "AccessDenied"


def test_delete_objects_deletes_the_allowed_keys_and_reports_the_denied_ones(gate):
    name = bucket(gate, "out/runs/r1/a.csv", "out/runs/r1/b.csv", "out/latest.json")
    undo = {"Effect": "Allow", "Action": "s3:DeleteObject", "Resource": f"arn:aws:s3:::{name}/out/runs/*"}
    keys = ["out/runs/r1/a.csv", "out/latest.json", "out/runs/r1/b.csv"]
    with gate.roles.session(role_with(gate, undo), LAMBDA_PRINCIPAL) as session:
        answer = gate.client("s3", session).delete_objects(Bucket=name, Delete={"Objects": [{"Key": k} for k in keys]})
        assert sorted(d["Key"] for d in answer["Deleted"]) == ["out/runs/r1/a.csv", "out/runs/r1/b.csv"]
        assert [(e["Key"], e["Code"]) for e in answer["Errors"]] == [("out/latest.json", "AccessDenied")]
        only_denied = gate.client("s3", session).delete_objects(
            Bucket=name, Delete={"Objects": [{"Key": "out/latest.json"}]}
        )
        assert [(e["Key"], e["Code"]) for e in only_denied["Errors"]] == [("out/latest.json", "AccessDenied")]
    left = [o["Key"] for o in gate.client("s3").list_objects_v2(Bucket=name)["Contents"]]
    assert left == ["out/latest.json"]


def test_an_operation_the_emulator_cannot_map_is_refused_for_a_role(gate):
    name = bucket(gate)
    everything = {"Effect": "Allow", "Action": "*", "Resource": "*"}
    with gate.roles.session(role_with(gate, everything), LAMBDA_PRINCIPAL) as session:
        with pytest.raises(ClientError) as caught:
            gate.client("s3", session).put_bucket_policy(Bucket=name, Policy="{}")
        assert code(caught) == "AccessDenied" and "fails closed" in caught.value.response["Error"]["Message"]
        with pytest.raises(ClientError) as caught:
            gate.client("iam", session).list_roles()
        assert code(caught) == "AccessDenied"
        assert gate.client("sts", session).get_caller_identity()["Account"] == "123456789012"


def test_logs_and_metrics_by_a_role_follow_its_policy(gate):
    group = f"/aws/lambda/{uuid.uuid4().hex[:8]}"
    gate.client("logs").create_log_group(logGroupName=group)
    write = {
        "Effect": "Allow",
        "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
        "Resource": f"arn:aws:logs:{REGION}:123456789012:log-group:{group}:*",
    }
    with gate.roles.session(role_with(gate, write), LAMBDA_PRINCIPAL) as session:
        logs = gate.client("logs", session)
        logs.create_log_stream(logGroupName=group, logStreamName="s")
        logs.put_log_events(logGroupName=group, logStreamName="s", logEvents=[{"timestamp": 1, "message": "m"}])
        with pytest.raises(ClientError) as caught:
            logs.create_log_group(logGroupName=group + "-other")
        assert code(caught) == "AccessDeniedException"
        with pytest.raises(ClientError) as caught:
            gate.client("cloudwatch", session).put_metric_data(
                Namespace="DataOps", MetricData=[{"MetricName": "m", "Value": 1.0}]
            )
        assert code(caught) == "AccessDenied"


def test_a_session_ends_with_its_run_and_never_reaches_the_owners_endpoints(gate):
    arn = role_with(gate, {"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"})
    with gate.roles.session(arn, LAMBDA_PRINCIPAL) as session:
        gate.client("s3", session).list_buckets()
        secret = session.secret
        request = AWSRequest(method="GET", url=gate.endpoint + "/moto-api/data.json")
        SigV4Auth(Credentials(secret.access_key, secret.secret_key, secret.token), "s3", REGION).add_auth(request)
        outgoing = urllib.request.Request(request.url, headers=dict(request.prepare().headers.items()))
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(outgoing, timeout=10)
        assert refused.value.code == 403
    with pytest.raises(ClientError) as caught:
        gate.client("s3", session).list_buckets()
    assert code(caught) == "ExpiredToken"


def test_a_role_whose_trust_does_not_name_the_service_cannot_be_assumed(gate):
    iam = gate.client("iam")
    name = f"r-{uuid.uuid4().hex[:10]}"
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "glue.amazonaws.com"}, "Action": "sts:AssumeRole"}],
    }
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    with pytest.raises(AssumeRoleError, match=r"lambda\.amazonaws\.com is not authorized to perform sts:AssumeRole"):
        gate.roles.check_trust(arn, LAMBDA_PRINCIPAL, {})
    for role in (arn, arn + "-gone"):
        with pytest.raises(AssumeRoleError), gate.roles.session(role, LAMBDA_PRINCIPAL):
            pytest.fail("a session was issued")
    assert gate.store.live_sessions() == 0
