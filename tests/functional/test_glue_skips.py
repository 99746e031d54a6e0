"""Engine glue: a skipped job run SUCCEEDED like any other in GetJobRuns; its driver's ⏭️ line
in /aws-glue/jobs/output is what tells it apart (runs, status's freshness)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import boto3

from dataops_cli.aws import Aws
from dataops_cli.config import load_config
from dataops_cli.engines.glue_engine import GlueEngine
from tests.functional.test_glue_deploy import JOB, stack, up  # noqa: F401 (fixture)
from tests.functional.test_glue_ops import OUTPUT, line, make_job, put
from tests.helpers import deploy as h

PUBLISHED = "20261207T100000Z-aaaaaaaa"


def skip_line(run_id: str) -> str:
    return line(
        "skipped",
        f'⏭️ Run skipped: input unchanged (ETag "e"), same settings and code as the published run {PUBLISHED}',
        request_id=f"req-{run_id}",
        run_id=run_id,
        confirms=PUBLISHED,
        engine="spark",
    )


def test_the_engine_reads_this_jobs_skips_only(stack):  # noqa: F811
    _, _, config = stack
    ours, theirs = make_job(JOB), make_job("someone-elses-job")
    put(OUTPUT, ours, skip_line("20261207T110000Z-bbbbbbbb"))
    put(OUTPUT, theirs, skip_line("20261207T110000Z-cccccccc"))
    since = int((datetime.now(UTC) - timedelta(hours=1)).timestamp() * 1000)
    found = GlueEngine(load_config(config)).skipped_runs(Aws(h.REGION), since)
    assert [(s.run_id, s.confirms) for s in found] == [("20261207T110000Z-bbbbbbbb", PUBLISHED)]


def test_no_job_means_no_skips(stack):  # noqa: F811
    _, _, config = stack
    assert GlueEngine(load_config(config)).skipped_runs(Aws(h.REGION), 0) == []


def test_glue_status_counts_freshness_from_the_skip_and_runs_lists_it(stack):  # noqa: F811
    _, _, config = stack
    up(config)
    s3 = boto3.client("s3", region_name=h.REGION)
    finished = datetime.now(UTC) - timedelta(minutes=30)
    body = {"run_id": PUBLISHED, "finished_at": finished.isoformat(), "outputs": {}}
    s3.put_object(Bucket="dataops-pipeline-bucket", Key="processed/latest.json", Body=json.dumps(body).encode())
    stale = json.loads(h.run(config, "status", "--json", "--since", "1h").output)
    assert stale["kpis"]["freshness"]["level"] == "fail"

    run = boto3.client("glue", region_name=h.REGION).start_job_run(JobName=JOB)["JobRunId"]
    skipped_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + "-bbbbbbbb"
    put(OUTPUT, run, skip_line(skipped_id), at=datetime.now(UTC) - timedelta(seconds=20))
    report = json.loads(h.run(config, "status", "--json", "--since", "1h").output)
    fresh = report["kpis"]["freshness"]
    assert fresh["level"] == "ok" and fresh["value"] < 120, fresh
    assert f"confirmed current by skipped run {skipped_id}" in fresh["source"]

    listed = json.loads(h.run(config, "runs", "--json").output)
    assert [(r["run_id"], r["status"], r["confirms"]) for r in listed] == [(skipped_id, "skipped", PUBLISHED)]


def test_invoke_tells_a_skipped_glue_run_from_a_processing_one(stack):  # noqa: F811
    from dataops_cli.engines.glue_run import GlueRunOutcome

    _, _, config = stack
    run = make_job(JOB)
    started = int((datetime.now(UTC) - timedelta(minutes=1)).timestamp() * 1000)
    plain = GlueRunOutcome(JOB, run, "SUCCEEDED", 12, None, True, started)
    engine = GlueEngine(load_config(config))
    assert engine._with_skip(Aws(h.REGION), plain) == plain  # no ⏭️ line (yet): a plain SUCCEEDED
    put(OUTPUT, run, skip_line("20261207T110000Z-bbbbbbbb"))
    told = engine._with_skip(Aws(h.REGION), plain)
    assert told.confirms == PUBLISHED
    assert told.line() == (
        f"Glue job run {run} of {JOB}: SUCCEEDED in 12 s: skipped, input unchanged "
        f"(published run {PUBLISHED} is current; --force runs it in full)"
    )
    failed = GlueRunOutcome(JOB, run, "FAILED", 12, "boom", True, started)
    assert engine._with_skip(Aws(h.REGION), failed) == failed  # only a SUCCEEDED run can have skipped
