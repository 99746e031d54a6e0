"""Whole-output tests (sqlite-utils style): each command's main screen at 80 and 120 columns.

The exact text is compared with a checked-in file under tests/functional/screens/. What differs
from run to run (clock times, dates, ages, run ids, request ids) is normalized here, in the test,
never in the code. After an intended change of output, regenerate with
`DATAOPS_WRITE_SCREENS=1 pytest tests/functional/test_screens.py` (the run fails so that a write
is never mistaken for a pass), then read the diff.
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from dataops_cli.aws import Aws
from dataops_cli.cli import root as cli_module
from tests.conftest import SAMPLE_CSV
from tests.functional.test_quality_cli import run_handler
from tests.functional.test_status import handler_line, seed_runs
from tests.helpers import deploy as h

SCREENS = Path(__file__).parent / "screens"
WIDTHS = (80, 120)
WRITE = os.environ.get("DATAOPS_WRITE_SCREENS") == "1"

# What changes between runs, each replaced by a stand-in of the same width so the layout stays
# the one the CLI printed: run ids, clock times and dates with a time, the window's length.
RUN_ID = re.compile(r"\d{8}T\d{6}Z-[0-9a-f]{8}")
DIGITS_MASKED = [
    re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?"),
    re.compile(r"\b\d{2}:\d{2}(:\d{2})?\b"),
    re.compile(r"window \d+m"),
]
MEASURED_MS = re.compile(r"(?<=│) *[\d.,]+ ms(?= │)")  # a duration the handler measured, in a table cell


def normalized(text: str, measured: bool = False) -> str:
    text = RUN_ID.sub("YYYYMMDDTHHMMSSZ-xxxxxxxx", text)
    for pattern in DIGITS_MASKED:
        text = pattern.sub(lambda m: re.sub(r"\d", "0", m.group(0)), text)
    if measured:
        text = MEASURED_MS.sub(lambda m: "<ms>".rjust(len(m.group(0))), text)
    return text


def unwrapped_path(text: str, path: Path, stand_in: str) -> str:
    """`path` printed whole or broken across indented lines, replaced by `stand_in` (its length varies by run)."""
    pattern = r"(?:\n *)?".join(re.escape(c) for c in str(path))
    return re.sub(pattern, stand_in, text)


def check(name: str, columns: int, output: str, measured: bool = False) -> None:
    """The normalized output equals screens/<name>-<columns>.txt, byte for byte."""
    expected = SCREENS / f"{name}-{columns}.txt"
    text = normalized(output, measured)
    if WRITE:
        expected.write_text(text, encoding="utf-8")
        pytest.fail(f"wrote {expected.name}: read the diff, then run again without DATAOPS_WRITE_SCREENS")
    assert text == expected.read_text(encoding="utf-8")


@pytest.fixture
def here(tmp_path, monkeypatch):
    """A project folder: config.toml beside its input, both named relatively, so no path varies."""
    shutil.copy(SAMPLE_CSV, tmp_path / SAMPLE_CSV.name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def local_config(here, extra: str = "") -> str:
    (here / "config.toml").write_text(
        f'[bucket]\ninput_file = "{SAMPLE_CSV.name}"\n[function]\nlayer_arn = "{h.STAND_IN_LAYER}"\n' + extra,
        encoding="utf-8",
    )
    return "config.toml"


def screen(columns: int, *args: str) -> str:
    result = CliRunner().invoke(cli_module.cli, list(args), env={"COLUMNS": str(columns)})
    assert result.exit_code in (0, 3), result.output
    return result.output


@pytest.fixture
def stack(mock_aws_env, monkeypatch, here):
    """The stack `up` in moto (a private copy: tests/helpers/moto_state.py), config in `here`."""
    recorder = h.deployed_stack(monkeypatch, here / "deployed.toml")
    monkeypatch.setattr(
        "dataops_cli.observe.status.month_to_date_cost", lambda ctx, now, stored: {"error": "not asked"}
    )
    return recorder, local_config(here)


def period_start() -> datetime:
    """The start of the current 120 s metric period (status's windows end on this grid)."""
    now = datetime.now(UTC).timestamp()
    return datetime.fromtimestamp(now - now % 120, UTC)


@pytest.mark.parametrize("columns", WIDTHS)
def test_help(columns):
    check("help", columns, screen(columns, "--help"))


@pytest.mark.parametrize("columns", WIDTHS)
def test_config(here, columns):
    output = screen(columns, "--config", local_config(here), "config")
    check("config", columns, unwrapped_path(output, here / SAMPLE_CSV.name, "<project>/diabetes_preprocessed.csv"))


@pytest.mark.parametrize("columns", WIDTHS)
def test_cost(mock_aws_env, monkeypatch, here, columns):
    h.install(monkeypatch)
    check("cost", columns, screen(columns, "--config", local_config(here), "cost"))


@pytest.mark.parametrize("columns", WIDTHS)
def test_up_dry_run(mock_aws_env, monkeypatch, here, columns):
    h.publish_stand_in_layer()
    h.install(monkeypatch)
    check("up-dry-run", columns, screen(columns, "--config", local_config(here), "up", "--dry-run"))


@pytest.mark.parametrize("columns", WIDTHS)
def test_status(stack, columns):
    _, config = stack
    # runs on the 120 s period grid, so each lands in the same period whenever the test runs;
    # no latest.json: its age would be a measured time
    seed_runs(period_start(), [100.0, 95.0, 3000.0, 110.0, 102.0], failed={2})
    check("status", columns, screen(columns, "--config", config, "status", "--since", "30m"))


@pytest.mark.parametrize("columns", WIDTHS)
def test_runs(stack, monkeypatch, here, columns):
    _, config = stack
    run_handler(monkeypatch, here / config, SAMPLE_CSV.read_bytes(), 1)
    check("runs", columns, screen(columns, "--config", config, "runs"), measured=True)


@pytest.mark.parametrize("columns", WIDTHS)
def test_logs(stack, columns):
    _, config = stack
    seed_runs(period_start(), [100.0, 3000.0], failed={1})
    check("logs", columns, screen(columns, "--config", config, "logs", "--since", "10m"))


class SucceedingLambda:
    """Lambda's answer to a RequestResponse invoke with LogType=Tail (moto cannot run the handler)."""

    def invoke(self, **_kwargs):
        request, run_id = "0000abcd-0000-0000-0000-000000000000", "20261125T000000Z-0000abcd"
        tail = "\n".join(
            [
                f"START RequestId: {request} Version: $LATEST",
                handler_line("start", request, run_id, start_time="x"),
                handler_line("shape", request, run_id, rows=768, columns=9),
                handler_line("missing", request, run_id, missing_values_handled={"Insulin": 374}, missing_total=374),
                handler_line("saved", request, run_id, files=[f"processed/runs/{run_id}/cleaned.csv"]),
                f"END RequestId: {request}",
                f"REPORT RequestId: {request}\tDuration: 812.40 ms\tBilled Duration: 813 ms\t"
                "Memory Size: 1024 MB\tMax Memory Used: 180 MB",
            ]
        )
        body = {"run_id": run_id, "rows": 768, "columns": 9, "missing_total": 374}
        return {
            "StatusCode": 200,
            "Payload": io.BytesIO(json.dumps(body).encode()),
            "LogResult": base64.b64encode(tail.encode()).decode(),
        }


@pytest.mark.parametrize("columns", WIDTHS)
def test_invoke(stack, monkeypatch, columns):
    _, config = stack
    real_client = Aws.client
    monkeypatch.setattr(
        Aws, "client", lambda self, name: SucceedingLambda() if name == "lambda" else real_client(self, name)
    )
    check("invoke", columns, screen(columns, "--config", config, "invoke"))


def test_the_normalization_keeps_what_does_not_vary():
    """Only run ids, clock times and the window's length are masked, width for width; the rest stays."""
    line = "20261125T000004Z-00000004 · 2026-11-25 10:31:02 UTC · window 28m (10:31–10:59) · 768 × 9 · 3.0 s"
    masked = "YYYYMMDDTHHMMSSZ-xxxxxxxx · 0000-00-00 00:00:00 UTC · window 00m (00:00–00:00) · 768 × 9 · 3.0 s"
    assert normalized(line) == masked and len(masked) == len(line)
    assert normalized("│  49.0 ms │", measured=True) == "│     <ms> │"
    assert normalized("│  49.0 ms │") == "│  49.0 ms │"
    wrapped = "  <- some/where/dia\n     betes.csv\nnext"
    assert unwrapped_path(wrapped, Path("some/where/diabetes.csv"), "<p>") == "  <- <p>\nnext"
