"""The pipeline's options, apart from the pipeline: reading them imports no numpy or pyarrow.

A run that skips an unchanged input (handler/run_skip.py) compares these without ever
loading the compute libraries (bench/cold_start_bench.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from .contract import (
    DEFAULT_ESCAPE_FORMULAS,
    DEFAULT_IMPUTE_STRATEGY,
    DEFAULT_MAX_COLUMNS,
    DEFAULT_NORMALIZE_EXCLUDE,
    DEFAULT_NORMALIZE_METHOD,
    DEFAULT_ZERO_AS_MISSING,
    ENV_MAX_COLUMNS,
    IMPUTE_STRATEGIES,
    MAX_COLUMNS_LIMIT,
    NORMALIZE_METHODS,
)
from .errors import ConfigurationError


@dataclass(frozen=True)
class PipelineOptions:
    zero_as_missing: tuple[str, ...] = DEFAULT_ZERO_AS_MISSING
    impute_strategy: str = DEFAULT_IMPUTE_STRATEGY
    normalize_method: str = DEFAULT_NORMALIZE_METHOD
    normalize_exclude: tuple[str, ...] = DEFAULT_NORMALIZE_EXCLUDE
    max_columns: int = DEFAULT_MAX_COLUMNS  # the reader refuses a wider header
    escape_formulas: bool = DEFAULT_ESCAPE_FORMULAS  # outputs: formula-like text gets a leading '

    def __post_init__(self) -> None:
        if not 1 <= self.max_columns <= MAX_COLUMNS_LIMIT:
            raise ConfigurationError(
                f"{ENV_MAX_COLUMNS}={self.max_columns!r} is not allowed: expected an integer from 1 to "
                f"{MAX_COLUMNS_LIMIT}",
                setting=ENV_MAX_COLUMNS,
            )
        if self.impute_strategy not in IMPUTE_STRATEGIES:
            raise ConfigurationError(
                f"IMPUTE_STRATEGY={self.impute_strategy!r} is not supported: expected one of "
                + ", ".join(IMPUTE_STRATEGIES),
                setting="IMPUTE_STRATEGY",
            )
        if self.normalize_method not in NORMALIZE_METHODS:
            raise ConfigurationError(
                f"NORMALIZE_METHOD={self.normalize_method!r} is not supported: expected one of "
                + ", ".join(NORMALIZE_METHODS),
                setting="NORMALIZE_METHOD",
            )
