"""The status report as plain data (what `status --json` prints), and what every status source shares.

`read_source` is the rule that each source fails on its own: a failed read records
"<code>: <message>" under the source's name and the rest is reported as usual.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from botocore.exceptions import BotoCoreError, ClientError

import dataops_cli.cli.exits as exits
from dataops_cli.aws import DataopsError, error_code, error_message
from dataops_cli.counts import counted
from dataops_cli.deploy.resources.base import Action, StackContext
from dataops_cli.deploy.stack import command

EXIT_HEALTHY = exits.OK
EXIT_FAILING = exits.FAILING
EXIT_NOT_DEPLOYED = exits.NOT_DEPLOYED
EXIT_INCOMPLETE = exits.INCOMPLETE
RECENT_RUNS = 10
FEED_MAX_PAGES = 3
REPORT_MAX_PAGES = 5  # REPORT lines for p99 when percentiles are unavailable: bounded like the feed
# Errors that say "you may not" rather than "this backend cannot": never retried without percentiles.
AUTH_CODES = frozenset(
    {"AccessDenied", "AccessDeniedException", "ExpiredToken", "InvalidClientTokenId", "UnrecognizedClientException"}
)
T = TypeVar("T")
P99_WARN_FRACTION = 0.8
STATE = {
    Action.UNCHANGED: "ok",
    Action.CREATE: "missing",
    Action.UPDATE: "drifted",
    Action.REFUSED: "not ours",
    Action.SKIPPED: "skipped",
    Action.DELETE: "to remove",
    Action.FAILED: "error",
}


@dataclass
class Kpi:
    value: float | None
    unit: str
    source: str
    level: str = "ok"  # ok / warn / fail


@dataclass
class ResourceRow:
    kind: str
    name: str
    state: str
    details: list[str]
    fix: str | None


@dataclass
class Health:
    level: str  # healthy / warning / failing / not_deployed
    reasons: list[str]
    exit_code: int


@dataclass
class StatusReport:
    stack: str
    target: str
    generated_at: str
    window: dict[str, Any]
    health: Health
    resources: list[ResourceRow]
    kpis: dict[str, Kpi] = field(default_factory=dict)
    series: dict[str, list[float]] = field(default_factory=dict)
    storage: dict[str, Any] = field(default_factory=dict)
    runs: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    latest: dict[str, Any] | None = None
    quality: dict[str, Any] | None = None
    cost: dict[str, Any] = field(default_factory=dict)  # month-to-date estimate (dataops_cli.cost.model)
    unavailable: dict[str, str] = field(default_factory=dict)  # source -> "<code>: <message>"
    api_calls: int = 0
    config_file: str = ""  # "" = built-in defaults
    stack_created: str | None = None  # errors before this (an earlier stack's) are not counted
    notes: list[str] = field(default_factory=list)
    glue_runs: dict[str, Any] = field(default_factory=dict)  # engine glue: dataops_cli.engines.glue_run.runs_summary
    local: bool = False  # against the local emulator: hints say `dataops --local ...`

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, default=str, ensure_ascii=False)


@dataclass(frozen=True)
class StatusOptions:
    since_seconds: int = 3 * 3600
    period: int = 120
    time_scale: float = 1.0  # local emulator with --speed N: schedules fire N times as often
    metric_lag_seconds: int = 180  # CloudWatch publishes Lambda metrics a minute or more late
    recent_runs: int = RECENT_RUNS


def unavailable_reason(exc: BaseException) -> str:
    """`<code>: <message>` for the `unavailable` map."""
    if isinstance(exc, ClientError):
        return f"{error_code(exc)}: {error_message(exc)}"
    if isinstance(exc, DataopsError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def read_source(report: StatusReport, source: str, read: Callable[[], T], default: T) -> T:
    """One source: its value, or `default` with the reason recorded under `source`."""
    try:
        return read()
    except (ClientError, BotoCoreError, DataopsError) as exc:
        report.unavailable[source] = unavailable_reason(exc)
        return default


def suggest(ctx: StackContext, words: str) -> str:
    """A command to suggest, aimed at the same target as this one (the emulator or AWS)."""
    return command(ctx, words)


def last(items: list[Any], count: int) -> list[Any]:
    return items[-count:] if count > 0 else []


def count(n: int, noun: str) -> str:
    return counted(n, noun)


def fmt(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:g}" if value == int(value) else f"{value:.3g}"


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)
