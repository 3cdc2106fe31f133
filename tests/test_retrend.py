"""Retrend: sessions, per-store-and-duration calendar periods, bookmarks, errors.

End-to-end tests run the real tap command against the sandbox over HTTP; the rest
test the pure pieces (expiry, response shapes, the session's renewal rules, the
period arithmetic on a bookmark) and the sandbox's own validation.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import signal
import subprocess
import tempfile
import typing as t
from collections import Counter
from pathlib import Path

import pytest
import requests

from tap_retail_reports.core.auth import RenewableToken, expiry_epoch
from tap_retail_reports.retrend.client import report_rows
from tap_retail_reports.sandbox import credentials
from tap_retail_reports.sandbox.retrend import App
from tap_retail_reports.sandbox.server import Request, RunningSandbox
from tests.conftest import TAP, FakeClock, TapRun, parse_messages, run_tap, sandbox_log

STREAMS = {
    "conversation_delta_report": "retrend_conversation_delta_report",
    "category_interest_trends": "retrend_category_interest_trends",
    "direct_search_oos_impact": "retrend_direct_search_oos_impact",
}
COMMON = ("report_name", "client_id", "store_num", "duration", "start_date", "end_date", "created_at")
D = dt.date.fromisoformat


# -- helpers ------------------------------------------------------------------------

def config_for(running: RunningSandbox, start: str, end: str | None = None, **retrend: t.Any) -> dict:
    config = credentials.tap_config(f"http://127.0.0.1:{running.port}", vendors=("retrend",))
    config["retrend"].update(retrend)
    config["start_date"] = start
    if end is not None:
        config["end_date"] = end
    return config


def configure(running: RunningSandbox, **settings: t.Any) -> dict:
    response = requests.post(f"http://127.0.0.1:{running.port}/_sandbox/vendor/retrend", json=settings, timeout=10)
    response.raise_for_status()
    return response.json()


def report_calls(running: RunningSandbox) -> list[dict]:
    return configure(running)["calls"]


def keys_of(run: TapRun, stream: str) -> list[tuple]:
    return [(r["store_num"], r["duration"], r["start_date"]) for r in run.records[stream]]


def days(first: str, last: str) -> list[str]:
    start, stop = D(first), D(last)
    return [(start + dt.timedelta(days=n)).isoformat() for n in range((stop - start).days + 1)]


def partition_values(state: dict, stream: str) -> dict[tuple, str]:
    return {
        (p["context"]["store_num"], p["context"]["duration"]): p.get("replication_key_value")
        for p in state["bookmarks"][stream]["partitions"]
    }


def assert_one_clean_error(run: TapRun, *must_name: str, secrets: t.Sequence[str]) -> str:
    assert run.returncode == 1, run.stderr[-2000:]
    assert "Traceback" not in run.stderr
    errors = [line for line in run.stderr.splitlines() if line.startswith("tap-retail-reports: error:")]
    assert len(errors) == 1, run.stderr[-2000:]
    for name in must_name:
        assert name in errors[0]
    for secret in secrets:
        assert secret not in run.stderr and secret not in run.stdout
    return errors[0]


def start_tap(config: dict, folder: str) -> subprocess.Popen:
    """The tap command in the background, its stdout to read line by line. Its logs go to
    `folder`/stderr.log: an undrained stderr pipe would fill up and stall the tap."""
    path = Path(folder) / "config.json"
    path.write_text(json.dumps(config))
    with (Path(folder) / "stderr.log").open("w") as stderr:
        return subprocess.Popen([*TAP, "--config", str(path)], stdout=subprocess.PIPE, stderr=stderr, text=True)


# -- end to end ------------------------------------------------------------------------

def test_every_store_and_period_arrives_as_the_sandbox_serves_it(fresh_sandbox: RunningSandbox) -> None:
    config = config_for(fresh_sandbox, "2024-02-20", "2024-03-05", durations=["daily", "weekly", "monthly"])
    run = run_tap(config).ok()

    expected_starts = {
        "daily": days("2024-02-20", "2024-03-04"),  # 2024-03-05 is still in progress at end_date
        "weekly": ["2024-02-19", "2024-02-26"],  # ISO weeks; the week of 03-04 ends 03-11
        "monthly": ["2024-02-01"],
    }
    expected = sorted(
        (store, duration, start)
        for store in credentials.RETREND_STORE_NUMS
        for duration, starts in expected_starts.items()
        for start in starts
    )
    app = App(seed=42)
    for report, stream in STREAMS.items():
        assert sorted(keys_of(run, stream)) == expected, stream
        for record in run.records[stream]:
            served = app.report(record["store_num"], report, record["duration"], D(record["start_date"]))
            assert {k: record[k] for k in COMMON} == {k: served[k] for k in COMMON}
            # Every other field reaches the target as a column of its own: figures, and nested series as JSON.
            assert not record.get("_extra_fields")
            columns = {k: v for k, v in record.items() if k in served and k not in COMMON}
            assert columns == {k: v for k, v in served.items() if k not in COMMON}
            assert any(isinstance(value, (dict, list)) for value in columns.values())
            assert record["_period_completed"] is True
        schema = run.schemas[stream]
        assert schema["key_properties"] == ["store_num", "duration", "start_date"]
        assert schema["bookmark_properties"] == ["start_date"]
    february = next(r for r in run.records[STREAMS["category_interest_trends"]] if r["duration"] == "monthly")
    assert february["end_date"] == "2024-02-29"

    # No report request was ever repeated, and one session served all three streams.
    calls = report_calls(fresh_sandbox)
    assert len(calls) == 3 * len(expected)
    assert all(call["statuses"] == [200] and call["endpoint"] == "general" for call in calls)
    sessions = [e for e in sandbox_log(fresh_sandbox) if e["path"] == "/session"]
    assert len(sessions) == 1


def test_longer_periods_follow_the_calendar(sandbox: RunningSandbox) -> None:
    config = config_for(
        sandbox, "2023-11-15", "2025-01-01",
        store_nums=[2], reports=["direct_search_oos_impact"], durations=["weekly", "monthly", "quarterly", "yearly"],
    )
    run = run_tap(config).ok()
    by_duration: dict[str, list[tuple[str, str]]] = {}
    for record in run.records["retrend_direct_search_oos_impact"]:
        by_duration.setdefault(record["duration"], []).append((record["start_date"], record["end_date"]))

    weeks = sorted(by_duration["weekly"])
    assert weeks[0] == ("2023-11-13", "2023-11-19") and weeks[-1] == ("2024-12-23", "2024-12-29")
    assert all(D(start).weekday() == 0 for start, _ in weeks)
    assert all(D(b[0]) - D(a[0]) == dt.timedelta(days=7) for a, b in itertools.pairwise(weeks))
    assert sorted(by_duration["monthly"])[:4] == [
        ("2023-11-01", "2023-11-30"), ("2023-12-01", "2023-12-31"),
        ("2024-01-01", "2024-01-31"), ("2024-02-01", "2024-02-29"),
    ]
    assert len(by_duration["monthly"]) == 14 and max(by_duration["monthly"])[0] == "2024-12-01"
    assert sorted(by_duration["quarterly"]) == [
        ("2023-10-01", "2023-12-31"), ("2024-01-01", "2024-03-31"), ("2024-04-01", "2024-06-30"),
        ("2024-07-01", "2024-09-30"), ("2024-10-01", "2024-12-31"),
    ]
    # end_date 2025-01-01 (midnight) completes 2024, and nothing of 2025.
    assert sorted(by_duration["yearly"]) == [("2023-01-01", "2023-12-31"), ("2024-01-01", "2024-12-31")]


def test_bookmarks_are_per_store_and_duration(sandbox: RunningSandbox) -> None:
    stream = "retrend_conversation_delta_report"
    config = config_for(
        sandbox, "2024-03-01", "2024-03-08",
        reports=["conversation_delta_report"], durations=["daily", "weekly"],
    )
    config["lookback_days"] = 0
    first = run_tap(config).ok()
    assert partition_values(first.last_state, stream) == {
        (1, "daily"): "2024-03-08T00:00:00Z",  # end of the last period read: 03-07
        (2, "daily"): "2024-03-08T00:00:00Z",
        (1, "weekly"): "2024-03-04T00:00:00Z",  # the week of 02-26; that of 03-04 is not over
        (2, "weekly"): "2024-03-04T00:00:00Z",
    }

    # Partitions resume independently: store 1 daily further on, store 2 daily with no bookmark.
    state = {"bookmarks": {stream: {"partitions": [
        {"context": {"store_num": 1, "duration": "daily"}, "replication_key": "start_date",
         "replication_key_value": "2024-03-06T00:00:00Z"},
        {"context": {"store_num": 1, "duration": "weekly"}, "replication_key": "start_date",
         "replication_key_value": "2024-03-04T00:00:00Z"},
        {"context": {"store_num": 2, "duration": "weekly"}, "replication_key": "start_date",
         "replication_key_value": "2024-02-26T00:00:00Z"},
    ]}}}
    config["end_date"] = "2024-03-10"
    second = run_tap(config, state=state).ok()
    assert sorted(keys_of(second, stream)) == sorted(
        [(1, "daily", d) for d in days("2024-03-06", "2024-03-09")]
        + [(2, "daily", d) for d in days("2024-03-01", "2024-03-09")]
        + [(2, "weekly", "2024-02-26")]
    )
    assert partition_values(second.last_state, stream) == {
        (1, "daily"): "2024-03-10T00:00:00Z", (2, "daily"): "2024-03-10T00:00:00Z",
        (1, "weekly"): "2024-03-04T00:00:00Z", (2, "weekly"): "2024-03-04T00:00:00Z",
    }

    # lookback_days is read in days and rounded out to whole periods: 2 days before the
    # bookmark re-reads two days, and the whole week that holds 03-02.
    config["lookback_days"] = 2
    third = run_tap(config, state=second.last_state).ok()
    assert sorted(keys_of(third, stream)) == sorted(
        [(s, "daily", d) for s in (1, 2) for d in ("2024-03-08", "2024-03-09")]
        + [(s, "weekly", "2024-02-26") for s in (1, 2)]
    )


def test_an_expiring_session_is_renewed_before_it_runs_out(fresh_sandbox: RunningSandbox) -> None:
    configure(fresh_sandbox, token_lifetime_seconds=1.0, latency_seconds=0.03)
    config = config_for(fresh_sandbox, "2024-05-01", "2024-06-20", store_nums=[1], reports=["category_interest_trends"])
    run = run_tap(config).ok()

    assert sorted(keys_of(run, "retrend_category_interest_trends")) == [(1, "daily", d) for d in days("2024-05-01", "2024-06-19")]
    log = sandbox_log(fresh_sandbox)
    assert sum(e["path"] == "/session" for e in log) >= 2, "the run outlived its first token"
    assert all(e["status"] == 200 for e in log), "renewed ahead of expiry: no call was refused"


@pytest.mark.timeout(60)  # it reads a live process: never hang the suite
def test_a_refused_session_is_renewed_once_and_the_run_goes_on(fresh_sandbox: RunningSandbox) -> None:
    configure(fresh_sandbox, latency_seconds=0.02)
    config = config_for(fresh_sandbox, "2024-05-01", "2024-06-10", reports=["direct_search_oos_impact"])
    with tempfile.TemporaryDirectory() as folder:
        process = start_tap(config, folder)
        assert process.stdout is not None
        lines = []
        for line in process.stdout:
            lines.append(line)
            if '"type":"STATE"' in line.replace(" ", ""):
                configure(fresh_sandbox, revoke_tokens=True)  # every token so far now answers 401
                break
        out, _ = process.communicate(timeout=60)
        err = (Path(folder) / "stderr.log").read_text()
    run = parse_messages("".join(lines) + out, TapRun(process.returncode, "".join(lines) + out, err)).ok()

    expected = sorted((s, "daily", d) for s in (1, 2) for d in days("2024-05-01", "2024-06-09"))
    assert sorted(keys_of(run, "retrend_direct_search_oos_impact")) == expected
    log = sandbox_log(fresh_sandbox)
    assert [e["status"] for e in log if e["path"] != "/session"].count(401) == 1
    assert sum(e["path"] == "/session" for e in log) == 2
    statuses = Counter(tuple(call["statuses"]) for call in report_calls(fresh_sandbox))
    assert statuses == {(200,): len(expected) - 1, (401, 200): 1}
    assert "session refused (HTTP 401)" in run.stderr


def test_a_fresh_session_refused_too_is_one_clear_error_without_the_token(fresh_sandbox: RunningSandbox) -> None:
    configure(fresh_sandbox, refuse_sessions=True)  # the sandbox's 401 names the token it refuses
    run = run_tap(config_for(fresh_sandbox, "2024-03-01", "2024-03-03"))
    tokens = configure(fresh_sandbox)["tokens_issued"]
    assert len(tokens) == 2  # renewed once, not in a loop
    line = assert_one_clean_error(run, "HTTP 401", "invalid session ***", secrets=tokens)
    assert "retrend.organization_id" in line
    # The first stream renews once; the other Retrend streams then send nothing: the same
    # settings would be refused again (each is still named in the failure summary).
    assert [e["status"] for e in sandbox_log(fresh_sandbox) if e["path"] != "/session"] == [401, 401]


def test_a_refused_session_token_is_one_clear_error(sandbox: RunningSandbox) -> None:
    token = "rts_not-a-live-session-token"
    config = config_for(sandbox, "2024-03-01", "2024-03-03")
    del config["retrend"]["api_key"]
    config["retrend"]["session_token"] = token
    run = run_tap(config)
    line = assert_one_clean_error(run, "retrend.session_token", "HTTP 401", secrets=[token])
    assert "retrend.api_key" in line  # says how to let the tap make its own sessions


@pytest.mark.parametrize(
    ("setting", "value"),
    [("api_key", "rt-wrong-api-key-0000"), ("organization_id", "org-elsewhere")],
)
def test_bad_credentials_are_one_clear_error(sandbox: RunningSandbox, setting: str, value: str) -> None:
    config = config_for(sandbox, "2024-03-01", "2024-03-03")
    config["retrend"][setting] = value
    run = run_tap(config)
    secret = config["retrend"]["api_key"]
    assert_one_clean_error(run, "POST /retrend/session", "retrend.organization_id and retrend.api_key", secrets=[secret])
    assert not run.records


@pytest.mark.timeout(60)  # it reads a live process: never hang the suite
def test_a_killed_run_resumes_without_losing_a_period(fresh_sandbox: RunningSandbox) -> None:
    configure(fresh_sandbox, latency_seconds=0.01)
    config = config_for(fresh_sandbox, "2024-04-01", "2024-04-21", store_nums=[1, 2], durations=["daily", "weekly"])
    config["lookback_days"] = 0
    with tempfile.TemporaryDirectory() as folder:
        process = start_tap(config, folder)
        assert process.stdout is not None
        lines, states = [], 0
        for line in process.stdout:
            lines.append(line)
            states += '"type":"STATE"' in line.replace(" ", "")
            if states == 12:
                process.send_signal(signal.SIGKILL)  # no chance to write anything more
                break
        rest, _ = process.communicate(timeout=30)
    complete = "".join(lines) + rest
    first = parse_messages("\n".join(complete.splitlines()[:-1]), TapRun(process.returncode, "", ""))  # last line may be cut
    assert process.returncode == -signal.SIGKILL and first.states

    second = run_tap(config, state=first.last_state).ok()
    expected = sorted(
        [(s, "daily", d) for s in (1, 2) for d in days("2024-04-01", "2024-04-20")]
        + [(s, "weekly", w) for s in (1, 2) for w in ("2024-04-01", "2024-04-08")]
    )
    for stream in STREAMS.values():
        delivered = set(keys_of(first, stream)) | set(keys_of(second, stream))
        assert sorted(delivered) == expected, stream
    # The second run picked up where the first stopped, not from scratch.
    assert sum(len(r) for r in second.records.values()) < 3 * len(expected)


def test_a_period_the_vendor_has_not_finished_is_asked_again(fresh_sandbox: RunningSandbox) -> None:
    # The vendor's day ends later than the tap's (say, a store in a timezone behind UTC):
    # general answers 404 for the periods it has not finished.
    configure(fresh_sandbox, today="2024-03-08")
    config = config_for(fresh_sandbox, "2024-03-05", "2024-03-10", store_nums=[1], reports=["category_interest_trends"])
    config["lookback_days"] = 0
    stream = "retrend_category_interest_trends"
    first = run_tap(config).ok()
    assert keys_of(first, stream) == [(1, "daily", d) for d in days("2024-03-05", "2024-03-07")]
    assert partition_values(first.last_state, stream) == {(1, "daily"): "2024-03-08T00:00:00Z"}
    assert "no report for store_num 1, daily period 2024-03-08" in first.stderr

    configure(fresh_sandbox, today="2024-03-11")
    second = run_tap(config, state=first.last_state).ok()
    assert keys_of(second, stream) == [(1, "daily", "2024-03-08"), (1, "daily", "2024-03-09")]
    assert partition_values(second.last_state, stream) == {(1, "daily"): "2024-03-10T00:00:00Z"}


def test_reports_missing_for_every_store_and_long_past_periods_stop_the_run(sandbox: RunningSandbox) -> None:
    # A wrong base_url path answers 404 to everything: no store has ever had a report, even for
    # periods long over. That is not a store that stopped reporting: nothing is passed.
    config = config_for(sandbox, "2024-03-05", "2024-03-20", store_nums=[1], reports=["category_interest_trends"])
    config["retrend"]["base_url"] += "x"
    config["retrend"].pop("api_key")
    config["retrend"]["session_token"] = "rts_some_session_token_value"
    run = run_tap(config)
    assert run.returncode == 1
    assert "Retrend has no report for any period of any store, not even for periods that ended over 7 days ago" in run.stderr
    assert "check retrend.base_url" in run.stderr
    assert "Traceback" not in run.stderr and "rts_some_session_token_value" not in run.stderr
    partitions = (run.last_state or {}).get("bookmarks", {}).get("retrend_category_interest_trends", {}).get("partitions", [])
    assert not any("replication_key_value" in partition for partition in partitions)


def test_an_old_period_without_a_report_is_passed_with_a_warning_after_the_horizon(fresh_sandbox: RunningSandbox) -> None:
    configure(fresh_sandbox, missing_periods=["2024-03-06"])
    # 2024-03-06 ended on the 7th; asked for until the 14th; this run ends on the 14th.
    config = config_for(fresh_sandbox, "2024-03-05", "2024-03-14", store_nums=[1], reports=["category_interest_trends"])
    run = run_tap(config).ok()
    stream = "retrend_category_interest_trends"
    assert keys_of(run, stream) == [(1, "daily", d) for d in days("2024-03-05", "2024-03-13") if d != "2024-03-06"]
    assert "no report for 1 period(s) (2024-03-06) 7 days after they ended: no longer waited for" in run.stderr
    assert partition_values(run.last_state, stream) == {(1, "daily"): "2024-03-14T00:00:00Z"}


def test_a_report_that_arrives_late_is_read_on_a_later_run(fresh_sandbox: RunningSandbox) -> None:
    stream = "retrend_category_interest_trends"
    configure(fresh_sandbox, today="2024-03-10", missing_periods=["2024-03-06"])
    config = config_for(fresh_sandbox, "2024-03-05", "2024-03-10", store_nums=[1], reports=["category_interest_trends"])
    first = run_tap(config).ok()
    assert keys_of(first, stream) == [(1, "daily", d) for d in ("2024-03-05", "2024-03-07", "2024-03-08", "2024-03-09")]
    # Still inside the horizon: the bookmark waits before the missing period.
    assert partition_values(first.last_state, stream) == {(1, "daily"): "2024-03-06T00:00:00Z"}
    assert "no report yet for 1 period(s) (2024-03-06); asked again on each run until 2024-03-14" in first.stderr

    configure(fresh_sandbox, today="2024-03-12", missing_periods=[])  # the report arrives two days late
    config["end_date"] = "2024-03-12"
    second = run_tap(config, state=first.last_state).ok()
    assert (1, "daily", "2024-03-06") in keys_of(second, stream)
    assert partition_values(second.last_state, stream) == {(1, "daily"): "2024-03-12T00:00:00Z"}


def test_a_store_that_stopped_reporting_is_a_warning_and_the_others_complete(fresh_sandbox: RunningSandbox) -> None:
    stream = "retrend_category_interest_trends"
    configure(fresh_sandbox, silent_stores=[2])
    # The silent store first: when it is read, no other store has shown that Retrend answers.
    config = config_for(fresh_sandbox, "2024-03-01", "2024-03-20", store_nums=[2, 1], reports=["category_interest_trends"])
    first = run_tap(config).ok()
    assert {key[0] for key in keys_of(first, stream)} == {1}
    assert keys_of(first, stream) == [(1, "daily", d) for d in days("2024-03-01", "2024-03-19")]
    warning = "store_num 2, daily: Retrend has no report for any period read"
    assert warning in first.stderr and "has the store stopped reporting?" in first.stderr
    bookmarks = partition_values(first.last_state, stream)
    assert bookmarks[(1, "daily")] == "2024-03-20T00:00:00Z" and not bookmarks.get((2, "daily"))

    # Now that store 1 has shown Retrend answers, the silent store's long-past periods are passed;
    # the last 7 days stay asked for.
    second = run_tap(config, state=first.last_state).ok()
    assert partition_values(second.last_state, stream)[(2, "daily")] == "2024-03-13T00:00:00Z"
    assert warning in second.stderr


@pytest.mark.date_sensitive  # today's period and this month's
def test_refresh_current_period_reads_the_period_in_progress_without_bookmarking_it(fresh_sandbox: RunningSandbox) -> None:
    today = dt.datetime.now(dt.timezone.utc).date()
    start = today - dt.timedelta(days=2)
    config = config_for(
        fresh_sandbox, start.isoformat(), store_nums=[1], reports=["conversation_delta_report"],
        durations=["daily", "monthly"], refresh_current_period=True,
        kiosk_id="K-17", kiosk="front-door", temp_kiosk="0", device_id="dev-9f2",
    )
    stream = "retrend_conversation_delta_report"
    run = run_tap(config).ok()
    in_progress = {(r["duration"], r["start_date"]) for r in run.records[stream] if not r["_period_completed"]}
    month = today.replace(day=1)
    assert in_progress == {("daily", today.isoformat()), ("monthly", month.isoformat())}
    calls = {(c["duration"], c["start_date"]): c["endpoint"] for c in report_calls(fresh_sandbox)}
    assert calls[("daily", today.isoformat())] == "run-now" and calls[("monthly", month.isoformat())] == "run-now"
    assert calls[("daily", start.isoformat())] == "general"
    assert partition_values(run.last_state, stream)[(1, "daily")] == f"{today.isoformat()}T00:00:00Z"
    assert configure(fresh_sandbox)["kiosk_headers_seen"] == [
        {"kiosk-id": "K-17", "x-kiosk": "front-door", "x-temp-kiosk": "0", "x-device-id": "dev-9f2"}
    ]


def test_bare_report_objects_are_read_like_wrapped_ones(fresh_sandbox: RunningSandbox) -> None:
    configure(fresh_sandbox, wrap_reports=False)
    config = config_for(fresh_sandbox, "2024-03-01", "2024-03-03", store_nums=[2], reports=["direct_search_oos_impact"])
    run = run_tap(config).ok()
    records = run.records["retrend_direct_search_oos_impact"]
    served = App(seed=42).report(2, "direct_search_oos_impact", "daily", D("2024-03-01"))
    assert len(records) == 2
    assert records[0]["time_series"] == served["time_series"]


def test_a_second_request_for_the_same_report_comes_from_the_cache(sandbox: RunningSandbox) -> None:
    from tap_retail_reports.tap import TapRetailReports

    configure(sandbox, reset_calls=True)
    config = config_for(sandbox, "2024-03-01", "2024-03-03", store_nums=[3])
    tap = TapRetailReports(config=config, parse_env_config=False)
    stream = tap.streams["retrend_category_interest_trends"]
    first, first_arrived = stream.fetch(3, "weekly", dt.date(2024, 2, 26), "general")
    second, second_arrived = stream.fetch(3, "weekly", dt.date(2024, 2, 26), "general")
    assert first == second and first[0]["start_date"] == "2024-02-26"
    assert first_arrived == second_arrived  # the rows' time_extracted: when Retrend's one answer arrived
    assert [c["statuses"] for c in report_calls(sandbox) if c["store_num"] == 3] == [[200]]


# -- pure logic ------------------------------------------------------------------------

def test_expiry_is_read_in_every_plausible_form() -> None:
    now = 1_700_000_000.0
    assert expiry_epoch("2023-11-14T22:13:20Z", now) == now
    assert expiry_epoch("2023-11-14T23:13:20+01:00", now) == now
    assert expiry_epoch(now + 5, now) == now + 5  # epoch seconds
    assert expiry_epoch((now + 5) * 1000, now) == now + 5  # epoch milliseconds
    assert expiry_epoch(3600, now) == now + 3600  # a lifetime
    assert expiry_epoch("3600", now) == now + 3600
    for unreadable in (None, True, "soon", {"at": 1}):
        assert expiry_epoch(unreadable, now) is None


def test_report_rows_take_wrapped_bare_and_listed_reports() -> None:
    report = {"report_name": "X", "store_num": 2, "series": [{"a": 1}]}
    assert list(report_rows({"report": report})) == [report]
    assert list(report_rows(report)) == [report]
    assert list(report_rows({**report, "report": "conversation_delta_report"})) == [
        {**report, "report": "conversation_delta_report"}
    ]
    assert list(report_rows({"report": report, "status": "ok", "store_num": 9})) == [
        {**report, "status": "ok", "response_store_num": 9}
    ]
    assert list(report_rows([{"report": report}, report])) == [report, report]
    assert list(report_rows({})) == [] and list(report_rows(None)) == [] and list(report_rows({"report": {}})) == [{}]


def test_session_renews_ahead_of_expiry_and_once_on_refusal() -> None:
    clock, made = FakeClock(1_000.0), []

    def create() -> tuple[str, float | None]:
        made.append(f"token-{len(made)}")
        return made[-1], clock.now + 100

    session = RenewableToken(create, clock=clock)
    assert session.get() == "token-0"
    clock.now += 79
    assert session.get() == "token-0"
    clock.now += 2  # within a fifth of its life of expiring
    assert session.get() == "token-1"

    assert session.rejected("token-0") is True  # an old token: already replaced, just retry
    assert session.get() == "token-1"
    assert session.rejected("token-1") is True
    assert session.get() == "token-2"
    assert session.rejected("token-2") is False  # a fresh token refused too: renewing will not help
    session.accepted("token-2")
    assert session.rejected("token-2") is True  # after a success, a later refusal is renewed again


def test_a_configured_token_is_used_as_given_and_never_renewed_without_an_api_key() -> None:
    session = RenewableToken(None, "given-token")
    assert session.get() == "given-token"
    assert session.rejected("given-token") is False

    renewable = RenewableToken(lambda: ("made-token", None), "given-token")
    assert renewable.rejected("given-token") is True
    assert renewable.get() == "made-token"


def test_session_distrusts_an_expiry_already_past_by_the_local_clock() -> None:
    clock = FakeClock(1_000.0)
    made = []

    def create() -> tuple[str, float | None]:
        made.append("t")
        return "token", clock.now - 10  # our clock runs ahead of the vendor's

    session = RenewableToken(create, clock=clock)
    session.get()
    session.get()
    assert len(made) == 1  # not renewed on every call; the vendor's 401 will say when


@pytest.mark.parametrize(
    ("duration", "bookmark", "lookback", "first"),
    [
        ("daily", None, 1, "2024-01-10"),
        ("daily", "2024-03-05T00:00:00Z", 0, "2024-03-05"),
        ("daily", "2024-03-05T00:00:00Z", 3, "2024-03-02"),
        ("monthly", "2024-03-01T00:00:00Z", 0, "2024-03-01"),
        ("monthly", "2024-03-01T00:00:00Z", 1, "2024-02-01"),  # a day back re-reads February
        ("quarterly", "2024-04-01T00:00:00Z", 1, "2024-01-01"),
        ("yearly", None, 0, "2024-01-01"),  # the period holding start_date
    ],
)
def test_periods_resume_at_the_bookmark_less_lookback_rounded_to_periods(
    duration: str, bookmark: str | None, lookback: int, first: str
) -> None:
    from tap_retail_reports.tap import TapRetailReports

    config = {
        "start_date": "2024-01-10", "end_date": "2025-01-01", "lookback_days": lookback,
        "retrend": {"organization_id": "o", "api_key": "k-123", "store_nums": [4], "durations": [duration]},
    }
    context = {"store_num": 4, "duration": duration}
    partition = {"context": context, "replication_key": "start_date", "replication_key_value": bookmark}
    state = {"bookmarks": {"retrend_conversation_delta_report": {"partitions": [partition]}}} if bookmark else {}
    tap = TapRetailReports(config=config, state=state, parse_env_config=False)
    stream = tap.streams["retrend_conversation_delta_report"]
    assert stream.partitions == [context]
    starts = [start for start, _, completed in stream.periods_to_read(context) if completed]
    assert starts[0] == D(first)


def test_duplicate_stores_and_durations_do_not_repeat_partitions() -> None:
    from tap_retail_reports.tap import TapRetailReports

    config = {"retrend": {"organization_id": "o", "api_key": "k-123", "store_nums": [1, 2, 1], "durations": ["weekly", "weekly"]},
              "start_date": "2024-01-01"}
    stream = TapRetailReports(config=config, parse_env_config=False).streams["retrend_direct_search_oos_impact"]
    assert stream.partitions == [{"store_num": 1, "duration": "weekly"}, {"store_num": 2, "duration": "weekly"}]


# -- the sandbox's own rules ----------------------------------------------------------------

def call_sandbox(app: App, path: str, body: t.Any = None, **headers: str) -> tuple[int, t.Any]:
    request = Request("POST", path, {}, headers, json.dumps(body).encode() if body is not None else b"", "http://x/retrend")
    response = app.handle(request)
    return response.status, json.loads(response.body)


def test_sandbox_validates_requests_like_the_document_says() -> None:
    app = App(seed=1)
    app.configure({"today": "2024-08-14"})  # a Wednesday
    org = credentials.RETREND_ORGANIZATION_ID
    assert call_sandbox(app, "/session", **{"organization-id": org, "api-key": "nope"})[0] == 401
    status, session = call_sandbox(app, "/session", **{"organization-id": org, "api-key": credentials.RETREND_API_KEY})
    assert status == 200 and set(session) == {"token", "expires"}
    headers = {"organization-id": org, "x-session": session["token"]}

    def ask(endpoint: str, **body: t.Any) -> tuple[int, t.Any]:
        return call_sandbox(app, f"/v2/reports/{endpoint}", {"store_num": 1, "report": "category_interest_trends",
                                                               "duration": "weekly", **body}, **headers)

    assert ask("general", start_date="2024-08-06")[0] == 400  # not a Monday
    assert ask("general", start_date="2024-08-05", store_num="1")[0] == 400
    assert ask("general", start_date="2024-08-05", store_num=99)[0] == 400
    assert ask("general", start_date="2024-08-05", duration="hourly")[0] == 400
    assert ask("general", start_date="2024-08-12")[0] == 404  # the week in progress
    assert ask("run-now", start_date="2024-08-12")[1]["report"]["start_date"] == "2024-08-12"
    assert ask("run-now", start_date="2024-08-19")[0] == 404  # not begun
    assert ask("general")[1]["report"]["start_date"] == "2024-08-05"  # latest completed
    assert ask("run-now")[1]["report"]["start_date"] == "2024-08-12"  # the one in progress
    assert call_sandbox(app, "/v2/reports/general", {"store_num": 1}, **{"organization-id": org, "x-session": "x"})[0] == 401
    app.configure({"revoke_tokens": True})
    assert ask("general", start_date="2024-08-05")[0] == 401
