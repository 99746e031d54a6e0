"""Render data-quality results with rich: the status section, and the checks table `runs show` reuses."""

from __future__ import annotations

from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from dataops_cli.sparkline import sparkline

LEVEL_STYLE = {"ok": "green", "warn": "yellow", "fail": "red"}
LEVEL_MARK = {"ok": "✓", "warn": "⚠️", "fail": "❌"}


def value(observed: Any) -> str:
    """Checks carry numbers, short strings, or (schema) lists of name:type."""
    if observed is None:
        return "–"
    if isinstance(observed, list):
        return f"{len(observed)} columns"
    if isinstance(observed, float):
        return f"{observed:.4g}"
    if isinstance(observed, int):
        return f"{observed:,}"
    return str(observed)


def checks_table(checks: list[dict[str, Any]], title: str, show_ok: bool = True) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("Level", no_wrap=True)
    table.add_column("Check", no_wrap=True)
    table.add_column("Column", overflow="fold")
    table.add_column("Observed", justify="right")
    table.add_column("Expected")
    table.add_column("Message", overflow="fold")
    for check in checks:
        level = check.get("level", "?")
        if level == "ok" and not show_ok:
            continue
        style = LEVEL_STYLE.get(level, "")
        table.add_row(
            f"[{style}]{LEVEL_MARK.get(level, '')} {level}[/]",
            check.get("name", "?"),
            check.get("column") or "",
            value(check.get("observed")),
            value(check.get("expected")),
            check.get("message", "") if level != "ok" else "",
        )
    return table


def summary_text(summary: dict[str, int] | None) -> str:
    if not summary:
        return "–"
    return f"{summary.get('ok', 0)} ok · {summary.get('warn', 0)} warn · {summary.get('fail', 0)} fail"


def section(quality: dict[str, Any]) -> RenderableType:

    parts: list[RenderableType] = []
    head = Text("Data quality", style="bold")
    run = quality.get("latest_run")
    if run:
        head.append(f" · latest run {run} ({quality.get('latest_status')})", style="")
        if quality.get("baseline_runs") is not None:
            head.append(f" · compared with {quality['baseline_runs']} earlier runs", style="dim")
        head.append(f" · {summary_text(quality.get('summary'))}")
    else:
        head.append(" · no run with quality results yet", style="dim")
    parts.append(head)
    for source, reason in (quality.get("unavailable") or {}).items():  # where its figures would be
        line = Text(f"  {source}: ", style="bold")
        line.append(f"unavailable: {reason}", style="yellow")
        parts.append(line)
    checks = quality.get("checks") or []
    flagged = [c for c in checks if c.get("level") != "ok"]
    if flagged:
        hidden = len(checks) - len(flagged)
        parts.append(checks_table(flagged, f"Checks that warned or failed ({hidden} more ok: dataops runs show {run})"))
    elif checks:
        parts.append(Text(f"  all {len(checks)} checks ok", style="green"))
    trend = quality.get("trends") or {}
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    grid.add_column(style="dim")
    rows = trend.get("rows") or []
    if rows:
        grid.add_row("rows", sparkline([float(r) for r in rows]), f"last {rows[-1]:,} · {len(rows)} runs of history")
        rates = trend.get("missing_rate") or []
        grid.add_row("missing rate", sparkline(rates), f"last {rates[-1]:.1%} of cells before imputation")
    window = quality.get("window") or {}
    if window.get("warnings") is not None:
        grid.add_row(
            "in window",
            f"{window['warnings']:.0f} warnings · {window['failures']:.0f} failures",
            "QualityWarnings / QualityFailures metrics",
        )
    parts.append(grid)
    for item in quality.get("quarantined") or []:
        parts.append(Text(f"  🚧 quarantined: {item['run_id']} {item.get('message') or ''}", style="red"))
    for error in quality.get("errors") or []:
        parts.append(Text(f"  {error}", style="yellow"))
    return Group(*parts)
