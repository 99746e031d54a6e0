"""Fake credentials and a cleaned environment: what anything talking to the emulator runs with.

One definition for the CLI's clients (`bridge.py`, `demo.py`), the emulator process
(`process.py` spawns it with `emulator_environment`), the emulator's clients to itself
and the function runs (`emulator/runner.py`), so none of them can pick up a profile, an
endpoint or real keys from this machine.
"""

from __future__ import annotations

import os

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


def fake_credentials_environment() -> dict[str, str]:
    """Fake keys, and no config file, shared credentials file or instance metadata to fall back on."""
    return {
        "AWS_ACCESS_KEY_ID": FAKE_CREDENTIALS[0],
        "AWS_SECRET_ACCESS_KEY": FAKE_CREDENTIALS[1],
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
    }


def emulator_environment(base: dict[str, str]) -> dict[str, str]:
    """`base` without AWS settings that could leak in, plus fake credentials: for the emulator process."""
    env = {k: v for k, v in base.items() if k not in UNSAFE_ENV and not k.startswith("AWS_ENDPOINT_URL_")}
    env.update(fake_credentials_environment())
    return env
