"""Every bad input the issue lists: processed correctly, or a specific error naming the problem."""

from __future__ import annotations

import pytest

from handler import errors
from handler.pipeline import PipelineOptions, process
from handler.reader import SAMPLE_BYTES, read_columns
from tests.conftest import SAMPLE_CSV, opener

# The Lambda lane (.ci/lambda-lane) runs this module on Python 3.12 with the layer's versions.
pytestmark = pytest.mark.handler

DEFAULT = PipelineOptions()
PLAIN = PipelineOptions(zero_as_missing=(), normalize_exclude=())
HEADER = SAMPLE_CSV.read_bytes().split(b"\n", 1)[0] + b"\n"


def run(data: bytes, options: PipelineOptions = PLAIN):
    return process(read_columns(opener(data), size_hint=len(data)), options)


def big_numeric_csv(rows: int) -> bytes:
    return b"a,b\n" + b"".join(b"%d,%d\n" % (i, i % 7) for i in range(rows))


@pytest.mark.parametrize("data", [b"", b"   \n\r\n"])
def test_empty_input(data):
    with pytest.raises(errors.EmptyInputError, match=r"empty|no content"):
        run(data)


@pytest.mark.parametrize("data", [HEADER, HEADER.replace(b"\n", b"\r\n"), b"\xef\xbb\xbf" + HEADER])
def test_header_only(data):
    with pytest.raises(errors.NoDataRowsError, match="header \\(9 columns\\) but no data rows"):
        run(data)


def test_binary_input_is_not_text():
    with pytest.raises(errors.NotTextError, match="byte 3 is a NUL byte"):
        run(b"\x1f\x8b\x08\x00\x00rest")


def test_header_in_another_encoding():
    with pytest.raises(errors.NotTextError, match="header row is not UTF-8"):
        run("Größe,b\n1,2\n".encode("latin-1"))


def test_cell_in_another_encoding_names_column_and_file_line():
    data = "name,b\nok,1\nJosé,2\n".encode("latin-1")
    with pytest.raises(errors.NotTextError, match="column 'name' line 3 is not UTF-8") as caught:
        run(data)
    assert caught.value.details == {"column": "name", "line": 3}


def test_row_with_wrong_field_count_names_the_line():
    with pytest.raises(errors.RaggedRowError, match="line 3 has 3 fields but the header has 2") as caught:
        run(b"a,b\n1,2\n3,4,5\n6,7\n")
    assert caught.value.details["line"] == 3


def test_ragged_row_deep_in_a_multi_block_file_is_located():
    data = big_numeric_csv(600_000) + b"1,2,3\n"  # ~5 MiB: several threaded blocks
    with pytest.raises(errors.RaggedRowError, match="line 600002 has 3 fields"):
        run(data)


def test_too_few_fields():
    with pytest.raises(errors.RaggedRowError, match="line 2 has 1 fields but the header has 3"):
        run(b"a,b,c\n1\n")


def test_no_numeric_column():
    with pytest.raises(errors.NoNumericColumnsError, match="no numeric column"):
        run(b"name,city\nann,pune\nbob,agra\n")


@pytest.mark.parametrize("setting", ["zero_as_missing", "normalize_exclude"])
def test_configured_column_not_in_file_names_the_variable_and_the_config_key(setting):
    options = PipelineOptions(**{"zero_as_missing": (), "normalize_exclude": (), setting: ("Glucose",)})
    expected = f"'Glucose' from {setting.upper()} \\(config.toml: pipeline.{setting}\\)"
    with pytest.raises(errors.ColumnNotFoundError, match=expected):
        run(b"a,b\n1,2\n", options)


def test_every_missing_configured_column_is_reported_at_once():
    options = PipelineOptions(zero_as_missing=("Glucose", "a", "BMI"), normalize_exclude=("Outcome",))
    with pytest.raises(errors.ColumnNotFoundError) as caught:
        run(b"a,b\n1,2\n", options)
    assert str(caught.value) == (
        "configured columns are not in the input: 'Glucose', 'BMI' from ZERO_AS_MISSING "
        "(config.toml: pipeline.zero_as_missing); 'Outcome' from NORMALIZE_EXCLUDE "
        "(config.toml: pipeline.normalize_exclude). The input's columns: a, b"
    )
    assert caught.value.details["columns"] == ["Glucose", "BMI", "Outcome"]
    assert caught.value.details["settings"]["NORMALIZE_EXCLUDE"] == {
        "config_key": "pipeline.normalize_exclude",
        "columns": ["Outcome"],
    }


