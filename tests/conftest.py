"""Shared fixtures: fake AWS credentials for moto, and small CSV helpers."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SAMPLE_CSV = REPO / "dataops_cli" / "starter" / "diabetes_preprocessed.csv"


def pytest_configure(config: pytest.Config) -> None:
    """Parse botocore's service models once per test process, not once per command (helpers/boto_cache.py)."""
    from tests.helpers.boto_cache import share_loader_caches

    share_loader_caches()
    _files_in_collection_order(config)


def _files_in_collection_order(config: pytest.Config) -> None:
    """Under `-n 2 --dist loadfile`, hand files to the workers in collection order: the e2e tier first.

    pytest-xdist otherwise sorts the files by their number of tests (`--loadscope-reorder`, its
    default), which starts the one-test e2e files (the scheduled Glue run, the emulator
    stories, the browser) last: the suite then ended on one of them while the other worker
    sat idle. In collection order the long e2e files start first and the unit tier's many
    short files fill both workers at the end. Without xdist the option does not exist.
    """
    if hasattr(config.option, "loadscopereorder"):
        config.option.loadscopereorder = False


@pytest.fixture(autouse=True)
def _terminal_width_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    """Lay output out as on a plain pipe (120 columns), whoever runs the tests.

    pytest-xdist's workers inherit COLUMNS=80, so under `-n 2` every CLI test ran 40 columns
    narrower than in one process and long tmp paths wrapped mid-word. A test that is about a
    width passes COLUMNS to CliRunner itself.
    """
    monkeypatch.delenv("COLUMNS", raising=False)
    monkeypatch.delenv("LINES", raising=False)


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials and region; no profile or endpoint may leak in from the machine."""
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_SESSION_TOKEN", "DATAOPS_LOCAL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "ap-south-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/aws-config")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/aws-credentials")


@pytest.fixture
def mock_aws_env(aws_env: None) -> Iterator[None]:
    from moto import mock_aws

    with mock_aws():
        yield


def opener(data: bytes):
    """A re-openable in-memory input, as read_columns expects."""
    return lambda: io.BytesIO(data)
