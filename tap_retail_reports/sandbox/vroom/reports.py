"""What each Vroom report answers for a request body, as of a moment.

Rows later than that moment are left out, and orders are shown as they stood then: lifecycle
times still to come are null, a cancelation not yet made is not shown, and sales_by_product
counts an order until it is canceled. So today's answers change from one call to the next, as at
the real vendor.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import typing as t
from dataclasses import dataclass
from decimal import Decimal

from tap_retail_reports.sandbox.vroom.catalog import MANAGEMENT, PRODUCTS_BY_UPC, SITE_IDS
from tap_retail_reports.sandbox.vroom.generate import Event, StoreData
from tap_retail_reports.sandbox.vroom.orders import LATEST_FOLLOW_UP, Order, cents, deposit_date
from tap_retail_reports.sandbox.vroom.times import PROGRAM_START, UTC, BadRequest, days_between, format_time, parse_time

ENDPOINTS = (
    "customer_contacts", "order_statuses", "search_terms", "audit_logs",
    "line_items", "orders", "transactions", "sales_by_product",
)
ORDER_GROUPS = (
    "orders_pending_less_than_ten_mins", "orders_pending_more_than_ten_mins",
    "orders_preparing_less_than_one_hour", "orders_preparing_more_than_one_hour",
    "orders_ready_less_than_one_hour", "orders_ready_more_than_one_hour",
    "orders_completed", "orders_canceled",
)
# Where a request gives no from_time, per the vendor's document (to_time defaults to now).
DEFAULT_LOOKBACK: dict[str, dt.timedelta | None] = {
    "customer_contacts": None,  # the start of the program
    "order_statuses": dt.timedelta(hours=24),
    "transactions": None,  # both bounds required
    **{name: dt.timedelta(days=7) for name in (
        "search_terms", "audit_logs", "line_items", "orders", "sales_by_product")},
}


@dataclass(frozen=True)
class Query:
    """A request body, checked and with the document's defaults filled in."""

    sites: tuple[str, ...]
    start: dt.datetime
    end: dt.datetime
    include_line_items: bool = False


