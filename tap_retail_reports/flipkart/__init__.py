"""Flipkart: asynchronous report jobs with signed, expiring download links."""

from __future__ import annotations

from singer_sdk import typing as th

from tap_retail_reports.core.config import Vendor, check_string_list

RANGE_REPORTS = (
    "gst_returns_report", "sales_ledger", "settled_transaction_ledger", "financial_year_ledger",
    "fbf_orders_report", "returns_report", "orders_report",
)
WAREHOUSE_REPORTS = ("stock_ledger", "mir_ledger")
SNAPSHOT_REPORTS = ("current_inventory_report", "stranded_inventory_report", "unsellable_inventory_report")
REPORT_TYPES = RANGE_REPORTS + WAREHOUSE_REPORTS + SNAPSHOT_REPORTS


def _check(config: dict) -> list[str]:
    problems = check_string_list("flipkart.warehouse_ids", config.get("warehouse_ids"))
    if config.get("refresh_token") and not (config.get("client_id") and config.get("client_secret")):
        # Beside an access_token the vendor is active, yet the token could never be renewed.
        problems.append("flipkart.refresh_token needs flipkart.client_id and flipkart.client_secret: "
                        "the refresh grant authenticates the app with them")
    return problems


def _streams(config: dict) -> list:
    """Every report type; the warehouse-scoped ones only when warehouses are configured."""
    from tap_retail_reports.flipkart.streams import STREAMS, WAREHOUSE_TYPES

    warehouses = bool(config.get("warehouse_ids"))
    return [STREAMS[r] for r in REPORT_TYPES if warehouses or r not in WAREHOUSE_TYPES]


VENDOR = Vendor(
    key="flipkart",
    title="Flipkart",
    default_base_url="https://api.flipkart.net",
    settings=[
        th.Property("client_id", th.StringType, description="OAuth client id (of the seller's or the partner's app)"),
        th.Property("client_secret", th.StringType, secret=True, description="OAuth client secret"),
        th.Property("refresh_token", th.StringType, secret=True,
                    description="A partner (third-party app) refresh token: access tokens are renewed with it and "
                    "client_id/client_secret; Flipkart's Reports API takes partner tokens"),
        th.Property("access_token", th.StringType, secret=True,
                    description="A partner access token, used as given (renewed with refresh_token when that is set too)"),
        th.Property("warehouse_ids", th.ArrayType(th.StringType), description="Warehouses for the warehouse-scoped report types"),
    ],
    credential_sets=(("client_id", "client_secret"), ("access_token",)),  # refresh_token: with the first (see _check)
    check=_check,
    streams=_streams,
)
