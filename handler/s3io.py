"""S3 input and output for the handler: a re-openable input stream and a multipart sink.

The sink uploads parts while the CSV is still being formatted (two uploads in flight at
most), so a 770 MB output needs ~3 parts of memory and no /tmp space at all.

Every part carries a CRC32 checksum (`ChecksumAlgorithm="CRC32"` on CreateMultipartUpload
and each UploadPart; CompleteMultipartUpload lists each part's ChecksumCRC32), so S3 checks
every part end to end. moto also gains from it: with no algorithm it computes CRC64NVME
over the whole object on completion and copies it once more (512 MiB: 3.4-5.0 s and 2.3 GB
without, 2.2 s and 1.2 GB with CRC32, measured against moto 5.2).
"""

from __future__ import annotations

from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, BinaryIO

from botocore.exceptions import BotoCoreError, ClientError

from .errors import InputAccessError, InputChangedError, InputNotFoundError

PART_BYTES = 8 << 20  # S3 wants >= 5 MiB per part but the last; 8 MiB x 10,000 parts = 80 GB of output
MAX_PARTS_IN_FLIGHT = 2
CHECKSUM: str | None = "CRC32"  # None: no part checksums (bench/handler_bench.py measures both)
DRAIN_MAX_BYTES = 1 << 20  # an unread input body up to this is read to its end, not dropped (S3Input.close)


@dataclass(frozen=True)
class InputObject:
    bucket: str
    key: str
    size: int
    etag: str


class S3Input:
    """Open the input object as a stream, as many times as the reader needs, pinned to one ETag."""

    def __init__(self, client: Any, bucket: str, key: str) -> None:
        self._client, self._bucket, self._key = client, bucket, key
        self.info: InputObject | None = None
        self._fetched: BinaryIO | None = None  # the first GET's body, not read yet

    def fetch(self) -> InputObject:
        """GET the input once: its size and ETag come with the body (no HEAD round trip before it).

        The body is what the first `open()` returns; later opens are pinned to this ETag.
        A second call returns what the first one learned.
        """
        if self.info is not None:
            return self.info
        body = self.open()
        self._fetched = body
        assert self.info is not None
        return self.info

    def head(self) -> InputObject:
        """Size and ETag of the input; later opens are pinned to this ETag."""
        try:
            response = self._client.head_object(Bucket=self._bucket, Key=self._key)
        except ClientError as exc:
            raise self._input_error(exc) from None
        self.info = InputObject(self._bucket, self._key, response["ContentLength"], response["ETag"].strip('"'))
        return self.info

    def close(self) -> None:
        """Drop a fetched body that will not be read (a skipped run).

        A small one is read to its end instead, so its connection goes back to the client's
        pool: closing a response mid-body closes its connection, and the next run would open
        a new one (on AWS a TCP and a TLS handshake before its first request).
        """
        if self._fetched is None:
            return
        body, self._fetched = self._fetched, None
        if self.info is None or self.info.size > DRAIN_MAX_BYTES:
            body.close()
            return
        try:
            body.read()
        except (BotoCoreError, OSError):  # the connection broke mid-body: dropping it is all that is left
            body.close()

    def open(self) -> BinaryIO:
        if self._fetched is not None:
            body, self._fetched = self._fetched, None
            return body
        kwargs: dict[str, Any] = {"Bucket": self._bucket, "Key": self._key}
        if self.info:
            kwargs["IfMatch"] = self.info.etag
        try:
            response = self._client.get_object(**kwargs)
        except ClientError as exc:
            raise self._input_error(exc) from None
        if self.info is None:
            self.info = InputObject(self._bucket, self._key, response["ContentLength"], response["ETag"].strip('"'))
        return response["Body"]

    def _input_error(self, exc: ClientError) -> Exception:
        code = exc.response.get("Error", {}).get("Code", "")
        where = f"s3://{self._bucket}/{self._key}"
        if code in ("NoSuchKey", "404"):
            return InputNotFoundError(
                f"input object {where} does not exist; upload it (dataops up does)", key=self._key
            )
        if code == "NoSuchBucket":
            return InputNotFoundError(f"bucket {self._bucket!r} does not exist", bucket=self._bucket)
        if code in ("AccessDenied", "403"):
            return InputAccessError(
                f"access denied reading {where}: the execution role needs s3:GetObject on it", key=self._key
            )
        if code in ("PreconditionFailed", "412"):
            return InputChangedError(f"input object {where} was replaced during the run; the next run will use it")
        return exc


