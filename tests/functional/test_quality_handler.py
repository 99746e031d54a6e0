"""The handler's data-quality behaviour over sequences of runs (moto S3 in process).

Each test uploads a sequence of inputs, invokes the handler once per input, and asserts
the exact check results of the last run, what latest.json names, and the history.
"""

from __future__ import annotations

import csv
import io
import json

import boto3
import numpy as np
import pytest

from handler import errors, lambda_function, pipeline_run
from tests.conftest import SAMPLE_CSV
from tests.functional.test_handler import BUCKET, ENV, invoke, keys, log_lines, read_json

# The Lambda lane (.ci/lambda-lane) runs this module on Python 3.12 with the layer's versions.
pytestmark = pytest.mark.handler

HISTORY = "processed/quality/history.json"


@pytest.fixture
def s3(mock_aws_env, monkeypatch):
    """As test_handler's fixture: a moto bucket the handler's cached client points at."""
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    client = boto3.client("s3", region_name="ap-south-1")
    client.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "ap-south-1"})
    monkeypatch.setattr(lambda_function, "_s3_client", client)
    return client


def rows_of(data: bytes) -> tuple[list[str], list[list[str]]]:
    table = list(csv.reader(io.StringIO(data.decode())))
    return table[0], table[1:]


def to_csv(header: list[str], rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode()


SAMPLE = SAMPLE_CSV.read_bytes()
HEADER, ROWS = rows_of(SAMPLE)


def with_column(data: bytes) -> bytes:
    return to_csv([*HEADER, "Extra"], [[*row, str(i % 7)] for i, row in enumerate(ROWS)])


def first_rows(n: int) -> bytes:
    return to_csv(HEADER, ROWS[:n])


def blank(column: str, fraction_of_five: int) -> bytes:
    """Blank `column` in rows i with i % 5 < fraction_of_five (2 -> exactly 40% of 768 rows, deterministic)."""
    index = HEADER.index(column)
    rows = [
        [("" if j == index and i % 5 < fraction_of_five else v) for j, v in enumerate(row)]
        for i, row in enumerate(ROWS)
    ]
    return to_csv(HEADER, rows)


def shifted(column: str, by: float) -> bytes:
    index = HEADER.index(column)
    rows = [[(repr(float(v) + by) if j == index and v else v) for j, v in enumerate(row)] for row in ROWS]
    return to_csv(HEADER, rows)


def min_max_normalized() -> bytes:
    values = np.array([[float(v) if v else np.nan for v in row] for row in ROWS])
    low, high = np.nanmin(values, axis=0), np.nanmax(values, axis=0)
    scaled = (values - low) / (high - low)
    return to_csv(HEADER, [["" if np.isnan(v) else repr(float(v)) for v in row] for row in scaled])


def run(s3, data: bytes, n: int) -> dict:
    s3.put_object(Bucket=BUCKET, Key=ENV["INPUT_KEY"], Body=data)
    return invoke(f"{n:08d}-0000-0000-0000-000000000000")


def run_sequence(s3, *inputs: bytes) -> dict:
    result = {}
    for n, data in enumerate(inputs, start=1):
        result = run(s3, data, n)
    return result


def quality_of(s3, result: dict) -> dict:
    return read_json(s3, result["outputs"]["quality"])


def not_ok(document: dict) -> list[tuple]:
    return [(c["name"], c["level"], c.get("column")) for c in document["checks"] if c["level"] != "ok"]


def test_first_run_has_no_history_and_writes_it(s3):
    result = run_sequence(s3, SAMPLE)
    document = quality_of(s3, result)
    assert document["baseline_runs"] == 0 and not_ok(document) == []
    assert read_json(s3, "processed/latest.json")["outputs"]["quality"] == result["outputs"]["quality"]
    history = read_json(s3, HISTORY)
    assert [p["run_id"] for p in history["profiles"]] == [result["run_id"]]
    assert history["profiles"][0]["rows"] == 768
    assert read_json(s3, result["outputs"]["log"])["quality"] == {"baseline_runs": 0, "ok": 27, "warn": 0, "fail": 0}


def test_same_file_twice_all_ok(s3):
    result = run_sequence(s3, SAMPLE, SAMPLE)
    document = quality_of(s3, result)
    assert document["baseline_runs"] == 1
    assert not_ok(document) == []
    assert len(document["checks"]) == 27  # the formula_like_text check included
    assert result["quality"] == {"baseline_runs": 1, "ok": 27, "warn": 0, "fail": 0}


def test_added_column_fails_schema_and_warn_mode_still_publishes(s3, capsys):
    result = run_sequence(s3, SAMPLE, with_column(SAMPLE))
    document = quality_of(s3, result)
    assert not_ok(document) == [("schema", "fail", None)]
    schema = document["checks"][0]
    assert schema["message"].endswith("added Extra")
    assert result["status"] == "succeeded"
    assert read_json(s3, "processed/latest.json")["run_id"] == result["run_id"]
    lines = log_lines(capsys)
    flagged = [line for line in lines if line.get("event") == "quality_check"]
    assert [(f["level"], f["message"][0]) for f in flagged] == [("ERROR", "❌")]
    emf = [line for line in lines if "_aws" in line][-1]
    assert (emf["QualityWarnings"], emf["QualityFailures"], emf["RunFailed"]) == (0, 1, 0)


def test_block_mode_quarantines_the_run_and_leaves_latest_and_history(s3, monkeypatch, capsys):
    monkeypatch.setenv("QUALITY_ON_FAILURE", "block")
    good = run(s3, SAMPLE, 1)
    latest_before = s3.get_object(Bucket=BUCKET, Key="processed/latest.json")["Body"].read()
    history_before = s3.get_object(Bucket=BUCKET, Key=HISTORY)["Body"].read()
    capsys.readouterr()
    bad = run(s3, with_column(SAMPLE), 2)  # not an exception: a quarantined run is not a Lambda error
    assert bad["status"] == "quarantined"
    assert [c["name"] for c in bad["failed_checks"]] == ["schema"]
    assert s3.get_object(Bucket=BUCKET, Key="processed/latest.json")["Body"].read() == latest_before
    assert s3.get_object(Bucket=BUCKET, Key=HISTORY)["Body"].read() == history_before
    folder = f"processed/runs/{bad['run_id']}/"
    assert keys(s3, folder) == [
        folder + n
        for n in ("cleaned.csv", "correlation.csv", "dtypes.json", "quality.json", "run.json", "summary.json")
    ]
    run_json = read_json(s3, folder + "run.json")
    assert run_json["status"] == "quarantined"
    assert [c["name"] for c in run_json["failed_checks"]] == ["schema"]
    assert run_json["files_saved"][-1] == folder + "run.json"
    lines = log_lines(capsys)
    assert [line["event"] for line in lines if "event" in line][-2:] == ["saved", "quarantined"]
    emf = [line for line in lines if "_aws" in line][-1]
    assert (emf["QualityFailures"], emf["RunFailed"]) == (1, 0)
    # the next good run compares with the last good one, not the quarantined one
    again = run(s3, SAMPLE, 3)
    assert again["status"] == "succeeded" and not_ok(quality_of(s3, again)) == []
    assert [p["run_id"] for p in read_json(s3, HISTORY)["profiles"]] == [good["run_id"], again["run_id"]]


def test_fewer_rows_warns_row_count(s3):
    result = run_sequence(s3, SAMPLE, SAMPLE, first_rows(300))
    document = quality_of(s3, result)
    assert not_ok(document) == [("row_count", "warn", None)]
    check = document["checks"][1]
    assert (check["observed"], check["expected"]) == (300, "384 to 1,536")


def test_glucose_blanked_in_40_percent_warns_completeness_on_glucose_only(s3):
    result = run_sequence(s3, SAMPLE, blank("Glucose", 2))
    document = quality_of(s3, result)
    assert not_ok(document) == [("completeness", "warn", "Glucose")]
    check = next(c for c in document["checks"] if c["name"] == "completeness" and c["column"] == "Glucose")
    blanked = sum(1 for i in range(768) if i % 5 < 2)
    zeros_kept = sum(1 for i, row in enumerate(ROWS) if i % 5 >= 2 and row[1] in ("0", ""))
    assert check["observed"] == round((blanked + zeros_kept) / 768, 6)
    assert blanked / 768 == pytest.approx(0.4, abs=0.002)


def test_bmi_shifted_warns_distribution_on_bmi_only(s3):
    result = run_sequence(s3, SAMPLE, shifted("BMI", 15))
    document = quality_of(s3, result)
    assert not_ok(document) == [("distribution", "warn", "BMI")]
    check = next(c for c in document["checks"] if c["name"] == "distribution" and c["column"] == "BMI")
    assert check["observed"] > 0.5 and check["expected"] == "<= 0.5"


def test_min_max_normalized_copy_warns_zero_markers(s3, capsys):
    result = run_sequence(s3, min_max_normalized())
    document = quality_of(s3, result)
    assert not_ok(document) == [
        ("zero_markers", "warn", name) for name in ("Glucose", "BloodPressure", "SkinThickness", "Insulin", "BMI")
    ]
    lines = [line for line in log_lines(capsys) if line.get("event") == "quality_check"]
    assert len(lines) == 5 and all(line["message"].startswith("⚠️") for line in lines)
    assert all(line["level"] == "WARNING" for line in lines)


def test_history_longer_than_n_is_trimmed_to_n(s3, monkeypatch):
    monkeypatch.setenv("QUALITY_HISTORY_RUNS", "3")
    ids = [run(s3, SAMPLE, n)["run_id"] for n in range(1, 6)]
    assert [p["run_id"] for p in read_json(s3, HISTORY)["profiles"]] == ids[-3:]
    # a history written longer than N (N lowered since) is trimmed at the next run too
    monkeypatch.setenv("QUALITY_HISTORY_RUNS", "2")
    last = run(s3, SAMPLE, 6)
    assert quality_of(s3, last)["baseline_runs"] == 3
    assert [p["run_id"] for p in read_json(s3, HISTORY)["profiles"]] == [ids[-1], last["run_id"]]


def test_unusable_history_is_reported_and_replaced(s3, capsys):
    s3.put_object(Bucket=BUCKET, Key=HISTORY, Body=b"{not json")
    result = run(s3, SAMPLE, 1)
    assert result["status"] == "succeeded" and quality_of(s3, result)["baseline_runs"] == 0
    warned = [line for line in log_lines(capsys) if line.get("event") == "quality_history"]
    assert warned and HISTORY in warned[0]["key"]
    assert [p["run_id"] for p in read_json(s3, HISTORY)["profiles"]] == [result["run_id"]]


def test_bad_quality_setting_fails_the_run_naming_it(s3, monkeypatch):
    monkeypatch.setenv("QUALITY_ON_FAILURE", "stop")
    from handler.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="QUALITY_ON_FAILURE='stop'"):
        run(s3, SAMPLE, 1)


