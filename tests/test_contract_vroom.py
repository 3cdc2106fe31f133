"""Vroom's document (vroom-retailer-api.txt) against the tap, without the sandbox in between.

The document's "Request Body Example" and "Response Body Example" blocks are empty in the seed
text: the answers in tests/vendor_examples/vroom/ are built from each endpoint's field table, one
value of the documented type per field (see the folder's README). Expected rows are written out by
hand below.
"""

from __future__ import annotations

import base64
import datetime as dt
import re

import pytest

from tests.replay_server import Replayed, as_json, example_answer, run_against

USERNAME, PASSWORD = "ops@example-grocer.com", "vroom-pass-1"
SITES = ["S-001", "S-002"]
ANALYTICS = "/vroom/api/retailer/v1/analytics/"
ENDPOINTS = ("customer_contacts", "order_statuses", "search_terms", "audit_logs", "line_items", "orders",
             "transactions", "sales_by_product")
DAY = {"from_time": "2024-03-04T00:00:00Z", "to_time": "2024-03-04T23:59:59.999Z"}
SHA256 = re.compile(r"[0-9a-f]{64}")


@pytest.fixture(scope="module")
def march_fourth() -> Replayed:
    """Every Vroom stream for the UTC day 2024-03-04, for two of the account's sites."""
    routes = {("POST", ANALYTICS + name): example_answer("vroom", f"{name}.response.json") for name in ENDPOINTS}
    return run_against(routes, lambda url: {"start_date": "2024-03-04", "end_date": "2024-03-05T00:00:00Z", "vroom": {
        "base_url": f"{url}/vroom/api/retailer/v1", "username": USERNAME, "password": PASSWORD, "site_ids": SITES,
    }})


def test_every_call_is_a_json_post_with_basic_auth_of_the_portal_credentials(march_fourth: Replayed) -> None:
    """Document: "All API endpoints use Basic Authentication using your management portal email and
    password"; each endpoint "is a POST request with Content-Type: application/json"."""
    assert sorted(sent.path for sent in march_fourth.sent) == sorted(ANALYTICS + name for name in ENDPOINTS)
    credentials = base64.b64encode(f"{USERNAME}:{PASSWORD}".encode()).decode()
    for sent in march_fourth.sent:
        assert sent.method == "POST"
        assert sent.headers["authorization"] == f"Basic {credentials}"
        assert sent.headers["content-type"] == "application/json"
        assert sent.query == {}


@pytest.mark.parametrize(("endpoint", "body"), [
    # site_ids (optional); from_time and to_time as ISO-8601: the tap's reading of the open
    # question whether to_time is inclusive is "yes", so a day ends at its last millisecond.
    ("search_terms", {"site_ids": SITES, **DAY}),
    ("audit_logs", {"site_ids": SITES, **DAY}),
    ("line_items", {"site_ids": SITES, **DAY}),
    ("orders", {"site_ids": SITES, **DAY}),  # include_line_items left out: "By default ... not included"
    ("sales_by_product", {"site_ids": SITES, **DAY}),
    ("transactions", DAY),  # documents only from_time and to_time, both required
    ("customer_contacts", {"site_ids": SITES}),  # no times: every contact since the program started
    ("order_statuses", {"site_ids": SITES}),  # no times: Vroom's default, the last 24 hours
])
def test_each_body_has_the_documented_parameters(march_fourth: Replayed, endpoint: str, body: dict) -> None:
    (sent,) = march_fourth.to("POST", ANALYTICS + endpoint)
    assert as_json(sent.json()) == as_json(body)


