"""`dataops invoke` with function.engine = "glue": StartJobRun, then GetJobRun until the run ends (bounded).

A Glue run takes minutes (workers start in ~10-60 s, then Spark runs), so the wait polls
every POLL_SECONDS and gives up after the job's own timeout plus STARTUP_SECONDS: the run
goes on in Glue, and the outcome says it was not seen to finish.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

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

    @property
    def failed(self) -> bool:
        return self.state != "SUCCEEDED"

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
) -> GlueRunOutcome:
    """Start one run (the trigger travels as --TRIGGER into run.json) and poll it until it ends or the wait runs out."""
    run_id = glue.start_job_run(JobName=job, Arguments={"--TRIGGER": trigger})["JobRunId"]
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
            return GlueRunOutcome(
                job, run_id, state, run.get("ExecutionTime"), run.get("ErrorMessage") or None, finished
            )
        sleep(min(poll_seconds, max(deadline - clock(), 0)))
