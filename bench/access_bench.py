"""What the emulator's access gate costs a request: SigV4 verification, IAM evaluation, the round trip.

    python -m bench.access_bench                 # 300 requests per row
    python -m bench.access_bench --requests 1000

Rows:
- verify: dataops_cli.emulator.sigv4.verify of one botocore-signed S3 GetObject (in process)
- evaluate: iam_policy.evaluate of the shipped execution policy for one GetObject
- round trip: one S3 HeadObject over HTTP to an in-process server on 127.0.0.1, plain moto
  vs moto behind the gate as the owner vs as a role session (mapping + policy evaluation)
A handler run makes about a dozen such requests. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import format_table, machine_lines, positive_int

BUCKET = "bench-bucket"
OBJECT = f"arn:aws:s3:::{BUCKET}/in.csv"


def per_call_us(function: Callable[[], Any], count: int) -> float:
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        function()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=positive_int, default=300)
    args = parser.parse_args(argv)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)

    import boto3
    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.config import Config
    from botocore.credentials import Credentials
    from werkzeug.serving import make_server

    from dataops_cli.deploy.policies import execution_policy, lambda_trust_policy
    from dataops_cli.emulator import iam_policy, moto_internals
    from dataops_cli.emulator.access import AccessGate
    from dataops_cli.emulator.identities import CredentialStore, new_owner_secret
    from dataops_cli.emulator.roles import LAMBDA_PRINCIPAL, Roles
    from dataops_cli.emulator.sigv4 import verify

    rows = []
    owner = new_owner_secret()
    request = AWSRequest(method="GET", url="http://127.0.0.1:4566/bench-bucket/in.csv")
    S3SigV4Auth(Credentials(owner.access_key, owner.secret_key), "s3", "ap-south-1").add_auth(request)
    environ: dict[str, Any] = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": "/bench-bucket/in.csv",
        "HTTP_HOST": "127.0.0.1:4566",
    }
    for name, value in request.headers.items():
        environ["HTTP_" + name.upper().replace("-", "_")] = value.decode() if isinstance(value, bytes) else value
    now = time.time()
    rows.append(
        [
            "verify (SigV4)",
            f"{per_call_us(lambda: verify(environ, b'', {owner.access_key: owner}.get, now), args.requests):.0f}",
        ]
    )
    policy = execution_policy(
        partition="aws",
        bucket="bench-bucket",
        input_key="in.csv",
        output_prefix="processed/",
        log_group_arn="arn:aws:logs:r:1:log-group:/aws/lambda/F",
    )
    rows.append(
        [
            "evaluate (IAM)",
            f"{per_call_us(lambda: iam_policy.evaluate([policy], 's3:GetObject', OBJECT, {}), args.requests):.0f}",
        ]
    )

    store = CredentialStore(owner, moto_internals.DEFAULT_ACCOUNT)
    roles = Roles(store, moto_internals.role_documents)
    servers = []

    def serve(make_app: Callable[[int], Any]) -> str:
        """A server on a free port whose app is made knowing that port (the gate checks Host)."""
        server = make_server("127.0.0.1", 0, None, threaded=True)
        server.app = make_app(server.server_port)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_port}"

    plain = serve(lambda _port: moto_internals.moto_wsgi_app())
    gated = serve(lambda port: AccessGate(moto_internals.moto_wsgi_app(), store, roles, "127.0.0.1", port))
    config = Config(retries={"total_max_attempts": 1})

    def client(endpoint: str, keys: tuple[str, str, str | None]) -> Any:
        return boto3.client(
            "s3",
            region_name="ap-south-1",
            endpoint_url=endpoint,
            aws_access_key_id=keys[0],
            aws_secret_access_key=keys[1],
            aws_session_token=keys[2],
            config=config,
        )

    owner_keys = (owner.access_key, owner.secret_key, None)
    setup = client(gated, owner_keys)
    setup.create_bucket(Bucket="bench-bucket", CreateBucketConfiguration={"LocationConstraint": "ap-south-1"})
    setup.put_object(Bucket="bench-bucket", Key="in.csv", Body=b"a,b\n1,2\n")
    iam = boto3.client(
        "iam",
        region_name="us-east-1",
        endpoint_url=gated,
        aws_access_key_id=owner.access_key,
        aws_secret_access_key=owner.secret_key,
        config=config,
    )
    arn = iam.create_role(RoleName="bench", AssumeRolePolicyDocument=json.dumps(lambda_trust_policy()))["Role"]["Arn"]
    iam.put_role_policy(RoleName="bench", PolicyName="p", PolicyDocument=json.dumps(policy))
    try:
        for label, endpoint, keys in (
            ("round trip: moto alone", plain, owner_keys),
            ("round trip: gate, owner", gated, owner_keys),
        ):
            s3 = client(endpoint, keys)
            rows.append(
                [
                    label,
                    f"{per_call_us(lambda s3=s3: s3.head_object(Bucket=BUCKET, Key='in.csv'), args.requests):.0f}",
                ]
            )
        with roles.session(arn, LAMBDA_PRINCIPAL) as session:
            secret = session.secret
            s3 = client(gated, (secret.access_key, secret.secret_key, secret.token))
            rows.append(
                [
                    "round trip: gate, role session",
                    f"{per_call_us(lambda: s3.head_object(Bucket=BUCKET, Key='in.csv'), args.requests):.0f}",
                ]
            )
    finally:
        for server in servers:
            server.shutdown()
    print(format_table(["per request", "median µs"], rows))
    print()
    print("\n".join(machine_lines()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
