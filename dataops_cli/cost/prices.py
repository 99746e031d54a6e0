"""What AWS charges per unit, per region: a built-in table, or the AWS Price List API.

The table is data, not arithmetic: each price says which AWS page it came from, when it
was read, and whether it was checked against a source (`verified`) or is the author's
best knowledge of the page, to be confirmed with `--pricing-api`. This machine cannot
reach aws.amazon.com, so the verified prices come from the hand-checked anchors in
AWS-NOTES.md ("Pricing anchors", dated 2026-11-26) and from copies of the pricing pages
found with the project's search tool; everything else is flagged.

A region without a table entry is an error (`UnknownRegionError`), never a guess.
Free tier allowances are the always-free monthly ones (per account, shared with the
account's other usage); the 12-month S3 offer is not counted (accounts opened after
2025-07-15 get credits instead).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

LAMBDA_PAGE = "https://aws.amazon.com/lambda/pricing/"
S3_PAGE = "https://aws.amazon.com/s3/pricing/"
CLOUDWATCH_PAGE = "https://aws.amazon.com/cloudwatch/pricing/"
EVENTBRIDGE_PAGE = "https://aws.amazon.com/eventbridge/pricing/"
SNS_PAGE = "https://aws.amazon.com/sns/pricing/"
GLUE_PAGE = "https://aws.amazon.com/glue/pricing/"
ANCHORS_READ = "2026-11-26"  # date of /work/shared/AWS-NOTES.md "Pricing anchors"
UNVERIFIED = "not verified here (no internet): the author's reading of the page; check with --pricing-api"


class UnknownRegionError(ValueError):
    """No built-in prices for this region; the message says which regions have them."""


@dataclass(frozen=True)
class Price:
    """USD per one `unit`; `free` units a month are free (always-free tier), drawn from `free_pool`."""

    usd: float
    unit: str
    page: str
    read: str
    verified: bool
    free: float = 0.0
    free_pool: str = ""  # allowances shared by several items (Lambda GB-s across architectures, Logs 5 GB)
    display_per: int = 1  # show the price per this many units (1,000 requests, 1M requests)
    note: str = ""

    @property
    def pool(self) -> str:
        return self.free_pool or self.unit


@dataclass(frozen=True)
class PriceTable:
    region: str
    prices: Mapping[str, Price]
    source: str  # "built-in table" or "AWS Price List API ..."
    notes: tuple[str, ...] = field(default_factory=tuple)

    def __getitem__(self, key: str) -> Price:
        return self.prices[key]


def _p(usd: float, unit: str, page: str, verified: bool, note: str = "", **kw: Any) -> Price:
    if not verified:
        note = f"{note}; {UNVERIFIED}" if note else UNVERIFIED
    return Price(usd, unit, page, ANCHORS_READ if verified else "", verified, note=note, **kw)


def _common(
    *,
    gb_s_x86: float,
    gb_s_arm: float,
    scheduler: float,
    s3_gb: float,
    logs_in: float,
    logs_gb: float,
    verified_regional: bool,
) -> dict[str, Price]:
    """One region's prices; `verified_regional` marks the region-dependent ones as checked."""
    v = verified_regional
    return {
        "lambda_requests": _p(
            0.20 / 1e6, "request", LAMBDA_PAGE, True, free=1_000_000, display_per=1_000_000, free_pool="lambda_req"
        ),
        "lambda_gb_s_x86_64": _p(gb_s_x86, "GB-second", LAMBDA_PAGE, v, free=400_000, free_pool="lambda_gb_s"),
        "lambda_gb_s_arm64": _p(
            gb_s_arm,
            "GB-second",
            LAMBDA_PAGE,
            False,
            free=400_000,
            free_pool="lambda_gb_s",
            note="not in the anchors; a third-party copy of the page agrees for us-east-1",
        ),
        "scheduler_invocations": _p(
            scheduler, "invocation", EVENTBRIDGE_PAGE, v, free=14_000_000, display_per=1_000_000
        ),
        "s3_storage": _p(s3_gb, "GB-month", S3_PAGE, False, note="S3 Standard, first 50 TB"),
        "s3_put": _p(0.005 / 1000, "request", S3_PAGE, v, display_per=1000, note="PUT, COPY, POST, LIST"),
        "s3_get": _p(0.0004 / 1000, "request", S3_PAGE, v, display_per=1000, note="GET, HEAD and all other"),
        "logs_ingestion": _p(logs_in, "GB", CLOUDWATCH_PAGE, v, free=5, free_pool="cw_logs_5gb"),
        "logs_storage": _p(logs_gb, "GB-month", CLOUDWATCH_PAGE, False, free=5, free_pool="cw_logs_5gb"),
        "custom_metrics": _p(0.30, "metric-month", CLOUDWATCH_PAGE, v, free=10, note="first 10,000 metrics"),
        "dashboards": _p(3.00, "dashboard-month", CLOUDWATCH_PAGE, True, free=3),
        "alarms": _p(0.10, "alarm-month", CLOUDWATCH_PAGE, v, free=10, note="standard resolution"),
        "sns_email": _p(2.00 / 100_000, "notification", SNS_PAGE, False, free=1000, display_per=100_000),
        "glue_dpu_hours": _p(0.44, "DPU-hour", GLUE_PAGE, v, note="1-minute minimum per job run"),
    }


