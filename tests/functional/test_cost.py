"""`dataops cost`: the pinned default breakdown, what-ifs, schedule runs, prices, measured figures, the CLI."""

from __future__ import annotations

import contextlib
import io
import json
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import boto3
import pytest
from botocore.stub import Stubber
from rich.console import Console

from dataops_cli.config import parse_config
from dataops_cli.cost import model as cost
from dataops_cli.cost.breakdown import breakdown
from dataops_cli.cost.cost_view import render
from dataops_cli.cost.inputs import WhatIf, build_usage, count_rows, schedule_runs
from dataops_cli.cost.measured import measure, month_to_date
from dataops_cli.cost.model import get_requests_per_run, multipart_requests, put_requests_per_run
from dataops_cli.cost.prices import (
    API_USAGE_TYPES,
    TABLE,
    UnknownRegionError,
    api_prices,
    first_paid_tier,
    table_prices,
)
from handler import lambda_function
from handler.s3io import PART_BYTES
from tests.conftest import SAMPLE_CSV
from tests.helpers import deploy as h

GIB = 1024**3


def config(**sections):
    raw = {"bucket": {"input_file": str(SAMPLE_CSV)}}
    for name, values in sections.items():
        raw.setdefault(name, {}).update(values)
    return parse_config(raw)


def default_breakdown(what_if: WhatIf | None = None, **sections):
    c = config(**sections)
    return breakdown(build_usage(c, what_if), table_prices(c.region))


# The default config (ap-south-1, rate(2 minutes), 1024 MB x86_64, 30-day outputs, 14-day logs) on the
# shipped 768-row sample (23,106 bytes). A month is 30 days: 30 x 24 x 60 / 2 = 21,600 runs.
# Model (bench/cost_model_bench.py): 44.37 ms + 0.011833 ms/row on 2 cores, / (1024/1769) CPU share:
#   (44.37 + 0.011833 x 768) x 1769 / 1024 = 92.35 ms -> billed 93 ms.
#   cleaned.csv 14 + 149.67 x 768 = 114,960.56 bytes; other files (quality.json included) 16,216 bytes;
#   a run = 131,176.56 bytes.
#   log per run: 3,182 handler + 300 START/END/REPORT + (6 + 3) events x 26 = 3,716 bytes.
#   S3 per run: 6 run files + latest.json + quality/history.json = 8 PUTs; the input + the history = 2 GETs.
# Every run processes here (pipeline.skip_unchanged = false); test_cost_skip.py pins the default, with skips.
NO_SKIP = {"skip_unchanged": False}
RUNS = 21_600
LOG_GB = RUNS * 3_716 / GIB
STORED_GB = (23_106 + RUNS / 30 * 30 * 131_176.56) / GIB
EXPECTED = [
    # key, quantity, USD per unit, free allowance, cost before free tier, to pay
    ("lambda_requests", RUNS, 0.20 / 1e6, 1_000_000, RUNS * 0.20 / 1e6, 0),
    ("lambda_compute", RUNS * 0.093 * 1.0, 0.0000166667, 400_000, 2_008.8 * 0.0000166667, 0),
    ("scheduler", RUNS, 1.00 / 1e6, 14_000_000, 0.0216, 0),
    ("s3_put", RUNS * 8, 0.005 / 1000, 0, 172_800 * 0.000005, 0.864),
    ("s3_get", RUNS * 2, 0.0004 / 1000, 0, 43_200 * 0.0000004, 0.01728),
    ("logs_ingestion", LOG_GB, 0.50, 5, LOG_GB * 0.50, 0),
    ("custom_metrics", 7, 0.30, 10, 2.10, 0),  # the handler's 7 EMF metrics (RunsSkipped since issue 22)
    ("s3_storage", STORED_GB, 0.025, 0, STORED_GB * 0.025, STORED_GB * 0.025),
    ("logs_storage", LOG_GB / 30 * 14 * 0.15, 0.03, 5, LOG_GB / 30 * 14 * 0.15 * 0.03, 0),
    ("dashboards", 1, 3.00, 3, 3.00, 0),
    ("alarms", 2, 0.10, 10, 0.20, 0),
]


