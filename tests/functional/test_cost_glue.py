"""`dataops cost` with the Glue engine: DPU-hours at the configured size and at the minimum, per
month at the schedule's rate, both engines side by side, measured run times, and bad inputs."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime

import pytest
from rich.console import Console

from dataops_cli.cost import model as cost
from dataops_cli.cost.breakdown import breakdown
from dataops_cli.cost.cost_view import render
from dataops_cli.cost.inputs import SPARK_MODEL, Measured, WhatIf, build_usage, compare_engines
from dataops_cli.cost.measured import measure_glue
from dataops_cli.cost.model import glue_billed_seconds, glue_dpus, glue_run_cost
from dataops_cli.cost.prices import table_prices
from dataops_cli.engines import glue_run
from tests.functional.test_cost import config
from tests.functional.test_glue_deploy import stack  # noqa: F401 (fixture)
from tests.helpers import deploy as h

RUNS = 21_600  # rate(2 minutes) in a 30-day month
GLUE = {"engine": "glue"}


def glue_breakdown(what_if: WhatIf | None = None, measured: Measured | None = None, **sections):
    """Every run processes (pipeline.skip_unchanged = false) unless `pipeline` says otherwise."""
    sections.setdefault("pipeline", {"skip_unchanged": False})
    c = config(function=GLUE, **sections)
    return breakdown(build_usage(c, what_if, measured), table_prices(c.region))


def test_dpus_per_worker_type_and_the_one_minute_minimum():
    assert [glue_dpus(t, 2) for t in ("G.1X", "G.2X", "G.4X", "G.8X")] == [2, 4, 8, 16]
    assert glue_dpus("G.2X", 10) == 20
    assert [glue_billed_seconds(s) for s in (0.5, 30, 59.9, 60, 60.01, 90.4)] == [60, 60, 60, 60, 61, 91]
    # AWS's page example: 6 DPUs for 15 minutes = 6 x 0.25 h x $0.44 = $0.66
    assert glue_run_cost(900, "G.2X", 3, 0.44) == pytest.approx(0.66)
    assert glue_run_cost(5, "G.1X", 2, 0.44) == pytest.approx(2 * 60 / 3600 * 0.44)


@pytest.mark.parametrize(
    ("worker_type", "workers", "message"),
    [
        ("G.025X", 2, "unknown Glue worker type 'G.025X': expected one of G.1X, G.2X, G.4X, G.8X"),
        ("Standard", 2, "unknown Glue worker type 'Standard'"),
        ("G.1X", 1, "at least 2 workers (one driver), not 1"),
        ("G.1X", 0, "not 0"),
    ],
)
def test_bad_glue_sizes_are_named(worker_type, workers, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)").replace(".", r"\.")):
        glue_dpus(worker_type, workers)


def test_the_default_glue_job_on_the_sample_costs_the_minimum_every_run():
    b = glue_breakdown()
    assert b.engine == "glue"
    keys = [r.key for r in b.rows]
    assert keys[:5] == ["glue_compute", "scheduler", "s3_put", "s3_get", "logs_ingestion"]
    assert "lambda_compute" not in keys and "custom_metrics" not in keys  # no EMF extraction outside Lambda
    compute = b.row("glue_compute")
    # the model: 30 s start + 768 rows of work -> under a minute -> 60 s billed x 2 DPU (2 x G.1X)
    assert compute.quantity == pytest.approx(RUNS * 60 / 3600 * 2)  # 720 DPU-hours
    assert compute.cost == pytest.approx(720 * 0.44)  # $316.80 a month
    assert "21,600 runs x 60 s billed (1-minute minimum) x 2 DPU" in compute.basis
    # 1 part + 6 run files (quality.json and the manifest among them) + latest.json + the history + 1 LIST
    assert b.row("s3_put").quantity == RUNS * 10
    assert "ASSUMPTION" in b.sources["duration_ms"] and "ASSUMPTION" in b.sources["log_bytes"]
    assert "never expire" in b.row("logs_storage").basis
    assert any("MatchedEvents" in item for item in b.free_items)


def test_size_schedule_and_rows_change_the_glue_compute():
    base = glue_breakdown().row("glue_compute").quantity
    bigger = glue_breakdown(glue={"worker_type": "G.2X", "number_of_workers": 5}).row("glue_compute").quantity
    assert bigger == pytest.approx(base * 10 / 2)  # 10 DPU instead of 2, still the 1-minute minimum
    hourly = glue_breakdown(WhatIf(schedule="rate(1 hour)")).row("glue_compute").quantity
    assert hourly == pytest.approx(720 * 60 / 3600 * 2)
    large = glue_breakdown(WhatIf(rows=60_000_000))
    seconds = SPARK_MODEL.seconds(60_000_000, "G.1X", 2)
    assert seconds == pytest.approx(30 + 60_000_000 * 66.92e-6 * 2 / 4)  # 2,037.6 s
    assert large.row("glue_compute").quantity == pytest.approx(RUNS * glue_billed_seconds(seconds) / 3600 * 2)
    assert "over glue.timeout_minutes = 30" in large.warnings[0]
    assert "longer than the schedule's average interval (120 s)" in large.warnings[1]
    hourly_long = glue_breakdown(WhatIf(rows=60_000_000, schedule="rate(1 hour)"), glue={"timeout_minutes": 60})
    assert hourly_long.warnings == []


def test_measured_run_times_replace_the_assumption_and_rescale_to_other_sizes():
    measured = Measured(glue_seconds=Figure_(150.0), reasons=[])
    b = glue_breakdown(measured=measured)
    assert b.row("glue_compute").quantity == pytest.approx(RUNS * 150 / 3600 * 2)
    assert b.sources["duration_ms"].startswith("150,000 ms from Glue GetJobRuns")
    c = config(function=GLUE)
    # at 2 x G.2X the executor has 8 vCPUs, not 4: the 120 s of work halves, the 30 s start stays
    other = build_usage(c, WhatIf(glue_worker_type="G.2X"), measured)
    assert other.duration_ms.value == pytest.approx((30 + 120 / 2) * 1000)
    assert "rescaled to 2 x G.2X" in other.duration_ms.source
    with_rows = build_usage(c, WhatIf(rows=1000), measured)  # another input: the measurement does not apply
    assert "ASSUMPTION" in with_rows.duration_ms.source


def Figure_(seconds: float):  # noqa: N802
    return cost.Figure(seconds, "Glue GetJobRuns: average ExecutionTime over the last day (4 runs, 2 x G.1X)")


def test_both_engines_side_by_side_from_either_config():
    lam = config()
    prices = table_prices(lam.region)
    rows = compare_engines(lam, WhatIf(), None, prices)
    assert [r["size"] for r in rows] == ["Lambda 1024 MB x86_64", "Glue 2 x G.1X (2 DPU)"]  # configured = minimum
    assert [r["configured"] for r in rows] == [True, False] and rows[1]["minimum"]
    assert rows[1]["compute_per_run"] == pytest.approx(2 * 60 / 3600 * 0.44)
    assert rows[1]["compute_per_month"] == pytest.approx(720 * 0.44)
    assert rows[0]["compute_per_run"] == pytest.approx(0.093 * 1.0 * 0.0000166667 + 0.20 / 1e6)
    assert rows[0]["total_to_pay"] == pytest.approx(breakdown(build_usage(lam), prices).total_to_pay)

    big = config(function=GLUE, glue={"worker_type": "G.2X", "number_of_workers": 10})
    rows = compare_engines(big, WhatIf(), None, prices)
    assert [r["size"] for r in rows] == ["Lambda 1024 MB x86_64", "Glue 10 x G.2X (20 DPU)", "Glue 2 x G.1X (2 DPU)"]
    assert [r["configured"] for r in rows] == [False, True, False]
    assert rows[1]["compute_per_run"] == pytest.approx(20 * 60 / 3600 * 0.44)


def test_rendering_with_both_engines_fits_80_columns():
    c = config(function=GLUE, glue={"worker_type": "G.8X", "number_of_workers": 100})
    b = breakdown(build_usage(c, WhatIf(rows=5_000_000)), table_prices(c.region))
    b.engines = compare_engines(c, WhatIf(rows=5_000_000), None, table_prices(c.region))
    console = Console(width=80, record=True, file=io.StringIO())
    console.print(render(b))
    text = console.export_text()
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "Both engines" in text and "Glue 100 x G.8X (800 DPU)" in text and "(configured)" in text
    assert "Glue 2 x G.1X (2 DPU)" in text and "(minimum)" in text and "Lambda 1024 MB x86_64" in text
    flat = " ".join(text.split())
    assert "warning (Lambda 1024 MB x86_64): a run takes 102.3 s here, over function.timeout_seconds = 60" in flat


def test_cli_cost_shows_glue_and_both_engines_and_refuses_bad_what_ifs(mock_aws_env, monkeypatch, tmp_path):
    h.install(monkeypatch)
    path = h.write_config(tmp_path / "config.toml")
    doc = json.loads(h.run(path, "cost", "--model", "--json", "--engine", "glue", "--workers", "4").output)
    assert doc["engine"] == "glue" and doc["rows"][0]["key"] == "glue_compute"
    assert doc["rows"][0]["quantity"] == pytest.approx(RUNS * 60 / 3600 * 4)
    assert [e["size"] for e in doc["engines"]] == [
        "Lambda 1024 MB x86_64",
        "Glue 4 x G.1X (4 DPU)",
        "Glue 2 x G.1X (2 DPU)",
    ]
    shown = h.run(path, "cost", "--model")
    assert shown.exit_code == 0 and "Both engines" in shown.output and "Glue 2 x G.1X" in shown.output
    for args, named in (
        (("--workers", "1"), "--workers"),
        (("--worker-type", "G.025X"), "--worker-type"),
        (("--engine", "spark"), "--engine"),
    ):
        bad = h.run(path, "cost", "--model", *args)
        assert bad.exit_code == 2 and named in bad.output, bad.output


def test_cli_cost_with_engine_glue_measures_the_jobs_runs(stack, monkeypatch):  # noqa: F811
    monkeypatch.setattr(glue_run, "POLL_SECONDS", 0.0)
    _, _, config_path = stack
    assert h.run(config_path, "up").exit_code == 0
    assert h.run(config_path, "invoke").exit_code == 0
    assert h.run(config_path, "invoke").exit_code == 0
    result = h.run(config_path, "cost", "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    # moto's runs report ExecutionTime 123 s: billed 123 s x 2 DPU for the 30 runs that process (the
    # input changes once a day); the other runs skip, and Glue bills them its 1-minute minimum
    assert doc["rows"][0]["quantity"] == pytest.approx((30 * 123 + (RUNS - 30) * 60) / 3600 * 2)
    assert (
        doc["sources"]["duration_ms"].startswith("123,000 ms from Glue GetJobRuns")
        and "(2 runs" in doc["sources"]["duration_ms"]
    )
    assert doc["engines"][1]["configured"] and doc["engines"][1]["seconds_per_run"] == 123


def test_measure_glue_says_why_when_it_cannot():
    c = config(function=GLUE)

    class NoRuns:
        def get_job_runs(self, **_kw):
            return {"JobRuns": []}

    class Denied:
        def get_job_runs(self, **_kw):
            from botocore.exceptions import ClientError

            raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "GetJobRuns")

    found = Measured(reasons=[])
    measure_glue(c, NoRuns(), found, now=datetime(2026, 11, 26, tzinfo=UTC))
    assert found.glue_seconds is None and found.reasons == [
        "no finished run of Glue job dataops-pipeline-glue in the last day"
    ]
    found = Measured(reasons=[])
    measure_glue(c, Denied(), found)
    assert (
        found.glue_seconds is None
        and "Glue job runs not read" in found.reasons[0]
        and "AccessDenied" in found.reasons[0]
    )


def test_month_to_date_with_engine_glue_counts_the_rules_matches_and_the_runs_time(mock_aws_env):
    from datetime import timedelta

    import boto3

    from dataops_cli.cost.measured import month_to_date

    c = config(function=GLUE)
    cw = boto3.client("cloudwatch", region_name="ap-south-1")
    now = datetime(2026, 11, 16, tzinfo=UTC)  # half of a 30-day month
    for rule, count in (("dataops-glue-run-succeeded", 3.0), ("dataops-glue-run-failed", 1.0)):
        cw.put_metric_data(
            Namespace="AWS/Events",
            MetricData=[
                {
                    "MetricName": "MatchedEvents",
                    "Dimensions": [{"Name": "RuleName", "Value": rule}],
                    "Value": count,
                    "Timestamp": now - timedelta(minutes=10),
                }
            ],
        )

    class Glue:
        def get_job_runs(self, **_kw):
            done = datetime(2026, 11, 15, tzinfo=UTC)
            return {
                "JobRuns": [
                    {"Id": "a", "ExecutionTime": 100, "CompletedOn": done},
                    {"Id": "b", "ExecutionTime": 200, "CompletedOn": done},
                    {"Id": "c", "ExecutionTime": 0},  # still running: no CompletedOn
                ]
            }

    mtd = month_to_date(c, cw, table_prices(c.region), now, stored_bytes=None, glue=Glue())
    assert mtd["runs"] == 4
    assert mtd["rows"]["glue_compute"] == pytest.approx(round(4 * 150 / 3600 * 2 * 0.44, 4))
    assert "lambda_compute" not in mtd["rows"]
