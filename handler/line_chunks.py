"""Cut a CSV byte stream into chunks of whole lines, in recycled buffers, parsed in order on threads.

Why recycled buffers: a fresh ~1 MiB `bytes` per chunk (plus the `carry + data` and slice
copies that cutting at a line end needs) is fresh memory each time, and on Linux every fresh
page costs a fault and a zeroing: measured, those copies caused more than half of the read's
page faults. A chunk here is a window of a `bytearray` the stream reads straight into
(`readinto`); once its parse is done the buffer goes back to a free list and the next chunk
reuses its pages.

Chunks end where records end (`handler.records`): a quoted field may hold a line break
anywhere in the file, not only in the first MiB that Arrow itself parses in one block.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from typing import BinaryIO, TypeVar

from .records import last_record_end

T = TypeVar("T")


@dataclass
class Chunk:
    """Whole records `buffer[start:end]`; `view` is that window, shared with no copy.

    `offset` is where the chunk starts in the stream (bytes), for errors that name a place.
    """

    buffer: bytearray
    start: int
    end: int
    offset: int = 0

    @property
    def view(self) -> memoryview:
        return memoryview(self.buffer)[self.start : self.end]


class RecordTooLongError(Exception):
    """A record (a line, or several when a quoted field holds line breaks) is longer than the limit.

    Internal: the reader turns it into a LineTooLongError naming the line.
    """

    def __init__(self, offset: int, limit: int) -> None:
        super().__init__(f"the record at byte {offset} is longer than {limit} bytes")
        self.offset, self.limit = offset, limit


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


def line_chunks(
    stream: BinaryIO, buffers: ChunkBuffers, skip: int = 0, offset: int = 0, max_record: int | None = None
) -> Iterator[Chunk]:
    """The stream's records after its first `skip` bytes (the header), in chunks of about
    `buffers.size` bytes, each ending where a record ends (a line end outside quoted fields).

    `offset` is the stream's position in the input (for `Chunk.offset`); a record longer
    than `max_record` bytes raises RecordTooLongError (so does one that never ends in a
    file that ends, when it is longer than the limit).
    """
    limit = max_record if max_record is not None else 1 << 62
    step = min(buffers.size, limit)  # a record that starts and ends within one read is within the limit
    carry = b""  # the start of a record the previous read cut
    consumed = offset  # stream position of carry[0]
    while True:
        buffer = buffers.take(len(carry) + step)
        view = memoryview(buffer)
        view[: len(carry)] = carry
        got = read_into(stream, view[len(carry) : len(carry) + step])
        filled = len(carry) + got
        start = 0
        if skip:
            start = min(skip, filled)
            skip -= start
        cut = last_record_end(buffer, start, filled) if got else start
        if carry and cut - start > limit and not _ends_within(buffer, start, filled, len(carry), limit):
            raise RecordTooLongError(consumed, limit)  # the carried record ends, but too late
        if cut <= start:  # no record ends in what was read: read on (or the stream ended)
            carry = bytes(view[start:filled])
            consumed += start
            view.release()
            buffers.give(buffer)
            if len(carry) > limit:
                raise RecordTooLongError(consumed, limit)
            if got:
                continue
            if carry.strip():  # the last record has no line end
                yield Chunk(bytearray(carry), 0, len(carry), consumed)
            return
        carry = bytes(view[cut:filled])
        view.release()
        yield Chunk(buffer, start, cut, consumed + start)
        consumed += cut


def _ends_within(buffer: bytearray, start: int, filled: int, carried: int, limit: int) -> bool:
    """Whether the record at `start` (its first `carried` bytes hold no record end) ends within `limit` bytes."""
    after = start + carried
    ends = (buffer.find(b"\n", after, filled), buffer.find(b"\r", after, filled))
    first = min((i for i in ends if i >= 0), default=-1)
    if 0 <= first - start <= limit and buffer.find(b'"', start, first) < 0:
        return True  # no quote before it: the first line end ends the record
    return last_record_end(buffer, start, min(filled, start + limit + 1)) > start


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
