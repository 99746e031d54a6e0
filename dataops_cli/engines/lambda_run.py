"""`dataops invoke`: run the function synchronously and show what the run did.

With reserved concurrency 1 (the default: runs never overlap) a run already going, usually a
scheduled one, makes Lambda refuse a synchronous Invoke with TooManyRequestsException
(https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html: 429, reason
ReservedFunctionConcurrentInvocationLimitExceeded). `invoke_now` waits for the slot, bounded
and telling the caller as it goes; when the bound passes it raises FunctionBusyError, which the
CLI turns into what happened and what to do, never the raw throttle.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from dataops_cli.aws import DataopsError, error_code
from dataops_cli.observe import runlog_reader
from handler import contract as c

MANUAL_EVENT = {"trigger": "manual", "source": "dataops"}
THROTTLE_RETRY_SECONDS = 0.5


class FunctionBusyError(DataopsError):
    """Every concurrency slot of the function stayed taken for the whole bounded wait."""

    def __init__(self, function: str, waited: float) -> None:
        super().__init__(f"function {function} stayed busy for {waited:.0f} s (Lambda: TooManyRequestsException)")
        self.function = function
        self.waited = waited


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

    @property
    def error_line(self) -> dict[str, Any] | None:
        """The run's own structured error line (❌ ... with its `error` details), if the tail holds it."""
        for line in reversed(self.log_tail.splitlines()):
            document = runlog_reader.structured(line)
            if (
                document is not None
                and document.get(c.F_LEVEL) == c.LEVEL_ERROR
                and isinstance(document.get(c.F_ERROR), dict)
            ):
                return document
        return None

    @property
    def error_summary(self) -> str:
        """`Type: message` of a failed run: the handler's error, else Lambda's, never just "Unhandled"."""
        payload = self.payload if isinstance(self.payload, dict) else {}
        logged = (self.error_line or {}).get(c.F_ERROR) or {}
        kind = payload.get("errorType") or logged.get("type") or self.function_error or f"HTTP {self.status_code}"
        message = payload.get("errorMessage") or logged.get("message")
        if not message and isinstance(self.payload, str):
            message = self.payload
        if not message:  # a crash or timeout before our logger: Lambda's own error line says it
            lines = [line for line in self.log_tail.splitlines() if runlog_reader.is_error(line)]
            code, summary = runlog_reader.runtime_line(lines[-1]) if lines else (None, "")
            message = summary or "no error message (see the function's log)"
            kind = code or kind
        return f"{kind}: {runlog_reader.scrub_paths(str(message).strip())}"

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


def invoke_payload(trigger: str, force: bool = False) -> dict[str, Any]:
    """The event a manual run sends; "force": true runs in full even on an unchanged input."""
    return {**MANUAL_EVENT, "trigger": trigger, **({c.FORCE_FIELD: True} if force else {})}


def invoke_now(
    client: Any,
    function: str,
    trigger: str = "manual",
    wait_seconds: float = 0.0,
    on_wait: Callable[[float], None] | None = None,
    force: bool = False,
) -> InvokeOutcome:
    """One synchronous run. With reserved concurrency 1 a run already going (a scheduled one)
    makes Lambda answer TooManyRequests: retry for up to `wait_seconds`, telling `on_wait` the
    seconds waited so far before each retry; past that, FunctionBusyError."""
    began = time.monotonic()
    while True:
        try:
            response = client.invoke(
                FunctionName=function,
                InvocationType="RequestResponse",
                LogType="Tail",
                Payload=json.dumps(invoke_payload(trigger, force)).encode(),
            )
            break
        except ClientError as exc:
            if error_code(exc) != "TooManyRequestsException":
                raise
            waited = time.monotonic() - began
            if waited >= wait_seconds:
                raise FunctionBusyError(function, waited) from exc
            if on_wait is not None:
                on_wait(waited)
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
