"""Lambda entry point: read the input CSV from S3, run the pipeline, publish the outputs.

Publishing is atomic from a reader's point of view: a run writes its files under
`<OUTPUT_PREFIX>runs/<run_id>/`, then run.json, and only then `<OUTPUT_PREFIX>latest.json`
naming them. A failed run removes what it had written, records a failed run.json, never
touches latest.json or earlier runs, and raises so Lambda counts an Error. A published run
is never unpublished: anything raised after the latest.json call is logged (after_publishing)
and the run stays published; a failure of that call itself deletes nothing if latest.json
names the run (or cannot be read to tell).

Data quality (handler/quality.py): the run reads `<OUTPUT_PREFIX>quality/history.json`
first, writes quality.json beside its outputs, and appends its profile to the history
after latest.json. With QUALITY_ON_FAILURE=block a failing check quarantines the run:
outputs stay in its folder, run.json says "quarantined", latest.json and the history are
left alone, and the handler returns normally (refusing bad data is not a Lambda error).

A run that is about to hit the function's timeout stops itself first (Lambda would kill
the process and nothing could clean up): with SAFETY_MARGIN_MS left it raises a
TimeoutError, aborts its multipart upload, deletes what it wrote (quality.json included)
and records a failed run.json, so the run history says it happened and Lambda counts an
Error. The guard ends once latest.json is published: a timeout after that must not
unpublish the run, so the quality history is then rewritten only if time is left, and a
run that stopped itself never rewrites it.

Import stays light (no client, no I/O): the S3 client is created on first use and reused
by warm invocations.
"""

from __future__ import annotations

import json
import os
import platform
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from . import contract as c
from .errors import ConfigurationError, PipelineError, QualityHistoryError
from .formulas import count_in_columns, formula_like_summary
from .outputs import correlation_csv, summary_document, to_json_bytes, write_cleaned_csv
from .pipeline import PipelineOptions, PipelineResult, process
from .quality import (
    FAIL,
    HISTORY_MAX_BYTES,
    HISTORY_NAME,
    WARN,
    QualitySettings,
    count_zeros,
    failed,
    history_bytes,
    load_history,
    log_line,
    profile,
    quality_document,
    run_checks,
    summarize,
)
from .reader import Columns, read_columns
from .runlog import (
    ERROR,
    MISSING,
    QUALITY,
    QUARANTINED,
    SAVED,
    SHAPE,
    START,
    RunLog,
    json_safe_bytes,
    ms_since,
    package_versions,
    record_metric,
    run_document,
    utc_iso,
)
from .s3batch import S3_POOL_CONNECTIONS, Batch, tune
from .s3io import MultipartSink, S3Input

_cold_start = True
_s3_client: Any = None
# Time kept back for cleanup (abort the upload, delete the outputs, write run.json): a quarter
# of the time left at the start, at most this much.
SAFETY_MARGIN_MS = 5000


class RunTimeoutError(TimeoutError):
    """The run stopped itself before the function's timeout, to clean up while it still can."""


