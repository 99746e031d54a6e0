"""An AWS account that holds nothing, for planning offline: every read answers "absent".

`up`'s planners read first, then return the calls that close the gap. Against this account
each read answers as AWS does for a missing thing (a 404 for a Get/Head or for a read of
one thing such as DescribeRule; empty lists for a List/Describe that answers lists), so
every plan is the CREATE `up` makes in a new account. Requests never leave the process: a
botocore `before-call` handler answers them, so no credentials or network are needed. A
mutating call is refused: exporting must change nothing anywhere.
"""

from __future__ import annotations

from typing import Any

import boto3

from dataops_cli.aws import DataopsError

# Resolved by CloudFormation (Fn::Sub) in the template: the ARNs hold no literal account,
# partition or region (the template's rule pins the region to stack.region anyway).
ACCOUNT_TOKEN = "${AWS::AccountId}"
PARTITION_TOKEN = "${AWS::Partition}"
REGION_TOKEN = "${AWS::Region}"
READS = ("Get", "Head", "List", "Describe", "Filter", "Lookup")


class _Answer:
    """The little of botocore's HTTP response that `_make_api_call` reads after a before-call answer."""

    def __init__(self, status: int) -> None:
        self.status_code = status
        self.headers: dict[str, str] = {}


def _empty_result(model: Any) -> dict[str, Any]:
    """A List/Describe answer with every list member empty (what paginators and callers index)."""
    shape = model.output_shape
    members = shape.members if shape is not None else {}
    return {name: [] for name, member in members.items() if member.type_name == "list"}


def _answer(model: Any = None, **_: Any) -> tuple[_Answer, dict[str, Any]]:
    name = model.name
    if not name.startswith(READS):
        raise DataopsError(f"exporting planned a changing call ({model.service_model.service_name}:{name})")
    result = _empty_result(model)
    if name.startswith(("Get", "Head")) or not result:  # one thing asked for (DescribeRule): absent
        error = {"Error": {"Code": "ResourceNotFoundException", "Message": "not found"}}
        return _Answer(404), {**error, "ResponseMetadata": {"HTTPStatusCode": 404}}
    return _Answer(200), {**result, "ResponseMetadata": {"HTTPStatusCode": 200}}


class EmptyAccount:
    """The part of `dataops_cli.aws.Aws` the planners use, for an account with nothing in it.

    Account, partition and the region in ARNs are CloudFormation's pseudo parameters; the
    clients are built for the config's region (nothing is sent anyway).
    """

    local = False

    def __init__(self, region: str) -> None:
        self.region = region
        self._session = boto3.Session(region_name=region, aws_access_key_id="export", aws_secret_access_key="export")
        self._clients: dict[str, Any] = {}

    @property
    def account_id(self) -> str:
        return ACCOUNT_TOKEN

    @property
    def partition(self) -> str:
        return PARTITION_TOKEN

    def client(self, service: str) -> Any:
        if service not in self._clients:
            client = self._session.client(service, region_name=self.region)
            client.meta.events.register("before-call.*.*", _answer)
            self._clients[service] = client
        return self._clients[service]

    def arn(self, service: str, resource: str, region: bool = True, account: bool = True) -> str:
        return (
            f"arn:{self.partition}:{service}:{REGION_TOKEN if region else ''}:"
            f"{self.account_id if account else ''}:{resource}"
        )
