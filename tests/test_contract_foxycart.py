"""FoxyCart's document (foxycart-report-resource.txt) against the tap, without the sandbox in between.

The report resource's Example Representation is served byte for byte (tests/vendor_examples/
foxycart/report_ready.response.json), with only its hosts made this server's. The token, the
store, the creation answer, the `queued` representation and the zip's CSVs are not in the
document (see the folder's README). Expected rows are written out by hand below.
"""

from __future__ import annotations

import base64
import io
import zipfile

import pytest

from tests.replay_server import EXAMPLES, Answer, Replayed, as_json, declared_type, example_answer, run_against

CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN = "fx-client-8", "fx-secret-2f", "fx-refresh-91c"
TOKEN = "fx-access-6d1f0b"  # vendor_examples/foxycart/token.response.json
REPORT = "/foxycart/report/1"  # the example's self link, on this server
DOWNLOAD = "/download/store_1/complete_report.1647049118670.zip"  # the example's fx:download_url, on this server
ZIP_MEMBERS = ("transactions.csv", "transaction_details.csv")
# The zip's columns as docs/streams.md ("Columns: any layout, typed") reads them, by hand from
# vendor_examples/foxycart/complete_report/. FoxyCart's columns the tap knows by name (foxycart/client.py:
# transaction_date, total_order, is_test, item_price, item_quantity) keep their known types; the others are
# typed by the rule. What a column is declared as, STATE remembers as `column_types` (docs/state.md).
COMPLETE_COLUMNS = {
    "id": "string",  # an identifier name (`id`): text
    "transaction_date": "date-time",  # known by name; naive times in the store's zone, written as UTC instants
    "customer_email": "string",  # neither number, boolean nor date: text
    "total_order": "number",  # known by name; a fraction among the values (54.90, 120)
    "is_test": "boolean",  # known by name: 1/0 as booleans (by the rule alone, 0 and 1 would be an integer)
    "currency_code": "string",  # an identifier name (`code`): text
    "transaction_id": "string",  # an identifier name (`id`): text
    "item_name": "string",  # text
    "item_price": "number",  # known by name; numbers with a fraction (12.45, 1200.00)
    "item_quantity": "integer",  # known by name; whole numbers (2, 1)
    "coupon_code": "string",  # an identifier name (`code`); a blank tells nothing, WELCOME10 is text
}


def complete_report_zip() -> bytes:
    """The example's download: a zip of the CSVs in vendor_examples/foxycart/complete_report/."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in ZIP_MEMBERS:
            archive.write(EXAMPLES / "foxycart" / "complete_report" / name, name)
    return buffer.getvalue()


USER_AGENT = "retail-warehouse/1.0 (data@example.com)"


@pytest.fixture(scope="module")
def first_week_of_2022() -> Replayed:
    """`foxycart_complete` for the store's week 2022-01-03 to 2022-01-09 (America/Los_Angeles, as the
    example's -0800 offsets suggest): one report, queued at the first poll, then the example."""
    routes = {
        ("POST", "/foxycart/token"): example_answer("foxycart", "token.response.json"),
        ("GET", "/foxycart/stores/1"): example_answer("foxycart", "store.response.json"),
        ("POST", "/foxycart/stores/1/reports"): example_answer(
            "foxycart", "report_created.response.json", 201, {"Location": "https://api.foxycart.com/report/1"}),
        ("GET", REPORT): [example_answer("foxycart", "report_queued.response.json"),
                          example_answer("foxycart", "report_ready.response.json")],
        ("GET", DOWNLOAD): Answer(complete_report_zip(), content_type="application/zip"),
    }
    return run_against(
        routes,
        lambda url: {"start_date": "2022-01-03T08:00:00Z", "end_date": "2022-01-10T08:00:00Z",
                     "user_agent": USER_AGENT, "foxycart": {
            "base_url": f"{url}/foxycart", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
            "refresh_token": REFRESH_TOKEN, "store_id": "1", "reports": ["complete"]}},
        rewrite=lambda url: {"https://api.foxycart.com": f"{url}/foxycart", "https://path.to.domain.tld": f"{url}/download"},
    )


def test_the_token_is_the_refresh_grant_as_a_form_with_basic_auth(first_week_of_2022: Replayed) -> None:
    """DESIGN.md (hAPI's auth; not in the seed document): `POST /token`, form
    `grant_type=refresh_token&refresh_token=...`, HTTP Basic client_id:client_secret."""
    (call,) = first_week_of_2022.to("POST", "/foxycart/token")
    assert call.headers["content-type"] == "application/x-www-form-urlencoded"
    assert call.form() == {"grant_type": ["refresh_token"], "refresh_token": [REFRESH_TOKEN]}
    expected = "Basic " + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
    assert call.headers["authorization"] == expected


def test_every_call_to_the_vendor_token_included_carries_the_configured_user_agent(first_week_of_2022: Replayed) -> None:
    """DESIGN.md: `user_agent` is a top-level setting; the vendor sees it on every call, the token's too."""
    calls = [sent for sent in first_week_of_2022.sent if sent.path.startswith("/foxycart/")]
    assert calls and {sent.headers.get("user-agent") for sent in calls} == {USER_AGENT}


