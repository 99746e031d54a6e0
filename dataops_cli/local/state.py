"""Where the emulator's pid/port/speed file and log live, and whether the pid in it is alive.

The state directory is project-local (`./.dataops/`, git-ignored) so two checkouts can run
two emulators; the CLI's `--state-dir` option (or `DATAOPS_STATE_DIR`, read by click, not
here) moves it and every function here takes it as an argument. A state file whose
process is gone (crash, reboot, kill -9) is stale: it is detected and removed, never trusted.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

STATE_DIR_ENV = "DATAOPS_STATE_DIR"  # the environment form of the CLI's --state-dir
STATE_FILE = "emulator.json"
LOG_FILE = "emulator.log"
EMULATOR_MODULE = "dataops_cli.emulator.server"
HEALTH_PATH = "/_dataops/health"  # served by the emulator: who it is, since when, run counters


@dataclass(frozen=True)
class EmulatorState:
    """What a running emulator tells the CLI about itself."""

    pid: int
    host: str
    port: int
    speed: float
    started: float  # epoch seconds, wall clock
    log: str

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"


def state_path(directory: Path) -> Path:
    return directory / STATE_FILE


def log_path(directory: Path) -> Path:
    return directory / LOG_FILE


def read_state(directory: Path) -> EmulatorState | None:
    """The recorded state, or None when there is no file or it is unreadable (treated as stale)."""
    path = state_path(directory)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return EmulatorState(
            pid=int(raw["pid"]),
            host=str(raw["host"]),
            port=int(raw["port"]),
            speed=float(raw["speed"]),
            started=float(raw["started"]),
            log=str(raw["log"]),
        )
    except (OSError, ValueError, KeyError, TypeError):  # absent (FileNotFoundError) or unreadable
        return None


def write_state(directory: Path, state: EmulatorState) -> None:
    """Atomic (write then rename), so a reader never sees half a file."""
    directory.mkdir(parents=True, exist_ok=True)
    tmp = directory / f".{STATE_FILE}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(asdict(state), indent=2) + "\n", encoding="utf-8")
    tmp.replace(state_path(directory))


def remove_state(directory: Path, pid: int | None = None) -> None:
    """Remove the state file; with `pid`, only if it still names that process."""
    if pid is not None:
        current = read_state(directory)
        if current is not None and current.pid != pid:
            return
    state_path(directory).unlink(missing_ok=True)


def pid_alive(pid: int) -> bool:
    """True if `pid` runs and is our emulator (zombies and reused pids count as gone)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return False  # someone else's process now owns this pid
    proc = Path(f"/proc/{pid}")
    if sys.platform.startswith("linux") and proc.is_dir():
        try:
            stat = (proc / "stat").read_text()
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            return False
        state = stat.rpartition(")")[2].split()[0] if ")" in stat else "?"
        return state not in ("Z", "X") and EMULATOR_MODULE in cmdline
    return True


def live_state(directory: Path) -> tuple[EmulatorState | None, bool]:
    """(state of a running emulator or None, whether a stale file was found and removed)."""
    path = state_path(directory)
    if not path.exists():
        return None, False
    state = read_state(directory)
    if state is not None and pid_alive(state.pid):
        return state, False
    path.unlink(missing_ok=True)
    return None, True
