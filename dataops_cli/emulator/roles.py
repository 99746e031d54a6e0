"""A service assuming a role, and what the role may then do: the emulator's STS, as AWS services use it.

When Scheduler fires a schedule, Lambda runs a function or Glue runs a job, the service first
assumes the role it was given: the role's trust policy must allow that service principal
`sts:AssumeRole` with the request context the service sends (Scheduler: aws:SourceArn = the
schedule group's ARN and aws:SourceAccount; Lambda and Glue document no source keys for
execution roles, so none are sent here). What the role may do after that is its identity
policies' verdict (inline and attached, read from the emulator's IAM at each check, so an
edited policy takes effect at once; AWS takes seconds to propagate one).
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

from dataops_cli.emulator import iam_policy
from dataops_cli.emulator.identities import CredentialStore, Principal

LAMBDA_PRINCIPAL = "lambda.amazonaws.com"
GLUE_PRINCIPAL = "glue.amazonaws.com"
SCHEDULER_PRINCIPAL = "scheduler.amazonaws.com"


@dataclass(frozen=True)
class RoleDocuments:
    """A role as IAM stores it: its trust policy and its identity policies (JSON text or objects)."""

    arn: str
    trust: str | Mapping
    policies: tuple[str | Mapping, ...]


RoleLookup = Callable[[str], RoleDocuments | None]  # by role ARN


class AssumeRoleError(Exception):
    """The service could not assume the role: it is missing, or its trust policy does not allow it."""


def scheduler_context(schedule_group_arn: str) -> dict[str, str]:
    """What EventBridge Scheduler puts in the request context when it assumes a schedule's role
    (https://docs.aws.amazon.com/scheduler/latest/UserGuide/cross-service-confused-deputy-prevention.html)."""
    return {"aws:SourceArn": schedule_group_arn, "aws:SourceAccount": schedule_group_arn.split(":")[4]}


class Roles:
    """Assumes roles for the emulator's services and answers what a role may do."""

    def __init__(self, store: CredentialStore, lookup: RoleLookup) -> None:
        self.store, self.lookup = store, lookup

    def _documents(self, role_arn: str) -> RoleDocuments:
        found = self.lookup(role_arn) if role_arn else None
        if found is None:
            raise AssumeRoleError(f"the role {role_arn or '(none)'} does not exist")
        return found

    def check_trust(self, role_arn: str, service: str, context: Mapping[str, str]) -> None:
        """Raises AssumeRoleError unless the role's trust policy lets `service` assume it with `context`."""
        verdict = iam_policy.trust_allows(self._documents(role_arn).trust, service, "sts:AssumeRole", context)
        if not verdict.allowed:
            keys = ", ".join(f"{k}={v}" for k, v in context.items()) or "no source keys"
            raise AssumeRoleError(
                f"{service} is not authorized to perform sts:AssumeRole on {role_arn} ({keys}) {verdict.reason}"
            )

    @contextlib.contextmanager
    def session(self, role_arn: str, service: str, context: Mapping[str, str] | None = None) -> Iterator[Principal]:
        """Temporary credentials for the role while the block runs (a run), revoked afterwards."""
        self.check_trust(role_arn, service, context or {})
        principal = self.store.issue(role_arn, f"dataops-{service.split('.')[0]}-{uuid.uuid4().hex[:12]}")
        try:
            yield principal
        finally:
            self.store.revoke(principal)

    def verdict(
        self, role_arn: str, action: str, resource: str, context: Mapping[str, str] | None = None
    ) -> iam_policy.Verdict:
        """The role's identity policies' answer for one action on one resource."""
        try:
            documents = self._documents(role_arn)
        except AssumeRoleError as exc:
            return iam_policy.Verdict(iam_policy.IMPLICIT_DENY, None, f"because {exc}")
        base = {"aws:PrincipalArn": role_arn, "aws:PrincipalAccount": role_arn.split(":")[4]}
        return iam_policy.evaluate(documents.policies, action, resource, {**base, **(context or {})})

    def allows(self, role_arn: str, action: str, resource: str, context: Mapping[str, str] | None = None) -> bool:
        return self.verdict(role_arn, action, resource, context).allowed
