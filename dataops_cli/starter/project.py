"""`dataops init`: write config.toml (and the sample, or a pointer to the user's CSV) into a folder.

Nothing half-written: the config goes to a temporary file in the target folder, is loaded by
the config loader (and, with a CSV, the CSV is checked by `up`'s own input checks under the
proposed settings), and only then renamed over config.toml (Path.replace: atomic on POSIX). An
existing config.toml, or a different file where the sample would go, is kept unless `force`.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import dataops_cli.cli.exits as exits
from dataops_cli.aws import DataopsError
from dataops_cli.config import DEFAULT_CONFIG_NAME, Config, ConfigError, load_config
from dataops_cli.deploy.input_check import check_input_columns, inspect_input, rejection
from dataops_cli.starter.files import SAMPLE_NAME, sample_bytes, template_text
from dataops_cli.starter.proposals import propose, read_csv
from dataops_cli.starter.template import Setting, render
from handler.errors import PipelineError

NEXT_COMMANDS = (
    ("dataops --local up", "deploy to the local emulator and run the pipeline once"),
    ("dataops --local status", "the KPIs, the runs and their data quality"),
    ("dataops --local down", "remove it all again (`dataops local stop` then ends the emulator)"),
)
NOTHING_WRITTEN = "nothing was written"


class InitError(DataopsError):
    """`dataops init` cannot write the project; exit code 2, as for a bad config or input."""

    exit_code = exits.USAGE


@dataclass(frozen=True)
class Project:
    """What `write_project` wrote."""

    directory: Path
    config_path: Path
    input_path: Path
    sample_copied: bool  # False: bucket.input_file points at the user's CSV
    settings: tuple[Setting, ...]  # what differs from the template's defaults, with the reasons


def write_project(directory: Path, source: Path | None = None, force: bool = False) -> Project:
    """Write `directory`/config.toml; with `source`, point it at that CSV and propose [pipeline]
    settings from its data, else copy the packaged sample next to it."""
    directory = directory.resolve()  # as the config loader resolves base_dir
    config_path = directory / DEFAULT_CONFIG_NAME
    _refuse_existing(config_path, force, "config.toml")
    if source is None:
        input_path, settings = directory / SAMPLE_NAME, []
        data = sample_bytes()
        if input_path.exists() and (input_path.is_dir() or input_path.read_bytes() != data):
            _refuse_existing(input_path, force, "the sample")
    else:
        input_path = source.resolve()
        settings = _settings_from(input_path, directory)
    text = render(template_text(), settings)
    directory.mkdir(parents=True, exist_ok=True)
    with _temporary(directory, ".config.toml.") as temp:
        temp.write_text(text, encoding="utf-8")
        config = _load(temp)
        if source is not None:
            _check_input(config)
        else:
            _write_atomically(input_path, data)
        temp.replace(config_path)
    return Project(directory, config_path, input_path, source is None, tuple(settings))


def _refuse_existing(path: Path, force: bool, what: str) -> None:
    if not path.exists():
        return
    if path.is_dir():
        raise InitError(f"{path} is a folder: {what} cannot be written there", NOTHING_WRITTEN)
    if not force:
        raise InitError(f"{path} already exists", f"{NOTHING_WRITTEN}; pass --force to overwrite it")


def _settings_from(csv_path: Path, directory: Path) -> list[Setting]:
    """bucket.input_file (and input_key) for the user's CSV, and the [pipeline] proposals from its data."""
    if not csv_path.is_file():
        found = "is a folder, not a file" if csv_path.is_dir() else "does not exist"
        raise InitError(f"--from {csv_path}: {found}; expected a CSV file", NOTHING_WRITTEN)
    try:
        columns, checked = read_csv(csv_path)
    except PipelineError as exc:
        raise InitError(rejection(csv_path, exc), f"fix the file: {NOTHING_WRITTEN}") from None
    relative = csv_path.is_relative_to(directory)
    location = csv_path.relative_to(directory).as_posix() if relative else str(csv_path)
    settings = [Setting("bucket", "input_file", location, ("Proposed: the CSV given to `dataops init --from`.",))]
    if csv_path.name == csv_path.name.strip():
        named = ("Proposed: the object is named after the file.",)
        settings.append(Setting("bucket", "input_key", csv_path.name, named))
    return settings + propose(columns, csv_path.name, checked)


def _load(path: Path) -> Config:
    try:
        return load_config(path)
    except ConfigError as exc:  # the template and the proposals disagree with the loader: a bug here
        raise DataopsError(f"the config dataops init wrote does not load: {exc}", NOTHING_WRITTEN) from None


def _check_input(config: Config) -> None:
    """`up`'s checks on the CSV under the proposed settings: a file `up` would refuse is refused here."""
    try:
        check_input_columns(config, "the proposed config")
    except ConfigError as exc:
        raise InitError(str(exc), NOTHING_WRITTEN) from None
    verdict = inspect_input(config)
    if verdict.rejection:
        raise InitError(verdict.rejection, f"fix the file: {NOTHING_WRITTEN}")


def _write_atomically(path: Path, data: bytes) -> None:
    with _temporary(path.parent, f".{path.name}.") as temp:
        temp.write_bytes(data)
        temp.replace(path)


@contextmanager
def _temporary(directory: Path, prefix: str) -> Iterator[Path]:
    """A new file's path in `directory` (same filesystem, so the rename is atomic), removed unless renamed."""
    handle, name = tempfile.mkstemp(dir=directory, prefix=prefix)
    os.close(handle)
    temp = Path(name)
    temp.chmod(0o666 & ~_umask())  # mkstemp makes it 0600; the result should be as any new file is
    try:
        yield temp
    finally:
        temp.unlink(missing_ok=True)


def _umask() -> int:
    """The process's umask (reading it means setting it: restored at once)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
