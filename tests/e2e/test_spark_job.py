"""The Spark job computes what the handler computes, and fails where and how the handler fails.

One local SparkSession per module (tests/e2e/conftest.py; start-up costs seconds); small inputs. The
handler's pure pipeline (read_columns -> process) is the reference: medians and min/max
equal exactly, normalized values within 1e-12, correlations within 1e-9, the same summary
fields, the same error classes. Skipped when pyspark or Java is missing.
"""

from __future__ import annotations

import csv
import importlib.util
import io
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pyspark", reason="pyspark is an extra: pip install -e '.[spark]'")
if shutil.which("java") is None:
    pytest.skip("the Spark tests need Java 17 (java on PATH)", allow_module_level=True)

from handler import errors
from handler.outputs import summary_document
from handler.pipeline import PipelineOptions, PipelineResult, process
from handler.reader import SAMPLE_BYTES, read_columns
from handler.spark_job import compute
from handler.spark_job.__main__ import main
from handler.spark_job.job import run_job
from handler.spark_job.store import LocalInput, LocalOutput
from tests.conftest import REPO, SAMPLE_CSV, opener

NORMALIZED_TOLERANCE = 1e-12
CORRELATION_TOLERANCE = 1e-9
PLAIN = PipelineOptions(zero_as_missing=(), normalize_exclude=())


def generated_csv(tmp_path: Path, rows: int, seed: int) -> bytes:
    """dataops_cli/starter/generate.py's Pima-like table with 5% blank cells, plus a text and a constant column."""
    spec = importlib.util.spec_from_file_location("generate", REPO / "dataops_cli" / "starter" / "generate.py")
    assert spec and spec.loader
    generate = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generate)
    path = tmp_path / "generated.csv"
    generate.write(generate.generate(rows, seed=seed, blank_rate=0.05), path)
    lines = path.read_text().splitlines()
    rng = np.random.default_rng(seed)
    groups = ["b", "a", "c, d", 'q"x', ""]  # a comma and a quote need quoting; "" is a blank
    picks = rng.choice(len(groups), size=rows, p=[0.3, 0.3, 0.15, 0.15, 0.1])
    out = [lines[0] + ",Group,Const"]
    for line, pick in zip(lines[1:], picks, strict=True):
        value = groups[pick]
        cell = '"' + value.replace('"', '""') + '"' if ("," in value or '"' in value) else value
        out.append(f"{line},{cell},7")
    return ("\n".join(out) + "\n").encode()


def handler_run(data: bytes, options: PipelineOptions) -> PipelineResult:
    return process(read_columns(opener(data), size_hint=len(data)), options)


def spark_run(spark, tmp_path: Path, data: bytes, options: PipelineOptions, name: str = "in.csv") -> Path:
    source = tmp_path / name
    source.write_bytes(data)
    out = tmp_path / "out"
    run_job(spark, LocalInput(source), LocalOutput(out), options, stream=io.StringIO())
    return out


def read_outputs(out: Path) -> dict:
    latest = json.loads((out / "latest.json").read_text())
    outputs = {k: out / v for k, v in latest["outputs"].items()}
    manifest = json.loads(outputs["cleaned"].read_text())
    rows: list[list[str]] = []
    header = None
    for part in manifest["parts"]:
        with (out / part["key"]).open(newline="", encoding="utf-8") as stream:
            reader = csv.reader(stream)
            part_header = next(reader)
            assert header is None or part_header == header, "every part starts with the same header"
            header = part_header
            rows += list(reader)
    with outputs["correlation"].open(newline="") as stream:
        correlation = list(csv.reader(stream))
    return {
        "latest": latest,
        "manifest": manifest,
        "header": header,
        "rows": rows,
        "summary": json.loads(outputs["summary"].read_text()),
        "dtypes": json.loads(outputs["dtypes"].read_text()),
        "correlation": correlation,
        "run": json.loads(outputs["log"].read_text()),
    }


