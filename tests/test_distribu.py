"""Distribu: pure logic of the tap and the sandbox, then the real tap command against the sandbox."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
import requests
from singer_sdk.exceptions import FatalAPIError

from tap_retail_reports.core.http import LimitedSession
from tap_retail_reports.core.windows import parse_when
from tap_retail_reports.distribu.client import DistribuStream
from tap_retail_reports.sandbox.credentials import DISTRIBU_API_KEY, DISTRIBU_API_KEY_WITHOUT_SCOPE, tap_config
from tap_retail_reports.sandbox.distribu import STATUSES, end_of, parse_js_date, preset_range, start_of
from tap_retail_reports.sandbox.distribu import App as DistribuApp
from tap_retail_reports.sandbox.server import Request
from tap_retail_reports.tap import TapRetailReports
from tests.conftest import (
    TapRun,
    catalog_selecting,
    env_setting_class_attributes,
    run_tap,
    sandbox_log,
    set_faults,
)

UTC = dt.timezone.utc
START, END = "2025-03-01", "2025-03-11"  # ten days, long settled: every order has its final status
CONTRACT_KEYS = {
    "distribu_sales_daily": ["date"],
    "distribu_sales_by_status": ["date", "status"],
    "distribu_customer_sales": ["date", "customerId"],
    "distribu_inventory": ["snapshot_date", "productId"],
    "distribu_inventory_categories": ["snapshot_date", "category"],
}
RANGED = ("distribu_sales_daily", "distribu_sales_by_status", "distribu_customer_sales")
PER_DAY = ("distribu_sales_by_status", "distribu_customer_sales")
APP = DistribuApp(42)  # the fixtures' seed: the sandbox's own data, computed in this process


# -- helpers ------------------------------------------------------------------


def distribu_config(running, start: str = START, end: str = END, **vendor) -> dict:
    config = tap_config(f"http://127.0.0.1:{running.port}", vendors=("distribu",))
    config.update({"start_date": start, "end_date": end})
    config["distribu"].update(vendor)
    return config


def days(start: str, end: str) -> list[dt.date]:
    first, end_day = dt.date.fromisoformat(start), dt.date.fromisoformat(end)
    return [first + dt.timedelta(days=n) for n in range((end_day - first).days)]


def expected(stream: str, start: str = START, end: str = END, snapshot_date: str | None = None) -> list[dict]:
    """The sandbox's rows of `stream` for the days in [start, end)."""
    if stream == "distribu_sales_daily":
        return APP.sales(parse_when(start), parse_when(end) - dt.timedelta(milliseconds=1))["daily"]
    if stream.startswith("distribu_inventory"):
        part = "rows" if stream == "distribu_inventory" else "groups"
        data = APP.inventory(dt.date.fromisoformat(snapshot_date))
        return [{**row, "snapshot_date": snapshot_date} for row in data[part]]
    rows = []
    for day in days(start, end):
        if stream == "distribu_sales_by_status":
            part = APP.sales(start_of(day), end_of(day))["byStatus"]
            sent = {row["status"] for row in part}  # a documented status without orders: a zero row
            part += [{"status": status, "orderCount": 0, "revenue": 0} for status in STATUSES if status not in sent]
        else:
            part = APP.customer_sales(start_of(day), end_of(day))["rows"]
        rows += [{**row, "date": day.isoformat()} for row in part]
    return rows


def by_key(rows: list[dict], stream: str) -> dict[tuple, dict]:
    keyed = {tuple(row[k] for k in CONTRACT_KEYS[stream]): row for row in rows}
    assert len(keyed) == len(rows), f"{stream}: duplicate primary keys"
    return keyed


