"""`dataops invoke`: run the function synchronously and show what the run did."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError
from rich.console import Group, RenderableType
from rich.text import Text

from dataops_cli import logtail, runlog_reader
from dataops_cli.aws import error_code
from dataops_cli.ui import key_values

MANUAL_EVENT = {"trigger": "manual", "source": "dataops"}
THROTTLE_RETRY_SECONDS = 0.5


@dataclass
class InvokeOutcome:
    function: str
    status_code: int
    function_error: str | None
    payload: Any
    log_tail: str
    request_id: str | None

    @property
    def failed(self) -> bool:
        return self.function_error is not None or self.status_code >= 300

    @property
    def report(self) -> dict[str, Any] | None:
        return next((r for line in self.log_tail.splitlines() if (r := runlog_reader.parse_report(line))), None)

    def as_dict(self) -> dict[str, Any]:
        return {
            "function": self.function,
            "status_code": self.status_code,
            "failed": self.failed,
            "function_error": self.function_error,
            "request_id": self.request_id,
            "payload": self.payload,
            "report": self.report,
            "log_tail": self.log_tail.splitlines(),
        }


def invoke_now(
    client: Any,
    function: str,
    trigger: str = "manual",
    wait_seconds: float = 0.0,
    on_wait: Callable[[], None] | None = None,
) -> InvokeOutcome:
    """One synchronous run. With reserved concurrency 1 a run already going (a scheduled one)
    makes Lambda answer TooManyRequests: wait for it up to `wait_seconds`, telling `on_wait` once."""
    deadline = time.monotonic() + wait_seconds
    told = False
    while True:
        try:
            response = client.invoke(
                FunctionName=function,
                InvocationType="RequestResponse",
                LogType="Tail",
                Payload=json.dumps({**MANUAL_EVENT, "trigger": trigger}).encode(),
            )
            break
        except ClientError as exc:
            if error_code(exc) != "TooManyRequestsException" or time.monotonic() > deadline:
                raise
            if on_wait is not None and not told:
                on_wait()
                told = True
            time.sleep(THROTTLE_RETRY_SECONDS)
    raw = response["Payload"].read().decode("utf-8", "replace")
    try:
        payload: Any = json.loads(raw) if raw else None
    except json.JSONDecodeError:
        payload = raw
    tail = (
        base64.b64decode(response.get("LogResult", "")).decode("utf-8", "replace") if response.get("LogResult") else ""
    )
    return InvokeOutcome(
        function=function,
        status_code=response["StatusCode"],
        function_error=response.get("FunctionError"),
        payload=payload,
        log_tail=tail,
        request_id=response.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get("x-amzn-requestid"),
    )


def render_result(outcome: InvokeOutcome, width: int = 100) -> RenderableType:
    """The outcome as text laid out for `width` columns (key/value lines carry no padding)."""
    parts: list[RenderableType] = []
    payload = outcome.payload if isinstance(outcome.payload, dict) else {}
    if outcome.failed:
        title = Text(f"❌ {outcome.function} failed", style="bold red")
        message = payload.get("errorMessage") or (outcome.payload if isinstance(outcome.payload, str) else "")
        kind = payload.get("errorType") or outcome.function_error or f"HTTP {outcome.status_code}"
        parts += [title, Text(f"{kind}: {message}", style="red")]
    else:
        parts.append(Text(f"✅ {outcome.function} run {payload.get('run_id', '')} succeeded", style="bold green"))
        rows: list[tuple[str, str]] = []
        if "rows" in payload:
            rows.append(("shape", f"{payload['rows']} rows × {payload['columns']} columns"))
        if "missing_values_handled" in payload:
            handled = payload["missing_values_handled"]
            detail = ", ".join(f"{k} {v}" for k, v in handled.items()) or "none"
            rows.append(("missing handled", f"{payload.get('missing_total', 0)} cells ({detail})"))
        rows.extend(payload.get("outputs", {}).items())
        if "duration_ms" in payload:
            rows.append(("run time", f"{payload['duration_ms']:,.0f} ms (handler)"))
        parts.append(key_values(rows, width))
    if outcome.report:
        memory = f", max memory {outcome.report['memory_used_mb']} MB" if outcome.report["memory_used_mb"] else ""
        parts.append(Text(f"Lambda duration {outcome.report['duration_ms']:,.1f} ms{memory}", style="dim"))
    if outcome.log_tail:
        parts.append(Text("Log tail:", style="bold"))
        for line in outcome.log_tail.splitlines()[-20:]:
            parts.append(logtail.pretty({"timestamp": 0, "message": line}, with_time=False))
    return Group(*parts)
