"""IAM policy evaluation for the emulator: identity policies and trust policies, pure and focused.

What AWS checks when a role's session calls a service, and when a service assumes a role,
for the policy elements dataops's own documents use, so a policy that would fail on AWS
fails here first. Evaluation logic (https://docs.aws.amazon.com/IAM/latest/UserGuide/
reference_policies_evaluation-logic.html): an explicit Deny in any statement wins; otherwise
an Allow that matches allows; otherwise the request is implicitly denied.

Supported: Effect, Action/NotAction, Resource/NotResource (`*` and `?` wildcards, ARNs
matched part by part as ArnLike does), Principal ("*", Service, AWS) in trust policies, and
the condition operators String*, Arn*, Bool, Null and Numeric*, with `...IfExists` and the
ForAnyValue:/ForAllValues: set qualifiers. Anything else (policy variables, Date and IP
operators, NotPrincipal, an identity policy with a Principal) raises PolicyError, which the
callers treat as a denial: the emulator fails closed rather than guess.

Why not moto's own access control (moto/iam/access_control.py): it is one global switch that
would also apply to the emulator's owner, maps most services' requests to Resource "*", knows
only a few condition operators (an unknown one counts as met, per AWS-NOTES) and never
evaluates a service principal's trust-policy conditions such as aws:SourceArn.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

Document = Mapping[str, Any]
Context = Mapping[str, str | Sequence[str]]  # condition key -> value(s); keys are case-insensitive

ALLOW, EXPLICIT_DENY, IMPLICIT_DENY = "allow", "explicit-deny", "implicit-deny"


class PolicyError(ValueError):
    """A policy element this evaluator does not implement (or a malformed one): treated as a denial."""


@dataclass(frozen=True)
class Verdict:
    """The outcome of one evaluation, and which statement decided it (for the AccessDenied message)."""

    decision: str
    statement: str | None = None
    reason: str = ""

    @property
    def allowed(self) -> bool:
        return self.decision == ALLOW


def load(document: str | Document) -> Document:
    """A policy document from its JSON text (how IAM stores it) or as it is."""
    if isinstance(document, str):
        try:
            parsed = json.loads(document)
        except ValueError as exc:
            raise PolicyError(f"the policy is not JSON: {exc}") from exc
    else:
        parsed = document
    if not isinstance(parsed, Mapping):
        raise PolicyError("a policy document must be a JSON object")
    return parsed


def statements(document: Document) -> list[Mapping[str, Any]]:
    found = document.get("Statement")
    if isinstance(found, Mapping):
        return [found]
    if not isinstance(found, list) or not all(isinstance(s, Mapping) for s in found):
        raise PolicyError("Statement must be an object or a list of objects")
    return found


def evaluate(policies: Iterable[str | Document], action: str, resource: str, context: Context) -> Verdict:
    """Identity-based evaluation of `action` on `resource`: Deny wins, then Allow, else implicit deny."""
    allowed: str | None = None
    try:
        for document in policies:
            for index, statement in enumerate(statements(load(document))):
                if "Principal" in statement or "NotPrincipal" in statement:
                    raise PolicyError("an identity-based policy cannot have a Principal")
                if not _applies(statement, action, resource, context, check_resource=True):
                    continue
                sid = str(statement.get("Sid") or f"statement {index}")
                if _effect(statement) == "Deny":
                    return Verdict(EXPLICIT_DENY, sid, "with an explicit deny in an identity-based policy")
                allowed = allowed or sid
    except PolicyError as exc:
        return Verdict(EXPLICIT_DENY, None, f"because the emulator cannot evaluate a policy ({exc})")
    if allowed is not None:
        return Verdict(ALLOW, allowed)
    return Verdict(IMPLICIT_DENY, None, f"because no identity-based policy allows the {action} action")


def trust_allows(policy: str | Document, service: str, action: str, context: Context) -> Verdict:
    """Whether a role's trust policy lets the service principal `service` perform `action` (sts:AssumeRole)."""
    allowed: str | None = None
    try:
        for index, statement in enumerate(statements(load(policy))):
            if "NotPrincipal" in statement:
                raise PolicyError("NotPrincipal is not supported")
            if not _principal_matches(statement.get("Principal"), service):
                continue
            if not _applies(statement, action, "", context, check_resource=False):
                continue
            sid = str(statement.get("Sid") or f"statement {index}")
            if _effect(statement) == "Deny":
                return Verdict(EXPLICIT_DENY, sid, "with an explicit deny in the role's trust policy")
            allowed = allowed or sid
    except PolicyError as exc:
        return Verdict(EXPLICIT_DENY, None, f"because the emulator cannot evaluate the trust policy ({exc})")
    if allowed is not None:
        return Verdict(ALLOW, allowed)
    return Verdict(IMPLICIT_DENY, None, f"because the role's trust policy does not allow {service} to {action}")


