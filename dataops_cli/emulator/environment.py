"""One execution environment: a function's process, kept between invocations as Lambda keeps it.

Lambda runs a function's invocations in execution environments that it keeps after an
invocation and reuses for the next one (the handler module already imported, its globals and
/tmp kept), until it shuts the environment down; an environment that crashed or timed out is
never reused ("Lambda execution environment lifecycle",
https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html). Here an
environment is one interpreter running bootstrap.py's loop: events go in on one pipe, outcomes
come back on another (the control channel), and the handler's stdout/stderr stay its log.

Each environment has its own private TMPDIR (kept as long as the environment lives), its own
log stream (one per environment, as on AWS), and the role session it was started with (Lambda
gets the execution role's credentials at init; they end with the environment).
The timeout and the memory limit apply per invocation: an invocation past its timeout, or whose
environment's resident memory passes the memory size, kills the environment.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from dataops_cli.emulator.runner import (
    BOOTSTRAP,
    INIT_LIMIT_SECONDS,
    MEMORY_POLL_SECONDS,
    FunctionSpec,
    RunningProcesses,
    RunResult,
    child_environment,
    code_dir,
    peak_memory_kb,
)
from dataops_cli.emulator.sigv4 import Secret
from dataops_cli.local.private_files import remove_private_tree

LOG_DRAIN_SECONDS = 5.0  # how long the log lines written before a result may take to arrive


class _Output:
    """Reads the environment's log and control pipes on two threads, one invocation at a time."""

    def __init__(self, stdout: IO[bytes], control: IO[str], marker: str) -> None:
        self._marker = marker.encode()
        self._lock = threading.Lock()
        self._lines: list[tuple[float, str]] = []
        self._messages: dict[str, dict[str, Any]] = {}
        self.changed = threading.Condition(self._lock)
        self.drained = 0  # markers seen: one per answered event
        self.closed = False  # the control channel ended
        self.log_closed = False
        threading.Thread(target=self._read_log, args=(stdout,), name="env-log", daemon=True).start()
        threading.Thread(target=self._read_control, args=(control,), name="env-control", daemon=True).start()

    def _read_log(self, stream: IO[bytes]) -> None:
        for raw in iter(stream.readline, b""):
            line = raw.rstrip(b"\r\n")
            with self.changed:
                if line == self._marker:
                    self.drained += 1
                else:
                    self._lines.append((time.time(), line.decode("utf-8", errors="replace")))
                self.changed.notify_all()
        stream.close()
        with self.changed:
            self.log_closed = True
            self.changed.notify_all()

    def _read_control(self, stream: IO[str]) -> None:
        for line in stream:
            with contextlib.suppress(ValueError), self.changed:
                message = json.loads(line)
                self._messages[f"{message.get('phase')}:{message.get('request_id')}"] = message
                self.changed.notify_all()
        stream.close()
        with self.changed:
            self.closed = True
            self.changed.notify_all()

    def message(self, phase: str, request_id: str) -> dict[str, Any] | None:
        with self._lock:
            return self._messages.get(f"{phase}:{request_id}")

    def wait_for(self, phase: str, request_id: str, timeout: float) -> dict[str, Any] | None:
        """The message, once it came (or None at the timeout or when the channel closed)."""
        key = f"{phase}:{request_id}"
        with self.changed:
            self.changed.wait_for(lambda: key in self._messages or self.closed, timeout)
            return self._messages.get(key)

    def wait_drained(self, count: int, timeout: float) -> None:
        """Until the `count`-th event's log lines are all read (its marker came), or the log ended."""
        with self.changed:
            self.changed.wait_for(lambda: self.drained >= count or self.log_closed, timeout)

    def wait_log_closed(self, timeout: float) -> None:
        with self.changed:
            self.changed.wait_for(lambda: self.log_closed, timeout)

    def take_lines(self) -> list[tuple[float, str]]:
        """The log lines since the last call (an invocation's, with any the init printed first)."""
        with self._lock:
            lines, self._lines = self._lines, []
            return lines