def assert_rows_match_sandbox(run: TapRun, start: str = START, end: str = END) -> None:
    for stream in CONTRACT_KEYS:
        got = run.records[stream]
        snapshot = got[0]["snapshot_date"] if stream.startswith("distribu_inventory") and got else None
        want = expected(stream, start, end, snapshot)
        assert want, f"the sandbox should hold {stream} rows"
        if stream in PER_DAY:  # each day's rows carry the time of their reading
            assert all(row["_read_at"] for row in got), stream
            got = [{k: v for k, v in row.items() if k != "_read_at"} for row in got]
        assert by_key(got, stream) == by_key(want, stream), stream


def configure(running, **settings) -> dict:
    response = requests.post(f"http://127.0.0.1:{running.port}/_sandbox/vendor/distribu", json=settings, timeout=10)
    response.raise_for_status()
    return response.json()


def distribu_calls(running) -> list[dict]:
    return [entry for entry in sandbox_log(running) if entry["vendor"] == "distribu"]


def busiest_window(times: list[float], period: float) -> int:
    """The most calls in any window [t, t + period) that starts at a call."""
    times, most, first = sorted(times), 0, 0
    for last, at in enumerate(times):
        while at - times[first] >= period:
            first += 1
        most = max(most, last - first + 1)
    return most


def scaled_minute(tmp_path, seconds: float, slack: float = 0.25) -> dict:
    """An environment for `run_tap` in which the tap's limiter counts a "minute" of `seconds`.

    The limiter's window is the class attribute `DistribuStream.rate_limit_period`: 61 s, the
    vendor's minute plus a second of slack for calls that reach the vendor later than we sent
    them; it is set inside the tap's own process (see `env_setting_class_attributes`). The slack
    does not shrink with the clock: the delays it absorbs (a garbage collection,
    a thread switch, in either process) take the same milliseconds whatever the window.
    A quarter second: CI's four workers on two cores once held a call 0.1 s between the
    limiter's stamp and the sandbox's count, and the vendor refused it as a 61st.
    """
    return env_setting_class_attributes(
        tmp_path, {"tap_retail_reports.distribu.client:DistribuStream.rate_limit_period": seconds + slack}
    )


def tap_for(config: dict, state: dict | None = None) -> TapRetailReports:
    return TapRetailReports(config=config, state=state, parse_env_config=False)


# -- pure logic: the tap ---------------------------------------------------------

OFFLINE = {"start_date": START, "end_date": END, "distribu": {"base_url": "http://127.0.0.1:9/distribu", "api_key": "dk_unit"}}


def test_a_day_is_asked_from_its_midnight_to_its_last_millisecond():
    stream = tap_for(OFFLINE).streams["distribu_sales_by_status"]
    windows = list(stream.windows(None))
    assert len(windows) == 10
    context = {"window_start": "2025-03-01T00:00:00Z", "window_end": "2025-03-02T00:00:00Z"}
    assert stream.get_url_params(context, None) == {"from": "2025-03-01T00:00:00Z", "to": "2025-03-01T23:59:59.999Z"}


def test_sales_daily_asks_a_year_a_call():
    config = {**OFFLINE, "start_date": "2024-01-01", "end_date": "2026-01-01"}
    windows = list(tap_for(config).streams["distribu_sales_daily"].windows(None))
    assert [(w.start.date().isoformat(), w.end.date().isoformat()) for w in windows] == [
        ("2024-01-01", "2025-01-01"),  # 366 days: 2024 is a leap year
        ("2025-01-01", "2026-01-01"),
    ]


def test_a_run_resumes_at_the_bookmark_less_a_week_by_default():
    state = {"bookmarks": {"distribu_sales_by_status": {"replication_key": "date", "replication_key_value": "2025-03-10T00:00:00Z"}}}
    stream = tap_for(OFFLINE, state).streams["distribu_sales_by_status"]
    assert next(w.start.date().isoformat() for w in stream.windows(None)) == "2025-03-03"
    stream = tap_for({**OFFLINE, "lookback_days": 0}, state).streams["distribu_sales_by_status"]
    assert [w.start.date().isoformat() for w in stream.windows(None)] == ["2025-03-10"]


