"""config.toml -> a frozen, validated Config.

moto (and, for some settings, AWS itself) accepts values that break the stack later, so
every value is checked here and a bad one is reported as one line naming the key, the
value and what is allowed. Resource names are derived from the config, never stored.
"""

from __future__ import annotations

import difflib
import os
import tomllib
import types
import typing
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from dataops_cli.config_sections import (
    CONFIG_ENV,
    DEFAULT_CONFIG_NAME,
    ENGINES,
    GLUE_SCRIPT_PREFIX,
    LOG_RETENTION_DAYS,
    STACK_TAG,
    AlarmConfig,
    BucketConfig,
    Check,
    ConfigError,
    DashboardConfig,
    FunctionConfig,
    GlueConfig,
    PipelineConfig,
    QualityConfig,
    ScheduleConfig,
    StackConfig,
    check_bucket_name,
    check_no_surrounding_whitespace,
    check_tags,
)
from handler import contract

__all__ = [
    "CONFIG_ENV",
    "DEFAULT_CONFIG_NAME",
    "ENGINES",
    "GLUE_SCRIPT_PREFIX",
    "LOG_RETENTION_DAYS",
    "STACK_TAG",
    "AlarmConfig",
    "BucketConfig",
    "Check",
    "Config",
    "ConfigError",
    "DashboardConfig",
    "FunctionConfig",
    "GlueConfig",
    "PipelineConfig",
    "QualityConfig",
    "ScheduleConfig",
    "StackConfig",
    "check_bucket_name",
    "find_config_path",
    "load_config",
    "parse_config",
]

_SECTIONS: dict[str, type] = {
    "stack": StackConfig,
    "bucket": BucketConfig,
    "function": FunctionConfig,
    "glue": GlueConfig,
    "schedule": ScheduleConfig,
    "dashboard": DashboardConfig,
    "alarm": AlarmConfig,
    "pipeline": PipelineConfig,
    "quality": QualityConfig,
}


