"""A run that cannot go on ends fast and cleanly (issue 17.3, 17.4, 17.6), end to end against the sandbox:
every vendor down costs one vendor's retries, not five in turn; revoked credentials stop every job of
the vendor at once, a job waiting between polls included; a target that stops reading gets one line."""

from __future__ import annotations

import json
import subprocess
import threading
import time
import typing as t
from pathlib import Path

import pytest
import requests

from tap_retail_reports.sandbox.credentials import VROOM_PASSWORD, VROOM_USERNAME
from tap_retail_reports.sandbox.server import RunningSandbox
from tap_retail_reports.vroom.client import VroomStream
from tests.conftest import (
    TAP,
    TapRun,
    catalog_selecting,
    env_setting_class_attributes,
    run_tap,
    sandbox_log,
    set_faults,
)
from tests.test_async_vendors import config, knobs
from tests.test_vendor_edges import closed_port, error_lines

ALL_VENDORS = ("retrend", "foxycart", "distribu", "flipkart", "vroom")
ASYNC = "tap_retail_reports.core.async_stream:AsyncReportStream"


def message(line: str) -> str:
    """A log line without its time, level and logger."""
    return line.split(" | ")[-1]


def run_beside(meanwhile: t.Callable[[threading.Event], None], run: t.Callable[[], TapRun]) -> TapRun:
    """`run()` while `meanwhile(done)` acts on the sandbox from a thread of its own (and stops once `done` is set)."""
    done = threading.Event()
    thread = threading.Thread(target=meanwhile, args=(done,))
    thread.start()
    try:
        return run()
    finally:
        done.set()
        thread.join()


# -- 17.3: every vendor down ---------------------------------------------------------------------


@pytest.mark.parametrize("reading", ["503", "503 with Retry-After", "connection dropped", "connection refused"])
def test_five_vendors_down_cost_one_vendors_retries_not_five_in_turn(fresh_sandbox: RunningSandbox, tmp_path: Path,
                                                                    reading: str) -> None:
    # Retries 0.2 s, 0.4 s ... 3.2 s (6.2 s a vendor), or the 1 s Retry-After: today's order is one vendor's
    # retries after another (156 s with the tap's own waits).
    env = env_setting_class_attributes(tmp_path, {
        "tap_retail_reports.core.streams:ReportStream.backoff_factor": 0.2,
        f"{ASYNC}.poll_first_seconds": 0.2, f"{ASYNC}.retry_wait_seconds": 0.2,
    })
    cfg = config(fresh_sandbox, ALL_VENDORS, "2026-10-05", "2026-10-07")
    if reading == "connection refused":
        dead = f"http://127.0.0.1:{closed_port()}"
        for vendor in ALL_VENDORS:
            cfg[vendor]["base_url"] = cfg[vendor]["base_url"].replace(f"http://127.0.0.1:{fresh_sandbox.port}", dead)
    elif reading == "connection dropped":
        set_faults(fresh_sandbox, drop_rate=1.0)
    else:
        set_faults(fresh_sandbox, error_rate=1.0, error_retry_after=1 if "Retry-After" in reading else None)
    run = run_tap(cfg, env=env, timeout=300)
    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert not run.records
    errors = [line for line in run.stderr.splitlines() if "| ERROR" in line]
    for vendor in ALL_VENDORS:
        said = [line for line in errors if f"{vendor} is down: " in line]
        assert len(said) == 2, "\n".join(said)  # the vendor's line and the run summary's: one line per vendor
    # The vendors were asked together: each one's first failed attempt comes before any vendor gives up.
    lines = [message(line) for line in run.stderr.splitlines()]
    gave_up = next(number for number, line in enumerate(lines) if " is down: " in line)
    first_failures = {vendor: next((number for number, line in enumerate(lines)
                                    if line.startswith(vendor) and ": attempt 1 of 6 failed" in line), None)
                      for vendor in ALL_VENDORS}
    assert all(number is not None and number < gave_up for number in first_failures.values()), (
        first_failures, gave_up, "\n".join(lines[:gave_up + 1]))


