"""dataops: deploy and operate a scheduled serverless CSV pipeline on AWS (or on this machine)."""

from __future__ import annotations


def __getattr__(name: str) -> str:
    """`__version__`, read on first use: importing the package stays instant (see entry.py on Ctrl-C)."""
    if name != "__version__":
        raise AttributeError(name)
    from importlib import metadata

    try:
        return metadata.version("dataops")
    except metadata.PackageNotFoundError:  # running from a checkout that is not installed
        return "0+unknown"
