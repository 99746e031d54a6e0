"""`dataops dashboard`'s command: where the page goes, what it prints, its exit codes (data stood in)."""

from __future__ import annotations

from typing import Any

import pytest
from click.testing import CliRunner

from dataops_cli.cli import cli
from dataops_cli.cli.app import App
from dataops_cli.observe import dashboard_data
from dataops_cli.observe.dashboard_data import DashboardData, Series, WidgetData


@pytest.fixture
def drawn(monkeypatch, tmp_path) -> dict[str, Any]:
    seen: dict[str, Any] = {"widgets": [], "opened": []}

    def collect(ctx: Any, name: str, since: int | None = None, **_: Any) -> DashboardData:
        seen.update(name=name, since=since)
        return DashboardData("Dash", "eu-west-1", "s", "e", 600, list(seen["widgets"]), "now", api_calls=9)

    monkeypatch.setattr(dashboard_data, "collect", collect)
    monkeypatch.setattr(App, "stack", lambda self, start_emulator=False: object())
    monkeypatch.setattr("webbrowser.open", lambda url: seen["opened"].append(url))
    config = tmp_path / "config.toml"
    config.write_text('[stack]\nregion = "eu-west-1"\n[dashboard]\nname = "Dash"\n', encoding="utf-8")
    seen["run"] = lambda *args: CliRunner().invoke(
        cli, ["--config", str(config), "--state-dir", str(tmp_path / "st"), *args]
    )
    return seen


def test_the_page_goes_to_the_state_dir_and_aws_gets_the_console_url(drawn, tmp_path):
    drawn["widgets"] = [WidgetData("metric", "Lambda invocations", 0, 0, 8, 6, series=[Series("x", [(0, 1.0)])])]
    result = drawn["run"]("dashboard", "--open")
    assert result.exit_code == 0, result.output
    page = tmp_path / "st" / "dashboard.html"
    assert f"Wrote {page} (1 widgets, 9 API calls," in " ".join(result.output.split())
    assert "https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#dashboards/dashboard/Dash" in (
        result.output.replace("\n", "")
    )
    assert drawn["opened"] == [page.resolve().as_uri()] and drawn["name"] == "Dash" and drawn["since"] is None
    assert "Lambda invocations" in page.read_text(encoding="utf-8")


def test_a_widget_that_failed_is_named_and_the_exit_code_is_5(drawn, tmp_path):
    drawn["widgets"] = [WidgetData("log", "Errors", 0, 0, 24, 5, error="Logs Insights: AccessDeniedException: no")]
    result = drawn["run"]("dashboard", "--since", "1h", "--out", str(tmp_path / "p.html"))
    assert result.exit_code == 5, result.output
    assert "unavailable: Errors: Logs Insights: AccessDeniedException: no" in " ".join(result.output.split())
    assert drawn["since"] == 3600 and (tmp_path / "p.html").exists()


@pytest.mark.parametrize(("args", "named"), [(("--since", "0m"), "--since"), (("--serve", "--every", "1"), "--every")])
def test_bad_options_are_exit_2_naming_the_option(drawn, args, named):
    result = drawn["run"]("dashboard", *args)
    assert result.exit_code == 2 and named in result.output


def test_serve_opens_the_live_page_and_ctrl_c_is_exit_130(drawn, monkeypatch):
    class Server:
        url = "http://127.0.0.1:4242/"

        def __init__(self, build: Any, on_error: Any, page: str) -> None:
            assert "Dash" in page and 'http-equiv="refresh" content="30"' in page

        def serve(self, every: int) -> None:
            assert every == 30
            raise KeyboardInterrupt

    monkeypatch.setattr("dataops_cli.observe.serve.PageServer", Server)
    result = drawn["run"]("dashboard", "--serve", "--every", "30", "--open")
    assert result.exit_code == 130, result.output
    assert drawn["opened"] == [Server.url]  # the live page, not the file
    assert "Serving http://127.0.0.1:4242/ (re-read every 30 s; Ctrl-C stops)" in result.output
    assert "stopped serving http://127.0.0.1:4242/ (Ctrl-C)" in " ".join(result.output.split())
