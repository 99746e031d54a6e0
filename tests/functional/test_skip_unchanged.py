"""pipeline.skip_unchanged (issue 22): a run on the published run's input, settings and code does nothing.

moto S3 in process, as tests/functional/test_handler.py; requests are counted on the client.
"""

from __future__ import annotations

import json

import pytest

from handler import fingerprint, run_skip
from handler.contract import FORCE_FIELD
from tests.functional.test_handler import BUCKET, ENV, invoke, keys, log_lines, read_json
from tests.functional.test_handler import s3 as s3
from tests.functional.test_quality_handler import HISTORY, SAMPLE

# The Lambda lane (.ci/lambda-lane) runs this module on Python 3.12 with the layer's versions.
pytestmark = pytest.mark.handler

LATEST = "processed/latest.json"


@pytest.fixture
def skipping(s3, monkeypatch):
    monkeypatch.setenv("SKIP_UNCHANGED", "true")
    s3.put_object(Bucket=BUCKET, Key=ENV["INPUT_KEY"], Body=SAMPLE)
    return s3


def count_requests(s3) -> list[str]:
    """Every S3 operation the handler's client sends from now on."""
    seen: list[str] = []
    s3.meta.events.register("before-call.s3.*", lambda model, **_: seen.append(model.name))
    return seen


def test_an_unchanged_input_is_skipped_with_two_requests_and_no_writes(skipping, capsys):
    first = invoke("10000000-0000-0000-0000-000000000000")
    assert first["status"] == "succeeded"
    before = {k: skipping.head_object(Bucket=BUCKET, Key=k)["ETag"] for k in keys(skipping, "processed/")}
    seen = count_requests(skipping)
    capsys.readouterr()
    second = invoke("20000000-0000-0000-0000-000000000000")
    assert second["status"] == "skipped" and second["confirms"] == first["run_id"]
    assert sorted(seen) == ["GetObject", "GetObject"]  # the input (body unread) and latest.json
    after = {k: skipping.head_object(Bucket=BUCKET, Key=k)["ETag"] for k in keys(skipping, "processed/")}
    assert after == before
    lines = log_lines(capsys)
    events = [line for line in lines if "_aws" not in line]
    assert [e["event"] for e in events] == ["skipped"]
    assert events[0]["message"].startswith("⏭️ Run skipped") and first["run_id"] in events[0]["message"]
    assert events[0]["confirms"] == first["run_id"] and events[0]["run_id"] == second["run_id"]
    (emf,) = [line for line in lines if "_aws" in line]
    assert emf["RunsSkipped"] == 1 and emf["RunFailed"] == 0 and "RowsProcessed" not in emf


def test_a_processing_run_records_its_fingerprint_and_emits_zero_skips(skipping, capsys):
    result = invoke()
    latest = read_json(skipping, LATEST)
    assert latest["run_id"] == result["run_id"] and set(latest["fingerprint"]) == {"input_etag", "settings", "code"}
    assert read_json(skipping, latest["outputs"]["log"])["fingerprint"] == latest["fingerprint"]
    (emf,) = [line for line in log_lines(capsys) if "_aws" in line]
    assert emf["RunsSkipped"] == 0


def test_a_changed_input_is_processed(skipping):
    invoke("10000000-0000-0000-0000-000000000000")
    skipping.put_object(Bucket=BUCKET, Key=ENV["INPUT_KEY"], Body=SAMPLE + b"\n")  # another ETag
    assert invoke("20000000-0000-0000-0000-000000000000")["status"] == "succeeded"


def test_a_changed_setting_reprocesses_the_same_file(skipping, monkeypatch):
    invoke("10000000-0000-0000-0000-000000000000")
    monkeypatch.setenv("ZERO_AS_MISSING", "Glucose")
    assert invoke("20000000-0000-0000-0000-000000000000")["status"] == "succeeded"
    assert invoke("30000000-0000-0000-0000-000000000000")["status"] == "skipped"


def test_new_handler_code_reprocesses_the_same_file(skipping, monkeypatch):
    invoke("10000000-0000-0000-0000-000000000000")
    monkeypatch.setattr(run_skip, "code_version", lambda: "a-new-version")
    assert invoke("20000000-0000-0000-0000-000000000000")["status"] == "succeeded"


