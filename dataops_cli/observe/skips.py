"""Skipped runs (pipeline.skip_unchanged): the only record of a run that found nothing to do.

A run on an unchanged input writes nothing to S3 (two GETs, no PUT), so the bucket does not
show it: its ⏭️ log line is the record, naming the published run it confirmed current. That
matters to `status` (the outputs are as fresh as the last confirmation, not the last write)
and to `runs` (the bucket lists only runs that processed).

Reading them is one FilterLogEvents with the quoted term "Run skipped": CloudWatch Logs
matches a quoted term as an exact phrase ("Filter pattern syntax for metric filters,
subscription filters, filter log events, and Live Tail",
https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/FilterAndPatternSyntax.html).
moto ignores that pattern and answers every event, so the lines are checked here too.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from dataops_cli.observe import metrics, runlog_reader
from dataops_cli.timewindow import iso_epoch_ms
from handler import contract as c

SKIP_PATTERN = f'"{c.SKIP_PHRASE}"'
MAX_PAGES = 5  # a page holds up to 10,000 events: far more skipped runs than any window lists


@dataclass(frozen=True)
class SkippedRun:
    """One run that skipped an unchanged input: when it started, and the published run it confirmed."""

    run_id: str
    started_ms: int
    confirms: str | None

    @property
    def started_at(self) -> str:
        return datetime.fromtimestamp(self.started_ms / 1000, UTC).isoformat(timespec="seconds")


def metric_query(function: str) -> metrics.Query:
    """status's count of skipped runs in its window: the handler's RunsSkipped (1 per skip, else 0), summed."""
    return metrics.Query(
        "runs_skipped", c.METRICS_NAMESPACE, c.M_RUNS_SKIPPED, ((c.METRIC_DIMENSION, function),), "Sum"
    )


def from_runs(runs: Iterable[runlog_reader.Run]) -> list[SkippedRun]:
    """The skipped runs among runs read from a log feed, oldest first."""
    return [
        SkippedRun(run.run_id, run.started, run.confirms)
        for run in runs
        if run.outcome == runlog_reader.SKIPPED and run.run_id and run.started is not None
    ]


def from_events(events: Iterable[dict[str, Any]]) -> list[SkippedRun]:
    return from_runs(runlog_reader.runs_from_events(events))


def read(logs: Any, group: str, start_ms: int, end_ms: int | None = None) -> list[SkippedRun]:
    """The skipped runs of one log group in [start_ms, end_ms), oldest first (bounded pages)."""
    return from_events(
        runlog_reader.filter_events(logs, group, start_ms, end_ms, pattern=SKIP_PATTERN, max_pages=MAX_PAGES)
    )


def confirmation(latest: dict[str, Any] | None, skipped: Iterable[SkippedRun]) -> SkippedRun | None:
    """The newest skipped run that confirmed the run latest.json publishes, after that run finished.

    Only a skip naming latest.json's own run counts: a skip confirms what it compared its
    input with, so one that confirmed an earlier run says nothing of today's outputs."""
    if not latest or not latest.get(c.L_RUN_ID):
        return None
    finished = iso_epoch_ms(latest.get(c.L_FINISHED_AT))
    matching = [
        s for s in skipped if s.confirms == latest[c.L_RUN_ID] and (finished is None or s.started_ms >= finished)
    ]
    return max(matching, key=lambda s: s.started_ms, default=None)
