"""The emulator stops itself once its state file is gone or names another emulator.

Without this, deleting the state directory while the emulator runs orphans it: it keeps
firing schedules, `dataops local status` says not running and `up` starts a second one.
A thread reads the state file every second (never through a symlink); when the file is
missing, unreadable, or holds another instance token, it calls `on_lost` with the reason
(the server then stops as on SIGTERM: scheduler stopped, runs killed).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from dataops_cli.local.instance import same_secret
from dataops_cli.local.state import read_state, state_path

CHECK_SECONDS = 1.0


def why_lost(directory: Path, token: str) -> str | None:
    """Why the state file no longer names this emulator, or None while it does."""
    path = state_path(directory)
    state = read_state(directory)
    if state is None:
        return f"its state file {path} is {'unreadable' if _lexists(path) else 'gone'}"
    if not same_secret(state.token, token):
        return f"its state file {path} now names another emulator (pid {state.pid}, port {state.port})"
    return None


def _lexists(path: Path) -> bool:
    return path.is_symlink() or path.exists()


class StateWatch(threading.Thread):
    """Checks every `interval` seconds that the state file still names this emulator."""

    def __init__(
        self, directory: Path, token: str, on_lost: Callable[[str], None], interval: float = CHECK_SECONDS
    ) -> None:
        super().__init__(name="state-watch", daemon=True)
        self.directory, self.token, self.on_lost, self.interval = directory, token, on_lost, interval
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.wait(self.interval):
            reason = why_lost(self.directory, self.token)
            if reason is not None:
                self.on_lost(reason)
                return

    def stop(self) -> None:
        self._done.set()
