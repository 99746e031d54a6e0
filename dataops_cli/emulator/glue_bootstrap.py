"""The runtime inside each local Glue job run: give Spark an s3:// filesystem, then run the job's script.

Run as `python glue_bootstrap.py SCRIPT [--KEY value ...]` by glue_runner.py, which has put
the job's --extra-py-files on PYTHONPATH and pointed boto3 at the emulator (AWS_ENDPOINT_URL).

The gap this bridges: on AWS Glue, Spark reads and writes `s3://` paths through EMRFS, which
Glue's runtime provides. Local pyspark has no s3:// filesystem (Hadoop's S3A needs the
hadoop-aws and AWS SDK jars, which the pyspark wheel does not ship, and a download at run
time). So the job's script stays exactly the one that runs on AWS, and this runtime wraps
pyspark's DataFrameReader/DataFrameWriter path methods instead: an s3:// path that is read
is first downloaded from the emulator's S3 into a staging folder (a snapshot at read time:
Spark's lazy re-reads see that copy, not a later replacement; the job checks the input's
ETag through boto3 anyway), and an s3:// path that is written is written to a staging
folder and then uploaded under that prefix before the write returns, with Spark's save
modes (errorifexists, ignore, overwrite, append) judged against what is in S3. Everything
else the script does with boto3 goes to the emulator's S3 as it is.
Uses only the standard library, boto3 and pyspark: what Glue's Python environment provides.
"""

from __future__ import annotations

import functools
import inspect
import itertools
import os
import runpy
import sys
import traceback
from pathlib import Path
from typing import Any

READ_METHODS = ("csv", "text", "json", "parquet", "orc", "load")
WRITE_METHODS = ("csv", "text", "json", "parquet", "orc", "save")
_counter = itertools.count()


def split_uri(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.split("://", 1)[1].partition("/")
    return bucket, key


def is_s3(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(("s3://", "s3a://", "s3n://"))


class S3Bridge:
    """Stages s3:// reads and writes of Spark through a local folder and the emulator's S3."""

    def __init__(self, s3: Any, staging: Path) -> None:
        self.s3, self.staging = s3, staging

    def keys_under(self, bucket: str, prefix: str) -> list[str]:
        found: list[str] = []
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            found += [item["Key"] for item in page.get("Contents", [])]
        return found

    def stage_read(self, uri: str) -> str:
        """A local file:// URI holding the object (or every object under the prefix) named by `uri`."""
        bucket, key = split_uri(uri)
        local = self.staging / f"read-{next(_counter)}" / bucket
        keys = self.keys_under(bucket, key)
        if key in keys:  # one object
            chosen = [key]
        else:  # a "folder": every object under it, as Spark reads a directory
            folder = key.rstrip("/") + "/"
            chosen = [k for k in keys if k.startswith(folder)]
        if not chosen:
            raise FileNotFoundError(f"[PATH_NOT_FOUND] Path does not exist: {uri}")
        for name in chosen:
            target = local / name
            target.parent.mkdir(parents=True, exist_ok=True)
            self.s3.download_file(bucket, name, str(target))
        return (local / key).as_uri()

    def staged_write(self, uri: str, mode: str | None) -> tuple[str | None, Any]:
        """(local URI to write to, or None to skip the write as mode 'ignore' says; the upload to run after)."""
        bucket, key = split_uri(uri)
        prefix = key.rstrip("/") + "/"
        existing = self.keys_under(bucket, prefix)
        mode = (mode or "errorifexists").lower()
        if existing and mode in ("error", "errorifexists", "default"):
            raise FileExistsError(f"[PATH_ALREADY_EXISTS] Path {uri} already exists. Set mode as 'overwrite'")
        if existing and mode == "ignore":
            return None, lambda: None
        local = self.staging / f"write-{next(_counter)}" / bucket / key.rstrip("/")

        def upload() -> None:
            if mode == "overwrite" and existing:
                for start in range(0, len(existing), 1000):
                    batch = [{"Key": k} for k in existing[start : start + 1000]]
                    self.s3.delete_objects(Bucket=bucket, Delete={"Objects": batch})
            for path in sorted(p for p in local.rglob("*") if p.is_file()):
                if path.name.startswith("."):  # a local filesystem's checksum files: EMRFS writes none
                    continue
                self.s3.upload_file(str(path), bucket, prefix + path.relative_to(local).as_posix())

        return local.as_uri(), upload


def _map_paths(bridge: S3Bridge, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[tuple, dict]:
    def one(value: Any) -> Any:
        if is_s3(value):
            return bridge.stage_read(value)
        if isinstance(value, list | tuple) and any(is_s3(v) for v in value):
            return [bridge.stage_read(v) if is_s3(v) else v for v in value]
        return value

    return tuple(one(a) for a in args), {k: one(v) if k in ("path", "paths") else v for k, v in kwargs.items()}


def install(bridge: S3Bridge) -> None:
    """Wrap pyspark's reader and writer path methods (see the module docstring)."""
    from pyspark.sql.readwriter import DataFrameReader, DataFrameWriter

    for name in READ_METHODS:
        original = getattr(DataFrameReader, name)

        @functools.wraps(original)
        def read(self: Any, *args: Any, _original: Any = original, **kwargs: Any) -> Any:
            args, kwargs = _map_paths(bridge, args, kwargs)
            return _original(self, *args, **kwargs)

        setattr(DataFrameReader, name, read)

    original_mode = DataFrameWriter.mode

    @functools.wraps(original_mode)
    def mode(self: Any, save_mode: str | None) -> Any:
        self._dataops_mode = save_mode
        return original_mode(self, save_mode)

    DataFrameWriter.mode = mode  # type: ignore[method-assign]

    for name in WRITE_METHODS:
        original = getattr(DataFrameWriter, name)

        @functools.wraps(original)
        def write(self: Any, *args: Any, _original: Any = original, **kwargs: Any) -> Any:
            bound = inspect.signature(_original).bind(self, *args, **kwargs)
            path = bound.arguments.get("path")
            if not is_s3(path):
                return _original(self, *args, **kwargs)
            mode = bound.arguments.get("mode") or getattr(self, "_dataops_mode", None)
            local, upload = bridge.staged_write(path, mode)
            if local is None:
                return None
            bound.arguments["path"] = local
            _original(*bound.args, **bound.kwargs)
            upload()
            return None

        setattr(DataFrameWriter, name, write)


def main(argv: list[str]) -> int:
    script = argv[1]
    import boto3

    staging = Path(os.environ.get("DATAOPS_GLUE_STAGING") or Path.cwd() / "s3-bridge")
    install(S3Bridge(boto3.client("s3"), staging))
    sys.argv = [script, *argv[2:]]  # as Glue calls the script: its name, then the job's arguments
    sys.path[0] = str(Path(script).parent)  # as for `python SCRIPT`: its folder first, never this one's
    try:
        runpy.run_path(script, run_name="__main__")
    except SystemExit as exc:  # the script's own exit: Glue marks the run FAILED for a non-zero status
        code = exc.code
        if code is None:
            return 0
        if isinstance(code, int):
            return code
        print(code, file=sys.stderr)
        return 1
    except Exception:  # noqa: BLE001 (the script's unhandled error fails the run, as on Glue: traceback on stderr)
        traceback.print_exc()
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
