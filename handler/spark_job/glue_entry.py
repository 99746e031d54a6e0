"""The AWS Glue job's script: Glue's job arguments -> `python -m handler.spark_job`'s.

`dataops up` uploads this file as the job's ScriptLocation and handler/ (zipped) as its
--extra-py-files. The job's DefaultArguments carry the function's environment variables
as `--BUCKET_NAME value` pairs (the same contract as the Lambda's), so both engines read
one set of settings. Glue adds its own (--JOB_ID, --JOB_RUN_ID, --TempDir, ...): ignored.
Plain argv parsing, not awsglue.getResolvedOptions, so the translation is tested without Glue.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from handler import contract
from handler.quality import QUALITY_FLAGS

REQUIRED = (
    contract.ENV_BUCKET,
    contract.ENV_INPUT_KEY,
    contract.ENV_OUTPUT_PREFIX,
    contract.ENV_ZERO_AS_MISSING,
    contract.ENV_IMPUTE_STRATEGY,
    contract.ENV_NORMALIZE_METHOD,
    contract.ENV_NORMALIZE_EXCLUDE,
)
# The pipeline settings added after the first Glue jobs were deployed, and their flags.
PIPELINE_FLAGS = {
    name: contract.spark_flag(name)
    for name in (contract.ENV_MAX_COLUMNS, contract.ENV_ESCAPE_FORMULAS, contract.ENV_SKIP_UNCHANGED)
}
# Sent by `up` too, but optional here: a job deployed before the Spark job had data-quality
# checks (or these settings) lacks them, and they then take their defaults.
OPTIONAL = (*QUALITY_FLAGS, *PIPELINE_FLAGS)
OPTIONAL_FLAGS = {**QUALITY_FLAGS, **PIPELINE_FLAGS}
# An empty argument value does not survive Glue's `--KEY value` argv (the value vanishes and
# the next flag is read as it), so `up` sends an empty column list as this.
EMPTY = "-"


class JobArgumentError(ValueError):
    """A job argument `up` always sets is missing: the job was changed outside dataops."""


def job_arguments(argv: Sequence[str]) -> dict[str, str]:
    """`--KEY value` pairs (and `--KEY=value`); a flag without a value maps to ''."""
    found: dict[str, str] = {}
    items = list(argv)
    index = 0
    while index < len(items):
        item = items[index]
        index += 1
        if not item.startswith("--"):
            continue
        key, sep, value = item[2:].partition("=")
        if not sep and index < len(items) and not items[index].startswith("--"):
            value = items[index]
            index += 1
        found[key] = value
    return found


def spark_job_argv(argv: Sequence[str]) -> list[str]:
    """The argv of `python -m handler.spark_job` for these Glue job arguments."""
    args = job_arguments(argv)
    missing = [key for key in REQUIRED if key not in args]
    if missing:
        raise JobArgumentError(
            "job argument(s) " + ", ".join(f"--{k}" for k in missing) + " missing: run `dataops up` to restore the job"
        )

    def columns(key: str) -> str:
        return "" if args[key] == EMPTY else args[key]

    bucket = args[contract.ENV_BUCKET]
    return [
        "--input",
        f"s3://{bucket}/{args[contract.ENV_INPUT_KEY]}",
        "--output",
        f"s3://{bucket}/{args[contract.ENV_OUTPUT_PREFIX]}",
        "--zero-as-missing",
        columns(contract.ENV_ZERO_AS_MISSING),
        "--impute-strategy",
        args[contract.ENV_IMPUTE_STRATEGY],
        "--normalize-method",
        args[contract.ENV_NORMALIZE_METHOD],
        "--normalize-exclude",
        columns(contract.ENV_NORMALIZE_EXCLUDE),
        *[item for key in OPTIONAL if key in args for item in (OPTIONAL_FLAGS[key], args[key])],
        "--trigger",
        args.get("TRIGGER", "glue"),
        # Glue passes the job's name as --JOB_NAME: log lines carry it, so the dashboard's Logs
        # Insights tables (over groups every Glue job shares) keep to this stack's job.
        *(["--job-name", args["JOB_NAME"]] if args.get("JOB_NAME") else []),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    from handler.spark_job.__main__ import EXIT_USAGE
    from handler.spark_job.__main__ import main as run

    try:
        translated = spark_job_argv(sys.argv[1:] if argv is None else argv)
    except JobArgumentError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return run(translated)


if __name__ == "__main__":
    code = main()
    if code:  # Glue marks the run FAILED only when the script raises or exits non-zero
        sys.exit(code)
