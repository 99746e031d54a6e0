"""Where the job reads its input and writes its run folder: a local folder or S3.

Keys are relative to the output root (`--output`): `runs/<run_id>/...` and `latest.json`,
exactly the keys the handler writes under OUTPUT_PREFIX. `spark_uri` is the same place
as Spark's writers address it.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from botocore.exceptions import ClientError

from handler.errors import InputChangedError, InputNotFoundError
from handler.s3io import S3Input

HEAD_BYTES = 1 << 20


@dataclass(frozen=True)
class InputInfo:
    bucket: str | None
    key: str
    size_bytes: int
    etag: str

    def as_dict(self) -> dict[str, Any]:
        return {"bucket": self.bucket, "key": self.key, "size_bytes": self.size_bytes, "etag": self.etag}


class Input(Protocol):
    spark_uri: str

    def describe(self) -> InputInfo: ...
    def head(self, size: int) -> bytes: ...
    def check_unchanged(self) -> None: ...


class Output(Protocol):
    def spark_uri(self, key: str) -> str: ...
    def put(self, key: str, body: bytes, content_type: str) -> None: ...
    def get(self, key: str, max_bytes: int | None = None) -> bytes | None: ...
    def list(self, prefix: str) -> list[tuple[str, int]]: ...
    def delete(self, keys: list[str]) -> None: ...
    def full_key(self, key: str) -> str: ...


class TooLargeError(Exception):
    """An object over the size its reader accepts: not read."""

    def __init__(self, size: int) -> None:
        super().__init__(f"{size} bytes")
        self.size = size


def parse_s3(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def open_input(uri: str, s3: Any = None) -> Input:
    return S3InputFile(s3, *parse_s3(uri)) if uri.startswith("s3://") else LocalInput(Path(uri))


def open_output(uri: str, s3: Any = None) -> Output:
    if uri.startswith("s3://"):
        bucket, prefix = parse_s3(uri)
        return S3Output(s3, bucket, prefix if not prefix or prefix.endswith("/") else prefix + "/")
    return LocalOutput(Path(uri))


class LocalInput:
    def __init__(self, path: Path) -> None:
        self.path = path.resolve()
        self.spark_uri = self.path.as_uri()
        self._stat: os.stat_result | None = None

    def describe(self) -> InputInfo:
        if not self.path.is_file():
            raise InputNotFoundError(f"input file {self.path} does not exist", key=str(self.path))
        self._stat = self.path.stat()
        digest = hashlib.md5(usedforsecurity=False)
        with self.path.open("rb") as stream:
            while chunk := stream.read(8 << 20):
                digest.update(chunk)
        return InputInfo(None, str(self.path), self._stat.st_size, digest.hexdigest())

    def head(self, size: int) -> bytes:
        with self.path.open("rb") as stream:
            return stream.read(size)

    def check_unchanged(self) -> None:
        now = self.path.stat()
        if self._stat and (now.st_size, now.st_mtime_ns) != (self._stat.st_size, self._stat.st_mtime_ns):
            raise InputChangedError(f"input file {self.path} was replaced during the run; the next run will use it")


class S3InputFile:
    """The input object, read by Spark through s3:// and checked by ETag at the end of the run."""

    def __init__(self, client: Any, bucket: str, key: str) -> None:
        self._source = S3Input(client, bucket, key)
        self._client, self.bucket, self.key = client, bucket, key
        self.spark_uri = f"s3://{bucket}/{key}"
        self._etag = ""

    def describe(self) -> InputInfo:
        info = self._source.head()  # the handler's errors: not found, access denied
        self._etag = info.etag
        return InputInfo(self.bucket, self.key, info.size, info.etag)

    def head(self, size: int) -> bytes:
        body = self._client.get_object(
            Bucket=self.bucket, Key=self.key, Range=f"bytes=0-{size - 1}", IfMatch=self._etag
        )["Body"]
        return body.read()

    def check_unchanged(self) -> None:
        """Spark's reads cannot be pinned to an ETag (the handler's are): compare it afterwards."""
        now = self._client.head_object(Bucket=self.bucket, Key=self.key)["ETag"].strip('"')
        if now != self._etag:
            raise InputChangedError(
                f"input object s3://{self.bucket}/{self.key} was replaced during the run; the next run will use it"
            )


class LocalOutput:
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def spark_uri(self, key: str) -> str:
        return (self.root / key).as_uri()

    def full_key(self, key: str) -> str:
        return key  # relative to the output folder

    def put(self, key: str, body: bytes, content_type: str) -> None:
        path = self.root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".partial")
        partial.write_bytes(body)
        partial.replace(path)  # readers of latest.json never see half a file

    def get(self, key: str, max_bytes: int | None = None) -> bytes | None:
        """The file's bytes, None when it does not exist (other OSErrors propagate);
        TooLargeError (unread) when it is over `max_bytes`."""
        path = self.root / key
        try:
            if max_bytes is not None and (size := path.stat().st_size) > max_bytes:
                raise TooLargeError(size)
            return path.read_bytes()
        except FileNotFoundError:
            return None

    def list(self, prefix: str) -> list[tuple[str, int]]:
        base = self.root / prefix
        if not base.is_dir():
            return []
        return sorted((p.relative_to(self.root).as_posix(), p.stat().st_size) for p in base.rglob("*") if p.is_file())

    def delete(self, keys: list[str]) -> None:
        for key in keys:
            (self.root / key).unlink(missing_ok=True)


class S3Output:
    def __init__(self, client: Any, bucket: str, prefix: str) -> None:
        self._client, self.bucket, self.prefix = client, bucket, prefix

    def spark_uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{self.prefix}{key}"

    def full_key(self, key: str) -> str:
        return self.prefix + key  # as the handler names its outputs: OUTPUT_PREFIX + key

    def put(self, key: str, body: bytes, content_type: str) -> None:
        self._client.put_object(Bucket=self.bucket, Key=self.prefix + key, Body=body, ContentType=content_type)

    def get(self, key: str, max_bytes: int | None = None) -> bytes | None:
        """The object's bytes, None when it does not exist (other ClientErrors propagate);
        TooLargeError (body unread) when it is over `max_bytes`."""
        try:
            response = self._client.get_object(Bucket=self.bucket, Key=self.prefix + key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code", "") in ("NoSuchKey", "404"):
                return None
            raise
        if max_bytes is not None and response["ContentLength"] > max_bytes:
            response["Body"].close()
            raise TooLargeError(response["ContentLength"])
        return response["Body"].read()

    def list(self, prefix: str) -> list[tuple[str, int]]:
        found = []
        pages = self._client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self.prefix + prefix)
        for page in pages:
            found += [(o["Key"].removeprefix(self.prefix), o["Size"]) for o in page.get("Contents", [])]
        return sorted(found)

    def delete(self, keys: list[str]) -> None:
        for start in range(0, len(keys), 1000):  # DeleteObjects takes at most 1000 keys
            batch = [{"Key": self.prefix + k} for k in keys[start : start + 1000]]
            self._client.delete_objects(Bucket=self.bucket, Delete={"Objects": batch})
