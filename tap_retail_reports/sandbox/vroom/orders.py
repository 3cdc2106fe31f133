"""One order drawn from its own seed (lifecycle, line items, money, delivery) and the payments it makes."""

from __future__ import annotations

import datetime as dt
import math
import random
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from tap_retail_reports.sandbox.vroom.catalog import DRIVERS, PRODUCTS, SITE_IDS, Customer
from tap_retail_reports.sandbox.vroom.times import UTC, format_time

LATEST_FOLLOW_UP = dt.timedelta(days=1)  # events after an order (refund, "not completed") come within a day
CENT = Decimal("0.01")
TAX = Decimal("0.07")
CARD_RATE = Decimal("0.029")
STREETS = ("Main St", "Oak Ave", "High St", "Maple Dr", "Park Pl", "Broad St", "Elm St", "Lake Rd")
CANCEL_REASONS = ("Customer requested cancellation", "Items out of stock", "Store closing early",
                  "Driver unavailable", "Duplicate order")
ORDER_TYPES = ("Delivery", "Scheduled Delivery", "Pickup", "Scheduled Pickup", "Curbside",
               "Scheduled Curbside", "Shipping")
ORDER_TYPE_WEIGHTS = (40, 8, 30, 6, 8, 3, 5)
DELIVERY_FEES = {"Delivery": Decimal("3.99"), "Scheduled Delivery": Decimal("3.99"), "Shipping": Decimal("7.99")}
SITE_CENTER = (39.9612, -82.9988)  # all stores around one city; each site a little apart


@dataclass(frozen=True)
class Stub:
    """An order before its details: enough to know who ordered where and when."""

    site: str
    order_id: str
    created: dt.datetime
    customer: str  # the key of a Customer
    is_new: bool
    seed: int  # of the order's details


@dataclass(frozen=True)
class Order:
    stub: Stub
    row: dict  # as served once everything has happened; copied, never mutated
    items: tuple[dict, ...]
    events: dict[str, dt.datetime | None]  # lifecycle times that are null until they happen
    canceled_at: dt.datetime | None


def money(value: Decimal) -> str:
    """A Decimal field as Vroom serialises it: a string with two decimals."""
    return f"{value.quantize(CENT, ROUND_HALF_UP):.2f}"


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, ROUND_HALF_UP)


def make_order(stub: Stub, customer: Customer) -> Order:
    """The order of `stub` as it is once everything has happened (`Order.events` say when)."""
    rng = random.Random(stub.seed)
    channel = rng.choices(("Vroom", "Uber Eats", "DoorDash"), weights=(75, 15, 10))[0]
    order_type = rng.choices(ORDER_TYPES, ORDER_TYPE_WEIGHTS)[0] if channel == "Vroom" else "Delivery"
    delivery = order_type.endswith("Delivery")
    third_party = delivery and (channel != "Vroom" or rng.random() < 0.4)
    canceled = rng.random() < 0.05
    slow = None if canceled else rng.choices((None, "confirm", "prepare", "complete"), (91, 3, 3, 3))[0]
    created = stub.created
    scheduled, events, canceled_at = _lifecycle(rng, created, order_type, slow, canceled)
    items, subtotal, deposits, shorted, added = _line_items(rng, stub, customer, channel, canceled)
    external_order_id = None if channel == "Vroom" else f"{channel[:2].upper()}-{rng.getrandbits(40):010X}"
    for item in items:
        item["external_order_id"] = external_order_id

    # Money, in Decimal; served as strings (the vendor's serialisation of Decimal).
    promo_code = "SAVE5" if subtotal >= 20 and rng.random() < 0.12 else None
    promo = Decimal("5.00") if promo_code else Decimal(0)
    combo_count = 1 if rng.random() < 0.15 else 0
    combo = Decimal(rng.randint(50, 300)) / 100 if combo_count else Decimal(0)
    loyalty = cents(subtotal * Decimal("0.03")) if customer.loyalty_code else Decimal(0)
    merchandise = cents(max(subtotal - promo - combo - loyalty, Decimal(0)) * (1 + TAX)) + deposits
    full_fee = DELIVERY_FEES.get(order_type, Decimal(0))
    subscription_discount = full_fee if customer.subscribed else Decimal(0)
    delivery_fee = full_fee - subscription_discount
    tip_rate = rng.choice(("0.10", "0.15", "0.18", "0.20")) if delivery or rng.random() < 0.2 else "0"
    tip = cents(merchandise * Decimal(tip_rate))
    total = merchandise + delivery_fee + tip
    refund = merchandise + delivery_fee if canceled else cents(shorted)
    tip_refund = tip if canceled else Decimal(0)
    upcharge = cents(added)
    net_tip = tip - tip_refund
    adjusted_total = total - refund - tip_refund + upcharge
    processing_fee = cents(total * CARD_RATE + Decimal("0.30"))
    processing_fee_refund = processing_fee if canceled else Decimal(0)
    processing_fee_on_upcharge = cents(upcharge * CARD_RATE)
    fulfillment_fee = cents(Decimal("5.50") + tip * (1 - CARD_RATE)) if third_party else Decimal(0)
    fulfillment_fee_refund = fulfillment_fee if canceled else Decimal(0)
    ebt_fees = Decimal("0.25") if rng.random() < 0.04 else Decimal(0)
    net_processing_fee = processing_fee - processing_fee_refund + processing_fee_on_upcharge
    net_fulfillment_fee = fulfillment_fee - fulfillment_fee_refund
    net_remit = adjusted_total - net_processing_fee - net_fulfillment_fee - ebt_fees

    lat: float | None
    lon: float | None
    distance: float | None
    if delivery or order_type == "Shipping":
        lat, lon, distance = destination(rng, stub.site)
        address = f"{rng.randint(10, 9999)} {rng.choice(STREETS)}, Columbus, OH"
    else:
        lat = lon = distance = address = None
    row = {
        "site_id": stub.site,
        "order_id": stub.order_id,
        "sales_channel": channel,
        "external_order_id": external_order_id,
        "created_at": format_time(created),
        "customer_name": customer.name,
        "customer_email": customer.email,
        "customer_phone": customer.phone,
        "total": money(total),
        "merchandise": money(merchandise),
        "delivery_fee": money(delivery_fee),
        "tip": money(tip),
        "tip_refund": money(tip_refund),
        "net_tip": money(net_tip),
        "refund_amount": money(refund),
        "upcharge_amount": money(upcharge),
        "adjusted_total": money(adjusted_total),
        "adjusted_total_less_tips": money(adjusted_total - net_tip),
        "processing_fee": money(processing_fee),
        "processing_fee_refund": money(processing_fee_refund),
        "processing_fee_on_upcharge": money(processing_fee_on_upcharge),
        "net_processing_fee": money(net_processing_fee),
        "third_party_fulfillment_fee": money(fulfillment_fee),
        "third_party_fulfillment_fee_refund": money(fulfillment_fee_refund),
        "net_third_party_fulfillment_fee": money(net_fulfillment_fee),
        "ebt_fees": money(ebt_fees),
        "net_remit": money(net_remit),
        "promotion_code": promo_code,
        "promotion_code_original_discount": money(promo),
        "promotion_code_final_discount": money(Decimal(0) if canceled else promo),
        "mix_match_combo_original_count": combo_count,
        "mix_match_combo_final_count": 0 if canceled else combo_count,
        "mix_match_combo_original_discount": money(combo),
        "mix_match_combo_final_discount": money(Decimal(0) if canceled else combo),
        "loyalty_code": customer.loyalty_code,
        "loyalty_original_discount": money(loyalty),
        "loyalty_final_discount": money(Decimal(0) if canceled else loyalty),
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
        "subscribed": customer.subscribed,
        "subscription_discount": money(subscription_discount),
        "auto_retention_conversion": not stub.is_new and rng.random() < 0.03,
        "is_new_customer": stub.is_new,
        "loyalty_tier": customer.loyalty_tier,  # undocumented: checks that the tap drops nothing
    }
    return Order(stub, row, tuple(items), events, canceled_at)


