"""One Spark run: read, process, publish the run folder, then latest.json; or fail cleanly.

The contract is the handler's (handler/lambda_function.py): everything goes under
`runs/<run_id>/`, run.json next, `latest.json` last; a failed run deletes what it wrote,
leaves a failed run.json, never touches latest.json or earlier runs, and raises.
One difference, recorded in latest.json as `"engine": "spark"`: the cleaned table is the
part files under `runs/<run_id>/cleaned/` (each a complete CSV with the header row, in
row order by part name), listed in `runs/<run_id>/cleaned_manifest.json`, which is what
`outputs.cleaned` names.

Data quality is the handler's too (handler/quality.py, and the steps lambda_function shares):
the history `quality/history.json` is read first, the profile is built from the statistics
the Spark aggregations already computed (plus the zero counts taken while the frame was
cached: no extra pass), quality.json is written beside the outputs, and the history is
rewritten after latest.json. QUALITY_ON_FAILURE=block quarantines a run with a failing check
(run.json "quarantined", latest.json and the history left alone, exit code 0).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import asdict
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from handler import contract as c
from handler.formulas import formula_like_summary
from handler.outputs import correlation_csv, summary_document
from handler.pipeline import PipelineOptions
from handler.quality import QualitySettings, profile
from handler.quality_checks import failed, quality_document, run_checks
from handler.reader import SAMPLE_BYTES
from handler.run_steps import (
    after_publishing,
    close_log,
    error_detail,
    log_quarantined,
    names_run,
    new_run_id,
    report_failure,
    report_quality,
    run_result,
)
from handler.runlog import (
    ERROR,
    MISSING,
    SAVED,
    SHAPE,
    START,
    RunLog,
    json_safe_bytes,
    ms_since,
    package_versions,
    record_metric,
    run_document,
    to_json_bytes,
    utc_iso,
)

from .compute import SparkResult, process
from .frame import check_sample, read_typed
from .history import SparkHistory
from .skip import spark_fingerprint
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
    quality: QualitySettings | None = None,
    distinct_inputs: bool = False,
) -> dict[str, Any]:
    """Run the pipeline once; returns the handler's response shape, raises on failure."""
    started = time.time()
    request_id = request_id or str(uuid.uuid4())
    run_id = new_run_id(started, request_id)
    log = RunLog(function=job_name, request_id=request_id, run_id=run_id, cold_start=True, stream=stream)
    run = SparkRun(spark, source, target, options, log, run_id, started, trigger, quality or QualitySettings())
    run.distinct_inputs = distinct_inputs  # SKIP_UNCHANGED: one history profile per distinct input
    try:
        return run.execute()
    except Exception as exc:
        detail = error_detail(exc)
        report_failure(log, exc, detail)
        run.record_failure(detail)
        raise
    finally:
        close_log(log, started)


