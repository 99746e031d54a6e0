"""handler/s3batch.py: the run's concurrent S3 requests and the client they share."""

from __future__ import annotations

import threading

import boto3
import pytest
from botocore.awsrequest import AWSRequest
from botocore.exceptions import ReadTimeoutError

from handler.s3batch import S3_POOL_CONNECTIONS, WORKERS, Batch, tune
from handler.s3io import DRAIN_MAX_BYTES, MultipartSink, S3Input

# The Lambda lane (.ci/lambda-lane) runs this module on Python 3.12 with the layer's versions.
pytestmark = pytest.mark.handler


def client():
    return boto3.client("s3", region_name="us-east-1", aws_access_key_id="k", aws_secret_access_key="s")


def sign_event(s3, operation: str, request: AWSRequest) -> None:
    """The event botocore's signer emits before signing (botocore/signers.py), with its arguments."""
    s3.meta.events.emit(
        f"before-sign.s3.{operation}",
        request=request,
        signing_name="s3",
        region_name="us-east-1",
        signature_version="s3v4",
        request_signer=s3._request_signer,
        operation_name=operation,
    )


def test_a_tuned_client_sends_put_object_without_waiting_for_100_continue():
    request = AWSRequest(method="PUT", url="https://b.s3.amazonaws.com/k", headers={"Expect": "100-continue"})
    sign_event(tune(client()), "PutObject", request)
    assert "Expect" not in request.headers


def test_upload_part_keeps_its_100_continue():
    request = AWSRequest(method="PUT", url="https://b.s3.amazonaws.com/k", headers={"Expect": "100-continue"})
    sign_event(tune(client()), "UploadPart", request)
    assert request.headers["Expect"] == "100-continue"


def test_the_pool_has_a_connection_for_every_request_in_flight():
    assert S3_POOL_CONNECTIONS >= WORKERS + 2


class Recorder:
    def __init__(self, fail: set[str] = frozenset()) -> None:
        self.keys: list[str] = []
        self.fail = fail
        self.lock = threading.Lock()

    def put_object(self, **kwargs):
        with self.lock:
            self.keys.append(kwargs["Key"])
        if kwargs["Key"] in self.fail:
            raise RuntimeError(f"refused {kwargs['Key']}")
        return {}


def test_a_batch_sends_every_put_and_waits_for_all():
    s3 = Recorder()
    batch = Batch(s3, "b")
    for key in ("a", "b", "c", "d", "e"):
        batch.put(key, b"x", "text/plain")
    batch.wait()
    batch.close()
    assert sorted(s3.keys) == ["a", "b", "c", "d", "e"]


def test_a_batch_raises_the_first_failure_after_every_request_ended():
    s3 = Recorder(fail={"b", "d"})
    batch = Batch(s3, "b")
    for key in ("a", "b", "c", "d"):
        batch.put(key, b"x", "text/plain")
    with pytest.raises(RuntimeError, match="refused b"):
        batch.wait()
    assert sorted(s3.keys) == ["a", "b", "c", "d"]  # the others were not abandoned mid-flight
    batch.close()


def test_submit_returns_the_work_result():
    batch = Batch(Recorder(), "b")
    assert batch.submit(lambda: 42).result() == 42
    batch.close()


# --- The sink and the input: work done in the caller's thread, connections kept.


class PutRecorder(Recorder):
    def __init__(self) -> None:
        super().__init__()
        self.bodies: dict[str, bytes] = {}

    def put_object(self, **kwargs):
        self.bodies[kwargs["Key"]] = kwargs["Body"]
        return super().put_object(**kwargs)


def test_a_sealed_sink_sends_its_joined_body_on_close():
    s3 = PutRecorder()
    sink = MultipartSink(s3, "b", "out.csv", "text/csv")
    sink.write(b"a,b\n")
    sink.write(memoryview(b"1,2\n"))
    sink.seal()
    assert s3.keys == []  # sealing sends nothing for a single PUT
    sink.close()
    assert s3.bodies == {"out.csv": b"a,b\n1,2\n"}


class Body:
    def __init__(self, breaks: bool = False) -> None:
        self.calls: list[str] = []
        self.breaks = breaks

    def read(self, *_):
        self.calls.append("read")
        if self.breaks:
            raise ReadTimeoutError(endpoint_url="http://s3")
        return b""

    def close(self):
        self.calls.append("close")


class InputClient:
    def __init__(self, size: int) -> None:
        self.body, self.size = Body(), size

    def get_object(self, **_):
        return {"Body": self.body, "ContentLength": self.size, "ETag": '"e"'}


@pytest.mark.parametrize(("size", "calls"), [(20_000, ["read"]), (DRAIN_MAX_BYTES + 1, ["close"])])
def test_an_unread_input_is_drained_when_small_and_dropped_when_large(size, calls):
    s3 = InputClient(size)
    source = S3Input(s3, "b", "in.csv")
    source.fetch()
    source.close()
    assert s3.body.calls == calls  # read to its end, its connection goes back to the pool


def test_a_connection_that_breaks_while_draining_is_dropped_without_failing_the_skip():
    s3 = InputClient(20_000)
    s3.body = Body(breaks=True)
    source = S3Input(s3, "b", "in.csv")
    source.fetch()
    source.close()
    assert s3.body.calls == ["read", "close"]
