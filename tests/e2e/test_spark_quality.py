"""The Spark job's data-quality checks are the handler's: quality.json and the history, run by run.

Split from test_spark_job.py (same reference, same helpers) so that xdist runs the two halves
of the Spark parity tests on both workers. Skipped when pyspark or Java is missing.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import pytest

pytest.importorskip("pyspark", reason="pyspark is an extra: pip install -e '.[spark]'")
if shutil.which("java") is None:
    pytest.skip("the Spark tests need Java 17 (java on PATH)", allow_module_level=True)

from handler import errors
from handler.pipeline import PipelineOptions
from handler.quality import QualitySettings
from handler.spark_job.__main__ import main
from handler.spark_job.job import run_job
from handler.spark_job.store import LocalInput, LocalOutput
from tests.e2e.test_spark_job import generated_csv, spark_run
from tests.functional import test_quality_handler
from tests.functional.test_handler import read_json
from tests.functional.test_quality_handler import SAMPLE, min_max_normalized, quality_of, run, shifted, with_column

# The same sequences of inputs through the handler (moto S3) and the Spark job (local files):
# quality.json and the history must be the handler's, up to the run ids and float noise.
s3 = test_quality_handler.s3  # the handler's moto bucket (a fixture), for the handler side of each comparison
HISTORY = "quality/history.json"


def handler_sequence(s3, inputs: list[bytes]) -> tuple[list[dict], list[dict], dict]:
    """Each run's result and quality.json, and the history after the last run."""
    results = [run(s3, data, n) for n, data in enumerate(inputs, start=1)]
    documents = [quality_of(s3, r) for r in results]
    return results, documents, read_json(s3, "processed/" + HISTORY)


def spark_sequence(spark, tmp_path: Path, inputs: list[bytes], options: PipelineOptions, quality=None, history=True):
    """Each run's result (with its log lines under "log") and quality.json, the history, the output folder."""
    source, out = tmp_path / "in.csv", tmp_path / "out"
    results = []
    for data in inputs:
        source.write_bytes(data)
        stream = io.StringIO()
        results.append(run_job(spark, LocalInput(source), LocalOutput(out), options, stream=stream, quality=quality))
        results[-1]["log"] = [json.loads(line) for line in stream.getvalue().splitlines()]
    documents = [json.loads((out / r["outputs"]["quality"]).read_text()) for r in results]
    return results, documents, json.loads((out / HISTORY).read_text()) if history else None, out


def same(got, want, where: str = "") -> None:
    """Equal, floats within 1e-9 (the engines' sums differ in the last bits); names the first difference."""
    if isinstance(want, float) and isinstance(got, float):
        assert got == pytest.approx(want, rel=1e-9, abs=1e-9), where
    elif isinstance(want, dict):
        assert isinstance(got, dict) and list(got) == list(want), f"{where}: keys {list(got)} != {list(want)}"
        for key in want:
            same(got[key], want[key], f"{where}.{key}")
    elif isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), f"{where}: {got!r} != {want!r}"
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            same(g, w, f"{where}[{i}]")
    else:
        assert got == want, where


def without_run_ids(document, run_ids: list[str]):
    text = json.dumps(document)
    for i, run_id in enumerate(run_ids):
        text = text.replace(run_id, f"<run {i}>")
    return json.loads(text)


def assert_same_quality(spark_side, handler_side) -> None:
    (s_results, s_documents, s_history), (h_results, h_documents, h_history) = spark_side[:3], handler_side
    s_ids, h_ids = [r["run_id"] for r in s_results], [r["run_id"] for r in h_results]
    for n, (got, want) in enumerate(zip(s_documents, h_documents, strict=True)):
        same(without_run_ids(got, s_ids), without_run_ids(want, h_ids), f"run {n + 1} quality.json")
    for got, want in zip(s_results, h_results, strict=True):
        assert (got["status"], got["quality"]) == (want["status"], want["quality"])
        assert [key for key in got if key != "log"] == list(want), "the same result payload, in the same order"
    same(without_run_ids(s_history, s_ids), without_run_ids(h_history, h_ids), "history.json")


def not_ok_checks(document: dict) -> list[tuple]:
    return [(c["name"], c["level"], c.get("column")) for c in document["checks"] if c["level"] != "ok"]


