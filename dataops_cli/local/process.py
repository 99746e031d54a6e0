"""Start, find and stop the background emulator process from the CLI.

`start` spawns `python -m dataops_cli.emulator.server` detached (its own session, output
to .dataops/emulator.log) and returns once the state file names it and its health
endpoint answers with the same pid. `stop` sends SIGTERM, waits for the process to go
(SIGKILL after a grace period) and removes the state file.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib.util
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from dataops_cli.aws import DataopsError
from dataops_cli.local.credentials import emulator_environment, read_owner_credentials, signed_get
from dataops_cli.local.state import (
    EMULATOR_MODULE,
    HEALTH_PATH,
    EmulatorState,
    live_state,
    log_path,
    pid_alive,
    read_state,
    remove_state,
)

READY_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
T = TypeVar("T")


def wait_until(check: Callable[[], T | None], timeout: float, interval: float = 0.05) -> T | None:
    """Call `check` until it returns something other than None/False, or `timeout` passes."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() >= deadline:
            return None
        time.sleep(interval)


def probe(state: EmulatorState, directory: Path, timeout: float = 1.0) -> dict[str, Any] | None:
    """The emulator's health document, if the process on that port is the one in the state file.

    The request is signed with the owner credentials in `directory`: the emulator answers nobody else.
    """
    keys = read_owner_credentials(directory)
    if keys is None:
        return None
    try:
        health = json.loads(signed_get(state.endpoint, HEALTH_PATH, keys, timeout))
    except (OSError, ValueError, urllib.error.URLError):
        return None
    return health if isinstance(health, dict) and health.get("pid") == state.pid else None


def _last_log_line(path: Path) -> str:
    with contextlib.suppress(OSError):
        lines = [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
        if lines:
            return lines[-1]
    return "(no output)"


@contextlib.contextmanager
def _start_lock(directory: Path) -> Iterator[None]:
    """One start at a time per state directory (two `up --local` at once start one emulator)."""
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / "start.lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def start(
    directory: Path,
    port: int = 0,
    speed: float = 1.0,
    region: str = "ap-south-1",
    host: str = "127.0.0.1",
    timeout: float = READY_TIMEOUT,
) -> EmulatorState:
    """Spawn the emulator and wait until it answers; raises DataopsError if it cannot or one runs."""
    with _start_lock(directory):
        running, _ = live_state(directory)
        if running is not None:
            raise DataopsError(
                f"the local emulator already runs at {running.endpoint} (pid {running.pid})", "dataops local stop"
            )
        return _spawn(directory, port, speed, region, host, timeout)


def ensure_running(directory: Path, region: str = "ap-south-1") -> tuple[EmulatorState, bool]:
    """(the running emulator, whether this call started it), starting one at real-time speed if needed."""
    with _start_lock(directory):
        running, _ = live_state(directory)
        if running is not None:
            return running, False
        return _spawn(directory, 0, 1.0, region, "127.0.0.1", READY_TIMEOUT), True


def _spawn(directory: Path, port: int, speed: float, region: str, host: str, timeout: float) -> EmulatorState:
    if speed <= 0:
        raise DataopsError(f"--speed must be positive, got {speed:g}", "e.g. --speed 60 makes 2 minutes pass in 2 s")
    if importlib.util.find_spec("moto") is None:
        raise DataopsError("the local emulator needs moto, which is not installed", "pip install 'dataops[local]'")
    logfile = log_path(directory)
    command = [sys.executable, "-m", EMULATOR_MODULE, "--state-dir", str(directory.resolve())]
    command += ["--host", host, "--port", str(port), "--speed", f"{speed:g}", "--region", region]
    # Ctrl-C between fork and `proc` being known would orphan the emulator (it has its own
    # session, so the terminal's SIGINT never reaches it): hold SIGINT until cleanup is armed.
    blocked = threading.current_thread() is threading.main_thread()
    if blocked:
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        with logfile.open("ab") as out:
            proc = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=emulator_environment(dict(os.environ)),
                start_new_session=True,
            )

        def ready() -> EmulatorState | bool | None:
            if proc.poll() is not None:
                return True  # exited: reported below
            state = read_state(directory)
            return state if state is not None and state.pid == proc.pid and probe(state, directory) else None

        try:
            if blocked:
                signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})  # a pending Ctrl-C lands here
            outcome = wait_until(ready, timeout)
        except BaseException:  # Ctrl-C while it boots: no emulator may outlive (or lack) its state file
            _terminate(proc.pid)
            remove_state(directory, proc.pid)
            raise
    finally:
        if blocked:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    if isinstance(outcome, EmulatorState):
        return outcome
    if proc.poll() is not None:
        raise DataopsError(
            f"the local emulator exited during start-up (exit code {proc.returncode}): {_last_log_line(logfile)}",
            f"see {logfile}; a port in use? try another --port",
        )
    _terminate(proc.pid)
    remove_state(directory, proc.pid)
    raise DataopsError(f"the local emulator did not answer within {timeout:g} s", f"see {logfile}")


def stop(directory: Path, timeout: float = STOP_TIMEOUT) -> tuple[EmulatorState | None, bool]:
    """(the emulator that was stopped or None, whether a stale state file was cleaned instead)."""
    state, stale = live_state(directory)
    if state is None:
        return None, stale
    _terminate(state.pid, timeout)
    remove_state(directory, state.pid)
    return state, False


def _terminate(pid: int, timeout: float = STOP_TIMEOUT) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    if wait_until(lambda: _gone(pid), timeout) is None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        wait_until(lambda: _gone(pid), 5.0)


def _gone(pid: int) -> bool:
    """True once the process has exited (reaping it if it is our own child)."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
    return not pid_alive(pid)
