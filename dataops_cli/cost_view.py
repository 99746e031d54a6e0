"""Render a cost Breakdown with rich, readable at 80 columns: the table, then how each quantity was reached."""

from __future__ import annotations

from rich import box
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from dataops_cli.cost import Breakdown, CostRow

SHORT_UNITS = {
    "request": "req",
    "GB-second": "GB-s",
    "invocation": "inv",
    "GB-month": "GB-mo",
    "GB": "GB",
    "metric-month": "metric",
    "dashboard-month": "dash",
    "alarm-month": "alarm",
    "notification": "email",
    "DPU-hour": "DPU-h",
}


def money(usd: float) -> str:
    if usd == 0:
        return "$0"
    if usd < 0.01:
        return "<$0.01"
    return f"${usd:,.0f}" if usd >= 100 else f"${usd:,.2f}"


def amount(value: float) -> str:
    if value == 0:
        return "0"
    if value >= 1_000_000:
        return f"{value / 1_000_000:.3g}M"
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 1:
        return f"{value:,.2f}".rstrip("0").rstrip(".")
    return f"{value:.2g}"


def unit_price(row: CostRow) -> str:
    per = {1: "", 1000: "/1K", 100_000: "/100K", 1_000_000: "/1M"}.get(row.display_per, f"/{row.display_per:,}")
    price = row.usd_per_unit * row.display_per
    text = f"${price:,.2f}" if round(price, 2) == round(price, 10) else f"${price:.10f}".rstrip("0")
    return f"{text}{per}" + ("" if row.verified else "*")


def table(b: Breakdown, title: str | None = None) -> Table:
    t = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False, show_footer=True)
    t.add_column("Item", footer="Total", no_wrap=True)
    t.add_column("Quantity", justify="right", no_wrap=True)
    t.add_column("Price", justify="right", no_wrap=True)
    t.add_column("Cost", justify="right", footer=money(b.total), no_wrap=True)
    t.add_column("Free/mo", justify="right", no_wrap=True)
    t.add_column("Pay", justify="right", footer=Text(money(b.total_to_pay), style="bold"), no_wrap=True)
    for row in b.rows:
        unit = SHORT_UNITS.get(row.unit, row.unit)
        free = f"{amount(row.free_allowance)}" if row.free_allowance else "–"
        t.add_row(
            row.item,
            f"{amount(row.quantity)} {unit}",
            unit_price(row),
            money(row.cost),
            free,
            money(row.to_pay),
        )
    return t


def render(b: Breakdown, title: str | None = None, detail: bool = True) -> RenderableType:
    parts: list[RenderableType] = [table(b, title or f"Monthly cost, {b.region} ({b.engine}, month = {b.month})")]
    if detail:
        how = Text("How each quantity was reached:", style="bold")
        for row in b.rows:
            how.append(f"\n  {row.item}: ", style="bold")
            how.append(row.basis)
        parts.append(how)
        sources = Text("Where the figures came from:", style="bold")
        for name, text in b.sources.items():
            sources.append(f"\n  {name.replace('_', ' ')}: {text}")
        parts.append(sources)
    for warning in b.warnings:
        parts.append(Text(f"warning: {warning}", style="bold yellow"))
    if b.engines:
        parts.append(engines_table(b))
        for row in b.engines:
            for warning in row.get("warnings", []):
                parts.append(Text(f"warning ({row['size']}): {warning}", style="yellow"))
        if detail:
            how = Text("Where each engine's run time came from:", style="bold")
            for row in b.engines:
                how.append(f"\n  {row['size']}: {row['duration_source']}")
            parts.append(how)
    parts.append(footnotes(b, detail))
    return Group(*parts)


def engines_table(b: Breakdown) -> Table:
    """The same month on each engine (function.engine picks one): what switching would cost."""
    t = Table(title="Both engines, same schedule and input", title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    t.add_column("Engine", ratio=1)  # wraps; the numbers never do
    t.add_column("s/run", justify="right", no_wrap=True, min_width=7)
    t.add_column("Compute/run", justify="right", no_wrap=True, min_width=11)
    t.add_column("Compute/mo", justify="right", no_wrap=True, min_width=10)
    t.add_column("Pay/mo", justify="right", no_wrap=True, min_width=10)
    for row in b.engines:
        marks = [m for m, on in (("configured", row["configured"]), ("minimum", row.get("minimum"))) if on]
        name = row["size"] + (f" ({', '.join(marks)})" if marks else "")
        t.add_row(
            Text(name, style="bold" if row["configured"] else ""),
            f"{row['seconds_per_run']:,.1f}",
            f"${row['compute_per_run']:.6f}" if row["compute_per_run"] < 0.01 else f"${row['compute_per_run']:,.4f}",
            money(row["compute_per_month"]),
            money(row["total_to_pay"]),
        )
    return t


def footnotes(b: Breakdown, detail: bool = True) -> Text:
    text = Text(style="dim")
    text.append(f"Prices: {b.prices}.")
    for note in b.price_notes:
        text.append(f"\n* {note}")
    text.append(
        "\nFree/mo is the always-free monthly allowance (per account, shared with everything else "
        "in it): Cost is before it, Pay after."
    )
    if detail:
        text.append("\nFree of charge:")
        for item in b.free_items:
            text.append(f"\n  - {item}")
        text.append("\nNot counted:")
        for item in b.not_counted:
            text.append(f"\n  - {item}")
    return text


def one_line(b: Breakdown) -> str:
    return f"{money(b.total_to_pay)}/month after the free tier ({money(b.total)} before it)"
