"""S3 requests in flight together: a run's independent reads and writes overlap their round trips.

On AWS a run's time is mostly S3 round trips (docs/BENCHMARKS.md, "S3 round trips"): each
request waits ~20-30 ms for its answer while the function does nothing. Requests that do
not depend on each other (the input and the history; the run's five output files) go out
at the same time, on one shared client whose connection pool is sized for them
(S3_POOL_CONNECTIONS), so a batch costs one round trip instead of one per request.

A batch's requests leave together (`Gate`): each is serialized and signed in its own thread,
then held until the others are signed too, so their round trips overlap whole instead of
starting a few milliseconds apart, one thread's preparation after another's.

The caller records every key before its PUT is sent, so a failed run's cleanup deletes it
even if the PUT landed after the error; `close()` waits for the requests still in flight
first, so nothing lands after the cleanup.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, TypeVar

from .s3io import MAX_PARTS_IN_FLIGHT

T = TypeVar("T")

WORKERS = 6  # the widest batch: five output files (or two reads), plus one spare
# botocore keeps at most max_pool_connections connections per client (default 10); a run has
# WORKERS requests and a multipart upload's parts in flight at once, plus the main thread's.
# https://botocore.amazonaws.com/v1/documentation/api/latest/reference/config.html
S3_POOL_CONNECTIONS = WORKERS + MAX_PARTS_IN_FLIGHT + 2


def without_expect_continue(request: Any, **_: Any) -> None:
    """Send a PutObject's body at once instead of waiting for "100 Continue" first.

    botocore asks every file-like body to wait (`Expect: 100-continue`), so each PUT costs two
    round trips. The handler's single PUTs are at most one part (8 MiB) of its own output,
    to its own bucket: nothing worth holding back. The header is not signed (SigV4 leaves it
    out), so dropping it before the request is signed changes nothing else. Multipart parts
    keep it. https://docs.aws.amazon.com/AmazonS3/latest/API/RESTCommonRequestHeaders.html
    """
    del request.headers["Expect"]  # email.message semantics: no error when absent


# How long a signed request waits for the rest of its batch. Only a multipart upload's
# completion (it waits for its parts) takes longer; then the others go after this.
GATE_TIMEOUT_S = 0.2
_gated = threading.local()  # .gate: the Gate the thread's next request waits at


class Gate:
    """A batch's requests, each signed in its own thread, leave together once all are signed.

    Only a rendezvous: whatever goes wrong (a member that fails or sends nothing, the
    timeout) opens the gate and every request goes on as it would have without one.
    """

    def __init__(self, parties: int, timeout: float = GATE_TIMEOUT_S) -> None:
        self._barrier = threading.Barrier(parties, timeout=timeout)

    @contextmanager
    def member(self) -> Iterator[None]:
        """The calling thread's next S3 request waits at the gate (botocore's before-send)."""
        _gated.gate = self
        try:
            yield
        finally:
            if getattr(_gated, "gate", None) is self:  # left without sending (failed, or nothing to send)
                self._barrier.abort()
            _gated.gate = None

    def wait(self) -> None:
        with contextlib.suppress(threading.BrokenBarrierError):  # a member will not come, or the timeout
            self._barrier.wait()


def send_together(**_: Any) -> None:
    """botocore's before-send, after signing: a gated request waits for its batch (a retry does not)."""
    gate = getattr(_gated, "gate", None)
    if gate is not None:
        _gated.gate = None
        gate.wait()


def tune(client: Any) -> Any:
    """The handler's S3 client: PutObject without the 100-continue wait; a batch's requests leave together."""
    client.meta.events.register("before-sign.s3.PutObject", without_expect_continue)
    client.meta.events.register("before-send.s3", send_together)
    return client


class Batch:
    """A bounded pool for one run's concurrent S3 requests."""

    def __init__(self, client: Any, bucket: str, workers: int = WORKERS) -> None:
        self._client, self._bucket = client, bucket
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="s3")
        self._pending: list[Future[Any]] = []

    def submit(self, work: Callable[[], T], gate: Gate | None = None) -> Future[T]:
        """Any S3 call (a read, a multipart upload's completion) on the shared pool; with `gate`,
        its request leaves with the gate's other members."""
        future = self._pool.submit(work) if gate is None else self._pool.submit(_gated_call, work, gate)
        self._pending.append(future)
        return future

    def put(self, key: str, body: bytes, content_type: str, gate: Gate | None = None) -> Future[Any]:
        return self.submit(
            lambda: self._client.put_object(Bucket=self._bucket, Key=key, Body=body, ContentType=content_type),
            gate,
        )

    def wait(self) -> None:
        """Every request submitted so far has finished; the first failure (in submission order) is raised."""
        pending, self._pending = self._pending, []
        errors = [f.exception() for f in pending]
        for error in errors:
            if error is not None:
                raise error

    def close(self) -> None:
        """Cancel what has not started and wait for what has: after this no request of the run is in flight."""
        self._pool.shutdown(wait=True, cancel_futures=True)


def _gated_call(work: Callable[[], T], gate: Gate) -> T:
    with gate.member():
        return work()
