"""The Lambda handler end to end against moto S3: outputs, logs, metrics, and failure safety."""

from __future__ import annotations

import json
import threading
import time
from types import SimpleNamespace

import boto3
import pytest

from handler import errors, lambda_function, outputs, s3io
from tests.conftest import SAMPLE_CSV

# The Lambda lane (.ci/lambda-lane) runs this module on Python 3.12 with the layer's versions.
pytestmark = pytest.mark.handler

BUCKET = "dataops-test-bucket"
ENV = {
    "BUCKET_NAME": BUCKET,
    "INPUT_KEY": "diabetes_preprocessed.csv",
    "OUTPUT_PREFIX": "processed/",
    "AWS_LAMBDA_FUNCTION_NAME": "DataOpsPipelineFunction",
    # Most tests run one input again and again to test something else; skipping has its own tests
    # (tests/functional/test_skip_unchanged.py).
    "SKIP_UNCHANGED": "false",
}


@pytest.fixture
def s3(mock_aws_env, monkeypatch):
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    client = boto3.client("s3", region_name="ap-south-1")
    client.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "ap-south-1"})
    client.put_object(Bucket=BUCKET, Key=ENV["INPUT_KEY"], Body=SAMPLE_CSV.read_bytes())
    monkeypatch.setattr(lambda_function, "_s3_client", client)
    return client


def invoke(request_id: str = "11111111-2222-3333-4444-555555555555", event: dict | None = None):
    return lambda_function.lambda_handler(event or {}, SimpleNamespace(aws_request_id=request_id))


def keys(client, prefix: str = "") -> list[str]:
    listing = client.list_objects_v2(Bucket=BUCKET, Prefix=prefix)
    return sorted(o["Key"] for o in listing.get("Contents", []))


def read_json(client, key: str):
    return json.loads(client.get_object(Bucket=BUCKET, Key=key)["Body"].read())


def log_lines(capsys) -> list[dict]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_run_writes_every_output_then_latest(s3, capsys):
    result = invoke()
    run_id = result["run_id"]
    folder = f"processed/runs/{run_id}/"
    assert keys(s3, folder) == [
        folder + n
        for n in ("cleaned.csv", "correlation.csv", "dtypes.json", "quality.json", "run.json", "summary.json")
    ]
    latest = read_json(s3, "processed/latest.json")
    assert latest["run_id"] == run_id
    assert latest["outputs"] == {
        "cleaned": folder + "cleaned.csv",
        "correlation": folder + "correlation.csv",
        "summary": folder + "summary.json",
        "dtypes": folder + "dtypes.json",
        "quality": folder + "quality.json",
        "log": folder + "run.json",
    }
    summary = read_json(s3, folder + "summary.json")
    assert summary["rows"] == 768 and summary["columns"] == 9
    assert summary["input"]["size_bytes"] == SAMPLE_CSV.stat().st_size
    assert summary["input"]["etag"] == s3.head_object(Bucket=BUCKET, Key=ENV["INPUT_KEY"])["ETag"].strip('"')
    assert summary["missing_before_imputation"]["Insulin"] == result["missing_values_handled"]["Insulin"] > 0
    assert set(summary["timings_ms"]) >= {"read_ms", "impute_ms", "correlate_ms", "normalize_ms", "write_ms"}
    assert set(summary["versions"]) >= {"python", "pyarrow", "numpy", "pandas"}
    assert read_json(s3, folder + "dtypes.json")["Outcome"] == "int64"
    run_log = read_json(s3, folder + "run.json")
    assert run_log["status"] == "succeeded"
    assert run_log["shape"] == {"rows": 768, "columns": 9}
    assert run_log["files_saved"] == list(latest["outputs"].values())
    assert [e["event"] for e in run_log["events"]] == ["start", "shape", "missing", "quality", "saved"]
    assert run_log["trigger"] == "unknown"
    cleaned = s3.get_object(Bucket=BUCKET, Key=folder + "cleaned.csv")["Body"].read().decode()
    assert len(cleaned.splitlines()) == 769


