"""`dataops local ...` and `--local` without an emulator: clear lines, hints, exit codes, teaching help."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest
from click.testing import CliRunner

from dataops_cli.aws import DataopsError
from dataops_cli.cli import cli
from dataops_cli.local import process
from dataops_cli.local.state import STATE_DIR_ENV, EmulatorState, state_path, write_state


@pytest.fixture
def state(monkeypatch, tmp_path, aws_env):
    directory = tmp_path / "state"
    monkeypatch.setenv(STATE_DIR_ENV, str(directory))
    monkeypatch.chdir(tmp_path)
    return directory


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args))


def stale_state(directory) -> None:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    write_state(directory, EmulatorState(proc.pid, "127.0.0.1", 1, 1.0, 0.0, "/x"))


def test_local_commands_without_an_emulator_fail_with_one_line_and_a_hint(state):
    result = invoke("--local", "down", "--yes")
    assert result.exit_code == 1
    assert "error: the local emulator is not running" in result.output
    assert "hint: start it with: dataops local start" in result.output
    assert "Traceback" not in result.output


def test_a_stale_state_file_is_reported_and_cleaned(state):
    stale_state(state)
    result = invoke("--local", "down", "--yes")
    assert "the local emulator is not running (removed its stale state file: it named no emulator serving" in " ".join(
        result.output.split()
    )
    assert not state_path(state).exists()


def test_local_status_exits_1_when_not_running(state):
    result = invoke("local", "status")
    assert result.exit_code == 1
    assert result.output == "The local emulator is not running.\nStart it with: dataops local start\n"
    stale_state(state)
    as_json = invoke("local", "status", "--json")
    assert as_json.exit_code == 1
    assert json.loads(as_json.output) == {"running": False, "stale_state_removed": True}


def test_local_stop_when_not_running_is_fine(state):
    assert invoke("local", "stop").output == "The local emulator is not running.\n"
    stale_state(state)
    result = invoke("local", "stop")
    assert result.exit_code == 0
    assert result.output == "The local emulator was not running; removed its stale state file.\n"


@pytest.mark.parametrize("speed", ["0", "-5", "fast"])
def test_local_start_rejects_a_bad_speed_as_a_usage_error(state, speed):
    result = invoke("local", "start", "--speed", speed)
    assert result.exit_code == 2
    assert "Invalid value for '--speed'" in result.output


def test_a_taken_port_is_one_clear_error_with_the_log(state):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(DataopsError) as caught:
            process.start(state, port=port)
    assert "the local emulator exited during start-up" in str(caught.value)
    assert "emulator.log" in caught.value.hint
    assert not state_path(state).exists()


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["local", "--help"], "dataops local start --speed 60"),
        (["local", "start", "--help"], "dataops local start --speed 60 --port 4566"),
        (["local", "stop", "--help"], "dataops local stop"),
        (["local", "status", "--help"], "dataops local status --json"),
        (["demo", "--help"], "dataops demo"),
        (["--help"], "demo"),
    ],
)
def test_help_teaches_with_examples(args, expected):
    result = invoke(*args)
    assert result.exit_code == 0
    assert expected in result.output


def test_a_ctrl_c_during_the_spawn_itself_still_terminates_the_child(tmp_path, monkeypatch):
    """SIGINT may land on any thread: with numpy's or pyarrow's native pools running, a mask on
    the main thread did not hold it, and KeyboardInterrupt left Popen before `proc` was known,
    orphaning the emulator (tests/e2e/test_concurrent_up_and_interrupts.py caught it about once in ten runs)."""
    spawned: list[subprocess.Popen] = []
    real_popen = subprocess.Popen

    def popen(*_args, **_kwargs) -> subprocess.Popen:
        child = real_popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)
        spawned.append(child)
        os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C right after the fork, before the caller has `proc`
        time.sleep(0.2)  # Python runs signal handlers between bytecodes: here, still inside "Popen"
        return child

    other_thread = threading.Thread(target=time.sleep, args=(1.0,))  # takes the signal, as a native pool does
    other_thread.start()
    monkeypatch.setattr(process.subprocess, "Popen", popen)
    try:
        with pytest.raises(KeyboardInterrupt):
            process.start(tmp_path / "state")
        assert spawned and spawned[0].poll() is not None, "the child outlived the interrupted start"
    finally:
        for child in spawned:
            child.kill()
            child.wait()
        other_thread.join()