class SparkRun(SparkHistory):
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
        quality: QualitySettings,
    ) -> None:
        self.spark, self.source, self.target, self.options = spark, source, target, options
        self.log, self.run_id, self.started, self.quality = log, run_id, started, quality
        self.folder = c.run_folder("", run_id)  # the Output store is rooted at the output prefix
        self.facts: dict[str, Any] = {"trigger": trigger, "engine": ENGINE}
        self.cached: Any = None
        self.quality_ms: dict[str, float] = {}
        self.publishing = False  # the latest.json write has started: the run may be published
        self.distinct_inputs = False

    def execute(self) -> dict[str, Any]:
        """Read, process, write the run folder, check quality; then run.json, latest.json, the history."""
        history, frame, read_ms = self._read()
        done = self._process(frame)
        keys, manifest = self._write_files(done, read_ms)
        current, quality, blocked = self._check_quality(done, frame, history, keys["quality"])
        history = self._distinct(history)
        outputs = {name: self.target.full_key(key) for name, key in keys.items()}
        files = list(outputs.values())
        duration_ms = self._log_saved(files, manifest)
        outcome = {"quality": quality, "duration_ms": duration_ms}
        if blocked:
            return self._quarantine(keys, files, blocked, done, outputs, outcome)
        self._publish(keys["log"], files, quality, outputs)
        # Published: whatever follows is logged, never a failed run (its cleanup would delete
        # the files latest.json names).
        t_write = time.perf_counter()
        after_publishing(self.log, self.run_id, "releasing the cached input", self._release)
        after_publishing(
            self.log, self.run_id, "updating the quality history", lambda: self._write_history(history, current)
        )
        self.quality_ms["history_write_ms"] = ms_since(t_write)
        record_metric(self.log, c.M_RUN_FAILED, 0)
        handled = self.facts["missing_values_handled"]
        return run_result(
            "succeeded", self.run_id, done.result, handled, outputs, **outcome, quality_timings_ms=self.quality_ms
        )

    def _read(self) -> tuple[list[dict[str, Any]], Any, float]:
        """The history, then the input as a cached typed frame: (history, frame, read ms)."""
        log = self.log
        log.info(
            c.EVENT_START,
            f"{START} Pipeline run started at {utc_iso(self.started)}",
            start_time=utc_iso(self.started),
            input=self.source.spark_uri,
            trigger=self.facts["trigger"],
            engine=ENGINE,
        )
        t_history = time.perf_counter()
        history = self._read_history()
        self.quality_ms["history_read_ms"] = ms_since(t_history)
        t0 = time.perf_counter()
        info: InputInfo = self.source.describe()
        self.facts["input"] = info.as_dict()
        self.facts[c.L_FINGERPRINT] = spark_fingerprint(info, self.source.spark_uri, self.options, self.quality)
        sample = check_sample(
            self.source.head(SAMPLE_BYTES + 1),
            whole=info.size_bytes <= SAMPLE_BYTES,
            max_columns=self.options.max_columns,
        )
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
        return history, frame, read_ms

    def _process(self, frame: Any) -> SparkResult:
        done: SparkResult = process(frame, self.options)
        result = done.result
        handled = {name: n for name, n in result.missing.items() if n}
        self.facts["missing_values_handled"] = handled
        record_metric(self.log, c.M_ROWS_PROCESSED, result.rows)
        record_metric(self.log, c.M_MISSING_IMPUTED, result.missing_total)
        record_metric(self.log, c.M_RUNS_SKIPPED, 0)
        self.log.info(
            c.EVENT_MISSING,
            f"{MISSING} Missing values handled: {result.missing_total} cells in {len(handled)} columns",
            missing_values_handled=handled,
            missing_total=result.missing_total,
            imputed_values=result.imputed,
        )
        return done

    def _write_files(self, done: SparkResult, read_ms: float) -> tuple[dict[str, str], dict[str, Any]]:
        """The cleaned parts and their manifest, correlation.csv, summary.json, dtypes.json: (keys, manifest)."""
        result = done.result
        t1 = time.perf_counter()
        keys = {
            "cleaned": self.folder + "cleaned_manifest.json",
            "correlation": self.folder + c.OUTPUT_FILES["correlation"],
            "summary": self.folder + c.OUTPUT_FILES["summary"],
            "dtypes": self.folder + c.OUTPUT_FILES["dtypes"],
            "quality": self.folder + c.OUTPUT_FILES["quality"],
            "log": self.folder + c.RUN_DOCUMENT,
        }
        manifest = self._write_cleaned(done)
        normalize_ms = ms_since(t1)  # Spark normalizes while it writes the parts
        self.source.check_unchanged()
        t2 = time.perf_counter()
        self.target.put(keys["cleaned"], to_json_bytes(manifest), "application/json")
        correlation = correlation_csv(result, escape_formulas=self.options.escape_formulas)
        self.target.put(keys["correlation"], correlation, "text/csv")
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
        return keys, manifest

    def _distinct(self, history: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """With SKIP_UNCHANGED, one history profile per distinct input (as the handler)."""
        if not self.distinct_inputs:
            return history
        return [p for p in history if p.get("input_etag") != self.facts["input"]["etag"]]

    def _check_quality(
        self, done: SparkResult, frame: Any, history: list[dict[str, Any]], key: str
    ) -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]:
        """Profile, checks against the history, quality.json: (profile, summary, blocking checks)."""
        result = done.result
        history = self._distinct(history)
        t3 = time.perf_counter()
        formula_like = formula_like_summary(result.names, done.formula_like, self.options.escape_formulas)
        current = profile(result, self.run_id, frame.zeros, formula_like)
        current["input_etag"] = self.facts["input"]["etag"]  # as the handler's profile
        checks = run_checks(current, history, self.quality)
        self.target.put(key, to_json_bytes(quality_document(checks, len(history))), "application/json")
        quality = report_quality(self.log, checks, len(history), ms_since(t3))
        self.quality_ms["checks_ms"] = ms_since(t3)  # profile, checks, quality.json, log lines
        blocked = failed(checks) if self.quality.on_failure == "block" else []
        return current, quality, blocked

    def _log_saved(self, files: list[str], manifest: dict[str, Any]) -> float:
        duration_ms = round((time.time() - self.started) * 1000, 3)
        self.log.info(
            c.EVENT_SAVED,
            f"{SAVED} Files saved: {len(files)} files and {len(manifest['parts'])} cleaned parts under "
            f"{self.target.spark_uri(self.folder)}",
            files=files,
            duration_ms=duration_ms,
        )
        return duration_ms

    def _quarantine(
        self,
        keys: dict[str, str],
        files: list[str],
        blocked: list[dict[str, Any]],
        done: SparkResult,
        outputs: dict[str, str],
        outcome: dict[str, Any],
    ) -> dict[str, Any]:
        """Not a failed run (it refused bad data): exit code 0, RunFailed 0, as the handler."""
        log_quarantined(self.log, blocked, self.target.spark_uri(self.folder))
        quality = outcome["quality"]
        document = self._run_document("quarantined", files_saved=files, quality=quality, failed_checks=blocked)
        self.target.put(keys["log"], to_json_bytes(document), "application/json")
        record_metric(self.log, c.M_RUN_FAILED, 0)
        self._release()
        handled = self.facts["missing_values_handled"]
        return run_result("quarantined", self.run_id, done.result, handled, outputs, **outcome, failed_checks=blocked)

    def _publish(self, log_key: str, files: list[str], quality: dict[str, Any], outputs: dict[str, str]) -> None:
        """run.json, then latest.json naming the run's files."""
        document = self._run_document("succeeded", files_saved=files, quality=quality)
        self.target.put(log_key, to_json_bytes(document), "application/json")
        latest = {
            c.L_RUN_ID: self.run_id,
            c.L_FINISHED_AT: utc_iso(time.time()),
            "engine": ENGINE,
            c.L_OUTPUTS: outputs,
            c.L_FINGERPRINT: self.facts[c.L_FINGERPRINT],
        }
        self.publishing = True
        self.target.put(c.LATEST_POINTER, to_json_bytes(latest), "application/json")

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
        """Delete what this run wrote and leave a failed run.json; never raises over the original error.

        As the handler: a run whose latest.json write had started is never undone if
        latest.json names it (or cannot be read to tell).
        """
        self._release()
        if self.publishing and self._may_be_published():
            self.log.error(
                c.EVENT_CLEANUP,
                f"{ERROR} Run {self.run_id} failed while or after publishing latest.json: its files are kept",
                error=error,
            )
            return
        try:
            written = [key for key, _ in self.target.list(self.folder)]
            if written:
                self.target.delete(written)
            body = json_safe_bytes(self._run_document("failed", error=error))
            self.target.put(self.folder + c.RUN_DOCUMENT, body, "application/json")
        except (OSError, ClientError, BotoCoreError) as exc:
            self.log.error(c.EVENT_CLEANUP, f"{ERROR} Could not record the failed run: {exc}")

    def _may_be_published(self) -> bool:
        try:
            body = self.target.get(c.LATEST_POINTER)
        except (OSError, ClientError, BotoCoreError):
            return True  # cannot tell: keep the files
        return body is not None and names_run(body, self.run_id)

    def _release(self) -> None:
        if self.cached is not None:
            self.cached.unpersist()
            self.cached = None

    def _run_document(self, status: str, **extra: Any) -> dict[str, Any]:
        return run_document(self.log, self.run_id, self.started, self.facts, status, **extra)
