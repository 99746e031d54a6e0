"""What a new operator sees (issue 9): options where people type them, health that recovers,
one row per failed run, output that fits 80 and 120 columns, errors in config words."""

from __future__ import annotations

import io
import json
import re
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import boto3
from click.testing import CliRunner
from rich.console import Console

from dataops_cli.cli import root as cli_module
from dataops_cli.cli.options import GLOBAL_OPTIONS_NOTE
from dataops_cli.config import ConfigError
from dataops_cli.engines.lambda_run import InvokeOutcome
from dataops_cli.engines.run_view import render_result
from dataops_cli.observe import logtail
from dataops_cli.observe.health import judge
from dataops_cli.observe.status_report import ResourceRow, suggest
from dataops_cli.observe.status_report import count as _count
from tests.functional import test_status
from tests.functional.test_status import FN, GROUP, handler_line, put_logs, put_metric, status_json
from tests.helpers import deploy as h

deployed = test_status.deployed  # the fixture: a stack up in moto

STREAM_PATH = "/home/someone/project/.dataops/functions/0f3a9c/handler/reader.py"


def seed_failure_then_success(now: datetime) -> tuple[str, str]:
    """A run that failed (our error line + the runtime's [ERROR] line with a traceback), then one that succeeded."""
    bad, good = "11111111-0000-0000-0000-000000000000", "22222222-0000-0000-0000-000000000000"
    bad_run, good_run = "20261126T101500Z-1a2b3c4d", "20261126T101700Z-5e6f7a8b"
    t1, t2 = now - timedelta(minutes=6), now - timedelta(minutes=3)
    fn = {"FunctionName": FN}
    put_metric("AWS/Lambda", "Invocations", fn, 1, t1)
    put_metric("AWS/Lambda", "Errors", fn, 1, t1)
    put_metric("AWS/Lambda", "Invocations", fn, 1, t2)
    put_metric("AWS/Lambda", "Errors", fn, 0, t2)
    ms = timedelta(milliseconds=1)
    put_logs(
        [
            (t1, f"START RequestId: {bad} Version: $LATEST"),
            (t1 + ms, handler_line("start", bad, bad_run)),
            (
                t1 + 2 * ms,
                handler_line("error", bad, bad_run, error={"code": "WrongFieldCount", "type": "RaggedRowError"}),
            ),
            (
                t1 + 3 * ms,
                "[ERROR] RaggedRowError: line 2 has 3 fields but the header has 9\n"
                f'Traceback (most recent call last):\n  File "{STREAM_PATH}", line 262, in read',
            ),
            (t1 + 4 * ms, f"END RequestId: {bad}"),
            (t1 + 5 * ms, f"REPORT RequestId: {bad}\tDuration: 80.00 ms\tBilled Duration: 81 ms"),
            (t2, f"START RequestId: {good} Version: $LATEST"),
            (t2 + ms, handler_line("start", good, good_run)),
            (t2 + 2 * ms, handler_line("shape", good, good_run, rows=768, columns=9)),
            (
                t2 + 3 * ms,
                handler_line("missing", good, good_run, missing_values_handled={"Insulin": 374}, missing_total=652),
            ),
            (t2 + 4 * ms, handler_line("saved", good, good_run, files=[f"processed/runs/{good_run}/cleaned.csv"])),
            (t2 + 5 * ms, f"END RequestId: {good}"),
            (t2 + 6 * ms, f"REPORT RequestId: {good}\tDuration: 1234.50 ms\tBilled Duration: 1235 ms"),
        ]
    )
    return bad_run, good_run


def run_at(config, columns: int, *args: str):
    return CliRunner().invoke(cli_module.cli, ["--config", str(config), *args], env={"COLUMNS": str(columns)})


def normalized(output: str, config) -> str:
    """Whole output with what changes from run to run replaced: clock times, the config path, call counts."""
    text = output.replace(str(config), "<config>")
    text = re.sub(r"\b\d\d:\d\d\b", "HH:MM", text)
    text = re.sub(r"window \d+m", "window NNm", text)
    text = re.sub(r"[▁▂▃▄▅▆▇█]{15}", "<sparkline>     ", text)  # where the runs fall depends on the clock
    return re.sub(r"\d+ API calls", "N API calls", text)


# ---- options where people type them -------------------------------------------------------------


