"""Distribu simulator: the three report endpoints of the vendor document, a bearer key, 60 calls a minute.

data.py generates the account (customers, products, orders per day) and computes the reports;
app.py serves them over HTTP with the key's scopes and rate limit.

Settings (`POST /_sandbox/vendor/distribu`): `requests_per_minute` and
`window_seconds` scale the rate limit (a test can use a 1 s "minute"); `today`
("YYYY-MM-DD", null for the real UTC date) fixes the day presets end on and order
statuses are computed at, so two runs at two settings see orders move from SUBMITTED
to DELIVERED. `removed_products` lists product ids deleted upstream (gone from the inventory report).
Orders made in the dashboard have no customer: `dashboard_orders_per_day` (default 0) adds that many
a day; in /reports/customers each is a row whose `customerId` is null, absent or "" as
`dashboard_customer_id` says ("null", "absent", "empty"), one row per order or one for the day's
dashboard orders together as `dashboard_rows` says ("per_order", "grouped"); its customerName is
null or what was typed in ("Walk-in", "Phone order"), its customerEmail null.
The answer carries the settings and every request's arrival time per key.
"""

from tap_retail_reports.sandbox.distribu.app import PRESETS, SCOPES, App, parse_js_date, preset_range
from tap_retail_reports.sandbox.distribu.data import (
    FIRST_DAY,
    STATUSES,
    Account,
    Customer,
    Order,
    Product,
    days_between,
    end_of,
    iso_ms,
    money,
    start_of,
)

__all__ = [
    "FIRST_DAY", "PRESETS", "SCOPES", "STATUSES",
    "Account", "App", "Customer", "Order", "Product",
    "days_between", "end_of", "iso_ms", "money", "parse_js_date", "preset_range", "start_of",
]
