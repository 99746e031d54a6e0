"""A published run is never unpublished; an unusable history never fails a run (issue 19, item 3).

moto S3 in process, as tests/functional/test_quality_handler.py. Each test states what it did before
the fix in its docstring.
"""

from __future__ import annotations

import copy
import json
import math
import threading

import pytest
from botocore.exceptions import EndpointConnectionError

from handler import errors, pipeline, quality, run_steps
from handler.runlog import json_safe, json_safe_bytes
from tests.functional.test_handler import BUCKET, ENV, invoke, keys, log_lines, read_json
from tests.functional.test_quality_handler import HISTORY, SAMPLE, run
from tests.functional.test_quality_handler import s3 as s3

# The Lambda lane (.ci/lambda-lane) runs this module on Python 3.12 with the layer's versions.
pytestmark = pytest.mark.handler

LATEST = "processed/latest.json"


def published_files_exist(s3) -> dict:
    """latest.json and every file it names are there; returns latest.json."""
    latest = read_json(s3, LATEST)
    present = set(keys(s3, "processed/"))
    assert set(latest["outputs"].values()) <= present, "latest.json names a deleted file"
    return latest


def history_with(s3, mutate) -> None:
    """Run once, then store the history with `mutate(profile)` applied to its only profile."""
    run(s3, SAMPLE, 1)
    document = read_json(s3, HISTORY)
    mutate(document["profiles"][0])
    body = json.dumps(document, allow_nan=True).encode()
    s3.put_object(Bucket=BUCKET, Key=HISTORY, Body=body)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda p: p["numeric"]["Glucose"].update(min=math.nan),  # a field no check reads: failed after latest.json
        lambda p: p["zeros"].update(Glucose=math.inf),
        lambda p: p.update(extra=[math.nan]),
    ],
    ids=["nan-in-min", "infinity-in-zeros", "nan-in-an-unknown-field"],
)
def test_nan_in_the_history_is_replaced_and_the_run_published(s3, capsys, mutate):
    """Before: history_body raised ValueError after latest.json; record_failure then deleted
    the files latest.json named (cleaned.csv -> 404), and every later run did the same."""
    history_with(s3, mutate)
    capsys.readouterr()
    result = run(s3, SAMPLE, 2)
    assert result["status"] == "succeeded"
    assert published_files_exist(s3)["run_id"] == result["run_id"]
    warned = [line for line in log_lines(capsys) if line.get("event") == "quality_history"]
    assert len(warned) == 1 and "Quality history unusable, starting a new one" in warned[0]["message"]
    assert [p["run_id"] for p in read_json(s3, HISTORY)["profiles"]] == [result["run_id"]]
    assert run(s3, SAMPLE, 3)["quality"]["baseline_runs"] == 1  # the next run has a usable history


@pytest.mark.parametrize(
    ("mutate", "named"),
    [
        (lambda p: p.update(rows="768"), "rows that are not a count"),
        (lambda p: p.update(run_id=7), "run_id that is not a string"),
        (lambda p: p["columns"].append({"name": 3, "type": "numeric"}), "columns that are not"),
        (lambda p: p["missing_rate"].update(Glucose="0.1"), "missing_rate that is not"),
        (lambda p: p["numeric"].update(Glucose={"mean": 1.0}), "numeric statistics"),
        (lambda p: p["numeric"].update(Glucose=[1, 2, 3, 4]), "numeric statistics"),
        (lambda p: p["correlation"].update(matrix=[[1.0]]), "a correlation that is not"),
        (lambda p: p["correlation"]["matrix"][0].__setitem__(1, "high"), "a correlation that is not"),
        (lambda p: p.update(missing={"Glucose": -1}), "missing that are not"),
        (lambda p: p.update(rows=10**30), "rows that are not a count"),
    ],
)
def test_right_keys_with_wrong_inner_types_are_logged_and_replaced(s3, capsys, mutate, named):
    """Before: TypeError (or a later failure) on every run from then on."""
    history_with(s3, mutate)
    capsys.readouterr()
    result = run(s3, SAMPLE, 2)
    assert result["status"] == "succeeded" and result["quality"]["baseline_runs"] == 0
    published_files_exist(s3)
    warned = [line for line in log_lines(capsys) if line.get("event") == "quality_history"]
    assert named in warned[0]["message"] and "profile 0" in warned[0]["message"]


