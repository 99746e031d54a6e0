"""Lambda entry point: read the input CSV from S3, run the pipeline, publish the outputs.

Publishing is atomic from a reader's point of view: a run writes its files under
`<OUTPUT_PREFIX>runs/<run_id>/`, then run.json, and only then `<OUTPUT_PREFIX>latest.json`
naming them. A failed run removes what it had written, records a failed run.json, never
touches latest.json or earlier runs, and raises so Lambda counts an Error.

Import stays light (no client, no I/O): the S3 client is created on first use and reused
by warm invocations.
"""

from __future__ import annotations

import os
import platform
import time
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from importlib import metadata
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from . import contract as c
from .errors import ConfigurationError, PipelineError
from .outputs import correlation_csv, summary_document, to_json_bytes, write_cleaned_csv
from .pipeline import PipelineOptions, PipelineResult, process
from .reader import Columns, read_columns
from .runlog import ERROR, MISSING, SAVED, SHAPE, START, RunLog, utc_iso
from .s3io import MultipartSink, S3Input

_cold_start = True
_s3_client: Any = None


@dataclass(frozen=True)
class Settings:
    bucket: str
    input_key: str
    output_prefix: str
    options: PipelineOptions

    @classmethod
    def from_environ(cls, env: Mapping[str, str]) -> Settings:
        def required(name: str) -> str:
            value = env.get(name, "").strip()
            if not value:
                raise ConfigurationError(f"environment variable {name} is not set", setting=name)
            return value

        prefix = env.get(c.ENV_OUTPUT_PREFIX, c.DEFAULT_OUTPUT_PREFIX).strip()
        if not prefix.endswith("/") or prefix.startswith("/"):
            raise ConfigurationError(
                f"{c.ENV_OUTPUT_PREFIX}={prefix!r} must end with '/' and not start with '/', "
                f"e.g. {c.DEFAULT_OUTPUT_PREFIX!r}",
                setting=c.ENV_OUTPUT_PREFIX,
            )
        zero = env.get(c.ENV_ZERO_AS_MISSING)
        exclude = env.get(c.ENV_NORMALIZE_EXCLUDE)
        return cls(
            bucket=required(c.ENV_BUCKET),
            input_key=required(c.ENV_INPUT_KEY),
            output_prefix=prefix,
            options=PipelineOptions(
                zero_as_missing=c.DEFAULT_ZERO_AS_MISSING if zero is None else _split(zero),
                impute_strategy=env.get(c.ENV_IMPUTE_STRATEGY, "").strip() or c.DEFAULT_IMPUTE_STRATEGY,
                normalize_method=env.get(c.ENV_NORMALIZE_METHOD, "").strip() or c.DEFAULT_NORMALIZE_METHOD,
                normalize_exclude=c.DEFAULT_NORMALIZE_EXCLUDE if exclude is None else _split(exclude),
            ),
        )