class Deadline:
    """Watches `context.get_remaining_time_in_millis()`: checkpoints, plus a SIGALRM in the main thread.

    The alarm interrupts long pure-Python work and blocking I/O alike; the checkpoints
    cover runtimes that call the handler off the main thread (no signals there).
    """

    def __init__(self, context: Any, margin_ms: int = SAFETY_MARGIN_MS) -> None:
        self._remaining = getattr(context, "get_remaining_time_in_millis", None)
        self._armed = False  # a SIGALRM timer is set (main thread only)
        self._disarmed = False
        start = self.remaining_ms()
        self.margin_ms = min(margin_ms, start // 4) if start is not None else margin_ms

    def remaining_ms(self) -> int | None:
        return int(self._remaining()) if callable(self._remaining) else None

    def check(self, step: str) -> None:
        left = self.remaining_ms()
        if left is not None and left <= self.margin_ms:
            raise RunTimeoutError(self._message(step, left))

    def _message(self, step: str, left: int) -> str:
        return (
            f"stopped while {step}: {left} ms left before the function's timeout "
            f"(safety margin {self.margin_ms} ms, kept to clean up); raise the timeout or use a smaller input"
        )

    def disarm(self) -> None:
        """Stop the alarm early: what follows must not be interrupted (the run is published).

        Checkpoints still answer; only the signal that would raise mid-step is gone.
        """
        self._disarmed = True
        if self._armed:
            signal.setitimer(signal.ITIMER_REAL, 0)

    @contextmanager
    def alarm(self, step: Callable[[], str]) -> Iterator[None]:
        left = self.remaining_ms()
        if left is None or threading.current_thread() is not threading.main_thread():
            yield
            return

        def expired(_signum: int, _frame: Any) -> None:
            if self._disarmed:  # delivered just before disarm() cancelled the timer
                return
            raise RunTimeoutError(self._message(step(), self.remaining_ms() or 0))

        previous = signal.signal(signal.SIGALRM, expired)
        signal.setitimer(signal.ITIMER_REAL, max(0.001, (left - self.margin_ms) / 1000))
        self._armed = True
        try:
            yield
        finally:
            self._armed = False
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)


@dataclass(frozen=True)
class Settings:
    bucket: str
    input_key: str
    output_prefix: str
    options: PipelineOptions
    quality: QualitySettings = field(default_factory=QualitySettings)

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
                f"OUTPUT_PREFIX={prefix!r} must end with '/' and not start with '/', e.g. 'processed/'",
                setting="OUTPUT_PREFIX",
            )
        zero = env.get(c.ENV_ZERO_AS_MISSING)
        return cls(
            bucket=required(c.ENV_BUCKET),
            input_key=required(c.ENV_INPUT_KEY),
            output_prefix=prefix,
            options=PipelineOptions(
                zero_as_missing=c.DEFAULT_ZERO_AS_MISSING if zero is None else _split(zero),
                impute_strategy=env.get(c.ENV_IMPUTE_STRATEGY, "").strip() or c.DEFAULT_IMPUTE_STRATEGY,
                normalize_method=env.get(c.ENV_NORMALIZE_METHOD, "").strip() or c.DEFAULT_NORMALIZE_METHOD,
                normalize_exclude=_split(env.get(c.ENV_NORMALIZE_EXCLUDE, ",".join(c.DEFAULT_NORMALIZE_EXCLUDE))),
                max_columns=int_setting(env, c.ENV_MAX_COLUMNS, c.DEFAULT_MAX_COLUMNS),
                escape_formulas=bool_setting(env, c.ENV_ESCAPE_FORMULAS, c.DEFAULT_ESCAPE_FORMULAS),
            ),
            quality=QualitySettings.from_environ(env),
        )


def int_setting(env: Mapping[str, str], name: str, default: int) -> int:
    """An integer variable; unset or empty is `default`; anything else must parse, or the run fails naming it."""
    text = env.get(name, "").strip()
    if not text:
        return default
    try:
        return int(text)
    except ValueError:
        raise ConfigurationError(f"{name}={text!r} is not an integer", setting=name) from None


def bool_setting(env: Mapping[str, str], name: str, default: bool) -> bool:
    """A "true"/"false" variable (config.py writes those; any case is accepted); unset or empty is `default`."""
    text = env.get(name, "").strip().lower()
    if not text:
        return default
    if text not in ("true", "false"):
        raise ConfigurationError(f"{name}={text!r} is not 'true' or 'false'", setting=name)
    return text == "true"


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
        from botocore.config import Config

        _s3_client = tune(boto3.client("s3", config=Config(max_pool_connections=S3_POOL_CONNECTIONS)))
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
    deadline = Deadline(context)
    try:
        settings = Settings.from_environ(os.environ)
        run = PipelineRun(settings, _s3(), log, run_id, started, trigger=_trigger(event), deadline=deadline)
        with deadline.alarm(lambda: run.step if run is not None else "starting"):
            return run.execute()
    except Exception as exc:
        if isinstance(exc, RunTimeoutError):
            detail = {"type": "TimeoutError", "message": str(exc), "step": run.step if run else "starting"}
        else:
            detail = error_detail(exc)
        report_failure(log, exc, detail)
        if run is not None:
            run.record_failure(detail)
        raise
    finally:
        if run is not None:
            run.batch.close()
        close_log(log, started)