def test_every_stream_draws_on_one_budget_of_60_a_minute_or_the_setting():
    tap = tap_for(OFFLINE)
    sessions = [tap.streams[name].requests_session for name in CONTRACT_KEYS]
    assert all(isinstance(session, LimitedSession) for session in sessions)
    (limiter,) = {id(session.limiter): session.limiter for session in sessions}.values()
    assert (limiter.max_calls, limiter.period) == (60, DistribuStream.rate_limit_period)
    config = {**OFFLINE, "distribu": {**OFFLINE["distribu"], "requests_per_minute": 20}}
    assert tap_for(config).streams["distribu_inventory"].requests_session.limiter.max_calls == 20


def fake_response(status: int, body: dict) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = json.dumps(body).encode()
    response.url = "http://127.0.0.1:9/distribu/api/v1/reports/sales?from=x"
    response.request = requests.Request("GET", response.url).prepare()
    return response


def test_a_body_without_data_fails_rather_than_passing_as_an_empty_report():
    stream = tap_for(OFFLINE).streams["distribu_sales_daily"]
    with pytest.raises(FatalAPIError, match="returned no `data` object"):
        list(stream.parse_response(fake_response(200, {"error": "maintenance"})))


def test_auth_errors_name_the_setting_and_the_missing_scope():
    stream = tap_for(OFFLINE).streams["distribu_sales_daily"]
    unauthorised = stream.error_line(fake_response(401, {"error": "Invalid or missing API key"}))
    assert unauthorised == (
        "distribu_sales_daily: GET /distribu/api/v1/reports/sales -> HTTP 401: "
        "Invalid or missing API key (check distribu.api_key)"
    )
    forbidden = stream.error_line(fake_response(403, {"error": "Forbidden"}))
    assert "HTTP 403: Forbidden; the key lacks the reports:read scope" in forbidden
    assert forbidden.endswith("(check distribu.api_key)")


# -- pure logic: the sandbox ----------------------------------------------------


def test_sandbox_reads_dates_like_new_date():
    assert parse_js_date("2026-04-01") == (dt.datetime(2026, 4, 1, tzinfo=UTC), True)
    assert parse_js_date("2026-04-01T00:00:00Z") == (dt.datetime(2026, 4, 1, tzinfo=UTC), False)
    assert parse_js_date("2026-04-17T23:59:59.999Z")[0] == dt.datetime(2026, 4, 17, 23, 59, 59, 999000, tzinfo=UTC)
    assert parse_js_date("2026-04-01T02:00:00+02:00")[0] == dt.datetime(2026, 4, 1, tzinfo=UTC)
    assert parse_js_date("Wed, 01 Apr 2026 00:00:00 GMT")[0] == dt.datetime(2026, 4, 1, tzinfo=UTC)
    with pytest.raises(ValueError):
        parse_js_date("yesterday")


@pytest.mark.date_sensitive  # the inventory snapshot is today's
def test_the_inventory_snapshot_is_dated_with_the_utc_date_of_the_run(sandbox):
    config = distribu_config(sandbox)
    before = dt.datetime.now(UTC).date().isoformat()
    run = run_tap(config, catalog=catalog_selecting(config, ["distribu_inventory"])).ok()
    after = dt.datetime.now(UTC).date().isoformat()
    rows = run.records["distribu_inventory"]
    [snapshot] = {row["snapshot_date"] for row in rows}
    assert snapshot in {before, after}  # the run's UTC date (the day it started, or ended past midnight)
    want = expected("distribu_inventory", snapshot_date=snapshot)
    assert want and by_key(rows, "distribu_inventory") == by_key(want, "distribu_inventory")


