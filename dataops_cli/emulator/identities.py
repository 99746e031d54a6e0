"""Who may sign requests to the emulator: its owner, and the role sessions it hands to runs.

The owner's credentials are random per emulator instance (the CLI reads them from the state
directory). A role session is what Lambda (or Glue) gives the code it runs: temporary
credentials (ASIA... key, secret, session token) that stand for the execution role, issued
when a run starts and revoked when it ends; a request signed with them is then allowed or
denied by that role's policies. A revoked session's key answers ExpiredToken, as AWS does for
expired temporary credentials.
"""

from __future__ import annotations

import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass

from dataops_cli.emulator.sigv4 import Secret

KEY_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"  # what AWS access key ids are made of
REMEMBERED_REVOKED = 10_000


def random_access_key(prefix: str) -> str:
    return prefix + "".join(secrets.choice(KEY_ALPHABET) for _ in range(16))


def new_owner_secret() -> Secret:
    """Long-term-looking owner credentials: AKIA key id and a 40-character secret."""
    return Secret(random_access_key("AKIA"), secrets.token_urlsafe(30)[:40])


@dataclass(frozen=True)
class Principal:
    """A signer the emulator knows: the owner, or a role session (role ARN and session name)."""

    secret: Secret
    account: str
    role_arn: str | None = None
    session_name: str | None = None

    @property
    def is_owner(self) -> bool:
        return self.role_arn is None

    @property
    def arn(self) -> str:
        """As AWS names the caller in AccessDenied messages."""
        if self.role_arn is None:
            return f"arn:aws:iam::{self.account}:root"
        partition = self.role_arn.split(":")[1]
        role_name = self.role_arn.rsplit("/", 1)[-1]
        return f"arn:{partition}:sts::{self.account}:assumed-role/{role_name}/{self.session_name}"


class CredentialStore:
    """The owner plus the live role sessions, by access key (thread-safe)."""

    def __init__(self, owner: Secret, account: str) -> None:
        self.owner = Principal(owner, account)
        self._sessions: dict[str, Principal] = {}
        self._revoked: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    def lookup(self, access_key: str) -> Principal | None:
        if access_key == self.owner.secret.access_key:
            return self.owner
        with self._lock:
            return self._sessions.get(access_key)

    def secret_of(self, access_key: str) -> Secret | None:
        found = self.lookup(access_key)
        return found.secret if found is not None else None

    def was_revoked(self, access_key: str) -> bool:
        with self._lock:
            return access_key in self._revoked

    def issue(self, role_arn: str, session_name: str) -> Principal:
        secret = Secret(random_access_key("ASIA"), secrets.token_urlsafe(30)[:40], secrets.token_urlsafe(96))
        account = role_arn.split(":")[4]
        principal = Principal(secret, account, role_arn, session_name)
        with self._lock:
            self._sessions[secret.access_key] = principal
        return principal

    def revoke(self, principal: Principal) -> None:
        with self._lock:
            self._sessions.pop(principal.secret.access_key, None)
            self._revoked[principal.secret.access_key] = None
            while len(self._revoked) > REMEMBERED_REVOKED:
                self._revoked.popitem(last=False)

    def live_sessions(self) -> int:
        with self._lock:
            return len(self._sessions)
