"""The emulator's Glue job runs: StartJobRun runs the job's script for real; GetJobRun(s) report it.

moto stores Glue jobs but its job runs are canned (every run SUCCEEDED after 123 s, nothing
runs). Here StartJobRun checks the job exists (EntityNotFoundException) and has a free slot
under its MaxConcurrentRuns (ConcurrentRunsExceededException, as AWS answers), records a
run (`jr_` + 64 hex, STARTING) and runs it on a thread with glue_runner.run_glue_job; the
run moves to RUNNING, then SUCCEEDED, FAILED (ErrorMessage) or TIMEOUT, with StartedOn,
CompletedOn and ExecutionTime (whole seconds). GetJobRun and GetJobRuns (newest first,
paginated) answer from these records, so `dataops status` reads real runs. Runs belong to
one job: deleting the job (or creating another of the same name) leaves its runs unreachable,
as on AWS. What a run wrote goes to CloudWatch Logs where Glue 5.x writes it: the script's
stdout and stderr to /aws-glue/jobs/output, Spark's own log lines to /aws-glue/jobs/error,
in the stream `<run id>-driver` (a local run has one process: the driver; no executor streams).
Each run first assumes the job's Role as glue.amazonaws.com (its trust policy must allow that;
else the run FAILS naming why); the script is read and run with that role's session, and its
logs are written only if the role may write them (Glue's logs need the role's logs permissions).
Not emulated: worker types and DPU sizing (one local Spark, `local[*]`), retries (MaxRetries),
BatchStopJobRun, job bookmarks, Glue's job metrics, and runs are kept in memory only.
When a run ends, `on_finished` gets it: the emulator counts Glue's state change event there.
"""

from __future__ import annotations

import functools
import logging
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from dataops_cli.aws import error_code
from dataops_cli.emulator.glue_runner import GlueRunResult, JobSpec, merged_arguments, run_glue_job, split_logs
from dataops_cli.emulator.roles import GLUE_PRINCIPAL, AssumeRoleError, Roles
from dataops_cli.emulator.runner import RunningProcesses
from dataops_cli.emulator.sigv4 import Secret
from dataops_cli.emulator.telemetry import log_batches

log = logging.getLogger("dataops.emulator")
OUTPUT_LOG_GROUP = "/aws-glue/jobs/output"
ERROR_LOG_GROUP = "/aws-glue/jobs/error"
RUNNING_STATES = ("STARTING", "RUNNING", "STOPPING", "WAITING")
DPU_PER_WORKER = {"G.025X": 0.25, "G.1X": 1, "G.2X": 2, "G.4X": 4, "G.8X": 8, "Z.2X": 2}
MAX_RESULTS = 200  # GetJobRuns' limit per page
JobLookup = Callable[[str, str, str], JobSpec | None]  # (account, region, job name)
GlueRunner = Callable[..., GlueRunResult]  # (job, run id, arguments[, credentials=role session])
ClientFor = Callable[[str, str], Any]
SessionClients = Callable[[Secret], ClientFor]  # clients signed with a role session's credentials


class GlueApiError(Exception):
    """An error Glue's API answers with (HTTP 400): its code and message."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


def driver_stream(run_id: str) -> str:
    """The driver's log stream in Glue 5.x: `<job run id>-driver`."""
    return f"{run_id}-driver"


@dataclass
class JobRun:
    """One run, in GetJobRun's terms."""

    id: str
    job: JobSpec
    arguments: dict[str, str]  # what StartJobRun was given; the run uses them over the job's defaults
    started: float
    timeout_minutes: int
    worker_type: str
    number_of_workers: int
    state: str = "STARTING"
    modified: float = 0.0
    completed: float | None = None
    execution_seconds: int = 0
    error: str | None = None
    done: threading.Event = field(default_factory=threading.Event, repr=False)

    def as_api(self) -> dict[str, Any]:
        found: dict[str, Any] = {
            "Id": self.id,
            "Attempt": 0,
            "JobName": self.job.name,
            "JobMode": "SCRIPT",
            "StartedOn": self.started,
            "LastModifiedOn": self.modified or self.started,
            "JobRunState": self.state,
            "Arguments": dict(self.arguments),
            "PredecessorRuns": [],
            "ExecutionTime": self.execution_seconds,
            "Timeout": self.timeout_minutes,
            "MaxCapacity": self.number_of_workers * DPU_PER_WORKER.get(self.worker_type, 1),
            "WorkerType": self.worker_type,
            "NumberOfWorkers": self.number_of_workers,
            "LogGroupName": "/aws-glue/jobs",
            "GlueVersion": self.job.glue_version,
            "ExecutionClass": "STANDARD",
        }
        if self.completed is not None:
            found["CompletedOn"] = self.completed
        if self.error:
            found["ErrorMessage"] = self.error
        return found


