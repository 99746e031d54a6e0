"""Deploy once per test process, then give each test its own copy of the deployed moto state.

A full `dataops up` on moto costs a second or more of CPU; most status, logs and UX tests
only need a stack that is up, and then read it or change a little of it. moto keeps all its
state in its `BackendDict`s (`moto.core.base_backend`); after one `up` this module deep-copies
them, and each later test gets a fresh deep copy of that, so nothing one test changes can reach
another (tests/functional/test_moto_state.py proves both halves). The two clocks status reads
as "when the stack was created" (the schedule's CreationDate and the log group's creationTime)
are set to the moment of the copy, as a fresh `up` would leave them.
"""

from __future__ import annotations

import copy
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from moto.core.base_backend import BackendDict, backend_lock
from moto.core.utils import unix_time, utcnow


@dataclass(frozen=True)
class MotoState:
    """Every moto backend in use at capture time, per account, deep-copied."""

    backends: tuple[tuple[BackendDict, dict[str, Any]], ...]


def capture() -> MotoState:
    """Deep-copy the state of every moto service in use now (inside an active mock)."""
    with backend_lock, _weak_values_copied():
        return MotoState(
            tuple(
                (bd, {account: copy.deepcopy(per_account) for account, per_account in bd.items()})
                for bd in BackendDict._instances
            )
        )


def restore(state: MotoState) -> None:
    """Replace the (fresh, empty) mocked state with a deep copy of `state`, created now."""
    with backend_lock, _weak_values_copied():
        for bd, accounts in state.backends:
            bd.clear()
            for account, per_account in accounts.items():
                dict.__setitem__(bd, account, copy.deepcopy(per_account))
            if bd not in BackendDict._instances:
                BackendDict._instances.append(bd)
    _created_now()
    _docker_clients_unset()


@contextmanager
def _weak_values_copied() -> Iterator[None]:
    """Deep-copy a WeakValueDictionary's values too (moto's Lambda indexes functions by ARN in one).

    The standard library's `WeakValueDictionary.__deepcopy__` copies the keys but keeps the
    original values, so the copy's index pointed at the first test's functions and emptied
    once they were collected. Through the memo, each value becomes the copy every other
    reference in the backend gets.
    """

    def deep(weak: weakref.WeakValueDictionary, memo: dict[int, Any]) -> weakref.WeakValueDictionary:
        new: weakref.WeakValueDictionary = weakref.WeakValueDictionary()
        for key, value in list(weak.items()):
            new[copy.deepcopy(key, memo)] = copy.deepcopy(value, memo)
        return new

    dispatch = copy._deepcopy_dispatch  # type: ignore[attr-defined]
    dispatch[weakref.WeakValueDictionary] = deep
    try:
        yield
    finally:
        del dispatch[weakref.WeakValueDictionary]


def _created_now() -> None:
    """Date the schedules and log groups now, as `up` would have, so status sees a new stack."""
    from moto.logs.models import logs_backends
    from moto.scheduler.models import scheduler_backends

    now_seconds, now = unix_time(), utcnow()
    for _, _, backend in scheduler_backends.iter_backends():
        for group in backend.schedule_groups.values():
            for schedule in group.schedules.values():
                schedule.creation_date = schedule.last_modified_date = now_seconds
    for _, _, backend in logs_backends.iter_backends():
        for group in backend.groups.values():
            group.creation_time = now


def _docker_clients_unset() -> None:
    """Give each Lambda function back the attribute its `__getstate__` leaves out of a copy.

    moto's LambdaFunction drops its Docker client when copied; `invoke` reads it (None: made
    when needed), so a copied function without it raised AttributeError instead of moto's answer.
    """
    from moto.awslambda.models import lambda_backends

    for _, _, backend in lambda_backends.iter_backends():
        for entry in backend._lambdas._functions.values():
            for function in [entry["latest"], *entry["versions"]]:
                if function is not None and not hasattr(function, "_DockerModel__docker_client"):
                    function._DockerModel__docker_client = None
