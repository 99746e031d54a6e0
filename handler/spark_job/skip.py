"""The Spark job's side of SKIP_UNCHANGED: decided before any Spark session starts (seconds saved).

Same rule as the handler (handler/run_skip.py): the input's ETag (an MD5 for a local file),
the settings digest and the code digest against the fingerprint latest.json recorded. On a
match the job logs one ⏭️ line, emits RunsSkipped = 1 and exits 0 without starting Spark.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from botocore.exceptions import ClientError

from handler import contract as c
from handler.fingerprint import code_version, published_record, record, settings_digest
from handler.options import PipelineOptions
from handler.quality import QualitySettings
from handler.run_steps import close_log, new_run_id
from handler.runlog import RunLog, record_metric

from .store import Input, InputInfo, Output


def spark_fingerprint(info: InputInfo, spark_uri: str, options: PipelineOptions, quality: QualitySettings) -> dict:
    return record(info.etag, settings_digest("spark", spark_uri, options, quality), code_version())


def skip_if_unchanged(
    source: Input,
    target: Output,
    options: PipelineOptions,
    quality: QualitySettings,
    job_name: str,
    stream: Any = None,
) -> dict[str, Any] | None:
    """The skipped run's result (its log line and metrics written), or None: process the input."""
    try:
        latest = target.get(c.LATEST_POINTER)
    except ClientError:  # cannot tell: process (the run itself reports what it cannot read)
        return None
    published_run, published = published_record(latest)
    info = source.describe()
    if published_run is None or published != spark_fingerprint(info, source.spark_uri, options, quality):
        return None
    started = time.time()
    request_id = str(uuid.uuid4())
    run_id = new_run_id(started, request_id)
    log = RunLog(function=job_name, request_id=request_id, run_id=run_id, cold_start=True, stream=stream)
    log.info(
        c.EVENT_SKIPPED,
        f"{c.MARKERS[c.EVENT_SKIPPED]} Run skipped: input unchanged (ETag {info.etag}), same settings and code "
        f"as the published run {published_run}",
        confirms=published_run,
        input_etag=info.etag,
        engine="spark",
    )
    record_metric(log, c.M_RUNS_SKIPPED, 1)
    record_metric(log, c.M_RUN_FAILED, 0)
    close_log(log, started)
    return {"status": "skipped", "run_id": run_id, "confirms": published_run, "input_etag": info.etag}
