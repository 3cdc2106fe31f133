"""FoxyCart's store data: customers and transactions generated from the seed per store-local day, never
stored, and each report's CSVs over a window of local times."""

from __future__ import annotations

import datetime as dt
import random
import typing as t
from zoneinfo import ZoneInfo

from tap_retail_reports.sandbox.files import Member
from tap_retail_reports.sandbox.jobs import days

DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S"
REPORT_NAMES = ("complete", "customers", "customers_ltv", "transactions")

FIRST_NAMES = ("Ana", "José", "Zoë", "Søren", "Mei", "Olu", "Łukasz", "Björn", "Chloé", "Rahul", "Sam", "Priya")
LAST_NAMES = ("García", "Müller", "O'Brien", "Nguyen", "Smith", "Dubois", "Kowalski", "Østergaard", "Tanaka", "Okafor")
STREETS = ("12 Harbor Way, Suite 4", "88 Elm St", "1 Infinite Loop", "400 Rue de l'Église", "7 Mill Lane, Unit B")
CITIES = (("Portland", "OR", "97201"), ("Austin", "TX", "73301"), ("Boston", "MA", "02108"), ("Denver", "CO", "80202"))
PRODUCTS = (
    ("TEE-BLK-M", "Black Tee, Medium", "apparel", 24.00, 0.4),
    ("MUG-12OZ", "Ceramic Mug 12oz", "kitchen", 14.50, 0.9),
    ("CAP-RED", "Red \"Dad\" Cap", "apparel", 19.99, 0.2),
    ("NB-A5", "Notebook A5 – dotted", "stationery", 9.75, 0.3),
    ("SUB-COFFEE", "Coffee Subscription", "subscriptions", 32.00, 1.0),
)
NOTES = ("", "", "", "Leave at the back door", "Happy birthday!\nLove, Sam", "Call before delivery, please")

TRANSACTION_COLUMNS = (
    "id", "transaction_date", "customer_id", "customer_first_name", "customer_last_name", "customer_email",
    "customer_address1", "customer_city", "customer_state", "customer_postal_code", "customer_country",
    "total_item_price", "total_tax", "total_shipping", "total_discount", "total_order", "currency_code",
    "payment_type", "status", "is_test", "hide_transaction", "custom_note",
)
ITEM_COLUMNS = (
    "transaction_id", "transaction_date", "item_id", "item_code", "item_name", "item_category",
    "item_price", "item_quantity", "item_weight", "subscription_frequency", "is_future_line_item",
)
COUPON_COLUMNS = ("transaction_id", "transaction_date", "coupon_code", "coupon_name", "discount_amount")
CUSTOMER_COLUMNS = (
    "id", "first_name", "last_name", "email", "company", "phone", "date_created", "last_login_date",
    "is_anonymous", "tax_id", "default_billing_address1", "default_billing_city", "default_billing_country",
)
LTV_COLUMNS = (
    "customer_id", "first_name", "last_name", "email", "date_created", "first_transaction_date",
    "last_transaction_date", "transaction_count", "total_spent", "average_order_value", "currency_code",
)
FILES = {  # report name -> its CSVs, in zip order
    "complete": (("transactions.csv", TRANSACTION_COLUMNS), ("transaction_items.csv", ITEM_COLUMNS),
                 ("coupons.csv", COUPON_COLUMNS)),
    "customers": (("customers.csv", CUSTOMER_COLUMNS),),
    "customers_ltv": (("customers_ltv.csv", LTV_COLUMNS),),
    "transactions": (("transactions.csv", TRANSACTION_COLUMNS),),
}


