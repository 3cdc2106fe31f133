"""Flipkart's rows, one function per report type: (rng, day, n, warehouse) -> {column: text}, and each type's
columns. Times are naive IST text, dates ISO; amounts two decimals."""

from __future__ import annotations

import calendar
import datetime as dt
import random
import typing as t

from tap_retail_reports.sandbox import credentials

WAREHOUSES = credentials.FLIPKART_WAREHOUSE_IDS
MONTHS = tuple(calendar.month_name)[1:]  # English names, "January" .. "December"
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"

SKUS = (
    ("TSHIRT-CTN-3PK", "Cotton T-Shirt, Pack of 3"),
    ("CHAI-250G", "Masala Chai – 250 g"),
    ("SLEEVE-15", "15.6\" Laptop Sleeve"),
    ("KURTA-BLU-L", "Kurta (Blue, L)"),
    ("TEA-DARJ-100", "Darjeeling चाय 100g"),
    ("BOTTLE-1L", "Steel Bottle 1L"),
    ("EARBUDS-X2", "Wireless Earbuds X2"),
    ("DIARY-2027", "Diary 2027"),
)
STATES = (("Bengaluru", "Karnataka"), ("New Delhi", "Delhi"), ("Mumbai", "Maharashtra"), ("Kolkata", "West Bengal"))
GSTIN = "29ABCDE1234F1Z5"


def money(value: float) -> str:
    return f"{value + 0.0:.2f}"  # + 0.0: no "-0.00"


def sku(index: int) -> tuple[str, str, str]:
    """(sku, fsn, title) of the catalog's `index`th product: the catalog grows with rows_per_day."""
    code, title = SKUS[index % len(SKUS)]
    lap = index // len(SKUS)
    if lap:
        code, title = f"{code}-V{lap}", f"{title} v{lap}"
    return code, f"FSN{index:013d}", title


def _moment(rng: random.Random, day: dt.date) -> str:
    return (dt.datetime.combine(day, dt.time()) + dt.timedelta(seconds=rng.randrange(86_400))).strftime(TIME_FORMAT)


def _order_ids(day: dt.date, n: int) -> tuple[str, str]:
    base = f"{day:%y%m%d}{n:07d}"
    return f"OD1{base}00", f"{base}1"


def _tax(rng: random.Random, taxable: float) -> dict[str, str]:
    """GST: IGST for an inter-state sale, else CGST + SGST; the other pair left empty."""
    rate = rng.choice((5, 12, 18))
    if rng.random() < 0.5:
        return {"igst_rate": str(rate), "igst_amount": money(taxable * rate / 100),
                "cgst_rate": "", "cgst_amount": "", "sgst_rate": "", "sgst_amount": ""}
    half = money(taxable * rate / 200)
    return {"igst_rate": "", "igst_amount": "", "cgst_rate": str(rate / 2), "cgst_amount": half,
            "sgst_rate": str(rate / 2), "sgst_amount": half}


def orders_row(rng: random.Random, day: dt.date, n: int, _: str | None) -> dict[str, str]:
    order_id, item_id = _order_ids(day, n)
    code, fsn, title = sku(rng.randrange(len(SKUS) * 2))
    quantity, price = rng.randint(1, 3), round(rng.uniform(149, 4999), 2)
    shipping = rng.choice((0.0, 40.0, 70.0))
    city, state = rng.choice(STATES)
    return {
        "order_id": order_id, "order_item_id": item_id, "order_date": _moment(rng, day), "sku": code,
        "fsn": fsn, "product_title": title, "quantity": str(quantity), "selling_price": money(price),
        "shipping_charge": money(shipping), "total_amount": money(price * quantity + shipping),
        "order_status": rng.choice(("APPROVED", "PACKED", "SHIPPED", "DELIVERED", "CANCELLED")),
        "dispatch_by_date": (day + dt.timedelta(days=2)).isoformat(), "buyer_city": city, "buyer_state": state,
        "is_replacement": "true" if rng.random() < 0.05 else "false",
    }


def sales_row(rng: random.Random, day: dt.date, n: int, _: str | None) -> dict[str, str]:
    order_id, item_id = _order_ids(day, n)
    code, fsn, _title = sku(rng.randrange(len(SKUS) * 2))
    quantity, mrp = rng.randint(1, 3), round(rng.uniform(199, 5999), 2)
    discount = round(mrp * rng.choice((0, 0.1, 0.25)), 2)
    final = round((mrp - discount) * quantity, 2)
    event = rng.choice(("Sale", "Sale", "Sale", "Return", "Cancellation"))
    return {
        "seller_gstin": GSTIN, "order_id": order_id, "order_item_id": item_id, "event_type": event,
        "event_sub_type": {"Sale": "Sale", "Return": "Return", "Cancellation": "Cancellation"}[event],
        "order_date": _moment(rng, day), "invoice_id": f"FAAB{day:%y%m}{n:06d}", "invoice_date": day.isoformat(),
        "sku": code, "fsn": fsn, "item_quantity": str(quantity), "price_before_discount": money(mrp),
        "total_discount": money(discount), "final_invoice_amount": money(final),
        "taxable_value": money(final / 1.18), **_tax(rng, final / 1.18),
        "customer_delivery_state": rng.choice(STATES)[1],
    }


