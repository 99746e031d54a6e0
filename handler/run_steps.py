"""The steps both engines take the same way (the Spark job imports these): run ids, failure
reports, the data-quality log lines and metrics, the history document, the published check.

Same log lines, metrics and documents whichever engine ran.
"""

from __future__ import annotations

import json
import platform
import time
from collections.abc import Callable, Mapping
from typing import Any

from . import contract as c
from .errors import PipelineError, QualityHistoryError
from .quality import FAIL, HISTORY_MAX_BYTES, WARN, history_bytes, load_history
from .quality_checks import log_line, summarize
from .runlog import (
    ERROR,
    QUALITY,
    QUARANTINED,
    RunLog,
    record_metric,
)


def new_run_id(started: float, request_id: str) -> str:
    """Sortable by time, unique per invocation: 20261125T190437Z-1a2b3c4d."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(started))
    return f"{stamp}-{request_id.replace('-', '')[:8]}"


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


def trigger_of(event: Any) -> str:
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