def test_default_config_breakdown_matches_the_hand_computed_table():
    b = default_breakdown(pipeline=NO_SKIP)
    assert [r.key for r in b.rows] == [e[0] for e in EXPECTED]
    for key, quantity, usd, free, cost_usd, to_pay in EXPECTED:
        row = b.row(key)
        assert row.quantity == pytest.approx(quantity, rel=1e-9), key
        assert row.usd_per_unit == pytest.approx(usd, rel=1e-12), key
        assert row.free_allowance == free, key
        assert row.cost == pytest.approx(cost_usd, rel=1e-6), key
        assert row.to_pay == pytest.approx(to_pay, rel=1e-6, abs=1e-12), key
    assert pytest.approx(2.63884, rel=1e-5) == STORED_GB
    assert b.total == pytest.approx(sum(e[4] for e in EXPECTED), rel=1e-9)
    assert b.total == pytest.approx(6.3442, abs=5e-4)
    assert b.total_to_pay == pytest.approx(0.864 + 0.01728 + STORED_GB * 0.025, rel=1e-9)
    assert b.total_to_pay == pytest.approx(0.9473, abs=5e-5)
    assert "93 ms" in b.row("lambda_compute").basis
    assert b.sources["runs"] == "21,600 from schedule rate(2 minutes)"
    assert "model" in b.sources["duration_ms"] and "0.58 CPU share at 1024 MB" in b.sources["duration_ms"]


def quantities(b) -> dict[str, float]:
    return {r.key: r.quantity for r in b.rows}


def test_rate_1_minute_doubles_requests_and_compute_and_leaves_fixed_rows_alone():
    base = quantities(default_breakdown(pipeline=NO_SKIP))
    fast = quantities(default_breakdown(WhatIf(schedule="rate(1 minute)"), pipeline=NO_SKIP))
    doubled = {"lambda_requests", "lambda_compute", "scheduler", "s3_put", "s3_get", "logs_ingestion"}
    for key in doubled:
        assert fast[key] == pytest.approx(2 * base[key]), key
    for key in ("dashboards", "alarms", "custom_metrics"):
        assert fast[key] == base[key], key
    # twice the runs kept for 30 days: the outputs double, the input does not
    assert fast["s3_storage"] == pytest.approx(2 * base["s3_storage"] - 23_106 / GIB)
    assert fast["logs_storage"] == pytest.approx(2 * base["logs_storage"])


def every_run(what_if: WhatIf | None):
    return default_breakdown(what_if, pipeline=NO_SKIP)


def test_what_ifs_change_exactly_their_rows():
    base = quantities(every_run(None))
    default_breakdown = every_run

    def changed(b) -> set[str]:
        return {k for k, v in quantities(b).items() if v != pytest.approx(base[k])}

    assert changed(default_breakdown(WhatIf(retention_days=7))) == {"s3_storage"}
    assert changed(default_breakdown(WhatIf(log_retention_days=90))) == {"logs_storage"}
    memory = default_breakdown(WhatIf(memory_mb=2048))
    assert changed(memory) == {"lambda_compute"}
    # a full vCPU from 1,769 MB: 53.46 ms -> billed 54 ms x 2 GB
    assert memory.row("lambda_compute").quantity == pytest.approx(RUNS * 0.054 * 2)
    assert changed(default_breakdown(WhatIf(architecture="arm64"))) == set()
    assert default_breakdown(WhatIf(architecture="arm64")).row("lambda_compute").usd_per_unit == 0.0000133334
    small = default_breakdown(WhatIf(rows=50_000))
    assert changed(small) == {"lambda_compute", "s3_storage"}  # 7.5 MB cleaned.csv: still one PUT (8 MiB parts)
    rows = default_breakdown(WhatIf(rows=100_000))
    # 8 MiB parts (8,388,608 bytes); single PUTs: the 5 run files besides cleaned.csv + 2 pointer files = 7
    # 14,967,014 bytes: ceil(1.78) = 2 parts -> create + 2 + complete = 4, so 4 + 7 = 11 PUTs a run
    assert changed(rows) == {"lambda_compute", "s3_storage", "s3_put"}
    assert rows.row("s3_put").quantity == RUNS * 11
    big = default_breakdown(WhatIf(rows=200_000))  # 29,934,014 bytes: ceil(3.57) = 4 parts -> 6 + 7 = 13
    assert big.row("s3_put").quantity == RUNS * 13
    assert default_breakdown(WhatIf(input_mb=23.106)).row("s3_storage").quantity > rows.row("s3_storage").quantity


