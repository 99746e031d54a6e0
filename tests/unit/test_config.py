"""config.toml loading and validation: one clear line per bad value."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from dataops_cli.config import Config, ConfigError, load_config, parse_config
from tests.conftest import REPO


def error_for(raw: dict) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_config(raw, source="config.toml")
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_committed_config_equals_the_built_in_defaults_but_for_the_sample_path():
    loaded = load_config(REPO / "config.toml")
    assert loaded.bucket.input_file == "dataops_cli/starter/diabetes_preprocessed.csv"
    assert replace(loaded, bucket=replace(loaded.bucket, input_file=Config().bucket.input_file)) == Config()
    assert loaded.input_path == REPO / "dataops_cli" / "starter" / "diabetes_preprocessed.csv"
    assert loaded.input_path.is_file()


def test_defaults_are_the_pipeline_values():
    config = Config()
    assert (config.bucket.name, config.region) == ("dataops-pipeline-bucket", "ap-south-1")
    assert (config.function.name, config.function.runtime) == ("DataOpsPipelineFunction", "python3.12")
    assert (config.function.memory_mb, config.function.timeout_seconds) == (1024, 60)
    assert config.function.layer_name == "AWSSDKPandas-Python312"
    assert config.schedule.expression == "rate(2 minutes)" and config.schedule.flexible_window_minutes == 0
    assert config.handler_environment() == {
        "BUCKET_NAME": "dataops-pipeline-bucket",
        "INPUT_KEY": "diabetes_preprocessed.csv",
        "OUTPUT_PREFIX": "processed/",
        "ZERO_AS_MISSING": "Glucose,BloodPressure,SkinThickness,Insulin,BMI",
        "IMPUTE_STRATEGY": "median",
        "NORMALIZE_METHOD": "minmax",
        "NORMALIZE_EXCLUDE": "Outcome",
        "MAX_COLUMNS": "1000",
        "ESCAPE_FORMULAS": "false",
        "SKIP_UNCHANGED": "true",
        "QUALITY_HISTORY_RUNS": "20",
        "QUALITY_ON_FAILURE": "warn",
        "QUALITY_ROW_COUNT_MIN_FACTOR": "0.5",
        "QUALITY_ROW_COUNT_MAX_FACTOR": "2.0",
        "QUALITY_MISSING_RATE_MARGIN": "0.1",
        "QUALITY_MAX_MISSING_RATE": "0.95",
        "QUALITY_MAX_MEAN_SHIFT": "0.5",
        "QUALITY_MAX_CORRELATION_CHANGE": "0.3",
    }
    assert config.all_tags == {"Project": "dataops", "dataops:stack": "dataops"}


def test_unknown_key_suggests_the_close_one():
    assert error_for({"function": {"memroy_mb": 512}}) == (
        "config.toml: unknown key 'function.memroy_mb' (did you mean 'memory_mb'?)"
    )


def test_unknown_section():
    assert "unknown section [functon] (did you mean 'function'?)" in error_for({"functon": {}})


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"function": {"memory_mb": "1024"}}, "function.memory_mb = '1024' has the wrong type: expected an integer"),
        ({"function": {"memory_mb": True}}, "function.memory_mb = true has the wrong type: expected an integer"),
        ({"schedule": {"enabled": "yes"}}, "schedule.enabled = 'yes' has the wrong type: expected true or false"),
        ({"pipeline": {"zero_as_missing": "Glucose"}}, "expected a list of strings"),
        ({"function": 5}, "function must be a table ([function]), got int 5"),
    ],
)
def test_wrong_types(raw, expected):
    assert expected in error_for(raw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            {"function": {"memory_mb": 64}},
            "function.memory_mb = 64 is not allowed: expected an integer from 128 to 10240 MB",
        ),
        ({"function": {"memory_mb": 10241}}, "from 128 to 10240"),
        (
            {"function": {"timeout_seconds": 0}},
            "function.timeout_seconds = 0 is not allowed: expected an integer from 1 to 900",
        ),
        ({"function": {"timeout_seconds": 901}}, "from 1 to 900"),
        (
            {"function": {"log_retention_days": 10}},
            "function.log_retention_days = 10 is not allowed: expected one of 1, 3, 5, 7, 14",
        ),
        ({"function": {"runtime": "python2.7"}}, "function.runtime = 'python2.7' is not allowed"),
        ({"function": {"layer_arn": "AWSSDKPandas"}}, "function.layer_arn = 'AWSSDKPandas' is not allowed"),
        ({"bucket": {"name": "My_Bucket"}}, "bucket.name = 'My_Bucket' is not allowed: expected 3-63 lowercase"),
        ({"bucket": {"name": "ab"}}, "bucket.name = 'ab'"),
        ({"bucket": {"name": "a..b"}}, "no '..'"),
        ({"bucket": {"name": "192.168.1.1"}}, "not formatted as an IP address"),
        ({"bucket": {"name": "xn--bucket"}}, "reserved prefixes"),
        (
            {"bucket": {"output_prefix": "processed"}},
            "bucket.output_prefix = 'processed' is not allowed: expected a key prefix ending in '/'",
        ),
        ({"bucket": {"input_key": "processed/in.csv"}}, "lies under bucket.output_prefix"),
        (
            {"schedule": {"expression": "every 2 minutes"}},
            "schedule.expression = 'every 2 minutes' is not allowed: expected rate(N minutes|hours|days)",
        ),
        ({"schedule": {"expression": "rate(banana)"}}, "expected rate(N"),
        ({"schedule": {"expression": "rate(1 minutes)"}}, "e.g. rate(1 minute)"),
        ({"schedule": {"expression": "rate(2 minute)"}}, "e.g. rate(2 minutes)"),
        ({"schedule": {"expression": "cron(0 12 * * *)"}}, "six cron fields"),
        ({"schedule": {"expression": "cron(0 12 * * MON *)"}}, "'?' in exactly one of day-of-month and day-of-week"),
        ({"schedule": {"expression": "cron(61 12 * * ? *)"}}, "minutes values from 0 to 59, got '61'"),
        ({"schedule": {"expression": "at(2020-01-01T00:00:00)"}}, "is in the past"),
        ({"schedule": {"timezone": "Mars/Base"}}, "an IANA time zone name"),
        ({"schedule": {"flexible_window_minutes": 1441}}, "from 0 to 1440 minutes (0 = OFF)"),
        ({"stack": {"region": "Mumbai"}}, "stack.region = 'Mumbai' is not allowed: expected an AWS region code"),
        ({"stack": {"name": "9lives"}}, "starting with a letter"),
        ({"alarm": {"email": "ops"}}, "alarm.email = 'ops' is not allowed"),
        (
            {"pipeline": {"impute_strategy": "mode"}},
            "pipeline.impute_strategy = 'mode' is not allowed: expected one of 'median', 'mean'",
        ),
        ({"pipeline": {"normalize_method": "robust"}}, "expected one of 'minmax', 'zscore', 'none'"),
        ({"pipeline": {"normalize_exclude": ["A", "A"]}}, "repeated: A"),
        ({"quality": {"on_failure": "stop"}}, "quality.on_failure = 'stop' is not allowed: expected one of 'warn'"),
        (
            {"quality": {"history_runs": 0}},
            "quality.history_runs = 0 is not allowed: expected an integer from 1 to 1000",
        ),
        ({"quality": {"max_mean_shift": 0}}, "quality.max_mean_shift = 0.0 is not allowed: expected a number above 0"),
        (
            {"quality": {"row_count_min_factor": 1.5}},
            "quality.row_count_min_factor = 1.5 is not allowed: expected a number from 0 to 1",
        ),
        ({"quality": {"row_count_max_factor": float("inf")}}, "quality.row_count_max_factor = inf is not allowed"),
        ({"quality": {"max_missing_rate": float("nan")}}, "quality.max_missing_rate = nan is not allowed"),
        (
            {"quality": {"max_mean_shift": "0.5"}},
            "quality.max_mean_shift = '0.5' has the wrong type: expected a number",
        ),
        ({"quality": {"max_mean_shift": True}}, "has the wrong type: expected a number"),
        ({"quality": {"treshold": 1}}, "unknown key 'quality.treshold'"),
        ({"tags": {"aws:x": "1"}}, "not starting with 'aws:'"),
        ({"tags": {"dataops:stack": "x"}}, "other than 'dataops:stack'"),
        ({"tags": {"Owner": 5}}, "[tags] must map tag keys to string values"),
    ],
)
def test_impossible_values(raw, expected):
    assert expected in error_for(raw)


def test_quality_section_integers_are_numbers_and_reach_the_environment():
    config = parse_config({"quality": {"row_count_max_factor": 3, "on_failure": "block", "history_runs": 5}})
    assert config.quality.row_count_max_factor == 3.0 and isinstance(config.quality.row_count_max_factor, float)
    env = config.handler_environment()
    assert (env["QUALITY_ROW_COUNT_MAX_FACTOR"], env["QUALITY_ON_FAILURE"], env["QUALITY_HISTORY_RUNS"]) == (
        "3.0",
        "block",
        "5",
    )
    assert config.quality_alarm_name == "DataOpsPipelineFunction-quality-failures"
    assert config.quality_history_key == "processed/quality/history.json"


def test_pipeline_width_limit_and_formula_escaping_reach_the_environment():
    config = parse_config({"pipeline": {"max_columns": 50, "escape_formulas": True}})
    env = config.handler_environment()
    assert (env["MAX_COLUMNS"], env["ESCAPE_FORMULAS"]) == ("50", "true")
    assert "pipeline.max_columns" in error_for({"pipeline": {"max_columns": 0}})
    assert "an integer from 1 to 100000 columns" in error_for({"pipeline": {"max_columns": 100_001}})
    assert "pipeline.escape_formulas" in error_for({"pipeline": {"escape_formulas": "yes"}})


def test_valid_alternatives_are_accepted():
    config = parse_config(
        {
            "schedule": {"expression": "cron(0/15 8-18 ? * MON-FRI *)", "timezone": "Asia/Kolkata"},
            "function": {
                "memory_mb": 128,
                "timeout_seconds": 900,
                "layer_arn": "arn:aws:lambda:ap-south-1:336392948345:layer:AWSSDKPandas-Python312:29",
            },
            "bucket": {"name": "my.data-bucket-01"},
            "alarm": {"email": "ops@example.com"},
        }
    )
    assert config.function.memory_mb == 128
    assert config.schedule.timezone == "Asia/Kolkata"


def test_missing_file_and_bad_toml(tmp_path: Path):
    with pytest.raises(ConfigError, match=r"config file '.*nope.toml' not found"):
        load_config(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[function]\nmemory_mb = \n")
    with pytest.raises(ConfigError, match=r"bad.toml: invalid TOML: .*line 2"):
        load_config(bad)


def test_input_file_is_relative_to_the_config_file(tmp_path: Path):
    path = tmp_path / "conf" / "dataops.toml"
    path.parent.mkdir()
    path.write_text('[bucket]\ninput_file = "../mine.csv"\n')
    assert load_config(path).input_path == tmp_path / "conf" / ".." / "mine.csv"


def test_derived_names_are_deterministic():
    config = parse_config({"stack": {"name": "team-a"}, "function": {"name": "Fn"}})
    assert config.execution_role == "team-a-lambda-exec"
    assert config.scheduler_role == "team-a-scheduler-invoke"
    assert config.schedule_group == "team-a-schedules"
    assert config.log_group == "/aws/lambda/Fn"
    assert config.alarm_name == "Fn-errors"


def test_cli_entry_points_show_version_and_help():
    import subprocess
    import sys

    version = subprocess.run([sys.executable, "-m", "dataops_cli", "--version"], capture_output=True, text=True)
    assert version.returncode == 0 and version.stdout.startswith("dataops, version ")
    helptext = subprocess.run([sys.executable, "-m", "dataops_cli", "--help"], capture_output=True, text=True)
    assert helptext.returncode == 0
    for command in ("up", "down", "status", "logs", "invoke", "config"):
        assert f"  {command} " in helptext.stdout


def test_config_command_prints_derived_names(tmp_path):
    from click.testing import CliRunner

    from dataops_cli.cli import cli

    result = CliRunner().invoke(cli, ["--config", str(REPO / "config.toml"), "config"])
    assert result.exit_code == 0
    assert "dataops-lambda-exec" in result.output and "dataops-schedules/dataops-run-pipeline" in result.output
    bad = tmp_path / "bad.toml"
    bad.write_text("[function]\nmemory_mb = 99999\n")
    failed = CliRunner().invoke(cli, ["--config", str(bad), "config"])
    assert failed.exit_code == 2
    message = " ".join(failed.output.split())  # wrapped at the pipe's width
    assert "function.memory_mb = 99999 is not allowed: expected an integer from 128 to 10240 MB" in message


def test_glue_defaults_and_engine():
    config = Config()
    assert config.function.engine == "lambda"
    glue = config.glue
    assert (glue.glue_version, glue.worker_type, glue.number_of_workers) == ("5.0", "G.1X", 2)
    assert (glue.timeout_minutes, glue.max_concurrent_runs) == (30, 1)
    assert (config.glue_job, config.glue_role) == ("dataops-pipeline-glue", "dataops-glue-job")
    assert config.glue_script_key.startswith("dataops/glue/")
    chosen = parse_config(
        {
            "function": {"engine": "glue"},
            "glue": {"glue_version": "5.1", "worker_type": "G.8X", "number_of_workers": 10, "timeout_minutes": 2880},
        }
    )
    assert chosen.function.engine == "glue"
    assert (chosen.glue.glue_version, chosen.glue.worker_type, chosen.glue.number_of_workers) == ("5.1", "G.8X", 10)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            {"function": {"engine": "spark"}},
            "function.engine = 'spark' is not allowed: expected one of 'lambda', 'glue'",
        ),
        ({"glue": {"glue_version": "4.0"}}, "glue.glue_version = '4.0' is not allowed: expected one of '5.0', '5.1'"),
        ({"glue": {"glue_version": 5.0}}, "glue.glue_version = 5.0 has the wrong type: expected a string"),
        ({"glue": {"worker_type": "G.16X"}}, "glue.worker_type = 'G.16X' is not allowed: expected one of 'G.1X'"),
        ({"glue": {"worker_type": "G.025X"}}, "G.025X is for Glue streaming jobs only"),
        (
            {"glue": {"number_of_workers": 1}},
            "glue.number_of_workers = 1 is not allowed: expected an integer of at least 2",
        ),
        ({"glue": {"number_of_workers": "2"}}, "glue.number_of_workers = '2' has the wrong type: expected an integer"),
        (
            {"glue": {"timeout_minutes": 0}},
            "glue.timeout_minutes = 0 is not allowed: expected an integer from 1 to 2880",
        ),
        ({"glue": {"timeout_minutes": 2881}}, "from 1 to 2880 minutes"),
        (
            {"glue": {"max_concurrent_runs": 2}},
            "glue.max_concurrent_runs = 2 is not allowed: expected 1 (fixed: two runs",
        ),
        ({"glue": {"workers": 2}}, "unknown key 'glue.workers'"),
        ({"glu": {}}, "unknown section [glu] (did you mean 'glue'?)"),
        ({"bucket": {"output_prefix": "dataops/"}}, "bucket.output_prefix = 'dataops/' overlaps 'dataops/glue/'"),
        ({"bucket": {"output_prefix": "dataops/glue/out/"}}, "overlaps 'dataops/glue/'"),
        ({"bucket": {"input_key": "dataops/glue/in.csv"}}, "bucket.input_key = 'dataops/glue/in.csv' lies under"),
    ],
)
def test_bad_glue_settings(raw, expected):
    assert expected in error_for(raw)


def test_config_command_shows_the_glue_settings(tmp_path):
    import json

    from click.testing import CliRunner

    from dataops_cli.cli import cli

    path = tmp_path / "glue.toml"
    path.write_text('[function]\nengine = "glue"\n[glue]\nworker_type = "G.2X"\nnumber_of_workers = 3\n')
    shown = CliRunner().invoke(cli, ["--config", str(path), "config"])
    assert shown.exit_code == 0, shown.output
    assert "dataops-pipeline-glue Glue 5.0 3 x G.2X, timeout 30 min" in " ".join(shown.output.split())
    as_json = json.loads(CliRunner().invoke(cli, ["--config", str(path), "config", "--json"]).output)
    assert as_json["settings"]["function"]["engine"] == "glue"
    assert as_json["settings"]["glue"] == {
        "glue_version": "5.0",
        "worker_type": "G.2X",
        "number_of_workers": 3,
        "timeout_minutes": 30,
        "max_concurrent_runs": 1,
    }
    assert as_json["derived"]["glue_job"] == "dataops-pipeline-glue"


# Issue 19, item 8: values the function reads differently from `up` and `status`.
@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            {"bucket": {"input_key": " diabetes_preprocessed.csv"}},
            "bucket.input_key = ' diabetes_preprocessed.csv' is not allowed: expected 'diabetes_preprocessed.csv', "
            "without the leading or trailing whitespace",
        ),
        ({"bucket": {"input_key": "in.csv\t"}}, "bucket.input_key = 'in.csv\\t' is not allowed: expected 'in.csv'"),
        ({"bucket": {"output_prefix": " processed/"}}, "bucket.output_prefix = ' processed/' is not allowed"),
        ({"bucket": {"output_prefix": "processed/ "}}, "bucket.output_prefix = 'processed/ ' is not allowed"),
        ({"bucket": {"name": " dataops-pipeline-bucket"}}, "bucket.name = ' dataops-pipeline-bucket' is not allowed"),
        ({"function": {"name": "Fn "}}, "function.name = 'Fn ' is not allowed: expected 'Fn'"),
        ({"stack": {"name": " team"}}, "stack.name = ' team' is not allowed"),
        ({"dashboard": {"name": "Board\n"}}, "dashboard.name = 'Board\\n' is not allowed"),
        ({"pipeline": {"impute_strategy": "mean "}}, "pipeline.impute_strategy = 'mean ' is not allowed"),
        ({"schedule": {"expression": " rate(2 minutes)"}}, "expected 'rate(2 minutes)'"),
        (
            {"pipeline": {"zero_as_missing": ["Glucose", " BMI"]}},
            "pipeline.zero_as_missing = ['Glucose', ' BMI'] is not allowed: expected column names without "
            "leading or trailing whitespace (' BMI'",
        ),
        ({"pipeline": {"normalize_exclude": ["Outcome\u00a0"]}}, "expected column names without leading"),
        (
            {"pipeline": {"zero_as_missing": ["Glucose,BMI"]}},
            "pipeline.zero_as_missing = ['Glucose,BMI'] is not allowed: expected one column name per list item, "
            "without commas ('Glucose,BMI' would reach the function as two)",
        ),
        ({"pipeline": {"normalize_exclude": ["a,b", "c"]}}, "pipeline.normalize_exclude = ['a,b', 'c']"),
    ],
)
def test_values_the_function_would_read_differently_are_refused(raw, expected):
    assert expected in error_for(raw)


def test_inner_spaces_and_empty_optional_strings_stay_allowed():
    config = parse_config(
        {"bucket": {"input_key": "my data/in put.csv"}, "pipeline": {"zero_as_missing": ["Blood Pressure"]}}
    )
    assert config.bucket.input_key == "my data/in put.csv"
    assert config.handler_environment()["ZERO_AS_MISSING"] == "Blood Pressure"
    assert parse_config({"function": {"layer_arn": ""}}).function.layer_arn == ""


def test_a_padded_value_is_exit_code_2_naming_the_key(tmp_path):
    from click.testing import CliRunner

    from dataops_cli.cli import cli

    path = tmp_path / "config.toml"
    path.write_text('[bucket]\noutput_prefix = " processed/"\n', encoding="utf-8")
    result = CliRunner().invoke(cli, ["--config", str(path), "config"])
    assert result.exit_code == 2
    assert "bucket.output_prefix = ' processed/' is not allowed" in " ".join(result.output.split())  # wrapped
