"""The config's sections (frozen dataclasses, one per `[section]` of config.toml) and the checks on their values.

Each setting carries its own check (`_setting(default, check)`); config.py builds a Config
from them and reports a bad value as one line naming the key, the value and what is allowed.
"""

from __future__ import annotations

import math
import re
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from dataops_cli.schedule_expr import Schedule, ScheduleExpressionError, parse_schedule
from handler import contract

CONFIG_ENV = "DATAOPS_CONFIG"
DEFAULT_CONFIG_NAME = "config.toml"
STACK_TAG = "dataops:stack"

# Every retention CloudWatch Logs accepts (PutRetentionPolicy).
LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731,
    1096, 1827, 2192, 2557, 2922, 3288, 3653,
)  # fmt: skip
RUNTIMES = ("python3.11", "python3.12", "python3.13")
ARCHITECTURES = ("x86_64", "arm64")
ENGINES = ("lambda", "glue")
GLUE_VERSIONS = ("5.0", "5.1")
GLUE_WORKER_TYPES = ("G.1X", "G.2X", "G.4X", "G.8X")
# Under the bucket, the Glue job's script and its zipped handler/ live here; the pipeline
# writes only under bucket.output_prefix, which must not overlap it (checked below).
GLUE_SCRIPT_PREFIX = "dataops/glue/"
IMPUTE_STRATEGIES = contract.IMPUTE_STRATEGIES
NORMALIZE_METHODS = contract.NORMALIZE_METHODS


class ConfigError(ValueError):
    """A config value (or the file itself) is wrong; the message is one line for the user."""


Check = Callable[[Any], str | None]
"""Returns None when the value is fine, else a description of what is allowed."""


def _setting(default: Any, check: Check | None = None) -> Any:
    return field(default=default, metadata={"check": check})


def _int_range(low: int, high: int, unit: str = "") -> Check:
    suffix = f" {unit}" if unit else ""
    return lambda v: None if low <= v <= high else f"an integer from {low} to {high}{suffix}"


def _one_of(*allowed: Any) -> Check:
    return lambda v: None if v in allowed else "one of " + ", ".join(map(repr, allowed))


# The function strips the values it reads from its environment; `up`, `status` and the bucket
# use them as written, so " processed/" would be two different prefixes (issue 19, item 8).
_STRIPPED = "values are used exactly as written, and the function strips what it reads"


def check_no_surrounding_whitespace(value: Any) -> str | None:
    """Every string setting: no leading or trailing whitespace."""
    if isinstance(value, str) and value != value.strip():
        return f"{value.strip()!r}, without the leading or trailing whitespace ({_STRIPPED})"
    return None


def _pattern(regex: str, allowed: str) -> Check:
    compiled = re.compile(regex)
    return lambda v: None if compiled.fullmatch(v) else allowed


_BUCKET_RE = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_IP_RE = re.compile(r"\d+\.\d+\.\d+\.\d+")
_BUCKET_BAD_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_BUCKET_BAD_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")


def check_bucket_name(name: str) -> str | None:
    """S3's general-purpose bucket naming rules."""
    rule = "3-63 lowercase letters, digits, '.' or '-', starting and ending with a letter/digit"
    if not _BUCKET_RE.fullmatch(name):
        return rule
    if ".." in name or ".-" in name or "-." in name:
        return rule + ", with no '..', '.-' or '-.'"
    if _IP_RE.fullmatch(name):
        return "a name that is not formatted as an IP address"
    if name.startswith(_BUCKET_BAD_PREFIXES) or name.endswith(_BUCKET_BAD_SUFFIXES):
        return "a name without the reserved prefixes/suffixes (xn--, sthree-, -s3alias, ...)"
    return None


def _check_schedule(expression: str) -> str | None:
    try:
        parse_schedule(expression)
    except ScheduleExpressionError as exc:
        return str(exc)
    return None


def _check_timezone(name: str) -> str | None:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return "an IANA time zone name such as 'UTC' or 'Asia/Kolkata'"
    return None


def _check_output_prefix(prefix: str) -> str | None:
    if not prefix.endswith("/") or prefix.startswith("/") or "//" in prefix:
        return "a key prefix ending in '/', not starting with '/', e.g. 'processed/'"
    return None