def _effect(statement: Mapping[str, Any]) -> str:
    effect = statement.get("Effect")
    if effect not in ("Allow", "Deny"):
        raise PolicyError(f"Effect must be Allow or Deny, got {effect!r}")
    return effect


def _as_list(value: Any, element: str) -> list[str]:
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise PolicyError(f"{element} must be a string or a list of strings")
    return values


def _applies(
    statement: Mapping[str, Any], action: str, resource: str, context: Context, *, check_resource: bool
) -> bool:
    _effect(statement)
    if ("Action" in statement) == ("NotAction" in statement):
        raise PolicyError("a statement needs exactly one of Action and NotAction")
    if "Action" in statement:
        if not any(action_matches(p, action) for p in _as_list(statement["Action"], "Action")):
            return False
    elif any(action_matches(p, action) for p in _as_list(statement["NotAction"], "NotAction")):
        return False
    if check_resource:
        if ("Resource" in statement) == ("NotResource" in statement):
            raise PolicyError("a statement needs exactly one of Resource and NotResource")
        if "Resource" in statement:
            if not any(resource_matches(p, resource) for p in _as_list(statement["Resource"], "Resource")):
                return False
        elif any(resource_matches(p, resource) for p in _as_list(statement["NotResource"], "NotResource")):
            return False
    return conditions_hold(statement.get("Condition") or {}, context)


def _principal_matches(principal: Any, service: str) -> bool:
    if principal == "*":
        return True
    if not isinstance(principal, Mapping):
        raise PolicyError('Principal must be "*" or an object')
    for kind, values in principal.items():
        names = _as_list(values, f"Principal.{kind}")
        if kind == "Service" and service in names:
            return True
        if kind == "AWS" and "*" in names:
            return True
    return False


def _no_variables(pattern: str) -> str:
    if "${" in pattern:
        raise PolicyError(f"policy variables are not supported ({pattern!r})")
    return pattern


