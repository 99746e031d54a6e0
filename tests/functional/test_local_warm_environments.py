"""Execution environments kept warm as Lambda keeps them: reuse, and every way one ends."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import json
import os
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from dataops_cli.emulator.runner import FunctionSpec
from dataops_cli.emulator.sigv4 import Secret
from dataops_cli.emulator.warm_pool import EnvironmentPool
from tests.conftest import REPO
from tests.helpers.local import make_spec

ENDPOINT = "http://127.0.0.1:1"
FUNCTIONS = """
import os, tempfile, time

calls = 0

def count(event, context):
    global calls
    calls += 1
    marker = os.path.join(tempfile.gettempdir(), "seen")
    had_marker = os.path.exists(marker)
    open(marker, "w").close()
    print(f"call {calls}")
    return {"calls": calls, "had_marker": had_marker, "tmp": tempfile.gettempdir(),
            "key": os.environ.get("AWS_ACCESS_KEY_ID"), "pid": os.getpid()}

def fail(event, context):
    global calls
    calls += 1
    raise ValueError(f"failed on call {calls}")

def slow(event, context):
    time.sleep(60)

def hog(event, context):
    held = [b"\\x01" * (16 << 20) for _ in range(event.get("mib", 1024) // 16)]
    return len(held)

def crash(event, context):
    os._exit(3)
"""


FIXED_TIME = (2026, 1, 1, 0, 0, 0)


def make_zip(text: str) -> bytes:
    """A zip of `text` whose bytes (and so code sha) depend only on the text: writestr with a
    bare name stamps the current time, and two calls across a 2-second tick differed."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:  # fixed timestamps: the same text is the same code
        archive.writestr(zipfile.ZipInfo("fn/__init__.py", FIXED_TIME), "")
        archive.writestr(zipfile.ZipInfo("fn/main.py", FIXED_TIME), text)
    return buffer.getvalue()


def spec(handler: str = "fn.main.count", code: bytes | None = None, **changes) -> FunctionSpec:
    code = code or make_zip(FUNCTIONS)
    digest = base64.b64encode(hashlib.sha256(code).digest()).decode()
    fields = {"timeout": 2, "memory_mb": 256, "environment": {"BUCKET_NAME": "b"}}
    fields |= {"role_arn": "arn:aws:iam::123456789012:role/R", **changes}
    return make_spec(handler=handler, code=code, code_sha256=digest, **fields)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Sessions:
    """A stand-in for the emulator's role sessions: records which are open."""

    def __init__(self) -> None:
        self.opened: list[str] = []
        self.open: set[str] = set()

    @contextlib.contextmanager
    def __call__(self, spec: FunctionSpec) -> Iterator[Secret]:
        key = f"ASIASESSION{len(self.opened):09d}"
        self.opened.append(key)
        self.open.add(key)
        try:
            yield Secret(key, "secret", "token")
        finally:
            self.open.discard(key)


@pytest.fixture
def pool(tmp_path):
    cache = tmp_path / "functions"
    cache.mkdir(mode=0o700)
    clock = Clock()
    made = EnvironmentPool(ENDPOINT, cache, Sessions(), keep_alive_seconds=600, speed=60, clock=clock)
    made.clock_for_test = clock
    yield made
    made.stop()


def invoke(pool: EnvironmentPool, function: FunctionSpec, request_id: str = "r", event: dict | None = None):
    result = pool.run(function, json.dumps(event or {}).encode(), request_id, f"stream-{request_id}", limit=1)
    return result, (json.loads(result.payload) if result.error is None else None)


def test_the_second_run_is_warm_module_globals_and_tmp_kept_same_stream(pool):
    first, one = invoke(pool, spec(), "r1")
    second, two = invoke(pool, spec(), "r2")
    assert first.init_ms is not None and second.init_ms is None
    assert (one["calls"], two["calls"]) == (1, 2)
    assert (one["had_marker"], two["had_marker"]) == (False, True)
    assert one["pid"] == two["pid"] and one["tmp"] == two["tmp"]
    assert first.log_stream == second.log_stream == "stream-r1"  # one stream per environment, as on AWS
    assert [line for _, line in first.lines] == ["call 1"] and [line for _, line in second.lines] == ["call 2"]


def test_each_environment_has_its_own_private_tmp_removed_when_it_ends(pool):
    _, one = invoke(pool, spec(), "r1")
    tmp = Path(one["tmp"])
    assert tmp.is_dir() and (tmp.stat().st_mode & 0o777) == 0o700
    assert pool.stop() == 1
    assert not tmp.exists()


@pytest.mark.parametrize(
    "change",
    [
        {"code": make_zip(FUNCTIONS + "\n# a new version\n")},
        {"environment": {"BUCKET_NAME": "other"}},
        {"memory_mb": 512},
        {"timeout": 3},
        {"role_arn": "arn:aws:iam::123456789012:role/Other"},
    ],
)
def test_a_code_or_configuration_change_starts_a_new_environment(pool, change):
    invoke(pool, spec(), "r1")
    changed, payload = invoke(pool, spec(**change), "r2")
    assert changed.init_ms is not None and payload["calls"] == 1


@pytest.mark.parametrize(
    ("handler", "event", "timeout", "error_type"),
    [("fn.main.slow", {}, 2, "Sandbox.Timedout"), ("fn.main.hog", {"mib": 1024}, 60, "Runtime.OutOfMemory")],
)
def test_an_environment_killed_for_time_or_memory_is_never_reused(pool, handler, event, timeout, error_type):
    function = spec(handler, timeout=timeout)
    killed, _ = invoke(pool, function, "r1", event)
    assert killed.error["errorType"] == error_type
    after, payload = invoke(pool, replace(function, handler="fn.main.count"), "r2")
    assert after.init_ms is not None and payload["calls"] == 1


def test_a_crashed_environment_is_never_reused_and_its_exit_status_is_reported(pool):
    crashed, _ = invoke(pool, spec("fn.main.crash"), "r1")
    assert crashed.error["errorType"] == "Runtime.ExitError"
    assert crashed.error["errorMessage"].endswith("Runtime exited with error: exit status 3")
    assert pool.counts() == {}


def test_a_handled_error_keeps_the_environment_warm(pool):
    first, _ = invoke(pool, spec("fn.main.fail"), "r1")
    second, _ = invoke(pool, spec("fn.main.fail"), "r2")
    assert first.error["errorMessage"] == "failed on call 1"
    assert second.error["errorMessage"] == "failed on call 2" and second.init_ms is None


def test_an_idle_environment_ends_after_the_keep_alive_compressed_by_speed(pool):
    _, one = invoke(pool, spec(), "r1")
    pool.clock_for_test.now += 600 / 60 - 0.5  # just within 10 minutes at 60x
    assert pool.reap() == 0
    pool.clock_for_test.now += 1.0
    assert pool.reap() == 1
    assert not Path(f"/proc/{one['pid']}").exists()
    again, payload = invoke(pool, spec(), "r2")
    assert again.init_ms is not None and payload["calls"] == 1


def test_a_deleted_or_updated_function_loses_its_idle_environments(tmp_path):
    deployed: dict[str, FunctionSpec | None] = {"F": spec()}
    cache = tmp_path / "functions"
    cache.mkdir(mode=0o700)
    pool = EnvironmentPool(ENDPOINT, cache, lookup=lambda account, region, name: deployed[name])
    try:
        invoke(pool, spec(), "r1")
        assert pool.reap() == 0
        deployed["F"] = spec(memory_mb=512)
        assert pool.reap() == 1
        invoke(pool, spec(memory_mb=512), "r2")
        deployed["F"] = None  # `down`
        assert pool.reap() == 1 and pool.counts() == {}
    finally:
        pool.stop()


def test_the_role_session_lives_as_long_as_the_environment(tmp_path):
    sessions = Sessions()
    cache = tmp_path / "functions"
    cache.mkdir(mode=0o700)
    pool = EnvironmentPool(ENDPOINT, cache, sessions)
    _, one = invoke(pool, spec(), "r1")
    _, two = invoke(pool, spec(), "r2")
    assert one["key"] == two["key"] == sessions.opened[0] and sessions.open == {sessions.opened[0]}
    pool.stop()
    assert sessions.open == set()


def test_idle_environments_are_bounded_by_the_functions_concurrency(pool):
    function = spec()
    first = pool._take_warm(("123456789012", "ap-south-1", "F"), function)
    assert first is None
    one, two = pool._start(function, "s1"), pool._start(function, "s2")  # two ran at once (limit 2 then)
    key = ("123456789012", "ap-south-1", "F")
    pool._keep(key, one, limit=1)
    pool._keep(key, two, limit=1)
    assert pool.counts() == {"F": {"idle": 1, "busy": 0}}
    assert not one.alive and two.alive


def test_an_environment_does_not_outlive_the_emulator_that_started_it(tmp_path):
    """The emulator killed with SIGKILL (no cleanup): its environments end with it."""
    cache = tmp_path / "functions"
    cache.mkdir(mode=0o700)
    code = tmp_path / "code.zip"
    code.write_bytes(make_zip(FUNCTIONS))
    script = f"""
import json, os, sys
from dataclasses import replace
sys.path.insert(0, {str(Path(__file__).parent)!r})
from test_local_warm_environments import spec
from dataops_cli.emulator.warm_pool import EnvironmentPool
from pathlib import Path
pool = EnvironmentPool("http://127.0.0.1:1", Path({str(cache)!r}))
result = pool.run(spec(code=Path({str(code)!r}).read_bytes()), b"{{}}", "r1", "s", limit=1)
print(json.loads(result.payload)["pid"], flush=True)
os._exit(0)
"""
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=60, check=True
    )
    pid = int(done.stdout.split()[-1])
    deadline = time.monotonic() + 10
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    alive = Path(f"/proc/{pid}").exists() and "zombie" not in Path(f"/proc/{pid}/status").read_text()
    assert not alive, f"environment {pid} outlived its emulator"
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, 9)
