"""Who an emulator is: a random token per instance, known only to it and to its state file (0600).

The CLI never takes a pid or a command line as proof: a state file copied from another
project names that project's emulator, a pid can be reused, and any process can put
`dataops_cli.emulator.server` in its command line. Instead the CLI asks the emulator at the
recorded port to prove it holds the token of this state file: it sends a fresh random
challenge to `GET /_dataops/health`, and only the holder of the token can answer with
HMAC-SHA256(token, challenge + the state directory it serves). So the answer also says
which state directory the emulator serves: a copied state file fails the check even
though its token is real. The token itself is sent only to stop the emulator
(`POST /_dataops/stop`), and only to one that has just proven it holds it.
Both requests are SigV4-signed with the owner credentials the emulator wrote to the same
state directory (local/credentials.py) before its state file: the emulator's gate answers
`/_dataops/` to its owner only (emulator/access.py). An emulator that refuses them (403)
is not the one that wrote them. Without them the request goes unsigned and any emulator
refuses it the same way, so the state file names none (an emulator of ours whose
credentials file was deleted can be reached by nobody: it stops itself once its state
file is removed, emulator/state_watch.py); a port that does not answer stays "silent".
Both sides import this module: the emulator to answer, the CLI to ask.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from dataops_cli.local.credentials import Keys, owner_credentials_path, read_owner_credentials, signed_request

HEALTH_PATH = "/_dataops/health"  # who is serving, since when, run counters; with a challenge: the proof
STOP_PATH = "/_dataops/stop"  # POST with the token: the emulator stops itself
CHALLENGE_HEADER = "X-Dataops-Challenge"
TOKEN_HEADER = "X-Dataops-Token"
SERVICE = "dataops-emulator"
MAX_CHALLENGE = 128  # hex characters the emulator accepts as a challenge
PROBE_TIMEOUT = 3.0


def new_token() -> str:
    """A fresh instance token: 256 random bits."""
    return secrets.token_hex(32)


def fingerprint(token: str) -> str:
    """A short public name for an instance (shown, logged); says nothing usable about the token."""
    return hashlib.sha256(token.encode()).hexdigest()[:12]


def proof(token: str, challenge: str, state_dir: str) -> str:
    """What only the token's holder can answer to `challenge`, bound to the state directory it serves."""
    message = f"dataops-emulator-health\0{challenge}\0{state_dir}".encode()
    return hmac.new(token.encode(), message, hashlib.sha256).hexdigest()


def same_secret(given: str, expected: str) -> bool:
    """Constant-time comparison (an empty expected token matches nothing)."""
    return bool(expected) and hmac.compare_digest(given.encode(), expected.encode())


def valid_challenge(challenge: str) -> bool:
    return 16 <= len(challenge) <= MAX_CHALLENGE and all(c in "0123456789abcdef" for c in challenge)


def served_dir(directory: Path) -> str:
    """The state directory as both sides name it (absolute, symlinks resolved)."""
    return str(directory.resolve())


@dataclass(frozen=True)
class Identity:
    """What the process at the recorded port turned out to be.

    `ours`: it proved it holds the token and serves this state directory.
    `other`: something answered, and it is not that (another project's emulator, another
    server, nothing listening at all): the state file does not describe it.
    `silent`: it did not answer in time (or with an error): nothing can be concluded.
    """

    verdict: Literal["ours", "other", "silent"]
    health: dict[str, Any] | None = None
    detail: str = ""


def identify(
    endpoint: str, token: str, directory: Path, timeout: float | None = None, keys: Keys | None = None
) -> Identity:
    """Ask the emulator at `endpoint` to prove it holds `token` and serves `directory` (PROBE_TIMEOUT seconds).

    The request is signed with `keys`, by default the owner credentials in `directory`.
    """
    keys = keys if keys is not None else read_owner_credentials(directory)
    if not token:
        return _older_emulator(endpoint, timeout or PROBE_TIMEOUT, keys)
    challenge = secrets.token_hex(16)
    request = _health_request(endpoint, keys, {CHALLENGE_HEADER: challenge})
    try:
        with urllib.request.urlopen(request, timeout=timeout or PROBE_TIMEOUT) as response:
            health = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        if exc.code == 403:  # ours never refuses its owner: another emulator or server, or ours unreachable
            if keys is None:
                why = f"this state directory has no readable owner credentials ({owner_credentials_path(directory)})"
                return Identity("other", detail=f"it refuses unsigned requests and {why}")
            return Identity("other", detail="it refuses this state directory's owner credentials (HTTP 403)")
        return Identity("silent", detail=f"it answered HTTP {exc.code}")
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        if isinstance(reason, ConnectionRefusedError):
            return Identity("other", detail="nothing listens on its port")
        return Identity("silent", detail=f"no answer ({reason})")
    except ValueError:
        return Identity("other", detail="the answer is not an emulator's health document")
    if not isinstance(health, dict) or health.get("service") != SERVICE:
        return Identity("other", detail="another server answers on its port")
    expected = proof(token, challenge, served_dir(directory))
    if health.get("state_dir") != served_dir(directory):
        served = health.get("state_dir")
        return Identity("other", health, f"the emulator there serves another state directory ({served})")
    if not same_secret(str(health.get("proof", "")), expected):
        return Identity("other", health, "the emulator there does not hold this state file's token")
    return Identity("ours", health)


def _older_emulator(endpoint: str, timeout: float, keys: Keys | None) -> Identity:
    """A state file without a token was written by a dataops that had none. If an emulator of
    that version still answers there, it is neither trusted nor forgotten (removing its file
    would orphan it: it does not stop itself): "silent", so the CLI names its pid instead."""
    missing = "the state file holds no instance token"
    request = _health_request(endpoint, keys, {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            health = json.loads(response.read())
    except (OSError, ValueError):
        return Identity("other", detail=missing)
    if isinstance(health, dict) and health.get("service") == SERVICE and "instance" not in health:
        return Identity("silent", health, "it runs an older dataops, without instance tokens")
    return Identity("other", health if isinstance(health, dict) else None, missing)


def _health_request(endpoint: str, keys: Keys | None, headers: dict[str, str]) -> urllib.request.Request:
    """GET /_dataops/health signed by the owner; unsigned without credentials (an emulator then refuses it)."""
    if keys is None:
        return urllib.request.Request(endpoint + HEALTH_PATH, headers=headers)
    return signed_request(endpoint, HEALTH_PATH, keys, headers=headers)


def request_stop(endpoint: str, token: str, keys: Keys | None, timeout: float | None = None) -> bool:
    """Ask the emulator to stop itself (signed by the owner, with the token); True if it accepted (HTTP 202)."""
    if keys is None:
        return False
    request = signed_request(endpoint, STOP_PATH, keys, method="POST", headers={TOKEN_HEADER: token})
    try:
        with urllib.request.urlopen(request, timeout=timeout or PROBE_TIMEOUT) as response:
            return response.status == 202
    except (urllib.error.URLError, OSError):
        return False