def test_global_options_are_accepted_after_the_subcommand(deployed):
    _, config = deployed
    after = CliRunner().invoke(cli_module.cli, ["status", "--json", "--config", str(config), "--region", h.REGION])
    before = CliRunner().invoke(cli_module.cli, ["--config", str(config), "--region", h.REGION, "status", "--json"])
    assert after.exit_code == before.exit_code == 0, after.output
    assert json.loads(after.output)["config_file"] == str(config)
    verbose = CliRunner().invoke(cli_module.cli, ["up", "--dry-run", "--config", str(config), "-v"])
    assert verbose.exit_code == 0 and re.search(r"API calls: \d+ \(0 mutating\)", verbose.output), verbose.output
    debug = CliRunner().invoke(cli_module.cli, ["config", "--config", str(config.parent / "nope.toml"), "--debug"])
    assert isinstance(debug.exception, ConfigError)  # --debug after the command shows the traceback
    help_text = CliRunner().invoke(cli_module.cli, ["up", "--help"], env={"COLUMNS": "200"}).output
    assert GLOBAL_OPTIONS_NOTE in " ".join(help_text.split())
    assert "a new run each time" in help_text  # local `up` also invokes once: --help says so
    assert "before or after its name" in CliRunner().invoke(cli_module.cli, ["--help"]).output


def test_local_flag_after_the_subcommand_reaches_the_app(monkeypatch):
    seen = []
    monkeypatch.setattr(cli_module.App, "config_note", lambda self: seen.append(self.local) or "Config: x")
    monkeypatch.setattr(
        cli_module.App, "stack", lambda self, start_emulator=False: (_ for _ in ()).throw(SystemExit(9))
    )
    CliRunner().invoke(cli_module.cli, ["down", "--local"], env={"DATAOPS_LOCAL": ""})
    CliRunner().invoke(cli_module.cli, ["down"], env={"DATAOPS_LOCAL": ""})
    assert seen == [True, False]
    app = cli_module.App(None, None, None, local=True, verbose=0, debug=False)
    assert app.command("up") == "dataops --local up"


def test_first_line_names_the_config_file(deployed, tmp_path, monkeypatch):
    _, config = deployed
    for command in (["up"], ["status"], ["down", "--dry-run"]):
        result = h.run(config, *command)
        assert result.output.splitlines()[0] == f"Config: {config}", command
    empty = tmp_path / "empty.toml"
    empty.write_text("# nothing set\n", encoding="utf-8")
    assert h.run(empty, "config").output.splitlines()[0] == f"Config: {empty} is empty: built-in defaults apply"
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    monkeypatch.delenv("DATAOPS_CONFIG", raising=False)
    first = CliRunner().invoke(cli_module.cli, ["config"]).output.splitlines()[0]
    assert first == "Config: built-in defaults (found no --config, $DATAOPS_CONFIG or ./config.toml)"


def test_config_error_hint_names_the_file_read(tmp_path):
    other = tmp_path / "other.toml"
    other.write_text("[function]\nmemory_mb = 1\n", encoding="utf-8")
    result = h.run(other, "config")
    assert result.exit_code == 2
    assert f"hint: fix {other} (every key is documented" in result.output
    missing = h.run(tmp_path / "gone.toml", "config")
    assert missing.exit_code == 2 and "check the path given to --config" in missing.output


