"""A deterministic zip of handler/: the same code always gives the same bytes and CodeSha256.

Entries are sorted, timestamps fixed to 1980-01-01, permissions fixed to 0644, and
bytecode caches left out, so an unchanged handler makes `up` skip UpdateFunctionCode.
The package keeps its `handler/` folder: the function's handler is
`handler.lambda_function.lambda_handler`, the same import path the tests use.
`handler/spark_job/` (the Glue job) is left out: the function never imports it, and
editing the job must not change the function's CodeSha256 (nor redeploy it).
"""

from __future__ import annotations

import base64
import hashlib
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

HANDLER_DIR = Path(__file__).resolve().parents[2] / "handler"
HANDLER_ENTRY = "handler.lambda_function.lambda_handler"
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)
NOT_SHIPPED = ("__pycache__", "spark_job")  # folders of handler/ the function does not get
GLUE_NOT_SHIPPED = ("__pycache__",)  # the Glue job gets all of handler/ (spark_job imports the core)
GLUE_ENTRY = HANDLER_DIR / "spark_job" / "glue_entry.py"


@dataclass(frozen=True)
class CodePackage:
    data: bytes
    files: tuple[str, ...]

    @property
    def sha256(self) -> str:
        """Base64 SHA-256, the form Lambda reports as CodeSha256."""
        return base64.b64encode(hashlib.sha256(self.data).digest()).decode()


def build_package(source: Path = HANDLER_DIR) -> CodePackage:
    return _zip(source, NOT_SHIPPED)


def build_glue_package(source: Path = HANDLER_DIR) -> CodePackage:
    """handler/ with spark_job/, for the Glue job's --extra-py-files (same determinism as the function's)."""
    return _zip(source, GLUE_NOT_SHIPPED)


def _zip(source: Path, not_shipped: tuple[str, ...]) -> CodePackage:
    if not (source / "lambda_function.py").is_file():
        raise FileNotFoundError(f"{source}/lambda_function.py not found: is this a dataops checkout?")
    files = sorted(p for p in source.rglob("*.py") if not set(not_shipped) & set(p.relative_to(source).parts))
    buffer = io.BytesIO()
    names = []
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for path in files:
            name = f"{source.name}/{path.relative_to(source).as_posix()}"
            info = zipfile.ZipInfo(name, date_time=_FIXED_TIME)
            info.external_attr = 0o100644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
            names.append(name)
    return CodePackage(buffer.getvalue(), tuple(names))
