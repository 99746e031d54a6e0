"""The stand-in for AWS's AWSSDKPandas-Python312 layer, published inside the emulator.

moto resolves layers by name in its own account (123456789012) and rejects AWS's
(336392948345), so the emulator publishes a tiny layer under the same name and the
configured layer resolves. Its zip holds only a note: local runs import pandas, numpy and
pyarrow from the interpreter that runs the emulator, in place of the layer's copies.
"""

from __future__ import annotations

import io
import zipfile
from typing import Any

STAND_IN_LAYER = "AWSSDKPandas-Python312"
STAND_IN_NOTE = (
    b"dataops local emulator: stand-in for AWS's AWSSDKPandas-Python312 layer.\n"
    b"Local runs import pandas, numpy and pyarrow from the interpreter that runs the emulator.\n"
)


def stand_in_layer_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(zipfile.ZipInfo("python/DATAOPS_STAND_IN_LAYER.txt", (1980, 1, 1, 0, 0, 0)), STAND_IN_NOTE)
    return buffer.getvalue()


def publish_stand_in_layer(lambda_client: Any, name: str = STAND_IN_LAYER) -> str:
    """Publish a version of the stand-in layer; returns its version ARN."""
    published = lambda_client.publish_layer_version(
        LayerName=name,
        Description="dataops emulator stand-in: runs use the local pandas/numpy/pyarrow",
        Content={"ZipFile": stand_in_layer_zip()},
        CompatibleRuntimes=["python3.11", "python3.12", "python3.13"],
    )
    return published["LayerVersionArn"]