def assert_same_as_handler(expected: PipelineResult, got: dict, options: PipelineOptions) -> None:
    summary = got["summary"]
    reference = summary_document(expected, run_id="x", input={}, options={}, timings_ms={}, versions={})
    assert set(reference) <= set(summary), "the Spark summary has every field of the handler's"
    for key in ("rows", "columns", "column_names", "numeric_columns", "normalized_columns"):
        assert summary[key] == reference[key], key
    assert summary["missing_before_imputation"] == reference["missing_before_imputation"]
    assert summary["missing_total"] == reference["missing_total"]
    assert summary["imputed_values"].keys() == reference["imputed_values"].keys()
    for name, value in reference["imputed_values"].items():
        if isinstance(value, str) or options.impute_strategy == "median":
            assert summary["imputed_values"][name] == value, f"{name}: median and mode are exact"
        else:
            assert summary["imputed_values"][name] == pytest.approx(value, rel=1e-13), name
    for key in ("statistics_after_imputation", "statistics_before_imputation", "statistics_before_normalization"):
        for name, stats in reference[key].items():
            spark_stats = summary[key][name]
            assert spark_stats.keys() == stats.keys(), (key, name)
            assert (spark_stats["min"], spark_stats["max"]) == (stats["min"], stats["max"]), (key, name)
            assert spark_stats.get("count") == stats.get("count"), (key, name)
            assert spark_stats["mean"] == pytest.approx(stats["mean"], rel=1e-12, abs=1e-12), (key, name)
            assert spark_stats["std"] == pytest.approx(stats["std"], rel=1e-9, abs=1e-12), (key, name)
    assert got["dtypes"] == expected.dtypes

    assert got["header"] == expected.names
    assert len(got["rows"]) == expected.rows
    columns = list(zip(*got["rows"], strict=True))
    for j, name in enumerate(expected.names):
        want = expected.output[name]
        if expected.dtypes[name] == "string":
            assert list(columns[j]) == want.to_pylist(), name
            continue
        values = np.array([float(v) for v in columns[j]])
        if name in expected.normalized:
            assert np.abs(values - want).max() <= NORMALIZED_TOLERANCE, name
        else:
            assert np.array_equal(values, want), name
        if expected.dtypes[name] == "int64":
            assert all("." not in v and "E" not in v for v in columns[j]), f"{name} is written as integers"

    header, *body = got["correlation"]
    assert header == ["", *expected.numeric]
    for i, row in enumerate(body):
        assert row[0] == expected.numeric[i]
        for j, cell in enumerate(row[1:]):
            want = expected.correlation[i, j]
            if math.isnan(want):
                assert cell == "", (row[0], expected.numeric[j])
            else:
                assert abs(float(cell) - want) <= CORRELATION_TOLERANCE, (row[0], expected.numeric[j])


def test_sample_file_matches_the_handler(spark, tmp_path):
    data = SAMPLE_CSV.read_bytes()
    options = PipelineOptions()
    out = spark_run(spark, tmp_path, data, options)
    got = read_outputs(out)
    assert_same_as_handler(handler_run(data, options), got, options)
    assert got["latest"]["engine"] == "spark"
    assert got["run"]["status"] == "succeeded" and got["manifest"]["rows"] == 768
    assert got["summary"]["input"]["size_bytes"] == len(data)


@pytest.mark.parametrize(
    "options",
    [
        PipelineOptions(normalize_exclude=("Outcome", "Const")),
        PipelineOptions(impute_strategy="mean", normalize_method="zscore"),
    ],
    ids=["median-minmax", "mean-zscore"],
)
def test_generated_file_with_blanks_matches_the_handler(spark, tmp_path, options):
    data = generated_csv(tmp_path, 3001, seed=7)  # odd row count; the columns' present counts vary
    got = read_outputs(spark_run(spark, tmp_path, data, options))
    expected = handler_run(data, options)
    assert expected.missing["Group"] > 0 and expected.imputed["Group"] in ("a", "b")
    assert_same_as_handler(expected, got, options)


