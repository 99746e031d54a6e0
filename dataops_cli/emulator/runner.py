"""Run one invocation of a deployed function in a fresh interpreter, as Lambda would.

The code is the exact zip `up` sent, unpacked once per content hash into the emulator's own
code folder (one it made fresh: a folder found by name is never trusted). The child gets the
function's configured environment plus what Lambda sets (function name, memory, region,
log group/stream, and the execution role's temporary credentials as AWS_ACCESS_KEY_ID,
AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN), `AWS_ENDPOINT_URL` pointing at the emulator,
and nothing of this machine's AWS configuration: a local run cannot reach AWS, and what it
may do in the emulator is what its role's policies allow. The pandas
layer is stood in for by this interpreter's own pandas/numpy/pyarrow (same `sys.executable`).
The run is killed at the function's timeout and reported as `Sandbox.Timedout`, and when
its resident memory passes the configured memory size, as Lambda's sandbox kills it
(`Runtime.OutOfMemory`, "signal: killed"). "Max Memory Used" is the function process's own
peak (`VmHWM` of /proc/<pid>/status), never `ru_maxrss`, which a child started by
fork/exec inherits from this (large) emulator process.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dataops_cli.emulator.sigv4 import Secret
from dataops_cli.local.credentials import isolated_environment
from dataops_cli.local.private_files import make_private_dir, make_tree_private, remove_private_tree

BOOTSTRAP = Path(__file__).resolve().with_name("bootstrap.py")
INIT_LIMIT_SECONDS = 10.0  # Lambda's limit for the init phase
MEMORY_POLL_SECONDS = 0.02  # how often the parent reads the child's VmHWM against the limit
PASSED_THROUGH = ("PATH", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT", "HOME")


@dataclass(frozen=True)
class FunctionSpec:
    """A deployed function as the runner needs it: code bytes plus configuration."""

    account: str
    region: str
    name: str
    arn: str
    handler: str
    runtime: str
    timeout: int
    memory_mb: int
    environment: Mapping[str, str]
    code: bytes = field(repr=False)
    code_sha256: str
    reserved_concurrency: int | None
    max_event_age: int | None  # seconds, from the event invoke config
    max_retry_attempts: int | None = None  # retries of a failed asynchronous run (AWS default: 2)
    layers: tuple[str, ...] = ()
    role_arn: str = ""  # the execution role: Lambda assumes it for each run


@dataclass
class RunResult:
    """What one run did: its log lines, outcome and measurements (wall-clock times)."""

    request_id: str
    started: float  # epoch seconds when the handler was called
    ended: float
    duration_ms: float
    init_ms: float | None
    max_memory_mb: int
    lines: list[tuple[float, str]] = field(default_factory=list)
    payload: bytes = b"null"
    error: dict[str, Any] | None = None
    timed_out: bool = False
    out_of_memory: bool = False

    @property
    def failed(self) -> bool:
        return self.error is not None


def code_dir(spec: FunctionSpec, cache: Path) -> Path:
    """The unpacked zip, shared by every run of the same code in this emulator.

    `cache` must be a folder this emulator made fresh (random name, 0700; server.py), so
    that nothing in it was put there by anyone else: the name of a folder is never proof
    of its content (anyone can compute a zip's hash). The key is the SHA-256 of the bytes
    the emulator holds, computed here; entries are 0700/0600, and `cache` itself is never
    created here (a deleted state directory is not brought back).
    """
    target = cache / hashlib.sha256(spec.code).hexdigest()
    if target.is_dir():
        return target
    staging = make_private_dir(cache, ".unpack-")
    try:
        with zipfile.ZipFile(io.BytesIO(spec.code)) as archive:
            archive.extractall(staging)
        make_tree_private(staging)
        staging.rename(target)
    except OSError:  # another run unpacked the same code first: use theirs
        remove_private_tree(staging)
        if not target.is_dir():
            raise
    except BaseException:
        remove_private_tree(staging)
        raise
    return target


def emulator_aws_environment(endpoint: str, region: str, credentials: Secret | None) -> dict[str, str]:
    """What a process the emulator starts needs to call it back: its role session's credentials
    (none: every call it makes is refused), the emulator's endpoint, the region."""
    env = {**isolated_environment(), "AWS_ENDPOINT_URL": endpoint, "AWS_REGION": region, "AWS_DEFAULT_REGION": region}
    if credentials is not None:
        env["AWS_ACCESS_KEY_ID"] = credentials.access_key
        env["AWS_SECRET_ACCESS_KEY"] = credentials.secret_key
        if credentials.token:
            env["AWS_SESSION_TOKEN"] = credentials.token
    return env


def child_environment(
    spec: FunctionSpec,
    endpoint: str,
    request_id: str,
    log_stream: str,
    task_dir: Path,
    credentials: Secret | None = None,
) -> dict:
    """The function's environment, then Lambda's reserved variables on top (as AWS does)."""
    env = {k: os.environ[k] for k in PASSED_THROUGH if k in os.environ}
    env.update(spec.environment)
    env.update(emulator_aws_environment(endpoint, spec.region, credentials))
    env.update(
        {
            "AWS_LAMBDA_FUNCTION_NAME": spec.name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": log_stream,
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{spec.runtime}",
            "LAMBDA_TASK_ROOT": str(task_dir),
            "_HANDLER": spec.handler,
            "TZ": ":UTC",
            "PYTHONUNBUFFERED": "1",
            "PYTHONIOENCODING": "utf-8",
            "DATAOPS_REQUEST_ID": request_id,
            "DATAOPS_INVOKED_FUNCTION_ARN": spec.arn,
            "DATAOPS_TIMEOUT_SECONDS": str(spec.timeout),
            # Read by the handler for summary.json's "runtime": this interpreter runs the code, not spec.runtime.
            "DATAOPS_EXECUTED_BY_NOTE": "local emulator",
        }
    )
    return env


class _Collector:
    """Reads the child's log output and control messages on two threads."""

    def __init__(self, proc: subprocess.Popen, control: io.TextIOWrapper) -> None:
        self.lines: list[tuple[float, str]] = []
        self.messages: dict[str, dict[str, Any]] = {}
        self.invoked = threading.Event()
        self._threads = [
            threading.Thread(target=self._read_log, args=(proc.stdout,), daemon=True),
            threading.Thread(target=self._read_control, args=(control,), daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def _read_log(self, stream: Any) -> None:
        for raw in iter(stream.readline, b""):
            self.lines.append((time.time(), raw.decode("utf-8", errors="replace").rstrip("\r\n")))
        stream.close()

    def _read_control(self, stream: io.TextIOWrapper) -> None:
        for line in stream:
            with contextlib.suppress(ValueError):
                message = json.loads(line)
                self.messages[message.get("phase", "?")] = message
                if message.get("phase") == "invoke":
                    self.invoked.set()
        stream.close()
        self.invoked.set()

    def join(self, timeout: float = 5.0) -> None:
        for thread in self._threads:
            thread.join(timeout)


def peak_memory_kb(pid: int) -> int:
    """VmHWM (KiB) of a still-running process (Linux); 0 once it has exited or elsewhere."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return 0
    return 0


class RunningProcesses:
    """The function runs going right now, so whoever owns them can kill them all when it stops."""

    def __init__(self) -> None:
        self._procs: set[subprocess.Popen] = set()
        self._lock = threading.Lock()

    def add(self, proc: subprocess.Popen) -> None:
        with self._lock:
            self._procs.add(proc)

    def discard(self, proc: subprocess.Popen) -> None:
        with self._lock:
            self._procs.discard(proc)

    def kill_all(self) -> int:
        """Kill every run still going (its whole process group); returns how many."""
        with self._lock:
            procs = list(self._procs)
        for proc in procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
        return len(procs)


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
    """Run the handler once on `event` (JSON bytes); never raises for the function's own failures.

    While it runs, its process is in `running` (if given), so the owner can kill it on stop.
    `credentials` are the execution role's session: the run's AWS calls are signed with them.
    """
    running = running if running is not None else RunningProcesses()
    try:
        task_dir = code_dir(spec, cache)
    except zipfile.BadZipFile as exc:  # AWS refuses such code at deploy time; moto stores anything
        now = time.time()
        error = {"errorType": "Runtime.InvalidZipFile", "errorMessage": f"the deployed code is not a zip file: {exc}"}
        return RunResult(request_id, now, now, 0.0, None, 0, payload=json.dumps(error).encode(), error=error)
    env = child_environment(spec, endpoint, request_id, log_stream, task_dir, credentials)
    with tempfile.TemporaryDirectory(prefix="dataops-run-") as tmp:
        event_file = Path(tmp) / "event.json"
        event_file.write_bytes(event or b"{}")
        read_fd, write_fd = os.pipe()
        spawned = time.time()
        try:
            proc = subprocess.Popen(
                [sys.executable, "-u", str(BOOTSTRAP), str(task_dir), spec.handler, str(event_file), str(write_fd)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=task_dir,
                pass_fds=(write_fd,),
                start_new_session=True,
            )
        except OSError:
            os.close(read_fd)
            raise
        finally:
            os.close(write_fd)
        running.add(proc)
        try:
            collector = _Collector(proc, os.fdopen(read_fd, encoding="utf-8"))
            return _await(proc, collector, spec, request_id, spawned)
        finally:
            running.discard(proc)


def _watch(proc: subprocess.Popen, deadline: float, limit_kb: int) -> tuple[str, int]:
    """Wait for the child until it exits ("exited"), passes the deadline ("timeout") or its peak
    resident memory passes `limit_kb` ("oom"); returns that and the largest VmHWM seen.

    Lambda's sandbox is a cgroup whose memory limit the kernel enforces at once; polling VmHWM
    (the high-water mark, so a spike between two polls still counts) is the closest this
    emulator gets without cgroups. A run that exits between two polls above the limit is not
    killed, but its own report then shows the peak.
    """
    peak_kb = 0
    while True:
        peak_kb = max(peak_kb, peak_memory_kb(proc.pid))
        if limit_kb and peak_kb > limit_kb:
            outcome = "oom"
            break
        remaining = deadline - time.time()
        if remaining <= 0:
            outcome = "timeout"
            break
        try:
            proc.wait(timeout=min(MEMORY_POLL_SECONDS, remaining))
            return "exited", peak_kb
        except subprocess.TimeoutExpired:
            continue
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    return outcome, peak_kb


def _await(
    proc: subprocess.Popen, collector: _Collector, spec: FunctionSpec, request_id: str, spawned: float
) -> RunResult:
    collector.invoked.wait(INIT_LIMIT_SECONDS)
    invoked = collector.messages.get("invoke", {})
    invoke_t = float(invoked.get("t", time.time()))
    outcome, peak_kb = _watch(proc, invoke_t + spec.timeout, spec.memory_mb * 1024)
    ended = time.time()
    collector.join()
    result = collector.messages.get("result")
    started = invoke_t if invoked else spawned
    run = RunResult(
        request_id=request_id,
        started=started,
        ended=ended,
        duration_ms=(ended - started) * 1000,
        init_ms=invoked.get("init_ms"),
        max_memory_mb=_mb(peak_kb),
        lines=collector.lines,
    )
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
        run.error = {
            "errorType": "Runtime.ExitError",
            "errorMessage": f"RequestId: {request_id} Error: Runtime exited with error: exit status {proc.returncode}",
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
