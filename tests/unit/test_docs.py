"""README and docs/ stay true to the code (sqlite-utils' tests/unit/test_docs.py is the model).

- every command and subcommand of the `dataops` click app has a heading or a table row in
  docs/, README's command table names each one, and docs/operations.md's exit-code table has a
  row for each (and for nothing else);
- docs/configuration.md lists exactly the keys the config module knows, with their defaults,
  and every `section.key` that README or docs/ names exists;
- every `dataops ...` example in README and docs/ parses with click (nothing is run);
- every relative link in README and docs/ points to a file that exists (and a heading, when
  it names one);
- README stays under 200 lines.

The app is found from the console script in pyproject.toml, not from a module path, so these
tests keep working when the CLI's modules move.
"""

from __future__ import annotations

import dataclasses
import importlib
import re
import shlex
import sys
import tomllib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from unittest import mock

import click
import pytest

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
DOCS = REPO / "docs"
CONFIG_PAGE = DOCS / "configuration.md"
OPERATIONS_PAGE = DOCS / "operations.md"
README_MAX_LINES = 200


def pages() -> list[Path]:
    return [README, *sorted(DOCS.glob("*.md"))]


def guide_pages() -> list[Path]:
    return sorted(DOCS.glob("*.md"))


# --- the app, from the console script -------------------------------------------------------


class _FoundError(Exception):
    """Raised by the patched `Command.main` to hand back the group the console script started."""

    def __init__(self, command: click.Command) -> None:
        super().__init__(command.name)
        self.command = command


def _console_script() -> str:
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"]
    return scripts["dataops"]


def cli_group() -> click.Group:
    """The click group the `dataops` console script runs (caught as it starts: nothing is executed)."""
    module_name, _, attr = _console_script().partition(":")
    target: Any = importlib.import_module(module_name)
    for part in attr.split("."):
        target = getattr(target, part)
    if isinstance(target, click.Group):
        return target

    def found(self: click.Command, *args: Any, **kwargs: Any) -> None:
        raise _FoundError(self)

    with mock.patch.object(click.Command, "main", found), mock.patch.object(sys, "argv", ["dataops", "--help"]):
        try:
            target()
        except _FoundError as caught:
            assert isinstance(caught.command, click.Group), caught.command
            return caught.command
    raise AssertionError(f"the console script {_console_script()} never started a click command")