def test_ties_constant_columns_and_whole_numbers(spark, tmp_path):
    # t: "b" and "a" twice each -> "a" (sorts first); k is constant; w stays int, h does not.
    data = b"x,t,k,w,h\n1,b,5,2,1\n2,a,5,4,\n4,,5,,2\n8,b,5,6,\n3,a,5,,3\n10,,5,1,4\n"
    options = PipelineOptions(zero_as_missing=(), normalize_method="none", normalize_exclude=())
    got = read_outputs(spark_run(spark, tmp_path, data, options))
    expected = handler_run(data, options)
    assert expected.imputed == {"t": "a", "w": 3.0, "h": 2.5}
    assert_same_as_handler(expected, got, options)
    assert got["dtypes"] == {"x": "int64", "t": "string", "k": "int64", "w": "int64", "h": "float64"}
    assert got["correlation"][2][1:] == ["", "", "", ""], "pairs with the constant column k are empty cells"


def test_exact_median_survives_a_sketch_that_misses(spark, monkeypatch):
    """A bracket that does not contain the median is detected and widened to the whole range."""
    from pyspark.sql import DataFrame

    rng = np.random.default_rng(3)
    values = {
        "c0": [float(v) for v in rng.integers(0, 5, size=1000)],  # heavy ties, even count
        "c1": [float(v) for v in rng.standard_normal(999)] + [None],  # odd count of present values
    }
    df = spark.createDataFrame(list(zip(values["c0"], values["c1"], strict=True)), "c0 double, c1 double")
    frame = compute.TypedFrame(df, ["a", "b"], ["a", "b"], [], rows=1000)
    calls = []

    def wrong(self, cols, probabilities, error):
        calls.append(probabilities)
        return [[1e9, 2e9] for _ in cols]  # far above every value

    monkeypatch.setattr(DataFrame, "approxQuantile", wrong)
    got = compute.exact_medians(frame, ["c0", "c1"], [1000, 999])
    assert got == [float(np.median(values["c0"])), float(np.median(values["c1"][:999]))]
    assert len(calls) >= 3  # widened 4x each time before taking the whole range


def test_options_come_from_flags_and_exit_codes_tell_the_truth(spark, tmp_path, capsys):
    source = tmp_path / "in.csv"
    source.write_bytes(b"a,b\n1,2\n3,4\n")
    out = tmp_path / "out"
    assert main(["--input", str(source), "--output", str(out), "--normalize-method", "cubic"]) == 2
    assert "NORMALIZE_METHOD='cubic' is not supported" in capsys.readouterr().err
    assert not out.exists()

    flags = ["--zero-as-missing", "", "--normalize-exclude", "", "--normalize-method", "none", "--JOB_RUN_ID", "jr_1"]
    assert main(["--input", str(source), "--output", str(out), *flags]) == 0
    summary = read_outputs(out)["summary"]
    assert summary["options"]["zero_as_missing"] == [] and summary["normalized_columns"] == []

    assert main(["--input", str(tmp_path / "missing.csv"), "--output", str(out)]) == 1
    assert "error: InputNotFoundError: input file" in capsys.readouterr().err
    assert json.loads((out / "latest.json").read_text())["run_id"] == summary["run_id"]


def test_an_unchanged_input_exits_before_spark_and_force_runs_it(spark, tmp_path, capsys):
    """SKIP_UNCHANGED in the Spark job: the second run of the same file skips; --force, a changed
    setting or --skip-unchanged false process it."""
    source = tmp_path / "in.csv"
    source.write_bytes(b"a,b\n1,2\n3,4\n")
    out = tmp_path / "out"
    flags = ["--input", str(source), "--output", str(out), "--zero-as-missing", "", "--normalize-exclude", ""]
    assert main(flags) == 0
    first = json.loads((out / "latest.json").read_text())
    assert set(first["fingerprint"]) == {"input_etag", "settings", "code"}
    capsys.readouterr()
    assert main(flags) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert [line["event"] for line in lines if "event" in line] == ["skipped"]
    assert json.loads((out / "latest.json").read_text())["run_id"] == first["run_id"]
    for extra in (["--force"], ["--skip-unchanged", "false"], ["--normalize-method", "zscore"]):
        assert main([*flags, *extra]) == 0
        assert json.loads((out / "latest.json").read_text())["run_id"] != first["run_id"]
        first = json.loads((out / "latest.json").read_text())
        if extra[0] == "--normalize-method":
            break
        assert main(flags) == 0  # unchanged since the run just made: skipped again
        assert json.loads((out / "latest.json").read_text())["run_id"] == first["run_id"]


