"""What a run leaves in CloudWatch, in the shapes AWS uses: log lines and metric datapoints.

The pure part formats START/END/REPORT lines and builds MetricDatum lists (AWS/Lambda,
AWS/Scheduler, and the handler's own Embedded Metric Format documents, which real
CloudWatch turns into metrics without any API call). `Telemetry` writes them to the
emulator's CloudWatch Logs and CloudWatch with plain boto3 calls. Timestamps are real
wall-clock times even when the scheduler runs at a compressed speed.

Lambda writes a function's log with the execution role's permissions: when the role may not
(logs:CreateLogStream and logs:PutLogEvents on the stream; logs:CreateLogGroup if the group
is missing), AWS silently drops the log, and with it the EMF metrics CloudWatch would have
extracted from it. So does the emulator (with `roles`); Lambda's own AWS/Lambda metrics stay.
(https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs.html, "Prerequisites")
"""

from __future__ import annotations

import json
import logging
import math
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from dataops_cli.aws import error_code
from dataops_cli.emulator.roles import LAMBDA_PRINCIPAL, AssumeRoleError, Roles
from dataops_cli.emulator.runner import FunctionSpec, RunResult

log = logging.getLogger("dataops.emulator")
Datum = dict[str, Any]
ClientFor = Callable[[str, str], Any]  # (service, region) -> boto3 client


def new_request_id() -> str:
    return str(uuid.uuid4())


def log_stream_name(when: float, instance: str | None = None) -> str:
    """`2026/11/25/[$LATEST]<32 hex>`, like a Lambda execution environment's stream."""
    day = datetime.fromtimestamp(when, UTC)
    return f"{day:%Y/%m/%d}/[$LATEST]{instance or uuid.uuid4().hex}"


def billed_ms(duration_ms: float) -> int:
    """Lambda bills every started millisecond."""
    return max(1, math.ceil(round(duration_ms, 6)))


def report_line(
    request_id: str,
    duration_ms: float,
    memory_mb: int,
    max_memory_mb: int,
    init_ms: float | None = None,
    timed_out: bool = False,
    error_type: str | None = None,
) -> str:
    parts = [
        f"REPORT RequestId: {request_id}",
        f"Duration: {duration_ms:.2f} ms",
        f"Billed Duration: {billed_ms(duration_ms)} ms",
        f"Memory Size: {memory_mb} MB",
        f"Max Memory Used: {max_memory_mb} MB",
    ]
    if init_ms is not None:
        parts.append(f"Init Duration: {init_ms:.2f} ms")
    if timed_out:
        parts.append("Status: timeout")
    elif error_type:  # how Lambda ends the REPORT of a run its sandbox killed
        parts += ["Status: error", f"Error Type: {error_type}"]
    return "\t".join(parts)


def error_log_line(error: dict[str, Any]) -> str:
    """How the Python runtime logs an unhandled exception: one event, traceback included."""
    text = f"[ERROR] {error.get('errorType', 'Error')}: {error.get('errorMessage', '')}"
    stack = error.get("stackTrace") or []
    if stack:
        text += "\nTraceback (most recent call last):\n" + "".join(stack).rstrip("\n")
    return text


