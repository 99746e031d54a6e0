"""The Lambda lane's pins, docs/LAMBDA-RUNTIME.md's table and the config's defaults say the same thing.

The lane itself (.ci/lambda-lane, run by .ci/run) runs the `handler`-marked modules on Python
3.12 with these pins; this test keeps the pins honest when someone bumps
function.layer_sdk_version or a pin without the other.
"""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from dataops_cli.config import Config
from tests.conftest import REPO

LANES = {"default": REPO / ".ci" / "lambda-py312.txt", "older": REPO / ".ci" / "lambda-py312-pyarrow20.txt"}
DOC = REPO / "docs" / "LAMBDA-RUNTIME.md"
RUNTIME_PACKAGES = ("pyarrow", "numpy", "pandas", "boto3", "botocore")


def pins(path) -> dict[str, str]:
    found = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if match := re.fullmatch(r"([A-Za-z0-9_.-]+)(?:\[[a-z0-9,]+\])?==([0-9][0-9A-Za-z.]*)", line.strip()):
            found[match.group(1).lower()] = match.group(2)
    return found


def doc_table() -> dict[str, tuple[str, str]]:
    rows = {}
    for line in DOC.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[0] in RUNTIME_PACKAGES:
            rows[cells[0]] = (cells[1], cells[2])
    return rows


def test_every_pin_is_exact_and_the_doc_table_agrees():
    table = doc_table()
    assert set(table) == set(RUNTIME_PACKAGES)
    for column, lane in enumerate(LANES.values()):
        pinned = pins(lane)
        for package in RUNTIME_PACKAGES:
            assert pinned[package] == table[package][column], (lane.name, package)
        assert {"moto", "pytest"} <= set(pinned), "test tooling is pinned too, so the lane is reproducible"


def test_the_default_lane_is_the_configs_runtime_and_layer():
    function = Config().function
    text = DOC.read_text(encoding="utf-8")
    assert function.runtime == "python3.12" and function.layer_name == "AWSSDKPandas-Python312"
    assert f"Default layer ({function.layer_sdk_version})" in text, "bump the lane with function.layer_sdk_version"
    assert f"layer_sdk_version = {function.layer_sdk_version}" in LANES["default"].read_text(encoding="utf-8")


def test_the_older_lane_keeps_the_pyarrow_the_issue_named():
    assert pins(LANES["older"])["pyarrow"] == "20.0.0"


@pytest.mark.parametrize("module", ["test_handler", "test_pipeline", "test_bad_input", "test_quality", "test_contract"])
def test_the_handlers_test_modules_are_in_the_lane(module):
    (path,) = (REPO / "tests").rglob(f"{module}.py")  # in whichever tier it lives
    assert "\npytestmark = pytest.mark.handler\n" in path.read_text(encoding="utf-8")


def test_without_python_312_the_lane_fails_loudly(tmp_path):
    """CI must not go green because the lane found no interpreter and ran nothing."""
    tools = tmp_path / "bin"  # the shell tools the script uses, and no python at all
    tools.mkdir()
    for tool in ("dirname", "basename", "grep", "ls", "sort", "cut", "sha256sum", "cat", "rm"):
        (tools / tool).symlink_to(shutil.which(tool))
    env = {"PATH": str(tools), "HOME": str(tmp_path), "LAMBDA_LANE_PYENV_ROOTS": str(tmp_path / "no-pyenv")}
    done = subprocess.run(
        [shutil.which("bash"), str(REPO / ".ci" / "lambda-lane"), str(LANES["default"])],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert "lambda lane lambda-py312: FAILED: no Python 3.12 found" in done.stderr


def test_ci_runs_both_lanes():
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert "bash .ci/lambda-lane .ci/lambda-py312.txt" in ci
    assert "bash .ci/lambda-lane .ci/lambda-py312-pyarrow20.txt" in ci
