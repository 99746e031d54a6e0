"""Every way a run can fail on bad input or settings, one class each.

Each error carries a short machine-readable `code` and the details (column, row, ...)
that the structured error log line and run.json record, so an operator can fix the
input without reading a traceback.
"""

from __future__ import annotations

from typing import Any


class PipelineError(Exception):
    """Base class: the run failed for a reason the operator can fix."""

    code = "PipelineError"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.details = details

    def as_dict(self) -> dict[str, Any]:
        return {"type": type(self).__name__, "code": self.code, "message": str(self), **self.details}


class ConfigurationError(PipelineError):
    """An environment variable of the function is missing or has an invalid value."""

    code = "BadConfiguration"


class InputNotFoundError(PipelineError):
    """The input object (or its bucket) does not exist."""

    code = "InputNotFound"


class InputAccessError(PipelineError):
    """The function's role may not read the input object."""

    code = "InputAccessDenied"


class InputChangedError(PipelineError):
    """The input object was replaced while the run was reading it."""

    code = "InputChanged"


class EmptyInputError(PipelineError):
    """The input has no bytes (or only whitespace)."""

    code = "EmptyInput"


class NotTextError(PipelineError):
    """The input (or one cell) is not UTF-8 text: binary, compressed or another encoding."""

    code = "NotText"


class HeaderError(PipelineError):
    """The header row has an empty column name."""

    code = "BadHeader"


class DelimiterError(PipelineError):
    """The file is separated by something other than commas (';' or tabs)."""

    code = "WrongDelimiter"


class DuplicateColumnError(PipelineError):
    """Two header cells have the same name."""

    code = "DuplicateColumn"


class NoDataRowsError(PipelineError):
    """The input has a header but no data rows."""

    code = "NoDataRows"


class RaggedRowError(PipelineError):
    """A row has more or fewer fields than the header."""

    code = "WrongFieldCount"


class ColumnNotFoundError(PipelineError):
    """A column named in the pipeline options is not in the input."""

    code = "ColumnNotFound"


class NonNumericColumnError(PipelineError):
    """A column configured as numeric (zero-as-missing) holds a non-numeric value."""

    code = "NonNumericColumn"


class NoNumericColumnsError(PipelineError):
    """Nothing to normalize or correlate: no column is numeric."""

    code = "NoNumericColumns"


class EmptyColumnError(PipelineError):
    """A column has no value in any row, so there is nothing to impute it from."""

    code = "EmptyColumn"


class NonFiniteValueError(PipelineError):
    """A numeric cell is inf or -inf, which would poison normalization and correlation."""

    code = "NonFiniteValue"


class QualityHistoryError(PipelineError):
    """The data-quality history exists but cannot be read (a missing grant, a network failure)."""

    code = "QualityHistoryUnreadable"


class LineTooLongError(PipelineError):
    """A line (a record: more than one line when a quoted field holds line breaks) is over the limit.

    The reader cuts its input at record ends and parses each piece on its own; a record
    must fit in one piece, so its length is bounded (the header's too).
    """

    code = "LineTooLong"


class TooManyColumnsError(PipelineError):
    """The header has more columns than MAX_COLUMNS (config.toml: pipeline.max_columns) allows.

    Work grows with the square of the width (the correlation matrix), so the width is bounded
    before anything is parsed.
    """

    code = "TooManyColumns"


class ByteOrderMarkError(NotTextError):
    """A byte-order mark (U+FEFF) after the file's first bytes: files joined together, usually."""

    code = "MisplacedByteOrderMark"


class ValueOverflowError(PipelineError):
    """A numeric column's values are so large that its sums or spread overflow a double (inf)."""

    code = "ValueOverflow"
