"""The `dataops` console script: imports the CLI with Ctrl-C already handled.

Importing the CLI (boto3, rich) takes a few hundred milliseconds; a Ctrl-C in that time
would print a raw KeyboardInterrupt traceback. This module imports nothing heavy itself.
"""

from __future__ import annotations

import sys
from typing import NoReturn

import dataops_cli.cli.exits as exits

EXIT_INTERRUPTED = exits.INTERRUPTED


def main() -> NoReturn:
    try:
        from dataops_cli.cli import main as cli_main

        cli_main()
    except KeyboardInterrupt:  # before the CLI could name a step (it handles its own)
        sys.stderr.write("error: interrupted (Ctrl-C) while starting; nothing was changed\n")
        sys.exit(EXIT_INTERRUPTED)
    sys.exit(exits.OK)
