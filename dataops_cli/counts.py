"""One way to write counts everywhere the CLI prints them: `1,500,000 rows`, `6 metrics`, shapes.

Before this module `status` said `1500000` and `1272674` while `runs` said `1,500,000`, and
the cost table said "6 metric" and "2 alarm". Every view formats counts through these three
functions, so a number reads the same wherever it appears.
"""

from __future__ import annotations


def count(value: float | None, missing: str = "–") -> str:
    """A count with thousands separators (`1,272,674`); a fraction keeps one decimal (`2.5`)."""
    if value is None:
        return missing
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.1f}"


def plural(noun: str) -> str:
    """English plural of the nouns the CLI counts (run, error, metric, alarm, match, entry)."""
    if noun.endswith("y") and noun[-2:-1] not in ("a", "e", "o", "u", ""):
        return noun[:-1] + "ies"
    return noun + ("es" if noun.endswith(("s", "x", "ch", "sh")) else "s")


def counted(value: float, noun: str) -> str:
    """`1 run`, `2 runs`, `1,500,000 rows`: the count, then the noun in the number it needs."""
    return f"{count(value)} {noun if value == 1 else plural(noun)}"


def shape(rows: float | None, columns: float | None) -> str:
    """A table's shape: rows, a multiplication sign, columns (a dash when unknown)."""
    if rows is None:
        return "–"
    return f"{count(rows)} × {count(columns)}"