def test_config_shows_every_effective_setting_and_json(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text(
        "[schedule]\nenabled = false\nretry_attempts = 5\n[function]\nreserved_concurrency = 2\n"
        '[alarm]\nemail = "ops@example.com"\n[pipeline]\nzero_as_missing = ["Glucose"]\nnormalize_method = "zscore"\n',
        encoding="utf-8",
    )
    text = run_at(config, 120, "config").output
    for expected in (
        "reserved concurrency 2",
        "DISABLED, retries 5",
        "email ops@example.com via SNS topic dataops-alarms",
        "zero as missing  Glucose",
        "normalize  zscore, except Outcome",
    ):
        assert expected in text, expected
    assert all(len(line) <= 120 and line == line.rstrip() for line in text.splitlines())
    document = json.loads(h.run(config, "config", "--json").output)
    assert document["config_file"] == str(config)
    assert (
        document["settings"]["schedule"]["enabled"] is False and document["settings"]["schedule"]["retry_attempts"] == 5
    )
    assert document["settings"]["pipeline"]["zero_as_missing"] == ["Glucose"]
    assert document["settings"]["alarm"]["email"] == "ops@example.com"
    assert document["derived"]["function_environment"]["NORMALIZE_METHOD"] == "zscore"


def test_since_zero_and_negative_runs_are_usage_errors(deployed):
    _, config = deployed
    zero = h.run(config, "status", "--since", "0m")
    assert zero.exit_code == 2 and "'0m' is an empty window: expected a span greater than zero" in zero.output
    negative = h.run(config, "status", "--runs", "-1")
    assert negative.exit_code == 2 and "-1 is not in the range 0<=x<=100" in negative.output
    logs_zero = h.run(config, "logs", "--since", "0s")
    assert logs_zero.exit_code == 2 and "empty window" in logs_zero.output


def test_logs_filter_ignores_case_and_follow_says_so(deployed, monkeypatch):
    _, config = deployed
    now = datetime.now(UTC) - timedelta(minutes=1)
    put_logs([(now, handler_line("saved", "r1", "run-1", files=[])), (now + timedelta(seconds=1), "other line")])
    for text in ("files saved", "FILES SAVED", "Files saved"):
        lines = h.run(config, "logs", "--since", "10m", "--filter", text).output.splitlines()
        assert len(lines) == 1 and "✅ Files saved" in lines[0], (text, lines)
    monkeypatch.setattr(logtail.time, "sleep", lambda _: (_ for _ in ()).throw(KeyboardInterrupt))
    followed = h.run(config, "logs", "--since", "10m", "-f").output.splitlines()
    assert followed[0] == f"Following {GROUP} (new lines every 2 s); Ctrl-C to stop."
    assert "Files saved" in followed[1]


# ---- health that recovers, one row per failed run -----------------------------------------------------


def test_errors_followed_by_a_success_are_a_warning(deployed):
    _, config = deployed
    bad_run, good_run = seed_failure_then_success(datetime.now(UTC))
    code, report = status_json(config, "--since", "30m")
    good = next(r for r in report["runs"] if r["run_id"] == good_run)
    at = datetime.fromtimestamp(good["started"] / 1000, UTC)
    assert code == 0 and report["health"]["level"] == "warning"
    assert f"errors: recovered at {at:%H:%M} UTC after 1 error" in report["health"]["reasons"]
    # one row for the failed run, with the runtime's [ERROR] line folded in and no path of the machine
    assert report["errors"] == [
        {
            "timestamp": report["errors"][0]["timestamp"],
            "request_id": "11111111-0000-0000-0000-000000000000",
            "run_id": bad_run,
            "code": "WrongFieldCount",
            "message": "❌ Pipeline run failed: line 2 has 3 fields",
            "runtime": "RaggedRowError: line 2 has 3 fields but the header has 9",
        }
    ]
    errors = h.run(config, "logs", "--since", "30m", "--errors").output
    assert len(errors.splitlines()) == 1 and bad_run in errors and "/home/someone/" not in errors


def test_a_failure_after_the_last_success_is_failing(deployed):
    _, config = deployed
    now = datetime.now(UTC)
    seed_failure_then_success(now - timedelta(minutes=4))
    bad = "33333333-0000-0000-0000-000000000000"
    put_metric("AWS/Lambda", "Invocations", {"FunctionName": FN}, 1, now - timedelta(minutes=1))
    put_metric("AWS/Lambda", "Errors", {"FunctionName": FN}, 1, now - timedelta(minutes=1))
    put_logs(
        [
            (now - timedelta(minutes=1), f"START RequestId: {bad} Version: $LATEST"),
            (now - timedelta(seconds=59), f"2026-11-26T10:00:00.000Z {bad} Task timed out after 60.00 seconds"),
            (now - timedelta(seconds=58), f"REPORT RequestId: {bad}\tDuration: 60000.00 ms"),
        ],
        stream="2026/11/26/[$LATEST]feedfacefeedface",
    )
    code, report = status_json(config, "--since", "30m")
    assert code == 3 and report["health"]["level"] == "failing"
    assert "errors: 2" in report["health"]["reasons"]
    timeout = report["errors"][0]
    assert (timeout["request_id"], timeout["code"]) == (bad, "Timeout")
    assert timeout["message"] == "Task timed out after 60.00 seconds"


def test_errors_from_before_the_stack_was_created_are_not_counted(mock_aws_env, monkeypatch, tmp_path):
    """down + up: the previous stack's errors (before the new log group was created) do not count."""
    h.publish_stand_in_layer()
    h.install(monkeypatch)
    config = h.write_config(tmp_path / "config.toml")
    before = datetime.now(UTC) - timedelta(minutes=10)
    put_metric("AWS/Lambda", "Invocations", {"FunctionName": FN}, 1, before)
    put_metric("AWS/Lambda", "Errors", {"FunctionName": FN}, 1, before)
    assert h.run(config, "up").exit_code == 0
    code, report = status_json(config, "--since", "30m")
    assert report["kpis"]["errors"]["value"] == 0, report["kpis"]["errors"]
    assert report["stack_created"] is not None and "errors" not in " ".join(report["health"]["reasons"])
    assert code == 0


def test_p99_source_grammar_and_window_end(deployed):
    _, config = deployed
    seed_failure_then_success(datetime.now(UTC))
    _, report = status_json(config, "--since", "30m")
    assert "(exact, from 2 durations;" in report["kpis"]["duration_p99"]["source"]
    assert _count(1, "duration") == "1 duration"
    shown = re.search(r"\(\d\d:\d\d–(\d\d:\d\d) UTC", h.run(config, "status", "--since", "30m").output)[1]
    generated = datetime.fromisoformat(report["generated_at"])
    assert shown <= f"{generated + timedelta(minutes=1):%H:%M}"  # never the period boundary ahead


# ---- output that fits -----------------------------------------------------------------------------


def test_status_output_fits_80_and_uses_120_columns(deployed, monkeypatch):
    _, config = deployed
    fixed = {"to_pay": 0.004, "total": 2.65, "runs": 2, "fraction_of_month": 0.85}  # the real one moves with the date
    monkeypatch.setattr("dataops_cli.observe.status.month_to_date_cost", lambda ctx, now, stored: fixed)
    seed_failure_then_success(datetime.now(UTC))
    shown = {}
    for columns in (80, 120):
        output = run_at(config, columns, "status", "--since", "30m").output
        lines = output.splitlines()
        assert lines[0] == f"Config: {config}"  # a path: printed whole, like a log line
        assert all(len(line) <= columns for line in lines[1:]), max(lines, key=len)
        assert all(line == line.rstrip() for line in lines)
        shown[columns] = normalized(output, config)
    assert shown[80] == STATUS_80, "\n" + shown[80]
    assert shown[120] == STATUS_120, "\n" + shown[120]


def test_invoke_lines_have_no_padding():
    payload = {
        "run_id": "run-1",
        "rows": 768,
        "columns": 9,
        "missing_total": 652,
        "missing_values_handled": {"Insulin": 374, "SkinThickness": 227},
        "outputs": {
            "cleaned": "processed/runs/20261126T101700Z-5e6f7a8b/cleaned.csv",
            "log": "processed/runs/x/run.json",
        },
        "duration_ms": 800.0,
    }
    outcome = InvokeOutcome("DataOpsPipelineFunction", 200, None, payload, "", "r1")
    console = Console(width=80, record=True, file=io.StringIO())
    console.print(render_result(outcome, 80))
    assert console.export_text() == INVOKE_80


INVOKE_80 = """\
✅ DataOpsPipelineFunction run run-1 succeeded
shape            768 rows × 9 columns
missing handled  652 cells (Insulin 374, SkinThickness 227)
cleaned          processed/runs/20261126T101700Z-5e6f7a8b/cleaned.csv
log              processed/runs/x/run.json
run time         800 ms (handler)
"""

STATUS_80 = """\
Config: <config>
Stack dataops · AWS account 123456789012, region ap-south-1 · window NNm
(HH:MM–HH:MM UTC, 120 s periods)
╭─── Invocations ────╮ ╭────── Errors ──────╮ ╭──── Throttles ─────╮
│         2          │ │         1          │ │         0          │
│    50% success     │ │    50% of runs     │ ╰────────────────────╯
╰────────────────────╯ ╰────────────────────╯
╭─── Duration avg ───╮ ╭─── Duration p99 ───╮ ╭── Event age max ───╮
│         –          │ │      1,234 ms      │ │         –          │
╰────────────────────╯ │     from logs      │ ╰────────────────────╯
                       ╰────────────────────╯
╭─── Missed runs ────╮ ╭──── Freshness ─────╮
│         0          │ │         –          │
│   of 0 expected    │ │ since last success │
╰────────────────────╯ ╰────────────────────╯
invocations   <sparkline>                                  peak 1/period
duration avg  <sparkline>                                  peak 0 ms
errors        <sparkline>                                  1 in window
scheduler     attempts 0 · target errors 0 · dropped 0 ·
              throttled 0
data growth   no daily storage datapoint yet (S3 reports  AWS/S3 daily
              once a day)
cost so far   <$0.01 to pay this month ($2.65 before the  estimate, dataops cost
              free tier; 2 runs, 85% of a 30-day month)
Sources: KPIs from CloudWatch metrics; p99 from REPORT log lines (exact, from 2
durations; this backend has no percentile statistics) · N API calls
Resources
┏━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━┓
┃ Resource         ┃ Name                                            ┃ State   ┃
┡━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━┩
│ S3 bucket        │ dataops-pipeline-bucket                         │ ok      │
│ S3 bucket policy │ dataops-pipeline-bucket (TLS only)              │ skipped │
│                  │ moto evaluates aws:SecureTransport as always    │         │
│                  │ false and would deny every request              │         │
│ S3 input object  │ diabetes_preprocessed.csv                       │ ok      │
│                  │ same content                                    │         │
│ S3 output prefix │ processed/                                      │ ok      │
│ IAM role         │ dataops-lambda-exec                             │ ok      │
│ Log group        │ /aws/lambda/DataOpsPipelineFunction             │ ok      │
│ Lambda function  │ DataOpsPipelineFunction                         │ ok      │
│ IAM role         │ dataops-scheduler-invoke                        │ ok      │
│ Schedule group   │ dataops-schedules                               │ ok      │
│ Schedule         │ dataops-schedules/dataops-run-pipeline          │ ok      │
│ Dashboard        │ DataOpsPipelineDashboard                        │ ok      │
│ SNS topic        │ dataops-alarms                                  │ skipped │
│                  │ no alarm.email configured                       │         │
│ Alarm            │ DataOpsPipelineFunction-errors                  │ ok      │
│ Alarm            │ DataOpsPipelineFunction-quality-failures        │ ok      │
└──────────────────┴─────────────────────────────────────────────────┴─────────┘
Recent runs (outputs under processed/runs/<run>/)
┏━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━┳━━━━━━━━━┳━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━┓
┃ Run                       ┃ Shape   ┃ Missing ┃ Duration ┃ Outcome           ┃
┡━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━╇━━━━━━━━━╇━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━┩
│ 20261126T101700Z-5e6f7a8b │ 768 × 9 │     652 │ 1,234 ms │ ✅ succeeded      │
│ 20261126T101500Z-1a2b3c4d │ –       │       – │  80.0 ms │ ❌ failed: line 2 │
│                           │         │         │          │ has 3 fields      │
└───────────────────────────┴─────────┴─────────┴──────────┴───────────────────┘
Errors ❌
┏━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┓
┃ Run                       ┃ Error                                            ┃
┡━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┩
│ 20261126T101500Z-1a2b3c4d │ WrongFieldCount: line 2 has 3 fields (runtime:   │
│                           │ RaggedRowError: line 2 has 3 fields but the      │
│                           │ header has 9)                                    │
└───────────────────────────┴──────────────────────────────────────────────────┘
Data quality · latest run 20261126T101700Z-5e6f7a8b (succeeded) · –
in window  0 warnings · 0 failures  QualityWarnings / QualityFailures metrics
WARNING
  • errors: recovered at HH:MM UTC after 1 error
  • no successful run yet (S3 processed/latest.json (absent))
exit code 0
"""

STATUS_120 = """\
Config: <config>
Stack dataops · AWS account 123456789012, region ap-south-1 · window NNm (HH:MM–HH:MM UTC, 120 s periods)
╭─── Invocations ────╮ ╭────── Errors ──────╮ ╭──── Throttles ─────╮ ╭─── Duration avg ───╮ ╭─── Duration p99 ───╮
│         2          │ │         1          │ │         0          │ │         –          │ │      1,234 ms      │
│    50% success     │ │    50% of runs     │ ╰────────────────────╯ ╰────────────────────╯ │     from logs      │
╰────────────────────╯ ╰────────────────────╯                                               ╰────────────────────╯
╭── Event age max ───╮ ╭─── Missed runs ────╮ ╭──── Freshness ─────╮
│         –          │ │         0          │ │         –          │
╰────────────────────╯ │   of 0 expected    │ │ since last success │
                       ╰────────────────────╯ ╰────────────────────╯
invocations   <sparkline>                                                                          peak 1/period
duration avg  <sparkline>                                                                          peak 0 ms
errors        <sparkline>                                                                          1 in window
scheduler     attempts 0 · target errors 0 · dropped 0 · throttled 0
data growth   no daily storage datapoint yet (S3 reports once a day)                              AWS/S3 daily
cost so far   <$0.01 to pay this month ($2.65 before the free tier; 2 runs, 85% of a 30-day       estimate, dataops cost
              month)
Sources: KPIs from CloudWatch metrics; p99 from REPORT log lines (exact, from 2 durations; this backend has no
percentile statistics) · N API calls
Resources
┏━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━┓
┃ Resource         ┃ Name                                                                            ┃ State   ┃
┡━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━┩
│ S3 bucket        │ dataops-pipeline-bucket                                                         │ ok      │
│ S3 bucket policy │ dataops-pipeline-bucket (TLS only)                                              │ skipped │
│                  │ moto evaluates aws:SecureTransport as always false and would deny every request │         │
│ S3 input object  │ diabetes_preprocessed.csv                                                       │ ok      │
│                  │ same content                                                                    │         │
│ S3 output prefix │ processed/                                                                      │ ok      │
│ IAM role         │ dataops-lambda-exec                                                             │ ok      │
│ Log group        │ /aws/lambda/DataOpsPipelineFunction                                             │ ok      │
│ Lambda function  │ DataOpsPipelineFunction                                                         │ ok      │
│ IAM role         │ dataops-scheduler-invoke                                                        │ ok      │
│ Schedule group   │ dataops-schedules                                                               │ ok      │
│ Schedule         │ dataops-schedules/dataops-run-pipeline                                          │ ok      │
│ Dashboard        │ DataOpsPipelineDashboard                                                        │ ok      │
│ SNS topic        │ dataops-alarms                                                                  │ skipped │
│                  │ no alarm.email configured                                                       │         │
│ Alarm            │ DataOpsPipelineFunction-errors                                                  │ ok      │
│ Alarm            │ DataOpsPipelineFunction-quality-failures                                        │ ok      │
└──────────────────┴─────────────────────────────────────────────────────────────────────────────────┴─────────┘
Recent runs (outputs under processed/runs/<run>/)
┏━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━┳━━━━━━━━━┳━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┓
┃ Run                       ┃ Shape   ┃ Missing ┃ Duration ┃ Outcome                        ┃
┡━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━╇━━━━━━━━━╇━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┩
│ 20261126T101700Z-5e6f7a8b │ 768 × 9 │     652 │ 1,234 ms │ ✅ succeeded                   │
│ 20261126T101500Z-1a2b3c4d │ –       │       – │  80.0 ms │ ❌ failed: line 2 has 3 fields │
└───────────────────────────┴─────────┴─────────┴──────────┴────────────────────────────────┘
Errors ❌
┏━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┓
┃ Run                       ┃ Error                                                                                    ┃
┡━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┩
│ 20261126T101500Z-1a2b3c4d │ WrongFieldCount: line 2 has 3 fields (runtime: RaggedRowError: line 2 has 3 fields but   │
│                           │ the header has 9)                                                                        │
└───────────────────────────┴──────────────────────────────────────────────────────────────────────────────────────────┘
Data quality · latest run 20261126T101700Z-5e6f7a8b (succeeded) · –
in window  0 warnings · 0 failures  QualityWarnings / QualityFailures metrics
WARNING
  • errors: recovered at HH:MM UTC after 1 error
  • no successful run yet (S3 processed/latest.json (absent))
exit code 0
"""


# ---- errors in the words of the config ----------------------------------------------------------


def test_up_checks_the_input_header_against_every_column_list_first(mock_aws_env, monkeypatch, tmp_path):
    h.publish_stand_in_layer()
    h.install(monkeypatch)
    data = tmp_path / "mine.csv"
    data.write_text("\ufeffglucose,BloodPressure,SkinThickness,Insulin,Age,Label\n1,2,3,4,5,0\n", encoding="utf-8")
    config = tmp_path / "config.toml"
    config.write_text(
        f'[bucket]\ninput_file = "{data}"\n[function]\nlayer_arn = "{h.STAND_IN_LAYER}"\n', encoding="utf-8"
    )
    result = h.run(config, "up")
    assert result.exit_code == 2, result.output
    message = " ".join(result.output.split())
    assert (
        f"{config}: columns configured in [pipeline] are not in the header of {data}: "
        "pipeline.zero_as_missing: 'Glucose' (did you mean 'glucose'?), 'BMI'; "
        "pipeline.normalize_exclude: 'Outcome'. "
        "The header has: glucose, BloodPressure, SkinThickness, Insulin, Age, Label"
    ) in message
    assert f"hint: fix {config}" in message
    assert h.leftovers()["buckets"] == []  # checked before anything was deployed
    semicolons = tmp_path / "semi.csv"
    semicolons.write_text("Glucose;BMI;Outcome\n1,5;2;0\n", encoding="utf-8")
    config.write_text(
        f'[bucket]\ninput_file = "{semicolons}"\n[function]\nlayer_arn = "{h.STAND_IN_LAYER}"\n', encoding="utf-8"
    )
    result = h.run(config, "up", "--dry-run")
    assert result.exit_code == 2 and "the file looks ';'-separated" in " ".join(result.output.split())


def test_invoke_on_a_missing_function_is_a_hint_not_an_arn_dump(deployed):
    _, config = deployed
    boto3.client("lambda", region_name=h.REGION).delete_function(FunctionName=FN)
    result = h.run(config, "invoke")
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        f"error: function {FN} does not exist in AWS account 123456789012, region ap-south-1",
        "hint: deploy the stack first: dataops up",
    ]