def _job_key(job: JobSpec) -> tuple[str, str, str, float]:
    return (job.account, job.region, job.name, job.created)


class GlueService:
    """Starts, runs and reports Glue job runs; writes their logs into the emulator's CloudWatch Logs."""

    def __init__(
        self,
        endpoint: str,
        work_root: Path,
        client_for: ClientFor,
        lookup: JobLookup,
        runner: GlueRunner | None = None,
        clock: Callable[[], float] = time.time,
        on_finished: Callable[[JobRun], None] = lambda _run: None,
        roles: Roles | None = None,
        session_clients: SessionClients | None = None,
    ) -> None:
        self.client_for, self.lookup, self.clock, self.on_finished = client_for, lookup, clock, on_finished
        self.roles = roles
        self.running = RunningProcesses()
        self.runner: GlueRunner = runner or functools.partial(
            _run_with,
            endpoint=endpoint,
            clients=client_for,
            session_clients=session_clients,
            work_root=work_root,
            running=self.running,
        )
        self._runs: dict[tuple[str, str, str, float], list[JobRun]] = {}  # per job, oldest first
        self._lock = threading.Lock()
        self._stopping = threading.Event()

    def _job(self, account: str, region: str, name: Any) -> JobSpec:
        if not isinstance(name, str) or not name:
            raise GlueApiError("InvalidInputException", "JobName is required")
        job = self.lookup(account, region, name)
        if job is None:
            raise GlueApiError("EntityNotFoundException", f"Job {name} not found.")
        return job

    def start_job_run(self, account: str, region: str, request: Mapping[str, Any]) -> dict[str, Any]:
        job = self._job(account, region, request.get("JobName"))
        arguments = request.get("Arguments") or {}
        if not isinstance(arguments, dict) or not all(isinstance(v, str) for v in arguments.values()):
            raise GlueApiError("InvalidInputException", "Arguments must map strings to strings")
        if self._stopping.is_set():
            raise GlueApiError("InternalServiceException", "the emulator is stopping")
        now = self.clock()
        run = JobRun(
            id=f"jr_{secrets.token_hex(32)}",
            job=job,
            arguments=dict(arguments),
            started=now,
            modified=now,
            timeout_minutes=int(request.get("Timeout") or job.timeout_minutes),
            worker_type=str(request.get("WorkerType") or job.worker_type),
            number_of_workers=int(request.get("NumberOfWorkers") or job.number_of_workers),
        )
        with self._lock:
            runs = self._runs.setdefault(_job_key(job), [])
            going = sum(1 for r in runs if r.state in RUNNING_STATES)
            if going >= max(1, job.max_concurrent_runs):
                raise GlueApiError(
                    "ConcurrentRunsExceededException",
                    f"Concurrent runs exceeded for {job.name}: {going} of MaxConcurrentRuns "
                    f"{job.max_concurrent_runs} going",
                )
            runs.append(run)
        threading.Thread(target=self._execute, args=(run,), name=f"glue-{run.id[:11]}", daemon=True).start()
        log.info("started Glue job run %s of %s", run.id, job.name)
        return {"JobRunId": run.id}

    def get_job_run(self, account: str, region: str, request: Mapping[str, Any]) -> dict[str, Any]:
        job = self._job(account, region, request.get("JobName"))
        wanted = request.get("RunId")
        with self._lock:
            for run in self._runs.get(_job_key(job), []):
                if run.id == wanted:
                    return {"JobRun": run.as_api()}
        raise GlueApiError("EntityNotFoundException", f"Job run {wanted} not found.")

    def get_job_runs(self, account: str, region: str, request: Mapping[str, Any]) -> dict[str, Any]:
        job = self._job(account, region, request.get("JobName"))
        size = int(request.get("MaxResults") or MAX_RESULTS)
        if not 1 <= size <= MAX_RESULTS:
            raise GlueApiError("InvalidInputException", f"MaxResults must be between 1 and {MAX_RESULTS}")
        token = request.get("NextToken")
        try:
            offset = int(token) if token else 0
        except ValueError:
            raise GlueApiError("InvalidInputException", f"invalid NextToken {token!r}") from None
        with self._lock:
            newest_first = [run.as_api() for run in reversed(self._runs.get(_job_key(job), []))]
        page = newest_first[offset : offset + size]
        answer: dict[str, Any] = {"JobRuns": page}
        if offset + size < len(newest_first):
            answer["NextToken"] = str(offset + size)
        return answer

    def snapshot(self) -> dict[str, dict[str, int]]:
        """Runs per job and state, for /_dataops/health."""
        with self._lock:
            found: dict[str, dict[str, int]] = {}
            for (_, _, name, _), runs in self._runs.items():
                states = found.setdefault(name, {})
                for run in runs:
                    states[run.state] = states.get(run.state, 0) + 1
        return found

    def stop(self) -> int:
        """Take no more runs and kill the ones going; returns how many were killed."""
        self._stopping.set()
        return self.running.kill_all()

    def _execute(self, run: JobRun) -> None:
        with self._lock:
            run.state, run.modified = "RUNNING", self.clock()
        try:
            result = self._run(run)
        except AssumeRoleError as exc:  # Glue could not assume the job's role: the run fails before it starts
            now = self.clock()
            result = GlueRunResult(now, now, None, error=f"Glue could not assume the job's role: {exc}")
        except Exception as exc:  # a bug of ours must not leave the run RUNNING forever: it fails, with the reason
            log.exception("Glue job run %s of %s failed inside the emulator", run.id, run.job.name)
            now = self.clock()
            result = GlueRunResult(now, now, None, error=f"the emulator could not run the job: {exc}")
        state = "SUCCEEDED" if not result.failed else ("TIMEOUT" if result.timed_out else "FAILED")
        if self._stopping.is_set() and result.failed:
            state, result.error = "STOPPED", "the emulator stopped while the run was going"
        self._write_logs(run, result)
        with self._lock:
            run.state = state
            run.error = result.error
            run.completed = run.modified = self.clock()
            run.execution_seconds = max(0, round(result.ended - result.started))
        run.done.set()
        log.info("Glue job run %s of %s %s in %.1f s", run.id, run.job.name, state, result.ended - result.started)
        try:
            self.on_finished(run)  # Glue's state change event (glue_state_events.py in the emulator)
        except Exception:  # a bug of ours must not kill the run's thread silently: log it with its traceback
            log.exception("the state change of Glue job run %s could not be recorded", run.id)

    def _run(self, run: JobRun) -> GlueRunResult:
        arguments = merged_arguments(run.job, run.arguments)
        if self.roles is None:
            return self.runner(run.job, run.id, arguments)
        with self.roles.session(run.job.role_arn, GLUE_PRINCIPAL) as session:
            return self.runner(run.job, run.id, arguments, credentials=session.secret)

    def _may_log(self, job: JobSpec, group: str, stream: str) -> bool:
        """Whether the job's role may create the stream and put events in it (else Glue's logs are lost)."""
        if self.roles is None:
            return True
        base = f"arn:{job.role_arn.split(':')[1] if job.role_arn else 'aws'}:logs:{job.region}:{job.account}:log-group:"
        wanted = [
            ("logs:CreateLogGroup", f"{base}{group}"),
            ("logs:CreateLogStream", f"{base}{group}:log-stream:{stream}"),
            ("logs:PutLogEvents", f"{base}{group}:log-stream:{stream}"),
        ]
        denied = [action for action, arn in wanted if not self.roles.allows(job.role_arn, action, arn)]
        if denied:
            log.info("Glue job %s: its role may not %s on %s: the run's log is dropped", job.name, denied, group)
        return not denied

    def _write_logs(self, run: JobRun, result: GlueRunResult) -> None:
        output, system = split_logs(result.lines)
        if result.error:  # what Glue's own driver logs when the script fails
            system.append((result.ended, f"ERROR GlueJobRun: {run.id} {result.error}"))
        logs = self.client_for("logs", run.job.region)
        for group, events in ((OUTPUT_LOG_GROUP, output), (ERROR_LOG_GROUP, system)):
            if not events or not self._may_log(run.job, group, driver_stream(run.id)):
                continue
            batch = [{"timestamp": int(t * 1000), "message": m or " "} for t, m in events]
            try:
                _put_log_events(logs, group, driver_stream(run.id), batch)
            except (ClientError, BotoCoreError) as exc:
                log.warning("could not write the log of Glue job run %s to %s: %s", run.id, group, exc)


def _run_with(
    job: JobSpec,
    run_id: str,
    arguments: Mapping[str, str],
    *,
    endpoint: str,
    clients: ClientFor,
    session_clients: SessionClients | None,
    work_root: Path,
    running: RunningProcesses,
    credentials: Secret | None = None,
) -> GlueRunResult:
    """The real runner: the script is read from S3 with the role's session, as Glue reads it."""
    reader = session_clients(credentials) if credentials is not None and session_clients is not None else clients
    return run_glue_job(
        job,
        run_id,
        arguments,
        endpoint,
        lambda region: reader("s3", region),
        work_root,
        running,
        credentials=credentials,
    )


def _put_log_events(logs: Any, group: str, stream: str, events: list[dict[str, Any]]) -> None:
    """Create the group and stream as Glue does (its role may), then PutLogEvents in batches."""
    for create, kwargs in (
        (logs.create_log_group, {"logGroupName": group}),
        (logs.create_log_stream, {"logGroupName": group, "logStreamName": stream}),
    ):
        try:
            create(**kwargs)
        except ClientError as exc:
            if error_code(exc) != "ResourceAlreadyExistsException":
                raise
    for batch in log_batches(events):
        logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=batch)
