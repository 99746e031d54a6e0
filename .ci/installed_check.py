"""CI step: the distribution as a user gets it (issue 25).

Builds the wheel, checks its file list (the starter's package data in; tests/, bench/ and
anything else out), installs it with the [local] extra into a fresh virtualenv in a temporary
folder outside the repository, and in an empty folder there runs what README's "As a tool"
says: `dataops init`, `dataops --local up`, `status`, `down`, `local stop`, `dataops demo`,
then `dataops init --from` a generated CSV with zero markers and a 0/1 column, whose proposed
[pipeline] settings are checked. Every command runs with its working directory in the
temporary folder and an environment without PYTHONPATH or DATAOPS_*; it fails if the installed
package is the repository's, or if the repository's path shows up in any output or written
config (something read a file from the clone). Prints the time of each step.

    python .ci/installed_check.py            # from .ci/run, after the tests
"""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
import zipfile
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
REQUIRED = (
    "dataops_cli/starter/config.toml",
    "dataops_cli/starter/diabetes_preprocessed.csv",
    "dataops_cli/starter/project.py",
    "dataops_cli/cli/root.py",
    "handler/lambda_function.py",
)
TOP_LEVEL = ("dataops_cli/", "handler/")
LEAKY_ENV = ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV", "PYTHONSAFEPATH")
COMMAND_TIMEOUT_S = 600
TIMES: list[tuple[str, float]] = []


class InstalledCheckError(Exception):
    """What the user would have run into; the message says which step and why."""


def timed(label: str, command: Sequence[str], cwd: Path, env: dict[str, str], ok: Sequence[int] = (0,)) -> str:
    """Run `command`, record its time, return its output (stdout and stderr); fail on another exit code."""
    began = time.monotonic()
    done = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S, check=False
    )
    TIMES.append((label, time.monotonic() - began))
    output = done.stdout + done.stderr
    if done.returncode not in ok:
        raise InstalledCheckError(f"{label}: exit code {done.returncode} (expected {list(ok)})\n{output[-4000:]}")
    return output


def tracked_files() -> list[str]:
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True, text=True).stdout
    return [name for name in listed.split("\0") if name and (REPO / name).is_file()]


def build_wheel(out: Path) -> Path:
    """Build from a copy of the tracked files: a stale build/ in the clone (setuptools builds in-tree)
    would otherwise ship modules that no longer exist."""
    source = out.parent / "src"
    for name in tracked_files():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, source / name)
    out.mkdir(parents=True)
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(source)]
    timed("build the wheel (pip wheel --no-deps)", command, out, dict(os.environ))
    wheels = sorted(out.glob("dataops-*.whl"))
    if len(wheels) != 1:
        raise InstalledCheckError(f"expected one dataops wheel in {out}, found {[w.name for w in wheels]}")
    return wheels[0]


def check_wheel_files(wheel: Path) -> None:
    """The starter's package data is in; tests, benchmarks and anything but the two packages are out."""
    names = zipfile.ZipFile(wheel).namelist()
    missing = [name for name in REQUIRED if name not in names]
    if missing:
        raise InstalledCheckError(f"{wheel.name} lacks {missing}")
    stray = [n for n in names if not n.startswith(TOP_LEVEL) and not n.split("/")[0].endswith(".dist-info")]
    if stray:
        raise InstalledCheckError(f"{wheel.name} holds files outside {TOP_LEVEL}: {stray[:10]}")
    tracked = set(tracked_files())
    untracked = [n for n in names if n.startswith(TOP_LEVEL) and n not in tracked]
    if untracked:
        raise InstalledCheckError(f"{wheel.name} holds files the repository does not track: {untracked[:10]}")
    for folder in ("tests/", "bench/"):
        if any(f"/{folder}" in f"/{n}" for n in names):
            raise InstalledCheckError(f"{wheel.name} holds {folder}")
    print(f"{wheel.name}: {len(names)} files, package data present, no tests/ or bench/")


