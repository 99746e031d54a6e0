"""The starter kit (issue 25): the packaged sample and template, proposals from a CSV, writing a project."""

from __future__ import annotations

import re
import tomllib
from dataclasses import fields, is_dataclass

import pytest

from dataops_cli.config import Config, load_config, parse_config
from dataops_cli.starter import generate
from dataops_cli.starter.files import SAMPLE_NAME, sample_bytes, template_text
from dataops_cli.starter.project import InitError, write_project
from dataops_cli.starter.proposals import MARKER_GAP_STEPS, propose, read_csv
from dataops_cli.starter.template import Setting, render, toml_string
from handler import contract
from handler.reader import read_columns
from tests.conftest import REPO, SAMPLE_CSV, opener

REPO_INPUT_FILE = 'input_file = "dataops_cli/starter/diabetes_preprocessed.csv"'


# --- one source: the template is the repository's config.toml -----------------------------------


def test_the_repository_config_is_the_template_but_for_the_sample_path():
    template = template_text()
    default_line = f'input_file = "{SAMPLE_NAME}"'
    assert template.count(default_line) == 1
    assert (REPO / "config.toml").read_text(encoding="utf-8") == template.replace(default_line, REPO_INPUT_FILE)


def test_the_template_sets_every_key_to_its_built_in_default():
    raw = tomllib.loads(template_text())
    assert parse_config(raw) == Config()
    default = Config()
    known = {
        f"{section.name}.{key.name}"
        for section in fields(Config)
        if is_dataclass(getattr(default, section.name))
        for key in fields(getattr(default, section.name))
    }
    written = {f"{section}.{key}" for section, body in raw.items() if section != "tags" for key in body}
    assert written == known and raw["tags"] == dict(default.tags)


def test_every_key_of_the_template_has_a_comment_above_it_or_above_its_group():
    """Each key line follows a comment, or a key line of a group that one comment explains."""
    uncommented, explained = [], False
    for line in template_text().splitlines():
        if line.startswith("#"):
            explained = True
        elif re.match(r'[\w"]+ = ', line):
            if not explained:
                uncommented.append(line)
        else:  # a blank line or a section header ends the group
            explained = False
    assert uncommented == []


def test_the_sample_is_the_package_data_and_the_default_input_file():
    assert sample_bytes() == SAMPLE_CSV.read_bytes()
    assert Config().bucket.input_file == SAMPLE_NAME == SAMPLE_CSV.name


# --- template rendering ---------------------------------------------------------------------------


def test_render_replaces_the_value_and_puts_the_reasons_above_it():
    text = render(template_text(), [Setting("pipeline", "normalize_exclude", ("label",), ("label: only 0 and 1.",))])
    assert '# label: only 0 and 1.\nnormalize_exclude = ["label"]\n' in text
    assert parse_config(tomllib.loads(text)).pipeline.normalize_exclude == ("label",)
    assert text.count("normalize_exclude = ") == 1


def test_render_refuses_a_key_the_template_lacks():
    with pytest.raises(ValueError, match=r"no line for pipeline\.nope"):
        render(template_text(), [Setting("pipeline", "nope", 1)])
    with pytest.raises(ValueError, match=r"no line for bucket\.zero_as_missing"):  # a key of another section
        render(template_text(), [Setting("bucket", "zero_as_missing", ())])


@pytest.mark.parametrize("text", ['a"b', "back\\slash", "tab\there", "line\nbreak", "del\x7f", "ü and 😀", ""])
def test_toml_strings_read_back_exactly(text):
    assert tomllib.loads(f"v = {toml_string(text)}")["v"] == text


def test_a_column_name_cannot_break_out_of_its_comment():
    evil = "x\n[evil]\nkey = 1"
    text = render(template_text(), [Setting("pipeline", "zero_as_missing", (evil,), (f"{evil}: a reason",))])
    parsed = tomllib.loads(text)
    assert "evil" not in parsed and parsed["pipeline"]["zero_as_missing"] == [evil]


# --- proposals from a CSV -------------------------------------------------------------------------


def columns_of(text: str):
    return read_columns(opener(text.encode()))


def proposed(text: str) -> dict[str, Setting]:
    return {s.key: s for s in propose(columns_of(text), "in.csv")}


def csv_text(rows: list[list[object]], header: str) -> str:
    return header + "\n" + "".join(",".join(map(str, row)) + "\n" for row in rows)


