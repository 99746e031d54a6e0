"""boto3 clients for talking to the emulator: fake credentials, no retries, nothing from ~/.aws.

Used by the emulator to call itself (the scheduler reads schedules and invokes targets,
runs write their logs and metrics) and by tests, so all of them go through the same
public API as any client and never touch AWS.
"""

from __future__ import annotations

import os
import threading
from typing import Any

import boto3
from botocore.config import Config as BotoConfig

FAKE_CREDENTIALS = ("testing", "testing")
# Variables that would point a client (or moto itself) at a profile or at another endpoint.
UNSAFE_ENV = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_ENDPOINT_URL",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
)


def emulator_environment(base: dict[str, str]) -> dict[str, str]:
    """`base` without AWS settings that could leak in, plus fake credentials: for the emulator process."""
    env = {k: v for k, v in base.items() if k not in UNSAFE_ENV and not k.startswith("AWS_ENDPOINT_URL_")}
    env.update(
        {
            "AWS_ACCESS_KEY_ID": FAKE_CREDENTIALS[0],
            "AWS_SECRET_ACCESS_KEY": FAKE_CREDENTIALS[1],
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true",
        }
    )
    return env


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
