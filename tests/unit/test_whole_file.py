"""One set of rules for every byte of the input (issue 19, item 7).

The reader infers types from the first MiB and parses the rest in ~1 MiB chunks on threads;
each oddity below is placed once inside the first MiB and once well past it, and the
result must be the same: the same error with the same details (its own line), or the
same values.
"""

from __future__ import annotations

import pytest

from handler import errors
from handler.contract import MAX_LINE_BYTES
from handler.pipeline import PipelineOptions, process
from handler.reader import SAMPLE_BYTES, read_columns
from tests.conftest import opener

# The Lambda lane (.ci/lambda-lane) runs this module on Python 3.12 with the layer's versions.
pytestmark = pytest.mark.handler

PLAIN = PipelineOptions(zero_as_missing=(), normalize_exclude=())
ROWS = 300_000  # ~3.6 MB: row 250,000 is past the first MiB and several chunks in
EARLY, LATE = 10, 250_000


def base_rows() -> list[bytes]:
    return [b"%d,%d,w%d" % (i, i % 7, i % 13) for i in range(ROWS)]


def build(row: int, line: bytes) -> bytes:
    rows = base_rows()
    rows[row] = line
    return b"a,b,t\n" + b"\n".join(rows) + b"\n"


def offset_of(data: bytes, row: int) -> int:
    """Byte offset where data row `row` starts (no quoted line breaks before it)."""
    at = data.index(b"\n") + 1
    for _ in range(row):
        at = data.index(b"\n", at) + 1
    return at


def test_the_late_row_is_past_the_first_mib():
    data = build(LATE, b"1,2,x")
    assert offset_of(data, LATE) > 2 * SAMPLE_BYTES


def read(data: bytes):
    return read_columns(opener(data), size_hint=len(data))


def outcome(data: bytes, then_process: bool = False):
    """("error", type, details) or ("ok", what was read) for one input."""
    try:
        columns = read(data)
        if then_process:
            process(columns, PLAIN)
    except errors.PipelineError as exc:
        return "error", type(exc).__name__, exc.details
    return "ok", sorted(columns.numeric), sorted(columns.text), columns.rows


# (name, the odd row's bytes, what is expected: an error type and its details but the line).
ERROR_CASES = [
    ("NUL in a numeric cell", b"5,\x003,w", errors.NotTextError),
    ("NUL in a text cell", b"5,3,w\x00x", errors.NotTextError),
    ("BOM at a line start", b"\xef\xbb\xbf5,3,w", errors.ByteOrderMarkError),
    ("BOM inside a text cell", b"5,3,w\xef\xbb\xbfx", errors.ByteOrderMarkError),
    ("invalid UTF-8 in a text cell", b"5,3,Jos\xe9", errors.NotTextError),
    ("invalid UTF-8 in a numeric cell", b"5,\xe93,w", errors.NotTextError),
    ("too many fields", b"5,3,w,extra", errors.RaggedRowError),
    ("too few fields", b"5,3", errors.RaggedRowError),
    ("a line over the limit", b"5,3," + b"x" * (MAX_LINE_BYTES + 10), errors.LineTooLongError),
]


@pytest.mark.parametrize(("name", "line", "error"), ERROR_CASES, ids=[c[0] for c in ERROR_CASES])
def test_a_bad_row_gives_the_same_error_inside_and_past_the_first_mib(name, line, error):
    found = {}
    for row in (EARLY, LATE):
        data = build(row, line)
        with pytest.raises(error) as caught:
            read(data)
        assert type(caught.value) is error
        details = dict(caught.value.details)
        assert details.pop("line") == row + 2, name  # the header is line 1
        if "byte_offset" in details:  # the byte is where it was put
            at = details.pop("byte_offset")
            assert offset_of(data, row) <= at < offset_of(data, row + 1)
        found[row] = details
    assert found[EARLY] == found[LATE]


@pytest.mark.parametrize(("token", "shown"), [(b"inf", "inf"), (b"-Infinity", "-inf")])
def test_an_infinite_cell_gives_the_same_error_inside_and_past_the_first_mib(token, shown):
    for row in (EARLY, LATE):
        with pytest.raises(errors.NonFiniteValueError) as caught:
            process(read(build(row, b"5," + token + b",w")), PLAIN)
        assert caught.value.details == {"column": "b", "line": row + 2, "count": 1}
        assert str(caught.value).startswith(f"column 'b' line {row + 2} is {shown}")


ACCEPTED = [
    ("a quoted line break", b'5,3,"two\nlines"', "two\nlines"),
    ("a quoted CRLF line break", b'5,3,"two\r\nlines"', "two\r\nlines"),
    ("quotes, commas and escaped quotes", b'5,3,"a, ""b"", c"', 'a, "b", c'),
    ("a literal quote in an unquoted cell", b'5,3,12" pizza', '12" pizza'),
    ("a quoted empty line", b'5,3,"\n\n"', "\n\n"),
]


