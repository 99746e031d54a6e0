"""The emulator's Lambda service: synchronous and asynchronous invokes under reserved concurrency.

A synchronous invoke that finds every reserved slot busy is refused (429, counted as a
Throttle). An asynchronous one (the scheduler's) is accepted (202) and queued; if it
arrives while the function is at its limit, that is a Throttle too, and it runs when a
slot frees up, unless it grows older than the function's MaximumEventAgeInSeconds (then
it is dropped, as Lambda does). A failed asynchronous run is retried MaximumRetryAttempts
times (AWS's default 2), one and then two minutes later, as Lambda does. Event age and
retry delays run on the emulator's compressed clock.

Runs go to execution environments kept warm between invocations (warm_pool.py), as Lambda
keeps them. Each new environment first assumes the function's execution role as
lambda.amazonaws.com (with `roles`): the environment gets that role's temporary credentials for
as long as it lives, and a role whose trust policy does not allow Lambda fails the run before
the handler starts, naming the role and why.
"""

from __future__ import annotations

import contextlib
import json
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from dataops_cli.emulator.roles import LAMBDA_PRINCIPAL, AssumeRoleError, Roles
from dataops_cli.emulator.runner import FunctionSpec, RunResult
from dataops_cli.emulator.sigv4 import Secret
from dataops_cli.emulator.telemetry import (
    Telemetry,
    async_dropped_metric,
    async_received_metric,
    log_stream_name,
    tail,
    throttle_metric,
)
from dataops_cli.emulator.warm_pool import DEFAULT_KEEP_ALIVE_SECONDS, EnvironmentPool

log = logging.getLogger("dataops.emulator")
UNRESERVED_LIMIT = 10  # concurrent runs of a function without reserved concurrency
DEFAULT_MAX_EVENT_AGE = 21600
DEFAULT_MAX_RETRIES = 2
RETRY_DELAYS = (60.0, 120.0)  # seconds before the first and the second retry
FunctionKey = tuple[str, str, str]  # account, region, function name
Lookup = Callable[[str, str, str], FunctionSpec | None]
Runner = Callable[..., RunResult]  # (spec, payload, request id, endpoint, cache, stream[, credentials=...])
ROLE_ERROR = "Lambda.ExecutionRoleNotAssumable"  # the emulator's name: AWS documents no error type for this


class ThrottledError(Exception):
    """Every reserved concurrency slot of the function is busy."""


@dataclass
class AsyncEvent:
    account: str
    region: str
    function: str
    payload: bytes
    request_id: str
    received: float
    throttled: bool = False
    attempt: int = 0  # 0: first try; n: n-th retry after a failed run


@dataclass
class Counters:
    """Per-function totals, served on /_dataops/health for `dataops local status`."""

    invocations: int = 0
    errors: int = 0
    throttles: int = 0
    async_dropped: int = 0


@dataclass
class Slots:
    """Reserved concurrency: how many runs of each function are going right now."""

    running: dict[FunctionKey, int] = field(default_factory=dict)
    changed: threading.Condition = field(default_factory=threading.Condition)

    def try_enter(self, key: FunctionKey, limit: int) -> int | None:
        """The concurrency including this run, or None when the function is at its limit."""
        with self.changed:
            now = self.running.get(key, 0)
            if now >= limit:
                return None
            self.running[key] = now + 1
            return now + 1

    def leave(self, key: FunctionKey) -> None:
        with self.changed:
            self.running[key] = max(0, self.running.get(key, 1) - 1)
            self.changed.notify_all()

    def busy(self, key: FunctionKey, limit: int) -> bool:
        with self.changed:
            return self.running.get(key, 0) >= limit

    def wait(self, timeout: float) -> None:
        with self.changed:
            self.changed.wait(timeout)


def limit_of(spec: FunctionSpec) -> int:
    return spec.reserved_concurrency if spec.reserved_concurrency is not None else UNRESERVED_LIMIT


