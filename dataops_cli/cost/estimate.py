"""Glue between the CLI and the cost model: pick prices, gather figures, build the breakdown.

Kept out of cli/ so `cost`, `up --dry-run` and `status` share one path, and tests can
swap the Price List client (`pricing_client`) without touching AWS.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from dataops_cli.aws import Aws, DataopsError
from dataops_cli.config import Config
from dataops_cli.cost.breakdown import breakdown
from dataops_cli.cost.inputs import (
    Measured,
    WhatIf,
    build_usage,
    compare_engines,
)
from dataops_cli.cost.model import Breakdown
from dataops_cli.cost.prices import PriceTable, UnknownRegionError, api_prices, endpoint_region, table_prices
from dataops_cli.cost.skipping import comparison


def pricing_client(app: Any) -> Any:
    """A Price List API client in the endpoint region nearest the stack (real AWS only)."""
    return Aws(region=endpoint_region(app.config.region), profile=app.profile).client("pricing")


def load_prices(app: Any, use_api: bool, today: str | None = None) -> PriceTable:
    region = app.config.region
    if not use_api:
        return _table(region)
    if app.local:
        table = _table(region)
        return PriceTable(region, table.prices, f"{table.source}: the emulator has no Price List API", table.notes)
    today = today or datetime.now().date().isoformat()
    return api_prices(pricing_client(app), region, today)


def _table(region: str) -> PriceTable:
    try:
        return table_prices(region)
    except UnknownRegionError as exc:
        raise DataopsError(str(exc), "dataops cost --pricing-api asks AWS for this region's prices") from None


def estimate(app: Any, what_if: WhatIf, measure_stack: bool, pricing_api: bool) -> Breakdown:
    """The monthly breakdown; with `measure_stack`, figures a deployed stack measured replace the model's."""
    config = app.config
    try:
        prices = load_prices(app, pricing_api)
    except UnknownRegionError as exc:
        raise DataopsError(str(exc)) from None
    measured = None
    reasons: list[str] = []
    if measure_stack:
        try:
            measured = app.engine.measure(app.aws())
            reasons = measured.reasons or []
        except (DataopsError, ClientError, BotoCoreError) as exc:  # e.g. --local with no emulator running
            reasons = [f"stack not read ({exc})"]
            measured = None
    usage = build_usage(config, what_if, measured)
    result = breakdown(usage, prices)
    result.engines = compare_engines(config, what_if, measured or Measured(), prices)
    result.skipping = skip_comparison(config, what_if, measured, prices)
    if reasons:
        result.sources["not measured"] = "; ".join(reasons) + " (model used for those figures)"
    return result


def skip_comparison(config: Config, what_if: WhatIf, measured: Measured | None, prices: PriceTable) -> dict:
    """The same month with pipeline.skip_unchanged on and off, whichever the config says."""
    usages = {
        on: build_usage(replace(config, pipeline=replace(config.pipeline, skip_unchanged=on)), what_if, measured)
        for on in (True, False)
    }
    return comparison(
        breakdown(usages[True], prices),
        breakdown(usages[False], prices),
        usages[True],
        config.pipeline.skip_unchanged,
    )
