"""Can this machine run the Glue job locally? pyspark (the `spark` extra) and a Java runtime.

Checked before `dataops --local up` (or `invoke`) with function.engine = "glue" deploys or
starts anything, so a missing piece is one line naming what to install, not a failed run
half a minute later. Java is found the way pyspark's launcher finds it: JAVA_HOME/bin/java
when JAVA_HOME is set, else `java` on PATH; `java -version` must then succeed.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
from pathlib import Path

PYSPARK_MISSING = (
    'function.engine = "glue" with --local runs the job on local pyspark, which is not installed: '
    "pip install -e '.[spark]' (AWS Glue 5.x = Spark 3.5)"
)
NEEDS_JAVA = 'function.engine = "glue" with --local needs Java for pyspark'
JAVA_HINT = "install a Java 17 runtime (e.g. apt-get install openjdk-17-jre-headless) or set JAVA_HOME to one"
JAVA_VERSION_TIMEOUT = 30.0


def java_executable() -> str | None:
    """JAVA_HOME/bin/java when JAVA_HOME is set (even if it is missing there), else `java` on PATH."""
    home = os.environ.get("JAVA_HOME")
    if home:
        return str(Path(home) / "bin" / "java")
    return shutil.which("java")


def local_glue_problem() -> str | None:
    """None when pyspark and Java are both usable; else one line saying what to install."""
    if importlib.util.find_spec("pyspark") is None:
        return PYSPARK_MISSING
    java = java_executable()
    if java is None:
        return f"{NEEDS_JAVA} and finds none on PATH: {JAVA_HINT}"
    try:
        subprocess.run(
            [java, "-version"], capture_output=True, timeout=JAVA_VERSION_TIMEOUT, check=True, stdin=subprocess.DEVNULL
        )
    except (OSError, subprocess.SubprocessError) as exc:
        reason = f"exit status {exc.returncode}" if isinstance(exc, subprocess.CalledProcessError) else str(exc)
        return f"{NEEDS_JAVA}; `{java} -version` failed ({reason}): {JAVA_HINT}"
    return None
