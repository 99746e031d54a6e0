"""Running a deployed zip in a fresh interpreter: payloads, errors, timeouts, environment, isolation."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import time
import zipfile
from dataclasses import replace
from pathlib import Path

import pytest

from dataops_cli.emulator.environment import run_function
from dataops_cli.emulator.runner import FunctionSpec, code_dir
from dataops_cli.emulator.sigv4 import Secret

ENDPOINT = "http://127.0.0.1:1"
FUNCTIONS = """
import json, os, sys, time

def ok(event, context):
    print(json.dumps({"event": event, "request_id": context.aws_request_id}))
    print("a warning", file=sys.stderr)
    names = ("BUCKET_NAME", "AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_LAMBDA_FUNCTION_NAME", "AWS_ACCESS_KEY_ID",
             "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_REGION", "AWS_CONFIG_FILE", "AWS_SECRET_ACCESS_KEY",
             "AWS_SESSION_TOKEN")
    return {
        "env": {k: os.environ.get(k) for k in names},
        "memory": context.memory_limit_in_mb,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "function": context.function_name,
    }

def boom(event, context):
    print("about to fail")
    raise ValueError("expected 2 fields in line 2, saw 3")

def slow(event, context):
    print("sleeping", flush=True)
    time.sleep(60)

def unserializable(event, context):
    return object()

def exits(event, context):
    os._exit(3)

