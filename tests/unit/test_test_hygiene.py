"""A fresh clone is not a fresh machine: no test may touch an absolute path outside the repository.

A leftover debug line once wrote `/tmp/opx/...`, a folder that existed only on the machine
that wrote it, so the suite passed there and failed everywhere else. Tests write under
`tmp_path`; the only absolute paths a test may name are fake values that are never opened
(a Lambda stack frame's `/var/task/...`, a path inside a message) and the places every Linux
machine has (`/proc`, `/dev/null`) or no machine has (`/nonexistent`).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]

# Roots where a path would name something on one machine only.
MACHINE_ROOTS = re.compile(r"^/(tmp|var|home|root|work|opt|srv|mnt|media|usr|etc|Users|private|data|run)(/|$)")
# Fake values used in messages and stack traces, never opened.
FAKE_VALUES = ("/var/task/", "/home/someone/")


def _string_heads(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """Every string constant, and the literal head of every f-string, with its line."""
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr) and node.values and isinstance(node.values[0], ast.Constant):
            yield node.lineno, str(node.values[0].value)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            yield node.lineno, node.value


def machine_paths(source: str) -> list[tuple[int, str]]:
    """The absolute paths in `source` that would name a file on one machine only."""
    heads = set(_string_heads(ast.parse(source)))  # an f-string's head is also a constant of its own
    return sorted(
        (line, text) for line, text in heads if MACHINE_ROOTS.match(text) and not text.startswith(FAKE_VALUES)
    )


def test_no_test_names_an_absolute_path_outside_the_repository():
    offenders = [
        f"{path.relative_to(TESTS.parent)}:{line}: {text!r}"
        for path in sorted(TESTS.rglob("*.py"))
        for line, text in machine_paths(path.read_text(encoding="utf-8"))
    ]
    assert not offenders, "use tmp_path instead of:\n" + "\n".join(offenders)


def test_the_scan_finds_the_leftover_that_broke_fresh_machines():
    root = "/"  # spelled apart so that no absolute path stands in this file (its own scan, and others')
    leftover = f'Path(f"{root}tmp/opx/status_{{columns}}.txt").write_text(shown)\nopen("{root}home/me/x.csv")\n'
    assert machine_paths(leftover) == [(1, root + "tmp/opx/status_"), (2, root + "home/me/x.csv")]
    assert machine_paths('STREAM = "/var/task/handler/x.py"\nopen("/proc/self/stat")\n') == []