def log_events(run: RunResult, memory_mb: int) -> list[tuple[float, str]]:
    """START, every output line, the error (if any), END, REPORT: in time order."""
    finished = run.started + run.duration_ms / 1000  # when the handler returned, not when the process exited
    events = [(run.started, f"START RequestId: {run.request_id} Version: $LATEST")]
    events.extend((max(t, run.started), line) for t, line in run.lines)
    if run.timed_out:
        stamp = datetime.fromtimestamp(finished, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        events.append((finished, f"{stamp} {run.request_id} Task timed out after {run.duration_ms / 1000:.2f} seconds"))
    elif run.out_of_memory:  # the runtime was killed: no traceback, Lambda's own two lines
        events.append((finished, f"{run.error['errorMessage']}\nRuntime.OutOfMemory"))
    elif run.error is not None:
        events.append((finished, error_log_line(run.error)))
    events.append((finished, f"END RequestId: {run.request_id}"))
    report = report_line(
        run.request_id,
        run.duration_ms,
        memory_mb,
        run.max_memory_mb,
        run.init_ms,
        timed_out=run.timed_out,
        error_type="Runtime.OutOfMemory" if run.out_of_memory else None,
    )
    events.append((finished, report))
    last = 0.0
    ordered = []
    for t, message in events:
        last = max(last, t)
        ordered.append((last, message))
    return ordered


def tail(events: Iterable[tuple[float, str]], limit: int = 4096) -> str:
    """The last 4 KB of the log, what `X-Amz-Log-Result` carries for LogType=Tail."""
    text = "".join(message + "\n" for _, message in events)
    return text.encode("utf-8")[-limit:].decode("utf-8", errors="ignore")


MAX_EVENT_BYTES = 256 * 1024 - 26  # CloudWatch Logs: per event, counting 26 bytes of overhead
MAX_BATCH_EVENTS, MAX_BATCH_BYTES = 10_000, 1_048_576


def log_batches(events: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    """Events cut to CloudWatch's size limit and grouped into PutLogEvents-sized batches."""
    batch: list[dict[str, Any]] = []
    size = 0
    for event in events:
        message = event["message"].encode("utf-8")[:MAX_EVENT_BYTES].decode("utf-8", errors="ignore")
        cost = len(message.encode("utf-8")) + 26
        if batch and (len(batch) == MAX_BATCH_EVENTS or size + cost > MAX_BATCH_BYTES):
            yield batch
            batch, size = [], 0
        batch.append({**event, "message": message})
        size += cost
    if batch:
        yield batch


def _datum(name: str, value: float, unit: str, when: float, dimensions: dict[str, str]) -> Datum:
    return {
        "MetricName": name,
        "Dimensions": [{"Name": k, "Value": v} for k, v in dimensions.items()],
        "Timestamp": datetime.fromtimestamp(when, UTC),
        "Value": float(value),
        "Unit": unit,
    }


def run_metrics(function: str, run: RunResult, concurrency: int, received: float | None = None) -> list[Datum]:
    """AWS/Lambda datapoints for one run; `received` (async only) gives the event's age."""
    dims = {"FunctionName": function}
    data = [
        _datum("Invocations", 1, "Count", run.started, dims),
        _datum("Errors", 1 if run.failed else 0, "Count", run.started, dims),
        _datum("Duration", round(run.duration_ms, 2), "Milliseconds", run.started, dims),
        _datum("ConcurrentExecutions", concurrency, "Count", run.started, dims),
    ]
    if received is not None:
        age_ms = max(0.0, (run.started - received) * 1000)
        data.append(_datum("AsyncEventAge", round(age_ms, 2), "Milliseconds", run.started, dims))
    return data


def async_received_metric(function: str, when: float) -> Datum:
    return _datum("AsyncEventsReceived", 1, "Count", when, {"FunctionName": function})


def async_dropped_metric(function: str, when: float) -> Datum:
    return _datum("AsyncEventsDropped", 1, "Count", when, {"FunctionName": function})


def throttle_metric(function: str, when: float) -> Datum:
    return _datum("Throttles", 1, "Count", when, {"FunctionName": function})


def matched_events_metric(rule: str, when: float) -> Datum:
    """AWS/Events MatchedEvents: one event matched the rule's pattern."""
    return _datum("MatchedEvents", 1, "Count", when, {"RuleName": rule})


def scheduler_metrics(group: str, when: float, target_error: bool) -> list[Datum]:
    dims = {"ScheduleGroup": group}
    data = [_datum("InvocationAttemptCount", 1, "Count", when, dims)]
    if target_error:
        data.append(_datum("TargetErrorCount", 1, "Count", when, dims))
    return data


def emf_metrics(line: str) -> list[tuple[str, Datum]]:
    """(namespace, datum) pairs from one Embedded Metric Format log line; [] for any other line."""
    if not line.startswith("{") or '"_aws"' not in line:
        return []
    try:
        document = json.loads(line)
        meta = document["_aws"]
        directives = meta["CloudWatchMetrics"]
        when = float(meta.get("Timestamp", 0)) / 1000.0
    except (ValueError, KeyError, TypeError):
        return []
    found = []
    for directive in directives:
        namespace = directive.get("Namespace", "aws-embedded-metrics")
        for dimension_set in directive.get("Dimensions") or [[]]:
            if any(name not in document for name in dimension_set):
                continue  # CloudWatch rejects a document whose dimension has no value
            dims = {name: str(document[name]) for name in dimension_set}
            for metric in directive.get("Metrics", []):
                value = document.get(metric.get("Name"))
                if isinstance(value, bool) or not isinstance(value, int | float | list):
                    continue
                datum = _datum(metric["Name"], 0, metric.get("Unit", "None"), when, dims)
                if isinstance(value, list):
                    del datum["Value"]
                    datum["Values"] = [float(v) for v in value]
                else:
                    datum["Value"] = float(value)
                found.append((namespace, datum))
    return found


class Telemetry:
    """Writes runs' logs and metrics into the emulator, as Lambda and Scheduler would."""

    def __init__(
        self, client_for: ClientFor, function_exists: Callable[[FunctionSpec], bool], roles: Roles | None = None
    ) -> None:
        self._client_for = client_for
        self._function_exists = function_exists
        self._roles = roles

    def record_run(
        self, spec: FunctionSpec, run: RunResult, stream: str, concurrency: int, received: float | None
    ) -> list[tuple[float, str]]:
        events = log_events(run, spec.memory_mb)
        metrics = [("AWS/Lambda", d) for d in run_metrics(spec.name, run, concurrency, received)]
        if self._may_log(spec, stream, "logs:CreateLogStream", "logs:PutLogEvents"):
            self._write_log(spec, stream, events)
            for _, line in run.lines:
                metrics.extend(emf_metrics(line))
        self.put_metrics(spec.region, metrics)
        return events

    def _may_log(self, spec: FunctionSpec, stream: str, *actions: str) -> bool:
        """Whether Lambda, acting with the function's role, may do `actions` on the run's log stream."""
        if self._roles is None:
            return True
        group = f"/aws/lambda/{spec.name}"
        base = f"arn:{spec.arn.split(':')[1]}:logs:{spec.region}:{spec.account}:log-group:{group}"
        try:
            self._roles.check_trust(spec.role_arn, LAMBDA_PRINCIPAL, {})
        except AssumeRoleError as exc:
            log.info("the log of %s is dropped: %s", spec.name, exc)
            return False
        for action in actions:
            resource = base if action == "logs:CreateLogGroup" else f"{base}:log-stream:{stream}"
            verdict = self._roles.verdict(spec.role_arn, action, resource)
            if not verdict.allowed:
                log.info("the log of %s is dropped: its role may not %s (%s)", spec.name, action, verdict.reason)
                return False
        return True

    def put_metrics(self, region: str, metrics: Iterable[tuple[str, Datum]]) -> None:
        by_namespace: dict[str, list[Datum]] = defaultdict(list)
        for namespace, datum in metrics:
            by_namespace[namespace].append(datum)
        cloudwatch = self._client_for("cloudwatch", region)
        for namespace, data in by_namespace.items():
            for start in range(0, len(data), 500):
                try:
                    cloudwatch.put_metric_data(Namespace=namespace, MetricData=data[start : start + 500])
                except (ClientError, BotoCoreError) as exc:
                    log.warning("could not put %d %s datapoints: %s", len(data), namespace, exc)

    def _write_log(self, spec: FunctionSpec, stream: str, events: list[tuple[float, str]]) -> None:
        logs = self._client_for("logs", spec.region)
        group = f"/aws/lambda/{spec.name}"
        batch = [{"timestamp": int(t * 1000), "message": m} for t, m in events]
        try:
            self._put_events(logs, group, stream, batch)
        except ClientError as exc:
            if error_code(exc) != "ResourceNotFoundException":
                log.warning("could not write the log of %s: %s", spec.name, exc)
                return
            if not self._function_exists(spec):
                return  # deleted while it ran: do not recreate what `down` just removed
            if not self._may_log(spec, stream, "logs:CreateLogGroup"):
                return
            self._create_group(logs, group)
            try:
                self._put_events(logs, group, stream, batch)
            except (ClientError, BotoCoreError) as retry_exc:
                log.warning("could not write the log of %s: %s", spec.name, retry_exc)
        except BotoCoreError as exc:
            log.warning("could not write the log of %s: %s", spec.name, exc)

    @staticmethod
    def _put_events(logs: Any, group: str, stream: str, events: list[dict[str, Any]]) -> None:
        """PutLogEvents in batches within its limits (10,000 events, 1 MB), creating the stream first."""
        try:
            logs.create_log_stream(logGroupName=group, logStreamName=stream)
        except ClientError as exc:
            if error_code(exc) != "ResourceAlreadyExistsException":
                raise
        for batch in log_batches(events):
            logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=batch)

    @staticmethod
    def _create_group(logs: Any, group: str) -> None:
        """What Lambda does when the function's log group is missing: create it."""
        try:
            logs.create_log_group(logGroupName=group)
        except ClientError as exc:
            if error_code(exc) != "ResourceAlreadyExistsException":
                raise
