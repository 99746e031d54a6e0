"""Skip an unchanged input (SKIP_UNCHANGED, config.toml: pipeline.skip_unchanged): a mixin of PipelineRun.

The run GETs the input and latest.json together (one round trip, two requests). When the
input's ETag, the settings digest and the code digest equal the fingerprint the published run
recorded, the input's body is dropped unread (a small one drained, so its connection is
kept) and the run does nothing else: one ⏭️ line, a RunsSkipped metric, status "skipped".
Its outputs would be the published ones byte for byte but for the run id and times, so the
published run stays current. Anything else (no latest.json, one without a fingerprint, one
that cannot be read) processes the input.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from . import contract as c
from .fingerprint import code_version, published_record, record, settings_digest
from .runlog import record_metric
from .s3io import S3Input

SKIPPED = c.MARKERS[c.EVENT_SKIPPED]


class SkipCheck:
    """The fingerprint of this run, and the skip decision made from it."""

    settings: Any
    s3: Any
    log: Any
    batch: Any
    run_id: str
    fingerprint: dict[str, str]

    def _fingerprint(self, input_etag: str) -> dict[str, str]:
        s = self.settings
        return record(input_etag, settings_digest(s.bucket, s.input_key, s.options, s.quality), code_version())

    def _skip_if_unchanged(self, source: S3Input) -> dict[str, Any] | None:
        """The skipped run's result, or None when the input must be processed (its GET is kept for that)."""
        latest_read = self.batch.submit(self._read_latest)
        info = source.fetch()
        published_run, published = published_record(latest_read.result())
        self.fingerprint = self._fingerprint(info.etag)
        if published_run is None or published != self.fingerprint:
            return None
        source.close()
        self.log.info(
            c.EVENT_SKIPPED,
            f"{SKIPPED} {c.SKIP_PHRASE}: input unchanged (ETag {info.etag}), same settings and code as the "
            f"published run {published_run}",
            input_etag=info.etag,
            **{c.F_CONFIRMS: published_run},
        )
        record_metric(self.log, c.M_RUNS_SKIPPED, 1)
        record_metric(self.log, c.M_RUN_FAILED, 0)
        return {"status": "skipped", "run_id": self.run_id, "confirms": published_run, "input_etag": info.etag}

    def _read_latest(self) -> bytes | None:
        """latest.json's body; None when there is none, or it cannot be read (said in the log: the run processes)."""
        s = self.settings
        key = c.latest_key(s.output_prefix)
        try:
            return self.s3.get_object(Bucket=s.bucket, Key=key)["Body"].read()
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code not in ("NoSuchKey", "404"):
                self.log.warning(
                    c.EVENT_SKIPPED,
                    f"Could not read s3://{s.bucket}/{key} to compare with ({code}): processing the input",
                    key=key,
                )
            return None
