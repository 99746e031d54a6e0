"""Structured run logging: one JSON object per stdout line, plus one EMF metrics document.

Lambda forwards stdout to CloudWatch Logs, so printing JSON is the cheapest structured
logger there is (no handler setup at import time). Every line carries the request id,
run id and cold-start flag; messages start with the marker the dashboard's activity feed
and `dataops status` key on. The same records are kept for the run's run.json in S3.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, datetime
from typing import Any, TextIO

START, SHAPE, MISSING, SAVED, ERROR = "🚀", "📊", "📈", "✅", "❌"
QUALITY, QUARANTINED = "🔎", "🚧"
METRICS_NAMESPACE = "DataOps/Pipeline"


def utc_iso(epoch_seconds: float) -> str:
    return datetime.fromtimestamp(epoch_seconds, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class RunLog:
    """Collects a run's events, prints each as a JSON line, and emits one EMF document."""

    def __init__(
        self, *, function: str, request_id: str, run_id: str, cold_start: bool, stream: TextIO | None = None
    ) -> None:
        self.context = {"function": function, "request_id": request_id, "run_id": run_id, "cold_start": cold_start}
        self.records: list[dict[str, Any]] = []
        self._stream = stream
        self._metrics: dict[str, tuple[float, str]] = {}

    def info(self, event: str, message: str, **fields: Any) -> None:
        self._emit("INFO", event, message, fields)

    def warning(self, event: str, message: str, **fields: Any) -> None:
        self._emit("WARNING", event, message, fields)

    def error(self, event: str, message: str, **fields: Any) -> None:
        self._emit("ERROR", event, message, fields)

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
                        "Namespace": METRICS_NAMESPACE,
                        "Dimensions": [["Function"]],
                        "Metrics": [{"Name": n, "Unit": unit} for n, (_, unit) in self._metrics.items()],
                    }
                ],
            },
            "Function": self.context["function"],
            "run_id": self.context["run_id"],
            "request_id": self.context["request_id"],
            **{n: value for n, (value, _) in self._metrics.items()},
        }
        self._write(document)
        self._metrics.clear()

    def _emit(self, level: str, event: str, message: str, fields: dict[str, Any]) -> None:
        record = {
            "timestamp": utc_iso(time.time()),
            "level": level,
            "event": event,
            "message": message,
            **self.context,
            **fields,
        }
        self.records.append(record)
        self._write(record)

    def _write(self, document: dict[str, Any]) -> None:
        stream = self._stream or sys.stdout
        stream.write(json.dumps(document, ensure_ascii=False, default=str) + "\n")
        stream.flush()
