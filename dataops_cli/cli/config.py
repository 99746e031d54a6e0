"""`dataops config`: every effective setting and derived name (config_report.py), as lines or JSON."""

from __future__ import annotations

import json

import click

from dataops_cli.cli.app import App
from dataops_cli.cli.options import json_option
from dataops_cli.config import find_config_path
from dataops_cli.config_report import config_rows, effective_config
from dataops_cli.ui import key_values


@click.command("config")
@json_option("Print every setting and derived name as one JSON document.")
@click.pass_obj
def show_config(app: App, as_json: bool) -> None:
    """Validate the config and print every effective setting with every derived resource name.

    Effective = the file's values over the built-in defaults (and --region over stack.region).

    \b
    Examples:
      dataops config
      dataops --config prod.toml config --json | jq .settings.pipeline
    """
    if as_json:
        settings = effective_config(app.config, find_config_path(app.config_path))
        click.echo(json.dumps(settings, indent=2, ensure_ascii=False))
        return
    app.console.print(app.config_note(), highlight=False, soft_wrap=True)
    rows = config_rows(app.config, app.engine.config_rows())
    app.console.print(key_values(rows, app.console.width, right=True), highlight=False)
