"""Fixtures of the functional tier: a stack with an alarm email in moto, before and after `up`.

A module that needs another stack (the Glue engine's, say) defines its own `stack` fixture,
which takes precedence over these. The deploy helpers are imported inside the fixtures: the
Lambda lane (.ci/lambda-lane) collects handler tests from this tier in a venv without click.
"""

from __future__ import annotations

import pytest


@pytest.fixture
def stack(mock_aws_env, monkeypatch, tmp_path):
    """A config with an alarm email, the stand-in layer published, the call recorder installed."""
    from tests.helpers import deploy as h

    h.publish_stand_in_layer()
    recorder = h.install(monkeypatch)
    config = h.write_config(tmp_path / "config.toml", h.ALARM)
    return recorder, config


@pytest.fixture
def deployed(mock_aws_env, monkeypatch, tmp_path):
    """`stack` after one `up`: a private copy of the process's deployed moto state (tests/helpers/moto_state.py)."""
    from tests.helpers import deploy as h

    config = tmp_path / "config.toml"
    return h.deployed_stack(monkeypatch, config, h.ALARM), config