# How FoxyCart's admin portal might head the same columns (the csv_column_names knob's `portal` reading).
PORTAL_NAMES = {
    "transaction_date": "Transaction Date", "customer_id": "Customer ID",
    "customer_first_name": "First Name", "customer_last_name": "Last Name", "customer_email": "Email",
    "customer_address1": "Address 1", "customer_city": "City", "customer_state": "State",
    "customer_postal_code": "Postal Code", "customer_country": "Country", "total_item_price": "Item Total",
    "total_tax": "Tax", "total_shipping": "Shipping", "total_discount": "Discount", "total_order": "Order Total",
    "currency_code": "Currency", "payment_type": "Payment Type", "is_test": "Test Transaction",
    "hide_transaction": "Hidden", "custom_note": "Note", "item_code": "Item Code", "item_name": "Item Name",
    "item_price": "Price", "item_quantity": "Quantity", "item_weight": "Weight", "date_created": "Date Created",
    "last_login_date": "Last Login", "transaction_count": "Orders", "total_spent": "Lifetime Value",
    "average_order_value": "Average Order Value",
}


def money(value: float) -> str:
    """An amount as the CSVs write it: two decimals."""
    return f"{value + 0.0:.2f}"  # + 0.0: no "-0.00"


def report_members(seed: int, name: str, start: str, end: str, rows_per_day: int, zone: ZoneInfo,
                   span: tuple[dt.date, dt.date]) -> list[Member]:
    """The CSVs of report `name` over [start, end] (naive local "YYYY-MM-DD HH:MM:SS"), days outside `span` empty."""
    first = max(span[0], dt.date.fromisoformat(start[:10]))
    last = min(span[1], dt.date.fromisoformat(end[:10]))

    def produce(part: str) -> t.Callable[[], t.Iterator[dict[str, str]]]:
        def rows() -> t.Iterator[dict[str, str]]:
            for day in days(first, last):
                if part in ("customers.csv", "customers_ltv.csv"):
                    for customer, ltv in customers_on(seed, day, rows_per_day, zone):
                        if start <= customer["date_created"] <= end:
                            yield customer if part == "customers.csv" else ltv
                    continue
                for transaction, items, coupon in transactions_on(seed, day, rows_per_day, zone):
                    if not start <= transaction["transaction_date"] <= end:
                        continue
                    if part == "transactions.csv":
                        yield transaction
                    elif part == "transaction_items.csv":
                        yield from items
                    elif coupon:
                        yield coupon
        return rows

    return [Member(file_name, columns, produce(file_name)) for file_name, columns in FILES[name]]


def local_times(rng: random.Random, day: dt.date, count: int, zone: ZoneInfo) -> list[str]:
    """`count` naive local times over the day's real seconds (23, 24 or 25 hours), in order; the first four at
    00:00:00, 1.5 and 2.5 hours after midnight (both 01:30:00 on the day clocks fall back) and 23:59:59."""
    midnight = dt.datetime.combine(day, dt.time(), zone).timestamp()
    length = int(dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), zone).timestamp() - midnight)
    anchors = [0, 5400, 9000, length - 1][:count]
    offsets = sorted(anchors + [rng.randrange(1, length - 1) for _ in range(count - len(anchors))])
    return [
        dt.datetime.fromtimestamp(midnight + offset, zone).strftime(DATETIME_FORMAT) for offset in offsets
    ]


