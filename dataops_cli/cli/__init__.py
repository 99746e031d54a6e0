"""The `dataops` command line (click only): one module per command family over the library packages."""

from dataops_cli.cli.root import cli, main

__all__ = ["cli", "main"]