def test_orders_arrive_with_every_documented_field_typed(march_fourth: Replayed) -> None:
    assert as_json(march_fourth.tap.records["vroom_orders"]) == as_json([{
        "site_id": "S-001", "order_id": "VR-100231", "sales_channel": "Vroom", "external_order_id": None,
        "created_at": "2024-03-04T17:02:11Z", "customer_name": "Ann Lee", "customer_email": "ann.lee@example.com",
        "customer_phone": "2175550142", "total": 57.43, "merchandise": 42.18, "delivery_fee": 5.99, "tip": 9.26,
        "tip_refund": 0.0, "net_tip": 9.26, "refund_amount": 0.0, "upcharge_amount": 0.0, "adjusted_total": 57.43,
        "adjusted_total_less_tips": 48.17, "processing_fee": 1.97, "processing_fee_refund": 0.0,
        "processing_fee_on_upcharge": 0.0, "net_processing_fee": 1.97, "third_party_fulfillment_fee": 14.25,
        "third_party_fulfillment_fee_refund": 0.0, "net_third_party_fulfillment_fee": 14.25, "ebt_fees": 0.0,
        "net_remit": 41.21, "promotion_code": "SPRING5", "promotion_code_original_discount": 5.0,
        "promotion_code_final_discount": 5.0, "mix_match_combo_original_count": 1, "mix_match_combo_final_count": 1,
        "mix_match_combo_original_discount": 2.5, "mix_match_combo_final_discount": 2.5, "loyalty_code": "4417001234",
        "loyalty_original_discount": 1.25, "loyalty_final_discount": 1.25, "canceled": False, "driver": "Sam Rivera",
        "delivery_address": "12 Elm St, Springfield, IL 62701", "delivery_latitude": 39.7817,
        "delivery_longitude": -89.6501, "delivery_distance": 2.4, "order_type": "Delivery", "scheduled_time": None,
        "placed_time": "2024-03-04T17:02:11Z", "confirm_time": "2024-03-04T17:04:40Z",
        "ready_time": "2024-03-04T17:21:05Z", "driver_start_time": "2024-03-04T17:25:30Z",
        "driver_end_time": "2024-03-04T17:41:02Z", "complete_time": "2024-03-04T17:41:10Z",
        "cancelation_reason": None, "subscribed": False, "subscription_discount": 0.0,
        "auto_retention_conversion": False, "is_new_customer": True,
    }])


def test_line_items_arrive_with_every_documented_field_typed(march_fourth: Replayed) -> None:
    assert as_json(march_fourth.tap.records["vroom_line_items"]) == as_json([{
        "site_id": "S-001", "order_id": "VR-100231", "sales_channel": "Vroom", "external_order_id": None,
        "created_at": "2024-03-04T17:02:11Z", "customer_name": "Ann Lee", "customer_email": "ann.lee@example.com",
        "customer_phone": "2175550142", "product_upc_or_plu": "0085000006", "product_title": "Oat Milk 64 oz",
        "product_price": 4.99, "product_container_deposit": 0.1, "original_quantity": 2, "final_quantity": 1,
        "upsell": False, "cart_position": 0, "added_by_store": False, "product_merchandise_code": "DAIRY-ALT",
    }])


def test_transactions_of_sites_not_asked_for_are_left_out(march_fourth: Replayed) -> None:
    """The endpoint takes no site_ids: the tap applies vroom.site_ids to its rows (S-003 is not asked for)."""
    assert as_json(march_fourth.tap.records["vroom_transactions"]) == as_json([{
        "site_id": "S-001", "amount": 57.43, "transaction_id": "txn_3OqXk2", "payout_id": "po_1Oq9", "type": "Card",
        "time": "2024-03-04T17:02:15Z", "source": "VR-100231", "deposit_status": "pending",
        "estimated_deposit": "03/06/2024", "additional_details": "Visa ending 4242",
    }])


def test_customer_contacts_keep_a_blank_phone_and_their_site_ids(march_fourth: Replayed) -> None:
    """Document: `phone` "may be blank if the same phone number is used on another customer contact"."""
    assert as_json(march_fourth.tap.records["vroom_customer_contacts"]) == as_json([
        {"name": "Ann Lee", "email": "ann.lee@example.com", "phone": "2175550142", "created_at": "2023-11-02T15:20:00Z",
         "last_order_id": "VR-100231", "last_order_time": "2024-03-04T17:02:11Z", "unsubscribed": False,
         "site_ids": ["S-001", "S-002"]},
        {"name": "Ann Lee", "email": "ann.work@example.com", "phone": "", "created_at": "2024-01-15T09:05:00Z",
         "last_order_id": "VR-099870", "last_order_time": "2024-02-28T12:30:45Z", "unsubscribed": True,
         "site_ids": ["S-002"]},
    ])


def test_order_statuses_keep_their_order_groups_and_the_time_of_the_snapshot(march_fourth: Replayed) -> None:
    (row,) = [dict(row) for row in march_fourth.tap.records["vroom_order_statuses"]]
    snapshot_at = row.pop("snapshot_at")
    assert as_json(row) == as_json({
        "site_id": "S-001",
        "orders_pending_less_than_ten_mins": {"count": 1, "order_ids": ["VR-100240"]},
        "orders_pending_more_than_ten_mins": {"count": 0, "order_ids": []},
        "orders_preparing_less_than_one_hour": {"count": 2, "order_ids": ["VR-100236", "VR-100238"]},
        "orders_preparing_more_than_one_hour": {"count": 0, "order_ids": []},
        "orders_ready_less_than_one_hour": {"count": 1, "order_ids": ["VR-100233"]},
        "orders_ready_more_than_one_hour": {"count": 0, "order_ids": []},
        "orders_completed": {"count": 14, "order_ids": ["VR-100201", "VR-100231"]},
        "orders_canceled": {"count": 1, "order_ids": ["VR-100219"]},
    })
    assert_taken_during(snapshot_at, march_fourth, to_the_second=True)


