"""Every exit code `dataops` uses, in one place (docs/operations.md has the table).

Imports nothing: the library modules that carry a code (a DataopsError's `exit_code`,
status's Health) read it from here, so a code never has two spellings.
"""

OK = 0  # done; for status: healthy, or only warnings
FAILED = 1  # an AWS or input error, a failed run, or what `down` left; status: the check itself failed
USAGE = 2  # bad config or option, an unusable input or environment
FAILING = 3  # status: the pipeline is failing
NOT_DEPLOYED = 4  # status: not deployed, or resources missing
INCOMPLETE = 5  # status, dashboard, runs: shown, but a source could not be read (named): not the whole picture
INTERRUPTED = 130  # Ctrl-C (128 + SIGINT)
