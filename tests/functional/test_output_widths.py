"""Every screen fits its width: cost, status sparklines, notes, `local` lines, every --help and
config errors at 80 columns, run tables that keep column names whole, counts written one way."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from types import SimpleNamespace

from click.testing import CliRunner
from rich.console import Console

from dataops_cli.cli import root as cli_module
from tests.functional import test_status
from tests.functional.test_status import FN
from tests.helpers import deploy as h

deployed = test_status.deployed  # the fixture: a stack up in moto


def test_cost_never_cuts_a_number_at_80_columns(mock_aws_env, monkeypatch, tmp_path):
    h.install(monkeypatch)
    config = h.write_config(tmp_path / "config.toml")
    every = ["--input-changes-per-day", "720"]  # a new input before every run: every run processes (big numbers)
    for args in (["--rows", "50000000"], ["--engine", "glue", "--workers", "10", "--worker-type", "G.2X"]):
        output = run_at(config, 80, "cost", "--model", *every, *args).output
        assert "…" not in output, output
        assert all(len(line) <= 80 for line in output.splitlines()), max(output.splitlines(), key=len)
    whole = run_at(config, 80, "cost", "--model", *every, "--rows", "50000000").output
    assert whole == COST_50M_80, whole
    glue_args = ("--engine", "glue", "--workers", "10", "--worker-type", "G.2X")
    glue = run_at(config, 80, "cost", "--model", *every, *glue_args)
    assert glue.output.split("How each quantity")[0] == COST_GLUE_80


def run_at(config, columns: int, *args: str):
    return CliRunner().invoke(cli_module.cli, ["--config", str(config), *args], env={"COLUMNS": str(columns)})


COST_50M_80 = """\
Monthly cost, ap-south-1 (lambda, month = 30 days)

 Item                     Quantity            Price     Cost   Free/mo      Pay
 ──────────────────────────────────────────────────────────────────────────────
 Lambda requests        21,600 req         $0.20/1M   <$0.01        1M       $0
 Lambda GB-s            22.1M GB-s   $0.0000166667*     $368   400,000     $361
 x86_64
 Scheduler runs         21,600 inv        $1.00/1M*    $0.02       14M       $0
 S3 PUT requests         19.5M req       $0.005/1K*   $97.42         –   $97.42
 S3 GET requests        64,800 req      $0.0004/1K*    $0.03         –    $0.03
 Logs ingested            0.075 GB           $0.50*    $0.04         5       $0
 Custom metrics          7 metrics           $0.30*    $2.10        10       $0
 S3 storage          150,544 GB-mo          $0.025*   $3,764         –   $3,764
 Logs stored          0.0052 GB-mo           $0.03*   <$0.01         5       $0
 Dashboard                  1 dash            $3.00    $3.00         3       $0
 Alarms                   2 alarms           $0.10*    $0.20        10       $0

 Total                                                $4,234             $4,222

How each quantity was reached:
  Lambda requests: 21,600 runs x 1
  Lambda GB-s x86_64: 21,600 runs x 1,022,176 ms x 1 GB
  Scheduler runs: 21,600 runs
  S3 PUT requests: 21,600 runs x 902 (cleaned.csv, correlation.csv,
  summary.json, dtypes.json, quality.json, run.json, latest.json,
  quality/history.json; LIST 0)
  S3 GET requests: 21,600 runs x 3 (GetObject input, GetObject
  quality/history.json, GetObject latest.json)
  Logs ingested: 21,600 runs x 3.6 KiB
  Custom metrics: 7 EMF metrics x 1 dimension set
  S3 storage: input 1.50 GB + 21,600 runs kept (30 d) x 7.48 GB
  Logs stored: 14 d of logs x 0.15 compressed
  Dashboard: 1 dashboard
  Alarms: 2 standard alarms
Where the figures came from:
  runs: 21,600 from schedule rate(2 minutes)
  processing runs: 21,600 from 30 days x 720 input changes a day, one processing
  run each (--input-changes-per-day)
  skipped duration ms: 44 ms from model (bench/s3_latency_bench.py at 25 ms per
  S3 request, 2026-12-07 (docs/BENCHMARKS.md))
  skipped log bytes: 1.3 kB from model: the ⏭️ line and the EMF document +
  Lambda's 3
  duration ms: 1,022,175 ms from model (bench/cost_model_bench.py, 2026-11-26)
  for 50,000,000 rows / 0.58 CPU share at 1024 MB
  input bytes: 1.50 GB from --rows x diabetes_preprocessed.csv's bytes per row
  cleaned bytes: 7.48 GB from model (bench/cost_model_bench.py, 2026-11-26) for
  50,000,000 rows
  other output bytes: 16.2 kB from model (bench/cost_model_bench.py, 2026-11-26)
  for 50,000,000 rows
  log bytes: 3.7 kB from model (bench/cost_model_bench.py, 2026-11-26): handler
  lines + Lambda's 3
  active hours: 720 from schedule rate(2 minutes)
