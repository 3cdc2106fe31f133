"""Distribu's reports, one stream each: sales per day, per status and per customer, and inventory.

Field names are Distribu's own (camelCase); the tap adds `date` and `_read_at` to per-day rows
and `snapshot_date` to inventory rows. Range totals are not streamed: they are sums of the rows.
"""

from __future__ import annotations

import typing as t

from singer_sdk import typing as th

from tap_retail_reports.core.records import READ_AT, fill_missing_key
from tap_retail_reports.distribu.client import DistribuDayStream, DistribuRangeStream, DistribuSnapshotStream

Money = th.NumberType
DAY = th.Property("date", th.DateType, required=True, description="The UTC day the figures cover")
SNAPSHOT_DAY = th.Property(
    "snapshot_date", th.DateType, required=True, description="The UTC date of the run that read the snapshot"
)


class SalesDailyStream(DistribuRangeStream):
    """`daily[]` of /reports/sales: one row per day, zeros on quiet days."""

    name = "distribu_sales_daily"
    path = "/api/v1/reports/sales"
    records_jsonpath = "$.data.daily[*]"
    primary_keys = ("date",)
    # `daily[]` is per day, so one call covers many: a year, the vendor's largest bounded preset, answers
    # within its timeout, and a retry repeats one year, not the account's history.
    fixed_window_days = 366
    schema = th.PropertiesList(
        DAY,
        th.Property("orderCount", th.IntegerType),
        th.Property("revenue", Money, description="All orders placed that day, cancelled ones included"),
    ).to_dict()


# The statuses the document lists for byStatus, in the order orders move through them.
DOCUMENTED_STATUSES = ("SUBMITTED", "CONFIRMED", "SHIPPED", "DELIVERED", "CANCELLED")


class SalesByStatusStream(DistribuDayStream):
    """`byStatus[]` of /reports/sales for one day: orders placed that day, by their current status. Distribu
    leaves out statuses without orders, so each absent one is a zero row, which overwrites a re-read day's old figure."""

    name = "distribu_sales_by_status"
    path = "/api/v1/reports/sales"
    records_jsonpath = "$.data.byStatus[*]"
    primary_keys = ("date", "status")
    schema = th.PropertiesList(
        DAY,
        th.Property("status", th.StringType, required=True),
        th.Property("orderCount", th.IntegerType),
        th.Property("revenue", Money),
        READ_AT,
    ).to_dict()

    def complete_day(self, rows: t.Iterable[dict]) -> t.Iterator[dict]:
        sent = set()
        for row in rows:
            sent.add(row.get("status"))
            yield row
        for status in DOCUMENTED_STATUSES:
            if status not in sent:
                yield {"status": status, "orderCount": 0, "revenue": 0}


class CustomerSalesStream(DistribuDayStream):
    """`rows[]` of /reports/customers for one day: customers with an order that day. A dashboard order's row
    has no `customerId` and gets `no-customerId:<16 hex>`, a hash of its customerName and customerEmail."""

    name = "distribu_customer_sales"
    path = "/api/v1/reports/customers"
    records_jsonpath = "$.data.rows[*]"
    primary_keys = ("date", "customerId")
    schema = th.PropertiesList(
        DAY,
        th.Property("customerId", th.StringType, required=True),
        th.Property("customerName", th.StringType, description="The name on the customer record today"),
        th.Property("customerEmail", th.StringType),
        th.Property("orderCount", th.IntegerType),
        th.Property("revenue", Money),
        th.Property("lastOrderAt", th.DateTimeType),
        READ_AT,
    ).to_dict()

    def complete_day(self, rows: t.Iterable[dict]) -> t.Iterator[dict]:
        return fill_missing_key(rows, "customerId", ("customerName", "customerEmail"))


class InventoryStream(DistribuSnapshotStream):
    """`rows[]` of /reports/inventory: active products; stock may be negative, kept as reported."""

    name = "distribu_inventory"
    part = "rows"
    primary_keys = ("snapshot_date", "productId")
    schema = th.PropertiesList(
        SNAPSHOT_DAY,
        th.Property("productId", th.StringType, required=True),
        th.Property("name", th.StringType),
        th.Property("sku", th.StringType),
        th.Property("category", th.StringType),
        th.Property("stock", th.IntegerType),
        th.Property("unitPrice", Money),
        th.Property("value", Money, description="stock x unitPrice at the current price"),
        th.Property("isActive", th.BooleanType),
    ).to_dict()


class InventoryCategoriesStream(DistribuSnapshotStream):
    """`groups[]` of /reports/inventory: one row per category, "Uncategorised" for products without one."""

    name = "distribu_inventory_categories"
    part = "groups"
    primary_keys = ("snapshot_date", "category")
    schema = th.PropertiesList(
        SNAPSHOT_DAY,
        th.Property("category", th.StringType, required=True),
        th.Property("productCount", th.IntegerType),
        th.Property("totalUnits", th.IntegerType),
        th.Property("totalValue", Money),
    ).to_dict()


STREAMS = (
    SalesDailyStream,
    SalesByStatusStream,
    CustomerSalesStream,
    InventoryStream,
    InventoryCategoriesStream,
)
