"""The global options of every command, and what is built from them on first use.

The root group puts one in `ctx.obj` (tests put a fake there instead), so the command
modules share one typed `App` without importing each other. Everything that differs between AWS and the
local emulator is decided here from explicit options, never from the environment behind
a command's back: `--local` picks the emulator, `--state-dir` says which one.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console

from dataops_cli.aws import Aws
from dataops_cli.config import CONFIG_ENV, DEFAULT_CONFIG_NAME, Config, find_config_path, load_config
from dataops_cli.deploy.resources.base import StackContext
from dataops_cli.deploy.stack import Reporter
from dataops_cli.engines.base import Engine
from dataops_cli.engines.registry import engine_for
from dataops_cli.local.state import STATE_DIR_ENV
from dataops_cli.ui import make_console, reporter_for

LOCAL_ENV = "DATAOPS_LOCAL"
__all__ = ["LOCAL_ENV", "STATE_DIR_ENV", "App", "default_state_dir"]


def default_state_dir() -> Path:
    """`.dataops/` in the current directory (git-ignored), so two checkouts run two emulators."""
    return Path.cwd() / ".dataops"


@dataclass
class App:
    """Global options, and the config/clients built from them on first use."""

    config_path: str | None
    profile: str | None
    region: str | None
    local: bool
    verbose: int
    debug: bool
    state_dir: Path = field(default_factory=default_state_dir)  # the local emulator's pid/port/log
    console: Console = field(default_factory=make_console)
    _config: Config | None = None
    _aws: Aws | None = None
    _time_scale: float | None = None
    _engine: Engine | None = None
    _reporter: Reporter | None = None

    @property
    def engine(self) -> Engine:
        """The config's engine, chosen once for the command."""
        if self._engine is None:
            self._engine = engine_for(self.config)
        return self._engine

    @property
    def reporter(self) -> Reporter:
        """What `up`/`down` say as they go, and the step in flight (an interrupt names it)."""
        if self._reporter is None:
            self._reporter = reporter_for(self.console)
        return self._reporter

    @property
    def config(self) -> Config:
        if self._config is None:
            config = load_config(find_config_path(self.config_path))
            self._config = config.with_region(self.region) if self.region else config
        return self._config

    def config_note(self) -> str:
        """Which config file is in use, for the first line of up/status/down (loads and validates it)."""
        path = find_config_path(self.config_path)
        _ = self.config
        if path is None:
            return f"Config: built-in defaults (found no --config, ${CONFIG_ENV} or ./{DEFAULT_CONFIG_NAME})"
        if not tomllib.loads(path.read_text(encoding="utf-8")):
            return f"Config: {path} is empty: built-in defaults apply"
        return f"Config: {path}"

    def command(self, words: str) -> str:
        """A command line to suggest, aimed at the same target (the emulator or AWS)."""
        return f"dataops --local {words}" if self.local else f"dataops {words}"

    def aws(self, start_emulator: bool = False) -> Aws:
        if self._aws is None:
            if self.local:
                from dataops_cli.local import bridge

                self._aws = bridge.local_aws(self.config, self.state_dir, start=start_emulator, say=self.console.print)
            else:
                self._aws = Aws(region=self.config.region, profile=self.profile)
        return self._aws

    def stack(self, start_emulator: bool = False) -> StackContext:
        aws = self.aws(start_emulator)
        if self.local:
            from dataops_cli.local import bridge

            return bridge.local_stack_context(self.config, aws)
        from dataops_cli.deploy.pandas_layer import resolve_pandas_layer

        return StackContext(config=self.config, aws=aws, layer_resolver=resolve_pandas_layer)

    def time_scale(self) -> float:
        """How much faster than real time schedules fire (the emulator's --speed), 1 on AWS.

        Read once per command: the emulator's speed cannot change while it runs.
        """
        if self._time_scale is None:
            if self.local:
                from dataops_cli.local import bridge

                self._time_scale = bridge.time_scale(self.state_dir)
            else:
                self._time_scale = 1.0
        return self._time_scale

    def where(self) -> str:
        if self.local:
            return f"the local emulator ({self.aws().endpoint_url}, region {self.config.region})"
        return f"AWS account {self.aws().account_id}, region {self.config.region}"

    def report_calls(self) -> None:
        if self.verbose and self._aws is not None:
            counter = self._aws.counter
            self.console.print(f"[dim]API calls: {counter.total} ({counter.mutating} mutating)[/]")
            if self.verbose > 1:
                for call in counter.mutating_calls():
                    self.console.print(f"[dim]  {call}[/]")