def error_detail(exc: Exception) -> dict[str, Any]:
    """A failed run's `error` (run.json, the log line): a PipelineError's fields, else type and message."""
    return exc.as_dict() if isinstance(exc, PipelineError) else {"type": type(exc).__name__, "message": str(exc)}


def report_failure(log: RunLog, exc: Exception, detail: dict[str, Any]) -> None:
    """The failed run's metric and error line, the same from both engines."""
    record_metric(log, c.M_RUN_FAILED, 1)
    log.error(c.EVENT_ERROR, f"{ERROR} Pipeline run failed: {exc}", error=detail)


def close_log(log: RunLog, started: float) -> None:
    """Every run, failed or not, ends with its processing time and the buffered metrics."""
    record_metric(log, c.M_PROCESSING_TIME, round((time.time() - started) * 1000, 3))
    log.flush_metrics()


class PipelineRun:
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
        self._log_start()
        self.at("reading the input and the quality history")
        t_history = time.perf_counter()
        history_read = self.batch.submit(self._read_history)  # one round trip with the input's GET
        t0 = time.perf_counter()
        columns = self._read()
        read_ms = ms_since(t0)
        history = history_read.result()
        self.quality_ms["history_read_ms"] = ms_since(t_history)
        result, zeros = self._process(columns)
        outputs = {name: self.key(file) for name, file in c.OUTPUT_FILES.items()}
        current, quality, blocked = self._check_quality(result, zeros, history, outputs)
        self._write_outputs(result, read_ms, outputs)
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
        columns = read_columns(source.open, size_hint=source.fetch().size, max_columns=s.options.max_columns)
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

    def _process(self, columns: Columns) -> tuple[PipelineResult, Any]:
        """The pipeline's result, and the zero counts the quality profile needs (process() turns them into gaps)."""
        self.at("processing")
        t_zeros = time.perf_counter()
        zeros = count_zeros(columns.numeric, self.settings.options.zero_as_missing)
        self.quality_ms["zeros_ms"] = ms_since(t_zeros)
        result = process(columns, self.settings.options)
        handled = {name: n for name, n in result.missing.items() if n}
        self.facts["missing_values_handled"] = handled
        record_metric(self.log, c.M_ROWS_PROCESSED, result.rows)
        record_metric(self.log, c.M_MISSING_IMPUTED, result.missing_total)
        self.log.info(
            c.EVENT_MISSING,
            f"{MISSING} Missing values handled: {result.missing_total} cells in {len(handled)} columns",
            missing_values_handled=handled,
            missing_total=result.missing_total,
            imputed_values=result.imputed,
        )
        return result, zeros

    def _write_outputs(self, result: PipelineResult, read_ms: float, outputs: dict[str, str]) -> None:
        """The run's five files under its own folder, uploaded together (one round trip for small ones).

        cleaned.csv is formatted first (a large one uploads its parts meanwhile); its last
        request goes out with the other four. summary.json's write_ms is that formatting and
        the serializing of the others: the uploads after it are not on its clock.
        """
        t1 = time.perf_counter()
        self.at("writing cleaned.csv")
        sink = self._format_cleaned(result, outputs["cleaned"])
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
        self.at("writing the output files")
        self.batch.submit(sink.close)
        self._put(outputs["correlation"], correlation, "text/csv")
        self._put(outputs["summary"], to_json_bytes(summary), "application/json")
        self._put(outputs["dtypes"], to_json_bytes(result.dtypes), "application/json")
        self._put(outputs["quality"], self.quality_body, "application/json")
        self.batch.wait()
        self.written.append(outputs["cleaned"])
        self.open_sink, self.open_key = None, None

    def _check_quality(
        self, result: PipelineResult, zeros: Any, history: list[dict[str, Any]], outputs: dict[str, str]
    ) -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]:
        """Profile the run, check it against the history, write quality.json: (profile, summary, blocking checks)."""
        self.at("checking data quality")
        t2 = time.perf_counter()
        text = {name: result.output[name] for name in result.names if name not in result.numeric}
        formula_like = formula_like_summary(result.names, count_in_columns(text), self.settings.options.escape_formulas)
        current = profile(result, self.run_id, zeros, formula_like)
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
        history_write = self._send_history(history, current)
        latest = {c.L_RUN_ID: self.run_id, c.L_FINISHED_AT: utc_iso(time.time()), c.L_OUTPUTS: outputs}
        self.publishing = True  # from here latest.json may name this run, even if the call fails
        self.s3.put_object(
            Bucket=s.bucket,
            Key=c.latest_key(s.output_prefix),
            Body=to_json_bytes(latest),
            ContentType="application/json",
        )
        # Published: from here nothing may turn the run into a failed one (its cleanup would
        # delete the files latest.json now names). The alarm stops and whatever the history's
        # write raises is logged.
        self.deadline.disarm()
        after_publishing(self.log, self.run_id, "updating the quality history", history_write.result)
        self.quality_ms["history_write_ms"] = ms_since(t_write)

    def _read_history(self) -> list[dict[str, Any]]:
        """The profiles of earlier successful runs; none when history.json does not exist yet.

        A history that is not valid (hand-edited, truncated) is reported and replaced at the
        end of this run rather than failing every run from now on.
        """
        try:
            response = self.s3.get_object(Bucket=self.settings.bucket, Key=self.history_key)
            self.history_existed = True
            if response.get("ContentLength", 0) > HISTORY_MAX_BYTES:  # not read: it would cost this run
                response["Body"].close()
                return history_too_large(response["ContentLength"], self.history_key, self.log)
            body = self.history_before = response["Body"].read()
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in ("NoSuchKey", "404"):
                return []
            where = f"s3://{self.settings.bucket}/{self.history_key}"
            hint = "the execution role needs s3:GetObject on it; dataops up grants it"
            raise history_unreadable(where, self.history_key, code, hint) from exc
        return history_from(body, self.history_key, self.log)

    def _send_history(self, history: list[dict[str, Any]], current: dict[str, Any]) -> Any:
        """Start the history's rewrite, right after the last checkpoint before latest.json (so a
        run that stopped itself never sent it). The body is built in the request's thread: what
        it raises comes out of the future after latest.json, and is logged (the run is published)."""
        self.history_sent = True
        return self.batch.submit(lambda: self._write_history(history, current))

    def _write_history(self, history: list[dict[str, Any]], current: dict[str, Any]) -> None:
        """Beside latest.json: a failure here must not turn a published run into a failed one."""
        body = history_body(history, current, self.settings.quality.history_runs, self.history_key, self.log)
        if body is None:
            return
        try:
            self.s3.put_object(
                Bucket=self.settings.bucket, Key=self.history_key, Body=body, ContentType="application/json"
            )
        except (ClientError, BotoCoreError) as exc:
            self.log.error(
                c.EVENT_QUALITY_HISTORY,
                f"{ERROR} Could not update the quality history {self.history_key}: {exc}",
                key=self.history_key,
            )

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

    def record_failure(self, error: dict[str, Any]) -> None:
        """Undo partial outputs and leave a failed run.json; never raises over the original error.

        Each step is tried on its own: an upload interrupted right after it completed has no
        upload left to abort, but its object is still deleted and run.json still written.
        A run that may have been published (the latest.json call was made) is never undone:
        if latest.json names it, or cannot be read to tell, its files stay.
        """
        bucket = self.settings.bucket
        self.batch.close()  # nothing of this run is in flight once the cleanup starts
        if self.publishing and self._may_be_published():
            self.log.error(
                c.EVENT_CLEANUP,
                f"{ERROR} Run {self.run_id} failed while or after publishing latest.json: its files are kept",
                error=error,
            )
            return
        written = list(self.written)
        if self.open_key is not None and self.open_key not in written:
            written.append(self.open_key)  # interrupted mid-upload (or just after it completed)
        steps: list[tuple[str, Callable[[], Any]]] = []
        if self.open_sink is not None:
            steps.append(("abort the multipart upload", self.open_sink.abort))
        if written:
            objects = [{"Key": k} for k in written]
            steps.append(
                (
                    "delete the partial outputs",
                    lambda: self.s3.delete_objects(Bucket=bucket, Delete={"Objects": objects}),
                )
            )
        steps.append(
            (
                "write the failed run.json",
                lambda: self.s3.put_object(
                    Bucket=bucket,
                    Key=self.key(c.RUN_DOCUMENT),
                    ContentType="application/json",
                    Body=json_safe_bytes(self._run_document("failed", error=error)),
                ),
            )
        )
        if self.history_sent:
            steps.append(("put the quality history back", self._restore_history))
        for what, step in steps:
            try:
                step()
            except (ClientError, BotoCoreError) as exc:
                self.log.error(c.EVENT_CLEANUP, f"{ERROR} Could not {what} in S3: {exc}", written=written)

    def _restore_history(self) -> None:
        """latest.json failed after the history's rewrite went out beside it: undo that rewrite."""
        s = self.settings
        if not self.history_existed:
            self.s3.delete_object(Bucket=s.bucket, Key=self.history_key)
        elif self.history_before is not None:
            self.s3.put_object(
                Bucket=s.bucket, Key=self.history_key, Body=self.history_before, ContentType="application/json"
            )
        # else: the old one was too large to read, and a history that size is replaced anyway.

    def _may_be_published(self) -> bool:
        """Whether latest.json names this run, or might (it cannot be read): then nothing is deleted."""
        s = self.settings
        try:
            body = self.s3.get_object(Bucket=s.bucket, Key=c.latest_key(s.output_prefix))["Body"].read()
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            return code not in ("NoSuchKey", "404")
        except BotoCoreError:
            return True
        return names_run(body, self.run_id)

    def _format_cleaned(self, result: Any, key: str) -> MultipartSink:
        """cleaned.csv into its sink: a large one uploads its parts meanwhile; the caller closes it."""
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