def cash_back_row(rng: random.Random, day: dt.date, n: int, _: str | None) -> dict[str, str]:
    order_id, item_id = _order_ids(day, n * 4)
    amount = round(rng.uniform(10, 300), 2)
    return {
        "order_id": order_id, "order_item_id": item_id,
        "document_type": rng.choice(("Credit Note", "Debit Note")), "document_sub_type": "Sale",
        "invoice_id": f"FACB{day:%y%m}{n:06d}", "invoice_date": day.isoformat(), "amount": money(amount),
        "taxable_value": money(amount / 1.18), "igst_amount": money(amount - amount / 1.18),
    }


def settled_row(rng: random.Random, day: dt.date, n: int, _: str | None) -> dict[str, str]:
    order_id, item_id = _order_ids(day, n)
    sale = round(rng.uniform(199, 4999), 2)
    fees = {name: round(sale * share, 2) for name, share in
            (("commission", 0.08), ("collection_fee", 0.02), ("fixed_fee", 0.01), ("shipping_fee", 0.015))}
    marketplace = sum(fees.values())
    tcs, tds = round(sale * 0.01, 2), round(sale * 0.001, 2)
    return {
        "neft_id": f"NEFT{day:%y%m%d}{n % 7:03d}", "neft_type": rng.choice(("NEFT", "IMPS")),
        "payment_date": day.isoformat(), "settlement_value": money(sale - marketplace - tcs - tds),
        "order_id": order_id, "order_item_id": item_id, "sale_amount": money(sale),
        "marketplace_fee": money(-marketplace), **{name: money(-value) for name, value in fees.items()},
        "tcs": money(-tcs), "tds": money(-tds), "gst_on_mp_fees": money(-marketplace * 0.18),
        "protection_fund": "" if rng.random() < 0.8 else money(rng.uniform(5, 50)),
    }


def gst_row(rng: random.Random, day: dt.date, n: int, _: str | None) -> dict[str, str]:
    order_id, item_id = _order_ids(day, n)
    _code, _fsn, title = sku(rng.randrange(len(SKUS)))
    quantity, taxable = rng.randint(1, 3), round(rng.uniform(100, 4000), 2)
    tax = _tax(rng, taxable)
    total = taxable + sum(float(tax[key] or 0) for key in ("igst_amount", "cgst_amount", "sgst_amount"))
    return {
        "seller_gstin": GSTIN, "order_id": order_id, "order_item_id": item_id,
        "invoice_number": f"FAAB{day:%y%m}{n:06d}", "invoice_date": day.isoformat(),
        "hsn_code": rng.choice(("6109", "0902", "4202", "8518")), "product_title": title,
        "quantity": str(quantity), "taxable_value": money(taxable), **tax,
        "total_invoice_value": money(total), "place_of_supply": rng.choice(STATES)[1],
    }


def ledger_row(rng: random.Random, day: dt.date, n: int, _: str | None) -> dict[str, str]:
    kind = rng.choice(("Order Payout", "Commission", "Refund", "Ads Spend, Sponsored Listing"))
    amount = money(rng.uniform(50, 20000))
    credit = kind == "Order Payout"
    return {
        "transaction_date": _moment(rng, day), "transaction_type": kind,
        "reference_id": f"TXN{day:%y%m%d}{n:06d}", "description": f"{kind} for {day:%d %b %Y}",
        "debit": "" if credit else amount, "credit": amount if credit else "",
    }


def fbf_row(rng: random.Random, day: dt.date, n: int, _: str | None) -> dict[str, str]:
    order_id, item_id = _order_ids(day, n)
    code, fsn, _title = sku(rng.randrange(len(SKUS)))
    ordered = _moment(rng, day)
    shipped = rng.random() < 0.7
    status = rng.choice(("DELIVERED", "SHIPPED")) if shipped else "APPROVED"
    return {
        "order_id": order_id, "order_item_id": item_id, "order_date": ordered,
        "warehouse_id": rng.choice(WAREHOUSES), "fulfilment_type": "FBF", "sku": code, "fsn": fsn,
        "quantity": str(rng.randint(1, 2)), "shipped_date": (day + dt.timedelta(days=1)).isoformat() if shipped else "",
        "delivered_date": (day + dt.timedelta(days=3)).isoformat() if status == "DELIVERED" else "",
        "order_status": status,
    }


