"""The runtime inside each local function run: import the handler, call it once, report back.

Run as a script in a fresh interpreter: `python bootstrap.py TASK_DIR HANDLER EVENT_FILE FD`.
Like Lambda's Python runtime, the handler's stdout/stderr go to the log as they are, and
the outcome (payload, or error type/message/stack trace, plus init time, duration and peak
memory) goes to the parent as JSON lines on file descriptor FD, never mixed into the log.
Uses only the standard library: it must not import anything the deployed code might shadow.
"""

from __future__ import annotations

import importlib
import json
import os
import resource
import sys
import time
import traceback
from pathlib import Path
from typing import Any


class LambdaContext:
    """The attributes and method handlers use on AWS's context object."""

    def __init__(self, request_id: str, deadline_ms: float) -> None:
        self.aws_request_id = request_id
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.invoked_function_arn = os.environ.get("DATAOPS_INVOKED_FUNCTION_ARN", "")
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")  # a string, as on AWS
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        self.identity = None
        self.client_context = None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int(self._deadline_ms - time.time() * 1000))


def peak_rss_kb() -> int:
    """This process's own peak resident memory (VmHWM, KiB).

    Not `ru_maxrss`: on Linux it survives fork/exec, so a run started by a 1 GB emulator
    would report >= 1 GB whatever it did. ru_maxrss only where /proc does not exist.
    """
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text(encoding="ascii").splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    usage = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return usage // 1024 if sys.platform == "darwin" else usage  # bytes on macOS, KiB on Linux


def error_document(exc: BaseException, error_type: str | None = None, message: str | None = None) -> dict[str, Any]:
    """The shape of AWS's error payload for an unhandled exception."""
    frames = traceback.extract_tb(exc.__traceback__)
    return {
        "errorMessage": message if message is not None else str(exc),
        "errorType": error_type or type(exc).__name__,
        "requestId": os.environ.get("DATAOPS_REQUEST_ID", ""),
        "stackTrace": traceback.format_list(frames),
    }


def load_handler(name: str) -> tuple[Any, dict[str, Any] | None]:
    """(handler function, None) or (None, AWS-style init error)."""
    module_name, _, function_name = name.rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # noqa: BLE001 (any import failure is the function's init error, as on AWS)
        return None, error_document(exc, "Runtime.ImportModuleError", f"Unable to import module '{module_name}': {exc}")
    handler = getattr(module, function_name, None)
    if handler is None:
        message = f"Handler '{function_name}' missing on module '{module_name}'"
        return None, {"errorMessage": message, "errorType": "Runtime.HandlerNotFound", "stackTrace": []}
    return handler, None


def main(argv: list[str]) -> int:
    task_dir, handler_name, event_file, fd = argv[1], argv[2], argv[3], int(argv[4])
    sys.path[0] = task_dir  # like /var/task: the deployed code comes first
    control = os.fdopen(fd, "w", encoding="utf-8", buffering=1)

    def report(**message: Any) -> None:
        control.write(json.dumps(message) + "\n")
        control.flush()

    init_started = time.perf_counter()
    handler, init_error = load_handler(handler_name)
    init_ms = (time.perf_counter() - init_started) * 1000
    event = json.loads(Path(event_file).read_text(encoding="utf-8"))
    timeout_s = float(os.environ.get("DATAOPS_TIMEOUT_SECONDS", "3"))
    report(phase="invoke", t=time.time(), init_ms=init_ms)
    started = time.perf_counter()
    context = LambdaContext(os.environ.get("DATAOPS_REQUEST_ID", ""), time.time() * 1000 + timeout_s * 1000)
    outcome: dict[str, Any]
    if init_error is not None:
        outcome = {"ok": False, "error": init_error}
    else:
        try:
            result = handler(event, context)
        except Exception as exc:  # noqa: BLE001 (the function's own error: FunctionError Unhandled)
            sys.stdout.flush()
            outcome = {"ok": False, "error": error_document(exc)}
        else:
            try:
                outcome = {"ok": True, "payload": json.dumps(result)}
            except (TypeError, ValueError) as exc:
                outcome = {"ok": False, "error": error_document(exc, "Runtime.MarshalError")}
    duration_ms = (time.perf_counter() - started) * 1000
    sys.stdout.flush()
    sys.stderr.flush()
    report(phase="result", duration_ms=duration_ms, init_ms=init_ms, max_rss_kb=peak_rss_kb(), **outcome)
    control.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