@lru_cache(maxsize=4096)
def _glob(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    """IAM's wildcards: `*` any run of characters (colons and slashes included), `?` one character."""
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in _no_variables(pattern))
    return re.compile(f"^{body}$", re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def action_matches(pattern: str, action: str) -> bool:
    """Action names are case-insensitive (`s3:getobject` is `s3:GetObject`)."""
    return bool(_glob(pattern, True).match(action))


def arn_like(pattern: str, arn: str) -> bool:
    """ArnLike: each of the six colon-separated parts matched on its own, wildcards inside a part
    (the resource part keeps its colons). https://docs.aws.amazon.com/IAM/latest/UserGuide/
    reference_policies_elements_condition_operators.html#Conditions_ARN"""
    wanted, actual = _no_variables(pattern).split(":", 5), arn.split(":", 5)
    if len(wanted) != 6 or len(actual) != 6:
        return False
    return all(_glob(w, False).match(a) for w, a in zip(wanted, actual, strict=True))


def resource_matches(pattern: str, resource: str) -> bool:
    """Resource ARNs: "*" matches anything; otherwise ARN by ARN, as ArnLike (case-sensitive)."""
    return pattern == "*" or arn_like(pattern, resource)


# ---- conditions --------------------------------------------------------------------------------


def _string_equals(policy: str, value: str) -> bool:
    return policy == value


def _string_equals_ignore_case(policy: str, value: str) -> bool:
    return policy.lower() == value.lower()


def _string_like(policy: str, value: str) -> bool:
    return bool(_glob(policy, False).match(value))


def _bool(policy: str, value: str) -> bool:
    return policy.lower() == value.lower()


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError as exc:
        raise PolicyError(f"{text!r} is not a number") from exc


NUMERIC = {
    "NumericEquals": lambda p, v: _number(v) == _number(p),
    "NumericLessThan": lambda p, v: _number(v) < _number(p),
    "NumericLessThanEquals": lambda p, v: _number(v) <= _number(p),
    "NumericGreaterThan": lambda p, v: _number(v) > _number(p),
    "NumericGreaterThanEquals": lambda p, v: _number(v) >= _number(p),
}
# Positive operators: the key must be present and one policy value must match.
POSITIVE = {
    "StringEquals": _string_equals,
    "StringEqualsIgnoreCase": _string_equals_ignore_case,
    "StringLike": _string_like,
    "ArnEquals": arn_like,  # IAM documents ArnEquals and ArnLike as the same match, wildcards included
    "ArnLike": arn_like,
    "Bool": _bool,
    **NUMERIC,
}
# Negated operators: true when no policy value matches, and when the key is absent.
NEGATED = {
    "StringNotEquals": _string_equals,
    "StringNotEqualsIgnoreCase": _string_equals_ignore_case,
    "StringNotLike": _string_like,
    "ArnNotEquals": arn_like,
    "ArnNotLike": arn_like,
    "NumericNotEquals": NUMERIC["NumericEquals"],
}


def _policy_values(raw: Any, operator: str) -> list[str]:
    values = raw if isinstance(raw, list) else [raw]
    found = []
    for value in values:
        if isinstance(value, bool):
            found.append("true" if value else "false")
        elif isinstance(value, int | float | str):
            found.append(_no_variables(str(value)))
        else:
            raise PolicyError(f"{operator} values must be strings, numbers or booleans")
    return found


def _context_values(context: Context, key: str) -> list[str] | None:
    wanted = key.lower()
    for name, value in context.items():
        if name.lower() == wanted:
            return [value] if isinstance(value, str) else list(value)
    return None


def conditions_hold(condition: Mapping[str, Any], context: Context) -> bool:
    """Every operator, and every key under it, must hold (AND); values under one key are ORed.

    A key missing from the request context makes a positive operator false and a negated one
    true, and `...IfExists` true (https://docs.aws.amazon.com/IAM/latest/UserGuide/
    reference_policies_elements_condition_operators.html).
    """
    if not isinstance(condition, Mapping):
        raise PolicyError("Condition must be an object")
    for operator, block in condition.items():
        if not isinstance(block, Mapping):
            raise PolicyError(f"Condition {operator} must map keys to values")
        for key, raw in block.items():
            if not _one_condition(operator, key, _policy_values(raw, operator), _context_values(context, key)):
                return False
    return True


def _one_condition(operator: str, key: str, wanted: list[str], present: list[str] | None) -> bool:
    qualifier, _, base = operator.rpartition(":")
    if qualifier not in ("", "ForAnyValue", "ForAllValues"):
        raise PolicyError(f"unknown set qualifier {qualifier!r}")
    if_exists = base.endswith("IfExists")
    base = base.removesuffix("IfExists")
    if base == "Null":
        if qualifier or if_exists:
            raise PolicyError("Null takes no qualifier")
        return any((present is None) == (w.lower() == "true") for w in wanted)
    if base in POSITIVE:
        match, negated = POSITIVE[base], False
    elif base in NEGATED:
        match, negated = NEGATED[base], True
    else:
        raise PolicyError(f"condition operator {operator} is not supported by the emulator")

    def one(value: str) -> bool:
        hit = any(match(p, value) for p in wanted)
        return not hit if negated else hit

    if present is None or not present:
        if if_exists:
            return True
        if qualifier == "ForAllValues":
            return True
        return negated and qualifier != "ForAnyValue"
    if qualifier == "ForAllValues":
        return all(one(v) for v in present)
    if qualifier == "ForAnyValue":
        return any(one(v) for v in present)
    if negated:  # single-valued key: true when the value matches none of the policy's values
        return all(one(v) for v in present)
    return any(one(v) for v in present)
