"""One handler run: read, process, write the run's files, publish; or fail cleanly.

Publishing is atomic from a reader's point of view: a run writes its files under
`<OUTPUT_PREFIX>runs/<run_id>/`, then run.json, and only then `<OUTPUT_PREFIX>latest.json`
naming them (handler/run_cleanup.py undoes a failed run; handler/run_history.py keeps the
quality history). S3 requests that do not depend on each other go out together
(handler/s3batch.py): a warm run's critical path is four round trips.

Data quality (handler/quality.py): the run reads `<OUTPUT_PREFIX>quality/history.json`
beside the input, writes quality.json with its outputs, and rewrites the history beside
latest.json. With QUALITY_ON_FAILURE=block a failing check quarantines the run: outputs
stay in its folder, run.json says "quarantined", latest.json and the history are left
alone, and the handler returns normally (refusing bad data is not a Lambda error).
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from . import contract as c
from .deadline import Deadline
from .quality import HISTORY_NAME, count_zeros, profile
from .quality_checks import failed, quality_document, run_checks
from .run_cleanup import Cleanup
from .run_history import HistoryIO
from .run_skip import SkipCheck
from .run_steps import after_publishing, log_quarantined, report_quality, run_result, runtime_document
from .runlog import (
    MISSING,
    SAVED,
    SHAPE,
    START,
    RunLog,
    ms_since,
    package_versions,
    record_metric,
    run_document,
    to_json_bytes,
    utc_iso,
)
from .s3batch import Batch
from .s3io import MultipartSink, S3Input
from .settings import Settings

if TYPE_CHECKING:  # numpy and pyarrow load with the first run that processes (a skipped run needs neither)
    from .pipeline import PipelineResult
    from .reader import Columns


class PipelineRun(HistoryIO, Cleanup, SkipCheck):
    """One invocation's work and the S3 keys it has written (for cleanup on failure)."""

    def __init__(
        self,
        settings: Settings,
        s3: Any,
        log: RunLog,
        run_id: str,
        started: float,
        trigger: str,
        deadline: Deadline | None = None,
        force: bool = False,
    ) -> None:
        self.settings, self.s3, self.log, self.run_id, self.started = settings, s3, log, run_id, started
        self.folder = c.run_folder(settings.output_prefix, run_id)
        self.batch = Batch(s3, settings.bucket)
        self.written: list[str] = []
        self.history_before: bytes | None = None  # history.json as read (None: none, or too large to read)
        self.history_existed = False
        self.history_sent = False  # the new history's PUT was sent: a failed run puts the old one back
        self.open_sink: MultipartSink | None = None
        self.open_key: str | None = None
        self.facts: dict[str, Any] = {"trigger": trigger}
        self.quality_ms: dict[str, float] = {}  # what the data-quality work costs (bench/quality_bench.py)
        self.deadline = deadline or Deadline(None)
        self.step = "starting"
        self.publishing = False  # the latest.json call has been made: the run may be published
        self.skip_check = settings.skip_unchanged and not force
        self.fingerprint: dict[str, str] = {}

    def at(self, step: str) -> None:
        """Checkpoint: name the step (for the timeout message) and stop if time is nearly out."""
        self.step = step
        self.deadline.check(step)

    def key(self, name: str) -> str:
        return self.folder + name

    @property
    def history_key(self) -> str:
        return self.settings.output_prefix + HISTORY_NAME

    def execute(self) -> dict[str, Any]:
        """Read, process, write the run's files and check their quality; then publish run.json, the
        latest pointer and the quality history, in that order (a quarantined run publishes nothing)."""
        s = self.settings
        source = S3Input(self.s3, s.bucket, s.input_key)
        self.at("reading the input and the quality history")
        t0 = time.perf_counter()
        if self.skip_check and (skipped := self._skip_if_unchanged(source)) is not None:
            return skipped
        self._log_start()
        t_history = time.perf_counter()
        history_read = self.batch.submit(self._read_history)  # with the input's GET, or after it (skips on)
        columns = self._read(source)
        read_ms = ms_since(t0)
        result, zeros = self._process(columns)
        outputs = {name: self.key(file) for name, file in c.OUTPUT_FILES.items()}
        bodies = self._prepare_outputs(result, read_ms, outputs, history_read)
        self._start_outputs(bodies, outputs)
        history = self._distinct_inputs(history_read.result())  # its round trip overlapped the work above
        self.quality_ms["history_read_ms"] = ms_since(t_history)
        current, quality, blocked = self._check_quality(result, zeros, history, outputs)
        self._send_outputs(outputs)
        files = list(outputs.values())
        duration_ms = self._log_saved(files)
        self.at("writing run.json")
        handled = self.facts["missing_values_handled"]
        if blocked:
            return self._quarantine(outputs, files, blocked, quality, result, handled, duration_ms)
        self._publish(outputs, files, quality, history, current)
        record_metric(self.log, c.M_RUN_FAILED, 0)
        return run_result(
            "succeeded",
            self.run_id,
            result,
            handled,
            outputs,
            quality=quality,
            duration_ms=duration_ms,
            quality_timings_ms=self.quality_ms,
        )

    def _distinct_inputs(self, history: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """With skip_unchanged, one profile per distinct input: an earlier profile of this same file
        (a forced run) is neither a baseline for it nor kept beside its new one. Without, one per run."""
        if not self.settings.skip_unchanged:
            return history
        return [p for p in history if p.get("input_etag") != self.fingerprint["input_etag"]]

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

    def _read(self, source: S3Input) -> Columns:
        """The input CSV as columns; records what was read (size, ETag), the run's fingerprint and its shape."""
        s = self.settings
        from .reader import read_columns  # numpy and pyarrow: only runs that process load them

        info = source.fetch()  # already fetched when skips are on; else beside the history's GET
        columns = read_columns(source.open, size_hint=info.size, max_columns=s.options.max_columns)
        self.fingerprint = self._fingerprint(info.etag)
        self.facts["input"] = {"bucket": s.bucket, "key": s.input_key, "size_bytes": info.size, "etag": info.etag}
        self.facts[c.L_FINGERPRINT] = self.fingerprint
        self.facts["shape"] = {"rows": columns.rows, "columns": len(columns.names)}
        self.log.info(
            c.EVENT_SHAPE,
            f"{SHAPE} Dataset shape: {columns.rows} rows x {len(columns.names)} columns",
            rows=columns.rows,
            columns=len(columns.names),
            column_names=columns.names,
        )
        return columns

    def _process(self, columns: Columns) -> tuple[PipelineResult, Any]:
        """The pipeline's result, and the zero counts the quality profile needs (process() turns them into gaps)."""
        from .pipeline import process

        self.at("processing")
        t_zeros = time.perf_counter()
        zeros = count_zeros(columns.numeric, self.settings.options.zero_as_missing)
        self.quality_ms["zeros_ms"] = ms_since(t_zeros)
        result = process(columns, self.settings.options)
        handled = {name: n for name, n in result.missing.items() if n}
        self.facts["missing_values_handled"] = handled
        record_metric(self.log, c.M_ROWS_PROCESSED, result.rows)
        record_metric(self.log, c.M_RUNS_SKIPPED, 0)
        record_metric(self.log, c.M_MISSING_IMPUTED, result.missing_total)
        self.log.info(
            c.EVENT_MISSING,
            f"{MISSING} Missing values handled: {result.missing_total} cells in {len(handled)} columns",
            missing_values_handled=handled,
            missing_total=result.missing_total,
            imputed_values=result.imputed,
        )
        return result, zeros

    def _prepare_outputs(
        self, result: PipelineResult, read_ms: float, outputs: dict[str, str], history_read: Any
    ) -> dict[str, bytes]:
        """cleaned.csv formatted and sealed (a large one uploads its parts meanwhile), and the
        bodies of correlation.csv, summary.json and dtypes.json; quality.json's comes with the
        checks. summary.json's write_ms is this work: the uploads after it are not on its clock.
        """
        from .outputs import correlation_csv, summary_document

        t1 = time.perf_counter()
        if history_read.done():
            history_read.result()  # an unreadable history fails the run before cleaned.csv is formatted
        self.at("writing cleaned.csv")
        self._format_cleaned(result, outputs["cleaned"]).seal()
        escape = self.settings.options.escape_formulas
        correlation = correlation_csv(result, escape_formulas=escape)
        timings = {"read_ms": read_ms, **result.timings_ms, "write_ms": ms_since(t1)}
        summary = summary_document(
            result,
            run_id=self.run_id,
            input=self.facts["input"],
            options=asdict(self.settings.options),
            timings_ms=timings,
            versions=package_versions("pyarrow", "numpy", "pandas", "boto3"),
            runtime=runtime_document(os.environ),
        )
        return {
            "correlation": correlation,
            "summary": to_json_bytes(summary),
            "dtypes": to_json_bytes(result.dtypes),
        }

    def _start_outputs(self, bodies: dict[str, bytes], outputs: dict[str, str]) -> None:
        """Four of the run's five files, sent before the checks (quality.json needs the history):
        when the history's GET is still in flight (skips on) their round trip overlaps it."""
        self.at("writing the output files")
        assert self.open_sink is not None
        self.batch.submit(self.open_sink.close)
        self._put(outputs["correlation"], bodies["correlation"], "text/csv")
        self._put(outputs["summary"], bodies["summary"], "application/json")
        self._put(outputs["dtypes"], bodies["dtypes"], "application/json")

    def _send_outputs(self, outputs: dict[str, str]) -> None:
        """quality.json joins the other four; wait for all five."""
        self._put(outputs["quality"], self.quality_body, "application/json")
        self.batch.wait()
        self.written.append(outputs["cleaned"])
        self.open_sink, self.open_key = None, None

    def _check_quality(
        self, result: PipelineResult, zeros: Any, history: list[dict[str, Any]], outputs: dict[str, str]
    ) -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]:
        """Profile the run, check it against the history, write quality.json: (profile, summary, blocking checks)."""
        from .formulas import count_in_columns, formula_like_summary

        self.at("checking data quality")
        t2 = time.perf_counter()
        text = {name: result.output[name] for name in result.names if name not in result.numeric}
        formula_like = formula_like_summary(result.names, count_in_columns(text), self.settings.options.escape_formulas)
        current = profile(result, self.run_id, zeros, formula_like)
        current["input_etag"] = self.fingerprint["input_etag"]  # one profile per distinct input
        checks = run_checks(current, history, self.settings.quality)
        self.quality_body = to_json_bytes(quality_document(checks, len(history)))  # uploaded with the outputs
        quality = self._report_quality(checks, len(history), ms_since(t2))
        self.quality_ms["checks_ms"] = ms_since(t2)  # profile, checks, quality.json, log lines
        blocked = failed(checks) if self.settings.quality.on_failure == "block" else []
        return current, quality, blocked

    def _log_saved(self, files: list[str]) -> float:
        duration_ms = round((time.time() - self.started) * 1000, 3)
        self.log.info(
            c.EVENT_SAVED,
            f"{SAVED} Files saved: {len(files)} files under s3://{self.settings.bucket}/{self.folder}",
            files=files,
            duration_ms=duration_ms,
        )
        return duration_ms

    def _publish(
        self,
        outputs: dict[str, str],
        files: list[str],
        quality: dict[str, Any],
        history: list[dict[str, Any]],
        current: dict[str, Any],
    ) -> None:
        """run.json, then the pointer that names the run's files (so "latest" is never half written),
        with the quality history's rewrite in flight beside it (one round trip for both).

        The history goes out only while the safety margin is untouched; if latest.json then
        fails, the cleanup puts the history back as it was (the run was not published).
        """
        s = self.settings
        self._put(
            outputs["log"],
            to_json_bytes(self._run_document("succeeded", files_saved=files, quality=quality)),
            "application/json",
        )
        self.batch.wait()
        self.at("publishing latest.json")
        t_write = time.perf_counter()
        latest = {
            c.L_RUN_ID: self.run_id,
            c.L_FINISHED_AT: utc_iso(time.time()),
            c.L_OUTPUTS: outputs,
            c.L_FINGERPRINT: self.fingerprint,
        }
        body = to_json_bytes(latest)
        history_write = self._send_history(history, current)
        self.publishing = True  # from here latest.json may name this run, even if the call fails
        self.s3.put_object(
            Bucket=s.bucket, Key=c.latest_key(s.output_prefix), Body=body, ContentType="application/json"
        )
        # Published: from here nothing may turn the run into a failed one (its cleanup would
        # delete the files latest.json now names). The alarm stops and whatever the history's
        # write raises is logged.
        self.deadline.disarm()
        after_publishing(self.log, self.run_id, "updating the quality history", history_write.result)
        self.quality_ms["history_write_ms"] = ms_since(t_write)

    def _report_quality(self, checks: list[dict[str, Any]], baseline_runs: int, check_ms: float) -> dict[str, Any]:
        return report_quality(self.log, checks, baseline_runs, check_ms)

    def _quarantine(
        self,
        outputs: dict[str, str],
        files: list[str],
        blocked: list[dict[str, Any]],
        quality: dict[str, Any],
        result: Any,
        handled: dict[str, int],
        duration_ms: float,
    ) -> dict[str, Any]:
        """QUALITY_ON_FAILURE=block: keep the outputs in the run folder, away from latest.json and the history.

        Not a Lambda error (the function did its job: it refused bad data), so RunFailed is 0;
        QualityFailures and the quarantined log line make it visible.
        """
        log_quarantined(self.log, blocked, f"s3://{self.settings.bucket}/{self.folder}")
        document = self._run_document("quarantined", files_saved=files, quality=quality, failed_checks=blocked)
        self._put(outputs["log"], to_json_bytes(document), "application/json")
        self.batch.wait()
        record_metric(self.log, c.M_RUN_FAILED, 0)
        return run_result(
            "quarantined",
            self.run_id,
            result,
            handled,
            outputs,
            quality=quality,
            failed_checks=blocked,
            duration_ms=duration_ms,
        )

    def _format_cleaned(self, result: Any, key: str) -> MultipartSink:
        """cleaned.csv into its sink: a large one uploads its parts meanwhile; the caller seals and closes it."""
        from .outputs import write_cleaned_csv

        self.open_key = key
        self.open_sink = MultipartSink(self.s3, self.settings.bucket, key, "text/csv")
        write_cleaned_csv(result, self.open_sink, escape_formulas=self.settings.options.escape_formulas)
        return self.open_sink

    def _put(self, key: str, body: bytes, content_type: str) -> None:
        """A PUT on the run's batch; the key counts as written before it is sent (cleanup deletes it)."""
        self.written.append(key)
        self.batch.put(key, body, content_type)

    def _run_document(self, status: str, **extra: Any) -> dict[str, Any]:
        return run_document(self.log, self.run_id, self.started, self.facts, status, **extra)
