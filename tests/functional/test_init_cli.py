"""`dataops init`, and a first `up`/`demo` in a folder with nothing in it (issue 25), through the CLI."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from dataops_cli.cli import root as cli_module
from dataops_cli.cli.app import App
from dataops_cli.cli.demo import demo_config
from dataops_cli.starter.files import SAMPLE_NAME, sample_bytes, template_text

NEXT = ("dataops --local up", "dataops --local status", "dataops --local down")


@pytest.fixture
def empty(tmp_path, monkeypatch):
    """An empty current folder, and nothing in the environment that names a config or a state dir."""
    folder = tmp_path / "empty"
    folder.mkdir()
    monkeypatch.chdir(folder)
    for name in ("DATAOPS_CONFIG", "DATAOPS_LOCAL", "DATAOPS_STATE_DIR"):
        monkeypatch.delenv(name, raising=False)
    return folder


def run(*args: str):
    """Output wide enough that no temporary path is wrapped."""
    return CliRunner().invoke(cli_module.cli, list(args), env={"COLUMNS": "500"})


def last_lines(output: str, count: int) -> list[str]:
    return [line.split("#")[0].strip() for line in output.strip().splitlines()[-count:]]


def test_init_writes_the_project_and_ends_with_the_next_three_commands(empty):
    result = run("init")
    assert result.exit_code == 0, result.output
    assert (empty / "config.toml").read_text(encoding="utf-8") == template_text()
    assert (empty / SAMPLE_NAME).read_bytes() == sample_bytes()
    assert "the sample, 768 rows" in result.output
    assert last_lines(result.output, 4) == ["Next:", *NEXT]
    config = run("config", "--json")
    assert config.exit_code == 0 and '"input_file": "diabetes_preprocessed.csv"' in config.output


def test_init_refuses_to_overwrite_then_force_does(empty):
    (empty / "config.toml").write_text('[stack]\nname = "mine"\n', encoding="utf-8")
    refused = run("init")
    assert refused.exit_code == 2
    text = " ".join(refused.output.split())
    assert f"error: {empty / 'config.toml'} already exists" in text
    assert "hint: nothing was written; pass --force to overwrite it" in text
    assert (empty / "config.toml").read_text(encoding="utf-8") == '[stack]\nname = "mine"\n'
    forced = run("init", "--force")
    assert forced.exit_code == 0, forced.output
    assert (empty / "config.toml").read_text(encoding="utf-8") == template_text()


def test_init_from_a_csv_into_another_folder(empty):
    data = empty / "visits.csv"
    rows = [f"{0 if i % 6 == 0 else 70 + i},{i % 2},{i % 4}" for i in range(48)]
    data.write_text("glucose,outcome,visits\n" + "\n".join(rows) + "\n", encoding="utf-8")
    result = run("init", "project", "--from", "visits.csv")
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())
    assert 'pipeline.zero_as_missing = ["glucose"]' in out and 'pipeline.normalize_exclude = ["outcome"]' in out
    assert f"Next, in {empty / 'project'}:" in out
    assert last_lines(result.output, 3) == list(NEXT)
    assert sorted(p.name for p in (empty / "project").iterdir()) == ["config.toml"]
    written = (empty / "project" / "config.toml").read_text(encoding="utf-8")
    assert f'input_file = "{data}"' in written and 'input_key = "visits.csv"' in written
    assert "# outcome: only 0 and 1 (a label or flag): kept as it is.\nnormalize_exclude" in written


def test_init_refuses_the_csv_up_refuses_with_the_same_error(empty):
    (empty / "ragged.csv").write_text("a,b\n1,2\n3,4,5\n", encoding="utf-8")
    (empty / "up.toml").write_text(
        '[bucket]\ninput_file = "ragged.csv"\n[pipeline]\nzero_as_missing = []\nnormalize_exclude = []\n',
        encoding="utf-8",
    )
    init = run("init", "project", "--from", "ragged.csv")
    up = run("--config", "up.toml", "up", "--dry-run")
    assert init.exit_code == up.exit_code == 2

    def error_line(output: str) -> str:
        return " ".join(output.split()).split("error: ", 1)[1].split(" hint: ", 1)[0]

    assert error_line(init.output) == error_line(up.output)
    assert "ragged.csv:3: the function would reject this input: RaggedRowError" in error_line(init.output)
    assert "hint: fix the file: nothing was written" in " ".join(init.output.split())
    assert not (empty / "project" / "config.toml").exists()


def test_init_from_a_missing_csv(empty):
    result = run("init", "--from", "nope.csv")
    assert result.exit_code == 2
    assert "nope.csv: does not exist; expected a CSV file" in " ".join(result.output.split())
    assert list(empty.iterdir()) == []


@pytest.mark.parametrize("local", [True, False])
def test_up_with_no_config_and_no_input_offers_init_and_starts_nothing(empty, local):
    result = run(*(["--local"] if local else []), "up")
    assert result.exit_code == 2
    text = " ".join(result.output.split())
    assert "Config: built-in defaults (found no --config, $DATAOPS_CONFIG or ./config.toml)" in text
    assert (
        f"bucket.input_file = 'diabetes_preprocessed.csv' (the built-in default: no config file sets it): {empty}"
        in text
    )
    assert "hint: no config file was found" in text and "run `dataops init`" in text and "--region" not in text
    assert list(empty.iterdir()) == []  # no .dataops: no emulator was started, nothing deployed


def test_the_demo_writes_the_packaged_sample_into_its_state_dir_when_there_is_no_config(empty, tmp_path):
    app = App(None, None, None, True, 0, False)
    state = tmp_path / "state"
    state.mkdir()
    path, config = demo_config(app, state)
    assert path == str(state / "project" / "config.toml")
    assert config.input_path == state / "project" / SAMPLE_NAME and config.input_path.read_bytes() == sample_bytes()
    assert list(empty.iterdir()) == []
    regional = demo_config(App(None, None, "eu-west-1", True, 0, False), tmp_path / "other")[1]
    assert regional.region == "eu-west-1"


def test_the_demo_uses_the_users_config_when_there_is_one(empty, tmp_path):
    (empty / "config.toml").write_text('[stack]\nname = "mine"\n', encoding="utf-8")
    path, config = demo_config(App(None, None, None, True, 0, False), tmp_path)
    assert path is None and config.stack.name == "mine"  # the commands find ./config.toml themselves
    explicit = tmp_path / "given.toml"
    explicit.write_text('[stack]\nname = "given"\n', encoding="utf-8")
    path, config = demo_config(App(str(explicit), None, None, True, 0, False), tmp_path)
    assert path == str(explicit) and config.stack.name == "given"
    assert not (tmp_path / "project").exists()