class MultipartSink:
    """A write-only stream into one S3 object; nothing is visible until `close()` succeeds."""

    def __init__(self, client: Any, bucket: str, key: str, content_type: str, part_bytes: int | None = None) -> None:
        self._client, self._bucket, self._key = client, bucket, key
        self._content_type = content_type
        self._part_bytes = part_bytes or PART_BYTES
        self._chunks: deque[bytes | memoryview] = deque()
        self._buffered = 0
        self._spare: list[bytearray] = []  # full-part buffers whose upload is done, for the next parts
        self._upload_id: str | None = None
        self._parts: list[Future] = []
        self._pool: ThreadPoolExecutor | None = None
        self._body: bytes | None = None  # sealed: the single PUT's body
        self.size = 0

    def write(self, data: bytes | memoryview | Any) -> int:
        """Buffer `data` (any bytes-like object: kept as is, copied once into its part)."""
        self._chunks.append(data)
        self._buffered += len(data)
        self.size += len(data)
        while self._buffered >= self._part_bytes:
            self._send_part(self._take_part())
        return len(data)

    def _take(self) -> bytes:
        """All the buffered chunks as one body (a single copy): the last part, or the only PUT."""
        body = b"".join(self._chunks)
        self._chunks, self._buffered = deque(), 0
        return body

    def _take_part(self) -> bytearray:
        """The first part_bytes buffered bytes, copied into a recycled buffer (botocore takes a
        bytearray Body). A fresh 8 MiB block per part made glibc keep the freed ones in its
        arenas: ~80 MiB more at 5M rows; mapping each part instead cost ~20% more time in page faults."""
        body = self._spare.pop() if self._spare else bytearray(self._part_bytes)
        filled = 0
        while filled < self._part_bytes:
            chunk = memoryview(self._chunks[0]).cast("B")
            take = min(len(chunk), self._part_bytes - filled)
            body[filled : filled + take] = chunk[:take]
            filled += take
            if take == len(chunk):
                self._chunks.popleft()
            else:
                self._chunks[0] = chunk[take:]
        self._buffered -= self._part_bytes
        return body

    def seal(self) -> None:
        """Nothing more will be written: join a single PUT's body, or send the last part, now (in
        the caller's thread), so that `close()` only sends its last request."""
        if self._upload_id is None:
            if self._body is None:
                self._body = self._take()
        elif self._chunks or not self._parts:
            self._send_part(self._take())

    def close(self) -> None:
        """Complete the object (a single PUT when it fits in one part)."""
        self.seal()
        if self._upload_id is None:
            self._client.put_object(Bucket=self._bucket, Key=self._key, Body=self._body, ContentType=self._content_type)
            return
        parts = [future.result() for future in self._parts]
        self._shutdown()
        # AWS: an upload created with a checksum algorithm needs each part's checksum here.
        self._client.complete_multipart_upload(
            Bucket=self._bucket, Key=self._key, UploadId=self._upload_id, MultipartUpload={"Parts": parts}
        )

    def abort(self) -> None:
        """Drop every uploaded part so a failed run leaves no object and no billed parts."""
        self._shutdown()
        if self._upload_id is not None:
            self._client.abort_multipart_upload(Bucket=self._bucket, Key=self._key, UploadId=self._upload_id)

    def _send_part(self, body: bytes | bytearray) -> None:
        if self._upload_id is None:
            created = self._client.create_multipart_upload(
                Bucket=self._bucket, Key=self._key, ContentType=self._content_type, **_checksum()
            )
            self._upload_id = created["UploadId"]
            self._pool = ThreadPoolExecutor(max_workers=MAX_PARTS_IN_FLIGHT, thread_name_prefix="s3-part")
        while len(in_flight := [f for f in self._parts if not f.done()]) >= MAX_PARTS_IN_FLIGHT:
            in_flight[0].result()  # back-pressure: at most MAX_PARTS_IN_FLIGHT part bodies alive
        number = len(self._parts) + 1
        assert self._pool is not None
        self._parts.append(self._pool.submit(self._upload_part, number, body))

    def _upload_part(self, number: int, body: bytes | bytearray) -> dict[str, Any]:
        try:
            response = self._client.upload_part(
                Bucket=self._bucket,
                Key=self._key,
                UploadId=self._upload_id,
                PartNumber=number,
                Body=body,
                **_checksum(),
            )
        finally:
            if isinstance(body, bytearray):  # the call (and its retries) is over: the buffer is free
                self._spare.append(body)
        part = {"PartNumber": number, "ETag": response["ETag"]}
        if CHECKSUM:
            name = f"Checksum{CHECKSUM}"
            part[name] = response[name]
        return part

    def _shutdown(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None


def _checksum() -> dict[str, str]:
    return {"ChecksumAlgorithm": CHECKSUM} if CHECKSUM else {}
