"""Flipkart's document (flipkart-report-management-api.txt) against the tap, without the sandbox in between.

The trigger's sample request and response and the detail's sample response are in
tests/vendor_examples/flipkart/ as written; the detail's sample is served byte for byte, with
only its host made this server's. The token call, the PROCESSING answer and the report file are
not in the document (see the folder's README). Expected rows are written out by hand below.
"""

from __future__ import annotations

import base64
import re

import pytest

from tests.replay_server import Replayed, as_json, declared_type, example_answer, example_json, run_against

REPORT_ID = "R-01BX5ZZKBKACTAV9WEVGEMMVRY"  # the document's sample
SECRET_KEY = "<secret_key>"  # the signed location's key in the document's sample
CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN = "fk-app-1", "fk-secret-9", "fk-partner-refresh-3c2"
TOKEN = "fk-access-1b7e42d0"  # vendor_examples/flipkart/token.response.json
TOKEN_PATH = "/flipkart/oauth-service/oauth/token"
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def run_orders_report(**credentials: str) -> Replayed:
    """`flipkart_orders_report` for the India week 2023-05-01 to 2023-05-07: one job, one file."""
    routes = {
        ("GET", TOKEN_PATH): example_answer("flipkart", "token.response.json"),
        ("POST", "/flipkart/reports/orders_report"): example_answer("flipkart", "trigger.response.json"),
        ("GET", f"/flipkart/reports/{REPORT_ID}/detail"): [
            example_answer("flipkart", "detail_processing.response.json"),
            example_answer("flipkart", "detail.response.json"),
        ],
        ("GET", f"/flipkart/storage/reports/{REPORT_ID}"): example_answer("flipkart", "orders_report.csv"),
    }
    return run_against(
        routes,
        lambda url: {"start_date": "2023-05-01", "end_date": "2023-05-08T00:00:00+05:30",
                     "flipkart": {"base_url": f"{url}/flipkart", **credentials}},
        rewrite=lambda url: {"https://api.flipkart.net": f"{url}/flipkart"},
        streams=["flipkart_orders_report"],
    )


@pytest.fixture(scope="module")
def seller_app() -> Replayed:
    return run_orders_report(client_id=CLIENT_ID, client_secret=CLIENT_SECRET)


@pytest.fixture(scope="module")
def partner_app() -> Replayed:
    return run_orders_report(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, refresh_token=REFRESH_TOKEN)


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_the_token_call_is_the_client_credentials_grant_with_basic_auth(seller_app: Replayed) -> None:
    """DESIGN.md (Flipkart's auth; not in the seed document): `GET /oauth-service/oauth/token?
    grant_type=client_credentials&scope=Seller_Api` with HTTP Basic client_id:client_secret."""
    (call,) = seller_app.to("GET", TOKEN_PATH)
    assert call.query == {"grant_type": ["client_credentials"], "scope": ["Seller_Api"]}
    assert call.headers["authorization"] == basic(CLIENT_ID, CLIENT_SECRET)


def test_a_partner_app_takes_its_token_with_the_refresh_grant(partner_app: Replayed) -> None:
    """DESIGN.md: the same call with `grant_type=refresh_token&refresh_token=...` and the same Basic credentials."""
    (call,) = partner_app.to("GET", TOKEN_PATH)
    assert call.query == {"grant_type": ["refresh_token"], "refresh_token": [REFRESH_TOKEN]}
    assert call.headers["authorization"] == basic(CLIENT_ID, CLIENT_SECRET)
    assert len(partner_app.tap.records["flipkart_orders_report"]) == 2


def test_the_trigger_is_the_documented_sample_request_for_the_week_read(seller_app: Replayed) -> None:
    """Document: `POST /reports/:reportTypeIdentifier` with {"correlation_id": UUID, "parameters":
    {"from_date", "to_date"}}. The dates are the India days of the week read, both inclusive (the
    tap's reading: the document gives no zone and calls both ends dates)."""
    (call,) = seller_app.to("POST", "/flipkart/reports/orders_report")
    assert call.headers["authorization"] == f"Bearer {TOKEN}"
    assert call.headers["content-type"] == "application/json"
    sent = call.json()
    sample = example_json("flipkart", "trigger.request.json")
    assert UUID.fullmatch(sample["correlation_id"])  # the sample's form, which the tap's must have
    assert UUID.fullmatch(sent["correlation_id"])
    assert sent["correlation_id"] != sample["correlation_id"]  # "Should be unique for each request"
    assert sorted(sent) == sorted(sample)
    assert as_json(sent["parameters"]) == as_json({"from_date": "2023-05-01", "to_date": "2023-05-07"})
    assert sorted(sent["parameters"]) == sorted(sample["parameters"])


