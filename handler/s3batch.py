"""S3 requests in flight together: a run's independent reads and writes overlap their round trips.

On AWS a run's time is mostly S3 round trips (docs/BENCHMARKS.md, "S3 round trips"): each
request waits ~20-30 ms for its answer while the function does nothing. Requests that do
not depend on each other (the input and the history; the run's five output files) go out
at the same time, on one shared client whose connection pool is sized for them
(S3_POOL_CONNECTIONS), so a batch costs one round trip instead of one per request.

Every body is built before the batch is submitted, so a request's thread only signs and
sends. (Holding signed requests until the whole batch was signed, so they left within a
millisecond, was tried and measured: the batch still ends when its last request is
answered, so the run took no less time; docs/BENCHMARKS.md, issue 22 step 4.)

The caller records every key before its PUT is sent, so a failed run's cleanup deletes it
even if the PUT landed after the error; `close()` waits for the requests still in flight
first, so nothing lands after the cleanup.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
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


def tune(client: Any) -> Any:
    """The handler's S3 client: PutObject without the 100-continue wait."""
    client.meta.events.register("before-sign.s3.PutObject", without_expect_continue)
    return client


class Batch:
    """A bounded pool for one run's concurrent S3 requests."""

    def __init__(self, client: Any, bucket: str, workers: int = WORKERS) -> None:
        self._client, self._bucket = client, bucket
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="s3")
        self._pending: list[Future[Any]] = []

    def submit(self, work: Callable[[], T]) -> Future[T]:
        """Any S3 call (a read, a multipart upload's completion) on the shared pool."""
        future = self._pool.submit(work)
        self._pending.append(future)
        return future

    def put(self, key: str, body: bytes, content_type: str) -> Future[Any]:
        return self.submit(
            lambda: self._client.put_object(Bucket=self._bucket, Key=key, Body=body, ContentType=content_type)
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