def test_sandbox_presets_run_from_the_period_start_to_the_end_of_today():
    today = dt.date(2026, 4, 17)
    assert preset_range("month", today) == (
        dt.datetime(2026, 4, 1, tzinfo=UTC), dt.datetime(2026, 4, 17, 23, 59, 59, 999000, tzinfo=UTC), "April 2026"
    )
    assert preset_range("quarter", today)[0::2] == (dt.datetime(2026, 4, 1, tzinfo=UTC), "Q2 2026")
    assert preset_range("week", today)[0] == dt.datetime(2026, 4, 13, tzinfo=UTC)  # a Monday
    with pytest.raises(ValueError):
        preset_range("decade", today)


def test_sandbox_ranges_are_the_sum_of_their_days():
    month = APP.sales(start_of(dt.date(2025, 3, 1)), end_of(dt.date(2025, 3, 31)))
    daily = [APP.sales(start_of(day), end_of(day))["totals"] for day in days("2025-03-01", "2025-04-01")]
    assert len(month["daily"]) == 31  # every day, quiet or not
    assert month["totals"]["orderCount"] == sum(day["orderCount"] for day in daily)
    assert round(month["totals"]["revenue"], 2) == round(sum(day["revenue"] for day in daily), 2)
    customers = APP.customer_sales(start_of(dt.date(2025, 3, 1)), end_of(dt.date(2025, 3, 31)))
    assert [row["revenue"] for row in customers["rows"]] == sorted((row["revenue"] for row in customers["rows"]), reverse=True)
    march = APP.orders_between(start_of(dt.date(2025, 3, 1)), end_of(dt.date(2025, 3, 31)))
    edges = [o for o in march if o.at.time() in (dt.time(0), dt.time(23, 59, 59, 999000))]
    assert edges, "some orders sit exactly on a day's edges, so overlapping or gapped windows show"


def test_sandbox_inventory_has_uncategorised_and_negative_stock():
    data = APP.inventory(dt.date(2025, 3, 1))
    assert any(row["stock"] < 0 for row in data["rows"])
    assert "Uncategorised" in {group["category"] for group in data["groups"]}
    assert data["totals"]["productCount"] == sum(group["productCount"] for group in data["groups"])


def sandbox_request(key: str, path: str = "/api/v1/reports/inventory") -> Request:
    return Request("GET", path, {}, {"Authorization": f"Bearer {key}"}, b"", "http://sandbox/distribu")


def test_sandbox_checks_the_key_the_scope_and_the_rate_limit():
    app = DistribuApp(42)
    assert app.handle(sandbox_request("dk_unknown")).status == 401
    assert app.handle(sandbox_request(DISTRIBU_API_KEY_WITHOUT_SCOPE)).status == 403
    app.configure({"requests_per_minute": 2, "window_seconds": 30})
    assert [app.handle(sandbox_request(DISTRIBU_API_KEY)).status for _ in range(2)] == [200, 200]
    throttled = app.handle(sandbox_request(DISTRIBU_API_KEY))
    assert throttled.status == 429
    assert 29 < json.loads(throttled.body)["retryAfter"] <= 30 and throttled.headers["Retry-After"] == "30"
    arrivals = app.configure({})["arrivals"]
    assert sorted(len(times) for times in arrivals.values()) == [1, 3]  # every call, refused ones included
    assert not any(DISTRIBU_API_KEY in name for name in arrivals)


# -- the tap command against the sandbox -----------------------------------------


