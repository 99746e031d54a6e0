"""A log event on the terminal: time, level, message and key fields (`dataops logs`, `invoke -v`)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from rich.text import Text

from dataops_cli.observe import runlog_reader
from dataops_cli.observe.logtail import LAMBDA_LINES, SKIP_FIELDS
from dataops_cli.safe_text import printable
from handler import contract as c


def pretty(event: dict[str, Any], with_time: bool = True) -> Text:
    """time · level · message · key fields; Lambda's own lines dimmed; EMF documents summarized.

    Every piece of the event is data (a column name can hold an escape sequence): printed
    through `printable`, so control characters show as `\\x1b` instead of acting on the terminal."""
    message = event["message"].rstrip("\n")
    line = Text()
    if with_time:
        stamp = datetime.fromtimestamp(event["timestamp"] / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")
        line.append(f"{stamp} ", style="dim")
    document = runlog_reader.structured(message)
    if document is None:
        style = "dim" if message.startswith(LAMBDA_LINES) else ("red" if runlog_reader.is_error(message) else "")
        return line.append(printable(message.replace("\t", "  "), keep_newlines=True), style=style)
    if "_aws" in document:
        names = [m["Name"] for d in document["_aws"].get("CloudWatchMetrics", []) for m in d.get("Metrics", [])]
        return line.append(printable("metrics  " + ", ".join(f"{n}={document.get(n)}" for n in names)), style="cyan")
    level = printable(document.get(c.F_LEVEL, c.LEVEL_INFO))
    line.append(f"{level:<5} ", style="bold red" if level == c.LEVEL_ERROR else "bold")
    line.append(printable(document.get(c.F_MESSAGE, ""), keep_newlines=True))
    extras = {k: v for k, v in document.items() if k not in SKIP_FIELDS}
    if level == "ERROR" and document.get("run_id"):  # which run failed: its outputs folder is named by it
        extras["run_id"] = document["run_id"]
    if extras:
        fields = " ".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in extras.items())
        line.append("  " + printable(fields), style="dim")
    return line
