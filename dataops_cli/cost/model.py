"""The monthly bill of the stack: usage figures + a price table -> one row per billed item.

Pure: no AWS calls, no config file, no rich. `inputs.py` and `measured.py` gather the figures (from the
config, the model of the handler, or what a deployed stack measured) and the CLI renders
the rows; `status` and `up --dry-run` call the same `breakdown`.

What one run does is written down once, below, as data: adding an S3 write, an EMF
metric, an alarm or a dashboard is one line in these tuples (tests/functional/test_cost.py checks
them against the real handler run under moto, so they cannot silently drift). An engine
(Lambda today, Glue next) is a function from Usage to its own billed lines, registered
in ENGINES; the storage and monitoring lines are shared by every engine.

With pipeline.skip_unchanged a run on an unchanged input does almost nothing
(SKIPPED_RUN_READS, no writes): `Usage.processing_runs` says how many runs do the work and
skipping.py holds a skipped run's time and log; the rest of the month's runs skip.

A month is 30 days (720 hours): rate(2 minutes) is 21,600 runs. Quantities are monthly
averages in steady state (run outputs kept `run_retention_days`, logs kept
`log_retention_days`).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field

from handler import contract
from handler.s3io import PART_BYTES

MONTH_DAYS = 30
MONTH_HOURS = MONTH_DAYS * 24
GB = 1024**3  # AWS bills GB of storage, ingestion and memory as 2^30 bytes (memory: MB/1024)
FULL_VCPU_MB = 1769  # Lambda gives one full vCPU at 1,769 MB, proportionally less below
LOGS_COMPRESSION = 0.15  # CloudWatch Logs bills stored logs compressed; AWS's own examples assume 0.15
LOG_EVENT_OVERHEAD = 26  # bytes PutLogEvents counts per event on top of its message

# --------------------------------------------------------------- what one run does (data)
# S3 objects written under processed/runs/<run_id>/ and kept by the lifecycle rule:
RUN_FILES = ("cleaned.csv", "correlation.csv", "summary.json", "dtypes.json", "quality.json", "run.json")
STREAMED_FILES = ("cleaned.csv",)  # MultipartSink: one PUT below PART_BYTES, else create + parts + complete
# Overwritten every run (no versioning): one PUT a run, one small object each (the history: ~66 kB at 20 runs).
POINTER_FILES = ("latest.json", "quality/history.json")
# GET-class requests of a run that processes (the input is read again only if a column turns out
# to be text): one GetObject of the input, whose answer carries its size and ETag (S3Input.fetch
# in handler/s3io.py: no HeadObject since issue 22), and the quality history (handler/run_history.py).
RUN_READS = ("GetObject input", "GetObject quality/history.json")
# pipeline.skip_unchanged (SKIP_UNCHANGED, handler/run_skip.py): every run also GETs latest.json,
# beside the input's GET, to compare the published run's fingerprint with its own.
SKIP_CHECK_READS = ("GetObject latest.json",)
# A run that finds input, settings and code unchanged makes only those two requests (the input's
# body closed unread) and writes nothing: docs/BENCHMARKS.md "Issue 22", step 3.
SKIPPED_RUN_READS = ("GetObject input (body closed unread)", "GetObject latest.json")
# How often the input changes when nothing says (`dataops cost --input-changes-per-day`): a
# daily upload. A run after a change processes; the schedule's other runs skip.
DEFAULT_INPUT_CHANGES_PER_DAY = 1.0
LISTS = ()  # the handler never lists the bucket
# Embedded Metric Format: every metric x every dimension set is one custom metric.
EMF_METRICS = tuple(contract.METRIC_UNITS)  # the handler's: each is a custom metric, billed per month
EMF_DIMENSION_SETS = ((contract.METRIC_DIMENSION,),)
ALARMS = ("errors", "quality")  # alarm.enabled: Errors on AWS/Lambda, QualityFailures on DataOps/Pipeline
DASHBOARDS = ("pipeline",)
PLATFORM_LOG_LINES = ("START", "END", "REPORT")  # written by Lambda around every run

# --------------------------------------------------------------- the Glue engine (data)
# AWS Glue pricing (https://aws.amazon.com/glue/pricing/, read via the project's search tool
# on 2026-11-26; AWS-NOTES.md "Pricing anchors" agrees): Spark jobs on Glue 2.0 and later are
# billed $0.44 per DPU-hour in us-east-1, per second, with a 1-minute minimum per run; the
# page's example: 6 DPUs for 15 minutes = 6 x 0.25 h x $0.44 = $0.66. A G.1X worker is 1 DPU
# (4 vCPU, 16 GB), G.2X 2, G.4X 4, G.8X 8, and every worker counts, the driver's included.
GLUE_DPU_PER_WORKER = {"G.1X": 1, "G.2X": 2, "G.4X": 4, "G.8X": 8}
GLUE_VCPU_PER_DPU = 4
GLUE_MIN_BILLED_SECONDS = 60
GLUE_MIN_WORKERS, GLUE_MIN_WORKER_TYPE = 2, "G.1X"  # the smallest job config allows (one driver, one executor)
# What a Spark run writes and reads in S3 (handler/spark_job/job.py): the side files, the
# manifest, run.json and latest.json, and one cleaned part per input partition (Spark splits
# its input at 128 MiB, spark.sql.files.maxPartitionBytes); one LIST of the cleaned folder.
# Not counted: the requests Spark's S3 committer makes around each part (HEAD/LIST markers).
# quality.json and the quality history since issue 12 (handler/spark_job/job.py, history.py).
SPARK_RUN_FILES = (
    "correlation.csv",
    "summary.json",
    "dtypes.json",
    "quality.json",
    "cleaned_manifest.json",
    "run.json",
)
SPARK_POINTER_FILES = ("latest.json", "quality/history.json")
SPARK_PARTITION_BYTES = 128 * 1024**2
SPARK_READS = (
    "GetObject quality/history.json",
    "HeadObject input",
    "GetObject input sample",
    "HeadObject input (unchanged?)",
)
# glue.* SKIP_UNCHANGED (handler/spark_job/skip.py, called by __main__.py before any Spark
# session): latest.json and a HeadObject of the input. A skipped run makes only these two; it
# exits in seconds, but Glue bills every run at least GLUE_MIN_BILLED_SECONDS of the job's DPUs.
SPARK_SKIP_CHECK_READS = ("GetObject latest.json", "HeadObject input (skip check)")

FREE_ITEMS = (
    "S3 default encryption is SSE-S3 (AES256): free; no resource uses KMS keys",
    "Lambda environment variables use the AWS managed key: free",
    "S3 lifecycle expirations and DELETE requests: free",
    "AWS/Lambda, AWS/Scheduler and AWS/S3 metrics: free (basic monitoring)",
    "S3 <-> Lambda data transfer in one region: free",
    "IAM roles, the log group, the schedule group and the SNS topic itself: free",
    "Lambda's 512 MB of /tmp: free (the function uses none)",
)
GLUE_FREE_ITEMS = (
    "Glue Job State Change events, the two EventBridge rules that match them and their AWS/Events "
    "MatchedEvents metric (the errors alarm and the dashboard read it): free",
    "Glue's job metrics and observability metrics are not enabled (they would be custom metrics per run)",
)
NOT_COUNTED = (
    "Opening the dashboard runs Logs Insights queries ($ per GB scanned) and `dataops status` makes one "
    "GetMetricData call (about 20 metrics, $0.01 per 1,000): both depend on how often you look",
    "Failed runs retried by Lambda or the scheduler add requests and compute",
    "One-off costs of `up` (uploading the input, a few API calls)",
)


@dataclass(frozen=True)
class Figure:
    """A number the bill depends on, and where it came from."""

    value: float
    source: str


@dataclass(frozen=True)
class Usage:
    """Everything the monthly bill depends on (per month, or per run where named so)."""

    region: str
    runs: Figure  # runs per month
    duration_ms: Figure  # average duration of one run
    memory_mb: int
    architecture: str  # x86_64 / arm64
    input_bytes: Figure
    cleaned_bytes: Figure  # per run: the streamed file
    other_output_bytes: Figure  # per run: the other RUN_FILES
    log_bytes: Figure  # per run, as ingested (messages + per-event overhead)
    run_retention_days: int
    log_retention_days: int
    active_hours: Figure  # hours of the month with at least one run (custom metrics are billed per hour)
    alarms: int = len(ALARMS)
    dashboards: int = len(DASHBOARDS)
    alarm_email: bool = False
    engine: str = "lambda"
    stored_bytes: Figure | None = None  # S3 bytes measured (status); None = steady state from runs and retention
    timeout_seconds: int = 0  # function.timeout_seconds (glue: timeout_minutes x 60): a longer run is a warning
    glue_workers: int = GLUE_MIN_WORKERS  # engine glue: glue.number_of_workers
    glue_worker_type: str = GLUE_MIN_WORKER_TYPE  # engine glue: glue.worker_type
    skip_unchanged: bool = False  # pipeline.skip_unchanged: runs on an unchanged input skip
    processing_runs: Figure | None = None  # per month, of `runs`; None: every run processes
    skipped_duration_ms: Figure | None = None  # average duration of one skipped run
    skipped_log_bytes: Figure | None = None  # per skipped run, as ingested

    @property
    def processing(self) -> float:
        """Runs a month that process the input (all of them unless skipping is on)."""
        if not self.skip_unchanged or self.processing_runs is None:
            return self.runs.value
        return min(self.runs.value, self.processing_runs.value)

    @property
    def skipped(self) -> float:
        return self.runs.value - self.processing

    @property
    def output_bytes(self) -> float:
        return self.cleaned_bytes.value + self.other_output_bytes.value


@dataclass(frozen=True)
class Line:
    """A billed quantity before prices: which price applies and how the quantity was reached."""

    key: str
    service: str
    item: str
    quantity: float
    price: str
    basis: str


@dataclass
class CostRow:
    key: str
    service: str
    item: str
    quantity: float
    unit: str
    usd_per_unit: float
    display_per: int
    cost: float  # list price, before the free tier
    free_allowance: float  # the monthly always-free allowance for this item (shared pools counted once)
    free_applied: float  # units of it used by this row
    to_pay: float
    basis: str
    verified: bool
    page: str
    read: str


@dataclass
class Breakdown:
    region: str
    engine: str
    rows: list[CostRow]
    total: float
    total_to_pay: float
    prices: str
    price_notes: list[str]
    sources: dict[str, str]
    warnings: list[str] = field(default_factory=list)
    engines: list[dict] = field(default_factory=list)  # both engines side by side (inputs.compare_engines)
    skipping: dict | None = None  # the month with and without pipeline.skip_unchanged (skipping.comparison)
    free_items: list[str] = field(default_factory=lambda: list(FREE_ITEMS))
    not_counted: list[str] = field(default_factory=lambda: list(NOT_COUNTED))
    month: str = f"{MONTH_DAYS} days"

    def row(self, key: str) -> CostRow:
        return next(r for r in self.rows if r.key == key)

    def to_dict(self) -> dict:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)


# --------------------------------------------------------------- per-run arithmetic


def put_requests_per_run(cleaned_bytes: float) -> int:
    """PUT-class requests of one successful run (PUT, POST, COPY, LIST are one price tier)."""
    streamed = multipart_requests(cleaned_bytes) * len(STREAMED_FILES)
    single = len(RUN_FILES) - len(STREAMED_FILES) + len(POINTER_FILES)
    return streamed + single + len(LISTS)


def multipart_requests(size: float) -> int:
    """One PutObject when the file fits one part; else CreateMultipartUpload + UploadPart x n + Complete."""
    if size <= PART_BYTES:
        return 1
    return 2 + math.ceil(size / PART_BYTES)


def get_requests_per_run(skip_unchanged: bool = False) -> int:
    """GET-class requests of a run that processes: one more (latest.json) with skip_unchanged."""
    return len(RUN_READS) + (len(SKIP_CHECK_READS) if skip_unchanged else 0)


def processing_runs(runs: float, changes_per_day: float) -> float:
    """Runs a month that find a new input: one per change, at most every run (steady state: the
    first run after `up` also processes, once)."""
    if changes_per_day < 0 or math.isnan(changes_per_day) or math.isinf(changes_per_day):
        raise ValueError(f"input changes per day must be a number >= 0, not {changes_per_day!r}")
    return min(runs, changes_per_day * MONTH_DAYS)


def custom_metrics() -> int:
    return len(EMF_METRICS) * len(EMF_DIMENSION_SETS)


def billed_ms(duration_ms: float) -> int:
    """Lambda rounds every run up to the next millisecond."""
    return math.ceil(duration_ms)


def cpu_share(memory_mb: int) -> float:
    return min(1.0, memory_mb / FULL_VCPU_MB)


def rescale_duration(duration_ms: float, from_mb: int, to_mb: int) -> float:
    """CPU-bound work runs in inverse proportion to the CPU share memory buys (capped at one vCPU)."""
    return duration_ms * cpu_share(from_mb) / cpu_share(to_mb)


def glue_dpus(worker_type: str, workers: int) -> int:
    if worker_type not in GLUE_DPU_PER_WORKER:
        raise ValueError(f"unknown Glue worker type {worker_type!r}: expected one of {', '.join(GLUE_DPU_PER_WORKER)}")
    if workers < GLUE_MIN_WORKERS:
        raise ValueError(f"a Glue job needs at least {GLUE_MIN_WORKERS} workers (one driver), not {workers}")
    return GLUE_DPU_PER_WORKER[worker_type] * workers


def glue_billed_seconds(seconds: float) -> int:
    """Glue bills whole seconds, at least a minute per run."""
    return max(GLUE_MIN_BILLED_SECONDS, math.ceil(seconds))


def glue_run_cost(seconds: float, worker_type: str, workers: int, usd_per_dpu_hour: float) -> float:
    return glue_billed_seconds(seconds) / 3600 * glue_dpus(worker_type, workers) * usd_per_dpu_hour