def test_every_stream_arrives_with_its_keys_and_the_sandboxs_values(fresh_sandbox):
    run = run_tap(distribu_config(fresh_sandbox)).ok()
    for stream, keys in CONTRACT_KEYS.items():
        schema = run.schemas[stream]
        assert schema["key_properties"] == keys, stream
        assert schema.get("bookmark_properties") == (["date"] if stream in RANGED else None), stream
    assert_rows_match_sandbox(run)  # the inventory as it stood on the snapshot_date the tap wrote

    # Across streams, without the sandbox's help: each day's statuses and customers add up to
    # that day's row of the ranged call, so no order at a day's edge is counted twice or lost.
    daily = {row["date"]: row for row in run.records["distribu_sales_daily"]}
    assert sorted(daily) == [day.isoformat() for day in days(START, END)]
    for stream in ("distribu_sales_by_status", "distribu_customer_sales"):
        for date, row in daily.items():
            rows = [r for r in run.records[stream] if r["date"] == date]
            assert sum(r["orderCount"] for r in rows) == row["orderCount"], (stream, date)
            assert round(sum(r["revenue"] for r in rows), 2) == round(row["revenue"], 2), (stream, date)

    # One call for the ranged sales, one per day for the per-day streams, one inventory call shared.
    calls = [entry["path"] for entry in distribu_calls(fresh_sandbox)]
    assert len(calls) == 1 + 10 + 10 + 1
    assert calls.count("/api/v1/reports/inventory") == 1

    # STATE after every window; the last one bookmarks the end of the range.
    by_status = [s["bookmarks"]["distribu_sales_by_status"]["replication_key_value"]
                 for s in run.states if "distribu_sales_by_status" in s["bookmarks"]]
    assert len(set(by_status)) == 10
    for stream in RANGED:
        assert run.last_state["bookmarks"][stream]["replication_key_value"] == "2025-03-11T00:00:00Z"
    assert DISTRIBU_API_KEY not in run.stdout + run.stderr


def test_a_365_day_backfill_stays_under_the_rate_limit(fresh_sandbox, tmp_path):
    # The sandbox's "minute" lasts one second and the tap's limiter is scaled to match
    # (see scaled_minute), so the 732 calls take about 12 s instead of 12 minutes.
    minute = 1.0
    configure(fresh_sandbox, requests_per_minute=60, window_seconds=minute)
    start, end = "2025-01-01", "2026-01-01"
    run = run_tap(distribu_config(fresh_sandbox, start, end), env=scaled_minute(tmp_path, minute), timeout=120).ok()

    calls = distribu_calls(fresh_sandbox)
    # 1 ranged sales call + 365 per-status days + 365 per-customer days + 1 inventory call.
    assert len(calls) == 732, [line for line in run.stderr.splitlines() if "| WARNING" in line][:10]
    assert [c for c in calls if c["status"] != 200] == []  # not one 429
    (arrivals,) = configure(fresh_sandbox)["arrivals"].values()
    # At the limit, not under it by luck: the tap is far faster than 60 calls a second, so it
    # is the limiter that sets the pace.
    assert 55 <= busiest_window(arrivals, minute) <= 60
    assert len(run.records["distribu_sales_daily"]) == 365
    assert_rows_match_sandbox(run, start, end)


def test_injected_429s_are_waited_out_as_told_and_no_row_is_lost(fresh_sandbox):
    # Two calls in every twelve answer 429, back to back, so a call is refused twice before it
    # gets through. 22 calls take about 27 attempts: inside the tap's own budget of 60 a
    # minute, which refused calls count against too.
    set_faults(fresh_sandbox, throttle_every=12, throttle_burst=2, retry_after=0.2, vendors=["distribu"])
    run = run_tap(distribu_config(fresh_sandbox)).ok()
    throttled = [entry for entry in distribu_calls(fresh_sandbox) if entry["status"] == 429]
    assert len(throttled) >= 4
    assert "retrying in 0.2s" in run.stderr  # Retry-After, not the exponential default of 1 s
    assert_rows_match_sandbox(run)


