"""Simulated Vroom retailer API: `POST /api/retailer/v1/analytics/<report>` under `/vroom`.

Data is generated, never stored. Each (site, UTC day) draws its rows from
`random.Random(f"{seed}:{site}:{day}")`, so any range can be produced lazily and
identically on every call, from 2024-01-01 (the program's start) up to the
current real time. Generation happens in three steps, each cached:

1. `_plan(site, day)`: order times, which orders bring a new customer, and the
   seeds of everything else. Depends on nothing but the day's rng.
2. `_stubs(site, day)`: each order's customer. A returning customer is a new
   customer of an earlier plan, so customers recur across days and sites
   (and customer_contacts can be computed from stubs alone, cheaply).
3. `_day(site, day)`: full orders with line items, transactions, search terms
   and audit logs. Events that follow an order (refunds, cancelations) may
   fall on the next day, so range queries also look one day back.

A day is generated whole; rows later than `now` are filtered out at query time,
and orders are shown "as of now" (lifecycle times still in the future are null,
a cancelation not yet made is not shown; sales_by_product counts an order until it is
canceled), which is why today's orders change from one run to the next as they would at the
real vendor.

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

Test knobs, through `POST /_sandbox/vendor/vroom` (each optional; the answer is the state):
  now               ISO date-time: answer as of that moment, not the real time (null: real time);
                    two runs at two settings see a day's orders placed, then canceled
  extra_row_fields  {name: value} added to every row of every report: a field Vroom adds later
  phone_only_every  N (0: none): about one contact in N has only a phone, no e-mail (chosen by a
                    hash of the contact, so the same ones every call)
  missing_email_as  how such a contact's email reads: "null" (default), "absent" or "empty" ("")
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import hashlib
import hmac
import math
import random
import re
import typing as t
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from tap_retail_reports.sandbox.credentials import VROOM_PASSWORD, VROOM_SITE_IDS, VROOM_USERNAME
from tap_retail_reports.sandbox.server import Request, Response, VendorApp

UTC = dt.timezone.utc
API = "/api/retailer/v1"
PROGRAM_START = dt.datetime(2024, 1, 1, tzinfo=UTC)
SITE_IDS: tuple[str, ...] = tuple(VROOM_SITE_IDS)
MIDNIGHT_DAYS = (1, 11, 21)  # days of the month with rows at exactly 00:00:00 UTC
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
MANAGEMENT = "Management"  # audit rows for cross-site actions; served whatever site_ids asks for
LATEST_FOLLOW_UP = dt.timedelta(days=1)  # events after an order (refund, "not completed") come within a day

CENT = Decimal("0.01")
TAX = Decimal("0.07")
CARD_RATE = Decimal("0.029")


class BadRequest(ValueError):
    """A request body Vroom would refuse with 400; the message names the field."""


# -- times ---------------------------------------------------------------------

_FRACTION = re.compile(r"\.(\d+)")


def parse_time(value: t.Any, field: str) -> dt.datetime:
    """A request time, read as liberally as Vroom says it is: ISO-8601 with Z or an
    offset, with or without (any number of) fractional digits, or a bare date. Naive is UTC."""
    if not isinstance(value, str) or not value.strip():
        raise BadRequest(f"{field} must be a date-time string such as 2024-03-01T00:00:00Z, got {value!r}")
    text = value.strip()
    if text[-1:] in "Zz":
        text = text[:-1] + "+00:00"
    # datetime.fromisoformat wants 3 or 6 fractional digits before Python 3.11
    text = _FRACTION.sub(lambda m: "." + (m.group(1) + "000000")[:6], text, count=1)
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise BadRequest(
            f"{field}: cannot read {value!r} as a date-time; use ISO-8601 such as 2024-03-01T00:00:00Z"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def format_time(moment: dt.datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _days(start: dt.datetime, end: dt.datetime) -> t.Iterator[dt.date]:
    day, last = start.date(), end.date()
    while day <= last:
        yield day
        day += dt.timedelta(days=1)


def _at(day: dt.date, second: int) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, tzinfo=UTC) + dt.timedelta(seconds=second)


def _money(value: Decimal) -> str:
    return f"{value.quantize(CENT, ROUND_HALF_UP):.2f}"


def _cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, ROUND_HALF_UP)


# -- the store's world -----------------------------------------------------------


@dataclass(frozen=True)
class Product:
    upc_or_plu: str
    title: str
    category: str
    price: Decimal
    deposit: Decimal = Decimal(0)
    has_image: bool = True

    @property
    def image_url(self) -> str | None:
        return f"https://images.vroomdelivery.example/products/{self.upc_or_plu}.jpg" if self.has_image else None

    @property
    def merchandise_code(self) -> str:
        return "MC-" + self.category.split(" > ")[0][:3].upper()


def _p(upc: str, title: str, category: str, price: str, deposit: str = "0", image: bool = True) -> Product:
    return Product(upc, title, category, Decimal(price), Decimal(deposit), image)


PRODUCTS = (
    _p("049000028911", "Coca-Cola Classic 2 L", "Beverages > Soft Drinks", "2.99", "0.10"),
    _p("012000161155", "Pepsi 12 pk 12 fl oz Cans", "Beverages > Soft Drinks", "7.49", "0.60"),
    _p("078000082401", "Dr Pepper 20 fl oz", "Beverages > Soft Drinks", "2.29", "0.05"),
    _p("070847811169", "Monster Energy 16 fl oz", "Beverages > Energy Drinks", "3.49", "0.05"),
    _p("611269991000", "Red Bull 8.4 fl oz", "Beverages > Energy Drinks", "2.99", "0.05"),
    _p("786162002013", "smartwater 1 L", "Beverages > Water", "2.49", "0.05"),
    _p("018200007712", "Bud Light 6 pk 12 fl oz Bottles", "Alcohol > Beer", "9.99", "0.30"),
    _p("080660956435", "Corona Extra 12 pk 12 fl oz Bottles", "Alcohol > Beer", "17.99", "0.60"),
    _p("085000024331", "Barefoot Pinot Grigio 750 mL", "Alcohol > Wine", "7.99"),
    _p("028400090858", "Doritos Nacho Cheese 9.25 oz", "Snacks > Chips", "5.29"),
    _p("028400199148", "Lay's Classic 8 oz", "Snacks > Chips", "4.99"),
    _p("044000032029", "Oreo Chocolate Sandwich Cookies 14.3 oz", "Snacks > Cookies", "4.49"),
    _p("040000424314", "M&M's Peanut Share Size", "Candy > Chocolate", "2.79"),
    _p("034000002467", "Reese's Peanut Butter Cups 2 ct", "Candy > Chocolate", "1.89"),
    _p("022000159335", "Orbit Spearmint Gum 14 ct", "Candy > Gum", "1.79"),
    _p("4011", "Bananas (each)", "Produce > Fruit", "0.35", image=False),
    _p("4131", "Fuji Apple (each)", "Produce > Fruit", "0.99", image=False),
    _p("041130213560", "Whole Milk 1 gal", "Dairy > Milk", "3.79"),
    _p("036632001085", "Dannon Vanilla Yogurt 32 oz", "Dairy > Yogurt", "3.99"),
    _p("072250011372", "Nature's Own Honey Wheat Bread", "Bakery > Bread", "3.49"),
    _p("076840100477", "Ben & Jerry's Half Baked Pint", "Frozen > Ice Cream", "5.99"),
    _p("071007001058", "Red Baron Pepperoni Pizza", "Frozen > Pizza", "5.49"),
    _p("300450449108", "Tylenol Extra Strength 24 ct", "Health > Pain Relief", "7.99"),
    _p("037000862246", "Charmin Ultra Soft 4 Mega Rolls", "Household > Paper", "8.99"),
    _p("20101", "Hot Dog (made to order)", "Deli > Hot Food", "2.49", image=False),
)
SEARCH_TERMS = (
    "coke", "pepsi", "red bull", "monster", "energy drink", "water", "beer", "corona", "wine",
    "chips", "doritos", "oreo", "chocolate", "gum", "bananas", "apple", "milk", "yogurt", "bread",
    "ice cream", "pizza", "tylenol", "toilet paper", "hot dog",
    "cigarettes", "lottery", "vape", "chps", "ice",  # nothing (or not what was meant) online
)
SEARCH_ALIASES = {"coke": "coca-cola", "toilet paper": "charmin"}
FIRST_NAMES = ("Maria", "James", "Aisha", "Wei", "Olivia", "Mateo", "Priya", "Noah", "Fatima", "Liam",
               "Sofia", "Ethan", "Hana", "Lucas", "Amara", "Diego", "Chloe", "Omar", "Grace", "Ivan")
LAST_NAMES = ("Lopez", "Smith", "Khan", "Chen", "Johnson", "Garcia", "Patel", "Brown", "Ali", "Nguyen",
              "Rossi", "Williams", "Kim", "Silva", "Okafor", "Martin", "Cohen", "Haddad", "Walker", "Petrov")
STREETS = ("Main St", "Oak Ave", "High St", "Maple Dr", "Park Pl", "Broad St", "Elm St", "Lake Rd")
DRIVERS = ("Sam Ortiz", "Kelly Park", "Dev Shah", "Ana Costa")
CANCEL_REASONS = ("Customer requested cancellation", "Items out of stock", "Store closing early",
                  "Driver unavailable", "Duplicate order")
ORDER_TYPES = ("Delivery", "Scheduled Delivery", "Pickup", "Scheduled Pickup", "Curbside",
               "Scheduled Curbside", "Shipping")
ORDER_TYPE_WEIGHTS = (40, 8, 30, 6, 8, 3, 5)
DELIVERY_FEES = {"Delivery": Decimal("3.99"), "Scheduled Delivery": Decimal("3.99"), "Shipping": Decimal("7.99")}
SITE_CENTER = (39.9612, -82.9988)  # all stores around one city; each site a little apart
PRODUCT_ACTIONS = ("Product Shown", "Product Hidden", "Product Created", "Product Updated", "Product Deleted")


def _store_user(site: str) -> str:
    return f"store{site}@retailer.example"


def _manager(rng: random.Random) -> str:
    return rng.choice(("ops.manager", "ecommerce", "regional.lead")) + "@retailer.example"


def _matches(term: str) -> list[Product]:
    words = SEARCH_ALIASES.get(term, term).split()
    return [p for p in PRODUCTS if all(w in f"{p.title} {p.category}".lower() for w in words)][:10]


SEARCH_RESULTS = {term: _matches(term) for term in SEARCH_TERMS}


@dataclass(frozen=True)
class Customer:
    key: str  # the order id of the customer's first order
    name: str
    email: str
    phone: str
    shares_phone: bool  # reported as "" in contacts: another contact has the number
    unsubscribed: bool
    subscribed: bool
    loyalty_code: str | None
    loyalty_tier: str | None
    card: str


# -- generated rows ----------------------------------------------------------------


@dataclass(frozen=True)
class _Plan:
    """Step 1 of a site-day: nothing here depends on any other day."""

    seconds: tuple[int, ...]  # order times, seconds after midnight, ascending
    new: tuple[bool, ...]  # the order brings a new customer
    seeds: tuple[int, ...]  # one per order, for its details
    picks_seed: int  # returning customers
    events_seed: int  # searches, audit rows, fees


@dataclass(frozen=True)
class _Stub:
    site: str
    order_id: str
    created: dt.datetime
    customer: str
    is_new: bool
    seed: int


@dataclass(frozen=True)
class _Order:
    stub: _Stub
    row: dict  # as served once everything has happened; copied, never mutated
    items: tuple[dict, ...]
    events: dict[str, dt.datetime | None]  # lifecycle times that are null until they happen
    canceled_at: dt.datetime | None


@dataclass(frozen=True)
class _Day:
    orders: tuple[_Order, ...]
    transactions: tuple[tuple[dt.datetime, dict], ...]
    search_terms: tuple[tuple[dt.datetime, dict], ...]
    audit_logs: tuple[tuple[dt.datetime, dict], ...]


@dataclass(frozen=True)
class Query:
    """A request body, checked and with the document's defaults filled in."""

    sites: tuple[str, ...]
    start: dt.datetime
    end: dt.datetime
    include_line_items: bool = False