def test_failed_run_does_not_touch_the_history(s3):
    run(s3, SAMPLE, 1)
    before = s3.get_object(Bucket=BUCKET, Key=HISTORY)["Body"].read()
    s3.put_object(Bucket=BUCKET, Key=ENV["INPUT_KEY"], Body=b"a,b\n1,2,3\n")
    with pytest.raises(errors.PipelineError):
        invoke("99999999-0000-0000-0000-000000000000")
    assert s3.get_object(Bucket=BUCKET, Key=HISTORY)["Body"].read() == before
    assert json.loads(before)["version"] == 1


def refuse(s3, monkeypatch, operation: str, code: str) -> None:
    """Make one S3 operation on the history key fail with `code`, as a missing grant would."""
    from botocore.exceptions import ClientError

    original = getattr(s3, operation)

    def guarded(**kwargs):
        if kwargs.get("Key") == HISTORY:
            raise ClientError({"Error": {"Code": code, "Message": "denied"}}, operation)
        return original(**kwargs)

    monkeypatch.setattr(s3, operation, guarded)


def test_history_write_failure_is_logged_and_the_run_stays_published(s3, monkeypatch, capsys):
    refuse(s3, monkeypatch, "put_object", "AccessDenied")
    result = run(s3, SAMPLE, 1)
    assert result["status"] == "succeeded"
    assert read_json(s3, "processed/latest.json")["run_id"] == result["run_id"]
    errors = [line for line in log_lines(capsys) if line.get("event") == "quality_history"]
    assert errors[0]["level"] == "ERROR" and "Could not update the quality history" in errors[0]["message"]


