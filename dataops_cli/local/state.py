"""The emulator's state directory: its state file and log, and which emulator (if any) it names.

The state directory is project-local (`./.dataops/`, git-ignored) so two checkouts can run
two emulators; the CLI's `--state-dir` option (or `DATAOPS_STATE_DIR`, read by click, not
here) moves it and every function here takes it as an argument. It is trusted only if
this user owns it and nobody else can write to it (else exit 2, before anything is
written), and everything in it is written through private_files (O_NOFOLLOW, 0600/0700).
The state file names the emulator by pid, port and a random instance token; it is
believed only when the emulator at that port proves it holds the token for this
directory (local/instance.py). A state file that names no such emulator (crash, reboot,
kill -9, a copy from another project) is stale: it is removed, never trusted.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from dataops_cli.aws import DataopsError
from dataops_cli.local.instance import HEALTH_PATH, identify
from dataops_cli.local.private_files import (
    NotPrivateError,
    check_private_dir,
    ensure_private_dir,
    read_private_file,
    remove_private_tree,
    write_private_file,
)

__all__ = ["HEALTH_PATH", "STATE_DIR_ENV", "EmulatorState", "NotPrivateError", "live_state"]

STATE_DIR_ENV = "DATAOPS_STATE_DIR"  # the environment form of the CLI's --state-dir
STATE_FILE = "emulator.json"
LOG_FILE = "emulator.log"
LOCK_FILE = "start.lock"
INSTANCE_DIR_PREFIX = "emulator-"  # each emulator's own code and Glue run folders: <state>/emulator-<random>/
EMULATOR_MODULE = "dataops_cli.emulator.server"
ELSEWHERE = "or use another state directory: --state-dir DIR (or DATAOPS_STATE_DIR)"


class EmulatorNotAnsweringError(DataopsError):
    """The state file names a live process whose port does not answer: it cannot be told apart from a stranger."""


@dataclass(frozen=True)
class EmulatorState:
    """What a running emulator tells the CLI about itself (the token is its secret: never printed)."""

    pid: int
    host: str
    port: int
    speed: float
    started: float  # epoch seconds, wall clock
    log: str
    token: str = field(default="", repr=False)

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"


@dataclass(frozen=True)
class Found:
    """What the state directory says, checked: a proven emulator (with its health), or none."""

    state: EmulatorState | None
    health: dict[str, Any] | None = None
    stale: bool = False  # a state file that named no emulator of ours was found and removed


def state_path(directory: Path) -> Path:
    return directory / STATE_FILE


def log_path(directory: Path) -> Path:
    return directory / LOG_FILE


def check_state_dir(directory: Path, create: bool = False) -> bool:
    """Whether `directory` exists (created 0700 with `create`); NotPrivateError (exit 2) if another user
    could control it."""
    what = "the state directory"
    if create:
        ensure_private_dir(directory, what, ELSEWHERE)
        return True
    if not os.path.lexists(directory):
        return False
    check_private_dir(directory, what, ELSEWHERE)
    return True


def read_state(directory: Path) -> EmulatorState | None:
    """The recorded state, or None when there is no file or it is unreadable (treated as stale).

    Read without following a symlink, and only if it is a regular file of this user.
    """
    try:
        raw = json.loads(read_private_file(state_path(directory)))
        return EmulatorState(
            pid=int(raw["pid"]),
            host=str(raw["host"]),
            port=int(raw["port"]),
            speed=float(raw["speed"]),
            started=float(raw["started"]),
            log=str(raw["log"]),
            token=str(raw.get("token", "")),
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError):  # absent, a symlink, not JSON, wrong shape
        return None


def write_state(directory: Path, state: EmulatorState) -> None:
    """Atomic (a new 0600 file, then rename), so a reader never sees half a file."""
    check_state_dir(directory, create=True)
    write_private_file(state_path(directory), (json.dumps(asdict(state), indent=2) + "\n").encode())


def remove_state(directory: Path, pid: int | None = None, token: str | None = None) -> None:
    """Remove the state file; with `pid` or `token`, only if it still names that emulator."""
    if pid is not None or token is not None:
        current = read_state(directory)
        if current is not None and (
            (pid is not None and current.pid != pid) or (token is not None and current.token != token)
        ):
            return
    state_path(directory).unlink(missing_ok=True)


def pid_alive(pid: int) -> bool:
    """True if a process `pid` of this user exists and has not exited (a zombie counts as gone).

    Says nothing about what the process is (only the instance token does); another user's
    process is never our emulator.
    """
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return False  # another user's process
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return not Path("/proc/self").exists()  # no /proc here (not Linux): os.kill said it exists
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[:1] not in (["Z"], ["X"])


def find_emulator(directory: Path) -> Found:
    """The emulator this state directory names, proven by its token; removes a stale state file.

    Raises NotPrivateError if the directory is not private, and EmulatorNotAnsweringError
    when the recorded process is alive but cannot prove who it is (its port does not
    answer, or an emulator of an older dataops without tokens answers): nothing can be
    concluded, so the file stays and nothing is stopped.
    """
    if not check_state_dir(directory) or not os.path.lexists(state_path(directory)):
        return Found(None)
    state = read_state(directory)
    if state is None:
        state_path(directory).unlink(missing_ok=True)
        return Found(None, stale=True)
    who = identify(state.endpoint, state.token, directory)
    if who.verdict == "ours":
        return Found(state, who.health)
    if who.verdict == "silent" and pid_alive(state.pid):
        raise EmulatorNotAnsweringError(
            f"the emulator recorded in {state_path(directory)} (pid {state.pid}, {state.endpoint}) "
            f"cannot prove it is this directory's: {who.detail}",
            f"see {log_path(directory)}; if pid {state.pid} is a hung or older emulator, stop it: kill {state.pid}",
        )
    remove_state(directory, token=state.token)
    return Found(None, stale=True)


def live_state(directory: Path) -> tuple[EmulatorState | None, bool]:
    """(the proven running emulator's state or None, whether a stale state file was found and removed)."""
    found = find_emulator(directory)
    return found.state, found.stale


def remove_leftover_instances(directory: Path) -> int:
    """Remove the private folders of emulators that are gone (killed before they could); returns how many.

    Call only while holding the start lock with no emulator running for `directory`.
    """
    removed = 0
    for entry in directory.iterdir():
        if entry.name.startswith(INSTANCE_DIR_PREFIX) and entry.is_dir() and not entry.is_symlink():
            remove_private_tree(entry)
            removed += 1
    return removed
