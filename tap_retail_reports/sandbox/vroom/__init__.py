"""Simulated Vroom retailer API: `POST /api/retailer/v1/analytics/<report>` under `/vroom`.

Rows are generated from the seed per (site, UTC day), never stored, so any range from 2024-01-01
(the program's start) to now comes out the same on every call: catalog.py (products, customers),
orders.py (one order and its payments), generate.py (the site-days), reports.py (each report's rows
as of a moment), app.py (HTTP, auth, and the knobs listed in docs/developing.md).

Liberties a real vendor takes, served on purpose so the tap is tested against them:
- Order "Decimal" fields are JSON strings ("12.50"; coordinates to 6 places);
  line items, transactions and sales_by_product send numbers.
- Orders carry an undocumented field, `loyalty_tier`.
- Both time bounds are inclusive; on MIDNIGHT_DAYS every site has an order (with
  its Card transaction), a search and an audit row at exactly 00:00:00 UTC.
- Search terms and audit logs have no ids and repeat in time (a refined search
  in the same second; a bulk update's rows share one timestamp).
- A contact's phone is "" when the number is shared with another contact.
- Transactions ignore site_ids; pending transactions have no payout_id yet.
- Cross-site audit rows (site_id "Management") come whatever site_ids asks for.
- Events that follow an order (refunds, cancelations) may fall on the next day.
"""

from tap_retail_reports.sandbox.vroom.app import API, App
from tap_retail_reports.sandbox.vroom.catalog import MANAGEMENT, SITE_IDS
from tap_retail_reports.sandbox.vroom.reports import ENDPOINTS, ORDER_GROUPS, Query, Reports
from tap_retail_reports.sandbox.vroom.times import MIDNIGHT_DAYS, PROGRAM_START, BadRequest, format_time, parse_time

__all__ = [
    "API", "ENDPOINTS", "MANAGEMENT", "MIDNIGHT_DAYS", "ORDER_GROUPS", "PROGRAM_START", "SITE_IDS",
    "App", "BadRequest", "Query", "Reports", "format_time", "parse_time",
]
