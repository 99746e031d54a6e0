"""README and docs/ stay true to the code: every config key they name exists, and every `dataops ...`
command example in README parses with the CLI's own click parser (nothing is run).

Issue 20 found README naming `function.timeout_s` (the key is `function.timeout_seconds`).
"""

from __future__ import annotations

import dataclasses
import re
import shlex
import warnings
from pathlib import Path

import click
import pytest

from dataops_cli import cli as cli_module
from dataops_cli.config import Config

REPO = Path(__file__).resolve().parent.parent
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
SECTIONS = ("stack", "bucket", "function", "glue", "schedule", "dashboard", "alarm", "pipeline", "quality")
# section.key, not followed by another dotted part (glue.amazonaws.com, glue.succeed.ALL) and not a file
KEY_RE = re.compile(rf"(?<![\w/.-])({'|'.join(SECTIONS)})\.([a-z_0-9]+)\b(?!\.\w)")
FILE_SUFFIXES = {"py", "json", "toml", "csv", "md"}


def config_keys() -> dict[str, set[str]]:
    return {section: {f.name for f in dataclasses.fields(type(getattr(Config(), section)))} for section in SECTIONS}


def named_keys(text: str) -> set[str]:
    return {f"{s}.{k}" for s, k in KEY_RE.findall(text) if k not in FILE_SUFFIXES}


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.name)
def test_every_config_key_the_docs_name_exists(path):
    keys = config_keys()
    named = named_keys(path.read_text(encoding="utf-8"))
    unknown = sorted(k for k in named if k.split(".", 1)[1] not in keys[k.split(".", 1)[0]])
    assert unknown == [], f"{path.name} names config keys that do not exist: {unknown}"


def test_the_key_check_catches_a_wrong_key():
    assert named_keys("raise `function.timeout_s`, see glue.amazonaws.com and quality.json") == {"function.timeout_s"}
    assert "timeout_s" not in config_keys()["function"]


def readme_commands() -> list[str]:
    """Every `dataops ...` example: lines of fenced shell blocks, and inline code spans of the prose."""
    found: list[str] = []
    prose: list[str] = []
    fence: str | None = None  # the open block's language
    pending = ""
    for line in (REPO / "README.md").read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            fence = None if fence is not None else line[3:].strip()
            continue
        if fence is None:
            prose.append(line)
        elif fence in ("bash", "sh", "") and "dataops " in line:
            pending += line
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
    expanded = [[]]
    for options in choices:
        expanded = [[*done, option] for done in expanded for option in options]
    return [shlex.join(words) for words in expanded]


def parse(command: str) -> click.Context:
    """Parse like `dataops` would, down to the last subcommand, without invoking anything."""
    args = shlex.split(command)[1:]
    ctx = cli_module.cli.make_context("dataops", args)
    with warnings.catch_warnings():  # click 8.2 deprecates protected_args (the subcommand and its words)
        warnings.simplefilter("ignore", DeprecationWarning)
        while isinstance(ctx.command, click.Group) and (ctx.protected_args or ctx.args):
            name, sub, rest = ctx.command.resolve_command(ctx, [*ctx.protected_args, *ctx.args])
            ctx = sub.make_context(name, rest, parent=ctx)
    return ctx


def test_readme_has_command_examples():
    commands = readme_commands()
    assert (
        len(commands) > 40 and "dataops cost --engine glue --workers 10 --worker-type G.2X --rows 50000000" in commands
    )


@pytest.mark.parametrize("command", sorted(set(readme_commands())))
def test_every_readme_command_example_parses(command):
    ctx = parse(command)
    # a whole command: a group alone (`dataops local`) only if it runs without a subcommand (`dataops runs`)
    assert not isinstance(ctx.command, click.Group) or ctx.command.invoke_without_command, command


def test_a_wrong_example_would_fail_to_parse():
    with pytest.raises(click.UsageError):
        parse("dataops cost --workers 1")
    with pytest.raises(click.UsageError):
        parse("dataops statsu")
