"""The cost of skipped runs (pipeline.skip_unchanged): the default stack's month with and without
skipping, hand-computed; how the input's change rate splits the runs; Glue's 1-minute minimum; bad rates."""

from __future__ import annotations

import io
import math

import pytest
from rich.console import Console

from dataops_cli.config import parse_config
from dataops_cli.cost import model as cost
from dataops_cli.cost.breakdown import breakdown
from dataops_cli.cost.cost_view import one_line, render
from dataops_cli.cost.estimate import skip_comparison
from dataops_cli.cost.inputs import SPARK_MODEL, WhatIf, build_usage
from dataops_cli.cost.model import processing_runs
from dataops_cli.cost.prices import table_prices
from dataops_cli.cost.skipping import SKIPPED_MODEL, changes_figure, split_average
from tests.conftest import SAMPLE_CSV

GIB = 1024**3
RUNS = 21_600  # rate(2 minutes) in a 30-day month


def config(**sections):
    raw = {"bucket": {"input_file": str(SAMPLE_CSV)}}
    for name, values in sections.items():
        raw.setdefault(name, {}).update(values)
    return parse_config(raw)


def bill(what_if: WhatIf | None = None, **sections):
    c = config(**sections)
    return breakdown(build_usage(c, what_if), table_prices(c.region))


# The default stack with skipping (the default) and the input changing once a day (the default
# assumption): 30 runs a month process, 21,570 skip.
#   processing run: as test_cost.py (93 ms billed, 8 PUTs, 3,716 log bytes) + GetObject latest.json: 3 GETs.
#   skipped run: 8 ms / (1024/1769) + 30 ms = 43.82 ms -> billed 44 ms; 2 GETs; no PUT;
#     log 870 + 300 + (2 + 3) x 26 = 1,300 bytes.
#   outputs kept: 30 processing runs a month x 30 days / 30 = 30 run folders of 131,176.56 bytes.
DONE, SKIPPED = 30, RUNS - 30
LOG_GB = (DONE * 3_716 + SKIPPED * 1_300) / GIB
STORED_GB = (23_106 + 30 * 131_176.56) / GIB
EXPECTED = [
    # key, quantity, cost before the free tier, to pay
    ("lambda_requests", RUNS, RUNS * 0.20 / 1e6, 0),
    ("lambda_compute", DONE * 0.093 + SKIPPED * 0.044, (DONE * 0.093 + SKIPPED * 0.044) * 0.0000166667, 0),
    ("scheduler", RUNS, RUNS * 1.00 / 1e6, 0),
    ("s3_put", DONE * 8, 240 * 0.000005, 240 * 0.000005),
    ("s3_get", DONE * 3 + SKIPPED * 2, 43_230 * 0.0000004, 43_230 * 0.0000004),
    ("logs_ingestion", LOG_GB, LOG_GB * 0.50, 0),
    ("custom_metrics", 7, 2.10, 0),
    ("s3_storage", STORED_GB, STORED_GB * 0.025, STORED_GB * 0.025),
    ("logs_storage", LOG_GB / 30 * 14 * 0.15, LOG_GB / 30 * 14 * 0.15 * 0.03, 0),
    ("dashboards", 1, 3.00, 0),
    ("alarms", 2, 0.20, 0),
]


def test_the_default_stack_with_skipping_matches_the_hand_computed_table():
    b = bill()
    assert [r.key for r in b.rows] == [e[0] for e in EXPECTED]
    for key, quantity, cost_usd, to_pay in EXPECTED:
        row = b.row(key)
        assert row.quantity == pytest.approx(quantity, rel=1e-9), key
        assert row.cost == pytest.approx(cost_usd, rel=1e-6), key
        assert row.to_pay == pytest.approx(to_pay, rel=1e-6, abs=1e-12), key
    assert b.total == pytest.approx(5.3735, abs=5e-5)
    assert b.total_to_pay == pytest.approx(0.0186, abs=5e-5)
    assert "30 processing runs x 93 ms + 21,570 skipped x 44 ms x 1 GB" in b.row("lambda_compute").basis
    assert "21,570 skipped runs write nothing" in b.row("s3_put").basis
    assert "GetObject latest.json" in b.row("s3_get").basis
    assert "ASSUMPTION: the input changes once a day" in b.sources["processing_runs"]
    assert b.sources["skipped_duration_ms"].startswith("44 ms from model (bench/s3_latency_bench.py")


def test_the_comparison_shows_the_month_with_and_without_skipping():
    c = config()
    side = skip_comparison(c, WhatIf(), None, table_prices(c.region))
    assert side["configured"] is True
    assert (side["runs"], side["processing_runs"], side["skipped_runs"]) == (RUNS, 30, RUNS - 30)
    assert side["with_skipping"]["to_pay"] == pytest.approx(0.0186, abs=5e-5)
    # without: every run processes with 2 GETs (no latest.json read): test_cost.py's pinned $0.9473
    assert side["without_skipping"]["to_pay"] == pytest.approx(0.9473, abs=5e-5)
    assert side["without_skipping"]["total"] == pytest.approx(6.3442, abs=5e-4)
    off = config(pipeline={"skip_unchanged": False})
    side_off = skip_comparison(off, WhatIf(), None, table_prices(off.region))
    assert side_off["configured"] is False
    assert side_off["with_skipping"] == side["with_skipping"]
    assert bill(pipeline={"skip_unchanged": False}).total_to_pay == pytest.approx(0.9473, abs=5e-5)


