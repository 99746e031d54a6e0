"""What every part of the reader shares: the NA tokens, how a column's type is chosen, the opener.

Kept apart so the header inspection (reader_header.py) and the error locating
(reader_errors.py) use the same parse options as the reader, without importing it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import BinaryIO

import pyarrow as pa
import pyarrow.csv as pacsv

# pandas' default NA tokens: the cells a pandas user expects to be read as missing.
NA_TOKENS = (
    "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND",
    "1.#QNAN", "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null",
)  # fmt: skip
BLOCK_BYTES = 1 << 20  # for the single-threaded re-reads that locate a bad row or line
BOM = b"\xef\xbb\xbf"

InputOpener = Callable[[], BinaryIO]


def is_numeric_type(t: pa.DataType | None) -> bool:
    return t is None or pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_null(t)


def read_type(inferred: pa.DataType | None, name: str, text: set[str], binary: set[str]) -> pa.DataType:
    """The type a column is parsed as: int64 where the sample saw only whole numbers.

    Arrow parses integers with a third less CPU than doubles, and every column ends as float64
    anyway (`float64_into` casts). The cast is exact below 2**53 and correctly rounded above,
    as a double parse is; the one difference is that "-0" becomes 0.0, not -0.0. A chunk with
    a cell that is not a whole number is re-parsed with that column as float64 (`_parse_chunk`).
    """
    if name in binary:
        return pa.binary()
    if name in text or not is_numeric_type(inferred):
        return pa.string()
    return pa.int64() if inferred is not None and pa.types.is_integer(inferred) else pa.float64()


def convert_options(types: dict[str, pa.DataType]) -> pacsv.ConvertOptions:
    return pacsv.ConvertOptions(
        column_types=types, null_values=list(NA_TOKENS), strings_can_be_null=True, quoted_strings_can_be_null=True
    )
