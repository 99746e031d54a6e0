"""Structured run logging: one JSON object per stdout line, plus one EMF metrics document.

Lambda forwards stdout to CloudWatch Logs, so printing JSON is the cheapest structured
logger there is (no handler setup at import time). Every line carries the request id,
run id and cold-start flag; messages start with the marker the dashboard's activity feed
and `dataops status` key on. The same records are kept for the run's run.json in S3.
"""

from __future__ import annotations

import json
import math
import platform
import sys
import time
from datetime import UTC, datetime
from importlib import metadata
from typing import Any, TextIO

from . import contract as c

START, SHAPE, MISSING, SAVED, ERROR = (
    c.MARKERS[e] for e in (c.EVENT_START, c.EVENT_SHAPE, c.EVENT_MISSING, c.EVENT_SAVED, c.EVENT_ERROR)
)
QUALITY, QUARANTINED = c.MARKERS[c.EVENT_QUALITY], c.MARKERS[c.EVENT_QUARANTINED]


def utc_iso(epoch_seconds: float) -> str:
    return datetime.fromtimestamp(epoch_seconds, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class RunLog:
    """Collects a run's events, prints each as a JSON line, and emits one EMF document."""

    def __init__(
        self, *, function: str, request_id: str, run_id: str, cold_start: bool, stream: TextIO | None = None
    ) -> None:
        self.context = {
            c.F_FUNCTION: function,
            c.F_REQUEST_ID: request_id,
            c.F_RUN_ID: run_id,
            c.F_COLD_START: cold_start,
        }
        self.records: list[dict[str, Any]] = []
        self._stream = stream
        self._metrics: dict[str, tuple[float, str]] = {}

    def info(self, event: str, message: str, **fields: Any) -> None:
        self._emit(c.LEVEL_INFO, event, message, fields)

    def warning(self, event: str, message: str, **fields: Any) -> None:
        self._emit(c.LEVEL_WARNING, event, message, fields)

    def error(self, event: str, message: str, **fields: Any) -> None:
        self._emit(c.LEVEL_ERROR, event, message, fields)

    def metric(self, name: str, value: float, unit: str) -> None:
        self._metrics[name] = (value, unit)

    def flush_metrics(self) -> None:
        """Print the run's EMF document; call from `finally` so failed runs are counted too."""
        if not self._metrics:
            return
        document = {
            "_aws": {
                "Timestamp": int(time.time() * 1000),
                "CloudWatchMetrics": [
                    {
                        "Namespace": c.METRICS_NAMESPACE,
                        "Dimensions": [[c.METRIC_DIMENSION]],
                        "Metrics": [{"Name": n, "Unit": unit} for n, (_, unit) in self._metrics.items()],
                    }
                ],
            },
            c.METRIC_DIMENSION: self.context[c.F_FUNCTION],
            c.F_RUN_ID: self.context[c.F_RUN_ID],
            c.F_REQUEST_ID: self.context[c.F_REQUEST_ID],
            **{n: value for n, (value, _) in self._metrics.items()},
        }
        self._write(document)
        self._metrics.clear()

    def _emit(self, level: str, event: str, message: str, fields: dict[str, Any]) -> None:
        record = {
            c.F_TIMESTAMP: utc_iso(time.time()),
            c.F_LEVEL: level,
            c.F_EVENT: event,
            c.F_MESSAGE: message,
            **self.context,
            **json_safe(fields),  # the record goes into run.json too: it must always encode
        }
        self.records.append(record)
        self._write(record)

    def _write(self, document: dict[str, Any]) -> None:
        stream = self._stream or sys.stdout
        stream.write(json.dumps(document, ensure_ascii=False, default=str) + "\n")
        stream.flush()


def record_metric(log: RunLog, name: str, value: float) -> None:
    """Add one of the contract's metrics to the run's EMF document, in the contract's unit."""
    log.metric(name, value, c.METRIC_UNITS[name])


def ms_since(t0: float) -> float:
    """Milliseconds since a `time.perf_counter()` reading, as the summaries' timings record them."""
    return round((time.perf_counter() - t0) * 1000, 3)


def package_versions(*packages: str) -> dict[str, str]:
    """The interpreter's and the named packages' versions, for summary.json (engines differ in packages)."""
    found = {"python": platform.python_version()}
    for package in packages:
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = "not installed"
    return found


def run_document(log: RunLog, run_id: str, started: float, facts: dict[str, Any], status: str, **extra: Any) -> dict:
    """run.json: the run's status, context, timing, facts and every event (both engines write it)."""
    finished = time.time()
    return {
        "run_id": run_id,
        "status": status,
        **log.context,
        "started_at": utc_iso(started),
        "finished_at": utc_iso(finished),
        "duration_ms": round((finished - started) * 1000, 3),
        **facts,
        **extra,
        "events": log.records,
    }


def json_safe(value: Any) -> Any:
    """A copy that strict JSON can always encode: NaN/inf as strings, numpy scalars as numbers,
    other objects as their str(), keys as str.

    For what must be written whatever happened (log records, a failed run's run.json): strict
    JSON would raise over the original error and leave no record.
    """
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # 'nan', 'inf', '-inf'
    if value is None or isinstance(value, (str, int, float)):
        return value
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if type(value).__module__ == "numpy" and hasattr(value, "item"):  # a numpy scalar
        return json_safe(value.item())
    return str(value)


def to_json_bytes(document: Any) -> bytes:
    """Strict JSON (NaN is not JSON: a NaN here is a bug, so fail loudly)."""
    return json.dumps(document, indent=2, ensure_ascii=False, allow_nan=False).encode("utf-8") + b"\n"


def json_safe_bytes(document: Any) -> bytes:
    """Strict, indented JSON of json_safe(document): never raises for the values a run holds."""
    return json.dumps(json_safe(document), indent=2, ensure_ascii=False, allow_nan=False).encode("utf-8") + b"\n"