def test_quality_matches_the_handler_on_the_sample_with_drift(spark, tmp_path, s3):
    """Sample, sample again, BMI shifted by +15, then a min-max normalized copy (zero_markers)."""
    inputs = [SAMPLE, SAMPLE, shifted("BMI", 15), min_max_normalized()]
    handler_side = handler_sequence(s3, inputs)
    spark_side = spark_sequence(spark, tmp_path, inputs, PipelineOptions())
    assert_same_quality(spark_side, handler_side)
    documents = spark_side[1]
    assert documents[0]["baseline_runs"] == 0 and not_ok_checks(documents[1]) == []
    assert not_ok_checks(documents[2]) == [("distribution", "warn", "BMI")]
    assert ("zero_markers", "warn", "Glucose") in not_ok_checks(documents[3])
    # the sample has no blanks: its zeros are all its missing cells (counted while Spark caches the frame)
    assert spark_side[2]["profiles"][0]["zeros"] == {
        "Glucose": 2,
        "BloodPressure": 30,
        "SkinThickness": 208,
        "Insulin": 374,
        "BMI": 13,
    }


def test_quality_matches_the_handler_on_generated_files_with_blanks(spark, tmp_path, s3):
    """Blanks, a text column with gaps, a constant column (its correlations are null); then drift."""
    first = generated_csv(tmp_path, 3001, seed=7)
    header, *lines = first.decode().splitlines()
    index = header.split(",").index("Glucose")
    drifted = [header]
    for i, line in enumerate(lines[:1200]):  # 1200 of 3001 rows: row_count warns
        cells = next(csv.reader([line]))
        if i % 5 < 2:
            cells[index] = ""  # Glucose blank in 40% more rows: completeness warns
        out = io.StringIO()
        csv.writer(out, lineterminator="").writerow(cells)
        drifted.append(out.getvalue())
    second = ("\n".join(drifted) + "\n").encode()
    options = PipelineOptions(normalize_exclude=("Outcome", "Const"))
    handler_env = {"ZERO_AS_MISSING": ",".join(options.zero_as_missing), "NORMALIZE_EXCLUDE": "Outcome,Const"}
    with pytest.MonkeyPatch.context() as patch:
        for name, value in handler_env.items():
            patch.setenv(name, value)
        handler_side = handler_sequence(s3, [first, second])
    spark_side = spark_sequence(spark, tmp_path, [first, second], options)
    assert_same_quality(spark_side, handler_side)
    flagged = not_ok_checks(spark_side[1][1])
    assert ("row_count", "warn", None) in flagged and ("completeness", "warn", "Glucose") in flagged
    profile = spark_side[2]["profiles"][0]
    assert profile["missing"]["Group"] > 0 and profile["columns"][-2:] == [
        {"name": "Group", "type": "text"},
        {"name": "Const", "type": "numeric"},
    ]
    assert profile["correlation"]["matrix"][-1][0] is None, "pairs with the constant column are null"


def test_a_failing_check_in_block_mode_quarantines_the_spark_run(spark, tmp_path, capsys):
    source, out = tmp_path / "in.csv", tmp_path / "out"
    source.write_bytes(SAMPLE)
    flags = ["--input", str(source), "--output", str(out), "--quality-on-failure", "block"]
    assert main(flags) == 0
    latest, history = (out / "latest.json").read_bytes(), (out / HISTORY).read_bytes()
    capsys.readouterr()
    source.write_bytes(with_column(SAMPLE))
    assert main(flags) == 0, "a quarantined run is not a failed one"
    captured = capsys.readouterr()
    assert "quarantined: failing checks schema; latest.json unchanged" in captured.err
    assert (out / "latest.json").read_bytes() == latest and (out / HISTORY).read_bytes() == history
    run_files = sorted((out / "runs").glob("*/run.json"))
    documents = [json.loads(p.read_text()) for p in run_files]
    bad = next(d for d in documents if d["status"] == "quarantined")
    assert [c["name"] for c in bad["failed_checks"]] == ["schema"]
    assert bad["quality"] == {"baseline_runs": 1, "ok": 28, "warn": 0, "fail": 1}
    folder = out / "runs" / bad["run_id"]
    assert (folder / "quality.json").is_file() and (folder / "cleaned_manifest.json").is_file()
    lines = [json.loads(line) for line in captured.out.splitlines() if line.startswith("{")]
    events = [line.get("event") for line in lines if "event" in line]
    assert events[-2:] == ["saved", "quarantined"]
    flagged = [line for line in lines if line.get("event") == "quality_check"]
    assert [(f["level"], f["message"][0]) for f in flagged] == [("ERROR", "❌")]
    emf = [line for line in lines if "_aws" in line][-1]
    assert (emf["QualityWarnings"], emf["QualityFailures"], emf["RunFailed"]) == (0, 1, 0)

    # warn mode (the default): the same failing check publishes the run and extends the history
    assert main(flags[:-2]) == 0
    assert json.loads((out / "latest.json").read_text())["run_id"] != json.loads(latest)["run_id"]
    assert len(json.loads((out / HISTORY).read_text())["profiles"]) == 2


