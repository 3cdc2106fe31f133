"""FoxyCart (hAPI): asynchronous report jobs delivered as zipped CSV."""

from __future__ import annotations

import re

from singer_sdk import typing as th

from tap_retail_reports.core.config import Vendor, check_choices

REPORTS = ("complete", "customers", "customers_ltv", "transactions")
DEFAULT_REPORTS = ("complete", "customers", "customers_ltv")


def _check(config: dict) -> list[str]:
    problems = check_choices("foxycart.reports", config.get("reports"), REPORTS)
    store_id = config.get("store_id")
    if store_id is not None and not re.fullmatch(r"\d+", str(store_id)):
        problems.append(f"foxycart.store_id must be a string of digits, got {store_id!r}")
    return problems


def _streams(config: dict) -> list:
    from tap_retail_reports.foxycart.streams import STREAMS

    return [STREAMS[report] for report in REPORTS if report in (config.get("reports") or DEFAULT_REPORTS)]


VENDOR = Vendor(
    key="foxycart",
    title="FoxyCart",
    default_base_url="https://api.foxycart.com",
    settings=[
        th.Property("client_id", th.StringType, description="OAuth client id"),
        th.Property("client_secret", th.StringType, secret=True, description="OAuth client secret"),
        th.Property("refresh_token", th.StringType, secret=True, description="OAuth refresh token"),
        th.Property("store_id", th.StringType, description="Store id, a string of digits (required)"),
        th.Property("reports", th.ArrayType(th.StringType), description=f"Reports to read; default {', '.join(DEFAULT_REPORTS)}"),
    ],
    credential_sets=(("client_id", "client_secret", "refresh_token"),),
    required=("store_id",),
    check=_check,
    streams=_streams,
)
