"""The CloudWatch dashboard body, built by a pure function so tests can read its JSON.

Dashboards take no tags, so the first widget carries the stack marker that `down` checks
before deleting a same-named dashboard.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from dataops_cli.engines.base import traits
from dataops_cli.engines.glue_logs import GLUE_LOG_GROUPS
from handler import contract as c

PERIOD = 120
SKIPPED_LABEL = "skipped (input unchanged)"
SKIPPED_COLOR = "#7f7f7f"
SKIPPED_FIELD = "skipped_runs"
DAY = 86400
MARKER_PREFIX = "dataops stack:"
Widget = dict[str, Any]
_ACTIVITY_LABELS = {
    c.EVENT_START: "start",
    c.EVENT_SHAPE: "shape",
    c.EVENT_MISSING: "missing values",
    c.EVENT_QUALITY: "quality",
    c.EVENT_SAVED: "files saved",
    c.EVENT_QUARANTINED: "quarantined",
    c.EVENT_SKIPPED: "skipped (input unchanged)",
}
ACTIVITY_LEGEND = " · ".join(f"{c.MARKERS[e]} {_ACTIVITY_LABELS[e]}" for e in c.ACTIVITY_EVENTS)
# Logs Insights queries over the handler's JSON lines: every field and event name is the contract's.
ACTIVITY_QUERY = (
    f"fields @timestamp, {c.F_RUN_ID}, {c.F_MESSAGE}, {c.F_START_TIME}, {c.F_ROWS}, {c.F_COLUMNS}, "
    f"{c.F_MISSING_TOTAL}, {c.F_FILES}.0 as cleaned_csv\n"
    f"| filter {c.F_EVENT} in [{', '.join(repr(e) for e in c.ACTIVITY_EVENTS)}]\n"
    "| sort @timestamp desc\n| limit 40"
)
ERRORS_QUERY = (
    f"fields @timestamp, {c.F_RUN_ID}, {c.F_ERROR}.{c.ERROR_CODE}, {c.F_MESSAGE}\n"
    f"| filter {c.F_LEVEL} = '{c.LEVEL_ERROR}' or @message like /Task timed out|\\[ERROR\\]|Runtime\\./\n"
    "| sort @timestamp desc\n| limit 20"
)


# engine glue: the groups Glue writes every job's output to (dataops_cli/glue_logs.py cites the
# docs). The Spark job's lines carry the Glue job's name (Glue's --JOB_NAME) as `function`.
GLUE_ERRORS_QUERY = (
    f"fields @timestamp, {c.F_RUN_ID}, {c.F_ERROR}.{c.ERROR_CODE}, {c.F_MESSAGE}, @logStream\n"
    f"| filter {c.F_LEVEL} = '{c.LEVEL_ERROR}'\n"
    "| sort @timestamp desc\n| limit 20"
)


@dataclass(frozen=True)
class DashboardInputs:
    stack: str
    region: str
    function: str
    log_group: str
    schedule_group: str
    bucket: str
    metrics_namespace: str = c.METRICS_NAMESPACE
    engine: str = "lambda"
    glue_job: str = ""
    glue_failed_rule: str = ""
    glue_succeeded_rule: str = ""


def marker_text(stack: str) -> str:
    return f"{MARKER_PREFIX} {stack}"


def build_dashboard(d: DashboardInputs) -> dict[str, Any]:
    widgets = lambda_widgets(d) if traits(d.engine).runs_function else glue_widgets(d)
    return {"start": "-PT3H", "periodOverride": "inherit", "widgets": list(_layout(widgets))}


def lambda_widgets(d: DashboardInputs) -> list[Widget]:
    fn = ["FunctionName", d.function]
    per_function = [c.METRIC_DIMENSION, d.function]  # the dimension of the handler's EMF metrics
    lam = "AWS/Lambda"
    widgets: list[Widget] = [
        _text(
            f"# {d.function} pipeline\n{marker_text(d.stack)} · runs on schedule group `{d.schedule_group}` · "
            f"data in `s3://{d.bucket}` · managed by `dataops up` (edits here are overwritten)"
        ),
        *_lambda_tiles(d),
        _metric("Lambda invocations", [[lam, "Invocations", *fn, {"stat": "Sum"}], _skipped_line(d)], d.region),
        _metric("Lambda errors", [[lam, "Errors", *fn, {"stat": "Sum", "color": "#d62728"}]], d.region),
        _metric(
            "Lambda duration (ms)",
            [
                [lam, "Duration", *fn, {"stat": "Average", "label": "avg"}],
                [lam, "Duration", *fn, {"stat": "p99", "label": "p99"}],
            ],
            d.region,
        ),
        _scheduler(d),
        _metric(
            "Pipeline: rows processed and values imputed",
            [
                [d.metrics_namespace, c.M_ROWS_PROCESSED, c.METRIC_DIMENSION, d.function, {"stat": "Sum"}],
                [d.metrics_namespace, c.M_MISSING_IMPUTED, c.METRIC_DIMENSION, d.function, {"stat": "Sum"}],
            ],
            d.region,
            width=12,
        ),
        _metric(
            "Data quality: checks that warned / failed per run (left), rows per run (right)",
            [
                [d.metrics_namespace, c.M_QUALITY_WARNINGS, *per_function, {"stat": "Sum", "color": "#ff7f0e"}],
                [d.metrics_namespace, c.M_QUALITY_FAILURES, *per_function, {"stat": "Sum", "color": "#d62728"}],
                [d.metrics_namespace, c.M_ROWS_PROCESSED, *per_function, {"stat": "Sum", "yAxis": "right"}],
            ],
            d.region,
            width=24,
        ),
        _log_table(f"Activity: recent runs ({ACTIVITY_LEGEND})", (d.log_group,), ACTIVITY_QUERY, d.region),
        _log_table(f"Errors ({c.MARKERS[c.EVENT_ERROR]})", (d.log_group,), ERRORS_QUERY, d.region, height=5),
        *_storage(d),
    ]
    return widgets


def _lambda_tiles(d: DashboardInputs) -> list[Widget]:
    """The KPI tiles across the top: one number each over the dashboard's time range."""
    fn = ["FunctionName", d.function]
    lam = "AWS/Lambda"
    kpis = [
        ("Invocations", [[lam, "Invocations", *fn, {"stat": "Sum"}], _skipped_line(d)]),
        ("Errors", [[lam, "Errors", *fn, {"stat": "Sum"}]]),
        ("Throttles", [[lam, "Throttles", *fn, {"stat": "Sum"}]]),
        (
            "Duration (avg / p99)",
            [
                [lam, "Duration", *fn, {"stat": "Average", "label": "avg"}],
                [lam, "Duration", *fn, {"stat": "p99", "label": "p99"}],
            ],
        ),
        ("Async event age (max)", [[lam, "AsyncEventAge", *fn, {"stat": "Maximum"}]]),
    ]
    return [
        _metric(title, metrics, d.region, view="singleValue", width=width)
        for (title, metrics), width in zip(kpis, (4, 4, 4, 8, 4), strict=True)
    ]


