"""The handler's contract with the CLI: every name both sides must spell the same way.

The handler writes log events, EMF metrics and S3 keys and reads environment variables;
the CLI sets those variables (`config.py`), draws the dashboard from those metrics and
log fields (`dashboard.py`), and reads them back in `status`, `logs` and `runs`
(`runlog_reader.py`). Written once here, a rename changes both sides or fails a test
(tests/unit/test_contract.py). Standard library only: the CLI imports this module without
pandas, numpy or boto3.
"""

from __future__ import annotations

# --- Log events: the `event` field of each JSON log line, and the marker its message starts with.
EVENT_START = "start"
EVENT_SHAPE = "shape"
EVENT_MISSING = "missing"
EVENT_SAVED = "saved"
EVENT_ERROR = "error"
EVENT_CLEANUP = "cleanup"
EVENT_QUALITY = "quality"  # the run's data-quality summary
EVENT_QUALITY_CHECK = "quality_check"  # one check that warned or failed
EVENT_QUALITY_HISTORY = "quality_history"  # the history could not be used or updated
EVENT_QUARANTINED = "quarantined"  # QUALITY_ON_FAILURE=block held the run back from latest.json
EVENT_SKIPPED = "skipped"  # SKIP_UNCHANGED: input, settings and code as the published run's; nothing done
MARKERS = {
    EVENT_START: "🚀",
    EVENT_SHAPE: "📊",
    EVENT_MISSING: "📈",
    EVENT_QUALITY: "🔎",
    EVENT_SAVED: "✅",
    EVENT_QUARANTINED: "🚧",
    EVENT_ERROR: "❌",
    EVENT_SKIPPED: "⏭️",
}
# The dashboard's activity feed, in the order a run logs them.
ACTIVITY_EVENTS = (
    EVENT_START,
    EVENT_SHAPE,
    EVENT_MISSING,
    EVENT_QUALITY,
    EVENT_SAVED,
    EVENT_QUARANTINED,
    EVENT_SKIPPED,
)
EVENTS = (*ACTIVITY_EVENTS, EVENT_ERROR, EVENT_CLEANUP, EVENT_QUALITY_CHECK, EVENT_QUALITY_HISTORY)
LEVEL_INFO, LEVEL_WARNING, LEVEL_ERROR = "INFO", "WARNING", "ERROR"

# Fields of the JSON log lines that readers key on (beyond timestamp/level/event/message).
F_TIMESTAMP, F_LEVEL, F_EVENT, F_MESSAGE = "timestamp", "level", "event", "message"
F_FUNCTION, F_REQUEST_ID, F_RUN_ID, F_COLD_START = "function", "request_id", "run_id", "cold_start"
F_START_TIME, F_TRIGGER = "start_time", "trigger"
F_ROWS, F_COLUMNS, F_COLUMN_NAMES = "rows", "columns", "column_names"
F_MISSING_HANDLED, F_MISSING_TOTAL = "missing_values_handled", "missing_total"
F_FILES, F_DURATION_MS, F_ERROR = "files", "duration_ms", "error"
F_CONFIRMS = "confirms"  # a skipped run's line: the published run it confirms is current
# The words of a skipped run's message, as a CloudWatch Logs quoted-term filter pattern reads them.
SKIP_PHRASE = "Run skipped"
ERROR_CODE, ERROR_TYPE = "code", "type"  # keys inside the `error` object
LOG_FIELDS = frozenset(
    {
        F_TIMESTAMP,
        F_LEVEL,
        F_EVENT,
        F_MESSAGE,
        F_FUNCTION,
        F_REQUEST_ID,
        F_RUN_ID,
        F_COLD_START,
        F_START_TIME,
        F_TRIGGER,
        F_ROWS,
        F_COLUMNS,
        F_COLUMN_NAMES,
        F_MISSING_HANDLED,
        F_MISSING_TOTAL,
        F_FILES,
        F_DURATION_MS,
        F_ERROR,
    }
)

# --- EMF metrics: one document per invocation, namespace + dimension + names + units.
METRICS_NAMESPACE = "DataOps/Pipeline"
METRIC_DIMENSION = "Function"
M_ROWS_PROCESSED = "RowsProcessed"
M_MISSING_IMPUTED = "MissingValuesImputed"
M_RUN_FAILED = "RunFailed"
M_PROCESSING_TIME = "ProcessingTime"
M_QUALITY_WARNINGS = "QualityWarnings"
M_QUALITY_FAILURES = "QualityFailures"
M_RUNS_SKIPPED = "RunsSkipped"  # 1 for a run that skipped an unchanged input, else 0
METRIC_UNITS = {
    M_ROWS_PROCESSED: "Count",
    M_MISSING_IMPUTED: "Count",
    M_RUN_FAILED: "Count",
    M_PROCESSING_TIME: "Milliseconds",
    M_QUALITY_WARNINGS: "Count",
    M_QUALITY_FAILURES: "Count",
    M_RUNS_SKIPPED: "Count",
}
METRICS = frozenset(METRIC_UNITS)

