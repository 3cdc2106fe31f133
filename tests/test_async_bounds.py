"""A run's bounds and its jobs' identity hold at the edges: a vendor that takes whole days, the open
window of a run that died, and a STATE that names a job somewhere else."""

from __future__ import annotations

import datetime as dt
import json
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tap_retail_reports.core.windows import on_grid
from tap_retail_reports.sandbox.server import RunningSandbox
from tests.conftest import catalog_selecting, run_tap, sandbox_log
from tests.test_async_vendors import (  # noqa: F401 (fast is a fixture)
    KOLKATA,
    LOS_ANGELES,
    assert_same_rows,
    config,
    fast,
    foxycart_expected,
    keyed,
    knobs,
    parse_utc,
    start_tap,
    windows_of,
)


def test_the_run_end_holds_for_a_vendor_that_takes_whole_days(fresh_sandbox, fast) -> None:  # noqa: F811
    cfg = config(fresh_sandbox, ("foxycart", "flipkart"), "2026-11-18", "2026-11-25",
                 foxycart={"reports": ["transactions"]})
    run = run_tap(cfg, catalog=catalog_selecting(cfg, ["foxycart_transactions", "flipkart_orders_report"]), env=fast).ok()
    end = parse_utc("2026-11-25T00:00:00Z")
    india_midnight = parse_utc("2026-11-24T18:30:00Z")  # 2026-11-25 00:00 in India, the last before the end
    # Flipkart takes whole India days: its day 2026-11-25 (from 18:30 UTC) is left to the next run.
    # Its files' times are naive India times, kept as written (no document gives their zone).
    orders = [dt.datetime.fromisoformat(row["order_date"]).replace(tzinfo=KOLKATA)
              for row in run.records["flipkart_orders_report"]]
    assert orders and max(orders) < india_midnight, max(orders)
    bookmarks = run.last_state["bookmarks"]
    assert bookmarks["flipkart_orders_report"]["replication_key_value"] == "2026-11-24T18:30:00Z"
    assert ("flipkart reports take whole days: this run reads up to 2026-11-24T18:30:00Z, the last midnight in "
            "Asia/Kolkata; the part day after it is the next run's") in run.stderr
    # FoxyCart takes times: it reads up to the end itself, part day included, and not past it.
    sales = [parse_utc(row["transaction_date"]) for row in run.records["foxycart_transactions"]]
    assert sales and india_midnight < max(sales) < end, max(sales)
    assert bookmarks["foxycart_transactions"]["replication_key_value"] == "2026-11-25T00:00:00Z"


@pytest.mark.date_sensitive  # the run reads up to now
def test_the_open_window_of_a_killed_run_is_resumed_and_bookmarked_at_its_own_end(fresh_sandbox, fast,  # noqa: F811
                                                                                   tmp_path: Path) -> None:
    today = dt.datetime.now(dt.timezone.utc).date()
    knobs(fresh_sandbox, "foxycart", processing_seconds=3600, data_start=(today - dt.timedelta(days=14)).isoformat(),
          data_end=(today + dt.timedelta(days=1)).isoformat())
    # No end_date: the run reads up to now, so its last window is open, its end differing on every run. The
    # start is the first day of the store's grid week holding now (on a Monday, today itself): one window.
    week = on_grid(dt.datetime.now(LOS_ANGELES).date(), 7)
    week_start = dt.datetime.combine(week, dt.time(), LOS_ANGELES).astimezone(dt.timezone.utc)
    cfg = config(fresh_sandbox, ("foxycart",), week_start.strftime("%Y-%m-%dT%H:%M:%SZ"), "",
                 foxycart={"reports": ["customers"]})
    del cfg["end_date"]
    process = start_tap(cfg, tmp_path, fast, stderr=subprocess.DEVNULL)
    assert process.stdout is not None
    last_state = None
    for line in process.stdout:  # until STATE holds the open window's job, then a crash
        message = json.loads(line)
        if message["type"] == "STATE" and message["value"]["bookmarks"].get("foxycart_customers", {}).get("jobs"):
            last_state = message["value"]
            break
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert last_state is not None
    [(window_start, job)] = last_state["bookmarks"]["foxycart_customers"]["jobs"].items()
    window_end = job["window_end"]
    created = [report["id"] for report in knobs(fresh_sandbox, "foxycart")["reports"]]
    # The job finishes while no tap runs; a job made from now on would take a second.
    knobs(fresh_sandbox, "foxycart", advance_seconds=7200, processing_seconds=1)

    resumed_at = dt.datetime.now(dt.timezone.utc)
    run = run_tap(cfg, state=last_state, env=fast).ok()
    state = knobs(fresh_sandbox, "foxycart")
    assert [report["id"] for report in state["reports"]] == created  # the stored job was polled, not made again
    rows = run.records["foxycart_customers"]
    # Every row of the killed run's window, and only those (few in the first minutes of a Monday, never others).
    assert windows_of(rows) <= {(window_start, window_end)}
    expected = foxycart_expected(fresh_sandbox, "customers", rows, windows={(window_start, window_end)})
    assert_same_rows(keyed(rows), expected)
    # The window is the one the killed run asked for: it ends at that run's "now", and so does the bookmark;
    # the next run goes on from there.
    assert parse_utc(window_end) < resumed_at
    bookmark = run.last_state["bookmarks"]["foxycart_customers"]
    assert bookmark["replication_key_value"] == window_end and not bookmark.get("jobs")


def test_a_stored_job_on_another_host_is_forgotten_not_polled(fresh_sandbox, fast) -> None:  # noqa: F811
    cfg = config(fresh_sandbox, ("foxycart",), "2026-11-03", "2026-11-06", foxycart={"reports": ["customers"]})
    # A STATE that names the window's job by a URL on another host (another sandbox, which records
    # every request): with the window's own parameters, so that only its host tells it apart.
    with RunningSandbox(seed=1) as elsewhere:
        window = "2026-11-02T08:00:00Z/2026-11-06T00:00:00Z"  # Los Angeles days 2 to 5 November
        job = {"job_id": f"http://127.0.0.1:{elsewhere.port}/foxycart/reports/1001", "created_at": time.time(),
               "attempt": 1, "params": {"name": "customers", "version": "1", "datetime_start": "2026-11-02 00:00:00",
                                        "datetime_end": "2026-11-05 15:59:59"}}
        state = {"bookmarks": {"foxycart_customers": {"jobs": {window: job}}}}
        run = run_tap(cfg, state=state, env=fast)
        assert not sandbox_log(elsewhere)  # no request, so no token, went there
    run.ok()
    assert f"not on the configured vendor host 127.0.0.1:{fresh_sandbox.port}" in run.stderr
    assert len(knobs(fresh_sandbox, "foxycart")["reports"]) == 1  # a new job, at the configured host
    rows = run.records["foxycart_customers"]
    assert rows and windows_of(rows) == {tuple(window.split("/"))}
    assert_same_rows(keyed(rows), foxycart_expected(fresh_sandbox, "customers", rows))
