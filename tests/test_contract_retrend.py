"""Retrend's document (retrend-reports-api.txt) against the tap, without the sandbox in between.

The document's two curl examples are the requests; it gives no example answer, only the
ReportResponse's `report` and its common fields, so the answers in tests/vendor_examples/retrend/
are built from that list (see its README). Expected rows are written out by hand below.
"""

from __future__ import annotations

import pytest

from tests.replay_server import Replayed, as_json, declared_type, example_answer, example_json, run_against

ORGANIZATION = "org-11"
API_KEY = "rk_live_example_key_5b1"
SESSION = "rt-session-7f3c1a9e"  # the token in vendor_examples/retrend/session.response.json
KIOSK = {"kiosk_id": "kiosk-4", "kiosk": "front-door", "temp_kiosk": "temp-9", "device_id": "device-77"}


def run_against_examples(retrend: dict, *, start: str, end: str, report_answer: str, endpoint: str) -> Replayed:
    routes = {
        ("POST", "/retrend/session"): example_answer("retrend", "session.response.json"),
        ("POST", f"/retrend/v2/reports/{endpoint}"): example_answer("retrend", report_answer),
    }
    return run_against(routes, lambda url: {"start_date": start, "end_date": end, "retrend": {
        "base_url": f"{url}/retrend", "organization_id": ORGANIZATION, "api_key": API_KEY, "store_nums": [2], **retrend,
    }})


@pytest.fixture(scope="module")
def last_completed_week() -> Replayed:
    """The first example: conversation delta, store 2, weekly; the week 2024-08-12 is over at end_date."""
    return run_against_examples(
        {"reports": ["conversation_delta_report"], "durations": ["weekly"]},
        start="2024-08-12", end="2024-08-19T00:00:00Z",
        report_answer="conversation_delta_report.response.json", endpoint="general",
    )


@pytest.fixture(scope="module")
def month_in_progress() -> Replayed:
    """The second example: a fresh run of August 2024 (monthly category trends), from a kiosk client."""
    return run_against_examples(
        {"reports": ["category_interest_trends"], "durations": ["monthly"], "refresh_current_period": True, **KIOSK},
        start="2024-08-01", end="2024-08-20T12:00:00Z",
        report_answer="category_interest_trends.response.json", endpoint="run-now",
    )


def test_a_session_is_made_with_the_organization_and_api_key_headers(last_completed_week: Replayed) -> None:
    session = last_completed_week.sent[0]
    assert (session.method, session.path) == ("POST", "/retrend/session")
    assert session.headers["organization-id"] == ORGANIZATION
    assert session.headers["api-key"] == API_KEY


def test_the_report_request_is_the_documented_general_example_with_its_period_start(last_completed_week: Replayed) -> None:
    """Document: `POST /v2/reports/general` with organization-id, x-session, JSON body
    {"store_num":2,"report":"conversation_delta_report","duration":"weekly"}; start_date is optional
    ("If omitted, the most recent period is used"): the tap always names the period it reads."""
    calls = [sent for sent in last_completed_week.sent if sent.path.startswith("/retrend/v2/")]
    assert [(sent.method, sent.path) for sent in calls] == [("POST", "/retrend/v2/reports/general")]
    (call,) = calls
    assert call.headers["organization-id"] == ORGANIZATION
    assert call.headers["x-session"] == SESSION
    assert call.headers["content-type"] == "application/json"
    assert call.query == {}
    documented = example_json("retrend", "general.request.json")
    assert as_json(call.json()) == as_json({**documented, "start_date": "2024-08-12"})


def test_the_run_now_request_is_the_documented_example_and_carries_the_kiosk_headers(month_in_progress: Replayed) -> None:
    """Document: `POST /v2/reports/run-now` with the same shape, body
    {"store_num":2,"report":"category_interest_trends","duration":"monthly","start_date":"2024-08-01"};
    kiosk clients add kiosk-id, x-kiosk, x-temp-kiosk and x-device-id."""
    calls = [sent for sent in month_in_progress.sent if sent.path.startswith("/retrend/v2/")]
    assert [(sent.method, sent.path) for sent in calls] == [("POST", "/retrend/v2/reports/run-now")]
    (call,) = calls
    assert as_json(call.json()) == as_json(example_json("retrend", "run_now.request.json"))
    assert call.headers["content-type"] == "application/json"
    assert call.headers["x-session"] == SESSION
    for sent in month_in_progress.sent:  # the session call too
        assert sent.headers["organization-id"] == ORGANIZATION
        assert (sent.headers["kiosk-id"], sent.headers["x-kiosk"], sent.headers["x-temp-kiosk"],
                sent.headers["x-device-id"]) == ("kiosk-4", "front-door", "temp-9", "device-77")