def test_the_report_id_of_the_trigger_answer_is_polled_until_completed_then_its_location_fetched(seller_app: Replayed) -> None:
    """Document: poll `GET /reports/:reportId/detail` (PROCESSING, then COMPLETED with `location`).
    The sample's `metadata.expiry` (2023-05-05 23:59:59) is long past: a hint, never a reason to skip."""
    polls = seller_app.to("GET", f"/flipkart/reports/{REPORT_ID}/detail")
    assert len(polls) == 2
    assert all(poll.headers["authorization"] == f"Bearer {TOKEN}" for poll in polls)
    (download,) = seller_app.to("GET", f"/flipkart/storage/reports/{REPORT_ID}")
    assert download.query == {"x_secret_key": [SECRET_KEY]}
    assert "authorization" not in download.headers  # the link is signed: no API credentials to storage


# The file's columns as docs/streams.md ("Columns: any layout, typed") reads them, by hand from
# vendor_examples/flipkart/orders_report.csv. Flipkart's columns the tap knows by name (flipkart/client.py:
# quantity, selling_price, dispatch_by_date, is_replacement) keep their known types; the others are typed
# by the rule. What a column is declared as, STATE remembers as `column_types` (docs/state.md).
ORDERS_REPORT_COLUMNS = {
    "order_id": "string",  # an identifier name (last word `id`): text
    "order_item_id": "string",  # an identifier name, and 15-digit values (12 or more): text
    "sku": "string",  # an identifier name (`sku`): text
    "order_date": "string",  # naive times (no offset), and no document gives Flipkart's files a zone: text as written
    "dispatch_by_date": "date",  # known by name; ISO dates, which need no day/month order (no `:dmy`)
    "quantity": "integer",  # known by name; whole numbers (2, 1)
    "selling_price": "number",  # known by name; numbers with a fraction (499.00, 249.50)
    "is_replacement": "boolean",  # known by name; false/true
    "fulfilment_type": "string",  # FBF, NON_FBF: neither number, boolean nor date: text
}


def test_the_file_becomes_rows_typed_by_the_taps_reading_of_the_columns(seller_app: Replayed) -> None:
    """Flipkart does not document its files' columns: this CSV's are the tap's reading (docs/streams.md:
    known columns typed, others typed by their values, ids as text, naive times as text exactly as the
    file writes them: no document gives Flipkart's files a zone)."""
    window = {"_source_file": "orders_report.csv", "_report_window_start": "2023-04-30T18:30:00Z",
              "_report_window_end": "2023-05-07T18:30:00Z"}
    assert as_json(seller_app.tap.records["flipkart_orders_report"]) == as_json([
        {"order_id": "OD428155016923", "order_item_id": "428155016923000", "sku": "SKU-TEE-BLK-M",
         "order_date": "2023-05-02 10:15:00", "dispatch_by_date": "2023-05-04", "quantity": 2,
         "selling_price": 499.0, "is_replacement": False, "fulfilment_type": "FBF", "_row_number": 1, **window},
        {"order_id": "OD428155016924", "order_item_id": "428155016924000", "sku": "SKU-MUG-WHT",
         "order_date": "2023-05-06 23:45:30", "dispatch_by_date": "2023-05-08", "quantity": 1,
         "selling_price": 249.5, "is_replacement": True, "fulfilment_type": "NON_FBF", "_row_number": 2, **window},
    ])
    properties = seller_app.tap.schemas["flipkart_orders_report"]["schema"]["properties"]
    declared = {name: declared_type(properties[name]) for name in ORDERS_REPORT_COLUMNS}
    assert declared == ORDERS_REPORT_COLUMNS  # order_date: text, no date-time format


def test_state_keeps_the_report_id_while_in_flight_then_the_bookmark_at_the_weeks_end(seller_app: Replayed) -> None:
    states = seller_app.tap.states
    in_flight = [state["bookmarks"]["flipkart_orders_report"]["jobs"] for state in states]
    assert any(jobs.get("2023-04-30T18:30:00Z", {}).get("job_id") == REPORT_ID for jobs in in_flight)
    assert states[-1] == {"bookmarks": {"flipkart_orders_report": {
        "jobs": {}, "replication_key": "_report_window_start", "replication_key_value": "2023-05-07T18:30:00Z",
        "column_types": ORDERS_REPORT_COLUMNS,  # beside the bookmark (docs/state.md, "Column types in STATE")
    }}}


@pytest.mark.parametrize("run", ["seller_app", "partner_app"])
def test_the_signed_location_and_the_credentials_never_reach_the_output(run: str, request: pytest.FixtureRequest) -> None:
    tap = request.getfixturevalue(run).tap
    for secret in (SECRET_KEY, "x_secret_key", CLIENT_SECRET, REFRESH_TOKEN, TOKEN):
        assert secret not in tap.stdout
        assert secret not in tap.stderr