# --- Environment variables the handler reads, with the defaults it applies when one is unset.
ENV_BUCKET = "BUCKET_NAME"
ENV_INPUT_KEY = "INPUT_KEY"
ENV_OUTPUT_PREFIX = "OUTPUT_PREFIX"
ENV_ZERO_AS_MISSING = "ZERO_AS_MISSING"
ENV_IMPUTE_STRATEGY = "IMPUTE_STRATEGY"
ENV_NORMALIZE_METHOD = "NORMALIZE_METHOD"
ENV_NORMALIZE_EXCLUDE = "NORMALIZE_EXCLUDE"
ENV_MAX_COLUMNS = "MAX_COLUMNS"  # config.toml: pipeline.max_columns
ENV_ESCAPE_FORMULAS = "ESCAPE_FORMULAS"  # config.toml: pipeline.escape_formulas ("true"/"false")
ENV_SKIP_UNCHANGED = "SKIP_UNCHANGED"  # config.toml: pipeline.skip_unchanged ("true"/"false")
ENV_FUNCTION_NAME = "AWS_LAMBDA_FUNCTION_NAME"  # set by Lambda itself
DEFAULT_FUNCTION_NAME = "DataOpsPipelineFunction"
DEFAULT_OUTPUT_PREFIX = "processed/"
DEFAULT_ZERO_AS_MISSING = ("Glucose", "BloodPressure", "SkinThickness", "Insulin", "BMI")
DEFAULT_IMPUTE_STRATEGY = "median"
DEFAULT_NORMALIZE_METHOD = "minmax"
DEFAULT_NORMALIZE_EXCLUDE = ("Outcome",)
# The widest input a run accepts: the correlation matrix grows with its square. At this width
# the default function (1024 MB) runs well inside its memory and timeout (docs/BENCHMARKS.md,
# "Wide inputs": bench/width_bench.py).
DEFAULT_MAX_COLUMNS = 1000
MAX_COLUMNS_LIMIT = 100_000  # the highest pipeline.max_columns config.toml accepts
DEFAULT_ESCAPE_FORMULAS = False  # the data stays exact unless asked
DEFAULT_SKIP_UNCHANGED = True  # a run on the input, settings and code of the published run does nothing
FORCE_FIELD = "force"  # an invoke event with "force": true runs in full even when nothing changed
# The longest line (record) the reader accepts, header included: it cuts its input into ~1 MiB
# pieces at record ends, and a record must fit in one.
MAX_LINE_BYTES = 1 << 20
IMPUTE_STRATEGIES = ("median", "mean")  # the values IMPUTE_STRATEGY accepts
NORMALIZE_METHODS = ("minmax", "zscore", "none")  # the values NORMALIZE_METHOD accepts
QUALITY_ENV_PREFIX = "QUALITY_"  # then the [quality] key in upper case: QUALITY_HISTORY_RUNS, ...
REQUIRED_ENV = (ENV_BUCKET, ENV_INPUT_KEY)
HANDLER_ENV = (
    ENV_BUCKET,
    ENV_INPUT_KEY,
    ENV_OUTPUT_PREFIX,
    ENV_ZERO_AS_MISSING,
    ENV_IMPUTE_STRATEGY,
    ENV_NORMALIZE_METHOD,
    ENV_NORMALIZE_EXCLUDE,
    ENV_MAX_COLUMNS,
    ENV_ESCAPE_FORMULAS,
    ENV_SKIP_UNCHANGED,
)

# --- Output keys, relative to OUTPUT_PREFIX: runs/<run_id>/<file>, then the pointer.
RUNS_FOLDER = "runs/"
LATEST_POINTER = "latest.json"
QUALITY_HISTORY = "quality/history.json"  # the profiles of earlier successful runs
OUTPUT_FILES = {
    "cleaned": "cleaned.csv",
    "correlation": "correlation.csv",
    "summary": "summary.json",
    "dtypes": "dtypes.json",
    "quality": "quality.json",
    "log": "run.json",
}
RUN_DOCUMENT = OUTPUT_FILES["log"]
# Keys of latest.json.
L_RUN_ID, L_FINISHED_AT, L_OUTPUTS = "run_id", "finished_at", "outputs"
# latest.json's (and run.json's) record of what the run used: a later run with the same one skips.
L_FINGERPRINT = "fingerprint"


def spark_flag(variable: str) -> str:
    """The Spark job's flag for one of these environment variables: MAX_COLUMNS -> --max-columns."""
    return "--" + variable.lower().replace("_", "-")


def run_folder(output_prefix: str, run_id: str) -> str:
    return f"{output_prefix}{RUNS_FOLDER}{run_id}/"


def latest_key(output_prefix: str) -> str:
    return f"{output_prefix}{LATEST_POINTER}"