def transactions_on(
    seed: int, day: dt.date, count: int, zone: ZoneInfo
) -> t.Iterator[tuple[dict[str, str], list[dict[str, str]], dict[str, str] | None]]:
    """Transactions made on `day`, each with its line items and its coupon (or None)."""
    rng = random.Random(f"{seed}:foxycart:transactions:{day.isoformat()}:{count}")
    for n, when in enumerate(local_times(rng, day, count, zone)):
        transaction_id = f"{day:%Y%m%d}{n:06d}"
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        city, state, postal = rng.choice(CITIES)
        items = []
        for position in range(rng.randint(1, 3)):
            code, title, category, price, weight = rng.choice(PRODUCTS)
            quantity = rng.randint(1, 4)
            items.append({
                "transaction_id": transaction_id,
                "transaction_date": when,
                "item_id": f"{transaction_id}{position:02d}",
                "item_code": code,
                "item_name": title,
                "item_category": category,
                "item_price": money(price),
                "item_quantity": str(quantity),
                "item_weight": f"{weight * quantity:.3f}",
                "subscription_frequency": "1m" if category == "subscriptions" else "",
                "is_future_line_item": "1" if category == "subscriptions" and rng.random() < 0.5 else "0",
            })
        item_total = sum(float(item["item_price"]) * int(item["item_quantity"]) for item in items)
        coupon = None
        discount = 0.0
        if rng.random() < 0.3:
            discount = round(min(item_total, rng.choice((5.0, 10.0, item_total * 0.15))), 2)
            coupon = {
                "transaction_id": transaction_id,
                "transaction_date": when,
                "coupon_code": rng.choice(("FALL10", "WELCOME5", "VIP-15")),
                "coupon_name": rng.choice(("Fall sale, 10 off", "Welcome", "VIP 15%")),
                "discount_amount": money(-discount),
            }
        tax = round(item_total * 0.0825, 2)
        shipping = rng.choice((0.0, 4.99, 9.5))
        yield (
            {
                "id": transaction_id,
                "transaction_date": when,
                "customer_id": str(rng.randint(100_000, 999_999)),
                "customer_first_name": first,
                "customer_last_name": last,
                "customer_email": f"{first}.{last}@example.com".lower().replace("'", ""),
                "customer_address1": rng.choice(STREETS),
                "customer_city": city,
                "customer_state": state,
                "customer_postal_code": postal,
                "customer_country": "US",
                "total_item_price": money(item_total),
                "total_tax": money(tax),
                "total_shipping": money(shipping),
                "total_discount": money(-discount),
                "total_order": money(item_total + tax + shipping - discount),
                "currency_code": "USD",
                "payment_type": rng.choice(("plastic", "plastic", "paypal", "purchase_order")),
                "status": rng.choice(("captured", "captured", "approved", "refunded", "")),
                "is_test": "1" if rng.random() < 0.05 else "0",
                "hide_transaction": "true" if rng.random() < 0.03 else "false",
                "custom_note": rng.choice(NOTES),
            },
            items,
            coupon,
        )


def customers_on(
    seed: int, day: dt.date, count: int, zone: ZoneInfo
) -> t.Iterator[tuple[dict[str, str], dict[str, str]]]:
    """Customers created on `day`, each with its customers_ltv row."""
    rng = random.Random(f"{seed}:foxycart:customers:{day.isoformat()}:{count}")
    for n, when in enumerate(local_times(rng, day, count, zone)):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        city, _, _ = rng.choice(CITIES)
        anonymous = rng.random() < 0.1
        login = "" if anonymous or rng.random() < 0.3 else when
        orders = rng.randint(0, 6)
        spent = round(sum(rng.uniform(10, 140) for _ in range(orders)), 2)
        customer = {
            "id": f"{day:%Y%m%d}{n:06d}",
            "first_name": first,
            "last_name": last,
            "email": f"{first}.{last}.{n}@example.com".lower().replace("'", ""),
            "company": rng.choice(("", "", "Smith, Jones & Co", "Acme")),
            "phone": rng.choice(("", "+1 503 555 0100", "(512) 555-0199")),
            "date_created": when,
            "last_login_date": login,
            "is_anonymous": "true" if anonymous else "false",
            "tax_id": "",
            "default_billing_address1": rng.choice(STREETS),
            "default_billing_city": city,
            "default_billing_country": "US",
        }
        yield customer, {
            "customer_id": customer["id"],
            "first_name": first,
            "last_name": last,
            "email": customer["email"],
            "date_created": when,
            "first_transaction_date": when if orders else "",
            "last_transaction_date": when if orders else "",
            "transaction_count": str(orders),
            "total_spent": money(spent),
            "average_order_value": money(spent / orders) if orders else "",
            "currency_code": "USD",
        }