def test_the_vendors_own_429_is_honoured_when_the_budget_is_set_too_high(fresh_sandbox):
    # The key really allows 8 calls a second; the tap is told 1000 a minute, so only the
    # vendor's 429s (retryAfter in the body, Retry-After in the header) slow it down.
    configure(fresh_sandbox, requests_per_minute=8, window_seconds=1.0)
    run = run_tap(distribu_config(fresh_sandbox, requests_per_minute=1000)).ok()
    statuses = [entry["status"] for entry in distribu_calls(fresh_sandbox)]
    assert statuses.count(429) >= 2 and statuses.count(200) == 22
    # Retry-After's 1 s, plus up to a fifth of jitter (workers refused together must not retry together).
    assert re.search(r"-> HTTP 429\); retrying in 1\.[0-2]s", run.stderr), run.stderr
    assert_rows_match_sandbox(run)


@pytest.mark.parametrize(
    ("api_key", "must_say"),
    [
        ("dk_live_not_a_real_key_93a1", ["HTTP 401", "Invalid or missing API key", "check distribu.api_key"]),
        (DISTRIBU_API_KEY_WITHOUT_SCOPE, ["HTTP 403", "lacks the reports:read scope", "check distribu.api_key"]),
    ],
    ids=["bad key", "key without scope"],
)
def test_a_refused_key_is_one_clear_line_without_the_secret(sandbox, api_key, must_say):
    run = run_tap(distribu_config(sandbox, api_key=api_key))
    assert run.returncode == 1
    errors = [line for line in run.stderr.splitlines() if line.startswith("tap-retail-reports: error:")]
    assert len(errors) == 1, run.stderr
    for words in must_say:
        assert words in errors[0], errors[0]
    assert "Traceback" not in run.stderr
    assert api_key not in run.stderr + run.stdout


def upserted(runs: list[TapRun], stream: str) -> dict[tuple, dict]:
    """What an upserting target holds after loading `runs` in order: the last row of each key wins."""
    return {tuple(row[k] for k in CONTRACT_KEYS[stream]): row for run in runs for row in run.records[stream]}


def test_a_restated_day_leaves_the_target_with_its_current_figures(fresh_sandbox):
    # The day is read while its orders are new (all SUBMITTED), then re-read by the lookback
    # once they are DELIVERED or CANCELLED: Distribu's byStatus then no longer lists SUBMITTED.
    day = dt.date(2025, 3, 3)
    assert len(APP.orders_on(day)) >= 3, "the sandbox should hold orders on this day"
    config = distribu_config(fresh_sandbox, day.isoformat(), (day + dt.timedelta(days=1)).isoformat())
    streams = ("distribu_sales_daily", *PER_DAY)
    catalog = catalog_selecting(config, streams)
    configure(fresh_sandbox, today=day.isoformat())
    first = run_tap(config, catalog=catalog).ok()
    assert {row["status"] for row in first.records["distribu_sales_by_status"] if row["orderCount"]} == {"SUBMITTED"}
    later = day + dt.timedelta(days=4)
    configure(fresh_sandbox, today=later.isoformat())
    second = run_tap(config, catalog=catalog, state=first.last_state).ok()

    current = APP.sales(start_of(day), end_of(day), today=later)
    target = upserted([first, second], "distribu_sales_by_status")
    want = dict.fromkeys(STATUSES, (0, 0))
    want.update({row["status"]: (row["orderCount"], row["revenue"]) for row in current["byStatus"]})
    got = {status: (row["orderCount"], row["revenue"]) for (date, status), row in target.items() if date == day.isoformat()}
    assert got == want
    assert want["SUBMITTED"] == (0, 0) and sum(count for count, _ in got.values()) == current["totals"]["orderCount"]

    customers = upserted([first, second], "distribu_customer_sales")
    assert {key[1]: row["orderCount"] for key, row in customers.items()} == {
        row["customerId"]: row["orderCount"] for row in APP.customer_sales(start_of(day), end_of(day))["rows"]
    }
    # One reading of a day: one _read_at for all of its rows; a later reading, a later one.
    for stream in PER_DAY:
        first_reads, second_reads = ({row["_read_at"] for row in run.records[stream]} for run in (first, second))
        assert len(first_reads) == len(second_reads) == 1 and max(first_reads) < min(second_reads), stream
