"""`dataops init`: the click command only; the work is in starter/project.py."""

from __future__ import annotations

from pathlib import Path

import click
from rich.text import Text

from dataops_cli.cli.app import App
from dataops_cli.cli.options import CONTEXT_SETTINGS
from dataops_cli.safe_text import printable
from dataops_cli.starter.project import NEXT_COMMANDS, write_project
from dataops_cli.starter.template import toml_value


@click.command("init", context_settings=CONTEXT_SETTINGS)
@click.argument("directory", required=False, default=".", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--from",
    "source",
    metavar="CSV",
    type=click.Path(path_type=Path),
    help="Your CSV: bucket.input_file points at it and [pipeline] is proposed from its data.",
)
@click.option("--force", is_flag=True, help="Overwrite an existing config.toml (and sample).")
@click.pass_obj
def init(app: App, directory: Path, source: Path | None, force: bool) -> None:
    """Start a project: write config.toml, and the sample CSV or a pointer to yours.

    config.toml gets every key with its default and one line saying what it
    means. Without --from, the synthetic sample (768 rows) is copied next to it.
    With --from, bucket.input_file points at your CSV, which is read with the
    function's own reader: zero_as_missing gets the numeric columns whose 0
    stands apart from their other values (a missing-value marker),
    normalize_exclude the columns holding only 0 and 1 (a label); a comment
    above each says why. A CSV `up` would refuse is refused here, with the same
    error. An existing config.toml is kept unless --force; nothing is left
    half-written. DIRECTORY (default: here) is created if needed.

    \b
    Exit codes:
      0  written
      2  config.toml exists (no --force), or the CSV would be rejected

    \b
    Examples:
      dataops init
      dataops init my-pipeline
      dataops init --from sales.csv --force
    """
    project = write_project(directory, source, force)
    console = app.console
    what = "the sample, 768 rows" if project.sample_copied else "your CSV"
    console.print(Text(f"Wrote {project.config_path} (every key, its default and what it means).", style="green"))
    console.print(Text(f"bucket.input_file: {printable(str(project.input_path))} ({what})."))
    for setting in project.settings:
        if setting.section == "pipeline":
            console.print(Text(f"  {setting.name} = {printable(toml_value(setting.value))}"))
    if project.settings:
        console.print("Each proposal has a comment above it in config.toml saying why.")
    here = project.directory == Path.cwd().resolve()
    console.print(Text("\nNext:" if here else f"\nNext, in {project.directory}:", style="bold"))
    width = max(len(command) for command, _ in NEXT_COMMANDS)
    for command, why in NEXT_COMMANDS:
        console.print(Text.assemble("  ", (command.ljust(width), "bold"), f"   # {why}"), soft_wrap=True)