def returns_row(rng: random.Random, day: dt.date, n: int, _: str | None) -> dict[str, str]:
    order_id, item_id = _order_ids(day - dt.timedelta(days=7), n)
    code, fsn, _title = sku(rng.randrange(len(SKUS)))
    done = rng.random() < 0.5
    return {
        "return_id": f"RET{day:%y%m%d}{n:06d}", "order_id": order_id, "order_item_id": item_id,
        "return_requested_date": _moment(rng, day),
        "return_type": rng.choice(("customer_return", "courier_return")),
        "return_reason": rng.choice(("DAMAGED", "WRONG_ITEM", "SIZE_ISSUE")),
        "return_sub_reason": rng.choice(("", "Box was torn", "Colour differs")),
        "buyer_comment": rng.choice(("", "Wrong size, please exchange", "Arrived broken.\nPhotos attached")),
        "sku": code, "fsn": fsn, "quantity": "1", "refund_amount": money(rng.uniform(149, 2999)),
        "return_status": "completed" if done else "in_transit",
        "completed_date": (day + dt.timedelta(days=5)).isoformat() if done else "",
    }


def stock_row(rng: random.Random, day: dt.date, n: int, warehouse: str | None) -> dict[str, str]:
    code, fsn, title = sku(n)
    opening = rng.randint(0, 500)
    inward, outward, returned = rng.randint(0, 50), rng.randint(0, 60), rng.randint(0, 5)
    adjustment = -rng.randint(0, 2)
    return {
        "date": day.isoformat(), "warehouse_id": warehouse or "", "sku": code, "fsn": fsn, "product_title": title,
        "opening_stock": str(opening), "inward": str(inward), "outward": str(outward),
        "customer_returns": str(returned), "adjustments": str(adjustment),
        "closing_stock": str(opening + inward - outward + returned + adjustment),
    }


def mir_row(rng: random.Random, month_start: dt.date, n: int, warehouse: str | None) -> dict[str, str]:
    code, fsn, _title = sku(n)
    opening, received, dispatched = rng.randint(0, 900), rng.randint(0, 400), rng.randint(0, 500)
    returned, damaged = rng.randint(0, 20), rng.randint(0, 5)
    return {
        "warehouse_id": warehouse or "", "month": MONTHS[month_start.month - 1], "year": str(month_start.year),
        "sku": code, "fsn": fsn, "opening_balance": str(opening), "received": str(received),
        "dispatched": str(dispatched), "returned": str(returned), "damaged": str(damaged),
        "closing_balance": str(opening + received - dispatched + returned - damaged),
        "storage_fee": money(rng.uniform(0, 800)),
    }


def current_row(rng: random.Random, day: dt.date, n: int, warehouse: str | None) -> dict[str, str]:
    code, fsn, title = sku(n)
    live, reserved = rng.randint(0, 800), rng.randint(0, 40)
    return {
        "warehouse_id": warehouse or "", "sku": code, "fsn": fsn, "product_title": title,
        "live_inventory": str(live), "reserved": str(reserved), "in_transit": str(rng.randint(0, 100)),
        "sellable": str(max(0, live - reserved)), "last_updated": _moment(rng, day),
    }


def stranded_row(rng: random.Random, day: dt.date, n: int, warehouse: str | None) -> dict[str, str]:
    code, fsn, title = sku(n)
    return {
        "warehouse_id": warehouse or "", "sku": code, "fsn": fsn, "product_title": title,
        "stranded_quantity": str(rng.randint(1, 60)),
        "stranded_reason": rng.choice(("Listing inactive", "Price missing", "Listing blocked, policy")),
        "stranded_since": (day - dt.timedelta(days=rng.randint(1, 90))).isoformat(),
        "action_required": rng.choice(("", "Activate listing", "Update price")),
    }


def unsellable_row(rng: random.Random, day: dt.date, n: int, warehouse: str | None) -> dict[str, str]:
    code, fsn, title = sku(n)
    return {
        "warehouse_id": warehouse or "", "sku": code, "fsn": fsn, "product_title": title,
        "unsellable_quantity": str(rng.randint(1, 25)),
        "reason": rng.choice(("Damaged", "Expired", "Customer return - unsellable")),
        "received_date": (day - dt.timedelta(days=rng.randint(1, 120))).isoformat(),
        "removal_fee": "" if rng.random() < 0.3 else money(rng.uniform(10, 250)),
    }


ROWS: dict[str, t.Callable[[random.Random, dt.date, int, str | None], dict[str, str]]] = {
    "orders_report": orders_row, "sales_ledger": sales_row, "cash_back": cash_back_row,
    "settled_transaction_ledger": settled_row, "gst_returns_report": gst_row, "financial_year_ledger": ledger_row,
    "fbf_orders_report": fbf_row, "returns_report": returns_row, "stock_ledger": stock_row,
    "current_inventory_report": current_row, "stranded_inventory_report": stranded_row,
    "unsellable_inventory_report": unsellable_row,
}
_SAMPLE_DAY = dt.date(2026, 10, 1)
COLUMNS: dict[str, tuple[str, ...]] = {  # each type's header: the keys its row function writes
    name: tuple(make(random.Random(0), _SAMPLE_DAY, 0, "BLR01")) for name, make in ROWS.items()
}
COLUMNS["mir_ledger"] = tuple(mir_row(random.Random(0), _SAMPLE_DAY, 0, "BLR01"))
