"""The pipeline's column arithmetic, chunk by chunk so no full-size temporary exists.

At 5M rows a full-size temporary is 40 MB a column; these work on row chunks and in place.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

_CORRELATION_CHUNK_ROWS = 1 << 18
_CHUNK_ROWS = 1 << 16  # temporaries of in-place steps stay this small
_EXACT_INT_LIMIT = 2.0**53


@dataclass(frozen=True)
class ColumnStats:
    min: float
    max: float
    mean: float
    std: float


def describe(values: np.ndarray) -> ColumnStats:
    mean = float(values.mean())
    return ColumnStats(min=float(values.min()), max=float(values.max()), mean=mean, std=std(values, mean))


def std(values: np.ndarray, mean: float) -> float:
    """Population std, as np.std, over row chunks: np.std holds a full-size array of deviations
    (40 MB a column at 5M rows, two columns at a time). Sums of chunks may round differently
    from np.std's single pairwise sum, in the last bits only."""
    squares = 0.0
    for start in range(0, len(values), _CORRELATION_CHUNK_ROWS):
        deviations = values[start : start + _CORRELATION_CHUNK_ROWS] - mean
        squares += float(np.dot(deviations, deviations))
    return math.sqrt(squares / len(values))


def correlate(columns: list[np.ndarray], means: list[float]) -> np.ndarray:
    """Pearson correlation, accumulated over row chunks so no full-size copy is made."""
    k, rows = len(columns), len(columns[0])
    cross = np.zeros((k, k))
    block = np.empty((min(rows, _CORRELATION_CHUNK_ROWS), k))
    for start in range(0, rows, _CORRELATION_CHUNK_ROWS):
        stop = min(start + _CORRELATION_CHUNK_ROWS, rows)
        part = block[: stop - start]
        for j, values in enumerate(columns):
            np.subtract(values[start:stop], means[j], out=part[:, j])
        cross += part.T @ part
    scale = np.sqrt(np.diag(cross))
    with np.errstate(divide="ignore", invalid="ignore"):
        corr = cross / np.outer(scale, scale)
    corr[(scale == 0)[:, None] | (scale == 0)[None, :]] = np.nan
    np.clip(corr, -1.0, 1.0, out=corr)
    np.fill_diagonal(corr, np.where(scale == 0, np.nan, 1.0))
    return corr


def normalize_in_place(values: np.ndarray, stats: ColumnStats, method: str) -> None:
    if stats.max == stats.min:
        values[:] = 0.0
    elif method == "minmax":
        np.subtract(values, stats.min, out=values)
        np.divide(values, stats.max - stats.min, out=values)
    else:  # zscore
        np.subtract(values, stats.mean, out=values)
        np.divide(values, stats.std, out=values)


def as_int_if_whole(values: np.ndarray) -> np.ndarray:
    """int64 when every value is a whole number, else the floats; converted in place, chunk by
    chunk, so no second full-size array exists (the float array's memory becomes the ints)."""
    for start in range(0, len(values), _CHUNK_ROWS):
        part = values[start : start + _CHUNK_ROWS]
        if not (np.abs(part).max() < _EXACT_INT_LIMIT and np.array_equal(part, np.trunc(part))):
            return values
    as_int = values.view(np.int64)
    for start in range(0, len(values), _CHUNK_ROWS):
        stop = start + _CHUNK_ROWS
        as_int[start:stop] = values[start:stop].astype(np.int64)  # converted into a small temporary first
    return as_int
