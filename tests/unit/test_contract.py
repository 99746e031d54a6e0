"""One contract between the handler and the CLI: every name the dashboard and status use is the handler's.

The handler writes log events, EMF metrics and S3 keys; the dashboard queries them, `status`
and `logs` read them back, and `config.py` sets the environment the handler reads. These
tests fail when one side spells a name the other does not.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import fields

import pytest

from dataops_cli.config import Config
from dataops_cli.deploy.dashboard import DashboardInputs, build_dashboard
from dataops_cli.observe import runlog_reader
from handler import contract, errors
from handler.pipeline import PipelineOptions
from handler.quality import QualitySettings
from handler.settings import Settings
from tests.functional.test_handler import invoke, s3  # noqa: F401 (s3 is a fixture)

# The Lambda lane (.ci/lambda-lane) runs this module on Python 3.12 with the layer's versions.
pytestmark = pytest.mark.handler


def dashboard() -> dict:
    return build_dashboard(
        DashboardInputs(
            stack="s", region="ap-south-1", function="fn", log_group="/aws/lambda/fn", schedule_group="g", bucket="b"
        )
    )


def test_contract_imports_without_pandas_numpy_or_boto3():
    code = (
        "import sys, handler.contract; "
        "heavy = [m for m in ('pandas', 'numpy', 'pyarrow', 'boto3', 'botocore') if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""


def test_every_pipeline_metric_on_the_dashboard_is_one_the_handler_emits():
    pipeline_metrics = [
        line
        for widget in dashboard()["widgets"]
        for line in widget["properties"].get("metrics", [])
        if line[0] == contract.METRICS_NAMESPACE
    ]
    assert pipeline_metrics, "the dashboard shows no pipeline metric"
    for line in pipeline_metrics:
        assert line[1] in contract.METRICS, line
        assert line[2] == contract.METRIC_DIMENSION, line


def test_every_pipeline_metric_status_queries_is_one_the_handler_emits():
    from dataops_cli.observe import metrics, quality_status

    queries = [*quality_status.queries("fn"), *metrics.kpi_queries("fn", "group", percentiles=True)]
    pipeline = [q for q in queries if q.namespace == contract.METRICS_NAMESPACE]
    assert pipeline, "status reads no pipeline metric"
    for query in pipeline:
        assert query.metric in contract.METRICS, query
        assert [name for name, _ in query.dimensions] == [contract.METRIC_DIMENSION], query


def test_every_log_field_and_event_the_dashboard_queries_is_the_handlers():
    queries = [w["properties"]["query"] for w in dashboard()["widgets"] if w["type"] == "log"]
    assert len(queries) == 2
    for query in queries:
        selected = re.search(r"\| fields (.*?)\n", query)[1]
        for item in selected.split(","):
            name = item.strip().split(" as ")[0].split(".")[0]
            if not name.startswith("@"):
                assert name in contract.LOG_FIELDS, (name, query)
        for events in re.findall(r"(\w+) in \[(.*?)\]", query):
            assert events[0] in contract.LOG_FIELDS
            assert {e.strip(" '") for e in events[1].split(",")} <= set(contract.EVENTS)
        for field, value in re.findall(r"(\w+) = '(\w+)'", query):
            assert field == contract.F_LEVEL and value == contract.LEVEL_ERROR


def test_config_sets_exactly_the_environment_the_handler_reads_with_the_same_defaults():
    config = Config()
    environment = config.handler_environment()
    quality = {name for name in environment if name.startswith(contract.QUALITY_ENV_PREFIX)}
    assert set(environment) - quality == set(contract.HANDLER_ENV)
    assert quality == {contract.QUALITY_ENV_PREFIX + f.name.upper() for f in fields(QualitySettings)}
    settings = Settings.from_environ(environment)
    assert settings.options == PipelineOptions()  # config's defaults are the handler's defaults
    assert settings.output_prefix == contract.DEFAULT_OUTPUT_PREFIX == config.bucket.output_prefix
    defaults = {f.name: f.default for f in fields(PipelineOptions)}
    assert defaults["zero_as_missing"] == contract.DEFAULT_ZERO_AS_MISSING
    assert config.latest_key == contract.latest_key(config.bucket.output_prefix)


def test_status_reads_back_every_event_and_metric_the_handler_writes(s3, capsys):  # noqa: F811
    result = invoke()
    lines = capsys.readouterr().out.splitlines()
    documents = [json.loads(line) for line in lines]
    emf = [d for d in documents if "_aws" in d]
    events = [d for d in documents if "_aws" not in d]
    assert {d[contract.F_EVENT] for d in events} <= set(contract.EVENTS)
    assert all(set(d) - {"_aws", "run_id", "request_id"} <= contract.METRICS | {contract.METRIC_DIMENSION} for d in emf)
    (directive,) = emf[0]["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == contract.METRICS_NAMESPACE
    assert {m["Name"] for m in directive["Metrics"]} == contract.METRICS
    assert {m["Name"]: m["Unit"] for m in directive["Metrics"]} == contract.METRIC_UNITS

    log_events = [{"message": line, "timestamp": 1000 + i} for i, line in enumerate(lines)]
    (run,) = runlog_reader.runs_from_events(log_events)
    assert run.outcome == "succeeded" and run.run_id == result["run_id"]
    assert (run.rows, run.columns) == (result["rows"], result["columns"])
    assert run.missing_total == result["missing_total"] and run.start_time is not None
    assert run.files == list(result["outputs"].values())

    latest = json.loads(
        s3.get_object(Bucket="dataops-test-bucket", Key=contract.latest_key("processed/"))["Body"].read()
    )
    assert set(latest) == {contract.L_RUN_ID, contract.L_FINISHED_AT, contract.L_OUTPUTS, contract.L_FINGERPRINT}
    assert set(latest[contract.L_OUTPUTS]) == set(contract.OUTPUT_FILES)


def test_status_reads_back_the_error_the_handler_logs(s3, capsys, monkeypatch):  # noqa: F811
    monkeypatch.setenv(contract.ENV_IMPUTE_STRATEGY, "mode")
    with pytest.raises(errors.ConfigurationError, match="IMPUTE_STRATEGY"):
        invoke()
    lines = capsys.readouterr().out.splitlines()
    log_events = [{"message": line, "timestamp": 1000 + i} for i, line in enumerate(lines)]
    (run,) = runlog_reader.runs_from_events(log_events)
    assert run.outcome == "failed" and "IMPUTE_STRATEGY" in (run.error or "")
    (error,) = runlog_reader.errors_from_events(log_events)
    assert error.code == "BadConfiguration" and error.run_id == run.run_id