# -- 17.4: credentials revoked while jobs wait between polls ------------------------------------


def test_revoked_credentials_stop_every_job_at_once_even_one_waiting_an_hour_for_its_next_poll(
        fresh_sandbox: RunningSandbox, tmp_path: Path) -> None:
    streams = "tap_retail_reports.foxycart.streams"
    env = env_setting_class_attributes(tmp_path, {
        "tap_retail_reports.core.streams:ReportStream.backoff_factor": 0.05,
        f"{streams}:CompleteStream.poll_first_seconds": 0.2,  # polls every 0.3 s: it meets the revocation
        f"{streams}:CompleteStream.poll_cap_seconds": 0.3,
        f"{streams}:CustomersStream.poll_first_seconds": 3600.0,  # these two wait an hour after their first poll
        f"{streams}:CustomersLtvStream.poll_first_seconds": 3600.0,
    })
    knobs(fresh_sandbox, "foxycart", processing_seconds=3600)  # no report is ready in this run
    cfg = config(fresh_sandbox, ("foxycart",), "2026-10-05", "2026-10-07")  # two week-grid windows a stream
    revoked_at: list[int] = []

    def revoke_once_every_job_polled(done: threading.Event) -> None:
        while not done.is_set():
            log = sandbox_log(fresh_sandbox)
            created = sum(entry["method"] == "POST" and entry["path"].endswith("/reports") for entry in log)
            polled = {entry["path"] for entry in log if entry["method"] == "GET" and entry["path"].startswith("/reports/")}
            if len(polled) == created >= 3:
                knobs(fresh_sandbox, "foxycart", revoke_tokens=True, refuse_grants="invalid_grant")
                revoked_at.append(len(log))
                return
            time.sleep(0.05)

    # Before: the two waiting jobs learnt of it at their next poll, an hour on (the run outlived this timeout).
    run = run_beside(revoke_once_every_job_polled, lambda: run_tap(cfg, env=env, timeout=120))
    assert revoked_at and run.returncode == 1 and "Traceback" not in run.stderr
    about = [line for line in error_lines(run.stderr) if "| ERROR" in line and "foxycart:" in line]
    assert len(about) == 2 and all("invalid_grant" in line and "check foxycart." in line for line in about), about
    assert run.stderr.count("retrying with a new one") == 1  # one renewal, said once
    after = sandbox_log(fresh_sandbox)[revoked_at[0]:]
    refusals = [(entry["method"], entry["path"].split("/")[1], entry["status"]) for entry in after if entry["status"] != 200]
    # The two `complete` jobs poll every 0.3 s: both may meet the revocation before the one renewal is refused.
    polls_refused = [refusal for refusal in refusals if refusal != ("POST", "token", 400)]
    assert 1 <= len(polls_refused) <= 2 and set(polls_refused) == {("GET", "reports", 401)}, after
    assert refusals.count(("POST", "token", 400)) == 1, after
    assert after[-1]["path"] == "/token", "no call after the grant was refused"
    for stream in ("foxycart_complete", "foxycart_customers", "foxycart_customers_ltv"):
        assert run.last_state["bookmarks"][stream]["jobs"], stream  # kept for the next run to resume