def mixed_rows(count: int = 60) -> list[list[object]]:
    """marker: 0 stands for missing (other values from 40); count: 0, 1, 2, ... (real zeros);
    unit: values in [0, 1] with zeros; label: 0/1; signed: zeros among negatives; city: text."""
    rows = []
    for i in range(count):
        marker = 0 if i % 7 == 0 else 40 + i
        unit = 0 if i % 4 == 0 else round((i % 10) / 10, 1)
        rows.append([marker, i % 5, unit, i % 2, (i % 9) - 4, ("Pune", "Goa")[i % 2]])
    return rows


def test_proposals_from_a_csv_with_zero_markers_and_a_0_1_column():
    found = proposed(csv_text(mixed_rows(), "marker,count,unit,label,signed,city"))
    zero, exclude = found["zero_as_missing"], found["normalize_exclude"]
    assert zero.value == ("marker",)
    assert exclude.value == ("label",)
    notes = "\n".join(zero.notes)
    assert "marker,count,unit,label,signed;" in notes.replace(", ", ",")  # the numeric columns
    assert "(gaps take the most frequent value): city." in notes
    assert re.search(r"marker: 9 zeros; its other values start at 41, 41 steps of 1 above 0: 0 marks a missing", notes)
    assert re.search(
        r"count: 12 zeros; its other values start at 1, 1 step of 1 above 0 \(under 3\).*not proposed", notes
    )
    assert "unit: 18 zeros among values in [0, 1] (the zero_markers check): real values, not proposed." in notes
    assert "signed: 7 zeros; negative values too" in notes
    assert "label: 30 zeros among values in [0, 1]" in notes
    assert exclude.notes == ("label: only 0 and 1 (a label or flag): kept as it is.",)
    assert "max_columns" not in found


@pytest.mark.parametrize(
    ("values", "marker"),
    [
        ([0, MARKER_GAP_STEPS, MARKER_GAP_STEPS + 1, MARKER_GAP_STEPS + 2], True),  # exactly the threshold
        ([0, MARKER_GAP_STEPS - 1, MARKER_GAP_STEPS, MARKER_GAP_STEPS + 1], False),  # one step short
        ([0, 25.5, 26.0, 26.5, 28.0], True),  # 25.5 is 51 steps of 0.5 (the median gap) above 0
        ([0, 5, 5, 5], False),  # one other value: two levels
    ],
)
def test_zero_is_a_marker_from_the_gap_rule(values, marker):
    found = proposed(csv_text([[v, i] for i, v in enumerate(values)], "x,n"))
    assert found["zero_as_missing"].value == (("x",) if marker else ())


def test_no_zeros_and_no_0_1_column_say_so():
    found = proposed("a,b\n1,2\n3,4\n")
    assert found["zero_as_missing"].value == () and found["normalize_exclude"].value == ()
    assert "No numeric column holds a 0." in found["zero_as_missing"].notes
    assert found["normalize_exclude"].notes == (
        "No numeric column holds only 0 and 1: every numeric column is normalized.",
    )


def test_a_file_wider_than_the_default_gets_max_columns(tmp_path):
    width = contract.DEFAULT_MAX_COLUMNS + 5
    path = tmp_path / "wide.csv"
    path.write_text(",".join(f"c{i}" for i in range(width)) + "\n" + ",".join("1" * width) + "\n", encoding="utf-8")
    found = {s.key: s for s in propose(read_csv(path)[0], "wide.csv")}
    assert found["max_columns"].value == width
    assert found["max_columns"].notes == ("The file has 1,005 columns, more than the default 1,000.",)


def test_the_pima_schema_gets_the_repositorys_defaults(tmp_path):
    """The real data set's shape (generate.py draws it at the real zero rates): the proposals are the defaults."""
    path = tmp_path / "pima.csv"
    generate.write(generate.generate(768, seed=7), path)
    for source in (path, SAMPLE_CSV):
        columns, checked = read_csv(source)
        found = {s.key: s.value for s in propose(columns, source.name, checked)}
        assert found == {
            "zero_as_missing": contract.DEFAULT_ZERO_AS_MISSING,
            "normalize_exclude": contract.DEFAULT_NORMALIZE_EXCLUDE,
        }


# --- writing a project ----------------------------------------------------------------------------