def _check_object_key(key: str) -> str | None:
    if not key or key.startswith("/") or key.endswith("/") or len(key.encode()) > 1024:
        return "an S3 object key (1-1024 bytes, not starting or ending with '/')"
    return None


def _check_layer_arn(arn: str) -> str | None:
    if arn == "" or re.fullmatch(r"arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:layer:[\w-]+:\d+", arn):
        return None
    return (
        "empty (resolve automatically) or a layer version ARN arn:aws:lambda:<region>:<account>:layer:<name>:<version>"
    )


def _check_email(address: str) -> str | None:
    if address == "" or re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", address):
        return None
    return "empty (no notification) or an email address"


def _check_column_list(columns: list[str]) -> str | None:
    if any(not c for c in columns):
        return "a list of non-empty column names"
    if padded := [c for c in columns if c != c.strip()]:
        return f"column names without leading or trailing whitespace ({padded[0]!r}; {_STRIPPED})"
    if joined := [c for c in columns if "," in c]:
        # The function gets each list as one comma-joined environment variable (ZERO_AS_MISSING=a,b):
        # "Glucose,BMI" would reach it as two columns.
        return f"one column name per list item, without commas ({joined[0]!r} would reach the function as two)"
    duplicates = sorted({c for c in columns if columns.count(c) > 1})
    return f"a list without duplicates (repeated: {', '.join(duplicates)})" if duplicates else None


def check_tags(tags: dict[str, str]) -> str | None:
    for key, value in tags.items():
        if not 1 <= len(key) <= 128 or len(value) > 256:
            return "tag keys of 1-128 characters and values of up to 256"
        if key.lower().startswith("aws:") or key == STACK_TAG:
            return f"tag keys not starting with 'aws:' and other than {STACK_TAG!r} (key {key!r})"
    return None


@dataclass(frozen=True)
class StackConfig:
    name: str = _setting(
        "dataops", _pattern(r"[A-Za-z][A-Za-z0-9-]{0,31}", "1-32 letters, digits or '-', starting with a letter")
    )
    region: str = _setting(
        "ap-south-1", _pattern(r"[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d", "an AWS region code such as 'ap-south-1'")
    )


@dataclass(frozen=True)
class BucketConfig:
    name: str = _setting("dataops-pipeline-bucket", check_bucket_name)
    input_key: str = _setting("diabetes_preprocessed.csv", _check_object_key)
    input_file: str = _setting("diabetes_preprocessed.csv")
    output_prefix: str = _setting(contract.DEFAULT_OUTPUT_PREFIX, _check_output_prefix)
    run_retention_days: int = _setting(30, _int_range(1, 36500, "days"))


def _check_worker_type(worker: str) -> str | None:
    if worker in GLUE_WORKER_TYPES:
        return None
    streaming = " (G.025X is for Glue streaming jobs only; this is a glueetl batch job)" if worker == "G.025X" else ""
    return "one of " + ", ".join(map(repr, GLUE_WORKER_TYPES)) + streaming


def _check_max_concurrent_runs(runs: int) -> str | None:
    if runs == 1:
        return None
    return (
        "1 (fixed: two runs at once would write the same output prefix and race on latest.json; "
        "a run that starts while one is running fails with ConcurrentRunsExceededException)"
    )


@dataclass(frozen=True)
class FunctionConfig:
    name: str = _setting(
        "DataOpsPipelineFunction", _pattern(r"[A-Za-z0-9_-]{1,64}", "1-64 letters, digits, '-' or '_'")
    )
    engine: str = _setting("lambda", _one_of(*ENGINES))
    runtime: str = _setting("python3.12", _one_of(*RUNTIMES))
    memory_mb: int = _setting(1024, _int_range(128, 10240, "MB"))
    timeout_seconds: int = _setting(60, _int_range(1, 900, "seconds"))
    architecture: str = _setting("x86_64", _one_of(*ARCHITECTURES))
    layer_name: str = _setting(
        "AWSSDKPandas-Python312", _pattern(r"[A-Za-z0-9_-]{1,140}", "a layer name (letters, digits, '-', '_')")
    )
    layer_arn: str = _setting("", _check_layer_arn)
    layer_sdk_version: str = _setting("3.17.0", _pattern(r"\d+\.\d+\.\d+", "a version such as '3.17.0'"))
    log_retention_days: int = _setting(14, _one_of(*LOG_RETENTION_DAYS))
    reserved_concurrency: int = _setting(1, _int_range(1, 1000))
    async_max_retry_attempts: int = _setting(0, _int_range(0, 2))
    async_max_event_age_seconds: int = _setting(300, _int_range(60, 21600, "seconds"))


