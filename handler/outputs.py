"""Serialize a PipelineResult: the cleaned CSV (streamed), the correlation CSV, the JSONs.

`DataFrame.to_csv` spends over 90% of a naive run formatting floats; Arrow's CSV writer
is an order of magnitude faster and writes the shortest repr that parses back to the
same double, so precision is kept. The cleaned CSV is produced batch by batch into any
object with `write(bytes)`, so at 5M rows (~770 MB of text) it never exists whole.

Quoting as pandas and the csv module write it: the header line is ours (Arrow quotes every
name before pyarrow 22, and the Lambda layer's pyarrow is older), unquoted unless a name
holds the delimiter, a quote or a line break; numbers are never quoted; a text value is
quoted only when it needs to be (Arrow's "needed" style quotes every text value).

With `escape_formulas` (pipeline.escape_formulas), text cells and column names that a
spreadsheet would run as formulas get OWASP's leading quote (handler/formulas.py).
"""

from __future__ import annotations

import csv
import io
import math
import os
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from .formulas import escape_array, escape_names
from .pipeline import PipelineResult
from .quality import present_stats
from .reader import ARROW_POOL

CSV_BATCH_ROWS = 1 << 15  # ~5 MB of text per batch; 4 in flight on 2 cores
_NEEDS_QUOTES = r'[,"\r\n]'


class Sink(Protocol):
    def write(self, data: bytes) -> Any: ...


def cleaned_csv_chunks(
    result: PipelineResult, batch_rows: int = CSV_BATCH_ROWS, workers: int | None = None, escape_formulas: bool = False
) -> Iterator[bytes | pa.Buffer]:
    """The cleaned table as CSV text, header first, in chunks of `batch_rows` rows, in order.

    Batches are formatted on a few threads (Arrow releases the GIL: 2 cores format ~2x
    faster), with at most 2 * workers batches in flight so memory stays bounded. Chunks
    are Arrow buffers (bytes-like: no copy into a Python bytes object).
    """
    schema = pa.schema([(name, _arrow_type(result.output[name])) for name in result.names])
    workers = workers or min(4, os.cpu_count() or 1)
    has_text = any(isinstance(result.output[name], pa.ChunkedArray) for name in result.names)

    def format_batch(start: int) -> pa.Buffer:
        stop = min(start + batch_rows, result.rows)
        columns = [_slice(result.output[name], start, stop) for name in result.names]
        if has_text:
            return _csv_lines(columns, escape_formulas)
        buffer = pa.BufferOutputStream(memory_pool=ARROW_POOL)
        batch = pa.record_batch(columns, schema=schema)
        pacsv.write_csv(batch, buffer, pacsv.WriteOptions(include_header=False), memory_pool=ARROW_POOL)
        return buffer.getvalue()

    yield csv_line(escape_names(result.names, escape_formulas))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="csv") as pool:
        pending: deque[Future[pa.Buffer]] = deque()
        for start in range(0, result.rows, batch_rows):
            pending.append(pool.submit(format_batch, start))
            if len(pending) >= 2 * workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def csv_line(cells: list[str]) -> bytes:
    """One CSV line, each cell quoted only if it holds ',', '"' or a line break (csv.QUOTE_MINIMAL)."""
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(cells)
    return out.getvalue().encode("utf-8")


def _csv_lines(columns: list[pa.Array], escape_formulas: bool = False) -> pa.Buffer:
    """CSV text of columns that include text, quoting only the values that need it.

    Numbers go through the same cast to text that Arrow's CSV writer uses, so both paths
    write identical digits; the line is assembled by Arrow's string kernels, not per row in Python.
    """
    cells = []
    for column in columns:
        text = pc.cast(column, pa.string(), memory_pool=ARROW_POOL)
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            if escape_formulas:
                text = escape_array(text)
            quoted = pc.binary_join_element_wise('"', pc.replace_substring(text, '"', '""'), '"', "")
            text = pc.if_else(pc.match_substring_regex(text, _NEEDS_QUOTES), quoted, text)
        cells.append(text)
    lines = pc.binary_join_element_wise(*cells, ",", null_handling="replace", null_replacement="")
    lines = pc.binary_join_element_wise(lines, "\n", "", memory_pool=ARROW_POOL)
    _, offsets, data = lines.buffers()
    first, last = np.frombuffer(offsets, dtype=np.int32, count=len(lines) + 1, offset=4 * lines.offset)[[0, -1]]
    return data[first:last]


def write_cleaned_csv(
    result: PipelineResult, sink: Sink, batch_rows: int = CSV_BATCH_ROWS, escape_formulas: bool = False
) -> int:
    """Stream the cleaned CSV into `sink`; returns the number of bytes written."""
    written = 0
    for chunk in cleaned_csv_chunks(result, batch_rows, escape_formulas=escape_formulas):
        sink.write(chunk)
        written += len(chunk)
    return written


def correlation_csv(result: PipelineResult, escape_formulas: bool = False) -> bytes:
    """Column names on both axes; an undefined coefficient is an empty cell."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    names = escape_names(result.numeric, escape_formulas)
    writer.writerow(["", *names])  # QUOTE_MINIMAL: names quoted only when they must be
    for name, row in zip(names, result.correlation, strict=True):
        writer.writerow([name, *("" if math.isnan(v) else repr(float(v)) for v in row)])
    return out.getvalue().encode("utf-8")


def summary_document(result: PipelineResult, **context: Any) -> dict[str, Any]:
    """summary.json: shape, missing counts, imputed values, statistics, plus run context."""
    after = {name: {"min": s.min, "max": s.max, "mean": s.mean, "std": s.std} for name, s in result.stats.items()}
    return {
        **context,
        "rows": result.rows,
        "columns": len(result.names),
        "column_names": result.names,
        "numeric_columns": result.numeric,
        "normalized_columns": result.normalized,
        "missing_before_imputation": result.missing,
        "missing_total": result.missing_total,
        "imputed_values": result.imputed,
        "statistics_before_imputation": present_statistics(result),
        "statistics_after_imputation": after,
        # Deprecated name of statistics_after_imputation (the same numbers), kept for readers of
        # earlier summaries: it was easy to take for the raw statistics (issue 20).
        "statistics_before_normalization": after,
    }


def present_statistics(result: PipelineResult) -> dict[str, dict[str, float]]:
    """Per numeric column, `count` (present cells), min, max, mean and population std of the present
    values: before imputation (and normalization). Derived from the imputed column's statistics
    (handler.quality.present_stats), the numbers the data-quality profile holds."""
    found = {}
    for name, s in result.stats.items():
        filled = result.missing.get(name, 0)
        stats = present_stats(result.rows, filled, s.mean, s.std, s.min, s.max, result.imputed.get(name))
        found[name] = {"count": result.rows - filled, **stats}
    return found


def _arrow_type(values: np.ndarray | pa.ChunkedArray) -> pa.DataType:
    return values.type if isinstance(values, pa.ChunkedArray) else pa.from_numpy_dtype(values.dtype)


def _slice(values: np.ndarray | pa.ChunkedArray, start: int, stop: int) -> pa.Array:
    """Zero-copy view of rows [start, stop) (pa.array(ndarray) would import pandas)."""
    if isinstance(values, pa.ChunkedArray):
        return values.slice(start, stop - start).combine_chunks()
    part = values[start:stop]
    return pa.Array.from_buffers(pa.from_numpy_dtype(part.dtype), len(part), [None, pa.py_buffer(part)])