def test_history_read_denied_fails_the_run_clearly(s3, monkeypatch):
    from handler.errors import QualityHistoryError

    refuse(s3, monkeypatch, "get_object", "AccessDenied")
    with pytest.raises(QualityHistoryError, match=r"cannot read the quality history .*AccessDenied") as caught:
        run(s3, SAMPLE, 1)
    assert caught.value.as_dict()["code"] == "QualityHistoryUnreadable"
    assert keys(s3, "processed/latest.json") == []


def test_quality_timings_are_reported(s3):
    result = run(s3, SAMPLE, 1)
    assert set(result["quality_timings_ms"]) == {"history_read_ms", "zeros_ms", "checks_ms", "history_write_ms"}
    assert all(v >= 0 for v in result["quality_timings_ms"].values())


# ------------------------------------------------------------------ the timeout guard and the quality steps


def timed_run(s3, context, n: int) -> dict:
    s3.put_object(Bucket=BUCKET, Key=ENV["INPUT_KEY"], Body=SAMPLE)
    context.aws_request_id = f"{n:08d}-0000-0000-0000-000000000000"
    return lambda_function.lambda_handler({}, context)


def test_run_timed_out_after_quality_json_deletes_it_and_leaves_history_and_latest(s3, monkeypatch):
    """quality.json is one of the run's outputs: a run that stops itself deletes it with the rest."""
    from tests.functional.test_handler import Clock

    first = run(s3, SAMPLE, 1)
    history_before = s3.get_object(Bucket=BUCKET, Key=HISTORY)["Body"].read()
    latest_before = read_json(s3, "processed/latest.json")
    context = Clock(60_000)
    log_saved = pipeline_run.PipelineRun._log_saved

    def then_time_runs_out(self, files):  # called after the outputs (quality.json too) are written
        context.remaining_ms = 100
        return log_saved(self, files)

    monkeypatch.setattr(pipeline_run.PipelineRun, "_log_saved", then_time_runs_out)
    with pytest.raises(TimeoutError, match=r"stopped while writing run\.json: 100 ms left"):
        timed_run(s3, context, 2)
    folder = [k for k in keys(s3, "processed/runs/") if not k.startswith(f"processed/runs/{first['run_id']}/")]
    assert len(folder) == 1 and folder[0].endswith("/run.json")  # quality.json and the rest deleted
    document = read_json(s3, folder[0])
    assert document["status"] == "failed" and document["error"]["step"] == "writing run.json"
    assert s3.get_object(Bucket=BUCKET, Key=HISTORY)["Body"].read() == history_before
    assert read_json(s3, "processed/latest.json") == latest_before