def _skipped_line(d: DashboardInputs) -> list[Any]:
    """RunsSkipped (the handler's EMF: 1 for a run that skipped an unchanged input, else 0), summed."""
    options = {"stat": "Sum", "label": SKIPPED_LABEL, "color": SKIPPED_COLOR}
    return [d.metrics_namespace, c.M_RUNS_SKIPPED, c.METRIC_DIMENSION, d.function, options]


def glue_widgets(d: DashboardInputs) -> list[Widget]:
    """engine glue: runs counted by the job's EventBridge rules (AWS/Events MatchedEvents, free), the
    schedule, the Logs Insights tables over Glue's shared groups, and storage.

    Not shown: Lambda's metrics (no function), the handler's EMF metrics (CloudWatch Logs extracts
    EMF from Lambda's logs, not from Glue's: the Spark job's metric lines stay plain log lines),
    and Glue's own job/observability metrics (not enabled: see resources/glue_events.py). The
    skipped runs are the Spark job's RunsSkipped, read from its EMF lines by Logs Insights.
    """
    events = "AWS/Events"
    ok = [events, "MatchedEvents", "RuleName", d.glue_succeeded_rule, {"stat": "Sum", "label": "succeeded"}]
    bad = [
        events,
        "MatchedEvents",
        "RuleName",
        d.glue_failed_rule,
        {"stat": "Sum", "label": "failed / timed out", "color": "#d62728"},
    ]
    scheduler = ["AWS/Scheduler", "InvocationAttemptCount", "ScheduleGroup", d.schedule_group, {"stat": "Sum"}]
    target_errors = ["AWS/Scheduler", "TargetErrorCount", "ScheduleGroup", d.schedule_group, {"stat": "Sum"}]
    kpis = [
        ("Glue runs succeeded", [ok]),
        ("Glue runs failed / timed out", [bad]),
        ("Scheduler attempts", [scheduler]),
        ("Scheduler target errors", [target_errors]),
    ]
    groups = GLUE_LOG_GROUPS
    return [
        _text(
            f"# {d.glue_job} pipeline (AWS Glue)\n{marker_text(d.stack)} · runs on schedule group "
            f"`{d.schedule_group}` · data in `s3://{d.bucket}` · managed by `dataops up` (edits here are overwritten)"
        ),
        *(_metric(title, metrics, d.region, view="singleValue", width=6) for title, metrics in kpis),
        _metric("Glue job runs by outcome (EventBridge rule matches)", [ok, bad], d.region, width=12),
        _scheduler(d),
        _log_series(
            f"Glue runs skipped (input unchanged) per {PERIOD // 60} minutes · RunsSkipped in the Spark job's lines",
            groups,
            glue_skipped_query(d.glue_job),
            d.region,
        ),
        _log_table(
            f"Activity: recent runs ({ACTIVITY_LEGEND}) · Glue's shared groups, lines of the Spark job",
            groups,
            glue_query(ACTIVITY_QUERY, d.glue_job),
            d.region,
        ),
        _log_table(
            f"Errors ({c.MARKERS[c.EVENT_ERROR]}) · the Spark job's error lines",
            groups,
            glue_query(GLUE_ERRORS_QUERY, d.glue_job),
            d.region,
            height=5,
        ),
        *_storage(d),
    ]


