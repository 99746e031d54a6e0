"""Text that a spreadsheet would run as a formula, and its escaped form.

OWASP, "CSV Injection" (https://owasp.org/www-community/attacks/CSV_Injection): a cell that
starts with `=`, `+`, `-`, `@`, a tab (0x09) or a carriage return (0x0D) is interpreted as a
formula by Excel, LibreOffice and Google Sheets when the CSV is opened (`=HYPERLINK(...)`
runs); prepending a single quote makes them show it as text. A number such as `-1` or
`+2.5e3` is not text and is never flagged or changed.

The data-quality check `formula_like_text` counts these cells in cleaned.csv's text columns
and its column names; with `pipeline.escape_formulas = true` (default false: the data stays
exact unless asked) cleaned.csv and correlation.csv write them with the leading quote. The
patterns are plain RE2/Java/Python regexes so Arrow, Spark and Python apply the same rule.
"""

from __future__ import annotations

import re
from typing import Any

STARTS_LIKE_FORMULA = r"^[=+\-@\t\r]"
PLAIN_NUMBER = r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$"
PREFIX = "'"
_STARTS = re.compile(STARTS_LIKE_FORMULA)
_NUMBER = re.compile(PLAIN_NUMBER)


def is_formula_like(text: str) -> bool:
    """Whether a spreadsheet would take this cell (or column name) for a formula."""
    return bool(_STARTS.match(text)) and not _NUMBER.match(text)


def escape(text: str) -> str:
    """The text with OWASP's leading quote when it is formula-like; unchanged otherwise."""
    return PREFIX + text if is_formula_like(text) else text


def escape_names(names: list[str], enabled: bool) -> list[str]:
    return [escape(name) for name in names] if enabled else list(names)


def formula_like_mask(values: Any) -> Any:
    """A boolean Arrow array: which values of a string array are formula-like (nulls: false)."""
    import pyarrow.compute as pc

    starts = pc.match_substring_regex(values, STARTS_LIKE_FORMULA)
    number = pc.match_substring_regex(values, PLAIN_NUMBER)
    return pc.fill_null(pc.and_(starts, pc.invert(number)), False)


def escape_array(values: Any) -> Any:
    """A string array with the leading quote added to its formula-like values."""
    import pyarrow.compute as pc

    prefixed = pc.binary_join_element_wise(PREFIX, values, "")
    return pc.if_else(formula_like_mask(values), prefixed, values)


def formula_like_summary(names: list[str], cells: dict[str, int], escaped: bool) -> dict[str, Any]:
    """The profile's `formula_like` entry: flagged column names, flagged cells per text column."""
    return {
        "headers": [name for name in names if is_formula_like(name)],
        "cells": {name: int(count) for name, count in cells.items() if count},
        "escaped": escaped,
    }


def count_in_columns(text_columns: dict[str, Any]) -> dict[str, int]:
    """Formula-like cells per Arrow string column (the cleaned table's text columns)."""
    import pyarrow.compute as pc

    return {name: int(pc.sum(formula_like_mask(values)).as_py() or 0) for name, values in text_columns.items()}