def test_a_completed_period_is_one_row_with_the_common_fields_and_a_bookmark_at_its_end(last_completed_week: Replayed) -> None:
    """The common fields keep their names and declared types; every other top-level field of the
    report becomes a column of its own, typed from its JSON value (docs/streams.md, Retrend: "JSON
    numbers, booleans and text as Retrend sends them"; nested series "become JSON columns of their own
    (`array` or `object`), not `_extra_fields`", their contents as sent). Nothing misfits, so no
    `_extra_fields`. STATE remembers the learned types beside `partitions` (docs/state.md, "Column
    types in STATE"); the common fields are the tap's own declarations, not learned."""
    expected = {
        "report_name": "conversation_delta_report",
        "client_id": "retailer-2204",
        "store_num": 2,
        "duration": "weekly",
        "start_date": "2024-08-12",
        "end_date": "2024-08-18",
        "created_at": "2024-08-19T03:15:00Z",
        "conversation_count": 1520,  # a JSON whole number: integer
        "percent_change": 12.5,  # a JSON number with a fraction: number
        "_period_completed": True,
        # nested series: JSON columns of their own, as Retrend sends them
        "volumes_over_time": [{"date": "2024-08-12", "count": 201}, {"date": "2024-08-13", "count": 230}],  # array
        "channel_mix": {"kiosk": 0.4, "web": 0.6},  # object
    }
    # what the JSON values above give: a whole number, a fraction, a list, an object
    learned = {"conversation_count": "integer", "percent_change": "number", "volumes_over_time": "array",
               "channel_mix": "object"}
    tap = last_completed_week.tap
    assert as_json(tap.records["retrend_conversation_delta_report"]) == as_json([expected])
    assert tap.last_state == {"bookmarks": {"retrend_conversation_delta_report": {
        "partitions": [{
            "context": {"store_num": 2, "duration": "weekly"},
            "replication_key": "start_date",
            "replication_key_value": "2024-08-19T00:00:00Z",
        }],
        "column_types": learned,
    }}}
    properties = tap.schemas["retrend_conversation_delta_report"]["schema"]["properties"]
    assert {name: declared_type(properties[name]) for name in learned} == learned


def test_a_period_in_progress_is_a_row_marked_not_completed_and_no_bookmark(month_in_progress: Replayed) -> None:
    """The same reading as a completed period's (docs/streams.md, Retrend): the series are JSON
    columns of their own, not `_extra_fields`; the period in progress is never bookmarked, but the
    types its row was declared with are remembered (docs/state.md, "Column types in STATE")."""
    expected = {
        "report_name": "category_interest_trends",
        "client_id": "retailer-2204",
        "store_num": 2,
        "duration": "monthly",
        "start_date": "2024-08-01",
        "end_date": "2024-08-31",
        "created_at": "2024-08-20T09:00:00Z",
        "_period_completed": False,
        # nested series, each a JSON array: array columns, contents as Retrend sends them
        "top_broadtypes": [{"name": "Snacks", "interest": 341}],
        "rising_subtypes": [{"name": "Sparkling water", "change": 0.35}],
        "bar_data": [{"label": "Snacks", "value": 341}],
    }
    tap = month_in_progress.tap
    assert as_json(tap.records["retrend_category_interest_trends"]) == as_json([expected])
    for state in tap.states:
        for partition in state.get("bookmarks", {}).get("retrend_category_interest_trends", {}).get("partitions", []):
            assert partition.get("replication_key_value") is None, state
    series = ("top_broadtypes", "rising_subtypes", "bar_data")
    assert tap.last_state["bookmarks"]["retrend_category_interest_trends"]["column_types"] == dict.fromkeys(series, "array")
    properties = tap.schemas["retrend_category_interest_trends"]["schema"]["properties"]
    assert {name: declared_type(properties[name]) for name in series} == dict.fromkeys(series, "array")


@pytest.mark.parametrize("run", ["last_completed_week", "month_in_progress"])
def test_the_key_and_the_session_never_reach_the_output(run: str, request: pytest.FixtureRequest) -> None:
    tap = request.getfixturevalue(run).tap
    for secret in (API_KEY, SESSION):
        assert secret not in tap.stdout
        assert secret not in tap.stderr