# us-east-1 is what the AWS-NOTES anchors (and the pages' own examples) quote; the other two
# regions' region-dependent prices are flagged unverified unless a source confirmed them.
TABLE: dict[str, dict[str, Price]] = {
    "us-east-1": _common(
        gb_s_x86=0.0000166667,
        gb_s_arm=0.0000133334,
        scheduler=1.00 / 1e6,
        s3_gb=0.023,
        logs_in=0.50,
        logs_gb=0.03,
        verified_regional=True,
    ),
    "ap-south-1": _common(
        gb_s_x86=0.0000166667,
        gb_s_arm=0.0000133334,
        scheduler=1.00 / 1e6,
        s3_gb=0.025,
        logs_in=0.50,
        logs_gb=0.03,
        verified_regional=False,
    ),
    "eu-west-1": _common(
        gb_s_x86=0.0000166667,
        gb_s_arm=0.0000133334,
        scheduler=1.00 / 1e6,
        s3_gb=0.023,
        logs_in=0.57,
        logs_gb=0.03,
        verified_regional=False,
    ),
}
# The two prices the anchors give without a region (the same everywhere on the pages):
# Lambda requests $0.20/1M and dashboards $3.00. Mumbai's Lambda x86 GB-s rate was also seen
# in a third-party table (0.00001667); kept unverified since that is not AWS's page.
TABLE["ap-south-1"]["lambda_gb_s_x86_64"] = replace(
    TABLE["ap-south-1"]["lambda_gb_s_x86_64"], note=f"a third-party table agrees (0.00001667); {UNVERIFIED}"
)


def table_prices(region: str) -> PriceTable:
    if region not in TABLE:
        known = ", ".join(sorted(TABLE))
        raise UnknownRegionError(
            f"no built-in prices for region {region!r} (the table has {known}); "
            "use --pricing-api to ask AWS, or pick one of those with --region"
        )
    unverified = sorted(k for k, p in TABLE[region].items() if not p.verified)
    notes = (f"unverified prices (flagged *): {', '.join(unverified)}",) if unverified else ()
    return PriceTable(region, TABLE[region], f"built-in table (verified prices read {ANCHORS_READ})", notes)


# --------------------------------------------------------------------------- Price List API

# Each table key -> (service code, usage type suffixes). Usage types carry a region prefix
# (APS3-, EU-, USE1- or none), so they are matched without it among the region's products.
# Checked: `AWSEvents` / `<prefix>-ScheduledInvocation` with a $0 tier to 14M (a copy of the
# Price List, effective 2025-01-01, which also shows regions differ: Tokyo is $1.25/1M).
# The others follow AWS's usage-type naming but were not checked against a live answer
# here (no internet): an item the answer lacks keeps the table price, and the output says so.
API_USAGE_TYPES: dict[str, tuple[str, tuple[str, ...]]] = {
    "lambda_requests": ("AWSLambda", ("Request",)),
    "lambda_gb_s_x86_64": ("AWSLambda", ("Lambda-GB-Second",)),
    "lambda_gb_s_arm64": ("AWSLambda", ("Lambda-GB-Second-ARM",)),
    "scheduler_invocations": ("AWSEvents", ("ScheduledInvocation",)),
    "s3_storage": ("AmazonS3", ("TimedStorage-ByteHrs",)),
    "s3_put": ("AmazonS3", ("Requests-Tier1",)),
    "s3_get": ("AmazonS3", ("Requests-Tier2",)),
    "logs_ingestion": ("AmazonCloudWatch", ("VendedLog-Bytes", "DataProcessing-Bytes")),
    "logs_storage": ("AmazonCloudWatch", ("TimedStorage-ByteHrs",)),
    "custom_metrics": ("AmazonCloudWatch", ("CW:MetricMonitorUsage",)),
    "dashboards": ("AmazonCloudWatch", ("DashboardsUsageHour", "DashboardsUsageHour-Basic")),
    "alarms": ("AmazonCloudWatch", ("CW:AlarmMonitorUsage",)),
    "sns_email": ("AmazonSNS", ("SMTP",)),
    "glue_dpu_hours": ("AWSGlue", ("ETL-DPU-Hour",)),
}
_REGION_PREFIX = re.compile(r"[A-Z]{2,4}\d?")
PRICING_API_PAGE = "https://docs.aws.amazon.com/aws-cost-management/latest/APIReference/API_pricing_GetProducts.html"


