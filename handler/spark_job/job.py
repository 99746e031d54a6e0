"""One Spark run: read, process, publish the run folder, then latest.json; or fail cleanly.

The contract is the handler's (handler/lambda_function.py): everything goes under
`runs/<run_id>/`, run.json next, `latest.json` last; a failed run deletes what it wrote,
leaves a failed run.json, never touches latest.json or earlier runs, and raises.
One difference, recorded in latest.json as `"engine": "spark"`: the cleaned table is the
part files under `runs/<run_id>/cleaned/` (each a complete CSV with the header row, in
row order by part name), listed in `runs/<run_id>/cleaned_manifest.json`, which is what
`outputs.cleaned` names.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import asdict
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from handler import contract as c
from handler.errors import PipelineError
from handler.lambda_function import new_run_id, run_result
from handler.outputs import correlation_csv, summary_document, to_json_bytes
from handler.pipeline import PipelineOptions
from handler.reader import SAMPLE_BYTES
from handler.runlog import (
    ERROR,
    MISSING,
    SAVED,
    SHAPE,
    START,
    RunLog,
    ms_since,
    package_versions,
    record_metric,
    run_document,
    utc_iso,
)

from .compute import SparkResult, process
from .frame import check_sample, read_typed
from .store import Input, InputInfo, Output

ENGINE = "spark"
JOB_NAME = "DataOpsPipelineJob"


def run_job(
    spark: Any,
    source: Input,
    target: Output,
    options: PipelineOptions,
    *,
    trigger: str = "manual",
    request_id: str | None = None,
    job_name: str = JOB_NAME,
    stream: Any = None,
) -> dict[str, Any]:
    """Run the pipeline once; returns the handler's response shape, raises on failure."""
    started = time.time()
    request_id = request_id or str(uuid.uuid4())
    run_id = new_run_id(started, request_id)
    log = RunLog(function=job_name, request_id=request_id, run_id=run_id, cold_start=True, stream=stream)
    run = SparkRun(spark, source, target, options, log, run_id, started, trigger)
    try:
        return run.execute()
    except Exception as exc:
        record_metric(log, c.M_RUN_FAILED, 1)
        detail = exc.as_dict() if isinstance(exc, PipelineError) else {"type": type(exc).__name__, "message": str(exc)}
        log.error(c.EVENT_ERROR, f"{ERROR} Pipeline run failed: {exc}", error=detail)
        run.record_failure(detail)
        raise
    finally:
        record_metric(log, c.M_PROCESSING_TIME, round((time.time() - started) * 1000, 3))
        log.flush_metrics()


