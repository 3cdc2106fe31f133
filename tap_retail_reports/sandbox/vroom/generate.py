"""Vroom's rows, generated on demand from the seed per (site, UTC day), never stored.

A site-day is made in three cached steps: its plan (order times, which orders bring a new
customer, seeds; nothing from any other day), its stubs (each order's customer: a returning
customer is a new customer of an earlier plan, so customers recur across days and sites), and
the day itself (orders, transactions, searches, audit rows). A day is made whole, everything in
it as it is once it has happened; reports.py shows it as of a moment.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import random
from dataclasses import dataclass
from decimal import Decimal

from tap_retail_reports.sandbox.vroom.catalog import (
    DRIVERS,
    MANAGEMENT,
    PRODUCTS,
    SEARCH_RESULTS,
    SEARCH_TERMS,
    SITE_IDS,
    Customer,
    make_customer,
)
from tap_retail_reports.sandbox.vroom.orders import Order, Stub, make_order, order_transactions, transaction_row
from tap_retail_reports.sandbox.vroom.times import MIDNIGHT_DAYS, PROGRAM_START, at_second, format_time

PRODUCT_ACTIONS = ("Product Shown", "Product Hidden", "Product Created", "Product Updated", "Product Deleted")
Event = tuple[dt.datetime, dict]  # a row and its time, for sorting and filtering by time


@dataclass(frozen=True)
class Plan:
    """Step 1 of a site-day: nothing here depends on any other day."""

    seconds: tuple[int, ...]  # order times, seconds after midnight, ascending
    new: tuple[bool, ...]  # the order brings a new customer
    seeds: tuple[int, ...]  # one per order, for its details
    picks_seed: int  # returning customers
    events_seed: int  # searches, audit rows, fees


@dataclass(frozen=True)
class Day:
    """Step 3: everything that happened at one site on one UTC day."""

    orders: tuple[Order, ...]
    transactions: tuple[Event, ...]
    search_terms: tuple[Event, ...]
    audit_logs: tuple[Event, ...]


class StoreData:
    """Every row the store has for a seed, made when first asked for and cached."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        # Plans and stubs are small and every contact query reads all of them; full days are
        # larger, so only the most recent few hundred stay.
        self.plan = functools.lru_cache(maxsize=8192)(self._make_plan)
        self.stubs = functools.lru_cache(maxsize=8192)(self._make_stubs)
        self.site_day = functools.lru_cache(maxsize=400)(self._make_site_day)  # a 90-day, 3-site range and more
        self.management = functools.lru_cache(maxsize=512)(self._make_management)
        self.customer = functools.lru_cache(maxsize=16384)(self._make_customer)

    def _make_customer(self, key: str) -> Customer:
        return make_customer(self.seed, key)

    def _make_plan(self, site: str, day: dt.date) -> Plan:
        """Step 1, from the site-day's own generator."""
        rng = random.Random(f"{self.seed}:{site}:{day.isoformat()}")
        count = rng.choices(range(9), weights=(1, 2, 3, 4, 4, 4, 3, 2, 1))[0]
        seconds = sorted(min(int(rng.triangular(0, 86400, 64800)), 86399) for _ in range(count))
        if day.day in MIDNIGHT_DAYS:  # a row on the boundary of two daily windows
            seconds = [0, *seconds[1:]] if seconds else [0]
        return Plan(
            seconds=tuple(seconds),
            new=tuple(rng.random() < 0.4 for _ in seconds),
            seeds=tuple(rng.getrandbits(32) for _ in seconds),
            picks_seed=rng.getrandbits(64),
            events_seed=rng.getrandbits(64),
        )

    @staticmethod
    def _order_id(site: str, day: dt.date, index: int) -> str:
        return f"{site}{day:%y%m%d}{index:02d}"

    def _make_stubs(self, site: str, day: dt.date) -> tuple[Stub, ...]:
        """Step 2: each planned order's id, time and customer (new, or one of an earlier plan)."""
        plan = self.plan(site, day)
        rng = random.Random(plan.picks_seed)
        stubs = []
        for index, (second, new, seed) in enumerate(zip(plan.seconds, plan.new, plan.seeds, strict=True)):
            order_id = self._order_id(site, day, index)
            returning = None if new else self._returning_customer(rng, site, day, second)
            stubs.append(Stub(site, order_id, at_second(day, second), returning or order_id, returning is None, seed))
        return tuple(stubs)

    def _returning_customer(self, rng: random.Random, site: str, day: dt.date, second: int) -> str | None:
        """A new customer of an earlier order (mostly recent, mostly this site), or None."""
        for _ in range(3):
            back = min(int(rng.expovariate(1 / 30)), (day - PROGRAM_START.date()).days)
            their_site = site if rng.random() < 0.85 else rng.choice(SITE_IDS)
            their_day = day - dt.timedelta(days=back)
            plan = self.plan(their_site, their_day)
            candidates = [
                self._order_id(their_site, their_day, i)
                for i, (s, new) in enumerate(zip(plan.seconds, plan.new, strict=True))
                if new and (their_day, s) < (day, second)
            ]
            if candidates:
                return rng.choice(candidates)
        return None

    def _make_site_day(self, site: str, day: dt.date) -> Day:
        """Step 3: the orders of the day's stubs, then, from the plan's events seed, fees, searches, audit."""
        orders = tuple(make_order(stub, self.customer(stub.customer)) for stub in self.stubs(site, day))
        rng = random.Random(self.plan(site, day).events_seed)
        transactions = [
            pair for order in orders for pair in order_transactions(order, self.customer(order.stub.customer).card)
        ]
        transactions += self._fees(rng, site, day)
        searches = self._searches(rng, site, day)
        audit = self._audit(rng, site, day, orders)
        return Day(
            orders=orders,
            transactions=tuple(sorted(transactions, key=lambda p: (p[0], p[1]["transaction_id"]))),
            search_terms=tuple(sorted(searches, key=lambda p: p[0])),
            audit_logs=tuple(sorted(audit, key=lambda p: p[0])),
        )

    def _fees(self, rng: random.Random, site: str, day: dt.date) -> list[Event]:
        """The platform's own charges to the store: a monthly fee, now and then a chargeback."""
        fees = []
        if day.day == 1:
            fees.append((at_second(day, 6 * 3600), Decimal("-49.00"), "Monthly platform fee"))
        if rng.random() < 0.03:
            fees.append((at_second(day, rng.randrange(86400)), Decimal("-15.00"), "Chargeback fee"))
        return [
            (when, transaction_row(site, f"F{site}{day:%y%m%d}{n}", "Fee", when, amount, None, details))
            for n, (when, amount, details) in enumerate(fees)
        ]

    def _searches(self, rng: random.Random, site: str, day: dt.date) -> list[Event]:
        """What shoppers searched for at the site, and which result (if any) they chose."""
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
                found.append((at_second(day, second), {
                    "site_id": site,
                    "created_at": format_time(at_second(day, second)),
                    "ip_hash": hashlib.sha256(f"{self.seed}:{ip}".encode()).hexdigest(),
                    "term": term,
                    "num_search_results": len(matches),
                    "selected_product_upc_or_plu": matches[chosen].upc_or_plu if chosen is not None else None,
                    "selected_product_title": matches[chosen].title if chosen is not None else None,
                    "selection_position": chosen,
                }))
        return found

    def _audit(
        self, rng: random.Random, site: str, day: dt.date, orders: tuple[Order, ...]
    ) -> list[Event]:
        """The site's audit trail: opening hours, product edits, and what was done about its orders."""
        store = store_user(site)
        found: list[tuple[dt.datetime, str, str, str]] = []  # when, action, details, user
        if day.day in MIDNIGHT_DAYS:
            found.append((at_second(day, 0), "Store Info Updated", "Hours synced from backoffice", "Automated"))
        found.append((at_second(day, 7 * 3600 + rng.randrange(1800)), "Store Opened", "", store))
        found.append((at_second(day, 22 * 3600 + rng.randrange(3600)), "Store Closed", "", store))
        for _ in range(rng.randint(0, 3)):
            product = rng.choice(PRODUCTS)
            found.append((at_second(day, rng.randrange(8 * 3600, 20 * 3600)), rng.choice(PRODUCT_ACTIONS),
                          f"{product.title} ({product.upc_or_plu})", manager(rng)))
        if day.weekday() == 0:  # Monday's bulk update: several rows in the same second
            when = at_second(day, 3 * 3600)
            updated = rng.sample(PRODUCTS, rng.randint(2, 4))
            found.append((when, "Bulk Product Update Run", f"{len(updated)} products updated", "Automated"))
            found += [(when, "Product Updated", f"{p.title} ({p.upc_or_plu}): price", "Automated") for p in updated]
        if rng.random() < 0.04:
            found.append((at_second(day, rng.randrange(86400)), rng.choice(("Driver Added", "Driver Removed", "Driver Updated")),
                          rng.choice(DRIVERS), manager(rng)))
        if rng.random() < 0.03:
            found.append((at_second(day, rng.randrange(86400)), "Long Service Estimate",
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
        return [(when, audit_row(site, when, action, details, user)) for when, action, details, user in found]

    def _make_management(self, day: dt.date) -> tuple[Event, ...]:
        """Audit rows for actions across sites (site_id MANAGEMENT), oldest first."""
        rng = random.Random(f"{self.seed}:{MANAGEMENT}:{day.isoformat()}")
        found = []
        if day.weekday() == 0:
            found.append((at_second(day, 2 * 3600), "Bulk Promotion Update Run", "Weekly promotions published", "Automated"))
        if rng.random() < 0.1:
            found.append((at_second(day, rng.randrange(86400)), "Password Reset", "", manager(rng)))
        if rng.random() < 0.05:
            found.append((at_second(day, rng.randrange(86400)), "Management Refund",
                          f"Goodwill credit ${rng.randint(2, 20)}.00", manager(rng)))
        return tuple(
            (when, audit_row(MANAGEMENT, when, action, details, user))
            for when, action, details, user in sorted(found)
        )



def store_user(site: str) -> str:
    return f"store{site}@retailer.example"


def manager(rng: random.Random) -> str:
    return rng.choice(("ops.manager", "ecommerce", "regional.lead")) + "@retailer.example"


def audit_row(site: str, when: dt.datetime, action: str, details: str, user: str) -> dict:
    return {"site_id": site, "created_at": format_time(when), "action": action,
            "additional_details": details, "user": user}
