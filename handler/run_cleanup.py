"""A failed handler run undoes what it wrote (a mixin of PipelineRun).

A failed run removes what it had written, records a failed run.json and never touches
latest.json or earlier runs. A published run is never unpublished: a failure of the
latest.json call itself deletes nothing if latest.json names the run (or cannot be read to tell).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from . import contract as c
from .run_steps import names_run
from .runlog import (
    ERROR,
    json_safe_bytes,
)


class Cleanup:
    """record_failure and what it needs."""

    def record_failure(self, error: dict[str, Any]) -> None:
        """Undo partial outputs and leave a failed run.json; never raises over the original error.

        Each step is tried on its own: an upload interrupted right after it completed has no
        upload left to abort, but its object is still deleted and run.json still written.
        A run that may have been published (the latest.json call was made) is never undone:
        if latest.json names it, or cannot be read to tell, its files stay.
        """
        bucket = self.settings.bucket
        self.batch.close()  # nothing of this run is in flight once the cleanup starts
        if self.publishing and self._may_be_published():
            self.log.error(
                c.EVENT_CLEANUP,
                f"{ERROR} Run {self.run_id} failed while or after publishing latest.json: its files are kept",
                error=error,
            )
            return
        written = list(self.written)
        if self.open_key is not None and self.open_key not in written:
            written.append(self.open_key)  # interrupted mid-upload (or just after it completed)
        steps: list[tuple[str, Callable[[], Any]]] = []
        if self.open_sink is not None:
            steps.append(("abort the multipart upload", self.open_sink.abort))
        if written:
            objects = [{"Key": k} for k in written]
            steps.append(
                (
                    "delete the partial outputs",
                    lambda: self.s3.delete_objects(Bucket=bucket, Delete={"Objects": objects}),
                )
            )
        steps.append(
            (
                "write the failed run.json",
                lambda: self.s3.put_object(
                    Bucket=bucket,
                    Key=self.key(c.RUN_DOCUMENT),
                    ContentType="application/json",
                    Body=json_safe_bytes(self._run_document("failed", error=error)),
                ),
            )
        )
        if self.history_sent:
            steps.append(("put the quality history back", self._restore_history))
        for what, step in steps:
            try:
                step()
            except (ClientError, BotoCoreError) as exc:
                self.log.error(c.EVENT_CLEANUP, f"{ERROR} Could not {what} in S3: {exc}", written=written)

    def _may_be_published(self) -> bool:
        """Whether latest.json names this run, or might (it cannot be read): then nothing is deleted."""
        s = self.settings
        try:
            body = self.s3.get_object(Bucket=s.bucket, Key=c.latest_key(s.output_prefix))["Body"].read()
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            return code not in ("NoSuchKey", "404")
        except BotoCoreError:
            return True
        return names_run(body, self.run_id)