@pytest.mark.parametrize(
    "body",
    [b"[1, 2]", b'{"profiles": 5}', b"\xff\xfe garbage", b"[" * 100_000 + b"]" * 100_000, b'{"profiles": [NaN]}'],
    ids=["a-list", "profiles-not-a-list", "not-utf8", "nested-too-deep", "nan-token"],
)
def test_any_unusable_history_document_is_replaced(s3, body):
    s3.put_object(Bucket=BUCKET, Key=HISTORY, Body=body)
    result = run(s3, SAMPLE, 1)
    assert result["status"] == "succeeded" and result["quality"]["baseline_runs"] == 0
    assert [p["run_id"] for p in read_json(s3, HISTORY)["profiles"]] == [result["run_id"]]


def test_a_history_over_the_size_limit_is_not_read_and_is_replaced(s3, capsys):
    s3.put_object(Bucket=BUCKET, Key=HISTORY, Body=b" " * (quality.HISTORY_MAX_BYTES + 1))
    result = run(s3, SAMPLE, 1)
    assert result["quality"]["baseline_runs"] == 0
    warned = [line for line in log_lines(capsys) if line.get("event") == "quality_history"]
    assert "more than the 1,048,576 a history holds" in warned[0]["message"]
    assert len(s3.get_object(Bucket=BUCKET, Key=HISTORY)["Body"].read()) < 100_000


@pytest.mark.parametrize("raised", [ValueError("Out of range float values"), RuntimeError("a bug"), MemoryError()])
def test_anything_raised_after_publishing_is_logged_and_the_run_stays_published(s3, monkeypatch, capsys, raised):
    """Before: only AWS errors were caught there; anything else made record_failure delete the
    files latest.json had just been pointed at."""

    def broken(*args, **kwargs):
        raise raised

    monkeypatch.setattr(run_steps, "history_bytes", broken)
    result = run(s3, SAMPLE, 1)
    assert result["status"] == "succeeded"
    latest = published_files_exist(s3)
    assert latest["run_id"] == result["run_id"]
    assert read_json(s3, latest["outputs"]["log"])["status"] == "succeeded"
    logged = [line for line in log_lines(capsys) if line.get("level") == "ERROR"]
    assert (
        len(logged) == 1
        and f"Run {result['run_id']} is published, but updating the quality history" in (logged[0]["message"])
    )
    assert logged[0]["error"]["type"] == type(raised).__name__
    assert keys(s3, HISTORY) == []


def test_a_latest_json_write_that_fails_after_s3_stored_it_keeps_the_runs_files(s3, monkeypatch, capsys):
    """The connection drops after S3 stored latest.json: the run raises, but latest.json names
    it, so its files stay (before: deleted, leaving latest.json pointing at nothing)."""
    put_object = s3.put_object

    def stored_then_lost(**kwargs):
        response = put_object(**kwargs)
        if kwargs["Key"] == LATEST:
            raise EndpointConnectionError(endpoint_url="https://s3.example")
        return response

    s3.put_object(Bucket=BUCKET, Key=ENV["INPUT_KEY"], Body=SAMPLE)
    monkeypatch.setattr(s3, "put_object", stored_then_lost)
    with pytest.raises(EndpointConnectionError):
        invoke()
    latest = published_files_exist(s3)
    assert read_json(s3, latest["outputs"]["log"])["status"] == "succeeded"
    kept = [line for line in log_lines(capsys) if line.get("event") == "cleanup"]
    assert "its files are kept" in kept[0]["message"]


def test_a_latest_json_write_that_never_reached_s3_is_cleaned_up_as_before(s3, monkeypatch):
    earlier = run(s3, SAMPLE, 1)
    put_object = s3.put_object

    def refused(**kwargs):
        if kwargs["Key"] == LATEST:
            raise EndpointConnectionError(endpoint_url="https://s3.example")
        return put_object(**kwargs)

    monkeypatch.setattr(s3, "put_object", refused)
    with pytest.raises(EndpointConnectionError):
        invoke("22222222-0000-0000-0000-000000000000")
    assert published_files_exist(s3)["run_id"] == earlier["run_id"]
    failed = [k for k in keys(s3, "processed/runs/") if earlier["run_id"] not in k]
    assert len(failed) == 1 and failed[0].endswith("/run.json")
    assert read_json(s3, failed[0])["status"] == "failed"


