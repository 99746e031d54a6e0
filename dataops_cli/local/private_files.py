"""Files and directories only this user can read or change: everything written in the state directory.

Why: the state directory may sit in a folder other users can reach. A file created by
following a planted symlink would send the emulator's log into someone else's file (as
root: any file), and a directory another user can write to lets them plant what the
emulator later trusts. So here:
- a directory is used only if this user owns it and nobody else can write to it (a
  symlink to one only if this user owns the link too), and a new one is created 0700;
- every file is opened with O_NOFOLLOW (a symlink in its place is refused, never
  followed), created 0600, with O_EXCL when it must be new, and an existing one is used
  only if it is a regular file this user owns;
- a file replaced as a whole (the state file, a credentials file) is written to a new
  temporary file (O_CREAT|O_EXCL|O_NOFOLLOW) and renamed over it, so a reader never sees
  half of it and a symlink at its name is replaced, not followed.
Errors are `NotPrivateError` (exit code 2): they name the path, what is wrong and the fix.
"""

from __future__ import annotations

import contextlib
import errno
import os
import pwd
import secrets
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import dataops_cli.cli.exits as exits
from dataops_cli.aws import DataopsError

FILE_MODE = 0o600
DIR_MODE = 0o700
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


class NotPrivateError(DataopsError):
    """A path dataops would write to, or trust, that another user could control."""

    exit_code = exits.USAGE


def user_name(uid: int) -> str:
    """`name (uid N)` for messages, or `uid N` when the account has no name."""
    with contextlib.suppress(KeyError):
        return f"{pwd.getpwuid(uid).pw_name} (uid {uid})"
    return f"uid {uid}"


def check_private_dir(path: Path, what: str = "directory", elsewhere: str = "") -> None:
    """Raise NotPrivateError unless `path` is a directory this user owns and only this user can write.

    `what` names the directory in the message ("the state directory"); `elsewhere` is
    added to the hint (e.g. how to pick another one).
    """
    uid = os.geteuid()
    tail = f", {elsewhere}" if elsewhere else ""
    link = os.lstat(path)
    if stat.S_ISLNK(link.st_mode) and link.st_uid != uid:
        raise NotPrivateError(
            f"{what} {path} is a symbolic link owned by {user_name(link.st_uid)}, not by you "
            f"({user_name(uid)}): whoever owns it decides where dataops writes",
            f"remove the link (rm {path}){tail}",
        )
    try:
        found = path.stat()
    except FileNotFoundError:
        raise NotPrivateError(
            f"{what} {path} is a symbolic link to a missing directory", f"remove the link (rm {path}){tail}"
        ) from None
    if not stat.S_ISDIR(found.st_mode):
        raise NotPrivateError(f"{what} {path} is not a directory", f"remove or rename it{tail}")
    if found.st_uid != uid:
        raise NotPrivateError(
            f"{what} {path} is owned by {user_name(found.st_uid)}, not by you ({user_name(uid)}): "
            "its owner could plant files that dataops would trust",
            f"chown {login_name(uid)} {path} (if it is yours to take){tail}",
        )
    writable = found.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
    if writable:
        who = {stat.S_IWGRP: "its group", stat.S_IWOTH: "everyone"}.get(writable, "its group and everyone")
        raise NotPrivateError(
            f"{what} {path} can be written by {who} (mode {stat.S_IMODE(found.st_mode):04o}): "
            "another user could plant files in it that dataops would trust",
            f"chmod 700 {path}{tail}",
        )
    parent = path.resolve().parent
    around = parent.stat()
    if around.st_mode & stat.S_IWOTH and not around.st_mode & stat.S_ISVTX:
        raise NotPrivateError(
            f"{what} {path} is inside {parent}, which everyone can write to and which has no sticky bit "
            f"(mode {stat.S_IMODE(around.st_mode):04o}): another user could swap {what} for their own",
            f"chmod o-w {parent} (or +t){tail}",
        )


def login_name(uid: int) -> str:
    """The account name for a command line (chown NAME ...), or the uid."""
    with contextlib.suppress(KeyError):
        return pwd.getpwuid(uid).pw_name
    return str(uid)


def ensure_private_dir(path: Path, what: str = "directory", elsewhere: str = "") -> Path:
    """`path` as a private directory: created 0700 if missing (parents as `mkdir -p`), else checked."""
    if not os.path.lexists(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError):  # made at the same moment by another process: checked below
            path.mkdir(DIR_MODE)
    check_private_dir(path, what, elsewhere)
    return path