def _trigger(event: Any) -> str:
    """What started the run: the schedule's and `dataops invoke`'s events say; others are "unknown"."""
    if isinstance(event, dict) and isinstance(event.get("trigger"), str):
        return event["trigger"][:40]
    return "unknown"


def runtime_document(env: Mapping[str, str]) -> dict[str, str]:
    """The runtime the function is configured with and the interpreter that actually ran it.

    On AWS they agree (AWS_EXECUTION_ENV is "AWS_Lambda_python3.12"); the local emulator runs
    this machine's interpreter and says so through DATAOPS_EXECUTED_BY_NOTE.
    """
    configured = env.get("AWS_EXECUTION_ENV", "").removeprefix("AWS_Lambda_") or "unknown"
    executed = f"python{platform.python_version()}"
    if note := env.get("DATAOPS_EXECUTED_BY_NOTE", "").strip():
        executed += f" ({note})"
    return {"configured": configured, "executed_by": executed}


# --- The data-quality steps both engines take (the Spark job imports these): same log lines,
# metrics and history document, whichever engine ran.


def report_quality(log: RunLog, checks: list[dict[str, Any]], baseline_runs: int, check_ms: float) -> dict[str, Any]:
    """One log line per warn/fail check, a summary line, and the two per-run metrics; returns run.json's summary."""
    for check in checks:
        if check["level"] == WARN:
            log.warning(c.EVENT_QUALITY_CHECK, log_line(check), check=check)
        elif check["level"] == FAIL:
            log.error(c.EVENT_QUALITY_CHECK, log_line(check), check=check)
    counts = summarize(checks)
    record_metric(log, c.M_QUALITY_WARNINGS, counts[WARN])
    record_metric(log, c.M_QUALITY_FAILURES, counts[FAIL])
    quality = {"baseline_runs": baseline_runs, **counts}
    log.info(
        c.EVENT_QUALITY,
        f"{QUALITY} Quality: {counts['ok']} ok, {counts[WARN]} warn, {counts[FAIL]} fail "
        f"against {baseline_runs} earlier runs",
        quality=quality,
        check_ms=check_ms,
    )
    return quality


