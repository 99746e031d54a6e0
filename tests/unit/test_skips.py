"""Skipped runs as the CLI reads them: which skip vouches for latest.json, freshness, recovery."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from dataops_cli.observe import health, runlog_reader, skips
from handler import contract as c

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
PUBLISHED = "20261207T110000Z-aaaaaaaa"


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def latest(finished: datetime, run_id: str = PUBLISHED) -> dict:
    return {"run_id": run_id, "finished_at": finished.isoformat(), "age_seconds": (NOW - finished).total_seconds()}


def skip(minutes_ago: float, confirms: str | None = PUBLISHED, run_id: str = "") -> skips.SkippedRun:
    started = NOW - timedelta(minutes=minutes_ago)
    return skips.SkippedRun(run_id or f"{started:%Y%m%dT%H%M%SZ}-bbbbbbbb", ms(started), confirms)


def skip_line(request_id: str, run_id: str, confirms: str) -> str:
    return json.dumps(
        {
            "level": "INFO",
            "event": c.EVENT_SKIPPED,
            "message": f'⏭️ {c.SKIP_PHRASE}: input unchanged (ETag "e"), same settings and code as {confirms}',
            "request_id": request_id,
            "run_id": run_id,
            c.F_CONFIRMS: confirms,
        },
        ensure_ascii=False,
    )


def test_the_newest_skip_naming_latest_json_s_run_confirms_it():
    found = skips.confirmation(latest(NOW - timedelta(hours=1)), [skip(50), skip(4), skip(30)])
    assert found == skip(4)


def test_a_skip_naming_another_run_or_before_the_publish_confirms_nothing():
    published = latest(NOW - timedelta(minutes=10))
    assert skips.confirmation(published, [skip(2, confirms="20261207T090000Z-older")]) is None
    assert skips.confirmation(published, [skip(20)]) is None  # before latest.json's run finished
    assert skips.confirmation(published, [skip(2, confirms=None)]) is None
    assert skips.confirmation(None, [skip(2)]) is None
    assert skips.confirmation({"finished_at": "x"}, [skip(2)]) is None  # no run id: nothing to match


def test_an_unreadable_finish_time_still_matches_by_run_id():
    assert skips.confirmation({"run_id": PUBLISHED, "finished_at": "not a time"}, [skip(2)]) == skip(2)


def test_freshness_counts_from_the_confirming_skip():
    old = latest(NOW - timedelta(minutes=30))
    stale = health.freshness(old, 360, "processed/latest.json")
    assert stale.level == "fail" and stale.value == 1800
    fresh = health.freshness(old, 360, "processed/latest.json", skip(2), NOW)
    assert fresh.level == "ok" and fresh.value == 120
    assert "confirmed current by skipped run" in fresh.source and "stale after 360 s" in fresh.source


def test_skip_lines_are_read_from_events_and_other_lines_ignored():
    """moto ignores the quoted-term pattern and answers every event: the reader keeps only skips."""
    events = [
        {"timestamp": 1000, "message": "START RequestId: r1 Version: $LATEST"},
        {"timestamp": 1001, "message": json.dumps({"event": "start", "request_id": "r1", "run_id": "run-1"})},
        {"timestamp": 2000, "message": skip_line("r2", "run-2", "run-1")},
        {"timestamp": 2001, "message": "REPORT RequestId: r2\tDuration: 9.5 ms\tBilled Duration: 10 ms"},
    ]
    assert skips.from_events(events) == [skips.SkippedRun("run-2", 2000, "run-1")]


def test_a_skip_after_a_failure_is_a_recovery():
    failed = {"outcome": "failed", "started": ms(NOW - timedelta(minutes=4))}
    skipped = {"outcome": runlog_reader.SKIPPED, "started": ms(NOW - timedelta(minutes=2))}
    assert health.recovered_at([skipped, failed], None, []) == NOW - timedelta(minutes=2)  # newest first
    assert health.recovered_at([failed, skipped], None, []) is None