def hog(event, context):
    held = []
    for _ in range(event.get("mib", 2048) // 16):
        held.append(b"\x01" * (16 << 20))  # written, so resident
        time.sleep(0.002)
    return {"held_mib": 16 * len(held)}
"""
SHADOW = "def lambda_handler(event, context):\n    return {'file': __file__}\n"


def make_zip(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def spec(handler: str, timeout: int = 10, code: bytes | None = None, memory_mb: int = 512) -> FunctionSpec:
    code = code or make_zip(
        {"fn/__init__.py": "", "fn/main.py": FUNCTIONS, "handler/__init__.py": "", "handler/lambda_function.py": SHADOW}
    )
    return FunctionSpec(
        account="123456789012",
        region="ap-south-1",
        name="F",
        arn="arn:aws:lambda:ap-south-1:123456789012:function:F",
        handler=handler,
        runtime="python3.12",
        timeout=timeout,
        memory_mb=memory_mb,
        environment={"BUCKET_NAME": "my-bucket", "AWS_ENDPOINT_URL": "https://not-the-emulator"},
        code=code,
        code_sha256=base64.b64encode(hashlib.sha256(code).digest()).decode(),
        reserved_concurrency=1,
        max_event_age=300,
    )


ROLE_SESSION = Secret("ASIAROLESESSION00001", "role-secret", "role-session-token")


def run(tmp_path: Path, handler: str, event: bytes = b'{"trigger": "test"}', credentials=ROLE_SESSION, **kwargs):
    return run_function(spec(handler, **kwargs), event, "rid-1", ENDPOINT, tmp_path, "stream", credentials=credentials)


def test_a_successful_run_returns_the_payload_and_every_output_line(tmp_path, monkeypatch):
    monkeypatch.setenv("AWS_PROFILE", "someones-real-profile")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "someones-real-key")
    result = run(tmp_path, "fn.main.ok")
    assert result.error is None and not result.timed_out
    payload = json.loads(result.payload)
    assert payload["env"] == {
        "BUCKET_NAME": "my-bucket",
        "AWS_ENDPOINT_URL": ENDPOINT,  # Lambda's variables win over the function's
        "AWS_PROFILE": None,  # nothing of this machine's AWS setup leaks in
        "AWS_LAMBDA_FUNCTION_NAME": "F",
        "AWS_ACCESS_KEY_ID": "ASIAROLESESSION00001",  # the execution role's session, as Lambda gives it
        "AWS_SECRET_ACCESS_KEY": "role-secret",
        "AWS_SESSION_TOKEN": "role-session-token",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
        "AWS_REGION": "ap-south-1",
        "AWS_CONFIG_FILE": "/dev/null",
    }
    assert payload["memory"] == "512" and payload["function"] == "F"
    assert 0 < payload["remaining_ms"] <= 10_000
    lines = [line for _, line in result.lines]
    assert lines == ['{"event": {"trigger": "test"}, "request_id": "rid-1"}', "a warning"]
    assert result.duration_ms > 0 and result.init_ms is not None
    assert result.max_memory_mb > 5
    assert result.started <= result.lines[0][0] <= result.ended


def test_a_run_without_a_role_session_has_no_keys_at_all(tmp_path, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "someones-real-key")
    env = json.loads(run(tmp_path, "fn.main.ok", credentials=None).payload)["env"]
    assert (env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"], env["AWS_SESSION_TOKEN"]) == (None, None, None)


def test_the_deployed_code_is_imported_not_the_checkouts(tmp_path):
    result = run(tmp_path, "handler.lambda_function.lambda_handler")
    deployed = Path(json.loads(result.payload)["file"])
    assert deployed.is_relative_to(tmp_path), deployed


def test_a_run_writes_no_bytecode_beside_its_code(tmp_path):
    """Lambda's /var/task is read-only; here a __pycache__ write would also re-make every missing
    parent of the code folder (importlib does), bringing back a state directory deleted mid-run."""
    result = run(tmp_path, "fn.main.ok")
    assert result.error is None, result.error
    assert [p for p in tmp_path.rglob("__pycache__")] == []


def test_an_exception_becomes_an_aws_style_error(tmp_path):
    result = run(tmp_path, "fn.main.boom")
    assert result.error["errorType"] == "ValueError"
    assert result.error["errorMessage"] == "expected 2 fields in line 2, saw 3"
    assert any("fn/main.py" in frame and "boom" in frame for frame in result.error["stackTrace"])
    assert json.loads(result.payload) == result.error
    assert [line for _, line in result.lines] == ["about to fail"]


def test_a_run_is_killed_at_its_timeout(tmp_path):
    began = time.monotonic()
    result = run(tmp_path, "fn.main.slow", timeout=1)
    assert time.monotonic() - began < 8
    assert result.timed_out
    assert result.error == {
        "errorType": "Sandbox.Timedout",
        "errorMessage": "RequestId: rid-1 Error: Task timed out after 1.00 seconds",
    }
    assert result.duration_ms == 1000.0
    assert [line for _, line in result.lines] == ["sleeping"]


@pytest.mark.parametrize(
    ("handler", "error_type"),
    [
        ("missing.module.handler", "Runtime.ImportModuleError"),
        ("fn.main.nope", "Runtime.HandlerNotFound"),
        ("fn.main.unserializable", "Runtime.MarshalError"),
        ("fn.main.exits", "Runtime.ExitError"),
    ],
)
def test_runtime_failures_are_reported_like_lambdas(tmp_path, handler, error_type):
    assert run(tmp_path, handler).error["errorType"] == error_type


def test_code_is_unpacked_once_per_code_sha256(tmp_path):
    first = spec("fn.main.ok")
    assert code_dir(first, tmp_path) == code_dir(first, tmp_path)
    other = replace(first, code=make_zip({"fn/__init__.py": "# changed"}), code_sha256="b3RoZXI=")
    assert code_dir(other, tmp_path) != code_dir(first, tmp_path)
    assert (code_dir(other, tmp_path) / "fn" / "__init__.py").read_text() == "# changed"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []  # no staging dirs left


def test_code_that_is_not_a_zip_fails_the_run_instead_of_the_emulator(tmp_path):
    result = run(tmp_path, "fn.main.ok", code=b"not a zip")
    assert result.error["errorType"] == "Runtime.InvalidZipFile"
    assert json.loads(result.payload) == result.error


def test_a_run_past_its_memory_size_is_killed_like_lambdas(tmp_path):
    result = run(tmp_path, "fn.main.hog", b'{"mib": 2048}', memory_mb=128)
    assert result.out_of_memory and not result.timed_out
    assert result.error == {
        "errorType": "Runtime.OutOfMemory",
        "errorMessage": "RequestId: rid-1 Error: Runtime exited with error: signal: killed",
    }
    assert json.loads(result.payload) == result.error
    assert result.max_memory_mb == 128


def test_a_run_within_its_memory_size_is_not_killed(tmp_path):
    result = run(tmp_path, "fn.main.hog", b'{"mib": 96}', memory_mb=256)
    assert result.error is None, result.error
    assert json.loads(result.payload) == {"held_mib": 96}
    assert 96 < result.max_memory_mb < 256


def test_max_memory_used_is_the_runs_own_peak_not_the_parents_or_an_earlier_runs(tmp_path):
    parent_ballast = b"\x01" * (600 << 20)  # the emulator holding big S3 objects: ru_maxrss would inherit this
    big = run(tmp_path, "fn.main.hog", b'{"mib": 320}', memory_mb=1024)
    small = run(tmp_path, "fn.main.ok")
    assert len(parent_ballast) == 600 << 20
    assert 320 < big.max_memory_mb < 600
    assert 5 < small.max_memory_mb < 100, small.max_memory_mb
