"""dataops invoke's event: what the handler reads from it (the trigger, and --force)."""

from __future__ import annotations

import json

from click.testing import CliRunner

from dataops_cli.cli import cli
from dataops_cli.engines.lambda_run import invoke_payload
from handler.contract import FORCE_FIELD


def test_a_plain_invoke_does_not_force():
    assert invoke_payload("manual") == {"trigger": "manual", "source": "dataops"}


def test_force_sends_a_json_true_the_handler_accepts():
    payload = json.loads(json.dumps(invoke_payload("manual", force=True)))
    assert payload[FORCE_FIELD] is True and payload["trigger"] == "manual"


def test_invoke_documents_force():
    result = CliRunner().invoke(cli, ["invoke", "--help"])
    assert result.exit_code == 0 and "--force" in result.output and "unchanged" in result.output
