"""Reserved concurrency in the emulator: throttles, the asynchronous queue, event age."""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest

from dataops_cli.emulator.lambda_service import LambdaService, ThrottledError
from dataops_cli.emulator.runner import FunctionSpec, RunResult
from tests.helpers.local import make_spec, wait_until

SPEC = make_spec(handler="h.handler")


class FakeTelemetry:
    def __init__(self) -> None:
        self.metrics: list[str] = []
        self.runs: list[tuple[str, int, float | None]] = []

    def put_metrics(self, region: str, metrics) -> None:
        self.metrics.extend(datum["MetricName"] for _, datum in metrics)

    def record_run(self, spec, result, stream, concurrency, received) -> list:
        self.runs.append((result.request_id, concurrency, received))
        return []


class GatedRunner:
    """A function run that lasts until the test opens its gate."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.started: list[str] = []

    def __call__(self, spec, payload, request_id, endpoint, cache, stream) -> RunResult:
        self.started.append(request_id)
        assert self.gate.wait(60)  # generous: a loaded CI machine is slow to open it
        return RunResult(request_id, time.time(), time.time(), 1.0, None, 50)


@pytest.fixture
def service():
    state: dict[str, FunctionSpec | None] = {"spec": SPEC}
    runner, telemetry = GatedRunner(), FakeTelemetry()
    svc = LambdaService("http://127.0.0.1:1", Path("/nonexistent"), telemetry, lambda *_: state["spec"], 1.0, runner)
    yield svc, runner, telemetry, state
    runner.gate.set()
    svc.stop()


def test_a_synchronous_invoke_while_a_run_is_going_is_throttled(service):
    svc, runner, telemetry, _ = service
    svc.invoke_async(SPEC, b"{}", "scheduled-1")
    wait_until(lambda: runner.started)
    with pytest.raises(ThrottledError):
        svc.invoke_sync(SPEC, b"{}", "manual-1")
    assert telemetry.metrics.count("Throttles") == 1
    runner.gate.set()
    wait_until(lambda: telemetry.runs)
    result, _ = svc.invoke_sync(SPEC, b"{}", "manual-2")
    assert result.request_id == "manual-2"
    assert svc.snapshot()["F"] == {
        "invocations": 2,
        "errors": 0,
        "throttles": 1,
        "async_dropped": 0,
        "running": 0,
        "queued": 0,
    }


def test_an_event_arriving_while_busy_is_a_throttle_and_runs_afterwards(service):
    svc, runner, telemetry, _ = service
    svc.invoke_async(SPEC, b"{}", "first")
    wait_until(lambda: runner.started)
    svc.invoke_async(SPEC, b"{}", "second")
    assert svc.snapshot()["F"]["queued"] == 1 and svc.snapshot()["F"]["running"] == 1
    assert telemetry.metrics.count("Throttles") == 1
    assert telemetry.metrics.count("AsyncEventsReceived") == 2
    runner.gate.set()
    wait_until(lambda: len(telemetry.runs) == 2)
    assert [run_id for run_id, _, _ in telemetry.runs] == ["first", "second"]
    assert all(concurrency == 1 and received is not None for _, concurrency, received in telemetry.runs)
    assert telemetry.metrics.count("Throttles") == 1  # counted once, not once per retry


@pytest.mark.parametrize(("speed", "waited"), [(1.0, 301.0), (60.0, 5.1)])
def test_an_event_older_than_the_maximum_age_is_dropped(service, speed, waited):
    svc, runner, telemetry, _ = service
    now = [1000.0]
    svc.clock, svc.speed = (lambda: now[0]), speed  # event age runs on the compressed clock
    svc.invoke_async(SPEC, b"{}", "first")
    wait_until(lambda: runner.started)
    svc.invoke_async(SPEC, b"{}", "too-late")
    now[0] += waited  # older than MaximumEventAgeInSeconds (300) by the time a slot frees up
    runner.gate.set()
    wait_until(lambda: svc.snapshot()["F"]["async_dropped"] == 1)
    assert "AsyncEventsDropped" in telemetry.metrics
    assert runner.started == ["first"]


def test_events_for_a_deleted_function_are_dropped(service):
    svc, runner, _, state = service
    svc.invoke_async(SPEC, b"{}", "first")
    wait_until(lambda: runner.started)
    svc.invoke_async(SPEC, b"{}", "orphan")
    state["spec"] = None
    runner.gate.set()
    wait_until(lambda: svc.snapshot()["F"]["queued"] == 0)
    assert runner.started == ["first"]


def test_unreserved_functions_run_concurrently(service):
    svc, runner, telemetry, state = service
    unreserved = replace(SPEC, reserved_concurrency=None)
    state["spec"] = unreserved
    for n in range(3):
        svc.invoke_async(unreserved, b"{}", f"run-{n}")
    wait_until(lambda: len(runner.started) == 3)
    assert svc.snapshot()["F"]["running"] == 3
    assert "Throttles" not in telemetry.metrics


class FailingRunner(GatedRunner):
    def __call__(self, spec, payload, request_id, endpoint, cache, stream) -> RunResult:
        result = super().__call__(spec, payload, request_id, endpoint, cache, stream)
        result.error = {"errorType": "ValueError", "errorMessage": "bad input"}
        return result


@pytest.mark.parametrize(("retries", "runs"), [(None, 3), (2, 3), (1, 2), (0, 1)])
def test_a_failed_asynchronous_run_is_retried_as_configured(retries, runs):
    # At speed 600 the 1- and 2-minute retry delays take 0.1 and 0.2 s, and the longest event
    # age (6 h) 36 s: a loaded machine cannot age the event out (SPEC's 300 s would be 0.5 s).
    spec = replace(SPEC, max_retry_attempts=retries, max_event_age=21600)
    runner, telemetry = FailingRunner(), FakeTelemetry()
    runner.gate.set()
    svc = LambdaService("http://127.0.0.1:1", Path("/nonexistent"), telemetry, lambda *_: spec, 600.0, runner)
    try:
        svc.invoke_async(spec, b"{}", "event-1")
        wait_until(lambda: svc.snapshot()["F"]["errors"] == runs and svc.snapshot()["F"]["queued"] == 0)
        assert runner.started == ["event-1"] * runs  # retries keep the request id
    finally:
        svc.stop()


def test_a_function_whose_role_lambda_cannot_assume_fails_before_its_handler_runs():
    from dataops_cli.emulator.identities import CredentialStore
    from dataops_cli.emulator.lambda_service import ROLE_ERROR
    from dataops_cli.emulator.roles import RoleDocuments, Roles
    from dataops_cli.emulator.sigv4 import Secret

    role = "arn:aws:iam::123456789012:role/exec"
    scheduler_only = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "scheduler.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    documents = {role: RoleDocuments(role, scheduler_only, ())}
    roles = Roles(CredentialStore(Secret("AKIAOWNER", "s"), "123456789012"), documents.get)
    spec = replace(SPEC, role_arn=role)
    runner, telemetry = GatedRunner(), FakeTelemetry()
    runner.gate.set()
    svc = LambdaService(
        "http://127.0.0.1:1", Path("/nonexistent"), telemetry, lambda *_: spec, 1.0, runner, roles=roles
    )
    try:
        result, _ = svc.invoke_sync(spec, b"{}", "rid-1")
        assert result.error["errorType"] == ROLE_ERROR
        assert "lambda.amazonaws.com is not authorized to perform sts:AssumeRole" in result.error["errorMessage"]
        assert runner.started == [] and svc.snapshot()["F"]["errors"] == 1

        documents[role] = RoleDocuments(
            role,
            {
                **scheduler_only,
                "Statement": [{**scheduler_only["Statement"][0], "Principal": {"Service": "lambda.amazonaws.com"}}],
            },
            (),
        )
        given: list = []
        svc.runner = lambda *args, credentials=None: (
            given.append(credentials) or RunResult("rid-2", 0.0, 0.1, 1.0, None, 50)
        )
        result, _ = svc.invoke_sync(spec, b"{}", "rid-2")
        assert result.error is None and given[0].access_key.startswith("ASIA") and given[0].token
        assert roles.store.lookup(given[0].access_key) is None  # revoked when the run ended
    finally:
        svc.stop()