class App(VendorApp):
    prefix = "vroom"

    def __init__(self, seed: int) -> None:
        super().__init__(seed)
        # Per-instance caches: plans and stubs are small and every contact query reads
        # all of them; full days are larger, so only the most recent few hundred stay.
        self._plan = functools.lru_cache(maxsize=8192)(self._make_plan)
        self._stubs = functools.lru_cache(maxsize=8192)(self._make_stubs)
        self._day = functools.lru_cache(maxsize=400)(self._make_day)  # a 90-day, 3-site range and then some
        self._management = functools.lru_cache(maxsize=512)(self._make_management)
        self.customer = functools.lru_cache(maxsize=16384)(self._make_customer)
        self.now: dt.datetime | None = None  # None: the real time
        self.extra_row_fields: dict[str, t.Any] = {}
        self.removed_contacts: set[str] = set()  # e-mails customer_contacts no longer lists
        self.phone_only_every = 0
        self.missing_email_as = "null"

    def configure(self, settings: dict) -> dict:
        """Test knobs (`POST /_sandbox/vendor/vroom`): `now`, `extra_row_fields`, and
        `removed_contacts` (e-mails deleted upstream)."""
        unknown = set(settings) - {"now", "extra_row_fields", "removed_contacts", "phone_only_every", "missing_email_as"}
        if unknown:
            raise ValueError(f"unknown vroom setting(s): {', '.join(sorted(unknown))}")
        if "now" in settings:
            self.now = parse_time(settings["now"], "now") if settings["now"] else None
        if "extra_row_fields" in settings:
            self.extra_row_fields = dict(settings["extra_row_fields"] or {})
        if "removed_contacts" in settings:
            self.removed_contacts = set(settings["removed_contacts"] or ())
        if "phone_only_every" in settings:
            every = settings["phone_only_every"]
            if isinstance(every, bool) or not isinstance(every, int) or every < 0:
                raise ValueError(f"phone_only_every must be a whole number >= 0, got {every!r}")
            self.phone_only_every = every
        if "missing_email_as" in settings:
            if settings["missing_email_as"] not in ("null", "absent", "empty"):
                raise ValueError(f"missing_email_as must be null, absent or empty, got {settings['missing_email_as']!r}")
            self.missing_email_as = settings["missing_email_as"]
        return {"now": format_time(self.now) if self.now else None, "extra_row_fields": self.extra_row_fields,
                "removed_contacts": sorted(self.removed_contacts), "phone_only_every": self.phone_only_every,
                "missing_email_as": self.missing_email_as}

    # -- HTTP ------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        path = request.path.rstrip("/")
        name = path.removeprefix(f"{API}/analytics/")
        known = path.startswith(f"{API}/analytics/") and name in ENDPOINTS
        promo = path == f"{API}/marketing/create_promo_code"
        if not (known or promo):
            return Response.json({"error": f"Not found: {request.path}"}, 404)
        if request.method != "POST":
            return Response.json({"error": f"{request.method} not allowed; use POST"}, 405, Allow="POST")
        header = request.headers.get("Authorization")
        if not self.authorized(header):
            # Echoes what it was sent, as some vendors' error pages do: the tap must mask it.
            return Response.json(
                {"error": f"Invalid email or password {self.sent_credentials(header)}"},
                401,
                **{"WWW-Authenticate": 'Basic realm="Vroom"'},
            )
        if promo:  # it writes to the vendor; the tap only reads
            return Response.json({"error": "create_promo_code is not simulated"}, 501)
        try:
            body = request.json()
        except ValueError:
            return Response.json({"error": "Request body is not valid JSON"}, 400)
        try:
            rows = self.rows(name, body, self.now)
        except BadRequest as exc:
            return Response.json({"error": str(exc)}, 400)
        return Response.json([{**row, **self.extra_row_fields} for row in rows] if self.extra_row_fields else rows)

    @staticmethod
    def sent_credentials(header: str | None) -> str:
        _, _, encoded = (header or "").partition(" ")
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode()
        except (ValueError, UnicodeDecodeError):
            decoded = ""
        username, _, password = decoded.partition(":")
        return f"(Authorization: {header!r}; username {username!r}, password {password!r})"

    @staticmethod
    def authorized(header: str | None) -> bool:
        scheme, _, encoded = (header or "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            username, _, password = base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        return hmac.compare_digest(username.encode(), VROOM_USERNAME.encode()) & hmac.compare_digest(
            password.encode(), VROOM_PASSWORD.encode()
        )

    # -- the answer to a request, without HTTP ----------------------------------

    def rows(self, endpoint: str, body: dict | None = None, now: dt.datetime | None = None) -> list[dict]:
        """The rows `POST /analytics/<endpoint>` answers with `body` at `now` (default: the real now).

        Raises BadRequest for a body Vroom would refuse. `handle()` serves exactly this.
        """
        if endpoint not in ENDPOINTS:
            raise ValueError(f"unknown Vroom endpoint {endpoint!r}")
        now = now or dt.datetime.now(UTC)
        query = self.query(endpoint, body, now)
        return getattr(self, f"_rows_{endpoint}")(query, now)

    def query(self, endpoint: str, body: t.Any, now: dt.datetime) -> Query:
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

    def _orders(self, query: Query, now: dt.datetime) -> list[_Order]:
        """Orders created in [start, end] and by now, at the requested sites, oldest first."""
        end = min(query.end, now)
        if query.start > end:
            return []
        found = [
            order
            for site in query.sites
            for day in _days(max(query.start, PROGRAM_START), end)
            for order in self._day(site, day).orders
            if query.start <= order.stub.created <= end
        ]
        return sorted(found, key=lambda o: (o.stub.created, o.stub.order_id))

    def _events(
        self, kind: str, sites: t.Iterable[str], query: Query, now: dt.datetime
    ) -> list[tuple[dt.datetime, dict]]:
        """Time-stamped rows of one kind in [start, end] and by now, oldest first, as (time, copy)."""
        end = min(query.end, now)
        if query.start > end:
            return []
        first = max(query.start - LATEST_FOLLOW_UP, PROGRAM_START)
        found = [
            (moment, row)
            for site in sites
            for day in _days(first, end)
            for moment, row in (self._management(day) if site == MANAGEMENT else getattr(self._day(site, day), kind))
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
                row["deposit_status"] = "in_transit" if now.date() < _deposit_date(moment) else "paid"
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
        by_upc = {p.upc_or_plu: p for p in PRODUCTS}
        rows = [
            {
                "upc_or_plu": upc,
                "title": by_upc[upc].title,
                "total_sales": float(_cents(sales)),
                "units_sold": units,
                "category": by_upc[upc].category,
                "image_url": by_upc[upc].image_url,
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
            for day in _days(PROGRAM_START, now):
                for stub in self._stubs(site, day):
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
            who = self.customer(key)
            if who.email in self.removed_contacts:
                continue
            rows.append({
                "name": who.name,
                "email": who.email,
                "phone": "" if who.shares_phone else who.phone,
                "created_at": format_time(first[key]),
                "last_order_id": last[key][1],
                "last_order_time": format_time(last[key][0]),
                "unsubscribed": who.unsubscribed,
                "site_ids": ordered_at,
            })
            if self.phone_only_every and int(hashlib.sha256(key.encode()).hexdigest(), 16) % self.phone_only_every == 0:
                if self.missing_email_as == "absent":
                    del rows[-1]["email"]
                else:
                    rows[-1]["email"] = None if self.missing_email_as == "null" else ""
        return rows

    # -- orders as of a moment ---------------------------------------------------

    @staticmethod
    def _as_of(order: _Order, now: dt.datetime) -> dict:
        row = dict(order.row)
        for name, moment in order.events.items():
            if moment is not None and moment > now:
                row[name] = None
        if order.canceled_at is not None and order.canceled_at > now:
            row["canceled"], row["cancelation_reason"] = False, None
        return row

    @staticmethod
    def status(order: _Order, now: dt.datetime) -> str:
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

    # -- generation ----------------------------------------------------------------

    def _make_plan(self, site: str, day: dt.date) -> _Plan:
        rng = random.Random(f"{self.seed}:{site}:{day.isoformat()}")
        count = rng.choices(range(9), weights=(1, 2, 3, 4, 4, 4, 3, 2, 1))[0]
        seconds = sorted(min(int(rng.triangular(0, 86400, 64800)), 86399) for _ in range(count))
        if day.day in MIDNIGHT_DAYS:  # a row on the boundary of two daily windows
            seconds = [0, *seconds[1:]] if seconds else [0]
        return _Plan(
            seconds=tuple(seconds),
            new=tuple(rng.random() < 0.4 for _ in seconds),
            seeds=tuple(rng.getrandbits(32) for _ in seconds),
            picks_seed=rng.getrandbits(64),
            events_seed=rng.getrandbits(64),
        )

    @staticmethod
    def _order_id(site: str, day: dt.date, index: int) -> str:
        return f"{site}{day:%y%m%d}{index:02d}"

    def _make_stubs(self, site: str, day: dt.date) -> tuple[_Stub, ...]:
        plan = self._plan(site, day)
        rng = random.Random(plan.picks_seed)
        stubs = []
        for index, (second, new, seed) in enumerate(zip(plan.seconds, plan.new, plan.seeds, strict=True)):
            order_id = self._order_id(site, day, index)
            returning = None if new else self._returning_customer(rng, site, day, second)
            stubs.append(_Stub(site, order_id, _at(day, second), returning or order_id, returning is None, seed))
        return tuple(stubs)

    def _returning_customer(self, rng: random.Random, site: str, day: dt.date, second: int) -> str | None:
        """A new customer of an earlier order (mostly recent, mostly this site), or None."""
        for _ in range(3):
            back = min(int(rng.expovariate(1 / 30)), (day - PROGRAM_START.date()).days)
            their_site = site if rng.random() < 0.85 else rng.choice(SITE_IDS)
            their_day = day - dt.timedelta(days=back)
            plan = self._plan(their_site, their_day)
            candidates = [
                self._order_id(their_site, their_day, i)
                for i, (s, new) in enumerate(zip(plan.seconds, plan.new, strict=True))
                if new and (their_day, s) < (day, second)
            ]
            if candidates:
                return rng.choice(candidates)
        return None

    def _make_customer(self, key: str) -> Customer:
        rng = random.Random(f"{self.seed}:customer:{key}")
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        handle = _base36(int(key))
        has_loyalty = rng.random() < 0.4
        return Customer(
            key=key,
            name=f"{first} {last}",
            email=f"{first}.{last}.{handle}@example.com".lower(),
            phone=f"614555{rng.randrange(10000):04d}",
            shares_phone=rng.random() < 0.03,
            unsubscribed=rng.random() < 0.08,
            subscribed=rng.random() < 0.1,
            loyalty_code=f"4{rng.randrange(10**11):011d}" if has_loyalty else None,
            loyalty_tier=rng.choice(("bronze", "silver", "gold")) if has_loyalty else None,
            card=f"{rng.choice(('Visa', 'Mastercard', 'Amex', 'Discover'))} ending {rng.randrange(10000):04d}",
        )

    def _make_day(self, site: str, day: dt.date) -> _Day:
        orders = tuple(self._make_order(stub) for stub in self._stubs(site, day))
        rng = random.Random(self._plan(site, day).events_seed)
        transactions = [pair for order in orders for pair in self._order_transactions(order)]
        transactions += self._fees(rng, site, day)
        searches = self._searches(rng, site, day)
        audit = self._audit(rng, site, day, orders)
        return _Day(
            orders=orders,
            transactions=tuple(sorted(transactions, key=lambda p: (p[0], p[1]["transaction_id"]))),
            search_terms=tuple(sorted(searches, key=lambda p: p[0])),
            audit_logs=tuple(sorted(audit, key=lambda p: p[0])),
        )

    def _make_order(self, stub: _Stub) -> _Order:
        rng = random.Random(stub.seed)
        who = self.customer(stub.customer)
        channel = rng.choices(("Vroom", "Uber Eats", "DoorDash"), weights=(75, 15, 10))[0]
        order_type = rng.choices(ORDER_TYPES, ORDER_TYPE_WEIGHTS)[0] if channel == "Vroom" else "Delivery"
        delivery = order_type.endswith("Delivery")
        third_party = delivery and (channel != "Vroom" or rng.random() < 0.4)
        canceled = rng.random() < 0.05
        slow = None if canceled else rng.choices((None, "confirm", "prepare", "complete"), (91, 3, 3, 3))[0]

        # Lifecycle. Slow orders are the ones order_statuses flags for assistance for a while.
        created = stub.created

        def seconds(low: int, high: int) -> dt.timedelta:
            return dt.timedelta(seconds=rng.randint(low, high))

        scheduled = _ceil_quarter(created + seconds(3600, 4 * 3600)) if "Scheduled" in order_type else None
        confirm = created + (seconds(901, 2700) if slow == "confirm" else seconds(45, 540))
        ready = confirm + (seconds(3700, 3 * 3600) if slow == "prepare" else seconds(600, 3000))
        if scheduled:
            ready = max(ready, scheduled - dt.timedelta(minutes=10))
        driver_start = ready + seconds(120, 900) if delivery else None
        driver_end = driver_start + seconds(600, 2400) if driver_start else None
        complete = driver_end or ready + seconds(300, 2400)
        if slow == "complete":  # never marked done: Vroom auto-completes it hours later
            driver_end, complete = None, ready + seconds(4 * 3600, 5 * 3600)
        canceled_at = created + seconds(300, 1800) if canceled else None
        events: dict[str, dt.datetime | None] = {
            "confirm_time": confirm, "ready_time": ready, "driver_start_time": driver_start,
            "driver_end_time": driver_end, "complete_time": complete,
        }
        if canceled_at:  # confirmed before the cancelation or not at all; nothing else happened
            events = {**dict.fromkeys(events), "confirm_time": confirm if confirm < canceled_at else None}

        # Line items: the store may short an item or add a substitute once it has the order.
        adjustable = not canceled
        count = rng.randint(1, 4)
        substitute = adjustable and count > 1 and rng.random() < 0.06
        items, shorted, added = [], Decimal(0), Decimal(0)
        subtotal = deposits = Decimal(0)
        for position, product in enumerate(rng.sample(PRODUCTS, count)):
            by_store = substitute and position == count - 1
            ordered = 0 if by_store else rng.choices((1, 2, 3, 4, 6), (60, 20, 10, 5, 5))[0]
            final = 1 if by_store else ordered
            if adjustable and not by_store and rng.random() < 0.03:
                final = rng.randrange(ordered)
            if canceled:
                final = 0
            subtotal += product.price * ordered
            deposits += product.deposit * ordered
            unit = product.price * (1 + TAX) + product.deposit
            if by_store:
                added += unit
            else:
                shorted += unit * (ordered - final) if adjustable else 0
            items.append({
                "site_id": stub.site,
                "order_id": stub.order_id,
                "sales_channel": channel,
                "external_order_id": None,  # set below, with the order's
                "created_at": format_time(created),
                "customer_name": who.name,
                "customer_email": who.email,
                "customer_phone": who.phone,
                "product_upc_or_plu": product.upc_or_plu,
                "product_title": product.title,
                "product_price": float(product.price),
                "product_container_deposit": float(product.deposit),
                "original_quantity": ordered,
                "final_quantity": final,
                "upsell": not by_store and rng.random() < 0.1,
                "cart_position": position,
                "added_by_store": by_store,
                "product_merchandise_code": product.merchandise_code,
            })
        external_order_id = None if channel == "Vroom" else f"{channel[:2].upper()}-{rng.getrandbits(40):010X}"
        for item in items:
            item["external_order_id"] = external_order_id

        # Money, in Decimal; served as strings (the vendor's serialisation of Decimal).
        promo_code = "SAVE5" if subtotal >= 20 and rng.random() < 0.12 else None
        promo = Decimal("5.00") if promo_code else Decimal(0)
        combo_count = 1 if rng.random() < 0.15 else 0
        combo = Decimal(rng.randint(50, 300)) / 100 if combo_count else Decimal(0)
        loyalty = _cents(subtotal * Decimal("0.03")) if who.loyalty_code else Decimal(0)
        merchandise = _cents(max(subtotal - promo - combo - loyalty, Decimal(0)) * (1 + TAX)) + deposits
        full_fee = DELIVERY_FEES.get(order_type, Decimal(0))
        subscription_discount = full_fee if who.subscribed else Decimal(0)
        delivery_fee = full_fee - subscription_discount
        tip_rate = rng.choice(("0.10", "0.15", "0.18", "0.20")) if delivery or rng.random() < 0.2 else "0"
        tip = _cents(merchandise * Decimal(tip_rate))
        total = merchandise + delivery_fee + tip
        refund = merchandise + delivery_fee if canceled else _cents(shorted)
        tip_refund = tip if canceled else Decimal(0)
        upcharge = _cents(added)
        net_tip = tip - tip_refund
        adjusted_total = total - refund - tip_refund + upcharge
        processing_fee = _cents(total * CARD_RATE + Decimal("0.30"))
        processing_fee_refund = processing_fee if canceled else Decimal(0)
        processing_fee_on_upcharge = _cents(upcharge * CARD_RATE)
        fulfillment_fee = _cents(Decimal("5.50") + tip * (1 - CARD_RATE)) if third_party else Decimal(0)
        fulfillment_fee_refund = fulfillment_fee if canceled else Decimal(0)
        ebt_fees = Decimal("0.25") if rng.random() < 0.04 else Decimal(0)
        net_processing_fee = processing_fee - processing_fee_refund + processing_fee_on_upcharge
        net_fulfillment_fee = fulfillment_fee - fulfillment_fee_refund
        net_remit = adjusted_total - net_processing_fee - net_fulfillment_fee - ebt_fees

        lat: float | None
        lon: float | None
        distance: float | None
        if delivery or order_type == "Shipping":
            lat, lon, distance = _destination(rng, stub.site)
            address = f"{rng.randint(10, 9999)} {rng.choice(STREETS)}, Columbus, OH"
        else:
            lat = lon = distance = address = None
        row = {
            "site_id": stub.site,
            "order_id": stub.order_id,
            "sales_channel": channel,
            "external_order_id": external_order_id,
            "created_at": format_time(created),
            "customer_name": who.name,
            "customer_email": who.email,
            "customer_phone": who.phone,
            "total": _money(total),
            "merchandise": _money(merchandise),
            "delivery_fee": _money(delivery_fee),
            "tip": _money(tip),
            "tip_refund": _money(tip_refund),
            "net_tip": _money(net_tip),
            "refund_amount": _money(refund),
            "upcharge_amount": _money(upcharge),
            "adjusted_total": _money(adjusted_total),
            "adjusted_total_less_tips": _money(adjusted_total - net_tip),
            "processing_fee": _money(processing_fee),
            "processing_fee_refund": _money(processing_fee_refund),
            "processing_fee_on_upcharge": _money(processing_fee_on_upcharge),
            "net_processing_fee": _money(net_processing_fee),
            "third_party_fulfillment_fee": _money(fulfillment_fee),
            "third_party_fulfillment_fee_refund": _money(fulfillment_fee_refund),
            "net_third_party_fulfillment_fee": _money(net_fulfillment_fee),
            "ebt_fees": _money(ebt_fees),
            "net_remit": _money(net_remit),
            "promotion_code": promo_code,
            "promotion_code_original_discount": _money(promo),
            "promotion_code_final_discount": _money(Decimal(0) if canceled else promo),
            "mix_match_combo_original_count": combo_count,
            "mix_match_combo_final_count": 0 if canceled else combo_count,
            "mix_match_combo_original_discount": _money(combo),
            "mix_match_combo_final_discount": _money(Decimal(0) if canceled else combo),
            "loyalty_code": who.loyalty_code,
            "loyalty_original_discount": _money(loyalty),
            "loyalty_final_discount": _money(Decimal(0) if canceled else loyalty),
            "canceled": canceled,
            "driver": (rng.choice(DRIVERS) if not third_party else "DoorDash Drive") if delivery else None,
            "delivery_address": address,
            "delivery_latitude": f"{lat:.6f}" if lat is not None else None,
            "delivery_longitude": f"{lon:.6f}" if lon is not None else None,
            "delivery_distance": f"{distance:.2f}" if distance is not None else None,
            "order_type": order_type,
            "scheduled_time": format_time(scheduled) if scheduled else None,
            "placed_time": format_time(created),
            **{name: format_time(moment) if moment else None for name, moment in events.items()},
            "cancelation_reason": rng.choice(CANCEL_REASONS) if canceled else None,
            "subscribed": who.subscribed,
            "subscription_discount": _money(subscription_discount),
            "auto_retention_conversion": not stub.is_new and rng.random() < 0.03,
            "is_new_customer": stub.is_new,
            "loyalty_tier": who.loyalty_tier,  # undocumented: checks that the tap drops nothing
        }
        return _Order(stub, row, tuple(items), events, canceled_at)

    def _order_transactions(self, order: _Order) -> list[tuple[dt.datetime, dict]]:
        row, stub = order.row, order.stub
        adjusted_at = order.events["ready_time"] or order.events["confirm_time"]
        card = self.customer(stub.customer).card
        found = [(stub.created, Decimal(row["total"]), 1, "Card", card)]
        if Decimal(row["upcharge_amount"]) and adjusted_at:
            found.append((adjusted_at, Decimal(row["upcharge_amount"]), 2, "Card", f"Upcharge; {card}"))
        refund = Decimal(row["refund_amount"]) + Decimal(row["tip_refund"])
        if refund:
            when = order.canceled_at or adjusted_at
            assert when is not None  # a refund follows a cancelation or an adjustment in store
            why = f"Order canceled: {row['cancelation_reason']}" if order.canceled_at else "Items adjusted in store"
            found.append((when, -refund, 3, "Refund", why))
        return [
            (when, _transaction(stub.site, f"T{stub.order_id}{n}", kind, when, amount, stub.order_id, details))
            for when, amount, n, kind, details in found
        ]

    def _fees(self, rng: random.Random, site: str, day: dt.date) -> list[tuple[dt.datetime, dict]]:
        fees = []
        if day.day == 1:
            fees.append((_at(day, 6 * 3600), Decimal("-49.00"), "Monthly platform fee"))
        if rng.random() < 0.03:
            fees.append((_at(day, rng.randrange(86400)), Decimal("-15.00"), "Chargeback fee"))
        return [
            (when, _transaction(site, f"F{site}{day:%y%m%d}{n}", "Fee", when, amount, None, details))
            for n, (when, amount, details) in enumerate(fees)
        ]

    def _searches(self, rng: random.Random, site: str, day: dt.date) -> list[tuple[dt.datetime, dict]]:
        seconds = sorted(min(int(rng.triangular(0, 86400, 64800)), 86399) for _ in range(rng.randint(0, 12)))
        if day.day in MIDNIGHT_DAYS:
            seconds = [0, *seconds]
        found = []
        for second in seconds:
            ip = rng.randrange(1, 2**32)
            terms = [rng.choice(SEARCH_TERMS)]
            if rng.random() < 0.15:  # refined within the same second: same time, same ip, another term
                terms.append(rng.choice(SEARCH_TERMS))
            for term in terms:
                matches = SEARCH_RESULTS[term]
                chosen = rng.randrange(len(matches)) if matches and rng.random() < 0.6 else None
                found.append((_at(day, second), {
                    "site_id": site,
                    "created_at": format_time(_at(day, second)),
                    "ip_hash": hashlib.sha256(f"{self.seed}:{ip}".encode()).hexdigest(),
                    "term": term,
                    "num_search_results": len(matches),
                    "selected_product_upc_or_plu": matches[chosen].upc_or_plu if chosen is not None else None,
                    "selected_product_title": matches[chosen].title if chosen is not None else None,
                    "selection_position": chosen,
                }))
        return found

    def _audit(
        self, rng: random.Random, site: str, day: dt.date, orders: tuple[_Order, ...]
    ) -> list[tuple[dt.datetime, dict]]:
        store = _store_user(site)
        found: list[tuple[dt.datetime, str, str, str]] = []  # when, action, details, user
        if day.day in MIDNIGHT_DAYS:
            found.append((_at(day, 0), "Store Info Updated", "Hours synced from backoffice", "Automated"))
        found.append((_at(day, 7 * 3600 + rng.randrange(1800)), "Store Opened", "", store))
        found.append((_at(day, 22 * 3600 + rng.randrange(3600)), "Store Closed", "", store))
        for _ in range(rng.randint(0, 3)):
            product = rng.choice(PRODUCTS)
            found.append((_at(day, rng.randrange(8 * 3600, 20 * 3600)), rng.choice(PRODUCT_ACTIONS),
                          f"{product.title} ({product.upc_or_plu})", _manager(rng)))
        if day.weekday() == 0:  # Monday's bulk update: several rows in the same second
            when = _at(day, 3 * 3600)
            updated = rng.sample(PRODUCTS, rng.randint(2, 4))
            found.append((when, "Bulk Product Update Run", f"{len(updated)} products updated", "Automated"))
            found += [(when, "Product Updated", f"{p.title} ({p.upc_or_plu}): price", "Automated") for p in updated]
        if rng.random() < 0.04:
            found.append((_at(day, rng.randrange(86400)), rng.choice(("Driver Added", "Driver Removed", "Driver Updated")),
                          rng.choice(DRIVERS), _manager(rng)))
        if rng.random() < 0.03:
            found.append((_at(day, rng.randrange(86400)), "Long Service Estimate",
                          "Delivery estimate raised to 90 minutes", store))
        for order in orders:  # what the store and Vroom's jobs did about this day's orders
            order_id, events = order.stub.order_id, order.events
            if order.canceled_at:
                found.append((order.canceled_at, "Order Canceled",
                              f"Order {order_id}: {order.row['cancelation_reason']}", store))
                continue
            confirmed, ready, completed = events["confirm_time"], events["ready_time"], events["complete_time"]
            assert confirmed and ready and completed  # every order not canceled has these
            late = order.stub.created + dt.timedelta(minutes=15)
            if confirmed > late:
                found.append((late, "Order Unconfirmed After 15 Minutes", f"Order {order_id}", "Automated"))
            overdue = ready + dt.timedelta(hours=3)
            if completed > overdue:
                found.append((overdue, "Order Not Completed", f"Order {order_id}", "Automated"))
        return [(when, _audit_row(site, when, action, details, user)) for when, action, details, user in found]

    def _make_management(self, day: dt.date) -> tuple[tuple[dt.datetime, dict], ...]:
        rng = random.Random(f"{self.seed}:{MANAGEMENT}:{day.isoformat()}")
        found = []
        if day.weekday() == 0:
            found.append((_at(day, 2 * 3600), "Bulk Promotion Update Run", "Weekly promotions published", "Automated"))
        if rng.random() < 0.1:
            found.append((_at(day, rng.randrange(86400)), "Password Reset", "", _manager(rng)))
        if rng.random() < 0.05:
            found.append((_at(day, rng.randrange(86400)), "Management Refund",
                          f"Goodwill credit ${rng.randint(2, 20)}.00", _manager(rng)))
        return tuple(
            (when, _audit_row(MANAGEMENT, when, action, details, user))
            for when, action, details, user in sorted(found)
        )


def _transaction(
    site: str, transaction_id: str, kind: str, when: dt.datetime, amount: Decimal, source: str | None, details: str
) -> dict:
    deposit = _deposit_date(when)
    return {
        "site_id": site,
        "amount": float(amount),
        "transaction_id": transaction_id,
        "payout_id": f"po_{site}_{deposit:%Y%m%d}",
        "type": kind,
        "time": format_time(when),
        "source": source,
        "deposit_status": "paid",  # as of now: set at query time
        "estimated_deposit": f"{deposit:%m/%d/%Y}",
        "additional_details": details,
    }


def _deposit_date(when: dt.datetime) -> dt.date:
    """Two days after the transaction, on a weekday: when the bank settles."""
    deposit = when.date() + dt.timedelta(days=2)
    while deposit.weekday() >= 5:
        deposit += dt.timedelta(days=1)
    return deposit


def _audit_row(site: str, when: dt.datetime, action: str, details: str, user: str) -> dict:
    return {"site_id": site, "created_at": format_time(when), "action": action,
            "additional_details": details, "user": user}


def _destination(rng: random.Random, site: str) -> tuple[float, float, float]:
    """A delivery point a few miles from the site, and its distance in miles."""
    offset = SITE_IDS.index(site) * 0.05 if site in SITE_IDS else 0.0
    store_lat, store_lon = SITE_CENTER[0] + offset, SITE_CENTER[1] - offset
    miles, bearing = rng.uniform(0.4, 6.0), rng.uniform(0, 2 * math.pi)
    lat = store_lat + miles * math.cos(bearing) / 69.0
    lon = store_lon + miles * math.sin(bearing) / (69.0 * math.cos(math.radians(store_lat)))
    return lat, lon, miles


def _ceil_quarter(moment: dt.datetime) -> dt.datetime:
    """The next quarter hour at or after `moment`: the slots customers schedule for."""
    quarter = 15 * 60
    return dt.datetime.fromtimestamp(-(-moment.timestamp() // quarter) * quarter, UTC)


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while number:
        number, rest = divmod(number, 36)
        out = digits[rest] + out
    return out or "0"
