"""The Spark job's SKIP_UNCHANGED decision (handler/spark_job/skip.py): made before Spark starts,
so these need no pyspark; local files stand in for S3 (the same Input/Output stores)."""

from __future__ import annotations

import io
import json
from dataclasses import replace

import pytest

from handler import contract as c
from handler.pipeline import PipelineOptions
from handler.quality import QualitySettings
from handler.spark_job.skip import skip_if_unchanged, spark_fingerprint
from handler.spark_job.store import LocalInput, LocalOutput
from tests.conftest import SAMPLE_CSV

# The Lambda lane (.ci/lambda-lane) runs this module on Python 3.12 with the layer's versions.
pytestmark = pytest.mark.handler

PUBLISHED = "20261201T000000Z-aaaaaaaa"


@pytest.fixture
def stores(tmp_path):
    data = tmp_path / "input.csv"
    data.write_bytes(SAMPLE_CSV.read_bytes())
    out = tmp_path / "out"
    out.mkdir()
    return LocalInput(data), LocalOutput(out)


def publish(source, target) -> None:
    """latest.json as a run with the default settings on this input would leave it."""
    fingerprint = spark_fingerprint(source.describe(), source.spark_uri, PipelineOptions(), QualitySettings())
    latest = {c.L_RUN_ID: PUBLISHED, c.L_OUTPUTS: {}, c.L_FINGERPRINT: fingerprint}
    target.put(c.LATEST_POINTER, json.dumps(latest).encode(), "application/json")


def test_an_unchanged_input_is_skipped_with_one_line_and_the_metric(stores):
    source, target = stores
    publish(source, target)
    stream = io.StringIO()
    result = skip_if_unchanged(source, target, PipelineOptions(), QualitySettings(), "job", stream)
    assert result is not None and result["status"] == "skipped" and result["confirms"] == PUBLISHED
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    (event,) = [line for line in lines if "_aws" not in line]
    assert event["event"] == c.EVENT_SKIPPED and event["message"].startswith("⏭️ Run skipped")
    (emf,) = [line for line in lines if "_aws" in line]
    assert emf[c.M_RUNS_SKIPPED] == 1 and emf[c.M_RUN_FAILED] == 0


def test_a_changed_setting_file_or_no_latest_json_processes(stores):
    source, target = stores
    assert skip_if_unchanged(source, target, PipelineOptions(), QualitySettings(), "job") is None  # nothing published
    publish(source, target)
    changed = replace(PipelineOptions(), zero_as_missing=("Glucose",))
    assert skip_if_unchanged(source, target, changed, QualitySettings(), "job") is None
    assert skip_if_unchanged(source, target, PipelineOptions(), QualitySettings(history_runs=3), "job") is None
    source.path.write_bytes(SAMPLE_CSV.read_bytes() + b"\n")
    assert skip_if_unchanged(source, target, PipelineOptions(), QualitySettings(), "job") is None


def test_the_glue_entry_passes_skip_unchanged_on(stores):
    from handler.spark_job.glue_entry import spark_job_argv

    argv = ["--BUCKET_NAME", "b", "--INPUT_KEY", "k.csv", "--OUTPUT_PREFIX", "p/", "--ZERO_AS_MISSING", "-"]
    argv += ["--IMPUTE_STRATEGY", "median", "--NORMALIZE_METHOD", "minmax", "--NORMALIZE_EXCLUDE", "-"]
    translated = spark_job_argv([*argv, "--SKIP_UNCHANGED", "false"])
    assert translated[translated.index("--skip-unchanged") + 1] == "false"
