"""dataops: deploy and operate a scheduled serverless CSV pipeline on AWS (or on this machine)."""

from importlib import metadata

try:
    __version__ = metadata.version("dataops")
except metadata.PackageNotFoundError:  # running from a checkout that is not installed
    __version__ = "0+unknown"