@dataclass(frozen=True)
class GlueConfig:
    """The AWS Glue (Spark) job that runs the pipeline when function.engine = "glue"."""

    glue_version: str = _setting("5.0", _one_of(*GLUE_VERSIONS))
    worker_type: str = _setting("G.1X", _check_worker_type)
    number_of_workers: int = _setting(
        2, lambda v: None if v >= 2 else "an integer of at least 2 (one driver and at least one executor)"
    )
    timeout_minutes: int = _setting(30, _int_range(1, 2880, "minutes"))
    max_concurrent_runs: int = _setting(1, _check_max_concurrent_runs)


@dataclass(frozen=True)
class ScheduleConfig:
    expression: str = _setting("rate(2 minutes)", _check_schedule)
    timezone: str = _setting("UTC", _check_timezone)
    flexible_window_minutes: int = _setting(0, _int_range(0, 1440, "minutes (0 = OFF)"))
    enabled: bool = _setting(True)
    retry_attempts: int = _setting(2, _int_range(0, 185))
    max_event_age_seconds: int = _setting(300, _int_range(60, 86400, "seconds"))

    @cached_property
    def parsed(self) -> Schedule:
        """The expression, parsed once (validated when the config was loaded)."""
        return parse_schedule(self.expression)


@dataclass(frozen=True)
class DashboardConfig:
    name: str = _setting(
        "DataOpsPipelineDashboard", _pattern(r"[A-Za-z0-9_-]{1,255}", "1-255 letters, digits, '-' or '_'")
    )


@dataclass(frozen=True)
class AlarmConfig:
    enabled: bool = _setting(True)
    email: str = _setting("", _check_email)


@dataclass(frozen=True)
class PipelineConfig:
    zero_as_missing: tuple[str, ...] = _setting(contract.DEFAULT_ZERO_AS_MISSING, _check_column_list)
    impute_strategy: str = _setting(contract.DEFAULT_IMPUTE_STRATEGY, _one_of(*IMPUTE_STRATEGIES))
    normalize_method: str = _setting(contract.DEFAULT_NORMALIZE_METHOD, _one_of(*NORMALIZE_METHODS))
    normalize_exclude: tuple[str, ...] = _setting(contract.DEFAULT_NORMALIZE_EXCLUDE, _check_column_list)
    max_columns: int = _setting(contract.DEFAULT_MAX_COLUMNS, _int_range(1, contract.MAX_COLUMNS_LIMIT, "columns"))
    escape_formulas: bool = _setting(contract.DEFAULT_ESCAPE_FORMULAS)
    skip_unchanged: bool = _setting(contract.DEFAULT_SKIP_UNCHANGED)


def _float_range(low: float, high: float | None = None, *, above: bool = False) -> Check:
    def check(v: float) -> str | None:
        ok = math.isfinite(v) and (v > low if above else v >= low) and (high is None or v <= high)
        if ok:
            return None
        bound = f"above {low:g}" if above else f"from {low:g}"
        return f"a number {bound}" + (f" to {high:g}" if high is not None else "")

    return check


@dataclass(frozen=True)
class QualityConfig:
    history_runs: int = _setting(20, _int_range(1, 1000, "runs"))
    on_failure: str = _setting("warn", _one_of("warn", "block"))
    row_count_min_factor: float = _setting(0.5, _float_range(0.0, 1.0))
    row_count_max_factor: float = _setting(2.0, _float_range(1.0))
    missing_rate_margin: float = _setting(0.10, _float_range(0.0, 1.0))
    max_missing_rate: float = _setting(0.95, _float_range(0.0, 1.0))
    max_mean_shift: float = _setting(0.5, _float_range(0.0, above=True))
    max_correlation_change: float = _setting(0.3, _float_range(0.0, 2.0, above=True))
