"""Start, find and stop the background emulator process from the CLI.

`start` spawns `python -m dataops_cli.emulator.server` detached (its own session, output
appended to the state directory's emulator.log: 0600, never through a symlink) and
returns once the state file names it and it proves it holds that file's instance token.
`stop` stops exactly the emulator that proves it holds the token (local/instance.py): it
asks it over HTTP with the token, waits for that process to exit (through a pidfd on
Linux, so a pid reused meanwhile is never signalled), SIGKILL after a grace period, and
removes the state file. No process is ever stopped for its pid or command line alone.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib.util
import os
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from dataops_cli.aws import DataopsError
from dataops_cli.local.credentials import emulator_environment, read_owner_credentials
from dataops_cli.local.instance import identify, request_stop
from dataops_cli.local.private_files import open_private_append, private_lock_file
from dataops_cli.local.state import (
    EMULATOR_MODULE,
    LOCK_FILE,
    EmulatorState,
    check_state_dir,
    find_emulator,
    live_state,
    log_path,
    pid_alive,
    read_state,
    remove_leftover_instances,
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


def _last_log_line(path: Path) -> str:
    with contextlib.suppress(OSError):
        lines = [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
        if lines:
            return lines[-1]
    return "(no output)"


@contextlib.contextmanager
def _start_lock(directory: Path) -> Iterator[None]:
    """One start at a time per state directory (two `up --local` at once start one emulator).

    The first thing that writes in the state directory: it is created 0700 or checked first.
    """
    check_state_dir(directory, create=True)
    with private_lock_file(directory / LOCK_FILE) as fd:
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)


def start(
    directory: Path,
    port: int = 0,
    speed: float = 1.0,
    region: str = "ap-south-1",
    host: str = "127.0.0.1",
    timeout: float = READY_TIMEOUT,
    keep_alive: float | None = None,
) -> EmulatorState:
    """Spawn the emulator and wait until it answers; raises DataopsError if it cannot or one runs.

    `keep_alive`: seconds an idle execution environment is kept (None: the emulator's default).
    """
    with _start_lock(directory):
        running, _ = live_state(directory)
        if running is not None:
            raise DataopsError(
                f"the local emulator already runs at {running.endpoint} (pid {running.pid})", "dataops local stop"
            )
        return _spawn(directory, port, speed, region, host, timeout, keep_alive)


def ensure_running(directory: Path, region: str = "ap-south-1") -> tuple[EmulatorState, bool]:
    """(the running emulator, whether this call started it), starting one at real-time speed if needed."""
    with _start_lock(directory):
        running, _ = live_state(directory)
        if running is not None:
            return running, False
        return _spawn(directory, 0, 1.0, region, "127.0.0.1", READY_TIMEOUT), True


def _spawn(
    directory: Path, port: int, speed: float, region: str, host: str, timeout: float, keep_alive: float | None = None
) -> EmulatorState:
    if speed <= 0:
        raise DataopsError(f"--speed must be positive, got {speed:g}", "e.g. --speed 60 makes 2 minutes pass in 2 s")
    if importlib.util.find_spec("moto") is None:
        raise DataopsError("the local emulator needs moto, which is not installed", "pip install 'dataops[local]'")
    remove_leftover_instances(directory)  # under the start lock, with no emulator running here
    logfile = log_path(directory)
    command = [sys.executable, "-m", EMULATOR_MODULE, "--state-dir", str(directory.resolve())]
    command += ["--host", host, "--port", str(port), "--speed", f"{speed:g}", "--region", region]
    if keep_alive is not None:
        command += ["--keep-alive", f"{keep_alive:g}"]
    # Ctrl-C between fork and `proc` being known would orphan the emulator (it has its own
    # session, so the terminal's SIGINT never reaches it): hold it until cleanup is armed.
    with HeldInterrupt() as held, open_private_append(logfile) as out:
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
        if state is None or state.pid != proc.pid:
            return None
        return state if identify(state.endpoint, state.token, directory).verdict == "ours" else None

    try:
        held.deliver()  # a Ctrl-C that came while spawning is raised here, with `proc` known
        outcome = wait_until(ready, timeout)
    except BaseException:  # Ctrl-C while it boots: no emulator may outlive (or lack) its state file
        _terminate_child(proc)
        remove_state(directory, proc.pid)
        raise
    if isinstance(outcome, EmulatorState):
        return outcome
    if proc.poll() is not None:
        raise DataopsError(
            f"the local emulator exited during start-up (exit code {proc.returncode}): {_last_log_line(logfile)}",
            f"see {logfile}; a port in use? try another --port",
        )
    _terminate_child(proc)
    remove_state(directory, proc.pid)
    raise DataopsError(f"the local emulator did not answer within {timeout:g} s", f"see {logfile}")


def stop(directory: Path, timeout: float = STOP_TIMEOUT) -> tuple[EmulatorState | None, bool]:
    """(the emulator that was stopped or None, whether a stale state file was cleaned instead).

    Only an emulator that proves it holds this state file's token is stopped (raises
    EmulatorNotAnsweringError, stopping nothing, when the recorded process does not answer).
    """
    found = find_emulator(directory)
    if found.state is None or found.health is None:
        return None, found.stale
    state = found.state
    pid = int(found.health.get("pid", state.pid))
    handle = ProcessHandle(pid)
    try:
        if not handle.gone():
            # The handle names the process that exists now; prove again that it is the emulator.
            again = identify(state.endpoint, state.token, directory)
            if again.verdict == "ours" and (again.health or {}).get("pid") == pid:
                _stop_proven(handle, state, directory, timeout)
            elif not handle.gone():
                raise DataopsError(
                    f"the local emulator (pid {pid}) stopped proving who it is while being stopped; "
                    "nothing was signalled",
                    "run dataops local stop again",
                )
    finally:
        handle.close()
    remove_state(directory, token=state.token)
    return state, False


def _stop_proven(handle: ProcessHandle, state: EmulatorState, directory: Path, timeout: float) -> None:
    """Ask the proven emulator to stop (HTTP, signed by its owner, with its token), else SIGTERM it;
    SIGKILL after `timeout`."""
    if not request_stop(state.endpoint, state.token, read_owner_credentials(directory)):
        handle.send(signal.SIGTERM)
    if wait_until(handle.gone, timeout) is None:
        handle.send(signal.SIGKILL)
        wait_until(handle.gone, 5.0)


class ProcessHandle:
    """One process, by a pidfd where the OS has them (Linux 5.3+): a later process that reuses
    the pid is never signalled through it. Elsewhere, the pid."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.fd: int | None = None
        self._exited = False
        try:
            self.fd = os.pidfd_open(pid)  # type: ignore[attr-defined,unused-ignore]
        except ProcessLookupError:
            self._exited = True
        except (AttributeError, OSError):  # no pidfd_open here (not Linux, old kernel): fall back to the pid
            self.fd = None

    def send(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            if self.fd is not None:
                signal.pidfd_send_signal(self.fd, signum)  # type: ignore[attr-defined,unused-ignore]
            elif not self._exited:
                os.kill(self.pid, signum)

    def gone(self) -> bool:
        """True once the process has exited (reaping it if it is this process's child)."""
        if self._exited:
            return True
        with contextlib.suppress(ChildProcessError):
            os.waitpid(self.pid, os.WNOHANG)
        if self.fd is not None:
            poller = select.poll()
            poller.register(self.fd, select.POLLIN)
            self._exited = bool(poller.poll(0))
        else:
            self._exited = not pid_alive(self.pid)
        return self._exited

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


class HeldInterrupt:
    """Holds Ctrl-C (SIGINT) while a child is spawned; `deliver()` then raises it where cleanup is armed.

    Blocking SIGINT with pthread_sigmask is not enough: it blocks only the calling thread,
    and native threads (numpy's or pyarrow's pools, started on import) still take the
    signal, after which Python raises KeyboardInterrupt in the main thread at once, e.g.
    inside Popen after the fork, before `proc` is known. A Python-level handler that only
    records the signal holds it whichever thread the kernel picked.
    """

    def __init__(self) -> None:
        self.received: list[int] = []
        self._previous: Any = None
        self._active = threading.current_thread() is threading.main_thread()

    def __enter__(self) -> HeldInterrupt:
        if self._active:
            self._previous = signal.signal(signal.SIGINT, lambda signum, _frame: self.received.append(signum))
        return self

    def __exit__(self, *_exc: object) -> None:
        if self._active:
            signal.signal(signal.SIGINT, self._previous)

    def deliver(self) -> None:
        """Act on a Ctrl-C held meanwhile as the previous handler would (KeyboardInterrupt by default)."""
        if self.received and callable(self._previous):
            self._previous(signal.SIGINT, None)
        elif self.received and self._previous == signal.SIG_DFL:
            raise KeyboardInterrupt


def _terminate_child(proc: subprocess.Popen, timeout: float = STOP_TIMEOUT) -> None:
    """Stop an emulator this process spawned (and has not reaped: its pid cannot have been reused)."""
    with contextlib.suppress(ProcessLookupError):
        proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5.0)
