"""The state directory is not trusted blindly: private directories and files, symlinks refused, exit 2.

Issue 19 part 2: in a shared folder another user planted `.dataops/emulator.log` as a
symlink to a root-owned file (the emulator appended to it). These tests plant the same
things and expect a refusal that names the path and the fix, before anything is written.
Tests that need another user's files chown them to `nobody` and run only as root.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from dataops_cli.cli import cli
from dataops_cli.local import process
from dataops_cli.local.private_files import (
    NotPrivateError,
    check_private_dir,
    create_private_file,
    ensure_private_dir,
    make_private_dir,
    make_tree_private,
    open_private_append,
    private_lock_file,
    read_private_file,
    write_private_file,
)
from dataops_cli.local.state import STATE_DIR_ENV, check_state_dir

NOBODY = 65534
as_root = pytest.mark.skipif(os.geteuid() != 0, reason="giving a file to another user needs root")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def listing(directory: Path) -> dict[str, tuple[int, int]]:
    """Every entry under `directory` with its size and mode: proof that nothing was written."""
    return {str(p.relative_to(directory)): (p.lstat().st_size, p.lstat().st_mode) for p in directory.rglob("*")}


def test_a_new_private_dir_is_0700_whatever_the_umask(tmp_path):
    old = os.umask(0)
    try:
        made = ensure_private_dir(tmp_path / "state")
    finally:
        os.umask(old)
    assert mode(made) == 0o700
    assert mode(make_private_dir(made, "x-")) == 0o700
    ensure_private_dir(made)  # an existing private one is fine


@pytest.mark.parametrize(("bits", "who"), [(0o770, "its group"), (0o707, "everyone"), (0o777, "its group and")])
def test_a_dir_others_can_write_to_is_refused_with_the_chmod_that_fixes_it(tmp_path, bits, who):
    shared = tmp_path / "state"
    shared.mkdir()
    shared.chmod(bits)
    with pytest.raises(NotPrivateError) as caught:
        check_private_dir(shared, "the state directory", "or use another")
    assert f"the state directory {shared} can be written by {who}" in str(caught.value)
    assert caught.value.hint == f"chmod 700 {shared}, or use another"
    assert caught.value.exit_code == 2
    shared.chmod(0o755)  # readable by others is not a risk: only writing is
    check_private_dir(shared)


def test_a_dir_in_a_world_writable_folder_without_sticky_bit_is_refused(tmp_path):
    open_parent = tmp_path / "open"
    open_parent.mkdir()
    (open_parent / "state").mkdir(mode=0o700)
    open_parent.chmod(0o777)
    with pytest.raises(NotPrivateError, match="everyone can write to and which has no sticky bit"):
        check_private_dir(open_parent / "state")
    open_parent.chmod(0o1777)  # like /tmp: others cannot rename what is ours
    check_private_dir(open_parent / "state")


def test_a_file_or_dangling_link_is_not_a_directory(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(NotPrivateError, match="is not a directory"):
        check_private_dir(tmp_path / "file")
    (tmp_path / "link").symlink_to(tmp_path / "missing")
    with pytest.raises(NotPrivateError, match="symbolic link to a missing directory"):
        check_private_dir(tmp_path / "link")


def test_a_symlink_of_ours_to_a_private_dir_of_ours_is_fine(tmp_path):
    target = ensure_private_dir(tmp_path / "real")
    (tmp_path / "link").symlink_to(target)
    check_private_dir(tmp_path / "link")


@as_root
def test_a_dir_owned_by_another_user_is_refused_with_the_chown_that_fixes_it(tmp_path):
    theirs = tmp_path / "state"
    theirs.mkdir(mode=0o700)
    os.chown(theirs, NOBODY, NOBODY)
    with pytest.raises(NotPrivateError) as caught:
        check_private_dir(theirs, "the state directory")
    assert f"is owned by nobody (uid {NOBODY}), not by you (root (uid 0))" in str(caught.value)
    assert caught.value.hint.startswith(f"chown root {theirs}")


@as_root
def test_a_symlink_owned_by_another_user_is_refused_even_to_a_dir_of_ours(tmp_path):
    ours = ensure_private_dir(tmp_path / "ours")
    link = tmp_path / "state"
    link.symlink_to(ours)
    os.lchown(link, NOBODY, NOBODY)
    with pytest.raises(NotPrivateError, match="is a symbolic link owned by nobody"):
        check_private_dir(link, "the state directory")


def test_a_planted_log_symlink_is_never_followed(tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("someone else's file\n")
    (tmp_path / "emulator.log").symlink_to(victim)
    with pytest.raises(NotPrivateError) as caught:
        open_private_append(tmp_path / "emulator.log")
    assert "is a symbolic link: dataops never writes through one" in str(caught.value)
    assert caught.value.hint.startswith(f"remove the link (rm {tmp_path / 'emulator.log'})")
    assert victim.read_text() == "someone else's file\n"


def test_a_log_is_created_0600_and_an_existing_loose_one_is_narrowed(tmp_path):
    with open_private_append(tmp_path / "new.log") as log:
        log.write(b"one\n")
    assert mode(tmp_path / "new.log") == 0o600
    loose = tmp_path / "old.log"
    loose.write_text("kept\n")
    loose.chmod(0o666)
    with open_private_append(loose) as log:
        log.write(b"appended\n")
    assert mode(loose) == 0o600
    assert loose.read_text() == "kept\nappended\n"


def test_a_lock_file_symlink_is_refused_and_a_new_lock_is_0600(tmp_path):
    (tmp_path / "start.lock").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(NotPrivateError, match="symbolic link"), private_lock_file(tmp_path / "start.lock"):
        pass
    assert not (tmp_path / "elsewhere").exists()
    with private_lock_file(tmp_path / "fresh.lock"):
        assert mode(tmp_path / "fresh.lock") == 0o600


def test_an_atomic_write_replaces_a_planted_symlink_without_following_it(tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("untouched")
    (tmp_path / "emulator.json").symlink_to(victim)
    write_private_file(tmp_path / "emulator.json", b"{}")
    assert victim.read_text() == "untouched"
    assert not (tmp_path / "emulator.json").is_symlink()
    assert mode(tmp_path / "emulator.json") == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["emulator.json", "victim"]  # no temp file left


def test_a_new_file_must_be_new_and_reads_never_follow_a_symlink(tmp_path):
    create_private_file(tmp_path / "f", b"1")
    with pytest.raises(FileExistsError):
        create_private_file(tmp_path / "f", b"2")
    assert read_private_file(tmp_path / "f") == b"1"
    (tmp_path / "link").symlink_to(tmp_path / "f")
    with pytest.raises(OSError):
        read_private_file(tmp_path / "link")


@as_root
def test_a_file_of_another_user_is_neither_read_nor_appended_to(tmp_path):
    theirs = tmp_path / "emulator.log"
    theirs.write_text("theirs\n")
    os.chown(theirs, NOBODY, NOBODY)
    with pytest.raises(NotPrivateError, match="is owned by nobody"):
        open_private_append(theirs)
    with pytest.raises(PermissionError):
        read_private_file(theirs)
    assert theirs.read_text() == "theirs\n"


def test_an_unpacked_tree_is_made_private(tmp_path):
    root = tmp_path / "code"
    (root / "pkg").mkdir(parents=True, mode=0o755)
    (root / "pkg" / "m.py").write_text("x = 1")
    (root / "pkg" / "m.py").chmod(0o644)
    make_tree_private(root)
    assert (mode(root), mode(root / "pkg"), mode(root / "pkg" / "m.py")) == (0o700, 0o700, 0o600)


def test_check_state_dir_creates_only_when_asked(tmp_path):
    assert check_state_dir(tmp_path / "absent") is False
    assert not (tmp_path / "absent").exists()
    assert check_state_dir(tmp_path / "made", create=True) is True
    assert mode(tmp_path / "made") == 0o700


# --- the CLI: exit 2, the fix named, nothing written, no emulator started ---------------------------


@pytest.fixture
def state(monkeypatch, tmp_path, aws_env):
    directory = tmp_path / "state"
    monkeypatch.setenv(STATE_DIR_ENV, str(directory))
    monkeypatch.chdir(tmp_path)
    yield directory
    if directory.is_dir() and not directory.is_symlink():
        if os.geteuid() == 0:
            os.chown(directory, 0, 0)
        directory.chmod(0o700)
        process.stop(directory)  # had one started after all (the defect), it must not outlive the test


def run(*args: str):
    return CliRunner().invoke(cli, list(args))


def test_local_start_refuses_a_group_writable_state_dir_before_writing_anything(state):
    state.mkdir()
    state.chmod(0o775)
    result = run("local", "start")
    assert result.exit_code == 2, result.output
    text = " ".join(result.output.split())
    assert f"error: the state directory {state} can be written by its group (mode 0775)" in text
    assert f"hint: chmod 700 {state}, or use another state directory: --state-dir DIR" in text
    assert listing(state) == {}


def test_local_start_refuses_a_planted_log_symlink_and_leaves_its_target_alone(state, tmp_path):
    state.mkdir(mode=0o700)
    victim = tmp_path / "victim"
    victim.write_text("root's file\n")
    (state / "emulator.log").symlink_to(victim)
    result = run("local", "start")
    assert result.exit_code == 2, result.output
    assert "is a symbolic link: dataops never writes through one" in " ".join(result.output.split())
    assert victim.read_text() == "root's file\n"
    assert not (state / "emulator.json").exists()


@pytest.mark.parametrize("args", [("local", "status"), ("local", "stop"), ("--local", "status")])
def test_every_local_command_refuses_an_unsafe_state_dir(state, args):
    state.mkdir()
    state.chmod(0o777)
    result = run(*args)
    assert result.exit_code == 2, result.output
    assert "can be written by its group and everyone" in " ".join(result.output.split())


@as_root
def test_a_state_dir_planted_by_another_user_is_refused(state):
    state.mkdir(mode=0o700)
    os.chown(state, NOBODY, NOBODY)
    result = run("--local", "status")
    assert result.exit_code == 2, result.output
    assert f"the state directory {state} is owned by nobody" in " ".join(result.output.split())
    assert listing(state) == {}