def history_from(body: bytes, key: str, log: RunLog) -> list[dict[str, Any]]:
    """The profiles in a history.json body; an unusable one is reported and replaced (not fatal)."""
    try:
        return load_history(body, key)
    except (ValueError, UnicodeDecodeError) as exc:  # JSONDecodeError is a ValueError
        log.warning(c.EVENT_QUALITY_HISTORY, f"{QUALITY} Quality history unusable, starting a new one: {exc}", key=key)
        return []


def history_too_large(size: int, key: str, log: RunLog) -> list[dict[str, Any]]:
    """A history over HISTORY_MAX_BYTES is not read (it would cost every run) and is replaced."""
    log.warning(
        c.EVENT_QUALITY_HISTORY,
        f"{QUALITY} Quality history unusable, starting a new one: {key} is {size:,} bytes, "
        f"more than the {HISTORY_MAX_BYTES:,} a history holds",
        key=key,
    )
    return []


def history_body(
    history: list[dict[str, Any]], current: dict[str, Any], keep: int, key: str, log: RunLog
) -> bytes | None:
    """The new history.json, kept under HISTORY_MAX_BYTES (oldest profiles dropped, said in the log);
    None when this run's profile alone is larger (the history is left as it was)."""
    body, dropped = history_bytes(history, current, keep)
    if body is None:
        log.warning(
            c.EVENT_QUALITY_HISTORY,
            f"{QUALITY} Quality history not updated: this run's profile alone is over {HISTORY_MAX_BYTES:,} bytes",
            key=key,
        )
    elif dropped and len(history) + 1 - dropped < keep:
        log.info(
            c.EVENT_QUALITY_HISTORY,
            f"{QUALITY} Quality history keeps {len(history) + 1 - dropped} profiles to stay under "
            f"{HISTORY_MAX_BYTES:,} bytes",
            key=key,
        )
    return body