class ExecutionEnvironment:
    """One live environment of one function version; `invoke` runs one event in it at a time."""

    def __init__(
        self,
        spec: FunctionSpec,
        task_dir: Path,
        endpoint: str,
        log_stream: str,
        credentials: Secret | None = None,
        on_end: Callable[[], None] | None = None,
    ) -> None:
        self.spec, self.log_stream = spec, log_stream
        self.version = version_key(spec)
        self.invocations = 0
        self.last_used = time.monotonic()  # the pool sets it on its own clock when it keeps the environment
        self.alive = True
        self._on_end = on_end
        self._ending = threading.Lock()
        self._tmp = Path(tempfile.mkdtemp(prefix="dataops-env-"))  # 0700: this environment's /tmp
        env = child_environment(spec, endpoint, log_stream, task_dir, credentials)
        env["TMPDIR"] = str(self._tmp)
        marker = f"__dataops_event_end_{secrets.token_hex(16)}__"
        events_read, self._events = os.pipe()
        control_read, control_write = os.pipe()
        self.spawned = time.time()
        command = [sys.executable, "-u", str(BOOTSTRAP), str(task_dir), spec.handler]
        command += [str(events_read), str(control_write), marker]
        try:
            self.proc = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=task_dir,
                pass_fds=(events_read, control_write),
                start_new_session=True,
            )
        except OSError:
            for fd in (self._events, control_read):
                os.close(fd)
            remove_private_tree(self._tmp)
            raise
        finally:
            os.close(events_read)
            os.close(control_write)
        assert self.proc.stdout is not None
        self._output = _Output(self.proc.stdout, os.fdopen(control_read, encoding="utf-8"), marker)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def invoke(self, event: bytes, request_id: str) -> RunResult:
        """Run one event; never raises for the function's own failures. A timeout, a memory kill
        or a crash ends the environment (`alive` is then False), as Lambda resets it."""
        self.invocations += 1
        sent = time.time()
        deadline_ms = (sent + self.spec.timeout) * 1000  # refined below from the invoke message
        message = {"request_id": request_id, "event": base64.b64encode(event or b"{}").decode(), "deadline_ms": 0}
        invoked = self._send(message, deadline_ms)
        invoke_t = float(invoked["t"]) if invoked else sent
        outcome, peak_kb, result = self._watch(request_id, invoke_t + self.spec.timeout)
        ended = time.time()
        if result is not None:
            self._output.wait_drained(self.invocations, LOG_DRAIN_SECONDS)
        else:  # timed out, killed for memory, or crashed: this environment is never used again
            if outcome == "exited":  # let it finish dying on its own, so its exit status is its own
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.proc.wait(LOG_DRAIN_SECONDS)
            self.end()
            self._output.wait_log_closed(LOG_DRAIN_SECONDS)
        run = RunResult(
            request_id=request_id,
            started=invoke_t,
            ended=ended,
            duration_ms=(ended - invoke_t) * 1000,
            init_ms=(invoked or {}).get("init_ms"),
            max_memory_mb=_mb(peak_kb),
            lines=self._output.take_lines(),
            log_stream=self.log_stream,
        )
        return _finish(run, self.spec, outcome, result, self.proc.returncode, peak_kb)

    def _send(self, message: dict[str, Any], deadline_ms: float) -> dict[str, Any] | None:
        """Hand the event over; the invoke message (with the init time on a cold start), or None."""
        message["deadline_ms"] = deadline_ms
        try:
            os.write(self._events, (json.dumps(message) + "\n").encode())
        except OSError:  # the environment is gone: the run is a runtime exit, below
            return None
        limit = INIT_LIMIT_SECONDS if self.invocations == 1 else LOG_DRAIN_SECONDS
        return self._output.wait_for("invoke", message["request_id"], limit)

    def _watch(self, request_id: str, deadline: float) -> tuple[str, int, dict[str, Any] | None]:
        """Wait for the event's result, the deadline ("timeout") or the memory limit ("oom").

        Lambda's sandbox is a cgroup whose memory limit the kernel enforces at once; polling
        VmHWM (the high-water mark, so a spike between two polls still counts) is the closest this
        emulator gets without cgroups. VmHWM is the environment's peak, which is also what
        Lambda's "Max Memory Used" reports for a warm invocation.
        """
        limit_kb = self.spec.memory_mb * 1024
        peak_kb = 0
        while True:
            peak_kb = max(peak_kb, peak_memory_kb(self.proc.pid))
            if limit_kb and peak_kb > limit_kb:
                return "oom", peak_kb, None
            remaining = deadline - time.time()
            if remaining <= 0:
                return "timeout", peak_kb, None
            result = self._output.wait_for("result", request_id, min(MEMORY_POLL_SECONDS, remaining))
            if result is not None:
                return "answered", peak_kb, result
            if self._output.closed or self.proc.poll() is not None:
                return "exited", peak_kb, None

    def end(self) -> None:
        """Kill the environment's process group and remove its /tmp (idempotent)."""
        with self._ending:
            if not self.alive:
                return
            self.alive = False
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(OSError):
            os.close(self._events)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(LOG_DRAIN_SECONDS)
        remove_private_tree(self._tmp)
        if self._on_end is not None:
            self._on_end()