def test_force_runs_in_full_and_keeps_one_profile_per_input(skipping):
    first = invoke("10000000-0000-0000-0000-000000000000")
    forced = invoke("20000000-0000-0000-0000-000000000000", event={FORCE_FIELD: True})
    assert forced["status"] == "succeeded" and forced["quality"]["baseline_runs"] == 0  # not compared with itself
    profiles = read_json(skipping, HISTORY)["profiles"]
    assert [p["run_id"] for p in profiles] == [forced["run_id"]] != [first["run_id"]]
    skipping.put_object(Bucket=BUCKET, Key=ENV["INPUT_KEY"], Body=SAMPLE + b"\n")
    third = invoke("30000000-0000-0000-0000-000000000000")
    assert third["quality"]["baseline_runs"] == 1
    assert len(read_json(skipping, HISTORY)["profiles"]) == 2


@pytest.mark.parametrize("force", ["true", 1, "yes"])
def test_only_a_json_true_forces(skipping, force):
    invoke("10000000-0000-0000-0000-000000000000")
    assert invoke("20000000-0000-0000-0000-000000000000", event={FORCE_FIELD: force})["status"] == "skipped"


@pytest.mark.parametrize(
    "latest",
    [b"not json", json.dumps({"run_id": "x"}).encode(), json.dumps(["a"]).encode()],
    ids=["not-json", "no-fingerprint", "not-an-object"],
)
def test_a_latest_json_without_a_usable_fingerprint_never_skips(skipping, latest):
    invoke("10000000-0000-0000-0000-000000000000")
    skipping.put_object(Bucket=BUCKET, Key=LATEST, Body=latest)
    assert invoke("20000000-0000-0000-0000-000000000000")["status"] == "succeeded"


def test_skip_unchanged_false_processes_every_run(skipping, monkeypatch):
    monkeypatch.setenv("SKIP_UNCHANGED", "false")
    invoke("10000000-0000-0000-0000-000000000000")
    assert invoke("20000000-0000-0000-0000-000000000000")["status"] == "succeeded"


def test_a_bad_skip_unchanged_value_fails_naming_it(skipping, monkeypatch):
    from handler.errors import ConfigurationError

    monkeypatch.setenv("SKIP_UNCHANGED", "maybe")
    with pytest.raises(ConfigurationError, match="SKIP_UNCHANGED='maybe' is not 'true' or 'false'"):
        invoke()


def test_the_code_version_changes_with_any_handler_file(tmp_path):
    (tmp_path / "a.py").write_text("x = 1\n")
    before = fingerprint.code_version(tmp_path)
    (tmp_path / "a.py").write_text("x = 2\n")
    fingerprint.code_version.cache_clear()
    assert fingerprint.code_version(tmp_path) != before


def test_the_entry_point_imports_no_compute_library():
    """Lambda's init phase imports handler.lambda_function: numpy and pyarrow wait for the first run
    that processes (a skipped one never loads them), boto3 for the first invocation."""
    import subprocess
    import sys

    code = (
        "import sys, handler.lambda_function; "
        "print(','.join(m for m in ('numpy', 'pyarrow', 'pandas', 'boto3') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""


def test_status_reads_a_skipped_run_as_skipped_not_failed(skipping, capsys):
    """The run feed (status, runs) keys on the handler's lines: a skip has no ✅ line, and ended
    with a REPORT it would otherwise count as a run that crashed."""
    from dataops_cli.observe import runlog_reader

    invoke("10000000-0000-0000-0000-000000000000")
    capsys.readouterr()
    skipped = invoke("20000000-0000-0000-0000-000000000000")
    lines = capsys.readouterr().out.splitlines()
    report = "REPORT RequestId: 20000000-0000-0000-0000-000000000000\tDuration: 12.0 ms\tBilled Duration: 12 ms\t"
    report += "Memory Size: 1024 MB\tMax Memory Used: 90 MB"
    events = [{"message": line, "timestamp": 1000 + i} for i, line in enumerate([*lines, report])]
    (run,) = runlog_reader.runs_from_events(events)
    assert run.run_id == skipped["run_id"] and run.outcome == runlog_reader.SKIPPED
