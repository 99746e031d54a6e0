"""The Glue job's script: Glue's `--KEY value` job arguments -> the Spark job's argv."""

from __future__ import annotations

import pytest

from dataops_cli.config import Config
from dataops_cli.deploy.resources.glue import job_arguments
from handler.spark_job.glue_entry import JobArgumentError, main, spark_job_argv


def glue_argv(arguments: dict[str, str]) -> list[str]:
    """What Glue passes the script: its own arguments, then the job's, as `--KEY value` pairs."""
    argv = ["script.py", "--JOB_ID", "j_1", "--JOB_RUN_ID", "jr_1", "--job-bookmark-option", "job-bookmark-disable"]
    for key, value in arguments.items():
        argv += [key, value]
    return argv[1:]


def test_the_jobs_default_arguments_become_the_spark_jobs_options():
    argv = spark_job_argv(glue_argv(job_arguments(Config())))
    assert argv == [
        "--input",
        "s3://dataops-pipeline-bucket/diabetes_preprocessed.csv",
        "--output",
        "s3://dataops-pipeline-bucket/processed/",
        "--zero-as-missing",
        "Glucose,BloodPressure,SkinThickness,Insulin,BMI",
        "--impute-strategy",
        "median",
        "--normalize-method",
        "minmax",
        "--normalize-exclude",
        "Outcome",
        "--quality-history-runs",
        "20",
        "--quality-on-failure",
        "warn",
        "--quality-row-count-min-factor",
        "0.5",
        "--quality-row-count-max-factor",
        "2.0",
        "--quality-missing-rate-margin",
        "0.1",
        "--quality-max-missing-rate",
        "0.95",
        "--quality-max-mean-shift",
        "0.5",
        "--quality-max-correlation-change",
        "0.3",
        "--max-columns",
        "1000",
        "--escape-formulas",
        "false",
        "--skip-unchanged",
        "true",
        "--trigger",
        "glue",
    ]


def test_quality_settings_travel_to_the_spark_job_and_are_optional():
    from dataops_cli.config import parse_config
    from handler.spark_job.__main__ import parser, quality_from

    config = parse_config({"quality": {"on_failure": "block", "history_runs": 5, "max_mean_shift": 0.25}})
    settings = quality_from(parser().parse_args(spark_job_argv(glue_argv(job_arguments(config)))))
    assert (settings.on_failure, settings.history_runs, settings.max_mean_shift) == ("block", 5, 0.25)
    # A job deployed before the Spark job had the checks has no QUALITY_* arguments: defaults.
    older = {k: v for k, v in job_arguments(Config()).items() if not k.startswith("--QUALITY_")}
    argv = spark_job_argv(glue_argv(older))
    assert not any(a.startswith("--quality") for a in argv)
    assert quality_from(parser().parse_args(argv)).history_runs == 20


def test_an_empty_column_list_travels_as_a_dash_and_arrives_empty():
    from dataops_cli.config import parse_config

    config = parse_config({"pipeline": {"zero_as_missing": [], "normalize_exclude": []}})
    argv = spark_job_argv(glue_argv(job_arguments(config)))
    assert argv[argv.index("--zero-as-missing") + 1] == ""
    assert argv[argv.index("--normalize-exclude") + 1] == ""


def test_equals_form_and_trigger_are_read():
    arguments = {f"--{k}={v}" for k, v in Config().handler_environment().items()}
    argv = spark_job_argv([*sorted(arguments), "--TRIGGER", "schedule"])
    assert argv[-1] == "schedule" and argv[1] == "s3://dataops-pipeline-bucket/diabetes_preprocessed.csv"


def test_a_missing_argument_names_it_and_exits_2(capsys):
    arguments = job_arguments(Config())
    del arguments["--INPUT_KEY"], arguments["--OUTPUT_PREFIX"]
    with pytest.raises(JobArgumentError, match="--INPUT_KEY, --OUTPUT_PREFIX missing"):
        spark_job_argv(glue_argv(arguments))
    assert main(glue_argv(arguments)) == 2
    assert "--INPUT_KEY, --OUTPUT_PREFIX missing: run `dataops up`" in capsys.readouterr().err
