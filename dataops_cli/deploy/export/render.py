"""The template as YAML or JSON text, and written to a file without ever leaving half a file.

YAML is what CloudFormation authors read and review; it is written with PyYAML's safe
dumper (plain data only, long-form intrinsic functions such as `Fn::Sub`, which both
formats accept), and every value that YAML 1.1 would read as something else ('OFF',
'2010-09-09') is quoted by it, so CloudFormation reads back exactly the JSON form.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import yaml

from dataops_cli.aws import DataopsError

FORMATS = ("yaml", "json")


def render(template: dict[str, Any], fmt: str) -> str:
    if fmt == "json":
        return json.dumps(template, indent=2, ensure_ascii=False) + "\n"
    return yaml.safe_dump(template, sort_keys=False, default_flow_style=False, width=120, allow_unicode=True)


def write_atomically(path: Path, text: str, force: bool) -> None:
    """Write to a temporary file beside `path`, then move it in place.

    Without `force` an existing file is refused, and the move is a hard link, which fails
    if `path` appeared meanwhile (no check-then-write race); with `force` it is replaced
    in one rename. Either way a reader never sees half a template.
    """
    if path.exists() and not force:
        raise DataopsError(f"{path} exists: not overwritten", "pass --force to replace it, or choose another --out")
    if path.is_dir():
        raise DataopsError(f"--out {path} is a folder", "give a file name, e.g. --out template.yaml")
    directory = path.parent if str(path.parent) else Path()
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=directory, prefix=f".{path.name}.", delete=False) as f:
        f.write(text)
        temporary = Path(f.name)
    try:
        if force:
            temporary.replace(path)
        else:
            try:
                os.link(temporary, path)
            except FileExistsError as exc:
                raise DataopsError(f"{path} exists: not overwritten", "pass --force to replace it") from exc
    finally:
        temporary.unlink(missing_ok=True)