def test_every_api_call_sends_the_bearer_token_and_api_version_1(first_week_of_2022: Replayed) -> None:
    api_calls = [sent for sent in first_week_of_2022.sent if sent.path.startswith("/foxycart/") and sent.path != "/foxycart/token"]
    assert [(sent.method, sent.path) for sent in api_calls] == [
        ("GET", "/foxycart/stores/1"), ("POST", "/foxycart/stores/1/reports"), ("GET", REPORT), ("GET", REPORT),
    ]
    for sent in api_calls:
        assert sent.headers["authorization"] == f"Bearer {TOKEN}"
        assert sent.headers["foxy-api-version"] == "1"


def test_the_report_is_created_with_the_documented_properties_in_the_stores_local_time(first_week_of_2022: Replayed) -> None:
    """Document: POST name (complete), version ("1"), datetime_start and datetime_end as
    `YYYY-MM-DD HH:MM:SS` in the store's configured timezone, the end at 23:59:59."""
    (call,) = first_week_of_2022.to("POST", "/foxycart/stores/1/reports")
    assert call.headers["content-type"] == "application/json"
    assert as_json(call.json()) == as_json({
        "name": "complete", "version": "1",
        "datetime_start": "2022-01-03 00:00:00", "datetime_end": "2022-01-09 23:59:59",
    })


def test_the_ready_representations_download_link_is_fetched_as_given_without_credentials(first_week_of_2022: Replayed) -> None:
    """Document: when `status` is `ready`, `fx:download_url` links to the report; `queued` is not ready."""
    assert len(first_week_of_2022.to("GET", REPORT)) == 2  # queued, then ready
    (download,) = first_week_of_2022.to("GET", DOWNLOAD)
    assert download.query == {"foo": ["bar"]}
    assert "authorization" not in download.headers
    assert "foxy-api-version" not in download.headers


def test_each_csv_of_the_zip_becomes_rows_typed_by_the_taps_reading_of_the_columns(first_week_of_2022: Replayed) -> None:
    """The document leaves the files' columns open ("typically CSV"): these are the tap's reading
    (docs/streams.md: known columns typed, naive times in the store's zone written as UTC, 1/0 as
    booleans, ids as text, other columns typed by their values (here all text), an empty cell of a
    text column as an empty string). The SCHEMA declares each column as COMPLETE_COLUMNS says."""
    window = {"_report_window_start": "2022-01-03T08:00:00Z", "_report_window_end": "2022-01-10T08:00:00Z"}
    transactions = {"_source_file": "transactions.csv", **window}
    details = {"_source_file": "transaction_details.csv", **window}
    assert as_json(first_week_of_2022.tap.records["foxycart_complete"]) == as_json([
        {"id": "1001", "transaction_date": "2022-01-05T22:30:00Z", "customer_email": "ann@example.com",
         "total_order": 54.9, "is_test": False, "currency_code": "USD", "_row_number": 1, **transactions},
        {"id": "1002", "transaction_date": "2022-01-10T07:59:59Z", "customer_email": "bo@example.com",
         "total_order": 120, "is_test": True, "currency_code": "USD", "_row_number": 2, **transactions},
        {"transaction_id": "1001", "item_name": "Blue Mug", "item_price": 12.45, "item_quantity": 2,
         "coupon_code": "", "_row_number": 1, **details},
        {"transaction_id": "1002", "item_name": "Tea Sampler", "item_price": 1200.0, "item_quantity": 1,
         "coupon_code": "WELCOME10", "_row_number": 2, **details},
    ])
    properties = first_week_of_2022.tap.schemas["foxycart_complete"]["schema"]["properties"]
    assert {name: declared_type(properties[name]) for name in COMPLETE_COLUMNS} == COMPLETE_COLUMNS


def test_state_keeps_the_report_link_while_in_flight_then_the_bookmark_at_the_weeks_end(first_week_of_2022: Replayed) -> None:
    states = first_week_of_2022.tap.states
    jobs = [state["bookmarks"]["foxycart_complete"]["jobs"] for state in states]
    stored = [job["2022-01-03T08:00:00Z"] for job in jobs if job]
    assert stored and stored[0]["job_id"].endswith(REPORT)
    assert stored[0]["params"] == {"name": "complete", "version": "1",
                                   "datetime_start": "2022-01-03 00:00:00", "datetime_end": "2022-01-09 23:59:59"}
    assert states[-1] == {"bookmarks": {"foxycart_complete": {
        "jobs": {}, "replication_key": "_report_window_start", "replication_key_value": "2022-01-10T08:00:00Z",
        "column_types": COMPLETE_COLUMNS,  # beside the bookmark (docs/state.md, "Column types in STATE")
    }}}


def test_the_credentials_and_the_download_link_never_reach_the_output(first_week_of_2022: Replayed) -> None:
    tap = first_week_of_2022.tap
    for secret in (CLIENT_SECRET, REFRESH_TOKEN, TOKEN, "foo=bar"):
        assert secret not in tap.stdout
        assert secret not in tap.stderr
