"""start_and_wait: every way a Glue run ends, and the bounded wait."""

from __future__ import annotations

from typing import Any

from dataops_cli.engines.glue_run import start_and_wait


class FakeGlue:
    def __init__(self, states: list[dict[str, Any]]) -> None:
        self.states, self.started = states, []

    def start_job_run(self, **params: Any) -> dict[str, Any]:
        self.started.append(params)
        return {"JobRunId": "jr_1"}

    def get_job_run(self, **_: Any) -> dict[str, Any]:
        return {"JobRun": self.states.pop(0) if len(self.states) > 1 else self.states[0]}


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def run(states: list[dict[str, Any]], wait: float = 100) -> tuple[Any, FakeGlue, list[str]]:
    glue, clock, seen = FakeGlue(states), Clock(), []
    outcome = start_and_wait(
        glue, "job", trigger="manual", wait_seconds=wait, poll_seconds=10, on_state=seen.append,
        sleep=clock.sleep, clock=clock,
    )  # fmt: skip
    return outcome, glue, seen


def test_a_run_that_succeeds():
    outcome, glue, seen = run(
        [{"JobRunState": "STARTING"}, {"JobRunState": "RUNNING"}, {"JobRunState": "SUCCEEDED", "ExecutionTime": 61}]
    )
    assert glue.started == [{"JobName": "job", "Arguments": {"--TRIGGER": "manual"}}]
    assert seen == ["STARTING", "RUNNING", "SUCCEEDED"]
    assert (outcome.state, outcome.execution_seconds, outcome.failed, outcome.finished) == (
        "SUCCEEDED",
        61,
        False,
        True,
    )
    assert outcome.line() == "Glue job run jr_1 of job: SUCCEEDED in 61 s"


def test_a_run_that_fails_carries_glues_error():
    outcome, _, _ = run(
        [{"JobRunState": "FAILED", "ExecutionTime": 40, "ErrorMessage": "ColumnNotFoundError: Glucose"}]
    )
    assert outcome.failed and outcome.line().endswith("FAILED in 40 s: ColumnNotFoundError: Glucose")


def test_the_wait_is_bounded_and_says_the_run_goes_on():
    outcome, _, seen = run([{"JobRunState": "RUNNING"}], wait=35)
    assert seen == ["RUNNING"] and not outcome.finished and outcome.failed
    assert "still RUNNING when the wait ran out (it goes on in Glue)" in outcome.line()


def test_runs_summary_counts_the_window_and_takes_p99_of_finished_runs():
    from datetime import UTC, datetime, timedelta

    from dataops_cli.engines.glue_run import runs_summary

    now = datetime(2026, 1, 1, 12, tzinfo=UTC)

    def job_run(i: int, state: str, seconds: int, error: str = "") -> dict[str, Any]:
        run = {"Id": f"jr_{i}", "JobRunState": state, "StartedOn": now - timedelta(minutes=i), "ExecutionTime": seconds}
        return {**run, "ErrorMessage": error} if error else run

    newest_first = [
        job_run(1, "RUNNING", 5),
        job_run(2, "FAILED", 40, "ColumnNotFoundError: Glucose"),
        *[job_run(i, "SUCCEEDED", 60 + i) for i in range(3, 100)],
        job_run(200, "SUCCEEDED", 9999),  # before the window
    ]
    pages = [
        {"JobRuns": newest_first[:50], "NextToken": "a"},
        {"JobRuns": newest_first[50:], "NextToken": "b"},
        {"JobRuns": [job_run(300, "FAILED", 1)]},  # never read: the previous page already left the window
    ]
    calls: list[dict[str, Any]] = []

    class Glue:
        def get_job_runs(self, **params: Any) -> dict[str, Any]:
            calls.append(params)
            return pages[len(calls) - 1]

    summary = runs_summary(Glue(), "job", now - timedelta(minutes=120))
    assert len(calls) == 2 and calls[1]["NextToken"] == "a"
    assert summary["runs"] == 99 and summary["states"] == {"RUNNING": 1, "FAILED": 1, "SUCCEEDED": 97}
    assert summary["latest_state"] == "RUNNING"
    # 98 finished runs: 40 and 63..159; nearest-rank p99 is the 98th smallest = 159
    assert summary["execution_seconds_p99"] == 159 and summary["execution_seconds_max"] == 159
    assert summary["failures"] == [
        {
            "run_id": "jr_2",
            "state": "FAILED",
            "started": "2026-01-01T11:58:00+00:00",
            "error": "ColumnNotFoundError: Glucose",
        }
    ]


def test_runs_summary_takes_the_latest_run_whatever_order_the_backend_lists_them_in():
    """AWS lists runs newest first, moto oldest first: "latest" must be the newest either way."""
    from datetime import UTC, datetime, timedelta

    from dataops_cli.engines.glue_run import runs_summary

    now = datetime(2026, 1, 1, 12, tzinfo=UTC)
    oldest_first = [
        {"Id": "jr_old", "JobRunState": "FAILED", "StartedOn": now - timedelta(minutes=4), "ExecutionTime": 9},
        {"Id": "jr_new", "JobRunState": "SUCCEEDED", "StartedOn": now - timedelta(minutes=2), "ExecutionTime": 8},
    ]

    class Glue:
        def get_job_runs(self, **params: Any) -> dict[str, Any]:
            return {"JobRuns": oldest_first}

    summary = runs_summary(Glue(), "job", now - timedelta(minutes=60))
    assert summary["latest_state"] == "SUCCEEDED"
    assert [f["run_id"] for f in summary["failures"]] == ["jr_old"]


def test_force_turns_skipping_off_for_that_run_only():
    """`dataops invoke --force` on the Glue engine: the run's Arguments override the job's
    DefaultArguments key by key, so --SKIP_UNCHANGED false reaches the job for this run alone."""
    glue, clock = FakeGlue([{"JobRunState": "SUCCEEDED", "ExecutionTime": 5}]), Clock()
    start_and_wait(glue, "job", trigger="manual", wait_seconds=100, sleep=clock.sleep, clock=clock, force=True)
    assert glue.started == [{"JobName": "job", "Arguments": {"--TRIGGER": "manual", "--SKIP_UNCHANGED": "false"}}]