@pytest.mark.parametrize(("name", "line", "value"), ACCEPTED, ids=[c[0] for c in ACCEPTED])
def test_valid_quoting_is_read_the_same_inside_and_past_the_first_mib(name, line, value):
    for row in (EARLY, LATE):
        columns = read(build(row, line))
        assert columns.rows == ROWS
        assert sorted(columns.numeric) == ["a", "b"]
        assert columns.text["t"][row].as_py() == value
        assert columns.text["t"][row + 1].as_py() == f"w{(row + 1) % 13}"
        assert columns.numeric["a"][row + 1] == row + 1


def test_line_numbers_after_a_quoted_line_break_count_it_as_an_editor_does():
    for row in (EARLY, LATE):
        rows = base_rows()
        rows[row] = b'5,3,"two\nlines"'
        rows[row + 3] = b"5,inf,w"
        data = b"a,b,t\n" + b"\n".join(rows) + b"\n"
        with pytest.raises(errors.NonFiniteValueError) as caught:
            process(read(data), PLAIN)
        assert caught.value.details["line"] == row + 3 + 2 + 1  # the quoted field took two lines


def test_a_ragged_row_after_quoted_line_breaks_and_blank_lines_names_its_file_line():
    for row in (EARLY, LATE):
        rows = base_rows()
        rows[row] = b'5,3,"two\nlines"\n'  # and a blank line after it
        rows[row + 3] = b"5,3"
        data = b"a,b,t\n" + b"\n".join(rows) + b"\n"
        with pytest.raises(errors.RaggedRowError) as caught:
            read(data)
        assert caught.value.details["line"] == row + 3 + 2 + 2


def test_text_in_a_numeric_column_makes_it_text_wherever_it_is():
    results = {row: outcome(build(row, b"5,seven,w")) for row in (EARLY, LATE)}
    assert results[EARLY] == results[LATE] == ("ok", ["a"], ["b", "t"], ROWS)


def test_a_valid_rfc4180_file_with_quoted_line_breaks_in_every_row_is_read_whole():
    """The issue's case: 300k rows, each with a quoted line break (the chunker cut inside them)."""
    rows = 300_000
    data = b"id,x,note\n" + b"".join(b'%d,%d,"first line\nsecond, ""quoted"" line"\n' % (i, i % 9) for i in range(rows))
    columns = read(data)
    assert columns.rows == rows
    assert columns.numeric["id"][-1] == rows - 1 and columns.numeric["x"][62_988] == 62_988 % 9
    note = columns.text["note"]
    assert note[0].as_py() == note[rows - 1].as_py() == 'first line\nsecond, "quoted" line'
    assert note.null_count == 0


def test_a_header_longer_than_the_limit_is_a_typed_error_naming_it():
    data = b",".join(b"c%d" % i for i in range(200_000)) + b"\n1\n"  # 1.3 MB header
    with pytest.raises(errors.LineTooLongError, match=r"the header \(line 1\) is longer than 1,048,576 bytes"):
        read_columns(opener(data), size_hint=len(data), max_columns=10**6)


def test_a_long_line_with_no_line_end_is_a_typed_error_not_arrows_empty_block():
    data = b"a,b\n" + b"1," + b"2" * 10_000_000  # the 10 MB line with no newline
    with pytest.raises(errors.LineTooLongError) as caught:
        read(data)
    assert caught.value.details == {"line": 2, "limit_bytes": MAX_LINE_BYTES}
    header_only_line = b"x" * 10_000_000
    with pytest.raises(errors.LineTooLongError, match=r"header \(line 1\)"):
        read(header_only_line)


def test_a_line_just_under_the_limit_is_read_inside_and_past_the_first_mib():
    cell = b"y" * (MAX_LINE_BYTES - 20)
    for row in (EARLY, LATE):
        columns = read(build(row, b"5,3," + cell))
        assert columns.text["t"][row].as_py() == cell.decode()


@pytest.mark.parametrize(
    ("names", "first", "second"),
    [
        (b"Glucose,glucose", "Glucose", "glucose"),
        (b"BMI,BMI ", "BMI", "BMI "),
        ("caf\u00e9,cafe\u0301".encode(), "caf\u00e9", "cafe\u0301"),  # NFC vs NFD
        ("\uff21ge,Age".encode(), "\uff21ge", "Age"),  # fullwidth A: NFKC
    ],
)
def test_column_names_equal_after_normalization_are_refused_naming_both(names, first, second):
    with pytest.raises(errors.DuplicateColumnError) as caught:
        read(names + b"\n1,2\n")
    assert caught.value.details == {"column": second, "columns": [first, second]}
    assert repr(first) in str(caught.value) and repr(second) in str(caught.value)


def test_more_columns_than_the_limit_is_a_typed_error_naming_the_setting():
    data = b",".join(b"c%d" % i for i in range(1001)) + b"\n" + b",".join(b"1" for _ in range(1001)) + b"\n"
    with pytest.raises(errors.TooManyColumnsError) as caught:
        read(data)
    assert caught.value.details == {"columns": 1001, "limit": 1000, "setting": "MAX_COLUMNS"}
    assert "pipeline.max_columns" in str(caught.value)
    assert read_columns(opener(data), max_columns=1001).rows == 1