# --------------------------------------------------------------------------- bad input

BAD_INPUTS = [
    (b"", errors.EmptyInputError, PLAIN),
    (b"a,b\n", errors.NoDataRowsError, PLAIN),
    (b"\x1f\x8b\x08\x00\x00rest", errors.NotTextError, PLAIN),
    ("name,b\nok,1\nJos\u00e9,2\n".encode("latin-1"), errors.NotTextError, PLAIN),
    (b"a,b\n1,2\n3,4,5\n", errors.RaggedRowError, PLAIN),
    (b"a,b,a\n1,2,3\n", errors.DuplicateColumnError, PLAIN),
    (b"a,,c\n1,2,3\n", errors.HeaderError, PLAIN),
    (b"name,city\nann,pune\n", errors.NoNumericColumnsError, PLAIN),
    (b"a,b\n1,2\n", errors.ColumnNotFoundError, PipelineOptions(zero_as_missing=("Glucose",), normalize_exclude=())),
    (b"a,b\n1,x\n2,0\n", errors.NonNumericColumnError, PipelineOptions(zero_as_missing=("b",), normalize_exclude=())),
    (b"a,b\n1,\n2,NA\n", errors.EmptyColumnError, PLAIN),
    (b"a,b\n1,0\n2,0\n", errors.EmptyColumnError, PipelineOptions(zero_as_missing=("b",), normalize_exclude=())),
    (b"a,t\n1,\n2,\n", errors.EmptyColumnError, PLAIN),
    (b"a,b\n1,2\n3,-inf\n", errors.NonFiniteValueError, PLAIN),
]


@pytest.mark.parametrize(("data", "error", "options"), BAD_INPUTS, ids=lambda v: getattr(v, "__name__", None))
def test_bad_input_gives_the_handlers_error(spark, tmp_path, data, error, options):
    with pytest.raises(error) as from_handler:
        handler_run(data, options)
    out = tmp_path / "out"
    (out / "runs" / "earlier").mkdir(parents=True)
    (out / "latest.json").write_text('{"run_id": "earlier"}')
    with pytest.raises(error) as from_spark:
        spark_run(spark, tmp_path, data, options)
    assert from_spark.value.details == from_handler.value.details
    assert (out / "latest.json").read_text() == '{"run_id": "earlier"}', "a failed run never moves latest.json"
    failed = [p for p in (out / "runs").rglob("*") if p.is_file()]
    assert len(failed) == 1 and failed[0].name == "run.json", "only the failed run.json is left"
    assert json.loads(failed[0].read_text())["error"]["type"] == error.__name__


def big(rows: int) -> bytes:
    """A file past the first MiB, so Spark (not the handler's sample check) meets what follows."""
    return b"a,b\n" + b"".join(b"%d,%d\n" % (i, i % 7 + 1) for i in range(rows))


BIG_ROWS = SAMPLE_BYTES // 8 + 1000


@pytest.mark.parametrize(
    ("tail", "error", "options"),
    [
        (b"1,2,3\n", errors.RaggedRowError, PLAIN),
        (b"5,seven\n", errors.NonNumericColumnError, PipelineOptions(zero_as_missing=("b",), normalize_exclude=())),
        ("5,caf\u00e9\n".encode("latin-1"), errors.NotTextError, PLAIN),
        (b"5,inf\n", errors.NonFiniteValueError, PLAIN),
    ],
    ids=["ragged", "text-in-zero-as-missing", "not-utf8", "inf"],
)
def test_problems_after_the_first_mib_are_located_by_spark(spark, tmp_path, tail, error, options):
    data = big(BIG_ROWS) + tail
    with pytest.raises(error) as from_handler:
        handler_run(data, options)
    with pytest.raises(error) as from_spark:
        spark_run(spark, tmp_path, data, options)
    assert from_spark.value.details == from_handler.value.details


