"""`dataops dashboard`: observe/dashboard_data.py reads, observe/dashboard_view.py draws, observe/serve.py serves."""

from __future__ import annotations

import sys
import time
import webbrowser
from collections.abc import Callable
from pathlib import Path

import click
from rich.text import Text

import dataops_cli.cli.exits as exits
from dataops_cli.aws import DataopsError
from dataops_cli.cli.app import App
from dataops_cli.cli.options import CONTEXT_SETTINGS, since_seconds
from dataops_cli.deploy.dashboard import console_url
from dataops_cli.observe.percentiles import unavailable_reason

PAGE_NAME = "dashboard.html"


class StoppedServingError(DataopsError):
    exit_code = exits.INTERRUPTED


@click.command("dashboard", context_settings=CONTEXT_SETTINGS)
@click.option("--since", metavar="SPAN", help="Time range: 30m, 3h, 1d ... [default: the dashboard's own, 3h].")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help="Where to write the page [default: dashboard.html in the state directory, ./.dataops].",
)
@click.option("--open", "open_page", is_flag=True, help="Open the page in the browser (with --serve: the live one).")
@click.option("--serve", is_flag=True, help="Serve the page on 127.0.0.1 (a free port), re-read every period.")
@click.option(
    "--every",
    type=click.IntRange(min=5),
    metavar="SECONDS",
    help="With --serve: re-read the data this often [default: the dashboard's shortest period, 120].",
)
@click.pass_obj
def dashboard(app: App, since: str | None, out: Path | None, open_page: bool, serve: bool, every: int | None) -> None:
    """Draw the deployed CloudWatch dashboard as one self-contained HTML page.

    Reads the dashboard back (GetDashboard) and draws every widget from the
    sources CloudWatch uses: GetMetricData for graphs and single-value tiles
    (each widget's metrics, stat, period), Logs Insights (StartQuery) for the
    activity and error tables, text widgets as text, on CloudWatch's 24-column
    grid. Where the backend has no percentiles (the local emulator), p99 comes
    from the function's REPORT log lines, as in `status`, and the widget says so.

    \b
    The page fetches nothing when viewed (inline SVG charts) and follows the
    browser's light or dark mode. Against AWS the console URL is printed too.
    Exit codes: 0 drawn; 5 drawn, but a widget's source was unavailable;
    4 no dashboard deployed; 1 AWS error; 2 bad option; 130 Ctrl-C (--serve).

    \b
    Examples:
      dataops --local dashboard --open
      dataops dashboard --since 1d --out /tmp/pipeline.html
      dataops --local dashboard --serve --every 30
    """
    from dataops_cli.observe import dashboard_data, dashboard_view

    seconds = since_seconds(since) if since else None
    ctx = app.stack()
    name = app.config.dashboard.name
    target = out or app.state_dir / PAGE_NAME

    def build(refresh: int | None = None) -> tuple[str, dashboard_data.DashboardData]:
        data = dashboard_data.collect(ctx, name, seconds)
        data.console_url = None if app.local else console_url(app.config.region, name)
        return dashboard_view.render(data, refresh), data

    started = time.perf_counter()
    page, data = build()
    _write(target, page)
    failed = [w for w in data.widgets if w.error]
    app.console.print(
        f"Wrote {target} ({len(data.widgets)} widgets, {data.api_calls} API calls, "
        f"{time.perf_counter() - started:.1f} s)",
        markup=False,
        soft_wrap=True,
    )
    for widget in failed:
        app.console.print(Text.assemble(("unavailable: ", "yellow"), f"{widget.title or widget.kind}: {widget.error}"))
    if data.console_url:
        app.console.print(f"CloudWatch console: {data.console_url}", markup=False, soft_wrap=True)
    if open_page and not serve:
        webbrowser.open(target.resolve().as_uri())
    if serve:
        period = every or data.refresh_seconds
        first = dashboard_view.render(data, period)
        _serve(app, lambda: build(period)[0], first, period, target, open_page)
    app.report_calls()
    sys.exit(exits.INCOMPLETE if failed else exits.OK)  # INCOMPLETE as `status`: a source could not be read


def _serve(app: App, build: Callable[[], str], first: str, every: int, target: Path, open_page: bool) -> None:
    from dataops_cli.observe.serve import PageServer

    def failed(exc: BaseException) -> None:
        app.console.print(
            Text.assemble(("refresh failed: ", "yellow"), unavailable_reason(exc), "; serving the last page")
        )

    server = PageServer(build, failed, page=first)
    app.console.print(f"Serving {server.url} (re-read every {every} s; Ctrl-C stops)", markup=False, soft_wrap=True)
    if open_page:  # the live page, not the file
        webbrowser.open(server.url)
    try:
        server.serve(every)
    except KeyboardInterrupt:
        message = f"stopped serving {server.url} (Ctrl-C)"
        raise StoppedServingError(message, f"the page as first drawn stays in {target}") from None


def _write(target: Path, page: str) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(page, encoding="utf-8")