def test_a_synchronous_vendor_revoked_mid_backfill_is_one_line_and_no_call_after_the_ones_in_flight(
        fresh_sandbox: RunningSandbox) -> None:
    set_faults(fresh_sandbox, stall_rate=1.0, stall_seconds=0.05, vendors=["vroom"])  # 50 ms answers
    cfg = config(fresh_sandbox, ("vroom",), "2026-06-01", "2026-08-01")  # 61 windows, up to the ceiling at once
    catalog = catalog_selecting(cfg, ["vroom_orders", "vroom_line_items"])

    def revoke_after_ten_answers(done: threading.Event) -> None:
        while not done.is_set() and len(sandbox_log(fresh_sandbox)) < 10:
            time.sleep(0.02)
        set_faults(fresh_sandbox, refuse_status=401, vendors=["vroom"])

    run = run_beside(revoke_after_ten_answers, lambda: run_tap(cfg, catalog=catalog, timeout=120))
    assert run.returncode == 1 and "Traceback" not in run.stderr
    about = [line for line in run.stderr.splitlines() if "| ERROR" in line and "vroom:" in line]
    assert len(about) == 2 and all("HTTP 401" in line and "check vroom.username" in line for line in about), about
    assert "retrying in" not in run.stderr
    log = sandbox_log(fresh_sandbox, settled=True)
    first = next(number for number, entry in enumerate(log) if entry["status"] == 401)
    # The refusal, the calls in flight with it (the pace's ceiling at the most), and at most one more per worker:
    # the sandbox answers a refusal at once but the tap learns of it when its thread runs, and in between a worker
    # whose earlier call came back clean may already have sent its next (seen on CI's loaded machine: 9 of 8). A
    # tap that went on would call every window left (over 100 here).
    ceiling = VroomStream.default_concurrent_windows
    assert len(log) - first <= 2 * ceiling, log[first:]
    assert sum(entry["status"] == 401 for entry in log[first:]) <= ceiling, log[first:]
    assert any(run.records.values()) and run.last_state["bookmarks"]  # what was read before stays read, bookmarked


# -- 17.6: a target that stops reading -------------------------------------------------------------


def test_a_target_that_stops_reading_ends_the_run_with_one_line(sandbox: RunningSandbox, tmp_path: Path) -> None:
    cfg = config(sandbox, ("vroom",), "2026-06-01", "2026-08-01")
    catalog = catalog_selecting(cfg, ["vroom_orders", "vroom_line_items"])
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    (tmp_path / "catalog.json").write_text(json.dumps(catalog))
    with (tmp_path / "stderr.log").open("w") as errors:
        tap = subprocess.Popen([*TAP, "--config", str(tmp_path / "config.json"), "--catalog",
                                str(tmp_path / "catalog.json")], stdout=subprocess.PIPE, stderr=errors, text=True)
        assert tap.stdout is not None
        read = []
        for line in tap.stdout:  # as `| head` does: a few lines (up to the first STATE), then the reader goes
            read.append(json.loads(line))
            if read[-1]["type"] == "STATE" and any(message["type"] == "RECORD" for message in read):
                break
        tap.stdout.close()
        code = tap.wait(timeout=120)
    stderr = (tmp_path / "stderr.log").read_text()
    assert code == 141, stderr[-3000:]  # 128 + SIGPIPE, as a shell reports a writer a closed pipe stopped
    lines = stderr.splitlines()
    assert lines[-1] == "tap-retail-reports: error: the target stopped reading: broken pipe"
    assert stderr.count("broken pipe") == 1
    for noise in ("Traceback", "Exception ignored", "BrokenPipeError", "An unhandled error", "most likely a bug"):
        assert noise not in stderr, noise
    # The STATE the reader got is as far as the run got: the bookmark of a window fully read.
    bookmarks = read[-1]["value"]["bookmarks"]
    values = [value.get("replication_key_value") for value in bookmarks.values()]
    assert values and all(value and value.startswith("2026-06") for value in values), bookmarks


def test_a_sandbox_knob_revokes_any_vendors_credentials(fresh_sandbox: RunningSandbox) -> None:
    """`refuse_status` (sandbox faults): every call to the vendors named answers 401 (or 403), tokens and grants too."""
    set_faults(fresh_sandbox, refuse_status=403, vendors=["distribu"])
    url = f"http://127.0.0.1:{fresh_sandbox.port}/distribu/api/v1/reports/inventory"
    answer = requests.get(url, headers={"Authorization": "Bearer dk_sandbox_reports_read"}, timeout=10)
    assert answer.status_code == 403 and answer.json() == {"error": "credentials revoked"}
    vroom = requests.post(f"http://127.0.0.1:{fresh_sandbox.port}/vroom/api/retailer/v1/analytics/orders", json={},
                          auth=(VROOM_USERNAME, VROOM_PASSWORD), timeout=10)
    assert vroom.status_code == 200  # a vendor not named answers as it would
