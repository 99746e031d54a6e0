"""`dataops invoke` with function.engine = "glue": StartJobRun, then GetJobRun until the run ends (bounded).

A Glue run takes minutes (workers start in ~10-60 s, then Spark runs), so the wait polls
every POLL_SECONDS and gives up after the job's own timeout plus STARTUP_SECONDS: the run
goes on in Glue, and the outcome says it was not seen to finish.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from handler import contract

TERMINAL_STATES = ("SUCCEEDED", "FAILED", "STOPPED", "TIMEOUT", "ERROR", "EXPIRED")
POLL_SECONDS = 10.0
STARTUP_SECONDS = 300  # queueing and worker start-up come before the job's own timeout counts


@dataclass(frozen=True)
class GlueRunOutcome:
    job: str
    run_id: str
    state: str
    execution_seconds: int | None
    error: str | None
    finished: bool  # False: the wait ran out while the run was still going
    started_ms: int | None = None
    confirms: str | None = None  # the run skipped an unchanged input: the published run it confirmed

    @property
    def failed(self) -> bool:
        return self.state != "SUCCEEDED"

    @property
    def error_summary(self) -> str:
        return f"Glue job run {self.state}"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def line(self) -> str:
        took = f" in {self.execution_seconds} s" if self.execution_seconds is not None else ""
        if not self.finished:
            return (
                f"Glue job run {self.run_id} of {self.job}: still {self.state} when the wait ran out "
                "(it goes on in Glue)"
            )
        text = f"Glue job run {self.run_id} of {self.job}: {self.state}{took}"
        if self.confirms:
            text += f": skipped, input unchanged (published run {self.confirms} is current; --force runs it in full)"
        return text + (f": {self.error}" if self.error else "")


def start_and_wait(
    glue: Any,
    job: str,
    *,
    trigger: str,
    wait_seconds: float,
    poll_seconds: float = POLL_SECONDS,
    on_state: Callable[[str], None] = lambda _state: None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    force: bool = False,
) -> GlueRunOutcome:
    """Start one run (the trigger travels as --TRIGGER into run.json) and poll it until it ends or the wait runs out.

    `force` turns pipeline.skip_unchanged off for this run only: a run's Arguments replace the
    job's DefaultArguments key by key (AWS Glue API, StartJobRun, "Arguments").
    """
    arguments = {"--TRIGGER": trigger} | ({f"--{contract.ENV_SKIP_UNCHANGED}": "false"} if force else {})
    run_id = glue.start_job_run(JobName=job, Arguments=arguments)["JobRunId"]
    deadline = clock() + wait_seconds
    seen = ""
    while True:
        run = glue.get_job_run(JobName=job, RunId=run_id, PredecessorsIncluded=False)["JobRun"]
        state = run["JobRunState"]
        if state != seen:
            on_state(state)
            seen = state
        finished = state in TERMINAL_STATES
        if finished or clock() >= deadline:
            started = run.get("StartedOn")
            return GlueRunOutcome(
                job,
                run_id,
                state,
                run.get("ExecutionTime"),
                run.get("ErrorMessage") or None,
                finished,
                int(started.timestamp() * 1000) if isinstance(started, datetime) else None,
            )
        sleep(min(poll_seconds, max(deadline - clock(), 0)))


RUNS_MAX_PAGES = 5  # GetJobRuns returns newest first, up to 200 a page: 1,000 runs is plenty for a status window
FAILED_STATES = ("FAILED", "TIMEOUT", "ERROR", "EXPIRED")


def runs_summary(glue: Any, job: str, start: datetime, recent: int = 5) -> dict[str, Any]:
    """The job's runs started since `start` (GetJobRuns): counts by state, execution times, the latest failures.

    p99 is the nearest-rank percentile of ExecutionTime (seconds) over the finished runs.
    """
    from dataops_cli.observe.metrics import percentile

    runs: list[dict[str, Any]] = []
    token: str | None = None
    for _ in range(RUNS_MAX_PAGES):
        page = glue.get_job_runs(JobName=job, MaxResults=200, **({"NextToken": token} if token else {}))
        fresh = [r for r in page.get("JobRuns", []) if r["StartedOn"] >= start]
        runs += fresh
        token = page.get("NextToken")
        if not token or len(fresh) < len(page.get("JobRuns", [])):  # newest first: older pages are out of the window
            break
    # AWS lists runs newest first; moto oldest first: sort, so "latest" means the latest everywhere.
    runs.sort(key=lambda r: r["StartedOn"], reverse=True)
    states: dict[str, int] = {}
    for run in runs:
        states[run["JobRunState"]] = states.get(run["JobRunState"], 0) + 1
    seconds = [float(r["ExecutionTime"]) for r in runs if r["JobRunState"] in TERMINAL_STATES and "ExecutionTime" in r]
    failed = [r for r in runs if r["JobRunState"] in FAILED_STATES]
    return {
        "source": "Glue GetJobRuns",
        "runs": len(runs),
        "states": states,
        "execution_seconds_avg": sum(seconds) / len(seconds) if seconds else None,
        "execution_seconds_p99": percentile(seconds, 99),
        "execution_seconds_max": max(seconds) if seconds else None,
        "latest_state": runs[0]["JobRunState"] if runs else None,
        "failures": [
            {
                "run_id": r["Id"],
                "state": r["JobRunState"],
                "started": r["StartedOn"].isoformat(timespec="seconds"),
                "error": r.get("ErrorMessage", ""),
            }
            for r in failed[:recent]
        ],
    }