def test_disabled_schedule_costs_only_the_fixed_items():
    b = default_breakdown(schedule={"enabled": False})
    paid = {r.key for r in b.rows if r.cost}
    assert paid == {"dashboards", "alarms", "s3_storage"}
    assert b.row("s3_storage").quantity == pytest.approx(23_106 / GIB)
    assert b.sources["runs"] == "0 from schedule.enabled = false"


def test_alarm_email_adds_an_sns_row_and_no_alarm_removes_the_alarm():
    assert "sns_email" in quantities(default_breakdown(alarm={"email": "ops@example.com"}))
    assert default_breakdown(alarm={"enabled": False}).row("alarms").quantity == 0


def test_schedule_runs_for_cron_at_and_rate():
    monday = datetime(2026, 11, 30, tzinfo=UTC)
    runs, hours = schedule_runs("cron(0 8 ? * MON-FRI *)", True, "UTC", monday)
    assert (runs.value, hours.value) == (22, 22)  # 30 days from Mon 30 Nov: 4 full weeks + Mon, Tue
    runs, hours = schedule_runs("cron(0/15 * * * ? *)", True, "UTC", monday)
    assert (runs.value, hours.value) == (30 * 24 * 4, 720)
    runs, hours = schedule_runs("rate(6 hours)", True, "UTC", monday)
    assert (runs.value, hours.value) == (120, 120)
    assert schedule_runs("at(2027-01-01T00:00:00)", True, "UTC", monday)[0].value == 1
    assert schedule_runs("at(2020-01-01T00:00:00)", True, "UTC", monday)[0].value == 0
    assert schedule_runs("rate(2 minutes)", False, "UTC", monday)[0].value == 0


def test_custom_metrics_are_billed_for_the_hours_with_a_run():
    b = default_breakdown(WhatIf(schedule="rate(1 day)"))
    assert b.row("custom_metrics").quantity == pytest.approx(7 * 30 / 720)


def test_count_rows(tmp_path):
    assert count_rows(SAMPLE_CSV) == 768
    no_newline = tmp_path / "x.csv"
    no_newline.write_bytes(b"a,b\n1,2\n3,4")
    assert count_rows(no_newline) == 2
    with pytest.raises(Exception, match=r"bucket.input_file: .*missing.csv does not exist"):
        count_rows(tmp_path / "missing.csv")


def test_multipart_arithmetic_follows_the_sink():
    assert multipart_requests(PART_BYTES) == 1
    assert multipart_requests(PART_BYTES + 1) == 4  # create + 2 parts + complete
    assert put_requests_per_run(100) == 8


def test_the_model_counts_what_the_handler_really_does(mock_aws_env, monkeypatch):
    """Requests and EMF metrics of a real run under moto equal the model's tuples (one line to add one)."""
    env = {"BUCKET_NAME": "cost-test-bucket", "INPUT_KEY": "in.csv", "OUTPUT_PREFIX": "processed/"}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    s3 = boto3.client("s3", region_name="ap-south-1")
    s3.create_bucket(Bucket="cost-test-bucket", CreateBucketConfiguration={"LocationConstraint": "ap-south-1"})
    s3.put_object(Bucket="cost-test-bucket", Key="in.csv", Body=SAMPLE_CSV.read_bytes())
    calls: list[str] = []
    s3.meta.events.register("before-call.s3", lambda model, **_: calls.append(model.name))
    monkeypatch.setattr(lambda_function, "_s3_client", s3)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        result = lambda_function.lambda_handler({}, SimpleNamespace(aws_request_id="cost-run-0001"))
    run_calls = list(calls)  # the run's own requests, before the checks below make more
    cleaned = s3.head_object(Bucket="cost-test-bucket", Key=result["outputs"]["cleaned"])["ContentLength"]
    put_class = ("PutObject", "CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload")
    puts = [c for c in run_calls if c in put_class]
    gets = [c for c in run_calls if c in ("GetObject", "HeadObject")]
    assert len(puts) == put_requests_per_run(cleaned)
    assert len(gets) == get_requests_per_run(skip_unchanged=True)  # the default: latest.json is read too
    assert gets == ["GetObject"] * len(cost.RUN_READS + cost.SKIP_CHECK_READS)  # no HeadObject since issue 22
    assert not [c for c in run_calls if c.startswith("List")]
    written = [k.rsplit("/", 1)[-1] for k in result["outputs"].values()]
    assert sorted(written) == sorted(cost.RUN_FILES)
    emf = [json.loads(line) for line in out.getvalue().splitlines() if '"_aws"' in line]
    assert len(emf) == 1
    directive = emf[0]["_aws"]["CloudWatchMetrics"][0]
    assert sorted(m["Name"] for m in directive["Metrics"]) == sorted(cost.EMF_METRICS)
    assert [tuple(d) for d in directive["Dimensions"]] == list(cost.EMF_DIMENSION_SETS)


