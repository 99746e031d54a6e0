"""Bounded work for any input (issue 19, item 5): the width limit and a history that stays small.

Time and memory at the limit are measured by bench/width_bench.py (docs/BENCHMARKS.md), never
asserted here.
"""

from __future__ import annotations

import pytest

from handler import errors, quality, run_history, run_steps
from handler.settings import Settings
from tests.functional.test_handler import BUCKET, ENV, invoke, keys, read_json
from tests.functional.test_quality_handler import HISTORY, SAMPLE, run
from tests.functional.test_quality_handler import s3 as s3

# The Lambda lane (.ci/lambda-lane) runs this module on Python 3.12 with the layer's versions.
pytestmark = pytest.mark.handler

REQUIRED = {"BUCKET_NAME": "b", "INPUT_KEY": "k"}


def wide_csv(width: int, rows: int = 3) -> bytes:
    header = ",".join(f"c{i}" for i in range(width))
    body = "".join(",".join(str((i * 7 + j * 3) % 11) for j in range(width)) + "\n" for i in range(rows))
    return f"{header}\n{body}".encode()


def test_max_columns_comes_from_the_environment_and_is_checked():
    assert Settings.from_environ(REQUIRED).options.max_columns == 1000
    assert Settings.from_environ({**REQUIRED, "MAX_COLUMNS": " 50 "}).options.max_columns == 50
    with pytest.raises(errors.ConfigurationError, match="MAX_COLUMNS='many' is not an integer"):
        Settings.from_environ({**REQUIRED, "MAX_COLUMNS": "many"})
    with pytest.raises(errors.ConfigurationError, match="MAX_COLUMNS=0 is not allowed: expected an integer from 1"):
        Settings.from_environ({**REQUIRED, "MAX_COLUMNS": "0"})


def test_a_header_wider_than_max_columns_fails_the_run_naming_the_setting(s3, monkeypatch):
    """Before: 100,000 columns ended in an untyped MemoryError (74.5 GiB)."""
    monkeypatch.setenv("MAX_COLUMNS", "40")
    s3.put_object(Bucket=BUCKET, Key=ENV["INPUT_KEY"], Body=wide_csv(41))
    with pytest.raises(errors.TooManyColumnsError) as caught:
        invoke()
    assert caught.value.details == {"columns": 41, "limit": 40, "setting": "MAX_COLUMNS"}
    (failed,) = keys(s3, "processed/runs/")
    assert read_json(s3, failed)["error"]["code"] == "TooManyColumns"


def test_a_wide_run_keeps_no_correlations_in_the_history_and_says_so(s3, monkeypatch):
    """Before: 2,000 columns wrote a 64 MB history (the 2,000 x 2,000 matrix), which every later
    run read and checked (a normal 768-row run took 22.9 s after a 3,000-column one)."""
    monkeypatch.setenv("ZERO_AS_MISSING", "")
    monkeypatch.setenv("NORMALIZE_EXCLUDE", "")
    wide = run(s3, wide_csv(300), 1)
    document = read_json(s3, wide["outputs"]["quality"])
    (check,) = [c for c in document["checks"] if c["name"] == "correlation"]
    assert check["message"].startswith("correlations not compared: 300 numeric columns, more than the 50")
    history = s3.get_object(Bucket=BUCKET, Key=HISTORY)["Body"].read()
    assert len(history) < 100_000  # the 300 x 300 matrix alone would be ~2 MB
    assert read_json(s3, HISTORY)["profiles"][0]["correlation"]["not_kept_columns"] == 300
    assert len(s3.get_object(Bucket=BUCKET, Key=wide["outputs"]["correlation"])["Body"].read()) > 1_000_000

    monkeypatch.delenv("ZERO_AS_MISSING")
    monkeypatch.delenv("NORMALIZE_EXCLUDE")
    normal = run(s3, SAMPLE, 2)
    assert normal["status"] == "succeeded" and normal["quality"]["baseline_runs"] == 1
    checks = read_json(s3, normal["outputs"]["quality"])["checks"]
    assert [c["level"] for c in checks if c["name"] == "schema"] == ["fail"]  # 300 columns then, 9 now
    assert [c["message"] for c in checks if c["name"] == "correlation"] == [
        "no history yet: nothing to compare correlations with"
    ]


def test_the_history_is_bounded_in_bytes_whatever_the_runs(s3, monkeypatch):
    monkeypatch.setattr(quality, "HISTORY_MAX_BYTES", 70_000)
    monkeypatch.setattr(run_history, "HISTORY_MAX_BYTES", 70_000)
    monkeypatch.setattr(run_steps, "HISTORY_MAX_BYTES", 70_000)
    monkeypatch.setenv("ZERO_AS_MISSING", "")
    monkeypatch.setenv("NORMALIZE_EXCLUDE", "")
    for n in range(1, 5):
        run(s3, wide_csv(40), n)
    body = s3.get_object(Bucket=BUCKET, Key=HISTORY)["Body"].read()
    assert len(body) <= 70_000
    assert 1 <= len(read_json(s3, HISTORY)["profiles"]) < 4


def test_the_spark_jobs_stores_do_not_read_an_oversized_history(tmp_path, s3):
    """The Spark job reads its history through these: over the limit, the body is not read."""
    from handler.spark_job.store import LocalOutput, S3Output, TooLargeError

    for store in (LocalOutput(tmp_path), S3Output(s3, BUCKET, "spark/")):
        store.put("quality/history.json", b"x" * 10, "application/json")
        assert store.get("quality/history.json", max_bytes=10) == b"x" * 10
        with pytest.raises(TooLargeError) as caught:
            store.get("quality/history.json", max_bytes=9)
        assert caught.value.size == 10
        assert store.get("quality/missing.json", max_bytes=9) is None
