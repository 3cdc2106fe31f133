"""The Vroom simulator itself, over real HTTP: auth, validation, determinism, inclusive bounds."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

import pytest
import requests

from tap_retail_reports.sandbox.credentials import VROOM_PASSWORD, VROOM_SITE_IDS, VROOM_USERNAME
from tap_retail_reports.sandbox.server import RunningSandbox
from tap_retail_reports.sandbox.vroom import App, parse_time

AUTH = (VROOM_USERNAME, VROOM_PASSWORD)
# Past days, so nothing in them changes with the clock. The 11th is a MIDNIGHT_DAY:
# every site has an order at exactly 2025-03-11T00:00:00Z.
DAY_1, DAY_2, DAY_3 = "2025-03-10T00:00:00Z", "2025-03-11T00:00:00Z", "2025-03-12T00:00:00Z"


def post(sandbox: RunningSandbox, endpoint: str, body: dict, auth: tuple | None = AUTH) -> requests.Response:
    return requests.post(f"{sandbox.url('vroom')}/analytics/{endpoint}", json=body, auth=auth, timeout=10)


def rows(sandbox: RunningSandbox, endpoint: str, body: dict) -> list[dict]:
    response = post(sandbox, endpoint, body)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize("auth", [None, (VROOM_USERNAME, "wrong"), ("someone@else.example", VROOM_PASSWORD)])
def test_refuses_wrong_or_missing_credentials(sandbox: RunningSandbox, auth: tuple | None) -> None:
    response = post(sandbox, "orders", {}, auth=auth)
    assert response.status_code == 401
    assert response.json()["error"]


def test_routes_and_methods(sandbox: RunningSandbox) -> None:
    base = sandbox.url("vroom")
    assert requests.post(f"{base}/analytics/nothing", json={}, auth=AUTH, timeout=10).status_code == 404
    assert requests.get(f"{base}/analytics/orders", auth=AUTH, timeout=10).status_code == 405
    assert requests.post(f"{base}/marketing/create_promo_code", json={}, auth=AUTH, timeout=10).status_code == 501


def test_transactions_need_both_bounds(sandbox: RunningSandbox) -> None:
    response = post(sandbox, "transactions", {"from_time": DAY_1})
    assert response.status_code == 400
    assert "to_time" in response.json()["error"]


def test_malformed_time_names_the_field(sandbox: RunningSandbox) -> None:
    response = post(sandbox, "orders", {"from_time": DAY_1, "to_time": "next tuesday"})
    assert response.status_code == 400
    assert "to_time" in response.json()["error"]


def test_times_are_read_liberally() -> None:
    expected = parse_time("2025-03-11T00:00:00Z", "from_time")
    for text in ("2025-03-11T00:00:00.000Z", "2025-03-11T02:00:00+02:00", "2025-03-11", "2025-03-11 00:00:00"):
        assert parse_time(text, "from_time") == expected


def test_same_request_gives_same_rows(sandbox: RunningSandbox) -> None:
    body = {"from_time": DAY_1, "to_time": DAY_3, "include_line_items": True}
    first = rows(sandbox, "orders", body)
    assert first, "a two-day range has orders"
    assert rows(sandbox, "orders", body) == first
    # The HTTP answer is exactly what tests can compute without HTTP.
    assert App(sandbox.sandbox.seed).rows("orders", body) == first


def test_a_range_is_the_union_of_its_days_and_bounds_are_inclusive(sandbox: RunningSandbox) -> None:
    whole = rows(sandbox, "orders", {"from_time": DAY_1, "to_time": DAY_3})
    first = rows(sandbox, "orders", {"from_time": DAY_1, "to_time": DAY_2})
    second = rows(sandbox, "orders", {"from_time": DAY_2, "to_time": DAY_3})

    def ids(found: list[dict]) -> set:
        return {row["order_id"] for row in found}

    assert ids(first) | ids(second) == ids(whole)
    at_midnight = {row["order_id"] for row in whole if row["created_at"] == DAY_2}
    assert len(at_midnight) == len(VROOM_SITE_IDS)
    assert ids(first) & ids(second) == at_midnight  # a row at exactly a bound is in both

    # What the tap sends: to_time is the window's last millisecond, so days do not overlap.
    day_1 = rows(sandbox, "orders", {"from_time": DAY_1, "to_time": "2025-03-10T23:59:59.999Z"})
    day_2 = rows(sandbox, "orders", {"from_time": DAY_2, "to_time": "2025-03-11T23:59:59.999Z"})
    assert not ids(day_1) & ids(day_2)
    assert ids(day_1) | ids(day_2) == {row["order_id"] for row in whole if row["created_at"] != DAY_3}


def test_sales_by_product_adds_up_line_items(sandbox: RunningSandbox) -> None:
    body = {"from_time": DAY_1, "to_time": DAY_3}
    sales: dict[str, Decimal] = defaultdict(Decimal)
    units: dict[str, int] = defaultdict(int)
    for item in rows(sandbox, "line_items", body):
        sales[item["product_upc_or_plu"]] += Decimal(str(item["product_price"])) * item["final_quantity"]
        units[item["product_upc_or_plu"]] += item["final_quantity"]

    report = rows(sandbox, "sales_by_product", body)
    assert {row["upc_or_plu"]: row["units_sold"] for row in report} == {k: v for k, v in units.items() if v}
    for row in report:
        assert Decimal(str(row["total_sales"])) == sales[row["upc_or_plu"]]
    totals = [row["total_sales"] for row in report]
    assert totals == sorted(totals, reverse=True)


def test_orders_carry_the_vendors_liberties(sandbox: RunningSandbox) -> None:
    order = rows(sandbox, "orders", {"from_time": DAY_2, "to_time": DAY_2, "site_ids": ["1001"]})[0]
    assert order["site_id"] == "1001"
    assert isinstance(order["total"], str) and order["total"].count(".") == 1
    assert len(order["total"].split(".")[1]) == 2
    assert "loyalty_tier" in order  # undocumented: the tap must not drop it
    assert "line_items" not in order  # only with include_line_items