def _split(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def new_run_id(started: float, request_id: str) -> str:
    """Sortable by time, unique per invocation: 20261125T190437Z-1a2b3c4d."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(started))
    return f"{stamp}-{request_id.replace('-', '')[:8]}"


def _s3() -> Any:
    global _s3_client
    if _s3_client is None:
        import boto3  # deferred: the runtime pays for it inside the first invocation only

        _s3_client = boto3.client("s3")
    return _s3_client


def lambda_handler(event: Any, context: Any) -> dict[str, Any]:
    global _cold_start
    cold_start, _cold_start = _cold_start, False
    started = time.time()
    request_id = getattr(context, "aws_request_id", None) or str(uuid.uuid4())
    run_id = new_run_id(started, request_id)
    function = os.environ.get(c.ENV_FUNCTION_NAME, c.DEFAULT_FUNCTION_NAME)
    log = RunLog(function=function, request_id=request_id, run_id=run_id, cold_start=cold_start)
    run: PipelineRun | None = None
    try:
        settings = Settings.from_environ(os.environ)
        run = PipelineRun(settings, _s3(), log, run_id, started, trigger=_trigger(event))
        return run.execute()
    except Exception as exc:
        _metric(log, c.M_RUN_FAILED, 1)
        detail = exc.as_dict() if isinstance(exc, PipelineError) else {"type": type(exc).__name__, "message": str(exc)}
        log.error(c.EVENT_ERROR, f"{ERROR} Pipeline run failed: {exc}", error=detail)
        if run is not None:
            run.record_failure(detail)
        raise
    finally:
        _metric(log, c.M_PROCESSING_TIME, round((time.time() - started) * 1000, 3))
        log.flush_metrics()


class PipelineRun:
    """One invocation's work and the S3 keys it has written (for cleanup on failure)."""

    def __init__(self, settings: Settings, s3: Any, log: RunLog, run_id: str, started: float, trigger: str) -> None:
        self.settings, self.s3, self.log, self.run_id, self.started = settings, s3, log, run_id, started
        self.folder = c.run_folder(settings.output_prefix, run_id)
        self.written: list[str] = []
        self.open_sink: MultipartSink | None = None
        self.facts: dict[str, Any] = {"trigger": trigger}

    def key(self, name: str) -> str:
        return self.folder + name

    def execute(self) -> dict[str, Any]:
        """Read, process, write the run's files, then publish: run.json, and last the latest pointer."""
        self._log_start()
        t0 = time.perf_counter()
        columns = self._read()
        read_ms = _ms_since(t0)
        result = self._process(columns)
        outputs = self._write_outputs(result, read_ms)
        duration_ms = self._publish(outputs)
        _metric(self.log, c.M_RUN_FAILED, 0)
        return {
            "status": "succeeded",
            "run_id": self.run_id,
            "rows": result.rows,
            "columns": len(result.names),
            "missing_values_handled": self.facts["missing_values_handled"],
            "missing_total": result.missing_total,
            "outputs": outputs,
            "duration_ms": duration_ms,
        }

    def _log_start(self) -> None:
        s = self.settings
        self.log.info(
            c.EVENT_START,
            f"{START} Pipeline run started at {utc_iso(self.started)}",
            start_time=utc_iso(self.started),
            bucket=s.bucket,
            input_key=s.input_key,
            trigger=self.facts["trigger"],
        )

    def _read(self) -> Columns:
        """The input CSV as columns; records what was read (size, ETag) and its shape."""
        s = self.settings
        source = S3Input(self.s3, s.bucket, s.input_key)
        columns = read_columns(source.open, size_hint=source.head().size)
        info = source.info
        assert info is not None
        self.facts["input"] = {"bucket": s.bucket, "key": s.input_key, "size_bytes": info.size, "etag": info.etag}
        self.facts["shape"] = {"rows": columns.rows, "columns": len(columns.names)}
        self.log.info(
            c.EVENT_SHAPE,
            f"{SHAPE} Dataset shape: {columns.rows} rows x {len(columns.names)} columns",
            rows=columns.rows,
            columns=len(columns.names),
            column_names=columns.names,
        )
        return columns

    def _process(self, columns: Columns) -> PipelineResult:
        result = process(columns, self.settings.options)
        handled = {name: n for name, n in result.missing.items() if n}
        self.facts["missing_values_handled"] = handled
        _metric(self.log, c.M_ROWS_PROCESSED, result.rows)
        _metric(self.log, c.M_MISSING_IMPUTED, result.missing_total)
        self.log.info(
            c.EVENT_MISSING,
            f"{MISSING} Missing values handled: {result.missing_total} cells in {len(handled)} columns",
            missing_values_handled=handled,
            missing_total=result.missing_total,
            imputed_values=result.imputed,
        )
        return result

    def _write_outputs(self, result: PipelineResult, read_ms: float) -> dict[str, str]:
        """The run's four data files under its own folder; returns every output key, run.json included."""
        t1 = time.perf_counter()
        outputs = {name: self.key(file) for name, file in c.OUTPUT_FILES.items()}
        self._stream_cleaned(result, outputs["cleaned"])
        self._put(outputs["correlation"], correlation_csv(result), "text/csv")
        timings = {"read_ms": read_ms, **result.timings_ms, "write_ms": _ms_since(t1)}
        summary = summary_document(
            result,
            run_id=self.run_id,
            input=self.facts["input"],
            options=asdict(self.settings.options),
            timings_ms=timings,
            versions=_versions(),
        )
        self._put(outputs["summary"], to_json_bytes(summary), "application/json")
        self._put(outputs["dtypes"], to_json_bytes(result.dtypes), "application/json")
        return outputs

    def _publish(self, outputs: dict[str, str]) -> float:
        """run.json, then the pointer that names the run's files (so "latest" is never half written)."""
        s = self.settings
        files = list(outputs.values())
        duration_ms = round((time.time() - self.started) * 1000, 3)
        self.log.info(
            c.EVENT_SAVED,
            f"{SAVED} Files saved: {len(files)} files under s3://{s.bucket}/{self.folder}",
            files=files,
            duration_ms=duration_ms,
        )
        self._put(outputs["log"], to_json_bytes(self._run_document("succeeded", files_saved=files)), "application/json")
        latest = {c.L_RUN_ID: self.run_id, c.L_FINISHED_AT: utc_iso(time.time()), c.L_OUTPUTS: outputs}
        self.s3.put_object(
            Bucket=s.bucket,
            Key=c.latest_key(s.output_prefix),
            Body=to_json_bytes(latest),
            ContentType="application/json",
        )
        return duration_ms

    def record_failure(self, error: dict[str, Any]) -> None:
        """Undo partial outputs and leave a failed run.json; never raises over the original error."""
        bucket = self.settings.bucket
        try:
            if self.open_sink is not None:
                self.open_sink.abort()
            if self.written:
                self.s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in self.written]})
            self.s3.put_object(
                Bucket=bucket,
                Key=self.key(c.RUN_DOCUMENT),
                ContentType="application/json",
                Body=to_json_bytes(self._run_document("failed", error=error)),
            )
        except (ClientError, BotoCoreError) as exc:
            self.log.error(
                c.EVENT_CLEANUP, f"{ERROR} Could not record the failed run in S3: {exc}", written=self.written
            )

    def _stream_cleaned(self, result: Any, key: str) -> None:
        self.open_sink = MultipartSink(self.s3, self.settings.bucket, key, "text/csv")
        write_cleaned_csv(result, self.open_sink)
        self.open_sink.close()
        self.open_sink = None
        self.written.append(key)

    def _put(self, key: str, body: bytes, content_type: str) -> None:
        self.s3.put_object(Bucket=self.settings.bucket, Key=key, Body=body, ContentType=content_type)
        self.written.append(key)

    def _run_document(self, status: str, **extra: Any) -> dict[str, Any]:
        finished = time.time()
        return {
            "run_id": self.run_id,
            "status": status,
            **self.log.context,
            "started_at": utc_iso(self.started),
            "finished_at": utc_iso(finished),
            "duration_ms": round((finished - self.started) * 1000, 3),
            **self.facts,
            **extra,
            "events": self.log.records,
        }


def _trigger(event: Any) -> str:
    """What started the run: the schedule's and `dataops invoke`'s events say; others are "unknown"."""
    if isinstance(event, dict) and isinstance(event.get("trigger"), str):
        return event["trigger"][:40]
    return "unknown"


def _versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for package in ("pyarrow", "numpy", "pandas", "boto3"):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = "not installed"
    return found


def _metric(log: RunLog, name: str, value: float) -> None:
    log.metric(name, value, c.METRIC_UNITS[name])


def _ms_since(t0: float) -> float:
    return round((time.perf_counter() - t0) * 1000, 3)
