"""Retrend: synchronous JSON reports per store and calendar period."""

from __future__ import annotations

from singer_sdk import typing as th

from tap_retail_reports.core.config import Vendor, check_choices
from tap_retail_reports.core.windows import DURATIONS

REPORTS = ("conversation_delta_report", "category_interest_trends", "direct_search_oos_impact")


def _check(config: dict) -> list[str]:
    problems = check_choices("retrend.reports", config.get("reports"), REPORTS)
    problems += check_choices("retrend.durations", config.get("durations"), DURATIONS)
    stores = config.get("store_nums")
    if stores is not None and (
        not isinstance(stores, list) or not stores or not all(isinstance(s, int) and not isinstance(s, bool) for s in stores)
    ):
        problems.append(f"retrend.store_nums must be a non-empty list of store numbers, got {stores!r}")
    return problems


def _streams(config: dict) -> list:
    from tap_retail_reports.retrend.streams import STREAMS

    return [STREAMS[report] for report in REPORTS if report in (config.get("reports") or REPORTS)]


VENDOR = Vendor(
    key="retrend",
    title="Retrend",
    default_base_url="https://api.retrend.ai",
    settings=[
        th.Property("organization_id", th.StringType, description="Sent as the organization-id header"),
        th.Property("api_key", th.StringType, secret=True, description="Creates session tokens (POST /session)"),
        th.Property("session_token", th.StringType, secret=True, description="A ready session token, instead of api_key"),
        th.Property("store_nums", th.ArrayType(th.IntegerType), description="Store numbers to report on (required)"),
        th.Property("reports", th.ArrayType(th.StringType), description=f"Reports to read; default all: {', '.join(REPORTS)}"),
        th.Property("durations", th.ArrayType(th.StringType), description=f"Periods to read, of {', '.join(DURATIONS)}; default daily"),
        th.Property("refresh_current_period", th.BooleanType, description="Also fetch the period in progress with run-now"),
        th.Property("kiosk_id", th.StringType, description="kiosk-id header, for kiosk clients"),
        th.Property("kiosk", th.StringType, description="x-kiosk header"),
        th.Property("temp_kiosk", th.StringType, description="x-temp-kiosk header"),
        th.Property("device_id", th.StringType, description="x-device-id header"),
    ],
    credential_sets=(("organization_id", "api_key"), ("organization_id", "session_token")),
    required=("store_nums",),
    check=_check,
    streams=_streams,
)
