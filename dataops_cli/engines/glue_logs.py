"""`dataops logs` with function.engine = "glue": the job's runs' streams in Glue's shared log groups.

Glue (5.0, the versions config allows) writes a run's driver and executor output to two log
groups that every Glue job of the account and region shares: user stdout/stderr (our JSON
lines) to /aws-glue/jobs/output, Glue's system and Spark logs to /aws-glue/jobs/error, each
run's streams named starting with its run id (one for the driver, one per executor). Source:
"Logging for AWS Glue jobs", https://docs.aws.amazon.com/glue/latest/dg/monitor-continuous-logging.html
and "Viewing logs for AWS Glue jobs" (monitor-continuous-logging-view.html: filter the
group by the job run id). /aws-glue/jobs/logs-v2 is the continuous-logging group of Glue
4.0 and earlier (--enable-continuous-cloudwatch-log), which this job neither runs on nor sets.
We set no --custom-logGroup-prefix and no security configuration, so the groups are these.

So the events read are only those of streams named after this job's runs (GetJobRuns gives
the run ids): one FilterLogEvents per group and run, with logStreamNamePrefix = run id, for
the runs that were going during the window (a run that ended before it wrote nothing in it),
the newest MAX_RUNS of them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from dataops_cli.aws import error_code
from dataops_cli.observe import runlog_reader

GLUE_LOG_GROUPS = ("/aws-glue/jobs/output", "/aws-glue/jobs/error")
# One FilterLogEvents per group and run: a day at rate(2 minutes) is 720 runs, so only the
# newest MAX_RUNS are read (the caller says how many were left out: narrow --since).
MAX_RUNS = 50
SKIP_RUNS = 20  # runs read for skip lines (`runs`, status's freshness): the newest, one read each
RUNS_MAX_PAGES = 5  # GetJobRuns pages of 200, newest first
LATE_MS = 60_000  # a run's last lines may be ingested a little after CompletedOn


def run_ids(glue: Any, job: str, since_ms: int, now: datetime | None = None) -> list[str]:
    """The job's runs that were going at some time since `since_ms`, newest first.

    A run still going has no CompletedOn. AWS answers newest first (moto 5.2 oldest first, so
    each page is sorted by StartedOn here) and, with at most one run at a time, runs end in
    that order too: paging stops at the first that ended before the window.
    """
    found: list[str] = []
    token: str | None = None
    for _ in range(RUNS_MAX_PAGES):
        page = glue.get_job_runs(JobName=job, MaxResults=200, **({"NextToken": token} if token else {}))
        for run in sorted(page.get("JobRuns", []), key=lambda r: _ms(r["StartedOn"]), reverse=True):
            ended = run.get("CompletedOn")
            if ended is not None and _ms(ended) + LATE_MS < since_ms:
                return found
            found.append(run["Id"])
        token = page.get("NextToken")
        if not token:
            break
    return found


def existing_groups(logs: Any) -> list[str]:
    """Which of Glue's groups exist (Glue creates them at the account's first run)."""
    return [group for group in GLUE_LOG_GROUPS if runlog_reader.log_group_exists(logs, group)]


def events(
    logs: Any,
    runs: list[str],
    from_ms: int,
    groups: tuple[str, ...] = GLUE_LOG_GROUPS,
    max_pages: int | None = None,
    on_truncated: Callable[[], None] | None = None,
    pattern: str | None = None,
) -> Iterator[dict[str, Any]]:
    """Every event of these runs' streams since `from_ms`, each marked with its group (`logGroupName`).

    A group that does not exist (yet) is skipped. moto 5.2 ignores logStreamNamePrefix and
    answers with every stream of the group, so each event's stream is checked against the
    run ids here too (on AWS that check never drops anything).
    """
    for group in groups:
        for run in runs:
            try:
                for event in runlog_reader.filter_events(
                    logs,
                    group,
                    from_ms,
                    pattern=pattern,
                    max_pages=max_pages,
                    on_truncated=on_truncated,
                    stream_prefix=run,
                ):
                    if str(event.get("logStreamName", run)).startswith(run):
                        yield {**event, "logGroupName": group}
            except ClientError as exc:
                if error_code(exc) != "ResourceNotFoundException":
                    raise
                break  # the group is gone: no run has streams in it


def _ms(moment: datetime) -> int:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)
