"""Glue's "Glue Job State Change" events, as EventBridge sees them, for each local run that ends.

On AWS, Glue sends an event to the account's default bus when a run SUCCEEDED, FAILED,
TIMEOUT or STOPPED, and EventBridge counts every enabled rule whose pattern matches it as
AWS/Events MatchedEvents (dimension RuleName): what the dashboard and the errors alarm read
with engine glue. Here the same event (its documented shape) is matched against the default
bus's rules (ListRules, then moto's own pattern matcher) and each match puts that datapoint.
The gap bridged: moto neither emits Glue's events nor counts MatchedEvents. Not emulated:
delivery to the rules' targets (dataops's rules have none) and the other AWS/Events metrics.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from dataops_cli.emulator.glue_service import JobRun
from dataops_cli.emulator.telemetry import Telemetry, matched_events_metric

log = logging.getLogger("dataops.emulator")
EVENT_STATES = ("SUCCEEDED", "FAILED", "TIMEOUT", "STOPPED")
DETAIL_TYPE = "Glue Job State Change"
Matcher = Callable[[str, dict[str, Any]], bool]
ClientFor = Callable[[str, str], Any]


def state_change_event(run: JobRun, when: float) -> dict[str, Any]:
    """The event Glue sends for a run that ended (see AWS Glue's "Automating with EventBridge")."""
    ok = run.state == "SUCCEEDED"
    message = "Job run succeeded" if ok else (run.error or f"Job run {run.state.lower()}")
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": DETAIL_TYPE,
        "source": "aws.glue",
        "account": run.job.account,
        "time": datetime.fromtimestamp(when, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": run.job.region,
        "resources": [],
        "detail": {
            "jobName": run.job.name,
            "severity": "INFO" if ok else "ERROR",
            "state": run.state,
            "jobRunId": run.id,
            "message": message,
        },
    }


class GlueStateEvents:
    """Called by the GlueService when a run ends: counts the default bus's rules that match its event."""

    def __init__(self, client_for: ClientFor, telemetry: Telemetry, matches: Matcher) -> None:
        self._client_for, self._telemetry, self._matches = client_for, telemetry, matches

    def __call__(self, run: JobRun) -> None:
        if run.state not in EVENT_STATES:
            return
        when = run.completed or run.modified
        event = state_change_event(run, when)
        try:
            rules = self._rules(run.job.region)
        except (ClientError, BotoCoreError) as exc:
            log.warning("could not read the EventBridge rules for run %s's state change: %s", run.id, exc)
            return
        matched = [
            rule["Name"]
            for rule in rules
            if rule.get("State") == "ENABLED"
            and rule.get("EventPattern")
            and self._matches(rule["EventPattern"], event)
        ]
        if matched:
            self._telemetry.put_metrics(
                run.job.region, [("AWS/Events", matched_events_metric(r, when)) for r in matched]
            )
            log.info("Glue job run %s %s matched EventBridge rule(s) %s", run.id, run.state, ", ".join(matched))

    def _rules(self, region: str) -> list[dict[str, Any]]:
        events = self._client_for("events", region)
        found: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            page = events.list_rules(EventBusName="default", **({"NextToken": token} if token else {}))
            found += page.get("Rules", [])
            token = page.get("NextToken")
            if not token:
                return found
