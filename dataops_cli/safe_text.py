"""Text that came from the data (column names, cell values, run errors, log lines) made safe to print.

A CSV header is anybody's text. Printed as rich markup, a column named `[/]` ends the command
with `rich.errors.MarkupError`; printed raw, a name holding `ESC[2J` clears the reader's screen
(and other escape sequences can retitle the window or fake output). So every view passes
data-derived text through here before it reaches the terminal:

- `printable` shows control characters (C0, DEL, C1, and the bidirectional overrides that can
  reorder a line, "Trojan Source") as visible escapes (`\\x1b`, `\\u202e`); newlines and tabs are
  kept only where a view asks for them (a multi-line log message).
- `markup_safe` is `printable` plus rich's markup escape, for a string that goes through rich's
  markup parser (a table cell given as `str`, a `console.print` with markup on).
- `data_text` is a `rich.text.Text` of the printable text: never parsed as markup, whatever it holds.
"""

from __future__ import annotations

import re

from rich.markup import escape
from rich.text import Text

# C0 controls, DEL, C1 controls, and the Unicode bidi embeddings/overrides/isolates.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_CONTROL_KEEP_LINES = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _visible(match: re.Match[str]) -> str:
    code = ord(match[0])
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(value: object, keep_newlines: bool = False) -> str:
    """`value` as text with every control character shown as an escape (`\\x1b`), never acted on.

    With `keep_newlines`, line feeds and tabs stay (a log message's traceback lines)."""
    text = value if isinstance(value, str) else str(value)
    return (_CONTROL_KEEP_LINES if keep_newlines else _CONTROL).sub(_visible, text)


def markup_safe(value: object, keep_newlines: bool = False) -> str:
    """Printable text that rich's markup parser shows as written (`[/]` stays `[/]`)."""
    return escape(printable(value, keep_newlines))


def data_text(value: object, style: str = "", keep_newlines: bool = False) -> Text:
    """A rich Text of the printable text: safe in a table cell or a print, with or without markup."""
    return Text(printable(value, keep_newlines), style=style)
