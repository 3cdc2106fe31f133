"""Distribu's document (distribu-reports-endpoints.txt) against the tap, without the sandbox in between.

The three example answers (sales, customers, inventory) are served byte for byte from
tests/vendor_examples/distribu/; the rows expected from them are written out by hand below.
"""

from __future__ import annotations

import datetime as dt

import pytest

from tests.replay_server import Replayed, as_json, example_answer, run_against

API_KEY = "dk_live_4f0c2e"
SALES, CUSTOMERS, INVENTORY = (f"/distribu/api/v1/reports/{name}" for name in ("sales", "customers", "inventory"))


@pytest.fixture(scope="module")
def april_first() -> Replayed:
    """One run of every Distribu stream over the UTC day 2026-04-01, each endpoint answering its example."""
    routes = {
        ("GET", SALES): example_answer("distribu", "sales.response.json"),
        ("GET", CUSTOMERS): example_answer("distribu", "customers.response.json"),
        ("GET", INVENTORY): example_answer("distribu", "inventory.response.json"),
    }
    return run_against(routes, lambda url: {
        "start_date": "2026-04-01", "end_date": "2026-04-02T00:00:00Z",
        "distribu": {"base_url": f"{url}/distribu", "api_key": API_KEY},
    })


def test_every_call_is_a_get_with_the_documented_bearer_key(april_first: Replayed) -> None:
    """Document: `curl ".../api/v1/reports/sales?preset=month" -H "Authorization: Bearer dk_..."`."""
    assert sorted((sent.method, sent.path) for sent in april_first.sent) == [
        ("GET", CUSTOMERS), ("GET", INVENTORY), ("GET", SALES), ("GET", SALES),  # sales: daily[] and byStatus[]
    ]
    for sent in april_first.sent:
        assert sent.headers["authorization"] == f"Bearer {API_KEY}"
        assert sent.body == b""


def test_range_reports_are_asked_with_from_and_to_which_override_the_preset(april_first: Replayed) -> None:
    """Document: `from` and `to` (ISO 8601, parsed with new Date()) override `preset` when both are
    given. The tap's reading (docs/state.md): the UTC day, `to` inclusive, sent as its last
    millisecond, as the document's own ranges end (`"to": "2026-04-17T23:59:59.999Z"`)."""
    for sent in april_first.to("GET", SALES) + april_first.to("GET", CUSTOMERS):
        assert sent.query == {"from": ["2026-04-01T00:00:00Z"], "to": ["2026-04-01T23:59:59.999Z"]}


def test_the_inventory_is_asked_without_parameters(april_first: Replayed) -> None:
    """Document: "Query parameters: None. This endpoint reports current state"."""
    (sent,) = april_first.to("GET", INVENTORY)
    assert sent.query == {}


def test_the_sales_answer_gives_the_daily_row_and_one_row_per_status(april_first: Replayed) -> None:
    records = april_first.tap.records
    assert as_json(records["distribu_sales_daily"]) == as_json(
        [{"date": "2026-04-01", "orderCount": 3, "revenue": 1240.0}]
    )
    by_status = [dict(row) for row in records["distribu_sales_by_status"]]
    read_at = {row.pop("_read_at") for row in by_status}
    assert as_json(by_status) == as_json([
        {"date": "2026-04-01", "status": "SUBMITTED", "orderCount": 2, "revenue": 410.0},
        {"date": "2026-04-01", "status": "CONFIRMED", "orderCount": 5, "revenue": 2100.5},
        {"date": "2026-04-01", "status": "SHIPPED", "orderCount": 10, "revenue": 4500.0},
        {"date": "2026-04-01", "status": "DELIVERED", "orderCount": 23, "revenue": 10533.0},
        {"date": "2026-04-01", "status": "CANCELLED", "orderCount": 2, "revenue": 1200.0},
    ])
    assert_read_during(read_at, april_first)


def test_the_customers_answer_gives_one_row_per_customer(april_first: Replayed) -> None:
    (row,) = [dict(row) for row in april_first.tap.records["distribu_customer_sales"]]
    read_at = row.pop("_read_at")
    assert as_json(row) == as_json({
        "date": "2026-04-01",
        "customerId": "clxxcustomer1...",
        "customerName": "Acme Restaurant Group",
        "customerEmail": "buyer@acme.com",
        "orderCount": 12,
        "revenue": 8420.5,
        "lastOrderAt": "2026-03-28T14:22:00.000Z",
    })
    assert_read_during({read_at}, april_first)


def test_the_inventory_answer_gives_its_products_and_its_categories_dated_by_the_run(april_first: Replayed) -> None:
    """`rows[]` and `groups[]` as documented, each stamped with the run's UTC date (the totals are sums)."""
    days = {april_first.began.date().isoformat(), april_first.ended.date().isoformat()}
    records = april_first.tap.records
    (product,) = [dict(row) for row in records["distribu_inventory"]]
    (category,) = [dict(row) for row in records["distribu_inventory_categories"]]
    assert product.pop("snapshot_date") in days
    assert category.pop("snapshot_date") in days
    assert as_json(product) == as_json({
        "productId": "clxx1234...", "name": "Widget Blue", "sku": "WDG-001", "category": "Hardware",
        "stock": 42, "unitPrice": 8.5, "value": 357.0, "isActive": True,
    })
    assert as_json(category) == as_json(
        {"category": "Hardware", "productCount": 38, "totalUnits": 2105, "totalValue": 18432.5}
    )


def test_each_range_stream_is_bookmarked_at_the_end_of_the_day_read(april_first: Replayed) -> None:
    bookmark = {"replication_key": "date", "replication_key_value": "2026-04-02T00:00:00Z"}
    assert april_first.tap.last_state == {"bookmarks": {
        "distribu_customer_sales": bookmark,
        "distribu_inventory": {},
        "distribu_inventory_categories": {},
        "distribu_sales_by_status": bookmark,
        "distribu_sales_daily": bookmark,
    }}


def assert_read_during(values: set[str], run: Replayed) -> None:
    """`_read_at`: one ISO UTC time per answer, taken while the run was going."""
    (value,) = values
    assert value.endswith("Z")
    assert run.began <= dt.datetime.fromisoformat(value.replace("Z", "+00:00")) <= run.ended
