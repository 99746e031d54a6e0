"""The emulator's owner credentials, and a cleaned environment for everything that talks to it.

Each emulator instance makes random credentials at start and writes them to
`<state dir>/credentials.json`, readable by this user only (0600); it answers only requests
signed with them (or with the role sessions it hands to function and Glue runs). The CLI's
clients (`bridge.py`, `demo.py`), `dataops local env` and the tests read them from there.
The processes the emulator starts get an environment with no profile, endpoint, config file
or real keys of this machine (`emulator_environment`, `isolated_environment`), so none of
them can reach AWS by accident.
"""

from __future__ import annotations

import json
import os
import urllib.request
from pathlib import Path

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from dataops_cli.aws import DataopsError
from dataops_cli.local.private_files import ensure_private_dir, read_private_file, write_private_file

OWNER_CREDENTIALS_FILE = "credentials.json"
# Variables that would point a client (or moto itself) at a profile or at another endpoint.
UNSAFE_ENV = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_ENDPOINT_URL",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
)
Keys = tuple[str, str]  # (access key id, secret access key)


def owner_credentials_path(directory: Path) -> Path:
    return directory / OWNER_CREDENTIALS_FILE


def save_owner_credentials(directory: Path, keys: Keys) -> Path:
    """Write this instance's credentials (replacing a dead instance's file): the emulator calls this at start.

    Written before the emulator serves or writes its state file, so a CLI that finds the
    state file can already sign its first request. Atomic, 0600, never through a symlink
    (private_files); the state directory is checked to be private first.
    """
    ensure_private_dir(directory, "the state directory")
    path = owner_credentials_path(directory)
    document = {"aws_access_key_id": keys[0], "aws_secret_access_key": keys[1]}
    write_private_file(path, (json.dumps(document, indent=2) + "\n").encode())
    return path


def remove_owner_credentials(directory: Path, keys: Keys) -> None:
    """Remove the file if it still holds `keys` (a newer instance's file is left alone)."""
    if read_owner_credentials(directory) == keys:
        owner_credentials_path(directory).unlink(missing_ok=True)


def read_owner_credentials(directory: Path) -> Keys | None:
    """The running emulator's credentials, or None when the file is absent, unreadable, a symlink or not ours."""
    try:
        document = json.loads(read_private_file(owner_credentials_path(directory)))
        return str(document["aws_access_key_id"]), str(document["aws_secret_access_key"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def owner_credentials(directory: Path) -> Keys:
    """The running emulator's credentials; DataopsError (naming the file) when they cannot be read."""
    keys = read_owner_credentials(directory)
    if keys is None:
        raise DataopsError(
            f"cannot read the local emulator's credentials ({owner_credentials_path(directory)})",
            "restart it: dataops local stop, then dataops local start",
        )
    return keys


def signed_request(
    endpoint: str, path: str, keys: Keys, method: str = "GET", headers: dict[str, str] | None = None
) -> urllib.request.Request:
    """A request for one of the emulator's own paths (/_dataops/..., /moto-api/...), SigV4-signed by its owner.

    The emulator answers these paths only for its owner (emulator/access.py); the signature
    covers `headers` too.
    """
    url = endpoint.rstrip("/") + path
    data = b"" if method == "POST" else None
    request = AWSRequest(method=method, url=url, headers=dict(headers or {}), data=data)
    SigV4Auth(Credentials(*keys), "dataops", "us-east-1").add_auth(request)
    prepared = request.prepare()
    return urllib.request.Request(url, headers=dict(prepared.headers.items()), method=method, data=data)


def signed_get(endpoint: str, path: str, keys: Keys, timeout: float = 5.0) -> bytes:
    """GET one of the emulator's own paths (e.g. /_dataops/health), signed with the owner's credentials."""
    with urllib.request.urlopen(signed_request(endpoint, path, keys), timeout=timeout) as response:
        return response.read()


def isolated_environment() -> dict[str, str]:
    """No config file, shared credentials file or instance metadata to fall back on."""
    return {
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
    }


def emulator_environment(base: dict[str, str]) -> dict[str, str]:
    """`base` without AWS settings or keys that could leak in: for the emulator process."""
    env = {k: v for k, v in base.items() if k not in UNSAFE_ENV and not k.startswith("AWS_ENDPOINT_URL_")}
    env.update(isolated_environment())
    return env
