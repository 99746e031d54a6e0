"""The reader's errors with a place: the line of a bad row, a line too long, bytes that are not text.

Parsing runs in ~1 MiB chunks on threads, which know no line numbers; when one fails, these
re-read the input once, single-threaded, in BLOCK_BYTES blocks, to name the file's line.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.csv as pacsv

if TYPE_CHECKING:
    from .reader import Columns
from .contract import MAX_LINE_BYTES
from .errors import (
    ByteOrderMarkError,
    LineTooLongError,
    NotTextError,
    RaggedRowError,
)
from .line_chunks import ChunkBuffers, line_chunks
from .reader_basics import BLOCK_BYTES, BOM, InputOpener, convert_options
from .records import quoted_spans


class _BadBytesError(Exception):
    """A NUL byte or a misplaced byte-order mark at `offset`: turned into the user's error, with its line."""

    def __init__(self, kind: str, offset: int) -> None:
        super().__init__(f"{kind} at byte {offset}")
        self.kind, self.offset = kind, offset

    def error(self, open_input: InputOpener) -> NotTextError:
        line = line_at(open_input, self.offset)
        if self.kind == "nul":
            return NotTextError(
                f"input is not CSV text: byte {self.offset} is a NUL byte (line {line}; is it compressed or binary?)",
                byte_offset=self.offset,
                line=line,
            )
        return ByteOrderMarkError(
            f"line {line} holds a byte-order mark (U+FEFF, byte {self.offset}): only the very start of a file "
            "may; were files joined together? Remove it (and any repeated header line)",
            byte_offset=self.offset,
            line=line,
        )


def _check_bytes(buffer: bytes | bytearray, start: int, end: int, base: int) -> None:
    """The byte rules every part of the input follows: no NUL byte, no byte-order mark after byte 0.

    A NUL means binary or UTF-16 data; a BOM mid-file means files were joined and would turn a
    numeric cell into text. `base` is the input offset of buffer[0]. Each is one C-speed scan.
    """
    nul = buffer.find(b"\x00", start, end)
    bom = buffer.find(BOM, max(start, 1 - base), end)  # byte 0 of the input may hold one
    found = [(at, kind) for at, kind in ((nul, "nul"), (bom, "bom")) if at >= 0]
    if found:
        at, kind = min(found)
        raise _BadBytesError(kind, base + at)


def line_too_long(line: int) -> LineTooLongError:
    what = "the header (line 1)" if line == 1 else f"line {line}"
    return LineTooLongError(
        f"{what} is longer than {MAX_LINE_BYTES:,} bytes, the longest line the reader accepts "
        "(a line with no line end, or a quoted field that is never closed?)",
        line=line,
        limit_bytes=MAX_LINE_BYTES,
    )


def _describe_parse_error(exc: pa.ArrowInvalid, open_input: InputOpener) -> Exception:
    """Turn Arrow's parse error into ours; threaded parsing hides the row, so re-parse to find it."""
    rows: list = []

    def remember(row):  # pyarrow.csv.InvalidRow
        rows.append(row)
        return "error"

    message = str(exc)
    if "Expected" not in message or "columns, got" not in message:
        return NotTextError(f"input is not valid CSV: {message}")
    stream = open_input()
    try:
        pacsv.read_csv(
            stream,
            # Records are at most MAX_LINE_BYTES: a block always holds a whole one.
            read_options=pacsv.ReadOptions(use_threads=False, block_size=2 * MAX_LINE_BYTES),
            parse_options=pacsv.ParseOptions(invalid_row_handler=remember, newlines_in_values=True),
            convert_options=convert_options({}),
        )
    except pa.ArrowInvalid:
        pass  # expected: the handler above recorded the offending row
    finally:
        stream.close()
    if not rows:
        return RaggedRowError(f"input is not valid CSV: {message}")
    row = rows[0]
    # row.number counts records (header = 1; blank lines and line breaks inside quotes not
    # counted): the file line is found the way every other error's is.
    line = line_of_row(open_input, row.number - 2) if row.number and row.number >= 2 else row.number
    return RaggedRowError(
        f"line {line} has {row.actual_columns} fields but the header has {row.expected_columns}: {row.text[:80]!r}",
        line=line,
        expected_fields=row.expected_columns,
        actual_fields=row.actual_columns,
    )


def _undecodable_cell(columns: Columns, name: str) -> NotTextError:
    for row, value in enumerate(columns.text[name].to_pylist()):
        if value is None:
            continue
        try:
            value.decode("utf-8")
        except UnicodeDecodeError:
            line = columns.line_of(row)
            return NotTextError(
                f"column {name!r} line {line} is not UTF-8 text ({value[:20]!r}); save the file as UTF-8",
                column=name,
                line=line,
            )
    return NotTextError(f"column {name!r} is not UTF-8 text; save the file as UTF-8", column=name)


def line_of_row(open_input: InputOpener, row: int) -> int:
    """The file line (1-based, header = 1) where 0-based data row `row` starts: blank lines are
    skipped, as the parser skips them, and a quoted field's line breaks count as lines, as an
    editor shows them. Only called to word an error, so a re-read is affordable."""
    stream = open_input()
    try:
        buffers = ChunkBuffers(BLOCK_BYTES)
        line, to_pass, after_cr = 1, row + 1, False  # the header is a record to pass too
        for chunk in line_chunks(stream, buffers):
            data = bytes(chunk.view)
            buffers.give(chunk.buffer)
            if after_cr and data.startswith(b"\n"):  # the "\n" of a "\r\n" the cut split
                data = data[1:]
            after_cr = data.endswith(b"\r")
            for lines, blank in _records(data):
                if not blank:
                    if to_pass == 0:
                        return line
                    to_pass -= 1
                line += lines
        return line
    finally:
        stream.close()


def line_at(open_input: InputOpener, offset: int) -> int:
    """The file line (1-based) holding byte `offset`: "\n", "\r\n" and a lone "\r" each end a line."""
    stream = open_input()
    try:
        line, seen, after_cr = 1, 0, False
        while seen < offset and (block := stream.read(min(BLOCK_BYTES, offset - seen))):
            if after_cr and block.startswith(b"\n"):
                line -= 1  # that "\r" and this "\n" end one line
            line += block.count(b"\n") + block.count(b"\r") - block.count(b"\r\n")
            after_cr = block.endswith(b"\r")
            seen += len(block)
        return line
    finally:
        stream.close()


def _records(data: bytes) -> Iterator[tuple[int, bool]]:
    """(physical lines, blank) of each record in `data`, whole records by Arrow's quoting rules."""
    if b'"' not in data:
        for text in data.splitlines():
            yield 1, not text
        return
    spans = list(quoted_spans(data, 0, len(data), [m.start() for m in re.finditer(b'"', data)]))
    record_start, lines, span = 0, 0, 0
    for end in re.finditer(rb"\r\n|\r|\n", data):
        lines += 1
        while span < len(spans) and spans[span][1] < end.start():
            span += 1
        if span < len(spans) and spans[span][0] < end.start():
            continue  # a line break inside a quoted field: the record goes on
        yield lines, end.start() == record_start
        record_start, lines = end.end(), 0
    if record_start < len(data):
        yield lines + 1, False
