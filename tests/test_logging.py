"""What a run says on stderr: readable by default, one line per retry, progress on long runs,
a summary per stream, long waits explained, and where each stream starts said once."""

from __future__ import annotations

import logging
import re

import pytest

from tap_retail_reports.core.http import RateLimiter
from tap_retail_reports.core.run_stats import StreamStats
from tap_retail_reports.sandbox.credentials import tap_config
from tests.conftest import (
    FakeClock,
    catalog_selecting,
    env_setting_class_attributes,
    run_tap,
    sandbox_log,
    set_faults,
)

START, END = "2025-03-01", "2025-03-06"
METRICS = "TAP_RETAIL_REPORTS_METRICS_LOGLEVEL"


def vroom(running, streams=("vroom_orders",)) -> tuple[dict, dict]:
    config = {**tap_config(f"http://127.0.0.1:{running.port}", vendors=("vroom",)), "start_date": START, "end_date": END}
    return config, catalog_selecting(config, streams)


def test_a_long_wait_for_the_request_budget_says_so(caplog):
    clock = FakeClock()
    limiter = RateLimiter(
        3, 61.0, clock=clock, sleep=clock.sleep, label="distribu", logger=logging.getLogger("test.limiter")
    )
    with caplog.at_level(logging.INFO, logger="test.limiter"):
        for _ in range(3):
            limiter.acquire()  # within the budget
        clock.now = 58.0
        assert limiter.acquire() == pytest.approx(3.0, abs=0.01)  # a short wait: counted, not logged
        assert not caplog.records
        for _ in range(2):
            limiter.acquire()
        assert limiter.acquire() == pytest.approx(61.0, abs=0.01)  # the budget is spent for a whole window
    assert [r.getMessage() for r in caplog.records] == ["distribu: request budget of 3 per 61 s reached; waiting 61 s"]


def test_metric_lines_are_off_by_default_and_come_back_on_request(sandbox):
    config, catalog = vroom(sandbox)
    quiet = run_tap(config, catalog=catalog).ok()
    assert "METRIC" not in quiet.stderr
    loud = run_tap(config, catalog=catalog, env={METRICS: "INFO"}).ok()
    assert "METRIC" in loud.stderr and '"metric":"http_request_duration"' in loud.stderr
    assert len(quiet.stderr.splitlines()) < 15  # the whole story of a short run fits on a screen


def test_each_stream_ends_with_a_summary_that_matches_what_it_did(fresh_sandbox, tmp_path):
    set_faults(fresh_sandbox, throttle_every=3, throttle_burst=1, retry_after=0.2, vendors=["vroom"])
    config, catalog = vroom(fresh_sandbox, ("vroom_orders", "vroom_customer_contacts"))
    run = run_tap(config, catalog=catalog).ok()
    calls = [e for e in sandbox_log(fresh_sandbox) if e["path"].endswith("/analytics/orders")]
    throttled = [e for e in calls if e["fault"] == "throttle"]
    assert throttled, "the sandbox should have throttled some calls"

    summary = re.search(
        r"vroom_orders: summary: (\d+) row\(s\), (\d+) request\(s\), (\d+) retried, waited ([\d.]+) s.*; bookmark (\S+)",
        run.stderr,
    )
    assert summary, run.stderr
    rows, requests_, retried, _, bookmark = summary.groups()
    assert int(rows) == len(run.records["vroom_orders"])
    assert int(requests_) == len(calls)
    assert int(retried) == len(throttled)
    assert bookmark == run.last_state["bookmarks"]["vroom_orders"]["replication_key_value"]
    contacts = [e for e in sandbox_log(fresh_sandbox) if e["path"].endswith("/analytics/customer_contacts")]
    assert re.search(
        rf"vroom_customer_contacts: summary: {len(run.records['vroom_customer_contacts'])} row\(s\), "
        rf"{len(contacts)} request\(s\).*; bookmark none \(full table\)",
        run.stderr,
    )
    # One line per retry: ours, with the reason and the wait; not backoff's as well.
    all_throttled = [e for e in sandbox_log(fresh_sandbox) if e["fault"] == "throttle"]
    assert run.stderr.count("retrying in") == len(all_throttled)
    assert "Backing off" not in run.stderr


def test_progress_lines_come_every_so_often_not_per_window(sandbox, tmp_path):
    config, catalog = vroom(sandbox)
    short = run_tap(config, catalog=catalog).ok()
    assert "progress:" not in short.stderr  # a run shorter than the interval: no progress lines

    every_window = env_setting_class_attributes(
        tmp_path, {"tap_retail_reports.core.run_stats:StreamStats.progress_every_seconds": 0}
    )
    run = run_tap(config, catalog=catalog, env=every_window).ok()
    lines = [line for line in run.stderr.splitlines() if "vroom_orders: progress:" in line]
    assert len(lines) == 5, run.stderr  # five one-day windows
    assert re.search(r"progress: 5 of 5 window\(s\) done, through 2025-03-06T00:00:00Z; \d+ row\(s\)", lines[-1])


def test_stats_counters_are_named_and_add_up():
    stats = StreamStats(clock=lambda: 0.0)
    stats.add(rows=2, requests=1)
    stats.add(rows=3, rate_limit_wait=58.4, retry_wait=1.5, retries=1)
    assert (stats["rows"], stats["requests"], stats["retries"]) == (5, 1, 1)
    assert stats.describe() == "5 row(s), 1 request(s), 1 retried, waited 60 s (rate limit 58 s, retries 1.5 s)"
    with pytest.raises(KeyError):
        stats.add(rowz=1)


def test_where_a_stream_starts_is_said_once_and_truly(sandbox):
    config, catalog = vroom(sandbox)
    first = run_tap(config, catalog=catalog).ok()
    assert "vroom_orders: no bookmark; starting at start_date 2025-03-01T00:00:00Z" in first.stderr
    assert "bookmark value" not in first.stderr  # the SDK would call the start_date a bookmark

    second = run_tap(config, catalog=catalog, state=first.last_state).ok()
    assert "vroom_orders: resuming from bookmark 2025-03-06T00:00:00Z less 2 lookback day(s)" in second.stderr
    assert "no bookmark" not in second.stderr and "bookmark value" not in second.stderr