@pytest.mark.parametrize(
    ("data", "looks"),
    [
        (b"Pregnancies;Glucose;BMI\n6;148;33,6\n1;85;26,6\n", "';'-separated"),  # decimal commas: ragged rows
        (b"Pregnancies;Glucose\n6;148\n1;85\n", "';'-separated"),  # no decimals: one text column
        (b"Pregnancies\tGlucose\n6\t148\n", "tab-separated"),
    ],
)
def test_a_semicolon_or_tab_separated_file_is_named_as_such(data, looks):
    with pytest.raises(errors.DelimiterError, match=f"the file looks {looks}"):
        run(data, DEFAULT)


def test_duplicate_column_names():
    with pytest.raises(errors.DuplicateColumnError, match="'a' appears more than once"):
        run(b"a,b,a\n1,2,3\n")


def test_empty_header_cell():
    with pytest.raises(errors.HeaderError, match="header cell 2 is empty"):
        run(b"a,,c\n1,2,3\n")


def test_column_with_no_values():
    with pytest.raises(errors.EmptyColumnError, match="'b' has no value in any of its 2 rows"):
        run(b"a,b\n1,\n2,NA\n")


def test_zero_as_missing_column_of_only_zeros_is_empty():
    with pytest.raises(errors.EmptyColumnError, match="'b' has no value"):
        run(b"a,b\n1,0\n2,0\n", PipelineOptions(zero_as_missing=("b",), normalize_exclude=()))


def test_text_column_with_no_values():
    with pytest.raises(errors.EmptyColumnError, match="'t' has no value"):
        run(b"a,t\n1,\n2,\n", PLAIN)


def test_utf8_bom_is_not_part_of_the_first_column_name():
    result = run(b"\xef\xbb\xbf" + SAMPLE_CSV.read_bytes(), DEFAULT)
    assert result.names[0] == "Pregnancies"
    assert result.rows == 768


def test_crlf_line_endings_give_the_same_result():
    lf = run(SAMPLE_CSV.read_bytes(), DEFAULT)
    crlf = run(SAMPLE_CSV.read_bytes().replace(b"\n", b"\r\n"), DEFAULT)
    assert crlf.missing == lf.missing and crlf.imputed == lf.imputed
    assert (crlf.correlation == lf.correlation).all()


def test_quoted_fields_numbers_stay_numeric_and_commas_stay_in_text():
    result = run(b'"a","note"\n"1","x, y"\n"3","z ""q"""\n')
    assert result.numeric == ["a"]
    assert result.output["note"].to_pylist() == ["x, y", 'z "q"']


@pytest.mark.parametrize(("token", "shown"), [(b"inf", "inf"), (b"-inf", "-inf"), (b"Infinity", "inf")])
def test_infinite_values_are_rejected_with_file_line_and_no_numpy_repr(token, shown):
    with pytest.raises(errors.NonFiniteValueError) as caught:
        run(b"a,b\n1,2\n3," + token + b"\n")
    assert str(caught.value).startswith(f"column 'b' line 3 is {shown}: replace it")
    assert caught.value.details["line"] == 3


def test_line_numbers_count_blank_lines_and_crlf_as_an_editor_does():
    with pytest.raises(errors.NonFiniteValueError, match="column 'b' line 5 is inf"):
        run(b"a,b\r\n1,2\r\n\r\n\r\n3,inf\r\n4,5\r\n")


def test_text_after_the_sample_makes_an_unconfigured_column_text():
    data = big_numeric_csv(SAMPLE_BYTES // 8) + b"5,seven\n"
    result = run(data)
    assert result.numeric == ["a"] and "b" in result.output
    assert result.output["b"][-1].as_py() == "seven"


def test_text_in_a_zero_as_missing_column_names_row_and_value():
    data = big_numeric_csv(SAMPLE_BYTES // 8) + b"5,seven\n"
    line = data.count(b"\n")  # the last line
    with pytest.raises(errors.NonNumericColumnError, match=f"'b' \\(in ZERO_AS_MISSING, .* line {line} holds 'seven'"):
        run(data, PipelineOptions(zero_as_missing=("b",), normalize_exclude=()))


def test_every_error_serializes_for_the_log():
    with pytest.raises(errors.PipelineError) as caught:
        run(b"a,a\n1,2\n")
    assert caught.value.as_dict() == {
        "type": "DuplicateColumnError",
        "code": "DuplicateColumn",
        "message": "column 'a' appears more than once in the header; rename one of them",
        "column": "a",
    }
