"""One botocore data cache per test process.

`dataops_cli.aws.Aws` opens a new boto3 Session per command, as the CLI should; each Session
has its own botocore Loader, which parses the service models (JSON, megabytes) again. A test
process runs hundreds of commands, so it parsed the same files hundreds of times: about a
third of a moto test's time. The loader's own per-instance cache (`instance_cache`) is made
per search path instead of per instance; the data is read-only to botocore, which already
shares it between every client of one Session.
"""

from __future__ import annotations

from typing import Any

from botocore import loaders

_SHARED: dict[tuple[str, ...], dict[Any, Any]] = {}


def share_loader_caches() -> None:
    """Make every botocore Loader built from now on in this process share one cache per search path."""
    if getattr(loaders.Loader.__init__, "_dataops_shared", False):
        return
    original = loaders.Loader.__init__

    def init(self: loaders.Loader, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        self._cache = _SHARED.setdefault(tuple(self.search_paths), {})

    init._dataops_shared = True  # type: ignore[attr-defined]
    loaders.Loader.__init__ = init  # type: ignore[method-assign]
