"""The quality history's reads and writes for a handler run (a mixin of PipelineRun).

Read beside the input; rewritten beside latest.json, after the last checkpoint; put back as
it was when latest.json then fails and the run is not published.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from . import contract as c
from .quality import (
    HISTORY_MAX_BYTES,
)
from .run_steps import history_body, history_from, history_too_large, history_unreadable
from .runlog import (
    ERROR,
)


class HistoryIO:
    """history.json for one run: read, rewrite, restore."""

    def _read_history(self) -> list[dict[str, Any]]:
        """The profiles of earlier successful runs; none when history.json does not exist yet.

        A history that is not valid (hand-edited, truncated) is reported and replaced at the
        end of this run rather than failing every run from now on.
        """
        try:
            response = self.s3.get_object(Bucket=self.settings.bucket, Key=self.history_key)
            self.history_existed = True
            if response.get("ContentLength", 0) > HISTORY_MAX_BYTES:  # not read: it would cost this run
                response["Body"].close()
                return history_too_large(response["ContentLength"], self.history_key, self.log)
            body = self.history_before = response["Body"].read()
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in ("NoSuchKey", "404"):
                return []
            where = f"s3://{self.settings.bucket}/{self.history_key}"
            hint = "the execution role needs s3:GetObject on it; dataops up grants it"
            raise history_unreadable(where, self.history_key, code, hint) from exc
        return history_from(body, self.history_key, self.log)

    def _send_history(self, history: list[dict[str, Any]], current: dict[str, Any]) -> Any:
        """Start the history's rewrite, right after the last checkpoint before latest.json (so a
        run that stopped itself never sent it), beside latest.json's PUT. The body is built in
        the request's thread: what it raises comes out of the future after latest.json, and is
        logged (the run is published)."""
        self.history_sent = True
        return self.batch.submit(lambda: self._write_history(history, current))

    def _write_history(self, history: list[dict[str, Any]], current: dict[str, Any]) -> None:
        """Beside latest.json: a failure here must not turn a published run into a failed one."""
        body = history_body(history, current, self.settings.quality.history_runs, self.history_key, self.log)
        if body is None:
            return
        try:
            self.s3.put_object(
                Bucket=self.settings.bucket, Key=self.history_key, Body=body, ContentType="application/json"
            )
        except (ClientError, BotoCoreError) as exc:
            self.log.error(
                c.EVENT_QUALITY_HISTORY,
                f"{ERROR} Could not update the quality history {self.history_key}: {exc}",
                key=self.history_key,
            )

    def _restore_history(self) -> None:
        """latest.json failed after the history's rewrite went out beside it: undo that rewrite."""
        s = self.settings
        if not self.history_existed:
            self.s3.delete_object(Bucket=s.bucket, Key=self.history_key)
        elif self.history_before is not None:
            self.s3.put_object(
                Bucket=s.bucket, Key=self.history_key, Body=self.history_before, ContentType="application/json"
            )
        # else: the old one was too large to read, and a history that size is replaced anyway.
