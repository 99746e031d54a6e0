"""Fill the config template: replace some keys' values, each with comment lines saying why.

Plain text edits rather than a TOML writer, so every comment of the template survives. Values
are written as TOML literals here and the result is validated by the config loader before it
is saved (`project.write_project`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

_SECTION = re.compile(r"\[([A-Za-z_]+)\]\s*$")
_KEY = re.compile(r"([A-Za-z_]+) = ")

Value = str | int | bool | tuple[str, ...]


@dataclass(frozen=True)
class Setting:
    """One key to set in the template, and the comment lines (without "# ") explaining it."""

    section: str
    key: str
    value: Value
    notes: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return f"{self.section}.{self.key}"


def toml_string(text: str) -> str:
    """A TOML basic string: quote, backslash and control characters escaped (TOML 1.0, "String")."""
    escaped = []
    for char in text:
        if char in '"\\':
            escaped.append("\\" + char)
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            escaped.append(f"\\u{ord(char):04X}")
        else:
            escaped.append(char)
    return '"' + "".join(escaped) + '"'


def toml_value(value: Value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return toml_string(value)
    return "[" + ", ".join(toml_string(item) for item in value) + "]"


def comment_text(text: str) -> str:
    """Text safe in a TOML comment line: no control character (a newline would end the comment)."""
    return "".join(char if char.isprintable() else f"\\u{ord(char):04X}" for char in text)


def render(template: str, settings: Sequence[Setting]) -> str:
    """The template with each setting's line replaced, its notes as comments just above it.

    Raises ValueError when a setting names a key the template does not have: the template and
    the code would disagree, which is a bug, never the user's input."""
    wanted = {(s.section, s.key): s for s in settings}
    done: set[tuple[str, str]] = set()
    section = ""
    lines = []
    for line in template.splitlines(keepends=True):
        if header := _SECTION.match(line):
            section = header[1]
        elif (key := _KEY.match(line)) and (setting := wanted.get((section, key[1]))):
            lines += [f"# {comment_text(note)}\n" for note in setting.notes]
            lines.append(f"{setting.key} = {toml_value(setting.value)}\n")
            done.add((section, setting.key))
            continue
        lines.append(line)
    missing = sorted(s.name for k, s in wanted.items() if k not in done)
    if missing:
        raise ValueError(f"the config template has no line for {', '.join(missing)}")
    return "".join(lines)