@pytest.mark.parametrize(
    ("changes", "processing"),
    [(0, 0), (0.25, 7.5), (1, 30), (24, 720), (720, RUNS), (10_000, RUNS)],
)
def test_a_run_processes_once_per_change_and_at_most_every_run(changes, processing):
    assert processing_runs(RUNS, changes) == pytest.approx(processing)
    b = bill(WhatIf(input_changes_per_day=changes))
    assert b.row("s3_put").quantity == pytest.approx(processing * 8)
    assert b.row("s3_get").quantity == pytest.approx(processing * 3 + (RUNS - processing) * 2)


def test_an_input_that_changes_on_every_run_costs_one_get_more_than_no_skipping():
    every = bill(WhatIf(input_changes_per_day=720))
    never = bill(pipeline={"skip_unchanged": False})
    for row in every.rows:
        if row.key == "s3_get":
            assert row.quantity == never.row("s3_get").quantity + RUNS  # latest.json, read to compare
        else:
            assert row.quantity == pytest.approx(never.row(row.key).quantity), row.key


def test_an_input_that_never_changes_keeps_the_published_run_only():
    b = bill(WhatIf(input_changes_per_day=0))
    assert b.row("s3_put").quantity == 0
    assert b.row("s3_get").quantity == RUNS * 2
    assert b.row("s3_storage").quantity == pytest.approx((23_106 + 131_176.56) / GIB)  # input + the published run


@pytest.mark.parametrize("bad", [-1, -0.001, math.nan, math.inf])
def test_a_bad_change_rate_is_refused_by_name(bad):
    with pytest.raises(ValueError, match=r"input changes per day must be a number >= 0"):
        processing_runs(RUNS, bad)
    with pytest.raises(ValueError, match=r"input changes per day"):
        WhatIf(input_changes_per_day=bad)


def test_where_the_change_rate_comes_from():
    assert changes_figure(3.0, None).source == "--input-changes-per-day"
    measured = cost.Figure(5, "CloudWatch")
    assert changes_figure(None, measured) is measured
    assert changes_figure(2.0, measured).value == 2.0  # the option wins
    default = changes_figure(None, None)
    assert default.value == cost.DEFAULT_INPUT_CHANGES_PER_DAY == 1.0 and "ASSUMPTION" in default.source


def test_a_skipped_run_is_short_and_its_wait_does_not_scale_with_memory():
    assert SKIPPED_MODEL.duration_ms(1769) == pytest.approx(38.0)  # the bench: 38 ms at 25 ms per request
    assert SKIPPED_MODEL.duration_ms(1024) == pytest.approx(8 * 1769 / 1024 + 30)
    assert SKIPPED_MODEL.log_bytes == 870 + 300 + 5 * 26
    assert len(cost.SKIPPED_RUN_READS) == 2  # issue 22: at most 2 requests


def test_split_average_separates_skipped_runs_from_processing_ones():
    assert split_average(100.0, 10, 0, 40.0) == (100.0, None)  # nothing skipped: all processing
    assert split_average(42.0, 10, 10, 40.0) == (0.0, 42.0)  # all skipped: the average is theirs
    # 2 processing runs and 8 skipped at 40 ms average 100 ms: (1000 - 320) / 2 = 340 ms
    assert split_average(100.0, 10, 8, 40.0) == (pytest.approx(340.0), None)
    assert split_average(30.0, 10, 8, 40.0) == (40.0, None)  # never below a skipped run


def test_glue_skipped_runs_still_pay_the_one_minute_minimum():
    glue = {"engine": "glue"}
    skipping, every = bill(function=glue), bill(function=glue, pipeline={"skip_unchanged": False})
    # the sample's run is billed the minimum either way: skipping saves no DPU-hour here
    assert skipping.row("glue_compute").quantity == every.row("glue_compute").quantity == RUNS * 60 / 3600 * 2
    assert "21,570 skipped x 60 s (1-minute minimum)" in skipping.row("glue_compute").basis
    assert skipping.row("s3_put").quantity == 30 * 10 and every.row("s3_put").quantity == RUNS * 10
    # a processing run with skipping reads latest.json and HEADs the input first (handler/spark_job/skip.py)
    assert skipping.row("s3_get").quantity == 30 * (4 + 1 + 2) + (RUNS - 30) * 2
    assert every.row("s3_get").quantity == RUNS * (4 + 1)
    # a longer run: its processing runs cost their time, its skipped runs the minimum
    big = bill(WhatIf(rows=60_000_000), function=glue)
    seconds = cost.glue_billed_seconds(SPARK_MODEL.seconds(60_000_000, "G.1X", 2))  # 2,038 s
    assert big.row("glue_compute").quantity == pytest.approx((30 * seconds + (RUNS - 30) * 60) / 3600 * 2)


def test_the_custom_metric_count_includes_runs_skipped():
    assert "RunsSkipped" in cost.EMF_METRICS and cost.custom_metrics() == 7


def test_the_side_by_side_table_fits_80_columns_and_names_the_assumption():
    c = config()
    b = bill()
    b.skipping = skip_comparison(c, WhatIf(), None, table_prices(c.region))
    console = Console(width=80, record=True, file=io.StringIO())
    console.print(render(b, detail=False))
    lines = console.export_text().splitlines()
    assert max(len(line) for line in lines) <= 80
    flat = " ".join(" ".join(lines).split())
    assert "With and without skipping an unchanged input (30 of 21,600 runs process)" in flat
    assert "true (configured) 30 $5.37 $0.02" in flat and "false 21,600 $6.34 $0.95" in flat
    assert "ASSUMPTION: the input changes once a day" in flat
    assert one_line(b) == "$0.02/month after the free tier ($5.37 before it); $0.95 without skipping an unchanged input"