def test_time_running_out_after_publishing_keeps_the_run_and_its_history(s3, monkeypatch, capsys):
    """Past latest.json a timeout must not unpublish the run; the history's rewrite, sent beside
    latest.json after the last checkpoint, completes."""
    from tests.functional.test_handler import Clock

    first = run(s3, SAMPLE, 1)
    history_before = s3.get_object(Bucket=BUCKET, Key=HISTORY)["Body"].read()
    context = Clock(60_000)
    put_object = s3.put_object

    def publish_then_run_out(**kwargs):
        response = put_object(**kwargs)
        if kwargs.get("Key") == "processed/latest.json":
            context.remaining_ms = 100
        return response

    monkeypatch.setattr(s3, "put_object", publish_then_run_out)
    capsys.readouterr()
    result = timed_run(s3, context, 2)
    assert result["status"] == "succeeded"
    assert read_json(s3, "processed/latest.json")["run_id"] == result["run_id"] != first["run_id"]
    folder = f"processed/runs/{result['run_id']}/"
    assert read_json(s3, folder + "run.json")["status"] == "succeeded"
    assert folder + "quality.json" in keys(s3, folder) and folder + "cleaned.csv" in keys(s3, folder)
    profiles = read_json(s3, HISTORY)["profiles"]
    assert s3.get_object(Bucket=BUCKET, Key=HISTORY)["Body"].read() != history_before
    assert [p["run_id"] for p in profiles] == [first["run_id"], result["run_id"]]
    assert not [line for line in log_lines(capsys) if line.get("level") == "ERROR"]


def test_the_alarm_ends_once_the_run_is_published(s3, monkeypatch):
    """SIGALRM path: a history write still going when the alarm would have fired does not fail the run."""
    import time

    from tests.functional.test_handler import Clock

    context = Clock(6000)  # margin min(5 s, 6 s / 4) = 1.5 s: the alarm would fire 4.5 s in
    context.real = True
    write_history = pipeline_run.PipelineRun._write_history

    def slow_write(self, history, current):  # in the history's request thread, beside latest.json
        time.sleep(max(0.0, 5.0 - (time.monotonic() - context.started)))  # past the alarm's time
        write_history(self, history, current)

    monkeypatch.setattr(pipeline_run.PipelineRun, "_write_history", slow_write)
    result = timed_run(s3, context, 1)
    assert result["status"] == "succeeded"
    assert read_json(s3, "processed/latest.json")["run_id"] == result["run_id"]
    assert [p["run_id"] for p in read_json(s3, HISTORY)["profiles"]] == [result["run_id"]]
