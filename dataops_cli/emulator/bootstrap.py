"""The runtime inside a local execution environment: import the handler once, then run events.

Run as a script in a fresh interpreter:
`python bootstrap.py TASK_DIR HANDLER EVENTS_FD CONTROL_FD MARKER`. Like Lambda's Runtime API
loop (https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html: the runtime initializes,
then asks for the next event, runs the handler and posts the result, for as long as the
environment lives), it imports the handler once (the init phase), then reads one event per
line from EVENTS_FD and answers each on CONTROL_FD, keeping the module's globals and /tmp
between events. The handler's stdout/stderr go to the log as they are; after each event the
MARKER line on stdout tells the parent that this event's log lines are all out. The outcome
(payload, or error type/message/stack trace, plus init time, duration and peak memory) goes to
the parent as JSON lines on CONTROL_FD, never mixed into the log. When EVENTS_FD reaches its end
(the emulator closed it, or died), the environment ends at once, whatever it was doing.
An init error ends the environment after the first event's answer: the next event starts a new
one, as Lambda retries a failed init. Uses only the standard library: it must not import
anything the deployed code might shadow.
"""

from __future__ import annotations

import base64
import importlib
import json
import os
import queue
import resource
import signal
import sys
import threading
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


def error_document(
    exc: BaseException, error_type: str | None = None, message: str | None = None, request_id: str = ""
) -> dict[str, Any]:
    """The shape of AWS's error payload for an unhandled exception."""
    frames = traceback.extract_tb(exc.__traceback__)
    return {
        "errorMessage": message if message is not None else str(exc),
        "errorType": error_type or type(exc).__name__,
        "requestId": request_id,
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


def read_events(fd: int, events: queue.Queue[dict[str, Any] | None]) -> None:
    """Feed events to the loop; at the end of the pipe, end this environment at once.

    The pipe's end means the emulator closed it (the environment is retired) or died: either
    way nothing may outlive it, so the whole process group goes, even mid-handler.
    """
    with os.fdopen(fd, encoding="utf-8") as stream:
        for line in stream:
            events.put(json.loads(line))
    sys.stdout.flush()
    os.killpg(os.getpgrp(), signal.SIGKILL)


def invoke(handler: Any, init_error: dict[str, Any] | None, message: dict[str, Any]) -> dict[str, Any]:
    """Run the handler on one event: {"ok": True, "payload": ...} or {"ok": False, "error": ...}."""
    request_id = message["request_id"]
    if init_error is not None:
        return {"ok": False, "error": {**init_error, "requestId": request_id}}
    event = json.loads(base64.b64decode(message["event"]).decode("utf-8") or "{}")
    context = LambdaContext(request_id, float(message["deadline_ms"]))
    try:
        result = handler(event, context)
    except Exception as exc:  # noqa: BLE001 (the function's own error: FunctionError Unhandled)
        sys.stdout.flush()
        return {"ok": False, "error": error_document(exc, request_id=request_id)}
    try:
        return {"ok": True, "payload": json.dumps(result)}
    except (TypeError, ValueError) as exc:
        return {"ok": False, "error": error_document(exc, "Runtime.MarshalError", request_id=request_id)}


def main(argv: list[str]) -> int:
    task_dir, handler_name, events_fd, control_fd, marker = argv[1], argv[2], int(argv[3]), int(argv[4]), argv[5]
    sys.path[0] = task_dir  # like /var/task: the deployed code comes first
    control = os.fdopen(control_fd, "w", encoding="utf-8", buffering=1)

    def report(**message: Any) -> None:
        control.write(json.dumps(message) + "\n")
        control.flush()

    events: queue.Queue[dict[str, Any] | None] = queue.Queue()
    threading.Thread(target=read_events, args=(events_fd, events), name="events", daemon=True).start()
    init_started = time.perf_counter()
    handler, init_error = load_handler(handler_name)
    init_ms: float | None = (time.perf_counter() - init_started) * 1000
    while (message := events.get()) is not None:
        report(phase="invoke", request_id=message["request_id"], t=time.time(), init_ms=init_ms)
        started = time.perf_counter()
        outcome = invoke(handler, init_error, message)
        duration_ms = (time.perf_counter() - started) * 1000
        sys.stdout.flush()
        sys.stderr.flush()
        os.write(1, f"{marker}\n".encode())
        report(
            phase="result",
            request_id=message["request_id"],
            duration_ms=duration_ms,
            init_ms=init_ms,
            max_rss_kb=peak_rss_kb(),
            **outcome,
        )
        init_ms = None  # only an environment's first event reports its init
        if init_error is not None:
            break
    control.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
