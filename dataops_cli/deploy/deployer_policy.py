"""The IAM policy the person or CI role running `dataops` needs: built from the config, not written by hand.

docs/PERMISSIONS.md shows what this builds (tests/functional/test_deployer_policy.py checks they agree,
`python -m dataops_cli.deploy.deployer_policy --write-docs` regenerates them), and the same test
runs every command against moto and checks each API call the CLI makes is allowed here, so
a new call cannot ship without its permission.

What goes in, for the configured engine:
- everything `up`, `status`, `logs`, `invoke`, `runs`, `cost` and `down` call, scoped to
  this stack's resources (only the reads AWS authorizes on "*" alone use "*");
- for the engine the config does not use, reads and deletes only: after a switch `up`
  removes that engine's resources, and `down` removes them too;
- `iam:PassRole` per role, each only to the service that uses it (iam:PassedToService);
- creating a resource with its tags in the same call also needs the service's tagging
  action (e.g. s3:TagResource for CreateBucket with tags, lambda:TagResource for
  CreateFunction with Tags), and reading a tagged function needs lambda:ListTags.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

from dataops_cli.config import Config, load_config
from dataops_cli.deploy.deployer_statements import (
    DOC_ACCOUNT,
    VERSION,
    Arns,
    Document,
    Statement,
    bucket_statements,
    function_leftovers,
    function_statements,
    glue_leftovers,
    glue_statements,
    monitoring_statements,
    pricing_statement,
    role_statements,
    schedule_statements,
    statement,
)
from dataops_cli.engines.base import traits


def deployer_policy(config: Config, account: str, *, pricing_api: bool = False) -> Document:
    """What the deployer needs for this config (engine, alarm email, pinned or looked-up layer)."""
    arns = Arns(config, account)
    lambda_engine = traits(config.function.engine).runs_function
    statements = [
        statement("Identity", ("sts:GetCallerIdentity",), "*"),
        *bucket_statements(arns),
        *role_statements(arns, lambda_engine),
        *(function_statements(arns) if lambda_engine else glue_statements(arns)),
        *(glue_leftovers(arns) if lambda_engine else function_leftovers(arns)),
        *schedule_statements(arns),
        *monitoring_statements(arns),
        # DescribeLogGroups has no resource-level permission ("*" only): finding the function's
        # group (and Glue's shared ones) by name prefix.
        statement("LogDiscovery", ("logs:DescribeLogGroups",), "*"),
    ]
    if pricing_api:
        statements.append(pricing_statement())
    return {"Version": VERSION, "Statement": statements}


# --- docs/PERMISSIONS.md: its JSON blocks are this module's output ----------------------------

DOC = Path(__file__).resolve().parents[2] / "docs" / "PERMISSIONS.md"
# Each generated block of the doc: the config it is built for (over the defaults), whether it
# adds `cost --pricing-api`, and whether it shows only what differs from the "lambda" block.
DOC_VARIANTS: dict[str, tuple[dict[str, Any], bool, bool]] = {
    "lambda": ({}, False, False),
    "lambda-alarm-email": ({"alarm": {"email": "ops@example.com"}}, False, True),
    "pricing-api": ({}, True, True),
    "glue": ({"function": {"engine": "glue"}}, False, False),
}
_BLOCK = re.compile(r"(<!-- generated: (?P<name>[a-z-]+) -->\n```json\n)(?P<body>.*?)(```)", re.DOTALL)


def variant_policy(name: str) -> Document:
    """The whole policy for a doc variant's config (account DOC_ACCOUNT)."""
    from dataops_cli.config import parse_config

    raw, pricing, _ = DOC_VARIANTS[name]
    return deployer_policy(parse_config(raw), DOC_ACCOUNT, pricing_api=pricing)


def doc_variant(name: str) -> Document:
    """What a docs/PERMISSIONS.md block shows: the variant's policy, or only its statements that differ."""
    policy = variant_policy(name)
    if not DOC_VARIANTS[name][2]:
        return policy
    base = variant_policy("lambda")["Statement"]
    return {"Version": VERSION, "Statement": [s for s in policy["Statement"] if s not in base]}


def render(document: Document, width: int = 100) -> str:
    """Compact JSON: one statement per few lines, action lists wrapped (json.loads gives it back)."""
    lines = ["{", f'  "Version": {json.dumps(document["Version"])},', '  "Statement": [']
    statements = document["Statement"]
    for index, each in enumerate(statements):
        lines.extend(_render_statement(each, width, last=index == len(statements) - 1))
    lines += ["  ]", "}"]
    return "\n".join(lines) + "\n"


def _render_statement(statement: Statement, width: int, last: bool) -> list[str]:
    head = ", ".join(f"{json.dumps(k)}: {json.dumps(v)}" for k, v in statement.items() if k in ("Sid", "Effect"))
    rest = [(k, v) for k, v in statement.items() if k not in ("Sid", "Effect")]
    out = [f"    {{{head},"]
    for position, (key, value) in enumerate(rest):
        end = "}" + ("" if last else ",") if position == len(rest) - 1 else ","
        out.extend(_wrapped(f'     "{key}": ', value, width, end))
    return out


def _wrapped(prefix: str, value: Any, width: int, end: str) -> list[str]:
    if not isinstance(value, list):
        return [prefix + json.dumps(value, separators=(", ", ": ")) + end]
    items = [json.dumps(v) for v in value]
    lines, current = [], prefix + "["
    for index, item in enumerate(items):
        piece = item + ("]" + end if index == len(items) - 1 else ",")
        if len(current) + len(piece) + 1 > width and not current.endswith("["):
            lines.append(current.rstrip())
            current = " " * (len(prefix) + 1)
        current += piece + ("" if index == len(items) - 1 else " ")
    lines.append(current)
    return lines


def write_docs(path: Path = DOC) -> bool:
    """Rewrite every generated block of docs/PERMISSIONS.md; True if anything changed."""
    text = path.read_text(encoding="utf-8")
    updated = _BLOCK.sub(lambda m: m.group(1) + render(doc_variant(m.group("name"))) + m.group(4), text)
    if updated != text:
        path.write_text(updated, encoding="utf-8")
    return updated != text


def doc_blocks(path: Path = DOC) -> dict[str, Document]:
    """The generated blocks as the doc shows them, parsed."""
    return {m.group("name"): json.loads(m.group("body")) for m in _BLOCK.finditer(path.read_text(encoding="utf-8"))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m dataops_cli.deploy.deployer_policy",
        description="Print the IAM policy the deployer needs for a config (or rewrite docs/PERMISSIONS.md).",
    )
    parser.add_argument("--config", help="config.toml to build it for (default: the built-in defaults)")
    parser.add_argument("--account", default=DOC_ACCOUNT, help="your AWS account id (default: %(default)s)")
    parser.add_argument(
        "--pricing-api", action="store_true", help="add pricing:GetProducts (dataops cost --pricing-api)"
    )
    parser.add_argument("--write-docs", action="store_true", help="regenerate the JSON blocks of docs/PERMISSIONS.md")
    args = parser.parse_args(argv)
    if args.write_docs:
        print("docs/PERMISSIONS.md " + ("updated" if write_docs() else "already up to date"))
        return 0
    config = load_config(args.config) if args.config else Config()
    sys.stdout.write(render(deployer_policy(config, args.account, pricing_api=args.pricing_api)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