def names_run(latest: bytes, run_id: str) -> bool:
    """Whether a latest.json body names `run_id`; an unreadable one might, so it counts as naming it."""
    try:
        document = json.loads(latest)
    except (ValueError, UnicodeDecodeError):
        return True
    return not isinstance(document, dict) or document.get(c.L_RUN_ID) == run_id


def after_publishing(log: RunLog, run_id: str, step: str, work: Callable[[], Any]) -> None:
    """Run a step that follows latest.json: whatever it raises is logged and the run stays published."""
    try:
        work()
    except Exception as exc:  # noqa: BLE001 (issue 19: nothing after publishing may unpublish the run)
        log.error(
            c.EVENT_QUALITY_HISTORY,
            f"{ERROR} Run {run_id} is published, but {step} failed: {type(exc).__name__}: {exc}",
            error={"type": type(exc).__name__, "message": str(exc), "step": step},
        )


def history_unreadable(where: str, key: str, code: str, hint: str) -> QualityHistoryError:
    """The history exists but cannot be read: the run fails (a run must not compare with nothing silently)."""
    return QualityHistoryError(
        f"cannot read the quality history {where}: {code} ({hint})",
        key=key,
        aws_error=code,
    )


def log_quarantined(log: RunLog, blocked: list[dict[str, Any]], where: str) -> None:
    names = ", ".join(x["name"] + (f" [{x['column']}]" if x.get("column") else "") for x in blocked)
    log.warning(
        c.EVENT_QUARANTINED,
        f"{QUARANTINED} Run quarantined: failing checks {names}; latest.json unchanged, outputs kept under {where}",
        failed_checks=blocked,
    )


def run_result(
    status: str, run_id: str, result: Any, handled: dict[str, int], outputs: dict[str, str], **extra: Any
) -> dict[str, Any]:
    """What a run returns to its caller (Lambda's response payload, the Spark job's exit report)."""
    return {
        "status": status,
        "run_id": run_id,
        "rows": result.rows,
        "columns": len(result.names),
        "missing_values_handled": handled,
        "missing_total": result.missing_total,
        "outputs": outputs,
        **extra,
    }
