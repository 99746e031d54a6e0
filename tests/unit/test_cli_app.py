"""The App arrives through ctx.obj: a test puts its own there (with a fake engine) instead of patching modules."""

from __future__ import annotations

import io
import json
from typing import Any

from click.testing import CliRunner
from rich.console import Console

from dataops_cli.aws import DataopsError
from dataops_cli.cli import cli, exits
from dataops_cli.cli.app import App
from dataops_cli.config import parse_config
from dataops_cli.engines.base import TRAITS, Engine, LogSource
from dataops_cli.engines.lambda_run import InvokeOutcome


class FakeEngine(Engine):
    """Runs nothing: answers `run_now` with a set outcome (or error) and records how it was asked."""

    traits = TRAITS["lambda"]

    def __init__(self, config: Any, answer: InvokeOutcome | BaseException) -> None:
        super().__init__(config)
        self.answer = answer
        self.calls: list[tuple[str, bool]] = []

    @property
    def runs(self) -> str:
        return "the fake"

    def run_now(
        self, aws: Any, target: Any, trigger: str, watch: Any, local: bool, force: bool = False
    ) -> InvokeOutcome:
        self.calls.append((trigger, local))
        if isinstance(self.answer, BaseException):
            raise self.answer
        return self.answer

    def log_source(self, aws: Any, target: Any, warn: Any) -> LogSource:
        raise AssertionError("not asked in these tests")

    def run_summaries(self, ctx: Any, start: Any) -> None:
        return None

    def skipped_runs(self, aws: Any, start_ms: int, end_ms: Any = None) -> list[Any]:
        raise AssertionError("not asked in these tests")

    def measure(self, aws: Any) -> Any:
        raise AssertionError("not asked in these tests")

    def month_runs_client(self, ctx: Any) -> None:
        return None

    def local_note(self, python: str) -> str:
        return ""

    def local_problem(self) -> str | None:
        return None

    def config_rows(self) -> list[tuple[str, str]]:
        return []


def fake_app(answer: InvokeOutcome | BaseException) -> tuple[App, FakeEngine, io.StringIO]:
    config = parse_config({})
    engine = FakeEngine(config, answer)
    out = io.StringIO()
    console = Console(file=out, width=80, color_system=None, highlight=False)
    app = App(None, None, None, False, 0, False, console=console, _config=config, _aws=object(), _engine=engine)
    return app, engine, out


def failed_run() -> InvokeOutcome:
    payload = {"errorType": "NoDataRowsError", "errorMessage": "diabetes.csv has a header and no rows"}
    return InvokeOutcome("DataOpsPipelineFunction", 200, "Unhandled", payload, "", "req-1")


def test_invoke_uses_the_app_in_ctx_obj_and_exits_1_on_a_failed_run():
    app, engine, out = fake_app(failed_run())
    result = CliRunner().invoke(cli, ["invoke"], obj=app)
    assert result.exit_code == exits.FAILED
    assert engine.calls == [("manual", False)]
    text = out.getvalue()
    assert "❌ DataOpsPipelineFunction failed" in text
    assert "NoDataRowsError: diabetes.csv has a header and no rows" in text


def test_invoke_json_is_the_outcome_document():
    app, _, _ = fake_app(failed_run())
    result = CliRunner().invoke(cli, ["invoke", "--json"], obj=app)
    assert result.exit_code == exits.FAILED
    assert json.loads(result.stdout)["payload"]["errorType"] == "NoDataRowsError"


def test_an_engine_error_is_one_line_with_its_hint_and_its_exit_code():
    app, _, _ = fake_app(DataopsError("function f does not exist in AWS", "deploy the stack first: dataops up"))
    result = CliRunner().invoke(cli, ["invoke"], obj=app)
    assert result.exit_code == exits.FAILED
    assert "error: function f does not exist in AWS" in result.stderr
    assert "hint: deploy the stack first: dataops up" in result.stderr


def test_ctrl_c_names_the_step_the_apps_reporter_has_in_flight():
    app, _, _ = fake_app(KeyboardInterrupt())
    app.reporter.step = "running the fake once"
    result = CliRunner().invoke(cli, ["invoke"], obj=app)
    assert result.exit_code == exits.INTERRUPTED
    assert "interrupted (Ctrl-C) while running the fake once" in result.stderr
