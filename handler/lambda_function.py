"""Lambda entry point: read the input CSV from S3, run the pipeline, publish the outputs.

The run itself is handler/pipeline_run.py. This module is what Lambda imports: it stays
light (no client, no I/O), the S3 client is created on the first invocation and reused by
warm ones, with a connection pool sized for the run's concurrent requests.

A run that is about to hit the function's timeout stops itself first (handler/deadline.py):
with the safety margin left it raises a TimeoutError, aborts its multipart upload, deletes
what it wrote and records a failed run.json, so the run history says it happened and Lambda
counts an Error. The guard ends once latest.json is published.
"""

from __future__ import annotations

import os
import time
import uuid
from typing import Any

from . import contract as c
from .deadline import Deadline, RunTimeoutError
from .pipeline_run import PipelineRun
from .run_steps import close_log, error_detail, new_run_id, report_failure, trigger_of
from .runlog import (
    RunLog,
)
from .s3batch import S3_POOL_CONNECTIONS, tune
from .settings import Settings

_cold_start = True
_s3_client: Any = None


def _s3() -> Any:
    global _s3_client
    if _s3_client is None:
        import boto3  # deferred: the runtime pays for it inside the first invocation only
        from botocore.config import Config

        _s3_client = tune(boto3.client("s3", config=Config(max_pool_connections=S3_POOL_CONNECTIONS)))
    return _s3_client


def lambda_handler(event: Any, context: Any) -> dict[str, Any]:
    global _cold_start
    cold_start, _cold_start = _cold_start, False
    started = time.time()
    request_id = getattr(context, "aws_request_id", None) or str(uuid.uuid4())
    run_id = new_run_id(started, request_id)
    function = os.environ.get(c.ENV_FUNCTION_NAME, c.DEFAULT_FUNCTION_NAME)
    log = RunLog(function=function, request_id=request_id, run_id=run_id, cold_start=cold_start)
    run: PipelineRun | None = None
    deadline = Deadline(context)
    try:
        settings = Settings.from_environ(os.environ)
        force = isinstance(event, dict) and event.get(c.FORCE_FIELD) is True
        run = PipelineRun(settings, _s3(), log, run_id, started, trigger_of(event), deadline, force=force)
        with deadline.alarm(lambda: run.step if run is not None else "starting"):
            return run.execute()
    except Exception as exc:
        if isinstance(exc, RunTimeoutError):
            detail = {"type": "TimeoutError", "message": str(exc), "step": run.step if run else "starting"}
        else:
            detail = error_detail(exc)
        report_failure(log, exc, detail)
        if run is not None:
            run.record_failure(detail)
        raise
    finally:
        if run is not None:
            run.batch.close()
        close_log(log, started)
