"""The `dataops` command line (click only): one module per command family over the library packages.

`cli` and `main` are loaded on first use, so the library modules that read `cli.exits` (the
exit codes) never import click or the commands.
"""

from __future__ import annotations

from typing import Any

__all__ = ["cli", "main"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from dataops_cli.cli import root

        return getattr(root, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
