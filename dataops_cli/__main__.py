"""`python -m dataops_cli` is the `dataops` command."""

from dataops_cli.cli import main

main()
