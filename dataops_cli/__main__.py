"""`python -m dataops_cli` is the `dataops` command."""

from dataops_cli.entry import main

main()
