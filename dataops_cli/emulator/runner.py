"""What a local function run needs: the function's spec, its unpacked code, its environment.

The code is the exact zip `up` sent, unpacked once per content hash into the emulator's own
code folder (one it made fresh: a folder found by name is never trusted). A run's process gets
the function's configured environment plus what Lambda sets (function name, memory, region,
log group/stream, and the execution role's temporary credentials as AWS_ACCESS_KEY_ID,
AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN), `AWS_ENDPOINT_URL` pointing at the emulator,
and nothing of this machine's AWS configuration: a local run cannot reach AWS, and what it
may do in the emulator is what its role's policies allow. The pandas layer is stood in for by
this interpreter's own pandas/numpy/pyarrow (same `sys.executable`). The processes themselves
are execution environments (environment.py), kept between runs by warm_pool.py.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import signal
import subprocess
import threading
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
    log_stream: str | None = None  # the environment's stream (one per environment, as on AWS)

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
            # Lambda's /var/task is read-only, so a function writes no bytecode beside its code; here
            # it must not either: importlib makes every missing parent of a __pycache__ it writes,
            # so an import racing a deleted state directory would bring the directory back.
            "PYTHONDONTWRITEBYTECODE": "1",
            "DATAOPS_INVOKED_FUNCTION_ARN": spec.arn,
            "DATAOPS_TIMEOUT_SECONDS": str(spec.timeout),
            # Read by the handler for summary.json's "runtime": this interpreter runs the code, not spec.runtime.
            "DATAOPS_EXECUTED_BY_NOTE": "local emulator",
        }
    )
    return env


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
