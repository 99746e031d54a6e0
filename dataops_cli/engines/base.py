"""The Engine interface: what differs between running the pipeline on Lambda and on Glue.

One implementation per engine (`lambda_engine.py`, `glue_engine.py`), chosen once per
command from the config (`registry.engine_for`). Everything else asks the engine instead of
testing `function.engine` (tests/unit/test_architecture.py checks that no module outside
engines/ and config validation compares engine names). Modules below the engines in the
import graph (resources, the dashboard, the cost model) read the engine's `Traits` by name.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, Protocol

from dataops_cli.config import Config


@dataclass(frozen=True)
class Traits:
    """What other modules may know about an engine without importing its implementation."""

    name: str
    other: str  # the other engine: `up` removes its resources after a switch
    runs_function: bool  # a Lambda function runs the pipeline: its log group, metrics, layer, execution role
    polled: bool  # a manual run is started, then polled until it ends (a spinner can show the wait)


TRAITS = {
    "lambda": Traits("lambda", "glue", runs_function=True, polled=False),
    "glue": Traits("glue", "lambda", runs_function=False, polled=True),
}


def traits(name: str) -> Traits:
    """The traits of engine `name` (config validation already refused any other name)."""
    return TRAITS[name]


def uses(engine: str, resource_engines: Iterable[str]) -> bool:
    """Whether a resource that names `resource_engines` is needed by `engine`."""
    return engine in tuple(resource_engines)


class Target(Protocol):
    """Where a command runs (the App): for error lines that name the target and the fix."""

    def where(self) -> str: ...

    def command(self, words: str) -> str: ...


class RunWatch(Protocol):
    """What the caller shows while a run goes on (the CLI supplies one; tests a quiet one)."""

    def on_state(self, state: str) -> None: ...  # a Glue run's state changed

    def on_wait(self, elapsed: float) -> None: ...  # the function is busy: still waiting for its slot

    def sleep(self, seconds: float) -> None: ...  # between polls


class RunOutcome(Protocol):
    @property
    def failed(self) -> bool: ...

    @property
    def error_summary(self) -> str: ...

    def as_dict(self) -> dict[str, Any]: ...


@dataclass
class LogSource:
    """Where `logs` reads: `exists()`, then `fetch(from_ms, max_pages, on_truncated)` events."""

    what: str
    missing: str
    exists: Callable[[], bool]
    fetch: Callable[[int, int | None, Callable[[], None]], Any]


class Engine(ABC):
    """One engine, bound to one config."""

    traits: ClassVar[Traits]

    def __init__(self, config: Config) -> None:
        self.config = config

    @property
    def name(self) -> str:
        return self.traits.name

    @property
    @abstractmethod
    def runs(self) -> str:
        """What a run is a run of, for lines such as "Running <runs> once now"."""

    @abstractmethod
    def run_now(
        self, aws: Any, target: Target, trigger: str, watch: RunWatch, local: bool, force: bool = False
    ) -> RunOutcome:
        """Start one run and wait for it to end (bounded); DataopsError naming the fix when it cannot start.

        `force`: run in full even when the input is unchanged (pipeline.skip_unchanged)."""

    @abstractmethod
    def log_source(self, aws: Any, target: Target, warn: Callable[[str], None]) -> LogSource:
        """Where this engine's log lines are (`warn` says what was left out, once)."""

    @abstractmethod
    def run_summaries(self, ctx: Any, start: datetime) -> dict[str, Any] | None:
        """Runs since `start` from the engine's own API (status), or None when the run logs say it all."""

    @abstractmethod
    def skipped_runs(self, aws: Any, start_ms: int, end_ms: int | None = None) -> list[Any]:
        """The runs since `start_ms` that skipped an unchanged input (observe.skips.SkippedRun), oldest first:
        they write nothing to S3, so their log lines are their only record."""

    @abstractmethod
    def measure(self, aws: Any) -> Any:
        """What the deployed stack measured for `cost` (a cost.inputs.Measured)."""

    @abstractmethod
    def month_runs_client(self, ctx: Any) -> Any:
        """The client `status`'s month-to-date cost counts runs with (None: from metrics)."""

    @abstractmethod
    def local_note(self, python: str) -> str:
        """What local mode does not emulate for this engine (a line of `--local status`)."""

    @abstractmethod
    def local_problem(self) -> str | None:
        """What this machine lacks to run this engine locally (None: nothing)."""

    @abstractmethod
    def config_rows(self) -> list[tuple[str, str]]:
        """The engine's rows of `dataops config`."""

    def resources(self, order: Iterable[type]) -> list[type]:
        """The resource classes of `order` this engine needs (each names its engines)."""
        return [cls for cls in order if uses(self.name, cls.engines)]  # type: ignore[attr-defined]

    def other_resources(self, order: Iterable[type]) -> list[type]:
        """The other engine's resource classes of `order` (what `up` removes after a switch)."""
        return [cls for cls in order if not uses(self.name, cls.engines)]  # type: ignore[attr-defined]