def make_private_dir(parent: Path, prefix: str) -> Path:
    """A new directory with a random name under `parent`, 0700, that did not exist before (mkdtemp)."""
    return Path(tempfile.mkdtemp(prefix=prefix, dir=parent))


def make_tree_private(root: Path) -> None:
    """Directories 0700 and files 0600 under `root` (what an unpacked archive got from the umask)."""
    root.chmod(DIR_MODE)
    for base, dirs, files in os.walk(root):
        for name, mode in [(d, DIR_MODE) for d in dirs] + [(f, FILE_MODE) for f in files]:
            entry = Path(base, name)
            if not entry.is_symlink():
                entry.chmod(mode)


def _refusal(path: Path, exc: OSError) -> NotPrivateError:
    if exc.errno == errno.ELOOP:
        return NotPrivateError(
            f"{path} is a symbolic link: dataops never writes through one (it could point anywhere)",
            f"remove the link (rm {path}); dataops creates the file itself",
        )
    return NotPrivateError(f"cannot open {path} as a private file: {exc.strerror}", f"check {path}")


def open_private(path: Path, flags: int, *, new: bool = False) -> int:
    """os.open with O_NOFOLLOW (and O_CREAT|O_EXCL if `new`, else O_CREAT), 0600; the fd of a regular file of ours.

    An existing file with group or other permission bits is narrowed to 0600.
    """
    flags |= os.O_CREAT | _NOFOLLOW | _CLOEXEC | (os.O_EXCL if new else 0)
    try:
        fd = os.open(path, flags, FILE_MODE)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.EACCES, errno.EPERM, errno.EISDIR, errno.ENXIO):
            raise _refusal(path, exc) from exc
        raise
    try:
        found = os.fstat(fd)
        if not stat.S_ISREG(found.st_mode):
            raise NotPrivateError(f"{path} is not a regular file", f"remove it (rm {path}); dataops creates it itself")
        if found.st_uid != os.geteuid():
            raise NotPrivateError(
                f"{path} is owned by {user_name(found.st_uid)}, not by you ({user_name(os.geteuid())})",
                f"remove it (rm {path}); dataops creates it itself",
            )
        if stat.S_IMODE(found.st_mode) & 0o077:
            os.fchmod(fd, FILE_MODE)
    except BaseException:
        os.close(fd)
        raise
    return fd


def open_private_append(path: Path) -> BinaryIO:
    """A log file opened for appending (created 0600 if missing); never through a symlink."""
    return os.fdopen(open_private(path, os.O_WRONLY | os.O_APPEND), "ab")


@contextlib.contextmanager
def private_lock_file(path: Path) -> Iterator[int]:
    """A lock file's descriptor (created 0600 if missing, never through a symlink), closed on exit."""
    fd = open_private(path, os.O_RDWR)
    try:
        yield fd
    finally:
        os.close(fd)


def create_private_file(path: Path, data: bytes) -> None:
    """Write `data` to `path`, which must not exist yet (O_EXCL): for files in a directory made fresh."""
    fd = open_private(path, os.O_WRONLY, new=True)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def write_private_file(path: Path, data: bytes) -> None:
    """Replace `path` as a whole, atomically: a new 0600 temp file (O_EXCL|O_NOFOLLOW), then rename.

    The rename replaces whatever has the name (a symlink included) and never follows it.
    """
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    try:
        create_private_file(tmp, data)
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def read_private_file(path: Path) -> bytes:
    """The content of a regular file of ours at `path`; OSError if absent, a symlink (ELOOP) or not ours."""
    fd = os.open(path, os.O_RDONLY | _NOFOLLOW | _CLOEXEC)
    with os.fdopen(fd, "rb") as handle:
        found = os.fstat(handle.fileno())
        if not stat.S_ISREG(found.st_mode) or found.st_uid != os.geteuid():
            raise PermissionError(errno.EPERM, "not a regular file of this user", str(path))
        return handle.read()


def remove_private_tree(path: Path) -> None:
    """Remove a directory this process made (missing is fine); a symlink in its place is only unlinked."""
    if path.is_symlink():
        path.unlink()
        return
    shutil.rmtree(path, ignore_errors=True)