@pytest.mark.parametrize("earlier_runs", [0, 1])
def test_a_history_sent_beside_a_latest_json_that_failed_is_put_back(s3, monkeypatch, earlier_runs):
    """The history's rewrite goes out beside latest.json (one round trip): when latest.json never
    reached S3 the run is not published, so the history is as it was (or absent, as it was)."""
    for n in range(earlier_runs):
        run(s3, SAMPLE, n + 1)
    before = keys(s3, HISTORY) and s3.get_object(Bucket=BUCKET, Key=HISTORY)["Body"].read()
    put_object = s3.put_object
    sent: list[str] = []
    history_written = threading.Event()

    def refused(**kwargs):
        if kwargs["Key"] == LATEST:
            history_written.wait(30)  # the history's request has gone out and landed
            raise EndpointConnectionError(endpoint_url="https://s3.example")
        sent.append(kwargs["Key"])
        response = put_object(**kwargs)
        if kwargs["Key"] == HISTORY:
            history_written.set()
        return response

    s3.put_object(Bucket=BUCKET, Key=ENV["INPUT_KEY"], Body=SAMPLE)
    monkeypatch.setattr(s3, "put_object", refused)
    with pytest.raises(EndpointConnectionError):
        invoke("33333333-0000-0000-0000-000000000000")
    assert sent.count(HISTORY) == 1 + earlier_runs  # the new history was written, then the old one put back
    if earlier_runs:
        assert s3.get_object(Bucket=BUCKET, Key=HISTORY)["Body"].read() == before
    else:
        assert keys(s3, HISTORY) == []


def test_a_failed_runs_document_always_encodes(s3, monkeypatch):
    """Before: a NaN or an unencodable value in the error made record_failure raise over the
    original error, and the failed run left no run.json."""

    def odd_failure(columns, options):
        raise errors.PipelineError("odd", value=math.nan, limit=math.inf, seen={3}, raw=b"\x00")

    s3.put_object(Bucket=BUCKET, Key=ENV["INPUT_KEY"], Body=SAMPLE)
    monkeypatch.setattr(pipeline, "process", odd_failure)
    with pytest.raises(errors.PipelineError, match="odd"):
        invoke()
    (key,) = keys(s3, "processed/runs/")
    document = read_json(s3, key)
    assert document["status"] == "failed"
    assert document["error"]["value"] == "nan" and document["error"]["limit"] == "inf"
    assert document["error"]["seen"] == "{3}" and document["error"]["raw"] == "b'\\x00'"


def test_json_safe_keeps_what_json_can_say_and_words_the_rest():
    import numpy as np

    value = {"a": [1, 2.5, None, "x", True], 3: (math.nan, -math.inf), "n": np.float64(1.5), "o": object}
    safe = json_safe(value)
    assert safe == {"a": [1, 2.5, None, "x", True], "3": ["nan", "-inf"], "n": 1.5, "o": "<class 'object'>"}
    assert json.loads(json_safe_bytes(value)) == safe
    original = copy.deepcopy(value["a"])
    assert value["a"] == original


# ------------------------------------------------------------------ numbers that overflow


@pytest.mark.parametrize(
    ("data", "line", "value"),
    [
        (b"a,b\n1,1.7e308\n2,1.7e308\n3,1\n", 2, 1.7e308),  # the sum overflows
        (b"a,b\n1,-1.7e308\n2,1.7e308\n3,1\n", 2, -1.7e308),  # the spread overflows
        (b"a,b\n1,1e308\n2,1e308\n3,\n4,1e308\n", 2, 1e308),  # a 1e308 median: the imputed sum overflows
        (b"a,b\n1,1e200\n2,-1e200\n3,0\n", 2, 1e200),  # squares overflow: the std is inf
    ],
)
def test_values_that_overflow_are_a_typed_error_naming_column_and_line(s3, data, line, value):
    """Before: an untyped ValueError (NaN/inf is not JSON) while writing summary.json or quality.json."""
    s3.put_object(Bucket=BUCKET, Key=ENV["INPUT_KEY"], Body=data)
    monkey_env = {"ZERO_AS_MISSING": "", "NORMALIZE_EXCLUDE": ""}
    with pytest.MonkeyPatch.context() as mp:
        for name, setting in monkey_env.items():
            mp.setenv(name, setting)
        with pytest.raises(errors.ValueOverflowError) as caught:
            invoke()
    assert caught.value.details == {"column": "b", "line": line, "value": value}
    assert f"column 'b' holds values too large to compute with (line {line}: {value!r})" in str(caught.value)
    assert "scale the column down" in str(caught.value)


def test_large_values_that_do_not_overflow_are_processed(s3, monkeypatch):
    monkeypatch.setenv("ZERO_AS_MISSING", "")
    monkeypatch.setenv("NORMALIZE_EXCLUDE", "")
    s3.put_object(Bucket=BUCKET, Key=ENV["INPUT_KEY"], Body=b"a,b\n1,1e150\n2,\n3,\n4,-1e150\n")
    result = invoke()
    summary = read_json(s3, result["outputs"]["summary"])
    assert summary["statistics_before_imputation"]["b"] == {
        "count": 2,
        "min": -1e150,
        "max": 1e150,
        "mean": 0.0,
        "std": 1e150,
    }
    assert summary["imputed_values"]["b"] == 0.0