def test_logs_are_json_lines_with_markers_and_one_emf_document(s3, capsys):
    invoke()
    lines = log_lines(capsys)
    events = [line for line in lines if "event" in line]
    assert [e["message"][0] for e in events] == ["🚀", "📊", "📈", "🔎", "✅"]
    assert all(e["request_id"] == "11111111-2222-3333-4444-555555555555" for e in events)
    assert events[1]["rows"] == 768 and events[1]["columns"] == 9
    assert events[2]["missing_values_handled"]["SkinThickness"] > 0
    assert events[3]["quality"] == {"baseline_runs": 0, "ok": 27, "warn": 0, "fail": 0}
    assert len(events[4]["files"]) == 6
    emf = [line for line in lines if "_aws" in line]
    assert len(emf) == 1
    names = {m["Name"] for m in emf[0]["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    assert names == {
        "RowsProcessed",
        "MissingValuesImputed",
        "ProcessingTime",
        "RunFailed",
        "QualityWarnings",
        "QualityFailures",
        "RunsSkipped",
    }
    assert (emf[0]["QualityWarnings"], emf[0]["QualityFailures"]) == (0, 0)
    assert emf[0]["RowsProcessed"] == 768 and emf[0]["RunFailed"] == 0


def test_cold_start_flag_is_true_only_for_the_first_invocation(s3, capsys, monkeypatch):
    monkeypatch.setattr(lambda_function, "_cold_start", True)
    invoke("aaaaaaaa-0000-0000-0000-000000000001")
    invoke("bbbbbbbb-0000-0000-0000-000000000002")
    flags = [line["cold_start"] for line in log_lines(capsys) if line.get("event") == "start"]
    assert flags == [True, False]


def test_failed_run_leaves_latest_and_earlier_runs_untouched(s3, capsys):
    good = invoke("aaaaaaaa-0000-0000-0000-000000000001")
    before = {k: s3.get_object(Bucket=BUCKET, Key=k)["Body"].read() for k in keys(s3, "processed/")}
    s3.put_object(Bucket=BUCKET, Key=ENV["INPUT_KEY"], Body=b"a,b\n1,2,3\n")
    capsys.readouterr()
    with pytest.raises(errors.RaggedRowError):
        invoke("bbbbbbbb-0000-0000-0000-000000000002")
    after = {k: s3.get_object(Bucket=BUCKET, Key=k)["Body"].read() for k in keys(s3, "processed/")}
    new = sorted(set(after) - set(before))
    assert all(after[k] == v for k, v in before.items())
    assert json.loads(after["processed/latest.json"])["run_id"] == good["run_id"]
    assert len(new) == 1 and new[0].endswith("/run.json")
    failed = json.loads(after[new[0]])
    assert failed["status"] == "failed"
    assert failed["error"]["code"] == "WrongFieldCount" and failed["error"]["line"] == 2
    lines = log_lines(capsys)
    error_lines = [line for line in lines if line.get("level") == "ERROR"]
    assert len(error_lines) == 1 and error_lines[0]["message"].startswith("❌ Pipeline run failed: line 2")
    assert [line["RunFailed"] for line in lines if "_aws" in line] == [1]


def test_failure_while_writing_removes_partial_outputs_and_aborts_multipart(s3, capsys, monkeypatch):
    monkeypatch.setattr(s3io, "PART_BYTES", 5 << 20)
    big = b"Pregnancies,Glucose\n" + b"".join(b"%d,%d\n" % (i % 17, 50 + i % 140) for i in range(900_000))
    s3.put_object(Bucket=BUCKET, Key=ENV["INPUT_KEY"], Body=big)
    monkeypatch.setenv("ZERO_AS_MISSING", "Glucose")
    monkeypatch.setenv("NORMALIZE_EXCLUDE", "")
    real_put = s3.put_object

    def fail_on_summary(**kwargs):
        if kwargs["Key"].endswith("summary.json"):
            raise s3.exceptions.ClientError({"Error": {"Code": "SlowDown", "Message": "injected"}}, "PutObject")
        return real_put(**kwargs)

    monkeypatch.setattr(s3, "put_object", fail_on_summary)
    with pytest.raises(s3.exceptions.ClientError, match="injected"):
        invoke()
    remaining = keys(s3, "processed/")
    assert len(remaining) == 1 and remaining[0].endswith("run.json")
    assert read_json(s3, remaining[0])["error"]["type"] == "ClientError"
    assert s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []


def test_large_output_is_uploaded_in_parts(s3, capsys, monkeypatch):
    monkeypatch.setattr(s3io, "PART_BYTES", 5 << 20)
    big = b"a,b\n" + b"".join(b"%d,%d\n" % (i, i % 9) for i in range(700_000))
    s3.put_object(Bucket=BUCKET, Key=ENV["INPUT_KEY"], Body=big)
    monkeypatch.setenv("ZERO_AS_MISSING", "")
    monkeypatch.setenv("NORMALIZE_EXCLUDE", "")
    calls, created, completed = [], [], []
    real, real_create, real_complete = s3.upload_part, s3.create_multipart_upload, s3.complete_multipart_upload
    monkeypatch.setattr(s3, "upload_part", lambda **kw: calls.append(kw) or real(**kw))
    monkeypatch.setattr(s3, "create_multipart_upload", lambda **kw: created.append(kw) or real_create(**kw))
    monkeypatch.setattr(s3, "complete_multipart_upload", lambda **kw: completed.append(kw) or real_complete(**kw))
    result = invoke()
    head = s3.head_object(Bucket=BUCKET, Key=result["outputs"]["cleaned"], ChecksumMode="ENABLED")
    assert len(calls) >= 2 and head["ContentLength"] > 10 << 20
    # CRC32 on the upload and on every part; completion names each part's checksum (S3 verifies them).
    assert [kw["ChecksumAlgorithm"] for kw in created] == ["CRC32"]
    assert {kw["ChecksumAlgorithm"] for kw in calls} == {"CRC32"}
    parts = completed[0]["MultipartUpload"]["Parts"]
    assert [p["PartNumber"] for p in parts] == list(range(1, len(calls) + 1))
    assert all(p["ChecksumCRC32"] for p in parts)
    # AWS answers a composite checksum ("...==-<parts>"); moto 5.2 a plain one: only its presence is checked.
    assert head["ChecksumCRC32"]
    body = s3.get_object(Bucket=BUCKET, Key=result["outputs"]["cleaned"])["Body"].read()
    assert body.count(b"\n") == 700_001
    assert body.startswith(b"a,b\n")


def test_output_headers_are_not_quoted(s3, capsys):
    result = invoke()
    cleaned = s3.get_object(Bucket=BUCKET, Key=result["outputs"]["cleaned"])["Body"].read()
    correlation = s3.get_object(Bucket=BUCKET, Key=result["outputs"]["correlation"])["Body"].read()
    names = SAMPLE_CSV.read_bytes().split(b"\n", 1)[0].rstrip(b"\r")
    assert cleaned.split(b"\n", 1)[0] == names
    assert correlation.split(b"\n", 1)[0] == b"," + names
    assert b'"' not in cleaned + correlation


def test_summary_says_which_runtime_is_configured_and_which_ran(s3, capsys, monkeypatch):
    import platform

    monkeypatch.setenv("AWS_EXECUTION_ENV", "AWS_Lambda_python3.12")
    monkeypatch.delenv("DATAOPS_EXECUTED_BY_NOTE", raising=False)
    summary = read_json(s3, invoke()["outputs"]["summary"])
    assert summary["runtime"] == {"configured": "python3.12", "executed_by": f"python{platform.python_version()}"}
    monkeypatch.setenv("DATAOPS_EXECUTED_BY_NOTE", "local emulator")
    summary = read_json(s3, invoke("22222222-2222-3333-4444-555555555555")["outputs"]["summary"])
    assert summary["runtime"]["executed_by"] == f"python{platform.python_version()} (local emulator)"


def test_missing_input_object(s3, capsys):
    s3.delete_object(Bucket=BUCKET, Key=ENV["INPUT_KEY"])
    with pytest.raises(
        errors.InputNotFoundError, match=r"s3://dataops-test-bucket/diabetes_preprocessed\.csv does not exist"
    ):
        invoke()
    assert keys(s3, "processed/latest.json") == []


def test_missing_environment_variable(s3, capsys, monkeypatch):
    monkeypatch.delenv("BUCKET_NAME")
    with pytest.raises(errors.ConfigurationError, match="BUCKET_NAME is not set"):
        invoke()
    error = next(line for line in log_lines(capsys) if line.get("level") == "ERROR")
    assert error["error"]["setting"] == "BUCKET_NAME"


def test_pipeline_options_come_from_the_environment(s3, capsys, monkeypatch):
    monkeypatch.setenv("NORMALIZE_METHOD", "none")
    monkeypatch.setenv("ZERO_AS_MISSING", "Insulin")
    monkeypatch.setenv("IMPUTE_STRATEGY", "mean")
    result = invoke()
    assert list(result["missing_values_handled"]) == ["Insulin"]
    summary = read_json(s3, result["outputs"]["summary"])
    assert summary["options"]["impute_strategy"] == "mean"
    assert summary["normalized_columns"] == []


def test_bad_option_value_is_a_configuration_error(s3, capsys, monkeypatch):
    monkeypatch.setenv("NORMALIZE_METHOD", "robust")
    with pytest.raises(errors.ConfigurationError, match="NORMALIZE_METHOD='robust'"):
        invoke()


def test_module_import_creates_no_client():
    import importlib

    module = importlib.reload(lambda_function)
    assert module._s3_client is None


def test_run_records_what_triggered_it(s3, capsys):
    result = invoke(event={"trigger": "schedule", "stack": "dataops"})
    assert read_json(s3, result["outputs"]["log"])["trigger"] == "schedule"
    start = next(line for line in log_lines(capsys) if line.get("event") == "start")
    assert start["trigger"] == "schedule"


class Clock:
    """A Lambda context whose remaining time is scripted: `left(ms)` sets what the next calls answer."""

    def __init__(self, remaining_ms: int) -> None:
        self.aws_request_id = "99999999-2222-3333-4444-555555555555"
        self.remaining_ms = remaining_ms
        self.started = time.monotonic()
        self.real = False

    def get_remaining_time_in_millis(self) -> int:
        if self.real:
            return max(0, int(self.remaining_ms - (time.monotonic() - self.started) * 1000))
        return self.remaining_ms


def test_run_about_to_time_out_aborts_its_upload_and_records_the_failure(s3, capsys, monkeypatch):
    """The SIGALRM path: stuck mid multipart upload with the deadline near, the run stops itself and cleans up."""
    monkeypatch.setattr(s3io, "PART_BYTES", 5 << 20)

    def slow_write(result, sink, **_kwargs):
        sink.write(b"x" * (6 << 20))  # one part goes up: a multipart upload is open
        time.sleep(30)  # then it hangs until the function's timeout

    monkeypatch.setattr(outputs, "write_cleaned_csv", slow_write)
    context = Clock(3000)  # margin min(5 s, 3000 / 4) = 750 ms: stops at about 2.25 s
    context.real = True
    started = time.monotonic()
    with pytest.raises(TimeoutError, match=r"stopped while writing cleaned\.csv"):
        lambda_function.lambda_handler({}, context)
    assert time.monotonic() - started < 10
    remaining = keys(s3, "processed/")
    assert len(remaining) == 1 and remaining[0].endswith("run.json")
    document = read_json(s3, remaining[0])
    assert document["status"] == "failed"
    assert document["error"]["type"] == "TimeoutError" and document["error"]["step"] == "writing cleaned.csv"
    assert s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []
    assert "processed/latest.json" not in keys(s3)
    errors = [line for line in log_lines(capsys) if line.get("event") == "error"]
    assert errors and errors[0]["error"]["type"] == "TimeoutError"


def test_timeout_checkpoints_work_off_the_main_thread(s3, capsys):
    """No signals off the main thread: the checkpoints between steps still stop the run in time."""
    context = Clock(10_000)  # at the start: margin min(5 s, 10 s / 4) = 2.5 s
    answers = iter([10_000])
    context.get_remaining_time_in_millis = lambda: next(answers, 100)  # then: 100 ms left
    outcome: dict = {}

    def run() -> None:
        try:
            lambda_function.lambda_handler({}, context)
        except TimeoutError as exc:
            outcome["error"] = exc

    worker = threading.Thread(target=run)
    worker.start()
    worker.join(30)
    assert "stopped while reading the input and the quality history: 100 ms left" in str(outcome.get("error"))
    remaining = keys(s3, "processed/")
    assert len(remaining) == 1 and read_json(s3, remaining[0])["error"]["type"] == "TimeoutError"


def test_multipart_parts_are_exactly_part_size_in_recycled_buffers(s3):
    """Every part but the last is part_bytes long, cut across writes of any size; at most
    MAX_PARTS_IN_FLIGHT + 1 part buffers are ever made, and the object is the bytes written."""
    part = 5 << 20
    made: list[int] = []
    real_bytearray = bytearray

    class CountingBytearray(real_bytearray):
        def __init__(self, *args):
            super().__init__(*args)
            made.append(len(self))

    sizes = []
    real_upload = s3.upload_part
    sink = s3io.MultipartSink(s3, BUCKET, "out/big.csv", "text/csv", part_bytes=part)

    def upload(**kwargs):
        sizes.append(len(kwargs["Body"]))
        return real_upload(**kwargs)

    s3.upload_part = upload
    written = bytearray()
    s3io.bytearray = CountingBytearray  # the sink's buffers, counted
    try:
        for i in range(40):
            data = bytes([65 + i % 26]) * (700_001 + i * 10_007)  # odd sizes: parts cut across writes
            written += data
            sink.write(memoryview(data) if i % 2 else data)
        sink.close()
    finally:
        del s3io.bytearray
    assert sizes[:-1] == [part] * (len(sizes) - 1) and 0 < sizes[-1] <= part
    assert sum(sizes) == len(written) and len(sizes) == -(-len(written) // part)
    assert len(made) <= s3io.MAX_PARTS_IN_FLIGHT + 1
    assert s3.get_object(Bucket=BUCKET, Key="out/big.csv")["Body"].read() == bytes(written)
