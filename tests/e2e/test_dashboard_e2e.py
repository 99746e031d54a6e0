"""`dataops --local dashboard` in a real browser, and its figures against `status`'s.

One emulator at speed 120 (rate(2 minutes) fires every second): up, a few scheduled runs,
the page written by the real CLI, loaded in headless Chromium (Debian's `chromium`; .ci/run
installs it): a screenshot (kept under tmp_path) and the DOM after the page's own script
ran, checked against the body CloudWatch holds (GetDashboard). Then, with the schedule
disabled so nothing moves between the two reads, `status` and the dashboard are collected
in process for the same window and must agree on p99 and on the runs the tables show.
"""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import urllib.request
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import pytest

from dataops_cli.cli.app import App
from dataops_cli.local.state import read_state
from dataops_cli.observe import dashboard_data
from dataops_cli.observe.status import StatusOptions, collect
from tests.e2e.test_local_e2e import FUNCTION, Session, dataops_command, free_port
from tests.helpers.local import set_schedule_state, wait_until

pytestmark = pytest.mark.e2e
DASHBOARD = "DataOpsPipelineDashboard"
WINDOW = "10m"


class Sections(HTMLParser):
    """Every <section class="widget"> of the dumped DOM, by its data-* attributes; and <body>'s."""

    def __init__(self) -> None:
        super().__init__()
        self.widgets: list[dict[str, str]] = []
        self.body: dict[str, str] = {}
        self.fetching: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {k: v or "" for k, v in attrs}
        if tag == "section" and found.get("class") == "widget":
            self.widgets.append(found)
        elif tag == "body":
            self.body = found
        if tag in ("img", "script", "link", "iframe", "image", "use") and ("src" in found or "href" in found):
            self.fetching.append(tag)


def chromium(*args: str, timeout: float = 90) -> subprocess.CompletedProcess:
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary is None:
        pytest.skip("no chromium on this machine (.ci/run installs Debian's chromium)")
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--enable-logging=stderr"]
    return subprocess.run([binary, *flags, *args], capture_output=True, text=True, timeout=timeout)


def settled(s: Session) -> bool:
    """No run going or waiting (the emulator's own counters), and every run's REPORT line and
    Invocations datapoint written: nothing changes between the two reads compared."""
    if any(f["running"] or f["queued"] for f in s.health()["functions"].values()):
        return False
    found = s.client("logs").filter_log_events(logGroupName=f"/aws/lambda/{FUNCTION}", filterPattern="REPORT")
    reports = [e for e in found["events"] if e["message"].startswith("REPORT RequestId: ")]
    return not found.get("nextToken") and len(reports) == s.lambda_sum("Invocations")


def test_dashboard_in_a_real_browser_and_in_agreement_with_status(tmp_path):
    s = Session(tmp_path)
    started = s.run("local", "start", "--speed", "120", "--port", str(free_port()), local=False)
    assert started.returncode == 0, started.stderr
    pid = read_state(s.state_dir).pid
    s.connect()
    try:
        up = s.run("up", timeout=180)
        assert up.returncode == 0, up.stdout + up.stderr
        wait_until(lambda: s.lambda_sum("Invocations") >= 5, 60, "a few scheduled runs after up's own")

        page = tmp_path / "dashboard.html"
        drawn = s.run("dashboard", "--since", WINDOW, "--out", str(page))
        assert drawn.returncode == 0, drawn.stdout + drawn.stderr
        assert f"Wrote {page} (16 widgets," in drawn.stdout and "console" not in drawn.stdout  # no URL locally
        check_in_browser(s, page, tmp_path / "dashboard.png")
        check_serve(s)

        set_schedule_state(s.client("scheduler"), "DISABLED")
        wait_until(lambda: settled(s), 60, "the last scheduled run to end")
        check_agreement_with_status(s)
    finally:
        stopped = s.run("local", "stop", local=False)
        assert stopped.returncode == 0, stopped.stderr
    assert read_state(s.state_dir) is None and pid


