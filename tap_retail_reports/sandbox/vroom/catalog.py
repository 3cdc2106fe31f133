"""The store's fixed world: its sites, products, search terms, drivers, and customers made from a key."""

from __future__ import annotations

import random
from dataclasses import dataclass
from decimal import Decimal

from tap_retail_reports.sandbox.credentials import VROOM_SITE_IDS

SITE_IDS: tuple[str, ...] = tuple(VROOM_SITE_IDS)
MANAGEMENT = "Management"  # the site_id of audit rows for cross-site actions


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
    """A product row of the table below, prices written as strings."""
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
PRODUCTS_BY_UPC = {product.upc_or_plu: product for product in PRODUCTS}
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
DRIVERS = ("Sam Ortiz", "Kelly Park", "Dev Shah", "Ana Costa")


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


def make_customer(seed: int, key: str) -> Customer:
    """The customer whose first order is `key`, the same for a seed on every call."""
    rng = random.Random(f"{seed}:customer:{key}")
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


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while number:
        number, rest = divmod(number, 36)
        out = digits[rest] + out
    return out or "0"
