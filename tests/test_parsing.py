"""Liberal reading of vendor answers: pure parsing, no HTTP."""

from __future__ import annotations

import decimal

import pytest
import requests
from singer_sdk.exceptions import FatalAPIError

from tap_retail_reports.core.records import Misfit, as_number, row_hash
from tap_retail_reports.sandbox.credentials import tap_config
from tap_retail_reports.tap import TapRetailReports


def answer(body: bytes, content_type: str = "application/json") -> requests.Response:
    response = requests.Response()
    response.status_code = 200
    response._content = body
    response.headers["Content-Type"] = content_type
    response.url = "http://127.0.0.1:9/vroom/api/retailer/v1/analytics/orders"
    response.request = requests.Request("POST", response.url).prepare()
    return response


@pytest.fixture(scope="module")
def orders_stream():
    tap = TapRetailReports(config=tap_config("http://127.0.0.1:9", vendors=("vroom",)))
    return tap.streams["vroom_orders"]


@pytest.mark.parametrize(
    "body",
    [
        b'[{"order_id": "1"}, {"order_id": "2"}]',
        b'\xef\xbb\xbf[{"order_id": "1"}, {"order_id": "2"}]',  # with a UTF-8 byte-order mark
        b'{"data": [{"order_id": "1"}, {"order_id": "2"}]}',  # wrapped
    ],
)
def test_vroom_rows_are_read_from_any_reasonable_shape(orders_stream, body):
    assert [row["order_id"] for row in orders_stream.parse_response(answer(body))] == ["1", "2"]


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b"<html>maintenance</html>", "not JSON (text/html)"),
        (b'{"unexpected": true}', "not the documented array"),
        (b'["just a string"]', "non-object row"),
    ],
)
def test_unreadable_answers_fail_with_one_clear_line(orders_stream, body, says):
    content_type = "text/html" if body.startswith(b"<") else "application/json"
    with pytest.raises(FatalAPIError) as error:
        list(orders_stream.parse_response(answer(body, content_type)))
    message = str(error.value)
    assert message.startswith("vroom_orders: POST /vroom/api/retailer/v1/analytics/orders -> HTTP 200")
    assert says in message and "\n" not in message


def test_undeclared_fields_are_kept_in_extra_fields(orders_stream):
    row = orders_stream.post_process({"order_id": "1", "total": 5, "new_vendor_field": {"x": 1}})
    assert row["_extra_fields"] == {"new_vendor_field": {"x": 1}}
    assert "new_vendor_field" not in row


def test_numeric_strings_become_exact_numbers_and_others_are_kept():
    row = {"a": "12.50", "b": " 1,204.10 ", "c": "n/a", "d": "", "e": "NaN", "f": 3, "g": "12,50"}
    for name, value in row.items():  # a value that is no number is kept as sent
        number = as_number(value)
        row[name] = value if isinstance(number, Misfit) else number
    assert row == {
        "a": decimal.Decimal("12.50"), "b": decimal.Decimal("1204.10"), "c": "n/a", "d": None, "e": "NaN", "f": 3,
        "g": "12,50",  # a decimal comma is not a thousands separator: kept as sent, not read as 1250
    }


def test_row_hash_ignores_key_order_but_not_values():
    assert row_hash({"a": 1, "b": 2}, ("a", "b")) == row_hash({"b": 2, "a": 1}, ("b", "a"))
    assert row_hash({"a": 1, "b": 2}, ("a", "b")) != row_hash({"a": 1, "b": 3}, ("a", "b"))


def test_row_hash_covers_only_the_fields_it_is_given():
    # A field the vendor adds later leaves the hash (and so the key) as it was.
    assert row_hash({"a": 1, "b": 2, "new": "x"}, ("a", "b")) == row_hash({"a": 1, "b": 2}, ("a", "b"))
    # A documented field the vendor stops sending reads as null, as an explicit null does.
    assert row_hash({"a": 1}, ("a", "b")) == row_hash({"a": 1, "b": None}, ("a", "b"))


def test_schema_coercion_types_loose_values_as_declared(orders_stream):
    row = orders_stream.post_process(
        {
            "order_id": "1",
            "total": "12.50",
            "mix_match_combo_final_count": "2",
            "created_at": "2026-10-01 12:00:00",
            "placed_time": "2026-10-01T12:00:00+02:00",
            "promotion_code": "1234",  # a string field that looks numeric stays a string
            "confirm_time": "soon",  # not a date: set aside, not lost
        }
    )
    assert row["total"] == decimal.Decimal("12.50")
    assert row["mix_match_combo_final_count"] == 2 and type(row["mix_match_combo_final_count"]) is int
    assert row["created_at"] == "2026-10-01T12:00:00Z"
    assert row["placed_time"] == "2026-10-01T12:00:00+02:00"  # already ISO: untouched
    assert row["promotion_code"] == "1234"
    assert row["confirm_time"] is None and row["_extra_fields"] == {"confirm_time": "soon"}  # the SCHEMA holds


def test_distribu_parts_the_document_does_not_show_are_kept_with_every_row():
    config = tap_config("http://127.0.0.1:9", vendors=("distribu",))
    stream = TapRetailReports(config=config).streams["distribu_sales_daily"]
    body = (
        b'{"data": {"range": {}, "totals": {}, "daily": [{"date": "2026-04-01", "orderCount": 1, "revenue": 2}],'
        b' "byStatus": [], "currency": "EUR"}}'
    )
    (row,) = stream.parse_response(answer(body))
    assert row["_extra_fields"] == {"data.currency": "EUR"}
    plain = body.replace(b', "currency": "EUR"', b"")
    (row,) = stream.parse_response(answer(plain))
    assert "_extra_fields" not in row