warning: a run takes 1,022.2 s here, over function.timeout_seconds = 60: runs
would time out (and be billed the full 60 s)
With and without skipping an unchanged input (21,600 of 21,600
runs process)

 pipeline.skip_unchanged   Processing runs    Cost/mo     Pay/mo
 ───────────────────────────────────────────────────────────────
 true (configured)                  21,600     $4,234     $4,222
 false                              21,600     $4,234     $4,222

  0 runs skip; 21,600 process: 30 days x 720 input changes a day, one processing
  run each (--input-changes-per-day)

Both engines, same schedule and input

 Engine                           s/run   Compute/run   Compute/mo       Pay/mo
 ──────────────────────────────────────────────────────────────────────────────
 Lambda 1024 MB x86_64          1,022.2       $0.0170         $368       $4,222
 (configured)
 Glue 2 x G.1X (2 DPU)          1,703.0       $0.4163       $8,992      $12,758
 (minimum)

warning (Lambda 1024 MB x86_64): a run takes 1,022.2 s here, over
function.timeout_seconds = 60: runs would time out (and be billed the full 60 s)
warning (Glue 2 x G.1X (2 DPU)): a Glue run takes 1,703 s here, longer than the
schedule's average interval (120 s): with max concurrent runs 1 the starts in
between fail (ConcurrentRunsExceededException), so fewer runs happen (and cost)
than counted here
Where each engine's run time came from:
  Lambda 1024 MB x86_64: model (bench/cost_model_bench.py, 2026-11-26) for
  50,000,000 rows / 0.58 CPU share at 1024 MB
  Glue 2 x G.1X (2 DPU): ASSUMPTION (bench/spark_bench.py 5M rows, 2026-11-26
  (docs/BENCHMARKS.md)): 30 s start + 50,000,000 rows x 66.92 us per row on 2
  cores x 2 / 4 executor vCPUs
Prices: built-in table (verified prices read 2026-11-26).
* unverified prices (flagged *): alarms, custom_metrics, glue_dpu_hours,
lambda_gb_s_arm64, lambda_gb_s_x86_64, logs_ingestion, logs_storage, s3_get,
s3_put, s3_storage, scheduler_invocations, sns_email
Free/mo is the always-free monthly allowance (per account, shared with
everything else in it): Cost is before it, Pay after.
Free of charge:
  - S3 default encryption is SSE-S3 (AES256): free; no resource uses KMS keys
  - Lambda environment variables use the AWS managed key: free
  - S3 lifecycle expirations and DELETE requests: free
  - AWS/Lambda, AWS/Scheduler and AWS/S3 metrics: free (basic monitoring)
  - S3 <-> Lambda data transfer in one region: free
  - IAM roles, the log group, the schedule group and the SNS topic itself: free
  - Lambda's 512 MB of /tmp: free (the function uses none)
Not counted:
  - Opening the dashboard runs Logs Insights queries ($ per GB scanned) and
    `dataops status` makes one GetMetricData call (about 20 metrics, $0.01 per
    1,000): both depend on how often you look
  - Failed runs retried by Lambda or the scheduler add requests and compute
  - One-off costs of `up` (uploading the input, a few API calls)
"""

COST_GLUE_80 = """\
Monthly cost, ap-south-1 (glue, month = 30 days)

 Item                        Quantity         Price     Cost   Free/mo      Pay
 ──────────────────────────────────────────────────────────────────────────────
 Glue DPU-hours 10 x      7,200 DPU-h        $0.44*   $3,168         –   $3,168
 G.2X
 Scheduler runs            21,600 inv     $1.00/1M*    $0.02       14M       $0
 S3 PUT requests          216,000 req    $0.005/1K*    $1.08         –    $1.08
 S3 GET requests          151,200 req   $0.0004/1K*    $0.06         –    $0.06
 Logs ingested                2.01 GB        $0.50*    $1.01         5       $0
 S3 storage                2.64 GB-mo       $0.025*    $0.07         –    $0.07
 Logs stored                0.3 GB-mo        $0.03*   <$0.01         5       $0
 Dashboard                     1 dash         $3.00    $3.00         3       $0
 Alarms                      2 alarms        $0.10*    $0.20        10       $0

 Total                                                $3,173             $3,169

