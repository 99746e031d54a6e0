"""Render a cost Breakdown with rich, readable at 80 columns: the table, then how each quantity was reached."""

from __future__ import annotations

from rich import box
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from dataops_cli.cost.model import Breakdown, CostRow
from dataops_cli.counts import plural

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
COUNTED_UNITS = {"metric", "dash", "alarm", "email"}  # nouns: "6 metrics"; the rest are abbreviations


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
    """The bill, one row per item. Numbers are never cut: their columns are as wide as their
    widest cell, and only the Item column wraps (at 80 columns, "Glue DPU-hours 10 x G.2X"
    takes two lines rather than "$10,2…" standing for $10,240)."""
    cells = [
        (
            row.item,
            quantity(row.quantity, row.unit),
            unit_price(row),
            money(row.cost),
            amount(row.free_allowance) if row.free_allowance else "–",
            money(row.to_pay),
        )
        for row in b.rows
    ]
    footers = ("Total", "", "", money(b.total), "", money(b.total_to_pay))
    headers = ("Item", "Quantity", "Price", "Cost", "Free/mo", "Pay")

    def widest(i: int) -> int:
        return max(len(headers[i]), len(footers[i]), *(len(c[i]) for c in cells))

    t = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False, show_footer=True)
    t.add_column("Item", footer="Total", ratio=1, min_width=9)  # wraps; the numbers never do
    for i, header in enumerate(headers[1:], start=1):
        footer: str | Text = Text(footers[i], style="bold") if header == "Pay" else footers[i]
        t.add_column(header, justify="right", no_wrap=True, min_width=widest(i), footer=footer)
    for row in cells:
        t.add_row(*row)
    return t


def quantity(value: float, unit: str) -> str:
    """`21,600 req`, `6 metrics`, `2 alarms`: a count of things takes the plural, an abbreviation does not."""
    short = SHORT_UNITS.get(unit, unit)
    if short in COUNTED_UNITS:
        return f"{amount(value)} {short if value == 1 else plural(short)}"
    return f"{amount(value)} {short}"


def render(b: Breakdown, title: str | None = None, detail: bool = True) -> RenderableType:
    parts: list[RenderableType] = [table(b, title or f"Monthly cost, {b.region} ({b.engine}, month = {b.month})")]
    if detail:
        parts.append(
            explained(
                "How each quantity was reached:",
                [Text.assemble((f"{row.item}: ", "bold"), row.basis) for row in b.rows],
            )
        )
        parts.append(
            explained(
                "Where the figures came from:",
                [Text(f"{name.replace('_', ' ')}: {text}") for name, text in b.sources.items()],
            )
        )
    for warning in b.warnings:
        parts.append(Text(f"warning: {warning}", style="bold yellow"))
    if b.skipping:
        parts.append(skipping_table(b.skipping))
    if b.engines:
        parts.append(engines_table(b))
        for row in b.engines:
            for warning in row.get("warnings", []):
                parts.append(Text(f"warning ({row['size']}): {warning}", style="yellow"))
        if detail:
            parts.append(
                explained(
                    "Where each engine's run time came from:",
                    [Text(f"{row['size']}: {row['duration_source']}") for row in b.engines],
                )
            )
    parts.append(footnotes(b, detail))
    return Group(*parts)


def explained(title: str, items: list[Text], bullet: str = "  ") -> Group:
    """A titled list whose long items wrap under themselves, not back at column 0."""
    return Group(Text(title, style="bold"), explained_grid(items, bullet))


def explained_grid(items: list[Text], bullet: str = "  ") -> Table:
    grid = Table.grid()
    grid.add_column(no_wrap=True, width=len(bullet))
    grid.add_column(ratio=1)
    for item in items:
        grid.add_row(bullet, item)
    return grid


def skipping_table(skip: dict) -> Group:
    """The month with pipeline.skip_unchanged on and off: a run on an unchanged input makes two
    GETs and writes nothing, so how often the input changes decides the bill."""
    runs, done, skipped = skip["runs"], skip["processing_runs"], skip["skipped_runs"]
    title = f"With and without skipping an unchanged input ({done:,.0f} of {runs:,.0f} runs process)"
    t = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    t.add_column("pipeline.skip_unchanged", ratio=1)
    t.add_column("Processing runs", justify="right", no_wrap=True)
    t.add_column("Cost/mo", justify="right", no_wrap=True, min_width=8)
    t.add_column("Pay/mo", justify="right", no_wrap=True, min_width=8)
    for on, key, processing in ((True, "with_skipping", done), (False, "without_skipping", runs)):
        name = f"{'true' if on else 'false'}" + (" (configured)" if on == skip["configured"] else "")
        t.add_row(
            Text(name, style="bold" if on == skip["configured"] else ""),
            f"{processing:,.0f}",
            money(skip[key]["total"]),
            money(skip[key]["to_pay"]),
        )
    why = Text(f"{skipped:,.0f} runs skip; {done:,.0f} process: {skip['basis']}", style="dim")
    return Group(t, explained_grid([why]), Text())


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


def footnotes(b: Breakdown, detail: bool = True) -> RenderableType:
    text = Text(style="dim")
    text.append(f"Prices: {b.prices}.")
    for note in b.price_notes:
        text.append(f"\n* {note}")
    text.append(
        "\nFree/mo is the always-free monthly allowance (per account, shared with everything else "
        "in it): Cost is before it, Pay after."
    )
    if not detail:
        return text
    free = explained("Free of charge:", [Text(item, style="dim") for item in b.free_items], bullet="  - ")
    missing = explained("Not counted:", [Text(item, style="dim") for item in b.not_counted], bullet="  - ")
    for part in (free, missing):
        part.renderables[0].style = "dim"
    return Group(text, free, missing)


def one_line(b: Breakdown) -> str:
    text = f"{money(b.total_to_pay)}/month after the free tier ({money(b.total)} before it)"
    if b.skipping:
        on, off = b.skipping["with_skipping"]["to_pay"], b.skipping["without_skipping"]["to_pay"]
        other = off if b.skipping["configured"] else on
        text += f"; {money(other)} {'without' if b.skipping['configured'] else 'with'} skipping an unchanged input"
    return text