def _lifecycle(
    rng: random.Random, created: dt.datetime, order_type: str, slow: str | None, canceled: bool
) -> tuple[dt.datetime | None, dict[str, dt.datetime | None], dt.datetime | None]:
    """(scheduled time, lifecycle times, cancelation time). Slow orders are the ones order_statuses
    flags for assistance for a while."""
    delivery = order_type.endswith("Delivery")

    def seconds(low: int, high: int) -> dt.timedelta:
        return dt.timedelta(seconds=rng.randint(low, high))

    scheduled = ceil_quarter(created + seconds(3600, 4 * 3600)) if "Scheduled" in order_type else None
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
    return scheduled, events, canceled_at


def _line_items(
    rng: random.Random, stub: Stub, customer: Customer, channel: str, canceled: bool
) -> tuple[list[dict], Decimal, Decimal, Decimal, Decimal]:
    """(items, subtotal, container deposits, value shorted, value added). The store may short an
    item or add a substitute once it has the order."""
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
            "created_at": format_time(stub.created),
            "customer_name": customer.name,
            "customer_email": customer.email,
            "customer_phone": customer.phone,
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
    return items, subtotal, deposits, shorted, added


def order_transactions(order: Order, card: str) -> list[tuple[dt.datetime, dict]]:
    """The payment of `order` by `card`, its upcharge and its refund, as (time, row)."""
    row, stub = order.row, order.stub
    adjusted_at = order.events["ready_time"] or order.events["confirm_time"]
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
        (when, transaction_row(stub.site, f"T{stub.order_id}{n}", kind, when, amount, stub.order_id, details))
        for when, amount, n, kind, details in found
    ]


def transaction_row(
    site: str, transaction_id: str, kind: str, when: dt.datetime, amount: Decimal, source: str | None, details: str
) -> dict:
    deposit = deposit_date(when)
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


def deposit_date(when: dt.datetime) -> dt.date:
    """Two days after the transaction, on a weekday: when the bank settles."""
    deposit = when.date() + dt.timedelta(days=2)
    while deposit.weekday() >= 5:
        deposit += dt.timedelta(days=1)
    return deposit


def destination(rng: random.Random, site: str) -> tuple[float, float, float]:
    """A delivery point a few miles from the site, and its distance in miles."""
    offset = SITE_IDS.index(site) * 0.05 if site in SITE_IDS else 0.0
    store_lat, store_lon = SITE_CENTER[0] + offset, SITE_CENTER[1] - offset
    miles, bearing = rng.uniform(0.4, 6.0), rng.uniform(0, 2 * math.pi)
    lat = store_lat + miles * math.cos(bearing) / 69.0
    lon = store_lon + miles * math.sin(bearing) / (69.0 * math.cos(math.radians(store_lat)))
    return lat, lon, miles


def ceil_quarter(moment: dt.datetime) -> dt.datetime:
    """The next quarter hour at or after `moment`: the slots customers schedule for."""
    quarter = 15 * 60
    return dt.datetime.fromtimestamp(-(-moment.timestamp() // quarter) * quarter, UTC)
