"""End to end, in subprocesses: concurrent `up`s, Ctrl-C while the emulator boots, a failing first run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dataops_cli.local import process
from dataops_cli.local.state import EMULATOR_MODULE, read_state
from tests.conftest import SAMPLE_CSV
from tests.e2e.test_local_e2e import Session, dataops_command
from tests.helpers.local import wait_until

pytestmark = pytest.mark.e2e


def emulators_for(state_dir: Path) -> list[int]:
    """Pids of every emulator process serving this state dir (from /proc, whatever the state file says)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if EMULATOR_MODULE.encode() in command and str(state_dir.resolve()).encode() in command:
            try:
                if "Z" in (entry / "stat").read_text().split()[2]:
                    continue  # a zombie already exited
            except OSError:
                continue
            found.append(int(entry.name))
    return found


def test_three_ups_at_once_never_strand_the_stack(tmp_path):
    s = Session(tmp_path)
    command = [*dataops_command(), "--local", "--config", str(s.config), "up"]
    try:
        procs = [
            subprocess.Popen(command, env=s.env, cwd=s.cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            for _ in range(3)
        ]
        outputs = [p.communicate(timeout=180)[0] for p in procs]
        for proc, output in zip(procs, outputs, strict=True):
            assert "Traceback" not in output, output
            assert proc.returncode == 0 or "another `up` of stack 'dataops' seems to be in progress" in " ".join(
                output.split()
            ), output
        assert any(p.returncode == 0 for p in procs) or all("in progress" in o for o in outputs)
        assert len(emulators_for(s.state_dir)) == 1  # one emulator, and it is the one in the state file
        state = read_state(s.state_dir)
        assert state is not None and emulators_for(s.state_dir) == [state.pid]
        final = s.run("up", timeout=180)
        assert final.returncode == 0, final.stdout + final.stderr
        assert "refused" not in final.stdout
        second = s.run("-v", "up", timeout=180)
        assert "(0 mutating)" not in second.stdout or second.returncode == 0
        removed = s.run("down", "--yes", timeout=120)
        assert removed.returncode == 0, removed.stdout + removed.stderr
    finally:
        s.run("local", "stop", local=False)
        process.stop(s.state_dir)
    assert emulators_for(s.state_dir) == []


def test_ctrl_c_while_the_emulator_boots_leaves_no_emulator_behind(tmp_path):
    s = Session(tmp_path)
    command = [*dataops_command(), "--local", "--config", str(s.config), "up"]
    proc = subprocess.Popen(command, env=s.env, cwd=s.cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # wait until the emulator process exists (it is booting), then interrupt `up`
        wait_until(lambda: emulators_for(s.state_dir) or None, 30, "the emulator to be spawned", interval=0.01)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, out + err
    assert "Traceback" not in err and "Aborted!" not in err + out
    assert "interrupted (Ctrl-C) while starting the local emulator" in " ".join(err.split())
    # no emulator outlives its state file: either none runs, or the one that runs is in the state file
    running = emulators_for(s.state_dir)
    state = read_state(s.state_dir)
    assert running == ([] if state is None else [state.pid])
    process.stop(s.state_dir)
    assert wait_until(lambda: emulators_for(s.state_dir) == [] or None, 15, "no emulator left")


def test_local_up_whose_first_run_fails_exits_1_and_says_so_last(tmp_path):
    s = Session(tmp_path)
    bad = tmp_path / "bad.csv"
    header = SAMPLE_CSV.read_text(encoding="utf-8").splitlines()[0]
    bad.write_text(header + "\n", encoding="utf-8")  # every configured column, no data rows: the run fails
    s.config.write_text(f'[bucket]\ninput_file = "{bad}"\n', encoding="utf-8")
    try:
        refused = s.run("up", timeout=60)  # `up` knows the run would fail: refused, nothing started
        assert refused.returncode == 2 and "--force-input" in refused.stderr, refused.stdout + refused.stderr
        result = s.run("up", "--force-input", timeout=180)
        assert result.returncode == 1, result.stdout + result.stderr
        last = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
        assert "the stack is deployed but its first run failed" in " ".join(result.stderr.split())
        assert any("hint:" in line for line in last[-2:])
    finally:  # no `down` first: nothing of the stack outlives its emulator, whose state is under tmp_path
        s.run("local", "stop", local=False)
        process.stop(s.state_dir)


def test_entry_point_handles_ctrl_c_during_import(tmp_path):
    """SIGINT a fraction of a second after start (while boto3 and rich import): 130 and no traceback."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    # Past the interpreter's own start-up (a signal there is Python's "Fatal Python error", not ours):
    started = time.monotonic()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    interpreter = time.monotonic() - started
    for delay in (interpreter * 2 + 0.05, interpreter * 2 + 0.2):
        proc = subprocess.Popen(
            [*dataops_command(), "--help"], env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        time.sleep(delay)
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=30)
        assert b"Traceback" not in err, err
        assert proc.returncode in (0, 130)  # 0 if --help finished before the signal
