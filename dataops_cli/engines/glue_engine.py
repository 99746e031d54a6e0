"""The Glue engine (function.engine = "glue"): a Glue (Spark) job runs the pipeline.

Its runs come from GetJobRuns, its lines from Glue's shared log groups (streams named after
the job's run ids), and locally from pyspark on this machine.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from dataops_cli.aws import DataopsError, error_code, read_or_none
from dataops_cli.cost.inputs import Measured
from dataops_cli.cost.measured import measure_glue, measure_outputs
from dataops_cli.engines import glue_logs
from dataops_cli.engines.base import TRAITS, Engine, LogSource, RunWatch, Target
from dataops_cli.engines.glue_run import POLL_SECONDS, STARTUP_SECONDS, GlueRunOutcome, runs_summary, start_and_wait
from dataops_cli.observe import skips

LOCAL_GLUE_NOTE = (
    "local mode: Glue job runs execute on this machine's Python {python} with local pyspark (local[*]), "
    "not on Glue {glue_version} workers ({workers} x {worker_type}): DPU sizing is not emulated"
)
LOCAL_GLUE_POLL_SECONDS = 1.0  # the emulator answers GetJobRun at once; a local Spark run takes tens of seconds


class GlueEngine(Engine):
    traits = TRAITS["glue"]

    @property
    def runs(self) -> str:
        return f"Glue job {self.config.glue_job}"

    def run_now(
        self, aws: Any, target: Target, trigger: str, watch: RunWatch, local: bool, force: bool = False
    ) -> GlueRunOutcome:
        """StartJobRun and wait for it (bounded by the job's timeout plus start-up); `force` runs
        it in full even when the input is unchanged."""
        config = self.config
        try:
            outcome = start_and_wait(
                aws.client("glue"),
                config.glue_job,
                trigger=trigger,
                wait_seconds=config.glue.timeout_minutes * 60 + STARTUP_SECONDS,
                poll_seconds=LOCAL_GLUE_POLL_SECONDS if local else POLL_SECONDS,
                on_state=watch.on_state,
                sleep=watch.sleep,
                force=force,
            )
        except ClientError as exc:
            code = error_code(exc)
            if code == "EntityNotFoundException":
                raise DataopsError(
                    f"Glue job {config.glue_job} does not exist in {target.where()}",
                    f"deploy the stack first: {target.command('up')}",
                ) from exc
            if code == "ConcurrentRunsExceededException":
                raise DataopsError(
                    f"a run of Glue job {config.glue_job} is already going "
                    f"(max concurrent runs {config.glue.max_concurrent_runs})",
                    f"wait for it: aws glue get-job-runs --job-name {config.glue_job} --max-items 1",
                ) from exc
            raise
        return self._with_skip(aws, outcome)

    def _with_skip(self, aws: Any, outcome: GlueRunOutcome) -> GlueRunOutcome:
        """A SUCCEEDED run that skipped an unchanged input, told apart by its driver's ⏭️ line (one read).

        Glue's state is the same for both. Glue may ingest the line a little after the run ends:
        if it is not there yet, or the read is refused, the outcome stays the plain SUCCEEDED,
        which is true either way."""
        if outcome.state != "SUCCEEDED" or outcome.started_ms is None:
            return outcome
        try:
            found = _skip_lines(aws.client("logs"), [outcome.run_id], outcome.started_ms)
        except ClientError:
            return outcome
        return replace(outcome, confirms=found[-1].confirms) if found else outcome

    def log_source(self, aws: Any, target: Target, warn: Callable[[str], None]) -> LogSource:
        """Only the streams of this job's runs (GetJobRuns) in Glue's shared groups."""
        client, glue, job = aws.client("logs"), aws.client("glue"), self.config.glue_job
        if read_or_none(glue.get_job, JobName=job) is None:
            raise DataopsError(
                f"Glue job {job} does not exist in {target.where()}", f"deploy the stack first: {target.command('up')}"
            )
        groups = " and ".join(glue_logs.GLUE_LOG_GROUPS)
        skipped: list[int] = []

        def fetch(from_ms: int, max_pages: int | None, truncated: Any) -> Any:
            runs = glue_logs.run_ids(glue, job, from_ms)
            if len(runs) > glue_logs.MAX_RUNS and not skipped:  # said once (the first read covers the window)
                skipped.append(len(runs))
                warn(
                    f"Reading the newest {glue_logs.MAX_RUNS} of {len(runs)} runs of Glue job {job} in the "
                    "window (one read per run and log group): narrow --since to see older runs."
                )
            newest = runs[: glue_logs.MAX_RUNS]
            return glue_logs.events(client, newest, from_ms, max_pages=max_pages, on_truncated=truncated)

        return LogSource(
            f"the runs of Glue job {job} in {groups}",
            f"No Glue log group yet ({groups}): no Glue job has run in this account and region "
            f"({target.command('invoke')} starts a run).",
            lambda: bool(glue_logs.existing_groups(client)),
            fetch,
        )

    def run_summaries(self, ctx: Any, start: datetime) -> dict[str, Any] | None:
        return runs_summary(ctx.client("glue"), self.config.glue_job, start)

    def skipped_runs(self, aws: Any, start_ms: int, end_ms: int | None = None) -> list[skips.SkippedRun]:
        """The job's runs since `start_ms` whose driver logged a skip (its stdout group; the newest
        SKIP_RUNS runs, one FilterLogEvents each): a skipped job run SUCCEEDED like any other in GetJobRuns."""
        client, glue = aws.client("logs"), aws.client("glue")
        if read_or_none(glue.get_job, JobName=self.config.glue_job) is None:
            return []
        runs = glue_logs.run_ids(glue, self.config.glue_job, start_ms)[: glue_logs.SKIP_RUNS]
        found = _skip_lines(client, runs, start_ms)
        return [s for s in found if end_ms is None or s.started_ms < end_ms]

    def measure(self, aws: Any) -> Measured:
        """No function to measure: the job's runs, and the latest outputs."""
        measured = Measured(reasons=[])
        measure_outputs(self.config, aws.client("s3"), measured)
        measure_glue(self.config, aws.client("glue"), measured)
        return measured

    def month_runs_client(self, ctx: Any) -> Any:
        return ctx.client("glue")

    def local_note(self, python: str) -> str:
        glue = self.config.glue
        return LOCAL_GLUE_NOTE.format(
            python=python, glue_version=glue.glue_version, workers=glue.number_of_workers, worker_type=glue.worker_type
        )

    def local_problem(self) -> str | None:
        from dataops_cli.local.spark_check import local_glue_problem

        return local_glue_problem()

    def config_rows(self) -> list[tuple[str, str]]:
        config, glue = self.config, self.config.glue
        return [
            (
                "glue job",
                f"{config.glue_job} Glue {glue.glue_version} {glue.number_of_workers} x {glue.worker_type}, "
                f"timeout {glue.timeout_minutes} min, max concurrent runs {glue.max_concurrent_runs}",
            ),
            ("glue script", f"s3://{config.bucket.name}/{config.glue_script_key} (+ {config.glue_modules_key})"),
            ("glue role", config.glue_role),
            ("glue run rules", f"{config.glue_failed_rule}, {config.glue_succeeded_rule} (EventBridge, default bus)"),
        ]


def _skip_lines(logs: Any, runs: list[str], from_ms: int) -> list[skips.SkippedRun]:
    """The ⏭️ lines of these job runs: their driver's stdout (the output group), one page each."""
    return skips.from_events(
        glue_logs.events(
            logs, runs, from_ms, groups=glue_logs.GLUE_LOG_GROUPS[:1], pattern=skips.SKIP_PATTERN, max_pages=1
        )
    )
