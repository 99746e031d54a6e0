"""Two glibc allocator controls the handler needs to keep its peak near the size of its data.

The Lambda runtime is glibc (Amazon Linux 2023); elsewhere (macOS, musl) both do nothing.
"""

from __future__ import annotations

import ctypes
import sys

M_MMAP_THRESHOLD = -3  # mallopt's parameter number (malloc.h)


def release_free_memory() -> None:
    """Return the allocator's freed-but-kept memory to the OS (malloc_trim).

    The reader calls it once its threads are done: glibc keeps their freed chunk buffers in
    per-thread arenas, room the pipeline's own temporaries would otherwise add to.
    """
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


def map_allocations_from(nbytes: int) -> None:
    """From now on, give every allocation of `nbytes` or more its own mapping, returned on free.

    glibc raises its mmap threshold to the largest block freed so far (up to 32 MiB), so
    after the first 8 MiB upload part is freed, later parts come from the arenas, which keep
    them. Measured on the handler at 5M rows: the upload phase crept from ~550 to ~630 MiB;
    with the threshold fixed at the part size it stays near 575 MiB. Process-wide: fine in
    a Lambda, which runs one handler per process.
    """
    if _LIBC is not None:
        _LIBC.mallopt(M_MMAP_THRESHOLD, nbytes)


def _load_glibc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc (e.g. musl): nothing to call
        return None
    return libc if hasattr(libc, "malloc_trim") and hasattr(libc, "mallopt") else None


_LIBC = _load_glibc()
