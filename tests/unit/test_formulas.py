"""Formula-like text (issue 19, item 6, data side): the formula_like_text check and escape_formulas."""

from __future__ import annotations

import csv
import io

import pyarrow as pa
import pytest

from handler import formulas
from handler.outputs import cleaned_csv_chunks, correlation_csv
from handler.pipeline import PipelineOptions, process
from handler.reader import read_columns
from handler.settings import Settings
from tests.conftest import opener
from tests.functional.test_handler import BUCKET, ENV, invoke, read_json
from tests.functional.test_quality_handler import s3 as s3

# The Lambda lane (.ci/lambda-lane) runs this module on Python 3.12 with the layer's versions.
pytestmark = pytest.mark.handler

NO_NORMALIZE = PipelineOptions(zero_as_missing=(), normalize_exclude=(), normalize_method="none")
# OWASP's CSV injection page: =, +, -, @, tab (0x09), carriage return (0x0D).
FORMULAS = ['=HYPERLINK("http://x","y")', "+1+2", "-2+3", "@SUM(A1)", "\tx", "\rx", "=1", "-", "+", "-inf", "-1e"]
NOT_FORMULAS = ["-1", "+2.5", "-1.5e3", "+.5", "-3.", "a=b", " =1", "", "1+1", "x@y"]


@pytest.mark.parametrize("text", FORMULAS)
def test_text_starting_like_a_formula_is_flagged_and_escaped(text):
    assert formulas.is_formula_like(text)
    assert formulas.escape(text) == "'" + text
    mask = formulas.formula_like_mask(pa.array([text, None]))
    assert mask.to_pylist() == [True, False]
    assert formulas.escape_array(pa.array([text])).to_pylist() == ["'" + text]


@pytest.mark.parametrize("text", NOT_FORMULAS)
def test_numbers_and_other_text_are_left_alone(text):
    assert not formulas.is_formula_like(text)
    assert formulas.escape(text) == text
    assert formulas.formula_like_mask(pa.array([text])).to_pylist() == [False]


DATA = (
    b"id,=cmd,note,+score\n"
    b'1,4,"=HYPERLINK(""http://evil"",""click"")",7\n'
    b"2,5,-1,8\n"
    b"3,6,@SUM(A1:A9),9\n"
    b"4,7,plain,10\n"
    b"5,8,,11\n"
)


def cleaned(result, escape: bool) -> list[list[str]]:
    text = b"".join(bytes(chunk) for chunk in cleaned_csv_chunks(result, escape_formulas=escape)).decode()
    return list(csv.reader(io.StringIO(text)))


def test_cleaned_csv_is_exact_by_default_and_escaped_when_asked():
    result = process(read_columns(opener(DATA)), NO_NORMALIZE)
    exact = cleaned(result, escape=False)
    assert exact[0] == ["id", "=cmd", "note", "+score"]
    assert [row[2] for row in exact[1:]] == ['=HYPERLINK("http://evil","click")', "-1", "@SUM(A1:A9)", "plain", "-1"]
    escaped = cleaned(result, escape=True)
    assert escaped[0] == ["id", "'=cmd", "note", "'+score"]
    assert [row[2] for row in escaped[1:]] == [
        '\'=HYPERLINK("http://evil","click")',
        "-1",  # a number in a text column is not a formula
        "'@SUM(A1:A9)",
        "plain",
        "-1",  # the imputed value (most frequent) is written as the others
    ]
    assert [row[0] for row in escaped[1:]] == ["1", "2", "3", "4", "5"]  # numbers never change


def test_correlation_csv_names_are_escaped_on_both_axes():
    result = process(read_columns(opener(DATA)), NO_NORMALIZE)
    rows = list(csv.reader(io.StringIO(correlation_csv(result, escape_formulas=True).decode())))
    assert rows[0] == ["", "id", "'=cmd", "'+score"]
    assert [r[0] for r in rows[1:]] == ["id", "'=cmd", "'+score"]
    plain = list(csv.reader(io.StringIO(correlation_csv(result).decode())))
    assert plain[0] == ["", "id", "=cmd", "+score"]


def test_escape_formulas_setting_is_read_from_the_environment():
    env = {"BUCKET_NAME": "b", "INPUT_KEY": "k"}
    assert Settings.from_environ(env).options.escape_formulas is False
    assert Settings.from_environ({**env, "ESCAPE_FORMULAS": "TRUE"}).options.escape_formulas is True
    from handler.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="ESCAPE_FORMULAS='yes' is not 'true' or 'false'"):
        Settings.from_environ({**env, "ESCAPE_FORMULAS": "yes"})


def run_handler(s3, monkeypatch, escape: str) -> dict:
    monkeypatch.setenv("ZERO_AS_MISSING", "")
    monkeypatch.setenv("NORMALIZE_EXCLUDE", "")
    monkeypatch.setenv("ESCAPE_FORMULAS", escape)
    monkeypatch.setenv("NORMALIZE_METHOD", "none")
    s3.put_object(Bucket=BUCKET, Key=ENV["INPUT_KEY"], Body=DATA)
    return invoke()


def test_the_check_warns_and_the_data_stays_exact_by_default(s3, monkeypatch):
    result = run_handler(s3, monkeypatch, "")
    checks = [c for c in read_json(s3, result["outputs"]["quality"])["checks"] if c["name"] == "formula_like_text"]
    assert len(checks) == 1 and checks[0]["level"] == "warn"
    assert checks[0]["observed"] == 4  # two cells of note, two column names
    assert checks[0]["message"].startswith("2 cells in note; column names =cmd, +score start with =, +, -, @")
    assert "pipeline.escape_formulas = true" in checks[0]["message"]
    body = s3.get_object(Bucket=BUCKET, Key=result["outputs"]["cleaned"])["Body"].read()
    assert body.startswith(b"id,=cmd,note,+score\n") and b"\n3,6,@SUM(A1:A9),9\n" in body


def test_with_escape_formulas_the_outputs_are_escaped_and_the_check_says_so(s3, monkeypatch):
    result = run_handler(s3, monkeypatch, "true")
    (check,) = [c for c in read_json(s3, result["outputs"]["quality"])["checks"] if c["name"] == "formula_like_text"]
    assert check["level"] == "ok" and "written with a leading '" in check["message"]
    body = s3.get_object(Bucket=BUCKET, Key=result["outputs"]["cleaned"])["Body"].read()
    assert body.startswith(b"id,'=cmd,note,'+score\n") and b"\n3,6,'@SUM(A1:A9),9\n" in body
    correlation = s3.get_object(Bucket=BUCKET, Key=result["outputs"]["correlation"])["Body"].read()
    assert correlation.startswith(b",id,'=cmd,'+score\n")
    summary = read_json(s3, result["outputs"]["summary"])
    assert summary["column_names"] == ["id", "=cmd", "note", "+score"]  # the data's own names in the JSON
    assert summary["options"]["escape_formulas"] is True
