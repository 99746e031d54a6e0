"""The Lambda engine (function.engine = "lambda"): the function runs the pipeline.

Its runs, durations and errors come from the function's log group and AWS/Lambda metrics,
so `run_summaries` has nothing to add and `status` reads the run log instead.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from dataops_cli.aws import DataopsError, error_code
from dataops_cli.cost.inputs import Measured
from dataops_cli.cost.measured import measure
from dataops_cli.engines.base import TRAITS, Engine, LogSource, RunWatch, Target
from dataops_cli.engines.lambda_run import InvokeOutcome, invoke_now
from dataops_cli.observe import runlog_reader, skips

LOCAL_RUNTIME_NOTE = (
    "local mode: runs execute on this machine's Python {python}, not the configured runtime {runtime} "
    "(the emulator's Lambda runner uses this interpreter and its pandas/numpy/pyarrow)"
)


class LambdaEngine(Engine):
    traits = TRAITS["lambda"]

    @property
    def runs(self) -> str:
        return self.config.function.name

    def run_now(
        self, aws: Any, target: Target, trigger: str, watch: RunWatch, local: bool, force: bool = False
    ) -> InvokeOutcome:
        """One synchronous Invoke; a run already going is waited for (FunctionBusyError past the bound)."""
        name = self.config.function.name
        try:
            return invoke_now(
                aws.client("lambda"),
                name,
                trigger=trigger,
                wait_seconds=self.wait_seconds,
                on_wait=watch.on_wait,
                force=force,
            )
        except ClientError as exc:
            if error_code(exc) != "ResourceNotFoundException":
                raise
            raise DataopsError(
                f"function {name} does not exist in {target.where()}", f"deploy the stack first: {target.command('up')}"
            ) from exc

    @property
    def wait_seconds(self) -> int:
        """How long a manual run waits for a run already going: the function's timeout, and a little."""
        return self.config.function.timeout_seconds + 10

    def log_source(self, aws: Any, target: Target, warn: Callable[[str], None]) -> LogSource:
        client = aws.client("logs")
        group = self.config.log_group
        return LogSource(
            group,
            f"No log group {group} yet: the function is not deployed or has not run "
            f"({target.command('up')} creates it).",
            lambda: runlog_reader.log_group_exists(client, group),
            lambda from_ms, max_pages, truncated: runlog_reader.filter_events(
                client, group, from_ms, max_pages=max_pages, on_truncated=truncated
            ),
        )

    def run_summaries(self, ctx: Any, start: datetime) -> dict[str, Any] | None:
        return None  # the function's runs are in its run log (status reads it)

    def skipped_runs(self, aws: Any, start_ms: int, end_ms: int | None = None) -> list[skips.SkippedRun]:
        """From the function's log group (none yet: no run has logged, so none skipped)."""
        try:
            return skips.read(aws.client("logs"), self.config.log_group, start_ms, end_ms)
        except ClientError as exc:
            if error_code(exc) != "ResourceNotFoundException":
                raise
            return []

    def measure(self, aws: Any) -> Measured:
        return measure(self.config, aws.client("cloudwatch"), aws.client("s3"))

    def month_runs_client(self, ctx: Any) -> Any:
        return None  # AWS/Lambda Invocations count the month's runs

    def local_note(self, python: str) -> str:
        return LOCAL_RUNTIME_NOTE.format(runtime=self.config.function.runtime, python=python)

    def local_problem(self) -> str | None:
        return None  # the emulator runs the function on this interpreter

    def config_rows(self) -> list[tuple[str, str]]:
        config, function = self.config, self.config.function
        return [
            (
                "function",
                f"{function.name} {function.runtime} {function.architecture} {function.memory_mb} MB "
                f"{function.timeout_seconds} s, reserved concurrency {function.reserved_concurrency}, "
                f"async retries {function.async_max_retry_attempts}, "
                f"async max event age {function.async_max_event_age_seconds} s",
            ),
            (
                "layer",
                function.layer_arn or f"{function.layer_name} (resolved at deploy, SDK {function.layer_sdk_version})",
            ),
            ("execution role", config.execution_role),
            ("log group", f"{config.log_group} ({function.log_retention_days} days)"),
        ]
