"""Run the Spark job: `python -m handler.spark_job --input PATH --output DIR [options]`.

Input and output are local paths or s3:// URIs. The options are the function's
environment variables as flags, with the same defaults (QUALITY_HISTORY_RUNS is
--quality-history-runs, ...); an unknown extra argument (AWS Glue adds --JOB_ID,
--JOB_RUN_ID, --TempDir, ...) is ignored. Exit code 0 when the run succeeded or was
quarantined by a failing data-quality check (QUALITY_ON_FAILURE=block; one line on stderr
says so), 1 when it failed (the error is the last JSON line on stdout and one line on
stderr), 2 for bad arguments or options.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Any

from handler import contract
from handler.contract import DEFAULT_ZERO_AS_MISSING, QUALITY_ENV_PREFIX
from handler.errors import ConfigurationError, PipelineError
from handler.options import PipelineOptions
from handler.quality import QUALITY_FLAGS, QualitySettings
from handler.settings import bool_setting, int_setting
from handler.spark_job.job import JOB_NAME

EXIT_FAILED, EXIT_USAGE = 1, 2


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m handler.spark_job", description=__doc__.split("\n\n")[0])
    p.add_argument("--input", required=True, help="the CSV: a local path or s3://bucket/key")
    p.add_argument(
        "--output", required=True, help="the output root (runs/ and latest.json): a folder or s3://bucket/prefix/"
    )
    p.add_argument(
        "--zero-as-missing",
        default=",".join(DEFAULT_ZERO_AS_MISSING),
        help="comma-separated columns where 0 means missing (ZERO_AS_MISSING; '' for none)",
    )
    p.add_argument("--impute-strategy", default="median", help="median or mean (IMPUTE_STRATEGY)")
    p.add_argument("--normalize-method", default="minmax", help="minmax, zscore or none (NORMALIZE_METHOD)")
    p.add_argument("--normalize-exclude", default="Outcome", help="comma-separated columns (NORMALIZE_EXCLUDE)")
    p.add_argument(
        contract.spark_flag(contract.ENV_MAX_COLUMNS),
        default=str(contract.DEFAULT_MAX_COLUMNS),
        help=f"the widest input accepted (MAX_COLUMNS; default {contract.DEFAULT_MAX_COLUMNS})",
    )
    p.add_argument(
        contract.spark_flag(contract.ENV_ESCAPE_FORMULAS),
        default="false",
        help="true: formula-like text gets a leading ' in the outputs (ESCAPE_FORMULAS; default false)",
    )
    defaults = QualitySettings()
    for variable, flag in QUALITY_FLAGS.items():
        default = getattr(defaults, variable.removeprefix(QUALITY_ENV_PREFIX).lower())
        p.add_argument(flag, default=None, help=f"{variable} (default {default})")
    p.add_argument(
        contract.spark_flag(contract.ENV_SKIP_UNCHANGED),
        default="true",
        help="true: exit at once, before Spark starts, when the input, settings and code are the published run's "
        "(SKIP_UNCHANGED; default true)",
    )
    p.add_argument("--force", action="store_true", help="run in full even when nothing changed")
    p.add_argument("--trigger", default="manual", help="what started the run, recorded in run.json")
    p.add_argument(
        "--job-name",
        default=JOB_NAME,
        help=f"the `function` field of the log lines (Glue: the job's name; default {JOB_NAME})",
    )
    p.add_argument("--master", default=None, help="Spark master for a local run (default local[*])")
    return p


def options_from(args: argparse.Namespace) -> PipelineOptions:
    """The handler's PipelineOptions, validated by it (ConfigurationError names the setting)."""
    flags = {contract.ENV_MAX_COLUMNS: args.max_columns, contract.ENV_ESCAPE_FORMULAS: args.escape_formulas}
    return PipelineOptions(
        zero_as_missing=_split(args.zero_as_missing),
        impute_strategy=args.impute_strategy.strip() or "median",
        normalize_method=args.normalize_method.strip() or "minmax",
        normalize_exclude=_split(args.normalize_exclude),
        max_columns=int_setting(flags, contract.ENV_MAX_COLUMNS, contract.DEFAULT_MAX_COLUMNS),
        escape_formulas=bool_setting(flags, contract.ENV_ESCAPE_FORMULAS, contract.DEFAULT_ESCAPE_FORMULAS),
    )


def quality_from(args: argparse.Namespace) -> QualitySettings:
    """The handler's QualitySettings from the flags given, parsed and validated as the handler's environment is."""
    given = {
        variable: value
        for variable, flag in QUALITY_FLAGS.items()
        if (value := getattr(args, flag.removeprefix("--").replace("-", "_"))) is not None
    }
    return QualitySettings.from_environ(given)


def _split(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def local_session(master: str | None = None) -> Any:
    """A SparkSession for local runs and tests; in AWS Glue getOrCreate() returns Glue's.

    Local mode keeps Spark's shuffles small (8 partitions, not 200) and writes no .crc or
    _SUCCESS files beside the parts. DATAOPS_SPARK_DRIVER_MEMORY (default 2g) sizes the
    one JVM that local mode has.
    """
    from pyspark.sql import SparkSession

    return (
        SparkSession.builder.master(master or "local[*]")
        .appName("dataops-pipeline")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.memory", os.environ.get("DATAOPS_SPARK_DRIVER_MEMORY", "2g"))
        .config("spark.sql.shuffle.partitions", "8")
        .config("spark.hadoop.fs.file.impl", "org.apache.hadoop.fs.RawLocalFileSystem")
        .config("spark.hadoop.fs.file.impl.disable.cache", "true")
        .config("spark.hadoop.mapreduce.fileoutputcommitter.marksuccessfuljobs", "false")
        .getOrCreate()
    )


def main(argv: Sequence[str] | None = None) -> int:
    args, _ignored = parser().parse_known_args(argv)
    try:
        options = options_from(args)
        quality = quality_from(args)
        flags = {contract.ENV_SKIP_UNCHANGED: args.skip_unchanged}
        skip = bool_setting(flags, contract.ENV_SKIP_UNCHANGED, contract.DEFAULT_SKIP_UNCHANGED) and not args.force
    except ConfigurationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        import pyspark  # noqa: F401
    except ImportError:
        print("error: pyspark is not installed: pip install -e '.[spark]' (and Java 17)", file=sys.stderr)
        return EXIT_USAGE
    import boto3
    from pyspark.sql import SparkSession

    from .job import run_job
    from .skip import skip_if_unchanged
    from .store import open_input, open_output

    s3 = boto3.client("s3") if args.input.startswith("s3://") or args.output.startswith("s3://") else None
    try:
        if skip and skip_if_unchanged(
            open_input(args.input, s3), open_output(args.output, s3), options, quality, args.job_name
        ):
            return 0
    except PipelineError as exc:
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    ours = SparkSession.getActiveSession() is None  # Glue's (or a caller's) session is not ours to stop
    spark = local_session(args.master)
    spark.sparkContext.setLogLevel("ERROR")
    try:
        result = run_job(
            spark,
            open_input(args.input, s3),
            open_output(args.output, s3),
            options,
            trigger=args.trigger,
            job_name=args.job_name,
            quality=quality,
            distinct_inputs=skip,
        )
    except PipelineError as exc:
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        if ours:
            spark.stop()
    if result["status"] == "quarantined":
        names = ", ".join(check["name"] for check in result["failed_checks"])
        print(f"run {result['run_id']} quarantined: failing checks {names}; latest.json unchanged", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
