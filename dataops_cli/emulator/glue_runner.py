"""Run one Glue job run on this machine, as AWS Glue would run the job's script.

The script is the job's ScriptLocation and the modules its `--extra-py-files`, both read
from the emulator's S3 (what `up` uploaded, not this checkout). They run in a fresh
interpreter under glue_bootstrap.py with local pyspark (`local[*]`), the job's arguments
as Glue passes them (`--JOB_ID`, `--JOB_RUN_ID`, `--JOB_NAME`, then the job's
DefaultArguments overlaid with the run's Arguments and the NonOverridableArguments), the
extra files on PYTHONPATH (as Glue puts them there), the job role's temporary credentials
and `AWS_ENDPOINT_URL` pointing at the emulator: boto3 in the job talks to the emulator's S3
unchanged, under the role's policies, and glue_bootstrap.py gives Spark an s3:// filesystem
backed by it (its reads and writes are the role's too). The run is
killed at the job's Timeout (minutes). Nothing of this machine's AWS configuration reaches it.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from dataops_cli.emulator.runner import PASSED_THROUGH, RunningProcesses, emulator_aws_environment
from dataops_cli.emulator.sigv4 import Secret
from dataops_cli.local.private_files import DIR_MODE, create_private_file, make_private_dir, remove_private_tree

GLUE_BOOTSTRAP = Path(__file__).resolve().with_name("glue_bootstrap.py")
# Passed through as well: where Java is, the driver memory the Spark job reads (handler/spark_job/__main__.py),
# and pyspark's launcher options (pyspark/java_gateway.py), e.g. JVM flags (tests/helpers/spark.py).
GLUE_PASSED_THROUGH = (*PASSED_THROUGH, "JAVA_HOME", "DATAOPS_SPARK_DRIVER_MEMORY", "PYSPARK_SUBMIT_ARGS")
# Spark's own (log4j) lines on stderr: "25/11/26 17:30:01 WARN NativeCodeLoader: ...", and the
# two lines its launcher prints; on AWS Glue 5.x these go to /aws-glue/jobs/error, the script's
# own stdout and stderr to /aws-glue/jobs/output.
LOG4J_LINE = re.compile(r"^\d\d/\d\d/\d\d \d\d:\d\d:\d\d (TRACE|DEBUG|INFO|WARN|ERROR|FATAL) ")
SPARK_LAUNCHER_LINES = ("Setting default log level to ", "To adjust logging level use ")
Line = tuple[float, str, str]  # (epoch seconds, "stdout" | "stderr", text)


@dataclass(frozen=True)
class JobSpec:
    """A Glue job's definition, as the runner needs it."""

    account: str
    region: str
    name: str
    created: float  # epoch seconds: a job deleted and created again under the same name is another job
    script_location: str
    command: str
    default_arguments: Mapping[str, str]
    non_overridable_arguments: Mapping[str, str]
    max_concurrent_runs: int
    timeout_minutes: int
    glue_version: str
    worker_type: str
    number_of_workers: int
    role_arn: str = ""  # the job's Role: Glue assumes it for each run


@dataclass
class GlueRunResult:
    """How the script's process ended, and every line it wrote."""

    started: float
    ended: float
    exit_code: int | None
    lines: list[Line] = field(default_factory=list)
    error: str | None = None  # Glue's ErrorMessage: None when the run succeeded
    timed_out: bool = False

    @property
    def failed(self) -> bool:
        return self.error is not None


def job_argv(spec: JobSpec, run_id: str, arguments: Mapping[str, str]) -> list[str]:
    """The script's argv after its name: Glue's own arguments first, then the job's, `--KEY value`."""
    argv = ["--JOB_ID", f"j_{uuid.uuid5(uuid.NAMESPACE_URL, spec.name).hex}", "--JOB_RUN_ID", run_id]
    argv += ["--JOB_NAME", spec.name]
    for key, value in arguments.items():
        argv += [key if key.startswith("--") else f"--{key}", value]
    return argv


def merged_arguments(spec: JobSpec, run_arguments: Mapping[str, str]) -> dict[str, str]:
    """DefaultArguments, replaced by the run's Arguments, then the NonOverridableArguments (AWS's order)."""
    return {**spec.default_arguments, **run_arguments, **spec.non_overridable_arguments}


