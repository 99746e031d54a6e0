"""The emulator's state file: where it lives, what it holds, and stale files detected and cleaned."""

from __future__ import annotations

import json
import socket
import stat
import subprocess
import sys
import threading
from dataclasses import replace
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from dataops_cli.cli import cli
from dataops_cli.cli.app import App
from dataops_cli.local import instance, process
from dataops_cli.local.instance import new_token
from dataops_cli.local.state import (
    STATE_DIR_ENV,
    EmulatorNotAnsweringError,
    EmulatorState,
    live_state,
    pid_alive,
    read_state,
    remove_state,
    state_path,
    write_state,
)


def state(pid: int) -> EmulatorState:
    return EmulatorState(pid=pid, host="127.0.0.1", port=4566, speed=60.0, started=1_795_000_000.0, log="/x/log")


def exited_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_state_dir_is_dot_dataops_in_the_current_directory_unless_overridden(monkeypatch, tmp_path):
    seen = []

    @cli.command("where-state")
    @click.pass_obj
    def where_state(app: App) -> None:
        seen.append(app.state_dir)

    try:
        monkeypatch.delenv(STATE_DIR_ENV, raising=False)
        monkeypatch.chdir(tmp_path)
        assert CliRunner().invoke(cli, ["where-state"]).exit_code == 0
        monkeypatch.setenv(STATE_DIR_ENV, str(tmp_path / "from-env"))
        assert CliRunner().invoke(cli, ["where-state"]).exit_code == 0
        assert CliRunner().invoke(cli, ["--state-dir", str(tmp_path / "option"), "where-state"]).exit_code == 0
    finally:
        cli.commands.pop("where-state")
    assert seen == [tmp_path / ".dataops", tmp_path / "from-env", tmp_path / "option"]


def test_state_round_trips_and_names_the_endpoint(tmp_path):
    write_state(tmp_path, state(123))
    assert read_state(tmp_path) == state(123)
    assert read_state(tmp_path).endpoint == "http://127.0.0.1:4566"
    assert [p.name for p in tmp_path.iterdir()] == ["emulator.json"]  # no temp file left behind


@pytest.mark.parametrize("content", ["", "{not json", '{"pid": 1}', '{"pid": "x", "host": 1}'])
def test_an_unreadable_state_file_reads_as_none(tmp_path, content):
    state_path(tmp_path).write_text(content)
    assert read_state(tmp_path) is None


def test_a_state_file_whose_process_is_gone_is_stale_and_removed(tmp_path):
    write_state(tmp_path, state(exited_pid()))
    assert live_state(tmp_path) == (None, True)
    assert not state_path(tmp_path).exists()
    assert live_state(tmp_path) == (None, False)


def test_a_reused_pid_that_is_not_an_emulator_is_stale(tmp_path):
    import os

    write_state(tmp_path, state(os.getpid()))  # alive, but it is pytest, not the emulator
    assert live_state(tmp_path) == (None, True)


def test_a_corrupt_state_file_is_stale(tmp_path):
    state_path(tmp_path).write_text("{")
    assert live_state(tmp_path) == (None, True)
    assert not state_path(tmp_path).exists()


def test_pid_alive_rejects_nonsense_and_exited_processes():
    assert not pid_alive(0)
    assert not pid_alive(-1)
    assert not pid_alive(exited_pid())


def test_remove_state_leaves_a_newer_emulators_file_alone(tmp_path: Path):
    write_state(tmp_path, state(222))
    remove_state(tmp_path, pid=111)
    assert read_state(tmp_path).pid == 222
    remove_state(tmp_path, pid=222)
    assert read_state(tmp_path) is None


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
def test_pid_alive_says_only_that_a_process_exists_and_its_zombie_does_not():
    # Even a command line naming the emulator module proves nothing: only the instance token does.
    command = [sys.executable, "-c", "import sys; sys.stdin.read()", "dataops_cli.emulator.server"]
    proc = subprocess.Popen(command, stdin=subprocess.PIPE)
    try:
        assert wait_for(lambda: pid_alive(proc.pid))
        proc.stdin.close()  # it exits; until it is reaped it is a zombie
        assert wait_for(lambda: Path(f"/proc/{proc.pid}/stat").read_text().rpartition(")")[2].split()[0] == "Z")
        assert not pid_alive(proc.pid)
    finally:
        proc.kill()
        proc.wait()


def test_the_token_is_kept_in_the_state_file_0600_and_never_shown(tmp_path):
    secret = new_token()
    write_state(tmp_path, replace(state(123), token=secret))
    assert read_state(tmp_path).token == secret
    assert json.loads(state_path(tmp_path).read_text())["token"] == secret
    assert stat.S_IMODE(state_path(tmp_path).stat().st_mode) == 0o600
    assert secret not in repr(read_state(tmp_path))


def test_a_state_file_that_is_a_symlink_is_not_read_and_is_removed_as_stale(tmp_path):
    elsewhere = tmp_path / "elsewhere.json"
    write_state(tmp_path, state(123))
    state_path(tmp_path).rename(elsewhere)
    state_path(tmp_path).symlink_to(elsewhere)
    assert read_state(tmp_path) is None
    assert live_state(tmp_path) == (None, True)
    assert elsewhere.exists() and not state_path(tmp_path).is_symlink()


def test_a_live_process_whose_port_does_not_answer_is_neither_trusted_nor_stopped(tmp_path, monkeypatch):
    monkeypatch.setattr(instance, "PROBE_TIMEOUT", 0.3)
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    with socket.socket() as silent:  # accepts connections (the kernel does), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        try:
            write_state(tmp_path, replace(state(sleeper.pid), port=port, token=new_token()))
            with pytest.raises(EmulatorNotAnsweringError) as caught:
                process.stop(tmp_path)
            assert f"(pid {sleeper.pid}, http://127.0.0.1:{port}) cannot prove it is" in str(caught.value)
            assert "no answer" in str(caught.value)
            assert caught.value.hint.endswith(f"stop it: kill {sleeper.pid}")
            assert sleeper.poll() is None and read_state(tmp_path) is not None  # nothing stopped or removed
            sleeper.kill()
            sleeper.wait()
            assert live_state(tmp_path) == (None, True)  # once the process is gone, the file is stale
        finally:
            sleeper.kill()
            sleeper.wait()


def wait_for(check, timeout: float = 30.0) -> bool:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.02)
    return False


def test_an_emulator_of_an_older_dataops_is_neither_trusted_nor_orphaned(tmp_path):
    """Its state file has no token and it cannot stop itself: removing the file would orphan it."""
    from werkzeug.serving import make_server

    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])

    def old_health(environ, start_response):
        start_response("200 OK", [("Content-Type", "application/json")])
        return [json.dumps({"service": "dataops-emulator", "pid": sleeper.pid}).encode()]

    server = make_server("127.0.0.1", 0, old_health, threaded=True)
    serving = threading.Thread(target=server.serve_forever, daemon=True)
    serving.start()
    try:
        write_state(tmp_path, replace(state(sleeper.pid), port=server.server_port))  # no token: an older dataops
        with pytest.raises(EmulatorNotAnsweringError, match="it runs an older dataops, without instance tokens"):
            live_state(tmp_path)
        assert read_state(tmp_path) is not None and sleeper.poll() is None
    finally:
        server.shutdown()
        sleeper.kill()
        sleeper.wait()