def test_text_after_the_first_mib_makes_a_column_text(spark, tmp_path):
    data = big(BIG_ROWS) + b"5,seven\n"
    got = read_outputs(spark_run(spark, tmp_path, data, PLAIN))
    assert got["summary"]["numeric_columns"] == ["a"]
    assert got["dtypes"]["b"] == "string" and got["rows"][-1][1] == "seven"
    assert_same_as_handler(handler_run(data, PLAIN), got, PLAIN)


WHOLE_FILE_CASES = [
    (b"5,\x003\n", errors.NotTextError),
    (b"\xef\xbb\xbf5,3\n", errors.ByteOrderMarkError),
    (b"5," + b"x" * (1 << 20) + b"\n", errors.LineTooLongError),
]


@pytest.mark.parametrize(("tail", "error"), WHOLE_FILE_CASES, ids=["nul", "bom", "long-line"])
def test_whole_file_rules_past_the_first_mib_are_the_handlers(spark, tmp_path, tail, error):
    data = big(BIG_ROWS) + tail + b"1,2\n"
    with pytest.raises(error) as from_handler:
        handler_run(data, PLAIN)
    with pytest.raises(error) as from_spark:
        spark_run(spark, tmp_path, data, PLAIN)
    expected = {k: v for k, v in from_handler.value.details.items() if k != "byte_offset"}  # Spark knows no offset
    assert from_spark.value.details == expected


def test_quoted_line_breaks_past_the_first_mib_are_read_as_the_handler_reads_them(spark, tmp_path):
    body = b"".join(b'%d,%d,"two\nlines, %d"\n' % (i, i % 7 + 1, i % 3) for i in range(BIG_ROWS // 2))
    data = b"a,b,t\n" + big(BIG_ROWS).split(b"\n", 1)[1].replace(b"\n", b",x\n") + body
    got = read_outputs(spark_run(spark, tmp_path, data, PLAIN))
    expected = handler_run(data, PLAIN)
    assert expected.rows == BIG_ROWS + BIG_ROWS // 2
    assert_same_as_handler(expected, got, PLAIN)


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (
            b",".join(b"c%d" % i for i in range(1001)) + b"\n" + b",".join([b"1"] * 1001) + b"\n",
            errors.TooManyColumnsError,
        ),
        ("caf\u00e9,cafe\u0301\n1,2\n".encode(), errors.DuplicateColumnError),
        (b"a,b\n1,1.7e308\n2,1.7e308\n3,1\n", errors.ValueOverflowError),
    ],
    ids=["too-wide", "names-equal-after-nfkc", "overflow"],
)
def test_width_names_and_overflow_give_the_handlers_error(spark, tmp_path, data, error):
    with pytest.raises(error) as from_handler:
        handler_run(data, PLAIN)
    with pytest.raises(error) as from_spark:
        spark_run(spark, tmp_path, data, PLAIN)
    assert from_spark.value.details == from_handler.value.details


def test_formula_like_text_is_counted_and_escaped_as_the_handler_does(spark, tmp_path):
    data = b"id,=cmd,note\n1,4,=HYPERLINK(1)\n2,5,-1\n3,6,@SUM(A1)\n4,7,\n5,8,@SUM(A1)\n"
    options = PipelineOptions(zero_as_missing=(), normalize_exclude=(), normalize_method="none", escape_formulas=True)
    out = spark_run(spark, tmp_path, data, options)
    got = read_outputs(out)
    assert got["header"] == ["id", "'=cmd", "note"]
    assert [row[2] for row in got["rows"]] == ["'=HYPERLINK(1)", "-1", "'@SUM(A1)", "'@SUM(A1)", "'@SUM(A1)"]
    assert got["correlation"][0] == ["", "id", "'=cmd"]
    check = next(
        c
        for c in json.loads((out / got["latest"]["outputs"]["quality"]).read_text())["checks"]
        if c["name"] == "formula_like_text"
    )
    assert check["level"] == "ok" and check["observed"] == 5  # 4 cells (one imputed) and one name
    result = handler_run(data, options)
    from handler.formulas import count_in_columns

    assert count_in_columns({"note": result.output["note"]}) == {"note": 4}
