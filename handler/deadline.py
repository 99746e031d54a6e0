"""The timeout guard: a run that is about to hit the function's timeout stops itself first.

Lambda would kill the process at the timeout and nothing could clean up; with the safety
margin left, the run raises RunTimeoutError, aborts its upload, deletes what it wrote and
records a failed run.json.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

# Time kept back for cleanup (abort the upload, delete the outputs, write run.json): a quarter
# of the time left at the start, at most this much.
SAFETY_MARGIN_MS = 5000


class RunTimeoutError(TimeoutError):
    """The run stopped itself before the function's timeout, to clean up while it still can."""


class Deadline:
    """Watches `context.get_remaining_time_in_millis()`: checkpoints, plus a SIGALRM in the main thread.

    The alarm interrupts long pure-Python work and blocking I/O alike; the checkpoints
    cover runtimes that call the handler off the main thread (no signals there).
    """

    def __init__(self, context: Any, margin_ms: int = SAFETY_MARGIN_MS) -> None:
        self._remaining = getattr(context, "get_remaining_time_in_millis", None)
        self._armed = False  # a SIGALRM timer is set (main thread only)
        self._disarmed = False
        start = self.remaining_ms()
        self.margin_ms = min(margin_ms, start // 4) if start is not None else margin_ms

    def remaining_ms(self) -> int | None:
        return int(self._remaining()) if callable(self._remaining) else None

    def check(self, step: str) -> None:
        left = self.remaining_ms()
        if left is not None and left <= self.margin_ms:
            raise RunTimeoutError(self._message(step, left))

    def _message(self, step: str, left: int) -> str:
        return (
            f"stopped while {step}: {left} ms left before the function's timeout "
            f"(safety margin {self.margin_ms} ms, kept to clean up); raise the timeout or use a smaller input"
        )

    def disarm(self) -> None:
        """Stop the alarm early: what follows must not be interrupted (the run is published).

        Checkpoints still answer; only the signal that would raise mid-step is gone.
        """
        self._disarmed = True
        if self._armed:
            signal.setitimer(signal.ITIMER_REAL, 0)

    @contextmanager
    def alarm(self, step: Callable[[], str]) -> Iterator[None]:
        left = self.remaining_ms()
        if left is None or threading.current_thread() is not threading.main_thread():
            yield
            return

        def expired(_signum: int, _frame: Any) -> None:
            if self._disarmed:  # delivered just before disarm() cancelled the timer
                return
            raise RunTimeoutError(self._message(step(), self.remaining_ms() or 0))

        previous = signal.signal(signal.SIGALRM, expired)
        signal.setitimer(signal.ITIMER_REAL, max(0.001, (left - self.margin_ms) / 1000))
        self._armed = True
        try:
            yield
        finally:
            self._armed = False
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