def walk(group: click.Group, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    """Every (sub)command below the group, as its path of names: ('local', 'start')."""
    for name, command in sorted(group.commands.items()):
        if command.hidden:
            continue
        yield (*path, name), command
        if isinstance(command, click.Group):
            yield from walk(command, (*path, name))


def command_paths() -> list[tuple[str, ...]]:
    return [path for path, _ in walk(cli_group())]


def runnable_paths() -> list[tuple[str, ...]]:
    """The commands a user runs: a group only when it does something alone (`runs`, not `local`)."""
    return [
        path
        for path, command in walk(cli_group())
        if not isinstance(command, click.Group) or command.invoke_without_command
    ]


def subcommands_of(path: tuple[str, ...]) -> set[str]:
    command: click.Command = cli_group()
    for name in path:
        assert isinstance(command, click.Group)
        command = command.commands[name]
    return set(command.commands) if isinstance(command, click.Group) else set()


def test_the_app_is_found_from_the_console_script():
    group = cli_group()
    paths = command_paths()
    assert {"up", "down", "status"} <= set(group.commands)
    assert ("local", "start") in paths and ("runs", "show") in paths
    assert ("runs",) in runnable_paths() and ("local",) not in runnable_paths()


# --- which commands a piece of markdown names ---------------------------------------------------


def _code_spans(text: str) -> list[str]:
    return re.findall(r"`([^`]+)`", text)


def named_commands(text: str) -> set[tuple[str, ...]]:
    """The command paths that code spans such as `dataops runs show RUN_ID` name (options skipped)."""
    known = set(command_paths())
    named = set()
    for span in _code_spans(text):
        words = [w for w in span.split() if not w.startswith("-")]
        if not words or words[0] != "dataops":
            continue
        path: tuple[str, ...] = ()
        for word in words[1:]:
            if (*path, word) in known:
                path = (*path, word)
            else:
                break
        if path:
            named.add(path)
    return named


def headings_and_first_cells(text: str) -> str:
    """The headings and the first cell of each table row: where a command counts as documented."""
    found = []
    for line in _outside_fences(text):
        if line.startswith("#"):
            found.append(line)
        elif line.startswith("|"):
            found.append(line.split("|")[1])
    return "\n".join(found)


def _outside_fences(text: str) -> list[str]:
    lines, fenced = [], False
    for line in text.splitlines():
        if line.startswith("```"):
            fenced = not fenced
            continue
        if not fenced:
            lines.append(line)
    return lines


def test_named_commands_takes_the_longest_real_path():
    assert named_commands("`dataops runs show RUN_ID` and `dataops --local runs` and `dataops statsu`") == {
        ("runs", "show"),
        ("runs",),
    }


@pytest.mark.parametrize("path", runnable_paths(), ids=" ".join)
def test_every_command_is_documented_in_docs(path):
    documented = set()
    for page in guide_pages():
        documented |= named_commands(headings_and_first_cells(page.read_text(encoding="utf-8")))
    assert path in documented, f"`dataops {' '.join(path)}` has no heading or table row in docs/"


@pytest.mark.parametrize("path", command_paths(), ids=" ".join)
def test_every_command_has_help(path):
    command = dict(walk(cli_group()))[path]
    assert command.help, f"`dataops {' '.join(path)}` has no help text"


def _table_after(text: str, heading: str) -> list[str]:
    """The first cells of the first table after a heading."""
    rest = text.split(f"\n{heading}\n", 1)
    assert len(rest) == 2, f"no heading {heading!r}"
    cells = []
    for line in rest[1].splitlines():
        if line.startswith("#"):
            break
        if line.startswith("|") and not set(line) <= set("|-: "):
            cells.append(line.split("|")[1].strip())
    return cells[1:]  # without the header row


def test_readme_lists_every_command_once_with_one_line():
    cells = _table_after(README.read_text(encoding="utf-8"), "## Commands")
    named = [named_commands(cell) for cell in cells]
    assert all(len(n) == 1 for n in named), cells
    listed = [next(iter(n)) for n in named]
    assert sorted(listed) == sorted(runnable_paths()), "README's command table differs from the app's commands"


def test_the_exit_code_table_has_one_row_per_command_and_no_other():
    cells = _table_after(OPERATIONS_PAGE.read_text(encoding="utf-8"), "## Exit codes")
    rows = [cell.strip("`") for cell in cells]
    assert sorted(rows) == sorted("dataops " + " ".join(path) for path in runnable_paths())


# --- config keys ---------------------------------------------------------------------------


def config_schema() -> dict[str, Any]:
    """Every key the config module knows ('section.key', and '[tags]'), with its built-in default."""
    from dataops_cli.config import Config

    schema: dict[str, Any] = {}
    default = Config()
    for section in dataclasses.fields(Config):
        if not section.compare:  # base_dir: where the file was found, not a setting
            continue
        value = getattr(default, section.name)
        if dataclasses.is_dataclass(value):
            for key in dataclasses.fields(value):
                schema[f"{section.name}.{key.name}"] = getattr(value, key.name)
        else:
            schema[f"[{section.name}]"] = value
    return schema


def _plain(value: Any) -> Any:
    """A default as TOML gives it back: tuples as lists, mappings as dicts."""
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    return value


def documented_keys() -> dict[str, str]:
    """The configuration page's table rows: key -> its Default cell."""
    rows = {}
    for line in _outside_fences(CONFIG_PAGE.read_text(encoding="utf-8")):
        cells = [c.strip() for c in line.split("|")[1:-1]] if line.startswith("|") else []
        if len(cells) >= 2 and re.fullmatch(r"`[^`]+`", cells[0]) and cells[0] != "`Key`":
            key = cells[0].strip("`")
            assert key not in rows, f"{key} is listed twice"
            rows[key] = cells[1]
    return rows


def test_the_schema_is_read_from_the_config_module():
    schema = config_schema()
    assert schema["function.timeout_seconds"] == 60 and schema["[tags]"] == {"Project": "dataops"}
    assert "function.timeout_s" not in schema and len(schema) > 40


def test_the_configuration_page_lists_exactly_the_known_keys():
    documented, known = set(documented_keys()), set(config_schema())
    assert sorted(known - documented) == [], "keys missing from docs/configuration.md"
    assert sorted(documented - known) == [], "docs/configuration.md lists keys that do not exist"


@pytest.mark.parametrize("key", sorted(config_schema()))
def test_the_configuration_page_gives_the_built_in_default(key):
    cell = documented_keys().get(key)
    assert cell is not None, f"{key} is not in docs/configuration.md"
    written = tomllib.loads(f"value = {cell.strip('`')}")["value"]
    assert written == _plain(config_schema()[key]), f"{key}: the page says {cell}, the code's default differs"


SECTIONS = sorted({key.split(".", 1)[0] for key in config_schema() if "." in key})
# section.key, not followed by another dotted part (glue.amazonaws.com, glue.succeed.ALL) and not a file
KEY_RE = re.compile(rf"(?<![\w/.-])({'|'.join(SECTIONS)})\.([a-z_0-9]+)\b(?!\.\w)")
FILE_SUFFIXES = {"py", "json", "toml", "csv", "md"}


def named_keys(text: str) -> set[str]:
    return {f"{s}.{k}" for s, k in KEY_RE.findall(text) if k not in FILE_SUFFIXES}


@pytest.mark.parametrize("page", pages(), ids=lambda p: p.name)
def test_every_config_key_the_docs_name_exists(page):
    unknown = sorted(named_keys(page.read_text(encoding="utf-8")) - set(config_schema()))
    assert unknown == [], f"{page.name} names config keys that do not exist: {unknown}"


def test_the_key_check_catches_a_wrong_key():
    """Issue 20 found README naming `function.timeout_s` (the key is `function.timeout_seconds`)."""
    assert named_keys("raise `function.timeout_s`, see glue.amazonaws.com and quality.json") == {"function.timeout_s"}
    assert "function.timeout_s" not in config_schema()


# --- command examples parse ------------------------------------------------------------------

SHELL_FENCES = ("bash", "sh", "shell", "console", "")


def command_examples(text: str) -> list[str]:
    """Every `dataops ...` example: lines of shell blocks, and code spans of the prose.

    Headings and the first cells of tables name commands (`dataops runs show`) rather than
    show a use of them; the documented-commands tests read those.
    """
    found: list[str] = []
    prose: list[str] = []
    fence: str | None = None  # the open block's language
    pending = ""
    for line in text.splitlines():
        if line.startswith("```"):
            fence = None if fence is not None else line[3:].strip()
            continue
        if fence is None:
            if not line.startswith("#"):
                prose.append("|".join(line.split("|")[2:]) if line.startswith("|") else line)
        elif fence in SHELL_FENCES and ("dataops " in line or pending):
            pending += line.removeprefix("$ ")
            if line.endswith("\\"):
                pending = pending[:-1] + " "
                continue
            found.extend(_dataops_segments(shlex.split(pending, comments=True)))
            pending = ""
    for span in re.findall(r"`(dataops [^`]+)`", "\n".join(prose)):
        found.extend(_expand_usage(span))
    return found


def _dataops_segments(words: list[str]) -> list[str]:
    """The `dataops ...` parts of a shell line (cut at &&, |, ;)."""
    segments, current = [], []
    for word in [*words, "&&"]:
        if word in ("&&", "|", ";", "||"):
            if current and current[0] == "dataops":
                segments.append(shlex.join(current))
            current = []
        else:
            current.append(word)
    return segments


def _expand_usage(span: str) -> list[str]:
    """Usage notation in prose: `[--json]` is an optional part (kept), `start|stop|status` one of each."""
    words = shlex.split(span.replace("[", " ").replace("]", " "))
    choices = [word.split("|") if "|" in word else [word] for word in words]
    expanded: list[list[str]] = [[]]
    for options in choices:
        expanded = [[*done, option] for done in expanded for option in options]
    return [shlex.join(words) for words in expanded]


def all_examples() -> list[tuple[str, str]]:
    return sorted({(page.name, c) for page in pages() for c in command_examples(page.read_text(encoding="utf-8"))})


def parse(command: str) -> click.Context:
    """Parse like `dataops` would, down to the last subcommand, without invoking anything."""
    ctx = cli_group().make_context("dataops", shlex.split(command)[1:])
    while isinstance(ctx.command, click.Group):
        protected = getattr(ctx, "_protected_args", None)  # click >= 8.2; before, protected_args
        pending = [*(ctx.protected_args if protected is None else protected), *ctx.args]
        if not pending:
            break
        name, sub, rest = ctx.command.resolve_command(ctx, pending)
        assert sub is not None, command
        ctx = sub.make_context(name, rest, parent=ctx)
    return ctx


def test_examples_are_found_in_blocks_and_prose():
    text = (
        "```bash\ndataops --local up && dataops cost --rows 5 \\\n  --json  # note\n```\nThen `dataops runs [--json]`."
    )
    assert command_examples(text) == ["dataops --local up", "dataops cost --rows 5 --json", "dataops runs --json"]
    assert ("README.md", "dataops --local up") in all_examples()
    assert len(all_examples()) > 60


@pytest.mark.parametrize(("page", "command"), all_examples())
def test_every_command_example_parses(page, command):
    ctx = parse(command)
    # a whole command: a group alone (`dataops local`) only if it runs without a subcommand (`dataops runs`);
    # `dataops --local` alone names the tool in a mode
    alone = ctx.parent is None
    assert alone or not isinstance(ctx.command, click.Group) or ctx.command.invoke_without_command, f"{page}: {command}"


def test_a_wrong_example_would_fail_to_parse():
    with pytest.raises(click.UsageError):
        parse("dataops cost --workers 1")
    with pytest.raises(click.UsageError):
        parse("dataops statsu")
    with pytest.raises(click.UsageError):
        parse("dataops runs show")  # RUN_ID missing


# --- relative links --------------------------------------------------------------------------


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    """Every heading's anchor; a repeated heading gets -1, -2, ... as on GitHub."""
    names: set[str] = set()
    seen: dict[str, int] = {}
    for line in _outside_fences(page.read_text(encoding="utf-8")):
        if match := re.match(r"#+ (.*)", line):
            base = slug(match.group(1))
            repeats = seen.get(base, 0)
            names.add(f"{base}-{repeats}" if repeats else base)
            seen[base] = repeats + 1
    return names


def relative_links(page: Path) -> list[str]:
    text = "\n".join(_outside_fences(page.read_text(encoding="utf-8")))
    text = re.sub(r"`[^`]*`", "", text)  # links inside code are not links
    targets = re.findall(r"\]\(([^)\s]+)\)", text)
    return [t for t in targets if not re.match(r"[a-z]+:", t)]


def test_slug_matches_github():
    assert (
        slug('Glue jobs in local mode (`function.engine = "glue"`)') == "glue-jobs-in-local-mode-functionengine--glue"
    )
    assert (
        slug("Spark job next to the handler (`bench/spark_bench.py`)")
        == "spark-job-next-to-the-handler-benchspark_benchpy"
    )
    assert slug("The emulator's commands") == "the-emulators-commands"


@pytest.mark.parametrize("page", pages(), ids=lambda p: p.name)
def test_relative_links_point_to_files_that_exist(page):
    broken = []
    for target in relative_links(page):
        path, _, anchor = target.partition("#")
        resolved = (page.parent / path).resolve() if path else page
        if not resolved.exists() or REPO not in (resolved, *resolved.parents):
            broken.append(f"{target} (no such file in the repository)")
        elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
            broken.append(f"{target} (no such heading in {resolved.name})")
    assert broken == [], f"{page.name}: broken links"


def test_the_link_check_would_catch_a_broken_link(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("# A title\n\n[ok](#a-title) [gone](missing.md) [bad](#no-title) `[code](x.md)`\n")
    assert relative_links(page) == ["#a-title", "missing.md", "#no-title"]
    assert "a-title" in anchors(page) and "no-title" not in anchors(page)


# --- README's size ---------------------------------------------------------------------------


def test_readme_fits_on_a_screen_or_two():
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) < README_MAX_LINES, f"README.md has {len(lines)} lines: move the detail to docs/"
