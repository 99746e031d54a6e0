"""Cut a CSV byte stream into chunks of whole lines, in recycled buffers, parsed in order on threads.

Why recycled buffers: a fresh ~1 MiB `bytes` per chunk (plus the `carry + data` and slice
copies that cutting at a line end needs) is fresh memory each time, and on Linux every fresh
page costs a fault and a zeroing: measured, those copies caused more than half of the read's
page faults. A chunk here is a window of a `bytearray` the stream reads straight into
(`readinto`); once its parse is done the buffer goes back to a free list and the next chunk
reuses its pages.

Cutting at any newline is what Arrow itself does with its default `newlines_in_values=False`:
a quoted cell may hold the delimiter and quotes, not a line break.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from typing import BinaryIO, TypeVar

T = TypeVar("T")


@dataclass
class Chunk:
    """Whole lines `buffer[start:end]`; `view` is that window, shared with no copy."""

    buffer: bytearray
    start: int
    end: int

    @property
    def view(self) -> memoryview:
        return memoryview(self.buffer)[self.start : self.end]


class ChunkBuffers:
    """A free list of chunk buffers: taken by the cutter, given back once a chunk is parsed.

    Only give a buffer back when nothing made from the chunk can still point into it.
    `list.append`/`pop` are atomic, so parsing threads may give back while the cutter takes.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._free: list[bytearray] = []

    def take(self, at_least: int) -> bytearray:
        try:
            buffer = self._free.pop()
        except IndexError:
            return bytearray(max(self.size, at_least))
        # A line longer than a buffer: a new, larger one (a buffer with live views cannot resize).
        return buffer if len(buffer) >= at_least else bytearray(at_least)

    def give(self, buffer: bytearray) -> None:
        self._free.append(buffer)


def line_chunks(stream: BinaryIO, buffers: ChunkBuffers, skip_header: bool = True) -> Iterator[Chunk]:
    """The data lines (the header dropped) in chunks of about `buffers.size` bytes, each ending at a line end."""
    carry = b""  # the start of a line the previous read cut
    header_done = not skip_header
    while True:
        buffer = buffers.take(len(carry) + buffers.size)
        view = memoryview(buffer)
        view[: len(carry)] = carry
        got = read_into(stream, view[len(carry) : len(carry) + buffers.size])
        filled = len(carry) + got
        start = 0
        if not header_done:
            ends = [i for i in (buffer.find(b"\n", 0, filled), buffer.find(b"\r", 0, filled)) if i >= 0]
            if ends:  # a "\n" left by "\r\n" is an ignored empty line
                start, header_done = min(ends) + 1, True
        cut = max(buffer.rfind(b"\n", start, filled), buffer.rfind(b"\r", start, filled)) + 1  # CR-only files too
        if got == 0 or not header_done or cut <= start:
            carry = bytes(view[start:filled])
            view.release()
            buffers.give(buffer)
            if got:
                continue
            if header_done and carry.strip():  # the last line has no line end
                yield Chunk(bytearray(carry), 0, len(carry))
            return
        carry = bytes(view[cut:filled])
        view.release()
        yield Chunk(buffer, start, cut)


def read_into(stream: BinaryIO, view: memoryview) -> int:
    """Read up to len(view) bytes into `view`; 0 at the end. Streams without readinto are copied."""
    readinto = getattr(stream, "readinto", None)
    if readinto is not None:
        return readinto(view) or 0
    data = stream.read(len(view))
    view[: len(data)] = data
    return len(data)


def parse_workers(use_threads: bool) -> int:
    """Threads to parse on: one per core, at most 4 (more chunks in flight parse no faster)."""
    return min(4, os.cpu_count() or 1) if use_threads else 1


def in_order(
    parse: Callable[[Chunk], T], chunks: Iterator[Chunk], pool: Executor | None, in_flight: int
) -> Iterator[T]:
    """parse(chunk) for every chunk, results in input order; on a pool, `in_flight` chunks ahead."""
    if pool is None:
        yield from map(parse, chunks)
        return
    pending: deque[Future[T]] = deque()
    try:
        for chunk in chunks:
            pending.append(pool.submit(parse, chunk))
            if len(pending) > in_flight:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        for future in pending:
            future.cancel()