def test_bad_quality_flag_exits_2_naming_the_variable(tmp_path, capsys):
    source = tmp_path / "in.csv"
    source.write_bytes(b"a,b\n1,2\n")
    assert main(["--input", str(source), "--output", str(tmp_path / "out"), "--quality-history-runs", "lots"]) == 2
    assert "QUALITY_HISTORY_RUNS='lots' is not an integer" in capsys.readouterr().err


def test_history_unusable_is_replaced_and_unreadable_fails_the_run(spark, tmp_path):
    out = tmp_path / "out"
    (out / "quality").mkdir(parents=True)
    (out / HISTORY).write_text("not json")
    results, documents, history, _ = spark_sequence(spark, tmp_path, [SAMPLE], PipelineOptions())
    assert documents[0]["baseline_runs"] == 0 and len(history["profiles"]) == 1
    assert any(line.get("event") == "quality_history" for line in results[0]["log"])

    latest = (out / "latest.json").read_bytes()
    (out / HISTORY).unlink()
    (out / HISTORY).mkdir()  # a folder where the file should be: cannot be read
    with pytest.raises(errors.QualityHistoryError, match="cannot read the quality history"):
        spark_run(spark, tmp_path, SAMPLE, PipelineOptions())
    assert (out / "latest.json").read_bytes() == latest, "a failed run never moves latest.json"


def test_history_write_failure_is_logged_and_the_run_stays_published(spark, tmp_path, monkeypatch):
    real_put = LocalOutput.put

    def put(self, key, body, content_type):
        if key == HISTORY:
            raise PermissionError(13, "Permission denied", str(self.root / key))
        real_put(self, key, body, content_type)

    monkeypatch.setattr(LocalOutput, "put", put)
    results, _, _, out = spark_sequence(spark, tmp_path, [SAMPLE], PipelineOptions(), history=False)
    assert results[0]["status"] == "succeeded" and not (out / HISTORY).exists()
    assert json.loads((out / "latest.json").read_text())["run_id"] == results[0]["run_id"]
    errors_logged = [line for line in results[0]["log"] if line.get("event") == "quality_history"]
    assert len(errors_logged) == 1 and "Could not update the quality history" in errors_logged[0]["message"]


def test_spark_quality_settings_are_the_handlers(spark, tmp_path):
    """Settings reach the checks: a tighter row-count band warns where the default does not."""
    tight = QualitySettings(row_count_min_factor=0.99)
    inputs = [SAMPLE, SAMPLE.rsplit(b"\n", 30)[0] + b"\n"]  # 29 rows fewer
    _, documents, _, _ = spark_sequence(spark, tmp_path, inputs, PipelineOptions(), quality=tight)
    assert not_ok_checks(documents[1]) == [("row_count", "warn", None)]


# --------------------------------------------------------------------------- issue 19: integrity, bounds, formulas


def test_anything_raised_after_publishing_keeps_the_spark_run_published(spark, tmp_path, monkeypatch):
    """As the handler: before, a ValueError from history_body after latest.json deleted the run's files."""
    from handler.spark_job import history

    def broken(*args, **kwargs):
        raise ValueError("Out of range float values are not JSON compliant")

    monkeypatch.setattr(history, "history_body", broken)
    results, _, _, out = spark_sequence(spark, tmp_path, [SAMPLE], PipelineOptions(), history=False)
    assert results[0]["status"] == "succeeded"
    latest = json.loads((out / "latest.json").read_text())
    assert all((out / key).is_file() for key in latest["outputs"].values()), "latest.json names a deleted file"
    logged = [line for line in results[0]["log"] if line.get("level") == "ERROR"]
    assert len(logged) == 1 and "is published, but updating the quality history failed" in logged[0]["message"]


def test_nan_in_the_history_is_replaced_by_the_spark_job(spark, tmp_path):
    out = tmp_path / "out"
    (out / "quality").mkdir(parents=True)
    profile = {
        "run_id": "r",
        "rows": 1,
        "columns": [],
        "missing_rate": {},
        "numeric": {"a": {"mean": 1.0, "std": 0.0, "min": 1.0, "max": 1.0}},
        "zeros": {"a": float("nan")},
    }
    (out / HISTORY).write_text(json.dumps({"version": 1, "profiles": [profile]}))
    results, documents, history, _ = spark_sequence(spark, tmp_path, [SAMPLE], PipelineOptions())
    assert results[0]["status"] == "succeeded" and documents[0]["baseline_runs"] == 0
    assert [p["run_id"] for p in history["profiles"]] == [results[0]["run_id"]]
