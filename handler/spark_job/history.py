"""The Spark job's quality history reads and writes (a mixin of SparkRun), as the handler's.

An unreadable history (denied, network) fails the run; an unusable one is reported and
replaced; a failure writing it after latest.json is logged and the run stays published.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from handler import contract as c
from handler.quality import HISTORY_MAX_BYTES, HISTORY_NAME
from handler.run_steps import (
    history_body,
    history_from,
    history_too_large,
    history_unreadable,
)
from handler.runlog import (
    ERROR,
)

from .store import TooLargeError


class SparkHistory:
    """history.json through the job's Output store."""

    def _read_history(self) -> list[dict[str, Any]]:
        """The profiles of earlier successful runs; none when the history does not exist yet.

        As the handler: an unreadable history (denied, network) fails the run; an unusable
        one (not JSON, not a history) is reported and replaced at the end of this run.
        """
        where, key = self.target.spark_uri(HISTORY_NAME), self.target.full_key(HISTORY_NAME)
        try:
            body = self.target.get(HISTORY_NAME, max_bytes=HISTORY_MAX_BYTES)
        except TooLargeError as exc:  # not read: it would cost this run
            return history_too_large(exc.size, key, self.log)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            hint = "the Glue job's role needs s3:GetObject on it; dataops up grants it"
            raise history_unreadable(where, key, code, hint) from exc
        except OSError as exc:  # a local run: a folder where the file should be, no permission
            raise history_unreadable(where, key, type(exc).__name__, str(exc)) from exc
        return [] if body is None else history_from(body, key, self.log)

    def _write_history(self, history: list[dict[str, Any]], current: dict[str, Any]) -> None:
        """After latest.json: a failure here is logged and must not turn a published run into a failed one."""
        key = self.target.full_key(HISTORY_NAME)
        body = history_body(history, current, self.quality.history_runs, key, self.log)
        if body is None:
            return
        try:
            self.target.put(HISTORY_NAME, body, "application/json")
        except (ClientError, BotoCoreError, OSError) as exc:
            self.log.error(
                c.EVENT_QUALITY_HISTORY,
                f"{ERROR} Could not update the quality history {self.target.full_key(HISTORY_NAME)}: {exc}",
                key=self.target.full_key(HISTORY_NAME),
            )
