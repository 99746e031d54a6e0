"""glibc's malloc_trim: the handler's peak stays near the size of its data.

The Lambda runtime is glibc (Amazon Linux 2023); elsewhere (macOS, musl) it does nothing.
"""

from __future__ import annotations

import ctypes
import sys


def release_free_memory() -> None:
    """Return the allocator's freed-but-kept memory to the OS (malloc_trim).

    The reader calls it once its threads are done: glibc keeps their freed chunk buffers in
    per-thread arenas, room the pipeline's own temporaries would otherwise add to.
    """
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


def _load_glibc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc (e.g. musl): nothing to call
        return None
    return libc if hasattr(libc, "malloc_trim") else None


_LIBC = _load_glibc()
