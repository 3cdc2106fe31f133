"""Distribu's account, generated from the seed per (customer, day) and per (product, day), never stored.

So any range is the sum of its days: a ranged call and the per-day calls over the same days agree
exactly. Some orders sit exactly at midnight and at the last millisecond of a day, so a client that
overlaps or gaps its windows gets different numbers.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
import typing as t
from dataclasses import dataclass

UTC = dt.timezone.utc
STATUSES = ("SUBMITTED", "CONFIRMED", "SHIPPED", "DELIVERED", "CANCELLED")
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


def start_of(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), UTC)


def end_of(day: dt.date) -> dt.datetime:
    return start_of(day + dt.timedelta(days=1)) - MS


def days_between(first: dt.date, last: dt.date) -> t.Iterator[dt.date]:
    day = first
    while day <= last:
        yield day
        day += dt.timedelta(days=1)


class Account:
    """The distributor's account for a seed: customers, products, each day's orders, and the reports on them."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
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
        self.removed_products: set[str] = set()  # product ids deleted upstream: gone from the inventory report
        self.dashboard: dict[str, t.Any] = {
            "dashboard_orders_per_day": 0, "dashboard_customer_id": "null", "dashboard_rows": "per_order",
        }
        self._orders: dict[dt.date, list[Order]] = {}

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

    def configure_dashboard(self, settings: dict) -> None:
        """Set the knobs for orders made in the dashboard (no customer); days are made again with them."""
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