def parse_s3_uri(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def stage_objects(s3: Any, spec: JobSpec, arguments: Mapping[str, str], into: Path) -> tuple[Path, list[Path]]:
    """Download the script and its --extra-py-files; raises ValueError saying which one could not be read.

    Read from S3 for every run, into `into` (a run folder made fresh, 0700): never a copy
    found on disk by name. Each file is new (O_EXCL, O_NOFOLLOW, 0600) in a new folder.
    """
    wanted = [spec.script_location] + [u.strip() for u in arguments.get("--extra-py-files", "").split(",") if u.strip()]
    paths: list[Path] = []
    staged = into / "staged"
    staged.mkdir(DIR_MODE)
    for index, uri in enumerate(wanted):
        what = "script" if index == 0 else "--extra-py-files object"
        if not uri.startswith("s3://"):
            raise ValueError(f"the job's {what} {uri!r} is not an s3:// URI")
        bucket, key = parse_s3_uri(uri)
        name = key.rsplit("/", 1)[-1]
        if name in ("", ".", ".."):
            raise ValueError(f"the job's {what} {uri!r} does not name a file (its key must end in a file name)")
        target = staged / str(index) / name
        target.parent.mkdir(DIR_MODE)
        try:
            create_private_file(target, s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        except (ClientError, BotoCoreError) as exc:
            raise ValueError(f"could not read the job's {what} {uri}: {exc}") from exc
        paths.append(target)
    return paths[0], paths[1:]


def child_environment(
    spec: JobSpec, endpoint: str, run_id: str, extra: list[Path], workdir: Path, credentials: Secret | None = None
) -> dict[str, str]:
    env = {k: os.environ[k] for k in GLUE_PASSED_THROUGH if k in os.environ}
    env.update(emulator_aws_environment(endpoint, spec.region, credentials))
    env.update(
        {
            "PYTHONPATH": os.pathsep.join(str(p) for p in extra),
            "PYSPARK_PYTHON": sys.executable,
            "PYSPARK_DRIVER_PYTHON": sys.executable,
            "SPARK_LOCAL_IP": "127.0.0.1",
            "SPARK_LOCAL_DIRS": str(workdir / "spark-local"),
            "TZ": "UTC",
            "PYTHONUNBUFFERED": "1",
            "PYTHONIOENCODING": "utf-8",
            "PYTHONDONTWRITEBYTECODE": "1",  # as a function's run (runner.child_environment): no __pycache__ made
            "DATAOPS_GLUE_STAGING": str(workdir / "s3-bridge"),
            "DATAOPS_GLUE_JOB_RUN_ID": run_id,
        }
    )
    return env


def error_message(lines: list[Line], exit_code: int | None) -> str:
    """Glue's ErrorMessage for a failed script: its last line on stderr that is not Spark's own log."""
    for _, stream, text in reversed(lines):
        text = text.strip()
        if stream == "stderr" and text and not is_spark_log(text) and not text.startswith(("at ", "File ")):
            return text.removeprefix("error: ")
    return f"the job's script exited with status {exit_code}"


def is_spark_log(text: str) -> bool:
    return bool(LOG4J_LINE.match(text)) or text.startswith(SPARK_LAUNCHER_LINES)


def split_logs(lines: list[Line]) -> tuple[list[tuple[float, str]], list[tuple[float, str]]]:
    """(output, error): the script's stdout and stderr, and Spark's own log lines (with their stack traces)."""
    output: list[tuple[float, str]] = []
    system: list[tuple[float, str]] = []
    in_system = False
    for t, stream, text in lines:
        if stream == "stderr" and (is_spark_log(text) or (in_system and text[:1] in (" ", "\t"))):
            in_system = True
            system.append((t, text))
        else:
            in_system = False
            output.append((t, text))
    return output, system


def _read(stream: Any, name: str, lines: list[Line], lock: threading.Lock) -> None:
    for raw in iter(stream.readline, b""):
        text = raw.decode("utf-8", errors="replace").rstrip("\r\n")
        with lock:
            lines.append((time.time(), name, text))
    stream.close()


def _wait(proc: subprocess.Popen, limit: float, running: RunningProcesses) -> bool:
    """Wait for the job's process for at most `limit` seconds; True if it had to be killed (its session)."""
    try:
        try:
            proc.wait(timeout=limit)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, 9)
            proc.wait()
            return True
        return False
    finally:
        running.discard(proc)


def run_glue_job(
    spec: JobSpec,
    run_id: str,
    arguments: Mapping[str, str],
    endpoint: str,
    s3_for: Callable[[str], Any],
    work_root: Path,
    running: RunningProcesses | None = None,
    timeout_seconds: float | None = None,
    credentials: Secret | None = None,
) -> GlueRunResult:
    """Run the job's script once; never raises for the job's own failures (they are the result).

    `s3_for(region)` reads the script and its modules, as Glue does with the job's role: the
    caller hands a client signed with the role's session (`credentials`, also given to the script).
    """
    running = running if running is not None else RunningProcesses()
    started = time.time()
    workdir = make_private_dir(work_root, f"{run_id[:20]}-")  # work_root: the emulator's own folder, never made here
    try:
        try:
            script, extra = stage_objects(s3_for(spec.region), spec, arguments, workdir)
        except ValueError as exc:
            return GlueRunResult(started, time.time(), None, error=str(exc))
        command = [sys.executable, "-u", str(GLUE_BOOTSTRAP), str(script), *job_argv(spec, run_id, arguments)]
        proc = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=child_environment(spec, endpoint, run_id, extra, workdir, credentials),
            cwd=workdir,
            start_new_session=True,
        )
        running.add(proc)
        lines: list[Line] = []
        lock = threading.Lock()
        readers = [
            threading.Thread(target=_read, args=(proc.stdout, "stdout", lines, lock), daemon=True),
            threading.Thread(target=_read, args=(proc.stderr, "stderr", lines, lock), daemon=True),
        ]
        for reader in readers:
            reader.start()
        limit = timeout_seconds if timeout_seconds is not None else spec.timeout_minutes * 60
        timed_out = _wait(proc, limit, running)
        for reader in readers:
            reader.join(5)
        ended = time.time()
        result = GlueRunResult(started, ended, proc.returncode, sorted(lines, key=lambda line: line[0]))
        if timed_out:
            result.timed_out = True
            result.error = f"Job run timed out after {limit / 60:g} minutes (the job's Timeout)"
        elif proc.returncode != 0:
            result.error = error_message(result.lines, proc.returncode)
        return result
    finally:
        remove_private_tree(workdir)
