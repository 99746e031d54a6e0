"""The emulator enforces what AWS enforces (issue 18): the stack's own roles, on real runs.

A deployed stack in a real emulator process: the shipped roles let every run through, each
statement of the shipped execution policy is needed by a run (take one away and something
fails as it would on AWS), and the scheduler's old trust policy makes every scheduled firing
a target error with no run, as it would have on AWS.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from dataops_cli.local import process
from tests.conftest import SAMPLE_CSV
from tests.e2e.test_local_e2e import BUCKET, FUNCTION, GROUP, Session
from tests.helpers.local import set_schedule_state, wait_until

pytestmark = pytest.mark.e2e
EXECUTION_ROLE, SCHEDULER_ROLE, POLICY = "dataops-lambda-exec", "dataops-scheduler-invoke", "dataops-least-privilege"
HISTORY = "processed/quality/history.json"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Session]:
    """`up` of the default stack with its schedule disabled (runs happen only when a test invokes).

    One emulator and one `up` for the module: `deployed` puts back what each test changes.
    """
    s = Session(tmp_path_factory.mktemp("iam"))
    s.config.write_text(f'[bucket]\ninput_file = "{SAMPLE_CSV}"\n\n[schedule]\nenabled = false\n', encoding="utf-8")
    started = s.run("local", "start", "--speed", "120", local=False)
    assert started.returncode == 0, started.stderr
    s.connect()
    try:
        up = s.run("up")
        assert up.returncode == 0, up.stdout + up.stderr  # the shipped roles: deployed, and the first run succeeded
        assert f"✅ {FUNCTION} run " in up.stdout, up.stdout
        yield s
    finally:
        process.stop(s.state_dir)


@pytest.fixture
def deployed(stack: Session) -> Iterator[Session]:
    """The module's stack as `up` left it; afterwards the roles' trust and policies go back to the
    shipped ones and the schedule to DISABLED, whatever the test changed."""
    iam = stack.client("iam")
    shipped = {
        role: (
            iam.get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"],
            iam.get_role_policy(RoleName=role, PolicyName=POLICY)["PolicyDocument"],
        )
        for role in (EXECUTION_ROLE, SCHEDULER_ROLE)
    }
    yield stack
    set_schedule_state(stack.client("scheduler"), "DISABLED")
    for role, (trust, policy) in shipped.items():
        iam.update_assume_role_policy(RoleName=role, PolicyDocument=json.dumps(trust))
        iam.put_role_policy(RoleName=role, PolicyName=POLICY, PolicyDocument=json.dumps(policy))


def invoke(s: Session) -> tuple[dict[str, Any], str | None, str]:
    # forced: every run here runs in full, never skipped as unchanged (issue 22)
    answer = s.client("lambda").invoke(FunctionName=FUNCTION, Payload=b'{"trigger": "test", "force": true}')
    return json.loads(answer["Payload"].read()), answer.get("FunctionError"), answer["ResponseMetadata"]["RequestId"]


def policy_without(shipped: dict[str, Any], sid: str, *extra: dict[str, Any]) -> dict[str, Any]:
    """The shipped policy less one statement (plus any extra ones)."""
    assert sid in [statement["Sid"] for statement in shipped["Statement"]]
    kept = [statement for statement in shipped["Statement"] if statement["Sid"] != sid]
    return {**shipped, "Statement": kept + list(extra)}


def put_policy(s: Session, document: dict[str, Any]) -> None:
    s.client("iam").put_role_policy(RoleName=EXECUTION_ROLE, PolicyName=POLICY, PolicyDocument=json.dumps(document))


def log_lines_of(s: Session, request_id: str) -> list[str]:
    found = s.client("logs").filter_log_events(logGroupName=f"/aws/lambda/{FUNCTION}", filterPattern=f'"{request_id}"')
    return [event["message"] for event in found["events"]]


def run_keys(s: Session, request_id: str) -> list[str]:
    listing = s.client("s3").list_objects_v2(Bucket=BUCKET, Prefix="processed/runs/")
    return sorted(o["Key"] for o in listing.get("Contents", []) if f"-{request_id[:8]}/" in o["Key"])


def emulator_log(s: Session) -> str:
    return (s.state_dir / "emulator.log").read_text(encoding="utf-8")


def test_every_statement_of_the_shipped_execution_policy_is_needed_by_a_run(deployed):
    s = deployed
    shipped = s.client("iam").get_role_policy(RoleName=EXECUTION_ROLE, PolicyName=POLICY)["PolicyDocument"]
    payload, error, _ = invoke(s)
    assert error is None and payload["status"] == "succeeded", payload
    assert "refused" not in emulator_log(s)  # nothing the runs did was denied under the shipped roles

    # ReadInput: the input cannot be read (HeadObject is s3:GetObject).
    put_policy(s, policy_without(shipped, "ReadInput"))
    payload, error, _ = invoke(s)
    assert (error, payload["errorType"]) == ("Unhandled", "InputAccessError"), payload

    # ReadQualityHistory: the history exists (earlier runs wrote it) and cannot be read.
    put_policy(s, policy_without(shipped, "ReadQualityHistory"))
    payload, error, _ = invoke(s)
    assert (error, payload["errorType"]) == ("Unhandled", "QualityHistoryError"), payload
    assert "AccessDenied" in payload["errorMessage"]

    # Distinguish404From403: with no history yet (a stack's first run), S3 answers 403, not 404.
    s.client("s3").delete_object(Bucket=BUCKET, Key=HISTORY)
    put_policy(s, policy_without(shipped, "Distinguish404From403"))
    payload, error, _ = invoke(s)
    assert (error, payload["errorType"]) == ("Unhandled", "QualityHistoryError"), payload
    put_policy(s, shipped)
    payload, error, _ = invoke(s)  # the same first run with ListBucket: a 404, so no history, and it succeeds
    assert error is None and payload["status"] == "succeeded", payload

    # WriteOutputs: nothing can be written.
    put_policy(s, policy_without(shipped, "WriteOutputs"))
    payload, error, _ = invoke(s)
    assert error == "Unhandled" and "AccessDenied" in payload["errorMessage"], payload

    # UndoFailedRun: a run that fails after writing some files can no longer remove them.
    no_summary = {
        "Sid": "TestDenySummary",
        "Effect": "Deny",
        "Action": "s3:PutObject",
        "Resource": f"arn:aws:s3:::{BUCKET}/processed/runs/*/summary.json",
    }
    put_policy(s, {**shipped, "Statement": [*shipped["Statement"], no_summary]})
    payload, error, request_id = invoke(s)
    assert error == "Unhandled", payload
    assert [k.rsplit("/", 1)[1] for k in run_keys(s, request_id)] == ["run.json"]  # undone: only the failed run.json
    put_policy(s, policy_without(shipped, "UndoFailedRun", no_summary))
    payload, error, request_id = invoke(s)
    assert error == "Unhandled", payload
    left = [k.rsplit("/", 1)[1] for k in run_keys(s, request_id)]
    assert "cleaned.csv" in left and "run.json" in left, left  # the partial outputs stay behind

    # CheckPublishedPointer: a run whose latest.json write fails reads latest.json back before undoing
    # anything; it names an earlier run, so this one's files go. Unreadable, it might name this run: they stay.
    no_pointer = {
        "Sid": "TestDenyPointer",
        "Effect": "Deny",
        "Action": "s3:PutObject",
        "Resource": f"arn:aws:s3:::{BUCKET}/processed/latest.json",
    }
    put_policy(s, {**shipped, "Statement": [*shipped["Statement"], no_pointer]})
    payload, error, request_id = invoke(s)
    assert error == "Unhandled", payload
    assert [k.rsplit("/", 1)[1] for k in run_keys(s, request_id)] == ["run.json"]
    put_policy(s, policy_without(shipped, "CheckPublishedPointer", no_pointer))
    payload, error, request_id = invoke(s)
    assert error == "Unhandled", payload
    assert "cleaned.csv" in [k.rsplit("/", 1)[1] for k in run_keys(s, request_id)]  # might be published: kept

    # WriteOwnLogs: the run works, but Lambda cannot write its log, so AWS drops it (and the EMF metrics in it).
    put_policy(s, shipped)
    _, error, kept = invoke(s)
    assert error is None and any(line.startswith("REPORT RequestId: ") for line in log_lines_of(s, kept))
    put_policy(s, policy_without(shipped, "WriteOwnLogs"))
    payload, error, dropped = invoke(s)
    assert error is None and payload["status"] == "succeeded", payload
    assert log_lines_of(s, dropped) == []
    assert "the log of DataOpsPipelineFunction is dropped: its role may not logs:CreateLogStream" in emulator_log(s)

    put_policy(s, shipped)
    payload, error, _ = invoke(s)
    assert error is None and payload["status"] == "succeeded", payload


def scheduled(s: Session) -> tuple[float, float, float]:
    """(InvocationAttemptCount, TargetErrorCount, Lambda Invocations) so far."""
    return (
        s.metric_sum("AWS/Scheduler", "InvocationAttemptCount", ("ScheduleGroup", GROUP)),
        s.metric_sum("AWS/Scheduler", "TargetErrorCount", ("ScheduleGroup", GROUP)),
        s.lambda_sum("Invocations"),
    )


def since(s: Session, start: tuple[float, float, float]) -> tuple[float, float, float]:
    """What `scheduled` counted after `start`."""
    return tuple(now - then for now, then in zip(scheduled(s), start, strict=True))  # type: ignore[return-value]


def test_the_old_scheduler_trust_makes_every_scheduled_run_a_target_error(deployed):
    s = deployed
    iam = s.client("iam")
    trust = iam.get_role(RoleName=SCHEDULER_ROLE)["Role"]["AssumeRolePolicyDocument"]
    group_arn = trust["Statement"][0]["Condition"]["ArnLike"]["aws:SourceArn"][0]
    assert group_arn.endswith(f":schedule-group/{GROUP}")
    old = json.loads(json.dumps(trust))
    old["Statement"][0]["Condition"]["ArnLike"] = {"aws:SourceArn": f"{group_arn}/*"}  # the form before issue 18
    iam.update_assume_role_policy(RoleName=SCHEDULER_ROLE, PolicyDocument=json.dumps(old))
    start = scheduled(s)  # the module's emulator: counts since this test began

    set_schedule_state(s.client("scheduler"), "ENABLED")  # speed 120: rate(2 minutes) fires every second
    wait_until(lambda: since(s, start)[1] >= 3, 60, "three scheduled firings counted as target errors")
    attempts, errors, invocations = since(s, start)
    assert attempts == errors and invocations == 0  # every firing failed and nothing ran
    before = s.lambda_sum("Invocations")
    assert "Scheduler could not act as the schedule's role" in emulator_log(s)

    # `up` converges the trust policy back to the shipped one (and the schedule to the config's
    # DISABLED, and runs once); enabled again, the schedule runs the function.
    up = s.run("up")
    assert up.returncode == 0, up.stdout + up.stderr
    assert "trust policy" in up.stdout, up.stdout
    set_schedule_state(s.client("scheduler"), "ENABLED")
    wait_until(lambda: s.lambda_sum("Invocations") >= before + 3, 60, "scheduled runs under the shipped trust")
    set_schedule_state(s.client("scheduler"), "DISABLED")


def test_the_scheduler_role_needs_invoke_on_the_function(deployed):
    s = deployed
    iam = s.client("iam")
    iam.put_role_policy(
        RoleName=SCHEDULER_ROLE,
        PolicyName=POLICY,
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": "lambda:InvokeFunction",
                        "Resource": f"arn:aws:lambda:ap-south-1:123456789012:function:{FUNCTION}-other",
                    }
                ],
            }
        ),
    )
    start = scheduled(s)  # the module's emulator: counts since this test began
    set_schedule_state(s.client("scheduler"), "ENABLED")
    wait_until(lambda: since(s, start)[1] >= 2, 60, "firings refused for want of lambda:InvokeFunction")
    set_schedule_state(s.client("scheduler"), "DISABLED")
    assert since(s, start)[2] == 0
    assert "is not authorized to perform lambda:InvokeFunction" in emulator_log(s)