def test_search_terms_and_audit_logs_keep_their_nulls_and_get_a_row_hash(march_fourth: Replayed) -> None:
    """Document: the selection fields are null when the customer selected nothing; an audit log's
    site_id is `Management` for a cross-site action. Rows have no id: the tap adds `_row_hash`."""
    records = march_fourth.tap.records
    searches = [dict(row) for row in records["vroom_search_terms"]]
    logs = [dict(row) for row in records["vroom_audit_logs"]]
    hashes = [row.pop("_row_hash") for row in searches + logs]
    assert all(SHA256.fullmatch(value) for value in hashes)
    assert len(set(hashes)) == 4
    assert as_json(searches) == as_json([
        {"site_id": "S-001", "created_at": "2024-03-04T16:58:03Z", "ip_hash": "9f2c4e7a1b", "term": "oat milk",
         "num_search_results": 4, "selected_product_upc_or_plu": "0085000006",
         "selected_product_title": "Oat Milk 64 oz", "selection_position": 0},
        {"site_id": "S-002", "created_at": "2024-03-04T19:12:44Z", "ip_hash": "51d0a3c8e2", "term": "saffron",
         "num_search_results": 0, "selected_product_upc_or_plu": None, "selected_product_title": None,
         "selection_position": None},
    ])
    assert as_json(logs) == as_json([
        {"site_id": "S-001", "created_at": "2024-03-04T08:00:02Z", "action": "Store Opened",
         "additional_details": "Store opened for online orders", "user": "Automated"},
        {"site_id": "Management", "created_at": "2024-03-04T10:31:17Z", "action": "Bulk Product Update Run",
         "additional_details": "Price update: 112 products", "user": "ops@example-grocer.com"},
    ])


def test_sales_by_product_rows_are_dated_by_the_day_asked(march_fourth: Replayed) -> None:
    rows = [dict(row) for row in march_fourth.tap.records["vroom_sales_by_product"]]
    (read_at,) = {row.pop("_read_at") for row in rows}
    assert as_json(rows) == as_json([
        {"date": "2024-03-04", "upc_or_plu": "0085000006", "title": "Oat Milk 64 oz", "total_sales": 24.95,
         "units_sold": 5, "category": "Dairy > Milk Alternatives",
         "image_url": "https://images.example.com/0085000006.jpg"},
        {"date": "2024-03-04", "upc_or_plu": "4011", "title": "Bananas", "total_sales": 3.12, "units_sold": 12,
         "category": "Produce > Fruit", "image_url": None},
    ])
    assert_taken_during(read_at, march_fourth)


def test_each_windowed_stream_is_bookmarked_at_the_end_of_the_day_and_the_snapshots_have_none(march_fourth: Replayed) -> None:
    def day_read(key: str) -> dict:
        return {"replication_key": key, "replication_key_value": "2024-03-05T00:00:00Z"}

    assert march_fourth.tap.last_state == {"bookmarks": {
        "vroom_audit_logs": day_read("created_at"),
        "vroom_customer_contacts": {},
        "vroom_line_items": day_read("created_at"),
        "vroom_order_statuses": {},
        "vroom_orders": day_read("created_at"),
        "vroom_sales_by_product": day_read("date"),
        "vroom_search_terms": day_read("created_at"),
        "vroom_transactions": day_read("time"),
    }}


def test_the_password_never_reaches_the_output(march_fourth: Replayed) -> None:
    credentials = base64.b64encode(f"{USERNAME}:{PASSWORD}".encode()).decode()
    for secret in (PASSWORD, credentials):
        assert secret not in march_fourth.tap.stdout
        assert secret not in march_fourth.tap.stderr


def assert_taken_during(value: str, run: Replayed, *, to_the_second: bool = False) -> None:
    """An ISO UTC time taken while the run was going (`to_the_second`: written without fractions)."""
    assert value.endswith("Z")
    moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    began = run.began.replace(microsecond=0) if to_the_second else run.began
    assert began <= moment <= run.ended