class Reports:
    """The rows of every report for a seed, and the knobs that change how contacts read."""

    def __init__(self, seed: int) -> None:
        self.data = StoreData(seed)
        self.removed_contacts: set[str] = set()  # e-mails customer_contacts no longer lists
        self.phone_only_every = 0  # about one contact in N has only a phone (0: none)
        self.missing_email_as = "null"  # how such a contact's email reads: null, absent or empty

    def rows(self, endpoint: str, body: dict | None = None, now: dt.datetime | None = None) -> list[dict]:
        """The rows `POST /analytics/<endpoint>` answers with `body` at `now` (default: the real now).

        Raises BadRequest for a body Vroom would refuse. `App.handle` serves this, plus `extra_row_fields`.
        """
        if endpoint not in ENDPOINTS:
            raise ValueError(f"unknown Vroom endpoint {endpoint!r}")
        now = now or dt.datetime.now(UTC)
        query = self.query(endpoint, body, now)
        return getattr(self, f"_rows_{endpoint}")(query, now)

    def query(self, endpoint: str, body: t.Any, now: dt.datetime) -> Query:
        """The request body checked, with the vendor's defaults for what it leaves out."""
        body = {} if body is None else body
        if not isinstance(body, dict):
            raise BadRequest("Request body must be a JSON object")
        site_ids = body.get("site_ids")
        if endpoint == "transactions" or site_ids is None:
            sites = SITE_IDS  # transactions takes no site_ids: always every store
        elif isinstance(site_ids, list) and all(isinstance(s, (str, int)) for s in site_ids):
            wanted = {str(s) for s in site_ids}
            sites = tuple(s for s in SITE_IDS if s in wanted)  # unknown ids: no rows, no error
        else:
            raise BadRequest(f"site_ids must be an array of strings, got {site_ids!r}")

        lookback = DEFAULT_LOOKBACK[endpoint]
        times = {}
        for field in ("from_time", "to_time"):
            if body.get(field) is not None:
                times[field] = parse_time(body[field], field)
            elif endpoint == "transactions":
                raise BadRequest(f"{field} is required")
        start = times.get("from_time") or (now - lookback if lookback else PROGRAM_START)
        end = times.get("to_time") or now

        include = body.get("include_line_items")
        if include is not None and not isinstance(include, bool):
            raise BadRequest(f"include_line_items must be true or false, got {include!r}")
        return Query(sites, start, end, bool(include))

    def _orders(self, query: Query, now: dt.datetime) -> list[Order]:
        """Orders created in [start, end] and by now, at the requested sites, oldest first."""
        end = min(query.end, now)
        if query.start > end:
            return []
        found = [
            order
            for site in query.sites
            for day in days_between(max(query.start, PROGRAM_START), end)
            for order in self.data.site_day(site, day).orders
            if query.start <= order.stub.created <= end
        ]
        return sorted(found, key=lambda o: (o.stub.created, o.stub.order_id))

    def _events(self, kind: str, sites: t.Iterable[str], query: Query, now: dt.datetime) -> list[Event]:
        """Time-stamped rows of one kind in [start, end] and by now, oldest first, as (time, copy)."""
        end = min(query.end, now)
        if query.start > end:
            return []
        first = max(query.start - LATEST_FOLLOW_UP, PROGRAM_START)
        found = [
            (moment, row)
            for site in sites
            for day in days_between(first, end)
            for moment, row in (
                self.data.management(day) if site == MANAGEMENT else getattr(self.data.site_day(site, day), kind)
            )
            if query.start <= moment <= end
        ]
        found.sort(key=lambda pair: pair[0])  # stable: a site's same-second rows keep their order
        return [(moment, dict(row)) for moment, row in found]

    def _rows_orders(self, query: Query, now: dt.datetime) -> list[dict]:
        rows = []
        for order in self._orders(query, now):
            row = self._as_of(order, now)
            if query.include_line_items:
                row["line_items"] = [dict(item) for item in order.items]
            rows.append(row)
        return rows

    def _rows_line_items(self, query: Query, now: dt.datetime) -> list[dict]:
        return [dict(item) for order in self._orders(query, now) for item in order.items]

    def _rows_transactions(self, query: Query, now: dt.datetime) -> list[dict]:
        rows = []
        for moment, row in self._events("transactions", query.sites, query, now):
            # Settlement moves on with time: pending (no payout yet), in transit, paid.
            if now - moment < dt.timedelta(days=1):
                row["deposit_status"], row["payout_id"] = "pending", None
            else:
                row["deposit_status"] = "in_transit" if now.date() < deposit_date(moment) else "paid"
            rows.append(row)
        return rows

    def _rows_search_terms(self, query: Query, now: dt.datetime) -> list[dict]:
        return [row for _, row in self._events("search_terms", query.sites, query, now)]

    def _rows_audit_logs(self, query: Query, now: dt.datetime) -> list[dict]:
        return [row for _, row in self._events("audit_logs", (*query.sites, MANAGEMENT), query, now)]

    def _rows_sales_by_product(self, query: Query, now: dt.datetime) -> list[dict]:
        totals: dict[str, list] = {}  # upc -> [sales, units]
        for order in self._orders(query, now):
            # A sale counts until its order is canceled (minutes later): a day's figures restate.
            pending_cancel = order.canceled_at is not None and order.canceled_at > now
            for item in order.items:
                units = item["original_quantity"] if pending_cancel else item["final_quantity"]
                entry = totals.setdefault(item["product_upc_or_plu"], [Decimal(0), 0])
                entry[0] += Decimal(str(item["product_price"])) * units
                entry[1] += units
        rows = [
            {
                "upc_or_plu": upc,
                "title": PRODUCTS_BY_UPC[upc].title,
                "total_sales": float(cents(sales)),
                "units_sold": units,
                "category": PRODUCTS_BY_UPC[upc].category,
                "image_url": PRODUCTS_BY_UPC[upc].image_url,
            }
            for upc, (sales, units) in totals.items()
            if units  # only canceled or shorted: nothing sold
        ]
        return sorted(rows, key=lambda r: (-r["total_sales"], r["upc_or_plu"]))

    def _rows_order_statuses(self, query: Query, now: dt.datetime) -> list[dict]:
        groups: dict[str, dict[str, list[str]]] = {site: {name: [] for name in ORDER_GROUPS} for site in query.sites}
        for order in self._orders(query, now):
            groups[order.stub.site][self.status(order, now)].append(order.stub.order_id)
        return [
            {"site_id": site, **{name: {"count": len(ids), "order_ids": ids} for name, ids in by_group.items()}}
            for site, by_group in groups.items()
        ]

    def _rows_customer_contacts(self, query: Query, now: dt.datetime) -> list[dict]:
        # A contact's attributes come from every order up to now, at any site; the
        # range filters on the first order, and site_ids on where they ordered.
        first: dict[str, dt.datetime] = {}
        last: dict[str, tuple[dt.datetime, str]] = {}
        sites: dict[str, set[str]] = {}
        for site in SITE_IDS:
            for day in days_between(PROGRAM_START, now):
                for stub in self.data.stubs(site, day):
                    if stub.created > now:
                        break
                    key = stub.customer
                    first[key] = min(first.get(key, stub.created), stub.created)
                    last[key] = max(last.get(key, (stub.created, stub.order_id)), (stub.created, stub.order_id))
                    sites.setdefault(key, set()).add(site)
        rows = []
        for key in sorted(first, key=lambda k: (first[k], k)):
            ordered_at = sorted(sites[key] & set(query.sites))
            if not ordered_at or not query.start <= first[key] <= query.end:
                continue
            customer = self.data.customer(key)
            if customer.email in self.removed_contacts:
                continue
            rows.append({
                "name": customer.name,
                "email": customer.email,
                "phone": "" if customer.shares_phone else customer.phone,
                "created_at": format_time(first[key]),
                "last_order_id": last[key][1],
                "last_order_time": format_time(last[key][0]),
                "unsubscribed": customer.unsubscribed,
                "site_ids": ordered_at,
            })
            if self.phone_only_every and int(hashlib.sha256(key.encode()).hexdigest(), 16) % self.phone_only_every == 0:
                if self.missing_email_as == "absent":
                    del rows[-1]["email"]
                else:
                    rows[-1]["email"] = None if self.missing_email_as == "null" else ""
        return rows

    @staticmethod
    def _as_of(order: Order, now: dt.datetime) -> dict:
        """The order's row as it stood at `now`."""
        row = dict(order.row)
        for name, moment in order.events.items():
            if moment is not None and moment > now:
                row[name] = None
        if order.canceled_at is not None and order.canceled_at > now:
            row["canceled"], row["cancelation_reason"] = False, None
        return row

    @staticmethod
    def status(order: Order, now: dt.datetime) -> str:
        """The order group (one of ORDER_GROUPS) the order is in at `now`."""

        def happened(name: str) -> dt.datetime | None:
            moment = order.events.get(name)
            return moment if moment is not None and moment <= now else None

        if order.canceled_at is not None and order.canceled_at <= now:
            return "orders_canceled"
        if happened("complete_time"):
            return "orders_completed"
        for name, group, limit in (
            ("ready_time", "ready", dt.timedelta(hours=1)),
            ("confirm_time", "preparing", dt.timedelta(hours=1)),
        ):
            moment = happened(name)
            if moment:
                return f"orders_{group}_{'less' if now - moment < limit else 'more'}_than_one_hour"
        waited = now - order.stub.created
        return f"orders_pending_{'less' if waited < dt.timedelta(minutes=10) else 'more'}_than_ten_mins"