def test_hints_name_the_local_command_in_local_mode():
    local = SimpleNamespace(aws=SimpleNamespace(local=True))
    remote = SimpleNamespace(aws=SimpleNamespace(local=False))
    assert suggest(local, "up") == "dataops --local up" and suggest(remote, "up") == "dataops up"
    report = SimpleNamespace(kpis={})
    rows = [ResourceRow("Lambda function", FN, "missing", [], suggest(local, "up"))]
    health = judge(report, rows, suggest(local, "up"))
    assert health.reasons == [f"stack incomplete: Lambda function {FN} (run dataops --local up)"]


def test_down_says_what_it_did(deployed):
    _, config = deployed
    s3 = boto3.client("s3", region_name=h.REGION)
    original = s3.list_object_versions(Bucket="dataops-pipeline-bucket")
    planned = len(original.get("Versions", []))
    result = h.run(config, "down", "--yes")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "SNS topic dataops-alarms: skipped (none to delete: alarm.email is not set)" in " ".join(lines)
    bucket_line = next(line for line in lines if line.startswith("[") and "S3 bucket dataops-pipeline-bucket:" in line)
    assert bucket_line.endswith(f"deleted (emptied {planned} object versions)"), bucket_line
    assert "already gone" not in result.output


def test_config_output_at_80_columns(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text('[bucket]\ninput_file = "/data/in.csv"\n[alarm]\nemail = "ops@example.com"\n', encoding="utf-8")
    output = run_at(config, 80, "config").output
    assert output.replace(str(config), "<config>") == CONFIG_80


CONFIG_80 = """\
Config: <config>
          stack  dataops in ap-south-1
         bucket  s3://dataops-pipeline-bucket/ input diabetes_preprocessed.csv
                 <- /data/in.csv
        outputs  s3://dataops-pipeline-bucket/processed/ (runs expire after 30
                 days)
         engine  lambda
       function  DataOpsPipelineFunction python3.12 x86_64 1024 MB 60 s,
                 reserved concurrency 1, async retries 0, async max event age
                 300 s
          layer  AWSSDKPandas-Python312 (resolved at deploy, SDK 3.17.0)
 execution role  dataops-lambda-exec
      log group  /aws/lambda/DataOpsPipelineFunction (14 days)
       schedule  dataops-schedules/dataops-run-pipeline: rate(2 minutes) UTC,
                 enabled, retries 2, max event age 300 s, flexible window off
 scheduler role  dataops-scheduler-invoke
      dashboard  DataOpsPipelineDashboard
          alarm  DataOpsPipelineFunction-errors -> email ops@example.com via SNS
                 topic dataops-alarms
zero as missing  Glucose, BloodPressure, SkinThickness, Insulin, BMI
         impute  median
      normalize  minmax, except Outcome
   data quality  20 runs of history in processed/quality/history.json; on
                 failure warn; alarm DataOpsPipelineFunction-quality-failures
           tags  Project=dataops, dataops:stack=dataops
"""