def check_in_browser(s: Session, page: Path, shot: Path) -> None:
    body = json.loads(s.client("cloudwatch").get_dashboard(DashboardName=DASHBOARD)["DashboardBody"])
    shown = chromium("--window-size=1400,2200", f"--screenshot={shot}", page.as_uri())
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", shown.stderr
    dom = chromium("--dump-dom", page.as_uri())
    assert dom.returncode == 0, dom.stderr
    assert not re.search(r"Refused to|Failed to load|Uncaught", dom.stderr), dom.stderr  # nothing blocked or broken
    parsed = Sections()
    parsed.feed(dom.stdout)
    assert parsed.body.get("data-rendered") == str(len(body["widgets"])) == "16"  # the page's script ran to its end
    assert parsed.fetching == []
    expected = sorted(w["properties"].get("title", "") for w in body["widgets"])
    assert sorted(w["data-title"] for w in parsed.widgets) == expected
    assert [w["data-title"] for w in parsed.widgets if w["data-state"] == "error"] == []
    by_title = {w["data-title"]: w for w in parsed.widgets}
    for title in ("Lambda invocations", "Lambda duration (ms)", "Invocations", "Duration (avg / p99)"):
        assert int(by_title[title]["data-points"]) > 0, title
    assert by_title["Lambda duration (ms)"]["data-series"] == "2"  # avg and p99 (from REPORT lines)
    assert by_title["Lambda invocations"]["data-series"] == "2"  # invocations and skipped runs (RunsSkipped)
    activity = next(w for t, w in by_title.items() if t.startswith("Activity"))
    assert int(activity["data-rows"]) > 0
    assert "🚀" in activity["data-title"] and "🚀" in dom.stdout  # the feed's emojis, intact
    assert dom.stdout.count("<svg") == sum(1 for w in body["widgets"] if w["properties"].get("view") == "timeSeries")


def check_serve(s: Session) -> None:
    """--serve: the URL printed, the page served from 127.0.0.1 with a reload, Ctrl-C ends it with 130."""
    command = [*dataops_command(), "--local", "--config", str(s.config), "dashboard", "--serve", "--every", "5"]
    out = s.cwd / "serve.html"
    server = subprocess.Popen([*command, "--out", str(out)], env=s.env, cwd=s.cwd, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        url = ""
        while not url:
            line = server.stdout.readline()  # type: ignore[union-attr]
            assert line, server.stderr.read()  # type: ignore[union-attr]
            url = next(iter(re.findall(r"Serving (http://127\.0\.0\.1:\d+/)", line)), "")
        with urllib.request.urlopen(url, timeout=30) as answer:
            served = answer.read().decode("utf-8")
        assert '<meta http-equiv="refresh" content="5">' in served and 'data-kind="log"' in served
        server.send_signal(signal.SIGINT)
        _, err = server.communicate(timeout=30)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    assert server.returncode == 130, err
    assert f"stopped serving {url} (Ctrl-C)" in " ".join(err.split())


def check_agreement_with_status(s: Session) -> None:
    app = App(str(s.config), None, None, True, 0, False, state_dir=s.state_dir)
    ctx = app.stack()
    now = datetime.now(UTC)
    options = StatusOptions(since_seconds=600, time_scale=app.time_scale(), metric_lag_seconds=5, recent_runs=100)
    report = collect(ctx, options, now)
    data = dashboard_data.collect(ctx, DASHBOARD, 600, now)
    widgets = {w.title: w for w in data.widgets}

    tile = widgets["Duration (avg / p99)"]
    p99 = next(x for x in tile.series if x.label == "p99")
    assert report.kpis["duration_p99"].value is not None
    assert p99.points[-1][1] == report.kpis["duration_p99"].value
    assert "REPORT log lines" in report.kpis["duration_p99"].source and "REPORT log lines" in " ".join(tile.notes)
    invocations = widgets["Invocations"].series[0].points[-1][1]
    assert invocations == report.kpis["invocations"].value
    # the scheduled runs after up find the input unchanged: the tile's RunsSkipped line is status's count
    skipped = next(x for x in widgets["Invocations"].series if x.label == "skipped (input unchanged)")
    assert skipped.points[-1][1] == report.kpis["runs_skipped"].value >= 1

    activity = next(w for t, w in widgets.items() if t.startswith("Activity"))
    runs = {r["run_id"]: r for r in report.runs if r.get("run_id")}
    shown = [row["run_id"] for row in activity.rows]
    assert shown and set(shown) <= set(runs)
    assert shown[0] == report.runs[0]["run_id"]  # both newest first
    for row in activity.rows:
        if "rows" in row:
            run = runs[row["run_id"]]
            assert (int(row["rows"]), int(row["columns"])) == (run["rows"], run["columns"])
    errors = next(w for t, w in widgets.items() if t.startswith("Errors"))
    assert len(errors.rows) == len(report.errors) == 0
    assert FUNCTION in data.widgets[0].markdown