# --------------------------------------------------------------------------- prices


def test_every_table_region_has_every_price_with_a_page():
    keys = set(TABLE["us-east-1"])
    for region, prices in TABLE.items():
        assert set(prices) == keys, region
        for key, price in prices.items():
            assert price.page.startswith("https://aws.amazon.com/"), (region, key)
            assert bool(price.read) == price.verified, (region, key)


def test_unknown_region_says_so():
    with pytest.raises(UnknownRegionError, match="no built-in prices for region 'us-west-2'"):
        table_prices("us-west-2")


def product(usage_type: str, *tiers: tuple[str, str]) -> str:
    dims = {f"d{i}": {"beginRange": begin, "pricePerUnit": {"USD": usd}} for i, (begin, usd) in enumerate(tiers)}
    return json.dumps(
        {"product": {"attributes": {"usagetype": usage_type}}, "terms": {"OnDemand": {"t": {"priceDimensions": dims}}}}
    )


def stub_products(stubber: Stubber, answers: dict[str, list[str]]) -> None:
    for service in sorted({s for s, _ in API_USAGE_TYPES.values()}):
        stubber.add_response(
            "get_products",
            {"PriceList": answers.get(service, []), "FormatVersion": "aws_v1"},
            {
                "ServiceCode": service,
                "Filters": [{"Type": "TERM_MATCH", "Field": "regionCode", "Value": "ap-south-1"}],
                "FormatVersion": "aws_v1",
            },
        )


