"""Execution environments kept warm between invocations, and ended as Lambda ends them.

Lambda reuses an environment for the next invocation of the same function version, and
starts a new one (a cold start) for the first invocation, after the code or configuration
changed, after an environment failed (crash, timeout, out of memory), or when every warm one
is busy; it shuts idle environments down after a while
(https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html). AWS does not
document how long an idle environment lives; it has been measured at 5 to 60 minutes
(https://theburningmonk.com/2017/06/finding-coldstarts-how-long-does-aws-lambda-keep-your-idle-functions-around/),
so the default keep-alive is 10 minutes, compressed by `--speed` like the schedule.

The number of environments a function has is bounded by its concurrency: LambdaService only
asks for one while it holds a concurrency slot, a free warm one is always taken first, and at
most `limit` idle ones are kept per function.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path

from dataops_cli.emulator.environment import ExecutionEnvironment, invalid_zip_result, version_key
from dataops_cli.emulator.runner import FunctionSpec, RunResult, code_dir
from dataops_cli.emulator.sigv4 import Secret

log = logging.getLogger("dataops.emulator")
DEFAULT_KEEP_ALIVE_SECONDS = 600.0
FunctionKey = tuple[str, str, str]  # account, region, function name
SessionFor = Callable[[FunctionSpec], AbstractContextManager[Secret | None]]
Lookup = Callable[[str, str, str], FunctionSpec | None]  # the function as deployed now, or None


def no_session(spec: FunctionSpec) -> AbstractContextManager[Secret | None]:
    """Environments without credentials (the emulator does not evaluate roles)."""
    return contextlib.nullcontext(None)


class EnvironmentPool:
    """Warm environments per function; `run` takes a warm one or starts one, and keeps it after."""

    def __init__(
        self,
        endpoint: str,
        cache: Path,
        session_for: SessionFor = no_session,
        keep_alive_seconds: float = DEFAULT_KEEP_ALIVE_SECONDS,
        speed: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        lookup: Lookup | None = None,
    ) -> None:
        self.endpoint, self.cache, self.session_for = endpoint, cache, session_for
        self.lookup = lookup
        self.idle_limit = keep_alive_seconds / speed  # wall-clock seconds an idle environment lives
        self.clock = clock
        self._idle: dict[FunctionKey, list[ExecutionEnvironment]] = {}
        self._busy: set[ExecutionEnvironment] = set()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._reaper = threading.Thread(target=self._reap_forever, name="env-reaper", daemon=True)
        self._reaper.start()

    def run(self, spec: FunctionSpec, event: bytes, request_id: str, log_stream: str, limit: int) -> RunResult:
        """Run one event in a warm environment of this version, or a new one (then `log_stream`
        names its stream). Raises AssumeRoleError when a new environment's role cannot be assumed."""
        with self._environment(spec, log_stream, limit) as environment:
            if environment is None:
                return invalid_zip_result(request_id, zipfile.BadZipFile("cannot unpack it"))
            return environment.invoke(event, request_id)

    @contextlib.contextmanager
    def _environment(self, spec: FunctionSpec, log_stream: str, limit: int) -> Iterator[ExecutionEnvironment | None]:
        key = (spec.account, spec.region, spec.name)
        environment = self._take_warm(key, spec)
        if environment is None:
            try:
                environment = self._start(spec, log_stream)
            except zipfile.BadZipFile:
                yield None
                return
        with self._lock:
            self._busy.add(environment)
        try:
            yield environment
        finally:
            with self._lock:
                self._busy.discard(environment)
            self._keep(key, environment, limit)

    def _take_warm(self, key: FunctionKey, spec: FunctionSpec) -> ExecutionEnvironment | None:
        """The most recently used idle environment of this version; other versions' idle ones end."""
        version = version_key(spec)
        with self._lock:
            idle = self._idle.get(key, [])
            stale = [env for env in idle if env.version != version or not env.alive]
            fresh = [env for env in idle if env not in stale]
            taken = fresh.pop() if fresh else None
            self._idle[key] = fresh
        for env in stale:
            env.end()
        return taken

    def _start(self, spec: FunctionSpec, log_stream: str) -> ExecutionEnvironment:
        task_dir = code_dir(spec, self.cache)
        session = self.session_for(spec)
        credentials = session.__enter__()
        try:
            return ExecutionEnvironment(
                spec,
                task_dir,
                self.endpoint,
                log_stream,
                credentials,
                on_end=lambda: session.__exit__(None, None, None),
            )
        except BaseException:
            session.__exit__(None, None, None)
            raise

    def _keep(self, key: FunctionKey, environment: ExecutionEnvironment, limit: int) -> None:
        """Keep a live environment for the next invocation, within the function's concurrency."""
        if not environment.alive or self._stopping.is_set() or self.idle_limit <= 0:
            environment.end()
            return
        environment.last_used = self.clock()
        with self._lock:
            idle = self._idle.setdefault(key, [])
            idle.append(environment)
            surplus = idle[: max(0, len(idle) - limit)]
            del idle[: len(surplus)]
        for env in surplus:
            env.end()

    def reap(self) -> int:
        """End the idle environments past the keep-alive, or whose function was deleted or changed
        (`down`, or `up` with new code: their next invocation would start fresh anyway)."""
        now = self.clock()
        with self._lock:
            idle = [env for envs in self._idle.values() for env in envs]
        candidates = {env for env in idle if now - env.last_used > self.idle_limit or not self._current(env)}
        with self._lock:  # only those still idle now: one taken meanwhile is running
            expired = [env for envs in self._idle.values() for env in envs if env in candidates]
            for key, envs in self._idle.items():
                self._idle[key] = [env for env in envs if env not in candidates]
        for env in expired:
            env.end()
        return len(expired)

    def _current(self, env: ExecutionEnvironment) -> bool:
        """Whether the function still exists with this environment's version."""
        if self.lookup is None:
            return True
        deployed = self.lookup(env.spec.account, env.spec.region, env.spec.name)
        return deployed is not None and version_key(deployed) == env.version

    def _reap_forever(self) -> None:
        while not self._stopping.wait(min(1.0, max(0.05, self.idle_limit / 4))):
            self.reap()

    def counts(self) -> dict[str, dict[str, int]]:
        """Environments per function name: idle and busy (for /_dataops/health)."""
        found: dict[str, dict[str, int]] = {}
        with self._lock:
            for (_, _, name), envs in self._idle.items():
                if envs:
                    found.setdefault(name, {"idle": 0, "busy": 0})["idle"] += len(envs)
            for env in self._busy:
                found.setdefault(env.spec.name, {"idle": 0, "busy": 0})["busy"] += 1
        return found

    def stop(self) -> int:
        """End every environment, idle or busy; returns how many."""
        self._stopping.set()
        with self._lock:
            every = [env for envs in self._idle.values() for env in envs] + list(self._busy)
            self._idle.clear()
        for env in every:
            env.end()
        return len(every)