def user_env(venv: Path) -> dict[str, str]:
    """The environment of a user who installed the tool: its venv first on PATH, nothing pointing at the clone."""
    env = {k: v for k, v in os.environ.items() if k not in LEAKY_ENV and not k.startswith("DATAOPS_")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["COLUMNS"] = "200"
    return env


def install(wheel: Path, venv: Path, home: Path) -> dict[str, str]:
    timed("create a fresh venv", [sys.executable, "-m", "venv", str(venv)], home, dict(os.environ))
    env = user_env(venv)
    python = str(venv / "bin" / "python")
    timed("pip install the wheel with [local]", [python, "-m", "pip", "install", "-q", f"{wheel}[local]"], home, env)
    where = timed("locate the package", [python, "-c", "import dataops_cli; print(dataops_cli.__file__)"], home, env)
    installed = Path(where.strip().splitlines()[-1]).resolve()
    if installed.is_relative_to(REPO) or not installed.is_relative_to(venv.resolve()):
        raise InstalledCheckError(f"dataops_cli is imported from {installed}, not from the fresh venv {venv}")
    return env


def first_session(folder: Path, env: dict[str, str]) -> list[str]:
    """README's "As a tool": init, up, status, down, local stop, in an empty folder."""
    outputs = [timed("dataops init", ["dataops", "init"], folder, env)]
    if sorted(p.name for p in folder.iterdir()) != ["config.toml", "diabetes_preprocessed.csv"]:
        raise InstalledCheckError(f"dataops init wrote {sorted(p.name for p in folder.iterdir())}")
    try:
        outputs.append(timed("dataops --local up", ["dataops", "--local", "up"], folder, env))
        outputs.append(timed("dataops --local status", ["dataops", "--local", "status"], folder, env))
        outputs.append(timed("dataops --local down --yes", ["dataops", "--local", "down", "--yes"], folder, env))
    finally:
        outputs.append(timed("dataops local stop", ["dataops", "local", "stop"], folder, env))
    if "HEALTHY" not in outputs[2]:
        raise InstalledCheckError(f"dataops --local status did not report HEALTHY:\n{outputs[2][-3000:]}")
    return outputs


def write_csv(path: Path, rows: int = 200) -> None:
    """glucose: 0 marks missing (other values from 60 up); visits: a count (0 is real); score: in [0, 1]
    with zeros (real, per the zero_markers check); label: 0/1 (kept out of normalization); city: text."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["age", "glucose", "visits", "score", "label", "city"])
        for i in range(rows):
            glucose = 0 if i % 10 == 0 else 60 + (i * 7) % 140
            score = 0 if i % 5 == 0 else round(((i * 13) % 100) / 100, 2)
            writer.writerow([20 + i % 60, glucose, i % 6, score, i % 2, ("Pune", "Delhi", "Goa")[i % 3]])


def from_csv_session(folder: Path, env: dict[str, str]) -> list[str]:
    data = folder / "my.csv"
    write_csv(data)
    output = timed("dataops init --from my.csv", ["dataops", "init", "--from", "my.csv"], folder, env)
    config = tomllib.loads((folder / "config.toml").read_text(encoding="utf-8"))
    found = {
        "input_file": config["bucket"]["input_file"],
        "zero_as_missing": config["pipeline"]["zero_as_missing"],
        "normalize_exclude": config["pipeline"]["normalize_exclude"],
    }
    expected = {"input_file": "my.csv", "zero_as_missing": ["glucose"], "normalize_exclude": ["label"]}
    if found != expected:
        raise InstalledCheckError(f"dataops init --from proposed {found}, expected {expected}")
    again = timed("dataops init --from again (refused)", ["dataops", "init", "--from", "my.csv"], folder, env, ok=(2,))
    if "already exists" not in again:
        raise InstalledCheckError(f"a second init did not refuse to overwrite:\n{again}")
    return [output, again, (folder / "config.toml").read_text(encoding="utf-8")]


def check_no_repository_path(texts: Sequence[str]) -> None:
    """Nothing printed or written names the clone: the installed tool used only its own files."""
    for text in texts:
        if str(REPO) in text:
            line = next(line for line in text.splitlines() if str(REPO) in line)
            raise InstalledCheckError(f"{REPO} (the clone) is in what the installed tool printed or wrote:\n{line}")


def main() -> int:
    home = Path(tempfile.mkdtemp(prefix="dataops-installed-"))
    began = time.monotonic()
    try:
        if home.resolve().is_relative_to(REPO):
            raise InstalledCheckError(f"the temporary folder {home} is inside the repository")
        wheel = build_wheel(home / "dist")
        check_wheel_files(wheel)
        env = install(wheel, home / "venv", home)
        texts = []
        for name, session in (("empty", first_session), ("from-csv", from_csv_session)):
            folder = home / name
            folder.mkdir()
            texts += session(folder, env)
        demo_folder = home / "demo"
        demo_folder.mkdir()
        texts.append(timed("dataops demo (empty folder)", ["dataops", "demo"], demo_folder, env))
        check_no_repository_path(texts)
    except (InstalledCheckError, subprocess.TimeoutExpired) as exc:
        print(f"installed check FAILED: {exc}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(home, ignore_errors=True)
        TIMES.append(("total", time.monotonic() - began))
        width = max(len(label) for label, _ in TIMES)
        for label, seconds in TIMES:
            print(f"  {label.ljust(width)}  {seconds:7.1f} s")
    print("installed check passed: the wheel works from an empty folder without the clone")
    return 0


if __name__ == "__main__":
    sys.exit(main())