def glue_skipped_query(job: str) -> str:
    """The Spark job's RunsSkipped (its EMF line: 1 for a skipped run, 0 for one that processed), per
    period: Glue's lines are not extracted as metrics, so Logs Insights sums them
    (https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/CWL_QuerySyntax-Stats.html)."""
    return (
        f"filter {c.METRIC_DIMENSION} = '{job}' and ispresent({c.M_RUNS_SKIPPED})\n"
        f"| stats sum({c.M_RUNS_SKIPPED}) as {SKIPPED_FIELD}, count(*) as runs by bin({PERIOD // 60}m)"
    )


def glue_query(query: str, job: str) -> str:
    """Only this job's JSON lines: Glue's groups hold every Glue job's output in the account."""
    return f"filter {c.F_FUNCTION} = '{job}'\n| {query}"


def _scheduler(d: DashboardInputs) -> Widget:
    return _metric(
        "Scheduler: invocation attempts and target errors",
        [
            ["AWS/Scheduler", "InvocationAttemptCount", "ScheduleGroup", d.schedule_group, {"stat": "Sum"}],
            [
                "AWS/Scheduler",
                "TargetErrorCount",
                "ScheduleGroup",
                d.schedule_group,
                {"stat": "Sum", "color": "#d62728"},
            ],
        ],
        d.region,
        width=12,
    )


def _storage(d: DashboardInputs) -> list[Widget]:
    return [
        _metric(
            "S3 objects (daily)",
            [
                [
                    "AWS/S3",
                    "NumberOfObjects",
                    "BucketName",
                    d.bucket,
                    "StorageType",
                    "AllStorageTypes",
                    {"stat": "Average"},
                ]
            ],
            d.region,
            period=DAY,
            width=12,
        ),
        _metric(
            "S3 bucket size, bytes (daily)",
            [
                [
                    "AWS/S3",
                    "BucketSizeBytes",
                    "BucketName",
                    d.bucket,
                    "StorageType",
                    "StandardStorage",
                    {"stat": "Average"},
                ]
            ],
            d.region,
            period=DAY,
            width=12,
        ),
    ]


def dashboard_json(d: DashboardInputs) -> str:
    return json.dumps(build_dashboard(d), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def owner_of(body: dict[str, Any]) -> str | None:
    """The stack named by a dashboard's marker widget, or None for a dashboard not made by dataops."""
    for widget in body.get("widgets", []):
        markdown = widget.get("properties", {}).get("markdown", "")
        for token in markdown.split("·"):
            token = token.strip()
            if MARKER_PREFIX in token:
                return token.split(MARKER_PREFIX, 1)[1].strip()
    return None


def console_url(region: str, name: str) -> str:
    return f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}#dashboards/dashboard/{name}"


def _text(markdown: str) -> Widget:
    return {"type": "text", "width": 24, "height": 2, "properties": {"markdown": markdown}}


def _metric(
    title: str,
    metrics: list,
    region: str,
    *,
    view: str = "timeSeries",
    period: int = PERIOD,
    width: int = 8,
    height: int = 6,
) -> Widget:
    properties: dict[str, Any] = {
        "title": title,
        "metrics": metrics,
        "region": region,
        "period": period,
        "view": view,
        "stat": metrics[0][-1].get("stat", "Sum"),
    }
    if view == "singleValue":
        properties["setPeriodToTimeRange"] = True
        height = 3
    else:
        properties["stacked"] = False
    return {"type": "metric", "width": width, "height": height, "properties": properties}


def _log_table(title: str, log_groups: tuple[str, ...], query: str, region: str, height: int = 7) -> Widget:
    sources = " | ".join(f"SOURCE '{group}'" for group in log_groups)
    return {
        "type": "log",
        "width": 24,
        "height": height,
        "properties": {"title": title, "query": f"{sources} | {query}", "region": region, "view": "table"},
    }


def _log_series(title: str, log_groups: tuple[str, ...], query: str, region: str) -> Widget:
    """A Logs Insights query drawn as a time series: its `stats ... by bin()` rows are the points."""
    widget = _log_table(title, log_groups, query, region, height=6)
    widget["properties"]["view"] = "timeSeries"
    widget["properties"]["stacked"] = False
    return widget


def _layout(widgets: list[Widget]) -> Iterator[Widget]:
    """Place widgets left to right, wrapping at 24 columns."""
    x = y = row_height = 0
    for widget in widgets:
        if x + widget["width"] > 24:
            x, y, row_height = 0, y + row_height, 0
        yield {**widget, "x": x, "y": y}
        x += widget["width"]
        row_height = max(row_height, widget["height"])