def test_price_list_api_prices_replace_the_table_and_gaps_say_so():
    # moto has no Price List API (no `pricing` backend in moto 5.2): botocore's Stubber plays AWS here.
    client = boto3.client("pricing", region_name="ap-south-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(client) as stubber:
        stub_products(
            stubber,
            {
                "AWSLambda": [
                    product("APS3-Lambda-GB-Second", ("0", "0.0000170000")),
                    product("APS3-Request", ("0", "2E-7")),
                ],
                "AWSEvents": [product("APS3-ScheduledInvocation", ("0", "0"), ("14000000", "0.0000012"))],
            },
        )
        prices = api_prices(client, "ap-south-1", "2026-11-26")
        stubber.assert_no_pending_responses()
    assert prices.source == "AWS Price List API (pricing:GetProducts, 2026-11-26)"
    assert prices["lambda_gb_s_x86_64"].usd == 0.000017 and prices["lambda_gb_s_x86_64"].verified
    assert prices["scheduler_invocations"].usd == 0.0000012  # the $0 free tier is skipped
    assert prices["dashboards"] == TABLE["ap-south-1"]["dashboards"]
    assert "not in the Price List answer, table price used" in prices.notes[0] and "dashboards" in prices.notes[0]


def test_price_list_api_failure_falls_back_to_the_table():
    client = boto3.client("pricing", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(client) as stubber:
        stubber.add_client_error("get_products", "AccessDeniedException", "not allowed")
        prices = api_prices(client, "eu-west-1", "2026-11-26")
    assert prices.prices == TABLE["eu-west-1"]
    assert "the Price List API failed" in prices.source and "AccessDenied" in prices.source


def test_first_paid_tier_sorts_tiers():
    p = json.loads(product("X", ("10000", "0.1"), ("0", "0.3")))
    assert first_paid_tier(p) == 0.3


# --------------------------------------------------------------------------- measured figures


def test_measured_figures_replace_the_model(mock_aws_env):
    c = config()
    s3 = boto3.client("s3", region_name="ap-south-1")
    cw = boto3.client("cloudwatch", region_name="ap-south-1")
    s3.create_bucket(Bucket=c.bucket.name, CreateBucketConfiguration={"LocationConstraint": "ap-south-1"})
    folder = "processed/runs/20261126T100000Z-abcd1234/"
    s3.put_object(Bucket=c.bucket.name, Key=folder + "cleaned.csv", Body=b"x" * 5000)
    s3.put_object(Bucket=c.bucket.name, Key=folder + "run.json", Body=b"y" * 700)
    latest = {"run_id": "20261126T100000Z-abcd1234", "outputs": {"cleaned": folder + "cleaned.csv"}}
    s3.put_object(Bucket=c.bucket.name, Key=c.latest_key, Body=json.dumps(latest).encode())
    now = datetime.now(UTC)
    for value in (200.0, 400.0):
        cw.put_metric_data(
            Namespace="AWS/Lambda",
            MetricData=[
                {"MetricName": "Duration", "Dimensions": [{"Name": "FunctionName", "Value": c.function.name}],
                 "Value": value, "Timestamp": now - timedelta(minutes=30)},
            ],
        )  # fmt: skip
    found = measure(c, cw, s3, now)
    assert found.duration_ms.value == 300.0 and "last day" in found.duration_ms.source
    assert found.cleaned_bytes.value == 5000 and found.other_output_bytes.value == 700
    assert "IncomingBytes" in found.reasons[0]  # moto publishes no AWS/Logs metrics: the model stays
    b = breakdown(build_usage(c, None, found), table_prices(c.region))
    # 30 runs process (the input changes once a day) at the measured 300 ms; the rest skip at the model's 44 ms
    assert b.row("lambda_compute").quantity == pytest.approx(30 * 0.300 + (RUNS - 30) * 0.044)
    assert b.sources["duration_ms"].startswith("300 ms from CloudWatch")
    doubled = build_usage(c, WhatIf(memory_mb=2048), found)
    assert doubled.duration_ms.value == pytest.approx(300 * 1024 / 1769)


def test_measure_never_raises_on_a_missing_stack(mock_aws_env):
    c = config()
    cw, s3 = boto3.client("cloudwatch", region_name="ap-south-1"), boto3.client("s3", region_name="ap-south-1")
    found = measure(c, cw, s3)
    assert found.duration_ms is None and found.cleaned_bytes is None
    assert any("latest run not read" in r and "NoSuchBucket" in r for r in found.reasons)


# --------------------------------------------------------------------------- CLI and rendering


def test_rendering_fits_80_columns():
    console = Console(width=80, record=True, file=io.StringIO())
    console.print(render(default_breakdown(WhatIf(rows=5_000_000))))
    lines = console.export_text().splitlines()
    assert max(len(line) for line in lines) <= 80
    assert "over function.timeout_seconds = 60: runs would time out" in " ".join(" ".join(lines).split())
    table = "\n".join(lines[:20])
    assert "…" not in table and "Total" in table and "$3.00" in table


def test_cli_cost_json_and_options(mock_aws_env, monkeypatch, tmp_path):
    h.install(monkeypatch)
    path = h.write_config(tmp_path / "config.toml")
    result = h.run(path, "cost", "--model", "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert {"region", "engine", "rows", "total", "total_to_pay", "prices", "sources", "free_items"} <= set(doc)
    assert doc["total"] == pytest.approx(5.3735, abs=5e-4)  # with skipping (the default)
    assert doc["skipping"]["without_skipping"]["total"] == pytest.approx(6.3442, abs=5e-4)
    fast = json.loads(h.run(path, "cost", "--model", "--json", "--schedule", "rate(1 minute)").output)
    assert fast["rows"][0]["quantity"] == 2 * doc["rows"][0]["quantity"]
    bad = h.run(path, "cost", "--schedule", "rate(banana)")
    assert bad.exit_code == 2 and "--schedule" in bad.output
    both = h.run(path, "cost", "--rows", "5", "--input-mb", "1")
    assert both.exit_code == 2 and "--rows or --input-mb" in both.output
    region = h.run(path, "--region", "us-west-2", "cost", "--model")
    assert region.exit_code == 1 and "no built-in prices for region 'us-west-2'" in region.output


def test_cli_cost_reads_the_stack_and_says_what_it_could_not(mock_aws_env, monkeypatch, tmp_path):
    h.install(monkeypatch)
    path = h.write_config(tmp_path / "config.toml")
    result = h.run(path, "cost")
    assert result.exit_code == 0, result.output
    assert "not measured:" in result.output and "NoSuchBucket" in result.output
    assert "Lambda requests" in result.output and "SSE-S3" in result.output


def test_up_dry_run_ends_with_the_estimate(mock_aws_env, monkeypatch, tmp_path):
    h.publish_stand_in_layer()
    recorder = h.install(monkeypatch)
    path = h.write_config(tmp_path / "config.toml")
    result = h.run(path, "up", "--dry-run")
    assert result.exit_code == 0, result.output
    assert "Monthly estimate of this stack, ap-south-1" in result.output
    last = " ".join(result.output.rstrip().split("Estimate:")[-1].split())
    assert last.startswith("$0.02/month after the free tier ($5.37 before it); $0.95 without skipping"), last
    assert "With and without skipping an unchanged input (30 of 21,600 runs process)" in " ".join(result.output.split())
    assert recorder.last.counter.mutating == 0


def test_month_to_date_is_one_metrics_call_and_counts_what_ran(mock_aws_env):
    c = config()
    cw = boto3.client("cloudwatch", region_name="ap-south-1")
    now = datetime(2026, 11, 16, tzinfo=UTC)  # 15 days into the month: half of a 30-day month
    fn = [{"Name": "FunctionName", "Value": c.function.name}]
    for name, value in (("Invocations", 1.0), ("Duration", 500.0)):
        for minutes in (10, 20, 30, 40):
            cw.put_metric_data(
                Namespace="AWS/Lambda",
                MetricData=[
                    {
                        "MetricName": name,
                        "Dimensions": fn,
                        "Value": value,
                        "Timestamp": now - timedelta(minutes=minutes),
                    }
                ],
            )
    calls: list[str] = []
    cw.meta.events.register("before-call.monitoring", lambda model, **_: calls.append(model.name))
    mtd = month_to_date(c, cw, table_prices(c.region), now, stored_bytes=2 * GIB)
    assert calls == ["GetMetricData"]
    assert mtd["runs"] == 4 and mtd["fraction_of_month"] == 0.5
    assert mtd["rows"]["lambda_compute"] == pytest.approx(round(4 * 0.5 * 0.0000166667, 4))
    assert mtd["rows"]["dashboards"] == 1.5 and mtd["rows"]["alarms"] == 0.1
    assert mtd["rows"]["s3_storage"] == pytest.approx(round(2 * 0.5 * 0.025, 4))
    assert mtd["rows"]["custom_metrics"] == pytest.approx(round(7 * 4 / 720 * 0.30, 4))


def test_status_json_carries_the_month_to_date_cost(mock_aws_env, monkeypatch, tmp_path):
    h.publish_stand_in_layer()
    h.install(monkeypatch)
    path = h.write_config(tmp_path / "config.toml")
    assert h.run(path, "up").exit_code == 0
    result = h.run(path, "status", "--json")
    doc = json.loads(result.output)
    assert set(doc["cost"]) == {"since", "fraction_of_month", "runs", "total", "to_pay", "rows", "source"}
    assert doc["cost"]["rows"]["dashboards"] > 0
    assert "cost so far" in h.run(path, "status").output


def test_data_quality_additions_are_one_tuple_entry_each(monkeypatch):
    """What issue 12 added (quality.json, quality/history.json, two metrics, a second alarm) is data."""
    assert "quality.json" in cost.RUN_FILES and "quality/history.json" in cost.POINTER_FILES
    assert "GetObject quality/history.json" in cost.RUN_READS
    assert {"QualityWarnings", "QualityFailures"} <= set(cost.EMF_METRICS) and "quality" in cost.ALARMS
    monkeypatch.setattr(cost, "ALARMS", ("errors",))
    assert default_breakdown().row("alarms").quantity == 1


def test_cli_pricing_api_says_which_prices_it_used(mock_aws_env, monkeypatch, tmp_path):
    from dataops_cli.cost import estimate as cost_commands

    h.install(monkeypatch)
    path = h.write_config(tmp_path / "config.toml")
    client = boto3.client("pricing", region_name="ap-south-1", aws_access_key_id="x", aws_secret_access_key="x")
    stubber = Stubber(client)
    stub_products(stubber, {"AWSLambda": [product("APS3-Lambda-GB-Second", ("0", "0.0000170000"))]})
    monkeypatch.setattr(cost_commands, "pricing_client", lambda app: client)
    with stubber:
        result = h.run(path, "cost", "--model", "--pricing-api", "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["prices"].startswith("AWS Price List API (pricing:GetProducts, ")
    compute = next(r for r in doc["rows"] if r["key"] == "lambda_compute")
    assert compute["usd_per_unit"] == 0.000017 and compute["verified"]
    assert any("table price used" in note for note in doc["price_notes"])
