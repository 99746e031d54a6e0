"""boto3 clients for the emulator to call itself: fake credentials, no retries, nothing from ~/.aws.

The scheduler reads schedules and invokes targets, and runs write their logs and metrics,
through the same public API as any client (and tests use them too), so none of it
touches AWS.
"""

from __future__ import annotations

import threading
from typing import Any

import boto3
from botocore.config import Config as BotoConfig

from dataops_cli.local.credentials import FAKE_CREDENTIALS


class LocalClients:
    """Cached, thread-safe boto3 clients for one emulator endpoint, by (service, region)."""

    def __init__(self, endpoint: str, read_timeout: float = 30.0) -> None:
        self.endpoint = endpoint
        self._config = BotoConfig(
            retries={"mode": "standard", "max_attempts": 1},
            connect_timeout=2,
            read_timeout=read_timeout,
            user_agent_extra="dataops-emulator",
        )
        self._session = boto3.session.Session(
            aws_access_key_id=FAKE_CREDENTIALS[0], aws_secret_access_key=FAKE_CREDENTIALS[1]
        )
        self._clients: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()

    def __call__(self, service: str, region: str) -> Any:
        with self._lock:
            key = (service, region)
            if key not in self._clients:
                self._clients[key] = self._session.client(
                    service, region_name=region, endpoint_url=self.endpoint, config=self._config
                )
            return self._clients[key]