def test_init_writes_the_template_and_the_sample(tmp_path):
    project = write_project(tmp_path / "new")
    assert project.config_path.read_text(encoding="utf-8") == template_text()
    assert (tmp_path / "new" / SAMPLE_NAME).read_bytes() == sample_bytes()
    assert load_config(project.config_path).input_path == tmp_path / "new" / SAMPLE_NAME
    assert sorted(p.name for p in (tmp_path / "new").iterdir()) == ["config.toml", SAMPLE_NAME]


def test_init_refuses_to_overwrite_without_force(tmp_path):
    (tmp_path / "config.toml").write_text("# mine\n", encoding="utf-8")
    with pytest.raises(InitError, match=r"config\.toml already exists") as caught:
        write_project(tmp_path)
    assert caught.value.exit_code == 2 and "--force" in caught.value.hint
    assert (tmp_path / "config.toml").read_text(encoding="utf-8") == "# mine\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.toml"]
    write_project(tmp_path, force=True)
    assert (tmp_path / "config.toml").read_text(encoding="utf-8") == template_text()


def test_init_keeps_a_different_file_where_the_sample_goes(tmp_path):
    (tmp_path / SAMPLE_NAME).write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(InitError, match=f"{SAMPLE_NAME} already exists"):
        write_project(tmp_path)
    assert not (tmp_path / "config.toml").exists()
    (tmp_path / SAMPLE_NAME).write_bytes(sample_bytes())  # the same sample: nothing to refuse
    write_project(tmp_path)


def test_init_refuses_a_folder_named_config_toml_even_with_force(tmp_path):
    (tmp_path / "config.toml").mkdir()
    with pytest.raises(InitError, match="is a folder"):
        write_project(tmp_path, force=True)


def test_init_from_a_csv_points_at_it_and_proposes(tmp_path):
    data = tmp_path / "data" / "my file.csv"
    data.parent.mkdir()
    data.write_text(csv_text(mixed_rows(), "marker,count,unit,label,signed,city"), encoding="utf-8")
    project = write_project(tmp_path, data)
    assert not project.sample_copied and not (tmp_path / SAMPLE_NAME).exists()
    config = load_config(project.config_path)
    assert config.bucket.input_file == "data/my file.csv" and config.input_path == data
    assert config.bucket.input_key == "my file.csv"
    assert (config.pipeline.zero_as_missing, config.pipeline.normalize_exclude) == (("marker",), ("label",))
    text = project.config_path.read_text(encoding="utf-8")
    assert "# Proposed by `dataops init --from my file.csv` from its 60 rows:" in text
    elsewhere = write_project(tmp_path / "other", data)  # a CSV outside the folder: an absolute path
    assert load_config(elsewhere.config_path).bucket.input_file == str(data)


@pytest.mark.parametrize(
    ("content", "error"),
    [
        ("", "EmptyInputError"),
        ("a,b\n", "NoDataRowsError"),
        ("a,b\n1,2\n3,4,5\n", "RaggedRowError"),
        ("a,b\n1,\n2,\n", "EmptyColumnError"),  # read fine, refused by the pipeline: after the temp file
        ("a,b\n1,inf\n2,3\n", "NonFiniteValueError"),
    ],
)
def test_init_refuses_a_csv_the_function_would_reject_and_writes_nothing(tmp_path, content, error):
    data = tmp_path / "bad.csv"
    data.write_text(content, encoding="utf-8")
    with pytest.raises(InitError, match=rf"bad\.csv(:\d+)?: the function would reject this input: {error}: "):
        write_project(tmp_path / "project", data)
    left = list((tmp_path / "project").iterdir()) if (tmp_path / "project").exists() else []
    assert left == []


def test_init_from_a_missing_file(tmp_path):
    with pytest.raises(InitError, match=r"--from .*nope\.csv: does not exist; expected a CSV file"):
        write_project(tmp_path, tmp_path / "nope.csv")
    with pytest.raises(InitError, match="is a folder, not a file"):
        write_project(tmp_path, tmp_path)


def test_a_config_the_loader_refuses_is_never_saved(tmp_path, monkeypatch):
    from dataops_cli.starter import project

    monkeypatch.setattr(project, "template_text", lambda: template_text().replace("memory_mb = 1024", "memory_mb = 64"))
    with pytest.raises(project.DataopsError, match=r"does not load: .*function\.memory_mb = 64"):
        write_project(tmp_path)
    assert list(tmp_path.iterdir()) == []
