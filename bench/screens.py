"""Capture every command's main screen at 80 and 120 columns against moto, and diff two captures.

    python -m bench.screens capture OUT_DIR      # --help of every command, then both engines:
                                                 # config, up --dry-run, cost, status, runs, logs, down
    python -m bench.screens diff BEFORE AFTER    # exit 1 if any screen differs

A refactor that must not change behaviour (issue 21) is checked by capturing before and
after and diffing. The checkout's own path is written as <REPO>, the capture's folder as
<WORK>. Clock-dependent values (the status window, generated_at, the month-to-date
fraction and the cost so far, the next scheduled run, the stack's creation time) are
masked before comparing; nothing else is.
The deployed dashboard body is saved as sorted JSON beside the screens.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FAKE_AWS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "ap-south-1",
    "AWS_CONFIG_FILE": "/nonexistent/aws-config",
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/aws-credentials",
}
BEFORE_UP = (("config",), ("config", "--json"), ("up", "--dry-run"), ("cost", "--model"), ("status",), ("runs",))
AFTER_UP = (
    ("up", "--dry-run"),
    ("status",),
    ("status", "--json"),
    ("cost",),
    ("cost", "--json"),
    ("runs",),
    ("logs",),
    ("down", "--dry-run"),
)
MASKS = (
    (r"\d{4}-\d{2}-\d{2}T[\d:]{8}\+00:00", "<ISO>"),
    (r"\d{2}:\d{2}–\d{2}:\d{2} UTC", "<HH:MM–HH:MM> UTC"),
    (r"\d{4}-\d{2}-\d{2} [\d:]{8} UTC", "<DATETIME> UTC"),
    (r"\(\d{2}-\d{2} \d{2}:\d{2} UTC\)", "(<MM-DD HH:MM> UTC)"),
    (r'"([a-z_]+)": 0\.\d+', r'"\1": <FRACTION>'),
    (r"\$0\.\d+ before the free tier", "$<X> before the free tier"),
    (r"\d+% of a 30-day month", "<P>% of a 30-day month"),
    (r"in about \d+ s", "in about <N> s"),
)


def commands(group: object, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    import click

    yield path
    if isinstance(group, click.Group):
        for name, sub in sorted(group.commands.items()):
            yield from commands(sub, (*path, name))


def capture(out: Path) -> None:
    import os

    os.environ.update(FAKE_AWS)
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN", "DATAOPS_LOCAL"):
        os.environ.pop(name, None)
    import boto3
    from click.testing import CliRunner
    from moto import mock_aws

    from dataops_cli.cli import cli
    from tests.helpers import deploy as h

    out.mkdir(parents=True, exist_ok=True)
    work = out / "_work"
    work.mkdir(exist_ok=True)

    def run(config: Path, args: tuple[str, ...], columns: int) -> str:
        result = CliRunner().invoke(cli, ["--config", str(config), *args], env={"COLUMNS": str(columns)})
        text = f"exit={result.exit_code}\n{result.output}"
        return text.replace(str(work), "<WORK>").replace(str(REPO), "<REPO>")

    for columns in (80, 120):
        for path in commands(cli):
            result = CliRunner().invoke(cli, [*path, "--help"], env={"COLUMNS": str(columns)})
            name = "-".join(path) or "top"
            (out / f"help-{name}.{columns}.txt").write_text(f"exit={result.exit_code}\n{result.output}")
    for engine in ("lambda", "glue"):
        with mock_aws():
            h.install(_Patcher())
            h.publish_stand_in_layer()
            config = h.write_config(work / f"{engine}.toml")
            if engine == "glue":
                text = config.read_text().replace("[function]\n", '[function]\nengine = "glue"\n')
                config.write_text(text)
            for when, screens in (("before-up", BEFORE_UP), ("after-up", AFTER_UP)):
                if when == "after-up":
                    (out / f"{engine}-up.120.txt").write_text(run(config, ("up",), 120))
                for args in screens:
                    for columns in (80, 120):
                        name = f"{engine}-{when}-{'-'.join(a.strip('-') for a in args)}.{columns}.txt"
                        (out / name).write_text(run(config, args, columns))
            body = boto3.client("cloudwatch").get_dashboard(DashboardName="DataOpsPipelineDashboard")["DashboardBody"]
            (out / f"{engine}-dashboard.json").write_text(json.dumps(json.loads(body), indent=1, sort_keys=True))
    shutil.rmtree(work)


class _Patcher:
    """monkeypatch.setattr for a script: the patches live as long as the process."""

    def setattr(self, target: object, name: str, value: object) -> None:
        setattr(target, name, value)


def masked(text: str) -> str:
    for pattern, replacement in MASKS:
        text = re.sub(pattern, replacement, text)
    return text


def diff(before: Path, after: Path) -> int:
    import difflib

    names = sorted({p.name for p in before.iterdir()} | {p.name for p in after.iterdir()})
    differing = 0
    for name in names:
        old, new = before / name, after / name
        if not (old.exists() and new.exists()):
            print(f"only in {'before' if old.exists() else 'after'}: {name}")
            differing += 1
            continue
        a, b = masked(old.read_text()).splitlines(), masked(new.read_text()).splitlines()
        if a != b:
            differing += 1
            print("\n".join(difflib.unified_diff(a, b, f"before/{name}", f"after/{name}", lineterm="", n=1)))
    print(f"{len(names)} screens, {differing} differ (clock-dependent values masked)")
    return 1 if differing else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.screens", description=__doc__.split("\n", 1)[0])
    sub = parser.add_subparsers(dest="action", required=True)
    sub.add_parser("capture").add_argument("out", type=Path)
    compare = sub.add_parser("diff")
    compare.add_argument("before", type=Path)
    compare.add_argument("after", type=Path)
    args = parser.parse_args(argv)
    if args.action == "capture":
        capture(args.out)
        return 0
    return diff(args.before, args.after)


if __name__ == "__main__":
    sys.exit(main())
