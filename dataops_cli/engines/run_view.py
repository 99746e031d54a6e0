"""A manual run's outcome on the terminal: the function's result and log tail, or the Glue run's line."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.text import Text

from dataops_cli.counts import count, counted
from dataops_cli.engines.glue_run import GlueRunOutcome
from dataops_cli.engines.lambda_run import InvokeOutcome
from dataops_cli.observe.logs_view import pretty
from dataops_cli.safe_text import data_text, printable
from dataops_cli.ui import key_values
from handler import contract as c

LOG_TAIL_LINES = 20  # shown with -v: Lambda's LogResult is the last 4 KB of the run's log


def render_outcome(
    outcome: InvokeOutcome | GlueRunOutcome, width: int, verbose: bool, logs_command: str
) -> RenderableType:
    """Either engine's outcome; a Glue run's ErrorMessage is the data's words (never markup)."""
    if isinstance(outcome, GlueRunOutcome):
        return data_text(outcome.line())
    return render_result(outcome, width, verbose=verbose, logs_command=logs_command)


def render_result(
    outcome: InvokeOutcome, width: int = 100, verbose: bool = False, logs_command: str = "dataops logs"
) -> RenderableType:
    """The outcome as text laid out for `width` columns (key/value lines carry no padding).

    A failed run leads with its own error (type and message, which name the file line) and the
    details its error line logged; the log tail (tracebacks with long paths) only with `verbose`."""
    parts: list[RenderableType] = []
    payload = outcome.payload if isinstance(outcome.payload, dict) else {}
    if outcome.failed:
        logged = outcome.error_line or {}
        run_id = logged.get(c.F_RUN_ID)
        title = f"❌ {outcome.function} run {printable(run_id)} failed" if run_id else f"❌ {outcome.function} failed"
        parts += [Text(title, style="bold red"), Text(printable(outcome.error_summary), style="red")]
        details = {
            k: v
            for k, v in (logged.get(c.F_ERROR) or {}).items()
            if k not in (c.ERROR_TYPE, "message") and v not in (None, "")
        }
        if details:
            rows = [(key.replace("_", " "), printable(value)) for key, value in details.items()]
            parts.append(key_values(rows, width))
    elif payload.get("status") == "skipped":  # pipeline.skip_unchanged: the published run is current
        parts.append(
            Text(
                f"⏭️ {outcome.function} run {printable(payload.get('run_id', ''))} skipped: input unchanged",
                style="bold cyan",
            )
        )
        rows = [("confirms", f"{printable(payload.get('confirms', '?'))} (its outputs are current)")]
        rows.append(("input ETag", printable(payload.get("input_etag", "?"))))
        parts.append(key_values(rows, width))
        parts.append(Text("--force runs it in full anyway.", style="dim"))
    else:
        parts.append(
            Text(f"✅ {outcome.function} run {printable(payload.get('run_id', ''))} succeeded", style="bold green")
        )
        rows: list[tuple[str, str]] = []
        if "rows" in payload:
            rows.append(("shape", f"{counted(payload['rows'], 'row')} × {counted(payload['columns'], 'column')}"))
        if "missing_values_handled" in payload:
            handled = payload["missing_values_handled"]
            detail = ", ".join(f"{printable(k)} {count(v)}" for k, v in handled.items()) or "none"
            rows.append(("missing handled", f"{counted(payload.get('missing_total', 0), 'cell')} ({detail})"))
        rows.extend((printable(k), printable(v)) for k, v in payload.get("outputs", {}).items())
        if "duration_ms" in payload:
            rows.append(("run time", f"{payload['duration_ms']:,.0f} ms (handler)"))
        parts.append(key_values(rows, width))
    if outcome.report:
        memory = f", max memory {outcome.report['memory_used_mb']:,} MB" if outcome.report["memory_used_mb"] else ""
        parts.append(Text(f"Lambda duration {outcome.report['duration_ms']:,.1f} ms{memory}", style="dim"))
    if outcome.log_tail and verbose:
        parts.append(Text("Log tail:", style="bold"))
        for line in outcome.log_tail.splitlines()[-LOG_TAIL_LINES:]:
            parts.append(pretty({"timestamp": 0, "message": line}, with_time=False))
    elif outcome.log_tail and outcome.failed:
        more = f"The run's log: -v shows its last lines, {logs_command} --errors one line per failed run."
        parts.append(Text(more, style="dim"))
    return Group(*parts)
