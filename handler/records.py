"""Where CSV records end in a byte buffer, by the quoting rules Arrow's parser applies.

Why: the reader cuts its input into chunks that are parsed on their own, so a cut must
fall between records. Cutting at any line end (Arrow's own chunker with
`newlines_in_values=False`) splits a quoted field that holds a line break, and a valid
RFC 4180 file was refused past its first MiB. The rules, as Arrow parses (and Python's
csv module, used for line numbers, agrees):
- a `"` at the start of a field opens a quoted field; inside it `""` is one quote and a
  line break is data; the next lone `"` closes it;
- a `"` anywhere else in an unquoted field is a literal character (`12" pizza`).

Fast path: a buffer without quotes ends its last record at its last line end. With quotes,
the parity of the quotes decides, which is exact when every quote that parity calls an
opening one sits at a field start (or right after another quote: the second half of a
`""`); checked for the whole buffer at once with numpy. Otherwise (literal quotes inside
unquoted fields) the quotes are walked one by one in Python: correct, slower, rare.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np

QUOTE = ord('"')
LINE_ENDS = b"\r\n"
_FIELD_START = np.array([ord(","), ord("\n"), ord("\r"), QUOTE], dtype=np.uint8)
_BEFORE_OPENING = frozenset(b",\r\n")


def last_line_end(buffer: bytes | bytearray, start: int, end: int) -> int:
    """Offset just past the last "\\n" or "\\r" in buffer[start:end]; `start` when there is none."""
    return max(buffer.rfind(b"\n", start, end), buffer.rfind(b"\r", start, end), start - 1) + 1


def last_record_end(buffer: bytes | bytearray, start: int, end: int) -> int:
    """Offset just past the last line end of buffer[start:end] that is outside quoted fields.

    `start` must be where a record starts; returns `start` when no record ends in the window
    (a record longer than it).
    """
    cut = last_line_end(buffer, start, end)
    if cut == start or buffer.find(b'"', start, cut) < 0:
        return cut
    window = np.frombuffer(buffer, dtype=np.uint8, count=cut - start, offset=start)
    quotes = np.flatnonzero(window == QUOTE)
    openers = quotes[0::2]
    before = window[openers[openers > 0] - 1]
    if np.isin(before, _FIELD_START).all():  # parity is exact: odd = inside a quoted field
        if len(quotes) % 2 == 0:
            return cut
        # Quotes pair up (a "" inside a field is a pair too, with nothing between its halves).
        pairs = ((start + int(quotes[j]), start + int(quotes[j + 1])) for j in range(len(quotes) - 3, -1, -2))
        return _outside_end_before(buffer, start, start + int(quotes[-1]), pairs)
    spans = list(quoted_spans(buffer, start, cut, (quotes + start).tolist()))
    if not spans or spans[-1][1] < cut:  # every quoted field closed before the cut
        return cut
    return _outside_end_before(buffer, start, spans[-1][0], reversed(spans[:-1]))


def first_record_end(buffer: bytes | bytearray, start: int, end: int) -> int | None:
    """Offset just past the first line end in buffer[start:end] outside quoted fields; None if none."""
    line_end = _first_line_end(buffer, start, end)
    if line_end is None or buffer.find(b'"', start, line_end) < 0:
        return None if line_end is None else line_end + 1
    window = 1 << 16  # a header is short: walk its quotes, not a whole MiB's
    while True:
        stop = min(end, start + window)
        found = _first_end_within(buffer, start, stop)
        if found is not None or stop == end:
            return found
        window *= 8


def _first_end_within(buffer: bytes | bytearray, start: int, stop: int) -> int | None:
    """first_record_end over buffer[start:stop] (a quoted field still open at `stop` has no end here)."""
    line_end = _first_line_end(buffer, start, stop)
    if line_end is None:
        return None
    window = np.frombuffer(buffer, dtype=np.uint8, count=stop - start, offset=start)
    quotes = (np.flatnonzero(window == QUOTE) + start).tolist()
    for opened, close in quoted_spans(buffer, start, stop, quotes):
        if line_end < opened:
            break
        if line_end < close:  # the line end is data inside this field: the next one after it
            line_end = _first_line_end(buffer, close + 1, stop)
            if line_end is None:
                return None
    return line_end + 1


def quoted_spans(buffer: bytes | bytearray, start: int, end: int, quotes: list[int]) -> Iterator[tuple[int, int]]:
    """(opening quote, closing quote) of each quoted field in buffer[start:end], in order, by Arrow's rules.

    `quotes` are the offsets of every '"' in the window; a field still open at `end` is
    yielded with `end` as its close.
    """
    inside, opened, i, n = False, 0, 0, len(quotes)
    while i < n:
        at = quotes[i]
        if inside:
            if i + 1 < n and quotes[i + 1] == at + 1:  # "" inside a quoted field: one literal quote
                i += 2
                continue
            inside = False
            yield opened, at
        elif at == start or buffer[at - 1] in _BEFORE_OPENING:
            inside, opened = True, at
        i += 1  # a quote inside an unquoted field is a literal character
    if inside:
        yield opened, end


def _first_line_end(buffer: bytes | bytearray, start: int, end: int) -> int | None:
    found = [i for i in (buffer.find(b"\n", start, end), buffer.find(b"\r", start, end)) if i >= 0]
    return min(found) if found else None


def _outside_end_before(
    buffer: bytes | bytearray, start: int, limit: int, closed_from_last: Iterable[tuple[int, int]]
) -> int:
    """The last line end before `limit` outside quoted fields, given the closed fields before it, last first."""
    for opened, close in closed_from_last:
        found = last_line_end(buffer, close + 1, limit)
        if found > close + 1:
            return found
        limit = opened
    return last_line_end(buffer, start, limit)
