"""Distribu simulator: the three report endpoints of the vendor document, a bearer key, 60 calls a minute.

Data is seeded per (customer, day) and per (product, day), so any range is the sum
of its days: a ranged call and the per-day calls over the same days agree exactly.
Some orders sit exactly at midnight and at the last millisecond of a day, so a
client that overlaps or gaps its windows gets different numbers.

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

from __future__ import annotations

import collections
import datetime as dt
import email.utils
import hashlib
import math
import random
import threading
import time
import typing as t
from dataclasses import dataclass

from tap_retail_reports.sandbox.credentials import DISTRIBU_API_KEY, DISTRIBU_API_KEY_WITHOUT_SCOPE
from tap_retail_reports.sandbox.server import Request, Response, VendorApp

UTC = dt.timezone.utc
SCOPES = {DISTRIBU_API_KEY: {"reports:read", "orders:read"}, DISTRIBU_API_KEY_WITHOUT_SCOPE: {"orders:read"}}
STATUSES = ("SUBMITTED", "CONFIRMED", "SHIPPED", "DELIVERED", "CANCELLED")
PRESETS = ("today", "week", "month", "quarter", "year", "all")
FIRST_DAY = dt.date(2020, 1, 1)  # the account's first day: where preset=all starts
CUSTOMER_NAMES = (
    "Acme Restaurant Group", "Blue Door Bistro", "Corner Grocer", "Delta Catering", "Evergreen Cafe",
    "Fig & Olive Deli", "Golden Wok", "Harbor Fish House", "Ironwood Pub", "Juniper Bakery",
    "Kestrel Hotel", "Lantern Tea Room",
)
CATEGORIES = ("Hardware", "Beverages", "Dry goods", "Cleaning", None)  # None: no category set
UNCATEGORISED = "Uncategorised"
MS = dt.timedelta(milliseconds=1)


@dataclass(frozen=True)
class Customer:
    id: str  # "" for an order made in the dashboard, which has no customer
    name: str | None
    email: str | None


@dataclass(frozen=True)
class Order:
    customer: Customer
    at: dt.datetime
    cents: int
    outcome: str  # DELIVERED or CANCELLED: where the order ends up

    def status(self, today: dt.date) -> str:
        """Orders move SUBMITTED -> CONFIRMED -> SHIPPED -> DELIVERED over days, so recent days restate."""
        age = (today - self.at.date()).days
        if self.outcome == "CANCELLED" and age >= 1:
            return "CANCELLED"
        return STATUSES[min(max(age, 0), 3)]


@dataclass(frozen=True)
class Product:
    id: str
    name: str
    sku: str
    category: str | None
    unit_cents: int
    active: bool


def _id(prefix: str, *parts: object) -> str:
    return prefix + hashlib.sha256(":".join(map(str, parts)).encode()).hexdigest()[:20]


def money(cents: int) -> float:
    return round(cents / 100, 2)


def iso_ms(moment: dt.datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_js_date(text: str) -> tuple[dt.datetime, bool]:
    """A `from`/`to` value read the way JavaScript's `new Date()` reads it; (instant, date_only).

    ISO dates ("2026-04-01", "2026-04", "2026") are UTC midnight; date-times take their
    offset or Z (with none, UTC: the sandbox runs in UTC); RFC 2822 dates are accepted too.
    """
    value = text.strip()
    try:
        if len(value) in (4, 7) and value[:4].isdigit():  # "2026", "2026-04"
            parts = [int(p) for p in value.split("-")]
            return dt.datetime(parts[0], parts[1] if len(parts) > 1 else 1, 1, tzinfo=UTC), True
        if len(value) == 10:
            return dt.datetime.combine(dt.date.fromisoformat(value), dt.time(), UTC), True
        parsed = dt.datetime.fromisoformat(value.replace(" ", "T", 1) if "T" not in value else value)
    except ValueError:
        try:
            parsed = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            raise ValueError(f"Invalid date: {text!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC), False


def start_of(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), UTC)


def end_of(day: dt.date) -> dt.datetime:
    return start_of(day + dt.timedelta(days=1)) - MS


def preset_range(preset: str, today: dt.date) -> tuple[dt.datetime, dt.datetime, str]:
    """(from, to, label) of a preset: the period that holds today, up to the end of today."""
    if preset == "today":
        first, label = today, "Today"
    elif preset == "week":
        first = today - dt.timedelta(days=today.weekday())
        label = f"Week of {first.isoformat()}"
    elif preset == "month":
        first, label = today.replace(day=1), today.strftime("%B %Y")
    elif preset == "quarter":
        quarter = (today.month - 1) // 3
        first, label = dt.date(today.year, 3 * quarter + 1, 1), f"Q{quarter + 1} {today.year}"
    elif preset == "year":
        first, label = dt.date(today.year, 1, 1), str(today.year)
    elif preset == "all":
        first, label = FIRST_DAY, "All time"
    else:
        raise ValueError(f"Invalid preset: {preset!r} (one of {', '.join(PRESETS)})")
    return start_of(first), end_of(today), label


def days_between(first: dt.date, last: dt.date) -> t.Iterator[dt.date]:
    day = first
    while day <= last:
        yield day
        day += dt.timedelta(days=1)


class App(VendorApp):
    prefix = "distribu"

    def __init__(self, seed: int) -> None:
        super().__init__(seed)
        rng = random.Random(f"{seed}:distribu:catalog")
        self.customers = [
            Customer(_id("clxc", seed, name), name, f"buyer@{name.split()[0].lower().strip('&')}.example")
            for name in CUSTOMER_NAMES
        ]
        self.products = [
            Product(
                id=_id("clxp", seed, n),
                name=(
                    f"{rng.choice(('Widget', 'Gadget', 'Crate', 'Bottle', 'Pack'))} "
                    f"{rng.choice(('Blue', 'Red', 'Large', 'Small', 'Pro'))} {n}"
                ),
                sku=f"SKU-{n:03d}",
                category=CATEGORIES[n % len(CATEGORIES)],
                unit_cents=rng.randint(150, 9_000),
                active=n % 9 != 4,  # a few inactive products, which the report leaves out
            )
            for n in range(1, 31)
        ]
        self.removed_products: set[str] = set()
        self.dashboard: dict[str, t.Any] = {"dashboard_orders_per_day": 0, "dashboard_customer_id": "null", "dashboard_rows": "per_order"}
        self.requests_per_minute = 60
        self.window_seconds = 60.0
        self.today: dt.date | None = None  # None: the real UTC date
        self._accepted: dict[str, collections.deque[float]] = collections.defaultdict(collections.deque)
        self._arrivals: dict[str, list[float]] = collections.defaultdict(list)
        self._orders: dict[dt.date, list[Order]] = {}
        self._lock = threading.Lock()

    # -- data -----------------------------------------------------------------

    def orders_on(self, day: dt.date) -> list[Order]:
        """Every order placed on `day`, each customer's from its own (customer, day) generator."""
        cached = self._orders.get(day)
        if cached is not None:
            return cached
        orders = []
        for customer in self.customers:
            rng = random.Random(f"{self.seed}:{customer.id}:{day.isoformat()}")
            for _ in range(rng.choice((0, 0, 0, 0, 1, 1, 2))):
                roll = rng.random()
                if roll < 0.1:
                    at = start_of(day)  # exactly midnight: belongs to this day only
                elif roll < 0.15:
                    at = end_of(day)  # the day's last millisecond: still this day
                else:
                    at = start_of(day) + dt.timedelta(seconds=rng.randint(1, 86_398))
                outcome = "CANCELLED" if rng.random() < 0.08 else "DELIVERED"
                orders.append(Order(customer, at, rng.randint(2_000, 90_000), outcome))
        rng = random.Random(f"{self.seed}:dashboard:{day.isoformat()}")
        for _ in range(self.dashboard["dashboard_orders_per_day"]):
            walk_in = Customer("", rng.choice((None, "Walk-in", "Phone order")), None)
            at = start_of(day) + dt.timedelta(seconds=rng.randint(1, 86_398))
            orders.append(Order(walk_in, at, rng.randint(2_000, 90_000), "DELIVERED"))
        orders.sort(key=lambda order: (order.at, order.customer.id))
        self._orders[day] = orders
        return orders

    def orders_between(self, start: dt.datetime, end: dt.datetime) -> list[Order]:
        """Orders with start <= placed at <= end: the vendor's `to` is inclusive."""
        return [
            order
            for day in days_between(start.date(), end.date())
            for order in self.orders_on(day)
            if start <= order.at <= end
        ]

    def sales(self, start: dt.datetime, end: dt.datetime, today: dt.date | None = None) -> dict:
        """The `data` of /reports/sales for [start, end], without `range`."""
        today = today or dt.datetime.now(UTC).date()
        orders = self.orders_between(start, end)
        per_day: dict[dt.date, list[int]] = {day: [0, 0] for day in days_between(start.date(), end.date())}
        per_status: dict[str, list[int]] = {}
        for order in orders:
            per_day[order.at.date()][0] += 1
            per_day[order.at.date()][1] += order.cents
            counts = per_status.setdefault(order.status(today), [0, 0])
            counts[0] += 1
            counts[1] += order.cents
        total = sum(order.cents for order in orders)
        return {
            "totals": {
                "orderCount": len(orders),
                "revenue": money(total),
                "averageOrderValue": money(round(total / len(orders))) if orders else 0,
            },
            "daily": [
                {"date": day.isoformat(), "orderCount": count, "revenue": money(cents)}
                for day, (count, cents) in per_day.items()
            ],
            # Statuses with no order in the range are absent (a GROUP BY), in lifecycle order.
            "byStatus": [
                {"status": status, "orderCount": per_status[status][0], "revenue": money(per_status[status][1])}
                for status in STATUSES
                if status in per_status
            ],
        }

    def customer_sales(self, start: dt.datetime, end: dt.datetime) -> dict:
        """The `data` of /reports/customers for [start, end], without `range`."""
        by_customer: dict[str, list[Order]] = {}
        grouped = self.dashboard["dashboard_rows"] == "grouped"
        for number, order in enumerate(self.orders_between(start, end)):
            group = order.customer.id or ("dashboard" if grouped else f"dashboard:{number}")
            by_customer.setdefault(group, []).append(order)
        rows: list[dict[str, t.Any]] = []
        for orders in by_customer.values():
            customer = orders[0].customer
            row: dict[str, t.Any] = {
                "customerId": customer.id,
                "customerName": customer.name,
                "customerEmail": customer.email,
                "orderCount": len(orders),
                "revenue": money(sum(order.cents for order in orders)),
                "lastOrderAt": iso_ms(max(order.at for order in orders)),
            }
            if not customer.id:  # a dashboard order: no customer
                shape = self.dashboard["dashboard_customer_id"]
                if shape == "absent":
                    del row["customerId"]
                else:
                    row["customerId"] = None if shape == "null" else ""
            rows.append(row)
        rows.sort(key=lambda row: (-row["revenue"], row.get("customerId") or ""))
        return {
            "totals": {
                "customerCount": len(rows),
                "orderCount": sum(row["orderCount"] for row in rows),
                "revenue": money(sum(order.cents for orders in by_customer.values() for order in orders)),
            },
            "rows": rows,
        }

    def stock(self, product: Product, day: dt.date) -> int:
        rng = random.Random(f"{self.seed}:stock:{product.id}:{day.isoformat()}")
        units = rng.randint(0, 240)
        # Stock dips below zero during order bursts; one active product a day shows it.
        active = [p for p in self.products if p.active]
        if product == active[day.toordinal() % len(active)]:
            units = -rng.randint(1, 6)
        return units

    def inventory(self, day: dt.date | None = None) -> dict:
        """The `data` of /reports/inventory as it stands on `day` (default today)."""
        day = day or dt.datetime.now(UTC).date()
        rows: list[dict[str, t.Any]] = []
        groups: dict[str, list[int]] = {}
        for product in self.products:
            if not product.active or product.id in self.removed_products:
                continue
            stock = self.stock(product, day)
            value_cents = stock * product.unit_cents
            rows.append(
                {
                    "productId": product.id,
                    "name": product.name,
                    "sku": product.sku,
                    "category": product.category,
                    "stock": stock,
                    "unitPrice": money(product.unit_cents),
                    "value": money(value_cents),
                    "isActive": True,
                }
            )
            group = groups.setdefault(product.category or UNCATEGORISED, [0, 0, 0])
            group[0] += 1
            group[1] += stock
            group[2] += value_cents
        rows.sort(key=lambda row: row["name"])
        return {
            "totals": {
                "productCount": len(rows),
                "totalUnits": sum(row["stock"] for row in rows),
                "totalValue": money(sum(g[2] for g in groups.values())),
            },
            "rows": rows,
            "groups": [
                {"category": category, "productCount": count, "totalUnits": units, "totalValue": money(cents)}
                for category, (count, units, cents) in sorted(groups.items(), key=lambda item: -item[1][2])
            ],
        }

    # -- HTTP -----------------------------------------------------------------

    def configure(self, settings: dict) -> dict:
        unknown = set(settings) - {"requests_per_minute", "window_seconds", "today", "removed_products", *self.dashboard}
        if unknown:
            raise ValueError(f"unknown distribu setting(s): {', '.join(sorted(unknown))}")
        with self._lock:
            if "requests_per_minute" in settings:
                if int(settings["requests_per_minute"]) < 1:
                    raise ValueError("requests_per_minute must be at least 1")
                self.requests_per_minute = int(settings["requests_per_minute"])
            if "window_seconds" in settings:
                if float(settings["window_seconds"]) <= 0:
                    raise ValueError("window_seconds must be positive")
                self.window_seconds = float(settings["window_seconds"])
            if "today" in settings:
                self.today = dt.date.fromisoformat(settings["today"]) if settings["today"] else None
            if "removed_products" in settings:
                self.removed_products = set(settings["removed_products"] or ())
            self._configure_dashboard(settings)
            return {
                **self.dashboard,
                "removed_products": sorted(self.removed_products),
                "requests_per_minute": self.requests_per_minute,
                "window_seconds": self.window_seconds,
                "today": self.today.isoformat() if self.today else None,
                # Arrival times (monotonic seconds) per key, the key shortened: the busiest window is computed from these.
                "arrivals": {f"{key[:6]}...{key[-4:]}": list(times) for key, times in self._arrivals.items()},
            }

    def _configure_dashboard(self, settings: dict) -> None:
        choices = {"dashboard_customer_id": ("null", "absent", "empty"), "dashboard_rows": ("per_order", "grouped")}
        for key, allowed in choices.items():
            if key in settings and settings[key] not in allowed:
                raise ValueError(f"{key} must be one of {', '.join(allowed)}, got {settings[key]!r}")
        count = settings.get("dashboard_orders_per_day", 0)
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise ValueError(f"dashboard_orders_per_day must be a whole number >= 0, got {count!r}")
        changed = {key: settings[key] for key in self.dashboard if key in settings}
        if changed:
            self.dashboard.update(changed)
            self._orders = {}  # days are generated again with the new dashboard orders

    def throttle(self, key: str) -> float | None:
        """Seconds to wait when `key` has used its budget in the sliding window, else None (and count it)."""
        with self._lock:
            now = time.monotonic()
            self._arrivals[key].append(now)
            accepted = self._accepted[key]
            while accepted and accepted[0] <= now - self.window_seconds:
                accepted.popleft()
            if len(accepted) >= self.requests_per_minute:
                return accepted[0] + self.window_seconds - now
            accepted.append(now)
            return None

    def handle(self, request: Request) -> Response:
        auth = request.headers.get("Authorization") or ""
        key = auth[len("Bearer ") :].strip() if auth.startswith("Bearer ") else ""
        # Errors echo the key they were sent, as some vendors' do: the tap must mask it.
        if key not in SCOPES:
            return Response.json({"error": f"Invalid or missing API key {key!r}"}, 401)
        wait = self.throttle(key)
        if wait is not None:
            return Response.json(
                {"error": "Rate limit exceeded", "retryAfter": round(wait, 3)},
                429,
                **{"Retry-After": str(max(1, math.ceil(wait)))},
            )
        if "reports:read" not in SCOPES[key]:
            return Response.json({"error": f"Forbidden: insufficient scope for key {key!r}"}, 403)
        if request.method != "GET":
            return Response.json({"error": "Method not allowed"}, 405)
        today = self.today or dt.datetime.now(UTC).date()
        if request.path == "/api/v1/reports/inventory":
            return Response.json({"data": self.inventory(today)})
        if request.path not in ("/api/v1/reports/sales", "/api/v1/reports/customers"):
            return Response.json({"error": "Not found"}, 404)
        try:
            start, end, range_info = self.requested_range(request, today)
        except ValueError as exc:
            return Response.json({"error": str(exc)}, 400)
        if request.path.endswith("/sales"):
            data = self.sales(start, end, today)
        else:
            data = self.customer_sales(start, end)
        return Response.json({"data": {"range": range_info, **data}})

    @staticmethod
    def requested_range(request: Request, today: dt.date) -> tuple[dt.datetime, dt.datetime, dict]:
        preset = request.arg("preset") or "month"
        start, end, label = preset_range(preset, today)
        given_from, given_to = request.arg("from"), request.arg("to")
        if given_from:
            start, _ = parse_js_date(given_from)
        if given_to:
            end, date_only = parse_js_date(given_to)
            if date_only:  # a bare date means that whole day, as the vendor's own ranges end at .999
                end = end_of(end.date())
        if given_from or given_to:
            preset, label = "custom", f"{start.date().isoformat()} → {end.date().isoformat()}"
        if end < start:
            raise ValueError("Invalid range: from is after to")
        return start, end, {"from": iso_ms(start), "to": iso_ms(end), "preset": preset, "label": label}
