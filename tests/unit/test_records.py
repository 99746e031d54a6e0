"""handler.records and the chunker: records end at line ends outside quoted fields, as Arrow parses."""

from __future__ import annotations

import io
import random

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

from handler.line_chunks import ChunkBuffers, RecordTooLongError, line_chunks
from handler.reader import read_columns
from handler.records import first_record_end, last_record_end
from tests.conftest import opener

# The Lambda lane (.ci/lambda-lane) runs this module on Python 3.12 with the layer's versions.
pytestmark = pytest.mark.handler


def arrow_rules(buffer: bytes) -> tuple[int, int | None]:
    """(last, first) record end by a byte-by-byte walk of Arrow's rules: the reference."""
    inside, field_start, last, first, i = False, True, 0, None, 0
    while i < len(buffer):
        byte = buffer[i]
        if inside:
            if byte == ord('"'):
                if i + 1 < len(buffer) and buffer[i + 1] == ord('"'):
                    i += 2
                    continue
                inside, field_start = False, False
        elif byte == ord('"') and field_start:
            inside, field_start = True, False
        elif byte in b"\r\n":
            last, field_start = i + 1, True
            first = i + 1 if first is None else first
        else:
            field_start = byte == ord(",")
        i += 1
    return last, first


def test_record_ends_match_a_byte_by_byte_walk_on_random_buffers():
    rng = random.Random(7)
    pieces = [b"a", b",", b'"', b"\n", b"\r", b'""', b"1", b"\r\n"]
    for _ in range(50_000):
        buffer = b"".join(rng.choice(pieces) for _ in range(rng.randint(0, 16)))
        last, first = arrow_rules(buffer)
        assert last_record_end(buffer, 0, len(buffer)) == last, buffer
        assert first_record_end(buffer, 0, len(buffer)) == first, buffer


@pytest.mark.parametrize(
    ("buffer", "end"),
    [
        (b'1,"a\nb"\n2,x\n', 12),  # a quoted line break, then a record: the last line end
        (b'1,"a\nb"\n2,"c\n', 8),  # the last record's quoted field is still open
        (b'1,"a\nb",2,"c\n', 0),  # one record, two quoted fields: no record ends
        (b'1,12" pizza\n2,x\n', 16),  # a literal quote in an unquoted field (the exact walk)
        (b'1,12" pizza\n2,"a\nb', 12),
        (b'1,""""\n2,"""\n', 7),  # escaped quotes: the second record is still open
    ],
)
def test_record_ends_in_hand_checked_cases(buffer, end):
    assert last_record_end(buffer, 0, len(buffer)) == end


def arrow_read(data: bytes) -> pa.Table:
    """One Arrow read of the whole input with the reader's missing-value rules (a quoted "" is missing)."""
    from handler.reader_basics import convert_options

    return pacsv.read_csv(
        io.BytesIO(data),
        parse_options=pacsv.ParseOptions(newlines_in_values=True),
        convert_options=convert_options({}),
    )


QUOTED = (
    b'id,t,v\n1,"one\nline",2\n2,"a ""b"" c",3\n3,12" pizza,4\n4,"x,\r\ny",5\n5,plain,6\n6,"\n\n",7\n7,"",8\n8,"end"\n'
)


@pytest.mark.parametrize("chunk_bytes", [3, 7, 16, 1 << 20])
@pytest.mark.parametrize("sample_bytes", [9, 24, 1 << 20])
def test_quoted_line_breaks_read_the_same_at_any_chunk_and_sample_size(monkeypatch, chunk_bytes, sample_bytes):
    from handler import reader

    monkeypatch.setattr(reader, "CHUNK_BYTES", chunk_bytes)
    monkeypatch.setattr(reader, "SAMPLE_BYTES", sample_bytes)
    data = QUOTED.replace(b'8,"end"\n', b'8,"end",9\n')
    columns = read_columns(opener(data), size_hint=len(data))
    expected = arrow_read(data)
    assert columns.rows == expected.num_rows == 8
    assert columns.text["t"].to_pylist() == expected["t"].to_pylist()
    np.testing.assert_array_equal(columns.numeric["v"], expected["v"].to_numpy())


def chunks_of(data: bytes, size: int, **options) -> list[bytes]:
    buffers = ChunkBuffers(size)
    found = []
    for chunk in line_chunks(io.BytesIO(data), buffers, **options):
        found.append(bytes(chunk.view))
        buffers.give(chunk.buffer)
    return found


@pytest.mark.parametrize("size", [1, 2, 5, 64])
def test_chunks_are_whole_records_and_their_offsets_are_exact(size):
    data = b'h1,h2\n1,"a\nb"\n2,x\r\n3,"c""\nd"\n4,y'
    buffers = ChunkBuffers(size)
    header = len(b"h1,h2\n")
    pieces = []
    for chunk in line_chunks(io.BytesIO(data), buffers, skip=header):
        piece = bytes(chunk.view)
        assert data[chunk.offset : chunk.offset + len(piece)] == piece
        pieces.append(piece)
        buffers.give(chunk.buffer)
    assert b"".join(pieces) == data[header:]
    for piece in pieces[:-1]:
        assert last_record_end(piece, 0, len(piece)) == len(piece), piece


def test_a_record_over_the_limit_is_refused_wherever_the_reads_fall():
    record = b"x" * 100
    for size in (7, 64, 99, 100, 101, 1000):
        for before in (b"", b"1\n", b"1\n" * 30):
            data = before + record + b"\n2\n"
            assert b"".join(chunks_of(data, size, max_record=100)) == data  # 100 bytes: accepted
            with pytest.raises(RecordTooLongError) as caught:
                chunks_of(data, size, max_record=99)
            assert caught.value.offset == len(before)


def test_a_quoted_field_that_never_closes_is_refused_past_the_limit():
    data = b'1,"open\n' + b"2,x\n" * 100
    with pytest.raises(RecordTooLongError) as caught:
        chunks_of(data, 16, max_record=64)
    assert caught.value.offset == 0