class SparkRun:
    def __init__(
        self,
        spark: Any,
        source: Input,
        target: Output,
        options: PipelineOptions,
        log: RunLog,
        run_id: str,
        started: float,
        trigger: str,
    ) -> None:
        self.spark, self.source, self.target, self.options = spark, source, target, options
        self.log, self.run_id, self.started = log, run_id, started
        self.folder = c.run_folder("", run_id)  # the Output store is rooted at the output prefix
        self.facts: dict[str, Any] = {"trigger": trigger, "engine": ENGINE}
        self.cached: Any = None

    def execute(self) -> dict[str, Any]:
        log = self.log
        log.info(
            c.EVENT_START,
            f"{START} Pipeline run started at {utc_iso(self.started)}",
            start_time=utc_iso(self.started),
            input=self.source.spark_uri,
            trigger=self.facts["trigger"],
            engine=ENGINE,
        )
        t0 = time.perf_counter()
        info: InputInfo = self.source.describe()
        self.facts["input"] = info.as_dict()
        sample = check_sample(self.source.head(SAMPLE_BYTES + 1), whole=info.size_bytes <= SAMPLE_BYTES)
        frame = read_typed(self.spark, self.source.spark_uri, sample, self.options.zero_as_missing)
        self.cached = frame.df
        read_ms = ms_since(t0)
        self.facts["shape"] = {"rows": frame.rows, "columns": len(frame.names)}
        log.info(
            c.EVENT_SHAPE,
            f"{SHAPE} Dataset shape: {frame.rows} rows x {len(frame.names)} columns",
            rows=frame.rows,
            columns=len(frame.names),
            column_names=frame.names,
        )
        done: SparkResult = process(frame, self.options)
        result = done.result
        handled = {name: n for name, n in result.missing.items() if n}
        self.facts["missing_values_handled"] = handled
        record_metric(log, c.M_ROWS_PROCESSED, result.rows)
        record_metric(log, c.M_MISSING_IMPUTED, result.missing_total)
        log.info(
            c.EVENT_MISSING,
            f"{MISSING} Missing values handled: {result.missing_total} cells in {len(handled)} columns",
            missing_values_handled=handled,
            missing_total=result.missing_total,
            imputed_values=result.imputed,
        )

        t1 = time.perf_counter()
        keys = {
            "cleaned": self.folder + "cleaned_manifest.json",
            "correlation": self.folder + c.OUTPUT_FILES["correlation"],
            "summary": self.folder + c.OUTPUT_FILES["summary"],
            "dtypes": self.folder + c.OUTPUT_FILES["dtypes"],
            "log": self.folder + c.RUN_DOCUMENT,
        }
        manifest = self._write_cleaned(done)
        normalize_ms = ms_since(t1)  # Spark normalizes while it writes the parts
        self.source.check_unchanged()
        t2 = time.perf_counter()
        self.target.put(keys["cleaned"], to_json_bytes(manifest), "application/json")
        self.target.put(keys["correlation"], correlation_csv(result), "text/csv")
        timings = {"read_ms": read_ms, **result.timings_ms, "normalize_ms": normalize_ms, "write_ms": ms_since(t2)}
        summary = summary_document(
            result,
            run_id=self.run_id,
            engine=ENGINE,
            input=self.facts["input"],
            options=asdict(self.options),
            timings_ms=timings,
            versions=package_versions("pyspark", "pyarrow", "numpy", "boto3"),
        )
        self.target.put(keys["summary"], to_json_bytes(summary), "application/json")
        self.target.put(keys["dtypes"], to_json_bytes(done.dtypes), "application/json")
        outputs = {name: self.target.full_key(key) for name, key in keys.items()}
        files = list(outputs.values())
        duration_ms = round((time.time() - self.started) * 1000, 3)
        log.info(
            c.EVENT_SAVED,
            f"{SAVED} Files saved: {len(files)} files and {len(manifest['parts'])} cleaned parts under "
            f"{self.target.spark_uri(self.folder)}",
            files=files,
            duration_ms=duration_ms,
        )
        self.target.put(
            keys["log"], to_json_bytes(self._run_document("succeeded", files_saved=files)), "application/json"
        )
        latest = {
            c.L_RUN_ID: self.run_id,
            c.L_FINISHED_AT: utc_iso(time.time()),
            "engine": ENGINE,
            c.L_OUTPUTS: outputs,
        }
        self.target.put(c.LATEST_POINTER, to_json_bytes(latest), "application/json")
        record_metric(log, c.M_RUN_FAILED, 0)
        self._release()
        return run_result("succeeded", self.run_id, result, handled, outputs, duration_ms=duration_ms)

    def _write_cleaned(self, done: SparkResult) -> dict[str, Any]:
        """The cleaned parts, in row order, and their manifest (written by the caller)."""
        folder = self.folder + "cleaned/"
        (
            done.cleaned.write.option("header", True)
            .option("escape", '"')
            .option("ignoreLeadingWhiteSpace", False)
            .option("ignoreTrailingWhiteSpace", False)
            .mode("errorifexists")
            .csv(self.target.spark_uri(folder))
        )
        parts = [
            {"key": self.target.full_key(key), "size_bytes": size}
            for key, size in self.target.list(folder)
            if key.rsplit("/", 1)[-1].startswith("part-") and key.endswith(".csv")
        ]
        return {
            "run_id": self.run_id,
            "engine": ENGINE,
            "format": "csv",
            "header_in_every_part": True,
            "rows": done.result.rows,
            "column_names": done.result.names,
            "dtypes": done.dtypes,
            "parts": parts,
        }

    def record_failure(self, error: dict[str, Any]) -> None:
        """Delete what this run wrote and leave a failed run.json; never raises over the original error."""
        self._release()
        try:
            written = [key for key, _ in self.target.list(self.folder)]
            if written:
                self.target.delete(written)
            body = to_json_bytes(self._run_document("failed", error=error))
            self.target.put(self.folder + c.RUN_DOCUMENT, body, "application/json")
        except (OSError, ClientError, BotoCoreError) as exc:
            self.log.error(c.EVENT_CLEANUP, f"{ERROR} Could not record the failed run: {exc}")

    def _release(self) -> None:
        if self.cached is not None:
            self.cached.unpersist()
            self.cached = None

    def _run_document(self, status: str, **extra: Any) -> dict[str, Any]:
        return run_document(self.log, self.run_id, self.started, self.facts, status, **extra)
