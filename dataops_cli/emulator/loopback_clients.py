"""boto3 clients for the emulator to call itself: its owner's credentials, no retries, nothing from ~/.aws.

The scheduler reads schedules and invokes targets, and runs write their logs and metrics,
through the same public API as any client (and tests use them too), so none of it
touches AWS. A service acting with a role (Glue reading a job's script) gets clients signed
with that role's session instead (`session`), so the emulator's IAM judges those calls.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import boto3
from botocore.config import Config as BotoConfig

from dataops_cli.emulator.sigv4 import Secret

Keys = tuple[str, str]


class LocalClients:
    """Cached, thread-safe boto3 clients for one emulator endpoint, by (service, region)."""

    def __init__(self, endpoint: str, credentials: Keys, read_timeout: float = 30.0) -> None:
        self.endpoint = endpoint
        self._config = BotoConfig(
            retries={"mode": "standard", "max_attempts": 1},
            connect_timeout=2,
            read_timeout=read_timeout,
            user_agent_extra="dataops-emulator",
        )
        self._session = boto3.session.Session(aws_access_key_id=credentials[0], aws_secret_access_key=credentials[1])
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

    def session(self, secret: Secret) -> Callable[[str, str], Any]:
        """Clients signed with a role session's temporary credentials (not cached: sessions are short)."""
        session = boto3.session.Session(
            aws_access_key_id=secret.access_key,
            aws_secret_access_key=secret.secret_key,
            aws_session_token=secret.token,
        )

        def client(service: str, region: str) -> Any:
            return session.client(service, region_name=region, endpoint_url=self.endpoint, config=self._config)

        return client