class LambdaService:
    """Runs invocations of deployed functions and records each one's logs and metrics."""

    def __init__(
        self,
        endpoint: str,
        cache: Path,
        telemetry: Telemetry,
        lookup: Lookup,
        speed: float = 1.0,
        runner: Runner | None = None,
        clock: Callable[[], float] = time.time,
        roles: Roles | None = None,
        keep_alive_seconds: float = DEFAULT_KEEP_ALIVE_SECONDS,
    ) -> None:
        self.endpoint, self.cache, self.telemetry, self.lookup = endpoint, cache, telemetry, lookup
        self.roles = roles
        # A test's own runner replaces the environments (each call is then one whole run).
        self.runner: Runner | None = runner
        self.environments = EnvironmentPool(
            endpoint, cache, self._session_for, keep_alive_seconds, speed, lookup=lookup
        )
        self.speed, self.clock = speed, clock
        self.slots = Slots()
        self.counters: dict[str, Counters] = {}
        self._queues: dict[FunctionKey, queue.Queue[AsyncEvent | None]] = {}
        self._waiting: dict[str, int] = {}  # accepted asynchronous events not started (or dropped) yet
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._retries: set[threading.Timer] = set()

    def count(self, function: str, name: str, by: int = 1) -> None:
        with self._lock:
            counters = self.counters.setdefault(function, Counters())
            setattr(counters, name, getattr(counters, name) + by)

    def snapshot(self) -> dict[str, dict[str, int]]:
        """Counters per function, plus runs going and events waiting right now."""
        with self._lock:
            found = {name: asdict(c) for name, c in self.counters.items()}
            queued = dict(self._waiting)
        with self.slots.changed:
            running = {key[2]: n for key, n in self.slots.running.items()}
        for name in {*found, *queued, *running}:
            found.setdefault(name, asdict(Counters()))
            found[name]["running"] = running.get(name, 0)
            found[name]["queued"] = queued.get(name, 0)
        return found

    def invoke_sync(self, spec: FunctionSpec, payload: bytes, request_id: str) -> tuple[RunResult, str]:
        """Run now and return (result, log tail); raises ThrottledError when no slot is free."""
        key = (spec.account, spec.region, spec.name)
        concurrency = self.slots.try_enter(key, limit_of(spec))
        if concurrency is None:
            self.count(spec.name, "throttles")
            self.telemetry.put_metrics(spec.region, [("AWS/Lambda", throttle_metric(spec.name, self.clock()))])
            raise ThrottledError(spec.name)
        try:
            return self._run(spec, payload, request_id, concurrency, received=None)
        finally:
            self.slots.leave(key)

    def invoke_async(self, spec: FunctionSpec, payload: bytes, request_id: str) -> None:
        """Queue the event (answered 202 by the caller); a busy function counts a Throttle."""
        now = self.clock()
        key = (spec.account, spec.region, spec.name)
        event = AsyncEvent(spec.account, spec.region, spec.name, payload, request_id, received=now)
        metrics = [("AWS/Lambda", async_received_metric(spec.name, now))]
        if self.slots.busy(key, limit_of(spec)):
            event.throttled = True
            self.count(spec.name, "throttles")
            metrics.append(("AWS/Lambda", throttle_metric(spec.name, now)))
        self.telemetry.put_metrics(spec.region, metrics)
        self._wait_count(spec.name, +1)
        self._queue(key).put(event)

    def _wait_count(self, function: str, by: int) -> None:
        with self._lock:
            self._waiting[function] = self._waiting.get(function, 0) + by

    def stop(self) -> int:
        """Stop taking events, cancel pending retries, end every environment (runs still going
        are killed); returns how many environments ended."""
        self._stopping.set()
        with self._lock:
            for timer in self._retries:
                timer.cancel()
            for q in self._queues.values():
                q.put(None)
        with self.slots.changed:
            self.slots.changed.notify_all()
        return self.environments.stop()

    def _queue(self, key: FunctionKey) -> queue.Queue[AsyncEvent | None]:
        with self._lock:
            if key not in self._queues:
                self._queues[key] = queue.Queue()
                thread = threading.Thread(target=self._dispatch, args=(key,), name=f"async-{key[2]}", daemon=True)
                self._threads.append(thread)
                thread.start()
            return self._queues[key]

    def _dispatch(self, key: FunctionKey) -> None:
        """Feed queued events to free slots, oldest first."""
        events = self._queues[key]
        while not self._stopping.is_set():
            event = events.get()
            if event is None:
                return
            try:
                self._start_when_free(key, event)
            finally:
                self._wait_count(key[2], -1)

    def _start_when_free(self, key: FunctionKey, event: AsyncEvent) -> None:
        while not self._stopping.is_set():
            spec = self.lookup(*key)
            if spec is None:
                log.info("dropped event %s: function %s no longer exists", event.request_id, key[2])
                return
            max_age = spec.max_event_age or DEFAULT_MAX_EVENT_AGE
            if (self.clock() - event.received) * self.speed > max_age:
                self.count(spec.name, "async_dropped")
                self.telemetry.put_metrics(spec.region, [("AWS/Lambda", async_dropped_metric(spec.name, self.clock()))])
                log.info("dropped event %s: older than %d s", event.request_id, max_age)
                return
            concurrency = self.slots.try_enter(key, limit_of(spec))
            if concurrency is not None:
                threading.Thread(
                    target=self._run_async, args=(key, spec, event, concurrency), name="run", daemon=True
                ).start()
                return
            if not event.throttled:
                event.throttled = True
                self.count(spec.name, "throttles")
                self.telemetry.put_metrics(spec.region, [("AWS/Lambda", throttle_metric(spec.name, self.clock()))])
            self.slots.wait(timeout=0.5)

    def _run_async(self, key: FunctionKey, spec: FunctionSpec, event: AsyncEvent, concurrency: int) -> None:
        try:
            result, _ = self._run(spec, event.payload, event.request_id, concurrency, received=event.received)
            if result.failed:
                self._maybe_retry(key, spec, event)
        except Exception:  # a bug of ours must not kill the dispatcher: log it with its traceback
            log.exception("asynchronous run %s of %s failed inside the emulator", event.request_id, spec.name)
        finally:
            self.slots.leave(key)

    def _maybe_retry(self, key: FunctionKey, spec: FunctionSpec, event: AsyncEvent) -> None:
        allowed = DEFAULT_MAX_RETRIES if spec.max_retry_attempts is None else spec.max_retry_attempts
        if event.attempt >= allowed or self._stopping.is_set():
            return
        retry = replace(event, throttled=False, attempt=event.attempt + 1)
        delay = RETRY_DELAYS[min(event.attempt, len(RETRY_DELAYS) - 1)] / self.speed
        log.info("retry %d/%d of event %s of %s in %.1f s", retry.attempt, allowed, event.request_id, spec.name, delay)

        def requeue() -> None:
            with self._lock:
                self._retries.discard(timer)
            self._queue(key).put(retry)

        timer = threading.Timer(delay, requeue)
        timer.daemon = True
        self._wait_count(spec.name, +1)  # waiting for its retry counts as queued
        with self._lock:
            self._retries.add(timer)
        timer.start()

    def _run(
        self, spec: FunctionSpec, payload: bytes, request_id: str, concurrency: int, received: float | None
    ) -> tuple[RunResult, str]:
        result = self._execute(spec, payload, request_id, log_stream_name(time.time()), limit_of(spec))
        stream = result.log_stream or log_stream_name(result.started)
        self.count(spec.name, "invocations")
        self.count(spec.name, "errors", int(result.failed))
        events = self.telemetry.record_run(spec, result, stream, concurrency, received)
        outcome = f"failed ({result.error.get('errorType')})" if result.error else "succeeded"
        log.info("run %s of %s %s in %.0f ms", request_id, spec.name, outcome, result.duration_ms)
        return result, tail(events)

    def _execute(self, spec: FunctionSpec, payload: bytes, request_id: str, stream: str, limit: int) -> RunResult:
        """The run, in a warm environment or a new one (with the execution role's session when the
        emulator evaluates roles)."""
        try:
            if self.runner is not None:
                return self._run_once(spec, payload, request_id, stream)
            return self.environments.run(spec, payload, request_id, stream, limit)
        except AssumeRoleError as exc:
            now = time.time()
            error = {"errorType": ROLE_ERROR, "errorMessage": f"Lambda could not assume the execution role: {exc}"}
            return RunResult(request_id, now, now, 0.0, None, 0, payload=json.dumps(error).encode(), error=error)

    def _run_once(self, spec: FunctionSpec, payload: bytes, request_id: str, stream: str) -> RunResult:
        assert self.runner is not None
        if self.roles is None:
            return self.runner(spec, payload, request_id, self.endpoint, self.cache, stream)
        with self._session_for(spec) as secret:
            return self.runner(spec, payload, request_id, self.endpoint, self.cache, stream, credentials=secret)

    @contextlib.contextmanager
    def _session_for(self, spec: FunctionSpec) -> Iterator[Secret | None]:
        """The execution role's session as Lambda assumes it, or none when roles are not evaluated."""
        if self.roles is None:
            yield None
            return
        with self.roles.session(spec.role_arn, LAMBDA_PRINCIPAL) as session:
            yield session.secret