def version_key(spec: FunctionSpec) -> tuple[Any, ...]:
    """What makes an environment reusable: the code and every setting that reaches its process.

    An update to any of these starts new environments, as a new function version does on AWS.
    """
    return (
        spec.code_sha256,
        spec.handler,
        spec.runtime,
        spec.timeout,
        spec.memory_mb,
        tuple(sorted(spec.environment.items())),
        spec.layers,
        spec.role_arn,
    )


def _finish(
    run: RunResult,
    spec: FunctionSpec,
    outcome: str,
    result: dict[str, Any] | None,
    returncode: int | None,
    peak_kb: int,
) -> RunResult:
    """Fill in the outcome: Lambda's error documents for a timeout, a memory kill or a crash."""
    request_id = run.request_id
    if outcome == "timeout":
        run.timed_out = True
        run.duration_ms = spec.timeout * 1000.0
        run.error = {
            "errorType": "Sandbox.Timedout",
            "errorMessage": f"RequestId: {request_id} Error: Task timed out after {spec.timeout:.2f} seconds",
        }
    elif outcome == "oom":
        run.out_of_memory = True
        run.max_memory_mb = spec.memory_mb  # what Lambda reports for a run it killed at the limit
        run.error = {
            "errorType": "Runtime.OutOfMemory",
            "errorMessage": f"RequestId: {request_id} Error: Runtime exited with error: signal: killed",
        }
    elif result is None:
        status = f"signal: {-returncode}" if returncode is not None and returncode < 0 else f"exit status {returncode}"
        run.error = {
            "errorType": "Runtime.ExitError",
            "errorMessage": f"RequestId: {request_id} Error: Runtime exited with error: {status}",
        }
    else:
        run.duration_ms = float(result.get("duration_ms", run.duration_ms))
        run.max_memory_mb = _mb(max(peak_kb, int(result.get("max_rss_kb", 0))))
        if result.get("ok"):
            run.payload = str(result.get("payload", "null")).encode()
        else:
            run.error = result.get("error") or {"errorType": "Unknown", "errorMessage": "no error details"}
    if run.error is not None:
        run.payload = json.dumps(run.error).encode()
    return run


def _mb(kb: int) -> int:
    return max(1, -(-kb // 1024)) if kb else 0


def run_function(
    spec: FunctionSpec,
    event: bytes,
    request_id: str,
    endpoint: str,
    cache: Path,
    log_stream: str,
    running: RunningProcesses | None = None,
    credentials: Secret | None = None,
) -> RunResult:
    """Run the handler once on `event` (JSON bytes) in a new environment, then end it: a cold start.

    Never raises for the function's own failures. While it runs, its process is in `running`
    (if given), so the owner can kill it on stop.
    """
    try:
        task_dir = code_dir(spec, cache)
    except zipfile.BadZipFile as exc:
        return invalid_zip_result(request_id, exc)
    environment = ExecutionEnvironment(spec, task_dir, endpoint, log_stream, credentials)
    running = running if running is not None else RunningProcesses()
    running.add(environment.proc)
    try:
        return environment.invoke(event, request_id)
    finally:
        running.discard(environment.proc)
        environment.end()


def invalid_zip_result(request_id: str, exc: zipfile.BadZipFile) -> RunResult:
    """AWS refuses such code at deploy time; moto stores anything: fail the run, not the emulator."""
    now = time.time()
    error = {"errorType": "Runtime.InvalidZipFile", "errorMessage": f"the deployed code is not a zip file: {exc}"}
    return RunResult(request_id, now, now, 0.0, None, 0, payload=json.dumps(error).encode(), error=error)
