"""The package data: the sample CSV and the config template, read through importlib.resources.

The repository's own config.toml is this template with bucket.input_file pointing at the
sample here (tests/unit/test_starter_files.py keeps the two equal), so the template is the
one documented source of every key, its default and what it means.
"""

from __future__ import annotations

from importlib import resources
from importlib.resources.abc import Traversable

SAMPLE_NAME = "diabetes_preprocessed.csv"
TEMPLATE_NAME = "config.toml"


def _resource(name: str) -> Traversable:
    return resources.files("dataops_cli.starter").joinpath(name)


def sample_bytes() -> bytes:
    """The synthetic Pima-like sample (768 rows; generate.py made it)."""
    return _resource(SAMPLE_NAME).read_bytes()


def template_text() -> str:
    """config.toml with every key, its default and one line of explanation."""
    return _resource(TEMPLATE_NAME).read_text(encoding="utf-8")
