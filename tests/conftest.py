"""Shared fixtures: fake AWS credentials for moto, and small CSV helpers."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SAMPLE_CSV = REPO / "dataops_cli" / "starter" / "diabetes_preprocessed.csv"


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