@dataclass(frozen=True)
class Config:
    """The whole configuration plus the names derived from it."""

    stack: StackConfig = field(default_factory=StackConfig)
    bucket: BucketConfig = field(default_factory=BucketConfig)
    function: FunctionConfig = field(default_factory=FunctionConfig)
    glue: GlueConfig = field(default_factory=GlueConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    dashboard: DashboardConfig = field(default_factory=DashboardConfig)
    alarm: AlarmConfig = field(default_factory=AlarmConfig)
    pipeline: PipelineConfig = field(default_factory=PipelineConfig)
    quality: QualityConfig = field(default_factory=QualityConfig)
    tags: Mapping[str, str] = field(default_factory=lambda: types.MappingProxyType({"Project": "dataops"}))
    base_dir: Path = field(default=Path(), compare=False)

    # Derived names: deterministic, so status and down find resources without a state file.
    @property
    def region(self) -> str:
        return self.stack.region

    @property
    def partition(self) -> str:
        """The ARN partition of stack.region (aws, aws-cn, aws-us-gov)."""
        if self.region.startswith("cn-"):
            return "aws-cn"
        return "aws-us-gov" if self.region.startswith("us-gov-") else "aws"

    @property
    def all_tags(self) -> dict[str, str]:
        return {**self.tags, STACK_TAG: self.stack.name}

    @property
    def input_path(self) -> Path:
        path = Path(self.bucket.input_file)
        return path if path.is_absolute() else self.base_dir / path

    def check_input_file(self) -> None:
        """`up` deploys this file: a missing one is a config error, never a silent run on old data."""
        path = self.input_path
        if path.is_file():
            return
        default = (
            " (the built-in default: no config file sets it)"
            if self.bucket.input_file == BucketConfig().input_file
            else ""
        )
        found = "is a folder, not a file" if path.is_dir() else "does not exist"
        raise ConfigError(
            f"bucket.input_file = {self.bucket.input_file!r}{default}: {path} {found}; "
            f"expected a CSV file (a relative path is read from {self.base_dir})"
        )

    @property
    def log_group(self) -> str:
        return f"/aws/lambda/{self.function.name}"

    @property
    def execution_role(self) -> str:
        return f"{self.stack.name}-lambda-exec"

    @property
    def scheduler_role(self) -> str:
        return f"{self.stack.name}-scheduler-invoke"

    @property
    def glue_job(self) -> str:
        return f"{self.stack.name}-pipeline-glue"

    @property
    def glue_role(self) -> str:
        return f"{self.stack.name}-glue-job"

    @property
    def glue_failed_rule(self) -> str:
        """EventBridge rule matching this job's FAILED/TIMEOUT runs: the errors alarm counts its matches."""
        return f"{self.stack.name}-glue-run-failed"

    @property
    def glue_succeeded_rule(self) -> str:
        """EventBridge rule matching this job's SUCCEEDED runs: the dashboard counts its matches."""
        return f"{self.stack.name}-glue-run-succeeded"

    @property
    def glue_script_key(self) -> str:
        return f"{GLUE_SCRIPT_PREFIX}glue_entry.py"

    @property
    def glue_modules_key(self) -> str:
        return f"{GLUE_SCRIPT_PREFIX}handler.zip"

    @property
    def schedule_group(self) -> str:
        return f"{self.stack.name}-schedules"

    @property
    def schedule_name(self) -> str:
        return f"{self.stack.name}-run-pipeline"

    @property
    def alarm_name(self) -> str:
        return f"{self.function.name}-errors"

    @property
    def alarm_topic(self) -> str:
        return f"{self.stack.name}-alarms"

    @property
    def quality_alarm_name(self) -> str:
        return f"{self.function.name}-quality-failures"

    @property
    def quality_history_key(self) -> str:
        return f"{self.bucket.output_prefix}{contract.QUALITY_HISTORY}"

    @property
    def runs_prefix(self) -> str:
        return f"{self.bucket.output_prefix}{contract.RUNS_FOLDER}"

    @property
    def latest_key(self) -> str:
        return contract.latest_key(self.bucket.output_prefix)

    def handler_environment(self) -> dict[str, str]:
        """The Lambda environment: the handler's whole contract with the config."""
        return {
            contract.ENV_BUCKET: self.bucket.name,
            contract.ENV_INPUT_KEY: self.bucket.input_key,
            contract.ENV_OUTPUT_PREFIX: self.bucket.output_prefix,
            contract.ENV_ZERO_AS_MISSING: ",".join(self.pipeline.zero_as_missing),
            contract.ENV_IMPUTE_STRATEGY: self.pipeline.impute_strategy,
            contract.ENV_NORMALIZE_METHOD: self.pipeline.normalize_method,
            contract.ENV_NORMALIZE_EXCLUDE: ",".join(self.pipeline.normalize_exclude),
            contract.ENV_MAX_COLUMNS: str(self.pipeline.max_columns),
            contract.ENV_ESCAPE_FORMULAS: "true" if self.pipeline.escape_formulas else "false",
            contract.ENV_SKIP_UNCHANGED: "true" if self.pipeline.skip_unchanged else "false",
            **{
                f"{contract.QUALITY_ENV_PREFIX}{f.name.upper()}": str(getattr(self.quality, f.name))
                for f in fields(self.quality)
            },
        }

    def with_region(self, region: str) -> Config:
        stack = _build_section("stack", StackConfig, {"name": self.stack.name, "region": region}, "--region")
        return replace(self, stack=stack)


def find_config_path(explicit: str | os.PathLike[str] | None = None) -> Path | None:
    """--config, then $DATAOPS_CONFIG, then ./config.toml; None means built-in defaults."""
    if explicit:
        return Path(explicit)
    if os.environ.get(CONFIG_ENV):
        return Path(os.environ[CONFIG_ENV])
    local = Path.cwd() / DEFAULT_CONFIG_NAME
    return local if local.is_file() else None


def load_config(path: str | os.PathLike[str] | None = None) -> Config:
    """Read and validate a config file; with no file at all, the defaults (cwd-relative)."""
    if path is None:
        return Config(base_dir=Path.cwd())
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file {str(path)!r} not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {str(path)!r} cannot be read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    return parse_config(raw, source=str(path), base_dir=path.resolve().parent)


def parse_config(raw: Mapping[str, Any], source: str = "config", base_dir: Path | None = None) -> Config:
    """Validate a parsed TOML document; every error names the key, value and what is allowed."""
    known = [*_SECTIONS, "tags"]
    for section in raw:
        if section not in known:
            raise ConfigError(f"{source}: unknown section [{section}]{_did_you_mean(section, known)}")
    sections: dict[str, Any] = {}
    for name, cls in _SECTIONS.items():
        body = raw.get(name, {})
        if not isinstance(body, dict):
            raise ConfigError(f"{source}: {name} must be a table ([{name}]), got {_describe(body)}")
        sections[name] = _build_section(name, cls, body, source)
    tags = raw.get("tags", {"Project": "dataops"})
    if not isinstance(tags, dict) or not all(isinstance(v, str) for v in tags.values()):
        raise ConfigError(f"{source}: [tags] must map tag keys to string values, got {_describe(tags)}")
    if problem := check_tags(tags):
        raise ConfigError(f"{source}: [tags] is not allowed: expected {problem}")
    config = Config(**sections, tags=types.MappingProxyType(dict(tags)), base_dir=base_dir or Path.cwd())
    _check_cross_field(config, source)
    return config


def _build_section(name: str, cls: type, body: Mapping[str, Any], source: str) -> Any:
    hints = typing.get_type_hints(cls)
    names = [f.name for f in fields(cls)]
    for key in body:
        if key not in names:
            raise ConfigError(f"{source}: unknown key '{name}.{key}'{_did_you_mean(key, names)}")
    values: dict[str, Any] = {}
    for f in fields(cls):
        if f.name not in body:
            continue
        key, value = f"{name}.{f.name}", body[f.name]
        value = _coerce(key, value, hints[f.name], source)
        check = f.metadata.get("check")
        if (allowed := check_no_surrounding_whitespace(value)) or (check and (allowed := check(value))):
            raise ConfigError(f"{source}: {key} = {_show(value)} is not allowed: expected {allowed}")
        values[f.name] = value
    return cls(**values)


def _coerce(key: str, value: Any, hint: Any, source: str) -> Any:
    """Type-check one value against its dataclass annotation (bool is not an int here)."""
    if hint is bool:
        ok = isinstance(value, bool)
        expected = "true or false"
    elif hint is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
        expected = "an integer"
    elif hint is float:  # TOML writes 2 for 2.0: an integer is a number too
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        expected = "a number"
        value = float(value) if ok else value
    elif hint is str:
        ok = isinstance(value, str)
        expected = "a string"
    else:  # tuple[str, ...]
        ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
        expected = "a list of strings"
        value = tuple(value) if ok else value
    if not ok:
        raise ConfigError(f"{source}: {key} = {_show(value)} has the wrong type: expected {expected}")
    return value


def _check_cross_field(config: Config, source: str) -> None:
    """Rules that involve two keys at once."""
    if config.bucket.input_key.startswith(config.bucket.output_prefix):
        raise ConfigError(
            f"{source}: bucket.input_key = {config.bucket.input_key!r} lies under "
            f"bucket.output_prefix = {config.bucket.output_prefix!r}: expected the input outside "
            "the output prefix (outputs expire and are rewritten every run)"
        )
    output = config.bucket.output_prefix
    if output.startswith(GLUE_SCRIPT_PREFIX) or GLUE_SCRIPT_PREFIX.startswith(output):
        raise ConfigError(
            f"{source}: bucket.output_prefix = {output!r} overlaps {GLUE_SCRIPT_PREFIX!r}, where `up` keeps "
            "the Glue job's script: expected another prefix (outputs expire and are rewritten every run)"
        )
    if config.bucket.input_key.startswith(GLUE_SCRIPT_PREFIX):
        raise ConfigError(
            f"{source}: bucket.input_key = {config.bucket.input_key!r} lies under {GLUE_SCRIPT_PREFIX!r}, "
            "where `up` keeps the Glue job's script: expected a key outside it"
        )
    expression = config.schedule.expression
    if expression.startswith("at(") and config.schedule.enabled:
        when = datetime.fromisoformat(expression[3:-1])
        tz = zoneinfo.ZoneInfo(config.schedule.timezone)
        if when.replace(tzinfo=tz) < datetime.now(tz):
            raise ConfigError(
                f"{source}: schedule.expression = {expression!r} is in the past: expected a future "
                "time for a one-time schedule"
            )


def _did_you_mean(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1)
    return f" (did you mean '{close[0]}'?)" if close else f" (known: {', '.join(choices)})"


def _show(value: Any) -> str:
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    return str(value)


def _describe(value: Any) -> str:
    return f"{type(value).__name__} {_show(value)}"