def endpoint_region(stack_region: str) -> str:
    """The Price List API answers in us-east-1 and ap-south-1 (and eu-central-1): the nearer one."""
    return "ap-south-1" if stack_region.startswith(("ap-", "me-", "af-")) else "us-east-1"


def api_prices(client: Any, region: str, today: str) -> PriceTable:
    """Ask pricing:GetProducts for every item; anything it does not answer keeps the table price.

    The table for `region` is the fallback, so a region without a table entry still works
    here only if the API answers every item; otherwise UnknownRegionError names the gaps.
    A failed call (no credentials, AccessDenied, no network) falls back to the whole table
    and says why in `source`.
    """
    fallback = TABLE.get(region, {})
    found: dict[str, Price] = {}
    try:
        by_service: dict[str, list[dict[str, Any]]] = {}
        for service in sorted({s for s, _ in API_USAGE_TYPES.values()}):
            by_service[service] = list(_products(client, service, region))
    except (ClientError, BotoCoreError) as exc:
        if not fallback:
            raise UnknownRegionError(
                f"the Price List API failed ({exc}) and there are no built-in prices for {region!r}"
            ) from exc
        table = table_prices(region)
        return replace(table, source=f"{table.source}: the Price List API failed ({_short(exc)})")
    for key, (service, suffixes) in API_USAGE_TYPES.items():
        usd = _match(by_service.get(service, []), suffixes)
        if usd is None:
            continue
        base = fallback.get(key) or TABLE["us-east-1"][key]  # units, free tier and page are not in the answer
        found[key] = replace(base, usd=usd, read=today, verified=True, note=f"Price List API {today}")
    missing = sorted(set(API_USAGE_TYPES) - set(found))
    if missing and not fallback:
        raise UnknownRegionError(
            f"the Price List API had no price for {', '.join(missing)} in {region!r} and there is no built-in table"
        )
    prices = {**fallback, **found}
    notes = (f"not in the Price List answer, table price used: {', '.join(missing)}",) if missing else ()
    return PriceTable(region, prices, f"AWS Price List API (pricing:GetProducts, {today})", notes)


def _products(client: Any, service: str, region: str) -> Any:
    paginator = client.get_paginator("get_products")
    pages = paginator.paginate(
        ServiceCode=service,
        Filters=[{"Type": "TERM_MATCH", "Field": "regionCode", "Value": region}],
        FormatVersion="aws_v1",
    )
    for page in pages:
        for item in page.get("PriceList", []):
            yield json.loads(item) if isinstance(item, str) else item


def _match(products: list[dict[str, Any]], suffixes: tuple[str, ...]) -> float | None:
    """The first non-zero on-demand tier of the product whose usage type ends with a suffix (in order)."""
    for suffix in suffixes:
        for product in products:
            usage = product.get("product", {}).get("attributes", {}).get("usagetype", "")
            if _without_region_prefix(usage) == suffix:
                price = first_paid_tier(product)
                if price is not None:
                    return price
    return None


def _without_region_prefix(usage_type: str) -> str:
    """APS3-Request -> Request, EU-TimedStorage-ByteHrs -> TimedStorage-ByteHrs; us-east-1 has no prefix."""
    head, _, rest = usage_type.partition("-")
    return rest if rest and _REGION_PREFIX.fullmatch(head) else usage_type


def first_paid_tier(product: Mapping[str, Any]) -> float | None:
    """Tiers are listed as price dimensions with beginRange; the free tier is a $0 dimension."""
    dimensions = [
        d for term in product.get("terms", {}).get("OnDemand", {}).values() for d in term["priceDimensions"].values()
    ]
    dimensions.sort(key=lambda d: float(d.get("beginRange", "0")))
    for dimension in dimensions:
        usd = float(dimension.get("pricePerUnit", {}).get("USD", "0"))
        if usd > 0:
            return usd
    return None


def _short(exc: Exception) -> str:
    text = str(exc)
    return text if len(text) <= 120 else text[:117] + "..."