"""


def test_status_sparklines_fit_the_width_with_the_newest_period_at_the_right(deployed, monkeypatch):
    """3 hours of 120 s periods (90) at 80 columns: bucketed to fit, never cut with "…", and the
    13 runs of the last half hour show at the right end (before, they were the part cut off)."""
    from tests.functional.test_status import seed_runs

    _, config = deployed
    monkeypatch.setattr(
        "dataops_cli.observe.status.month_to_date_cost", lambda ctx, now, stored: {"error": "not asked"}
    )
    seed_runs(datetime.now(UTC), [100.0 + i for i in range(13)], failed=set())
    output = run_at(config, 80, "status", "--since", "3h").output
    line = next(line for line in output.splitlines() if line.startswith("invocations "))
    assert len(line) <= 80 and "…" not in line, line
    spark = line.split()[1]
    assert set(spark) <= set("▁▂▃▄▅▆▇█") and 30 <= len(spark) <= 46, spark
    assert set(spark[:-6]) == {"▁"}, spark  # nothing ran before the last half hour (13 of 90 periods) ...
    assert set(spark[-4:]) <= set("▂▃▄▅▆▇█"), spark  # ... and the newest buckets, at the right, show the runs
    assert line.endswith("peak 1/period")


def test_sparkline_buckets_from_the_newest_value_back():
    from dataops_cli.sparkline import Sparkline, buckets, sparkline

    assert buckets([1, 2, 3, 4, 5], 2) == [1.5, 4.0]  # the oldest bucket short, never the newest
    assert buckets([0, 0, 0, 0, 9], 3) == [0.0, 0.0, 4.5]
    assert sparkline([0, 1, 10], 3) == "▁▂█"  # one run among many still shows above the floor
    console = Console(width=30, record=True, file=io.StringIO())
    console.print(Sparkline([0.0] * 89 + [5.0]))
    drawn = console.export_text().rstrip("\n")
    assert len(drawn) == 30 and drawn.endswith("█") and set(drawn[:-1]) == {"▁"}


def test_step_notes_wrap_within_the_width():
    from dataops_cli.ui import PlainReporter

    console = Console(width=80, record=True, file=io.StringIO())
    PlainReporter(console).note(
        "waiting up to 300 s for function DataOpsPipelineFunction to become Active (GetFunctionConfiguration)"
    )
    assert console.export_text().splitlines() == [
        "      waiting up to 300 s for function DataOpsPipelineFunction to become Active",
        "      (GetFunctionConfiguration)",
    ]


def test_local_start_and_status_lines_fit_80(monkeypatch, tmp_path):
    from dataops_cli.cli import local as cli_local
    from dataops_cli.local.state import Found

    state = SimpleNamespace(
        pid=1234567, host="127.0.0.1", port=45678, speed=60.0, started=1.8e9, log=".dataops/emulator.log"
    )
    state.endpoint = "http://127.0.0.1:45678"
    monkeypatch.setattr(cli_local, "live_state", lambda directory: (None, False))
    monkeypatch.setattr(cli_local.process, "start", lambda *args, **kwargs: state)
    started = CliRunner().invoke(cli_module.cli, ["local", "start", "--speed", "60"], env={"COLUMNS": "80"})
    assert started.exit_code == 0, started.output
    assert started.output.splitlines()[:2] == [
        "Local emulator running at http://127.0.0.1:45678, ready in 0.0 s.",
        "pid 1234567, speed 60x; it runs until `dataops local stop`.",
    ]
    health = {"functions": {FN: {"invocations": 1, "errors": 0, "throttles": 2}}}
    monkeypatch.setattr(cli_local, "find_emulator", lambda directory: Found(state, health))
    shown = CliRunner().invoke(cli_module.cli, ["local", "status"], env={"COLUMNS": "80"})
    lines = shown.output.splitlines()
    assert lines[0] == "Running at http://127.0.0.1:45678 (pid 1234567)"
    assert lines[1].startswith("Since: 2027-01-15 08:00:00 UTC (up ")
    assert lines[-1] == f"{FN}: 1 run, 0 errors, 2 throttles"
    assert all(len(line) <= 80 for line in lines)


def test_every_help_fits_80_columns():
    import click

    def walk(command, path):
        yield path
        if isinstance(command, click.Group):
            for name, sub in command.commands.items():
                yield from walk(sub, [*path, name])

    for path in walk(cli_module.cli, []):
        text = CliRunner().invoke(cli_module.cli, [*path, "--help"], env={"COLUMNS": "80"}).output
        too_long = [line for line in text.splitlines() if len(line) > 80]
        assert too_long == [], (path, too_long)


def test_config_errors_wrap_at_80(tmp_path):
    config = tmp_path / "a-rather-long-directory-name-for-a-config" / "config.toml"
    config.parent.mkdir()
    config.write_text('[schedule]\nexpression = "rate(banana)"\n', encoding="utf-8")
    result = run_at(config, 80, "config")
    assert result.exit_code == 2
    assert all(len(line) <= 80 for line in result.output.splitlines()), result.output
    assert "schedule.expression = 'rate(banana)' is not allowed" in " ".join(result.output.split())


def test_runs_show_keeps_column_names_whole_and_drops_an_empty_message_column():
    from dataops_cli.observe.runs import RunSummary
    from dataops_cli.observe.runs_view import run_detail

    checks = [
        {"name": "completeness", "level": "ok", "column": "DiabetesPedigreeFunction", "observed": 0.0,
         "expected": 0.1, "message": "missing rate 0.0% within 10.0%"},
        {"name": "distribution", "level": "ok", "column": "DiabetesPedigreeFunction", "observed": 0.4718,
         "expected": 0.4718, "message": "mean within 0.5 std"},
        {"name": "zero_markers", "level": "ok", "column": "BloodPressure", "observed": 30,
         "expected": "0 zeros, or values beyond [0, 1]", "message": "30 zeros; other values beyond [0, 1]"},
    ]  # fmt: skip
    run = RunSummary("20261126T155541Z-9c3293b5", "2026-11-26T15:55:41Z", "succeeded", "manual", 1500000, 9, 1272674)
    console = Console(width=80, record=True, file=io.StringIO())
    console.print(run_detail(run, {"baseline_runs": 3, "summary": {"ok": 3}, "checks": checks}))
    text = console.export_text()
    assert "DiabetesPedigreeFunction" in text and "Message" not in text
    table = [line.rstrip() for line in text.splitlines() if line[:1] in "│┃┏┡└"]
    assert all(line.endswith(("│", "┃", "┓", "┩", "┘")) and len(line) <= 80 for line in table), table  # not cropped
    assert "1,500,000 rows × 9 columns" in text and "1,272,674 cells imputed" in text
    flagged = [{**checks[1], "level": "warn", "message": "mean moved 0.8 std from its baseline (0.4718)"}]
    console = Console(width=80, record=True, file=io.StringIO())
    console.print(run_detail(run, {"baseline_runs": 3, "summary": {"warn": 1}, "checks": flagged}))
    lines = [line.rstrip() for line in console.export_text().splitlines()]
    assert all(len(line) <= 80 for line in lines), lines
    assert all(line.endswith(("│", "┃", "┓", "┩", "┘")) for line in lines if line[:1] in "│┃┏┡└"), lines  # not cropped
    assert "│ ⚠️ warn │ distribution │ DiabetesPedigreeFunction │   0.4718 │ 0.4718   │" in lines
    assert lines[-2:] == [
        "⚠️ warn distribution [DiabetesPedigreeFunction]: mean moved 0.8 std from its",
        "        baseline (0.4718)",
    ]


def test_counts_read_the_same_everywhere():
    from dataops_cli.counts import count, counted, shape
    from dataops_cli.observe.status_view import runs_table

    assert count(1272674) == "1,272,674" and shape(1500000, 9) == "1,500,000 × 9"
    assert counted(1, "run") == "1 run" and counted(6, "metric") == "6 metrics" and counted(2, "match") == "2 matches"
    report = SimpleNamespace(
        runs=[{"run_id": "r1", "started": 0, "outcome": "succeeded", "rows": 1500000, "columns": 9,
               "missing_total": 1272674, "duration_ms": 812.4, "error": None}]
    )  # fmt: skip
    console = Console(width=80, record=True, file=io.StringIO())
    console.print(runs_table(report))
    text = console.export_text()
    assert "1,500,000 × 9" in text and "1,272,674" in text
