"""Synchronous backfills read several windows at once (core/window_fetcher.py), end to end.

What a user checks: every row arrives once, rows leave in window order, the bookmark in
each STATE never passes a row not yet written (a low-water mark), also when the vendor
starts failing or a signal stops the run in the middle; Distribu's budget still holds.
The sandbox logs how many requests it was answering when each arrived (`in_flight`), and
every Vroom answer is held 0.2 s, so that windows read at once overlap there.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import tempfile
import threading
from pathlib import Path

import requests

from tap_retail_reports.core.windows import parse_when
from tap_retail_reports.sandbox.server import RunningSandbox
from tests.conftest import TAP, catalog_selecting, env_setting_class_attributes, run_tap, sandbox_log, set_faults
from tests.test_distribu import busiest_window, configure, distribu_config, scaled_minute
from tests.test_vroom import expected_rows, vroom_config

START, END = "2026-10-01", "2026-10-21"  # 20 one-day windows


def messages(stdout: str, stream: str) -> list[tuple[str, object]]:
    """("RECORD", created_at) and ("STATE", bookmark) in the order the tap wrote them."""
    out: list[tuple[str, object]] = []
    for line in stdout.splitlines():
        message = json.loads(line)
        if message["type"] == "RECORD" and message["stream"] == stream:
            out.append(("RECORD", message["record"]["created_at"]))
        elif message["type"] == "STATE":
            bookmark = message["value"].get("bookmarks", {}).get(stream, {}).get("replication_key_value")
            out.append(("STATE", bookmark))
    return out


def assert_low_water_and_window_order(written: list[tuple[str, object]], end: str = END) -> str | None:
    """Rows in window (day) order; at each STATE, every sandbox row before its bookmark is written,
    and no row written is at or past the last bookmark unless its window is done. Returns it."""
    expected = sorted(row["created_at"] for row in expected_rows("orders", START, end))
    rows: list[str] = []
    bookmark = None
    for kind, value in written:
        if kind == "RECORD":
            assert not rows or day(str(value)) >= day(rows[-1]), f"{value} written after {rows[-1]}"
            rows.append(str(value))
        elif value is not None:
            assert bookmark is None or value >= bookmark, "the bookmark went back"
            bookmark = str(value)
            before = [at for at in expected if parse_when(at) < parse_when(bookmark)]
            assert sorted(at for at in rows if parse_when(at) < parse_when(bookmark)) == before, bookmark
    if bookmark is not None:
        assert all(parse_when(at) < parse_when(bookmark) for at in rows), "a row past the bookmark was written"
    return bookmark


def day(moment: str) -> dt.date:
    return parse_when(moment).astimezone(dt.timezone.utc).date()


def vroom_orders(running: RunningSandbox, **vroom: object) -> tuple[dict, dict]:
    config = vroom_config(running, **vroom)
    config.update(start_date=START, end_date=END)
    set_faults(running, stall_rate=1.0, stall_seconds=0.2, vendors=["vroom"])
    return config, catalog_selecting(config, ["vroom_orders"])


def test_a_backfill_reads_windows_at_once_and_writes_them_in_order(fresh_sandbox: RunningSandbox) -> None:
    config, catalog = vroom_orders(fresh_sandbox)
    run = run_tap(config, catalog=catalog).ok()
    calls = [entry for entry in sandbox_log(fresh_sandbox, settled=True) if entry["path"].endswith("/orders")]
    assert len(calls) == 20
    assert 1 < max(call["in_flight"] for call in calls) <= 8  # the default ceiling: eight windows at once
    got = sorted(row["order_id"] for row in run.records["vroom_orders"])
    assert got == sorted(row["order_id"] for row in expected_rows("orders", START, END))
    assert assert_low_water_and_window_order(messages(run.stdout, "vroom_orders")) == "2026-10-21T00:00:00Z"


def test_one_window_at_a_time_when_the_setting_says_so(fresh_sandbox: RunningSandbox) -> None:
    config, catalog = vroom_orders(fresh_sandbox, concurrent_windows=1)
    run_tap(config, catalog=catalog).ok()
    calls = [entry for entry in sandbox_log(fresh_sandbox, settled=True) if entry["path"].endswith("/orders")]
    assert len(calls) == 20 and max(call["in_flight"] for call in calls) == 1


def test_a_vendor_failing_mid_backfill_holds_the_bookmark_at_the_last_window_written(
        fresh_sandbox: RunningSandbox, tmp_path) -> None:
    config, catalog = vroom_orders(fresh_sandbox)
    env = env_setting_class_attributes(tmp_path, {"tap_retail_reports.core.streams:ReportStream.backoff_factor": 0.01})
    written: list[str] = []
    with tempfile.TemporaryDirectory() as folder:
        process = start(config, catalog, folder, env)
        assert process.stdout is not None
        for line in process.stdout:  # after the third window's STATE, every answer is a 503
            written.append(line)
            if sum('"replication_key_value"' in entry for entry in written if '"STATE"' in entry) == 3:
                set_faults(fresh_sandbox, error_rate=1.0, vendors=["vroom"])
                break
        rest = process.stdout.read()  # after what the loop read ahead (communicate() would miss that)
        process.wait(timeout=120)
        errors = (Path(folder) / "stderr.log").read_text()
    assert process.returncode == 1, errors[-2000:]
    assert "vroom is down" in errors  # the vendor's one line (core/outage.py)
    bookmark = assert_low_water_and_window_order(messages("".join(written) + rest, "vroom_orders"))
    assert bookmark is not None and "2026-10-03T00:00:00Z" <= bookmark < END
    assert f"its bookmark stays at {bookmark}" in errors


def test_a_signal_mid_backfill_exits_143_with_a_bookmark_that_never_runs_ahead(fresh_sandbox: RunningSandbox) -> None:
    config, catalog = vroom_orders(fresh_sandbox)
    written: list[str] = []
    with tempfile.TemporaryDirectory() as folder:
        process = start(config, catalog, folder)
        assert process.stdout is not None
        stop: threading.Timer | None = None
        for line in process.stdout:
            written.append(line)
            if stop is None and '"STATE"' in line and '"replication_key_value"' in line:
                stop = threading.Timer(0.1, process.send_signal, (signal.SIGTERM,))  # mid-window, workers busy
                stop.start()
        process.wait(timeout=60)
    assert process.returncode == 143
    bookmark = assert_low_water_and_window_order(messages("".join(written), "vroom_orders"))
    assert bookmark is not None and bookmark < END


def test_distribu_reads_days_at_once_within_its_60_requests_a_minute(fresh_sandbox: RunningSandbox, tmp_path) -> None:
    minute = 1.0  # the sandbox's minute and the tap's limiter, scaled as tests/test_distribu.py does
    configure(fresh_sandbox, requests_per_minute=60, window_seconds=minute)
    # Answers of 50 ms, three times the limiter's spacing: windows read at once must overlap at the vendor
    # (on loopback an answer may come back before the next request may leave, and nothing would show it).
    requests.post(f"http://127.0.0.1:{fresh_sandbox.port}/_sandbox/limits",
                  json={"distribu": {"latency_seconds": 0.05}}, timeout=10).raise_for_status()
    config = distribu_config(fresh_sandbox, "2025-01-01", "2025-03-02", concurrent_windows=4)
    run_tap(config, env=scaled_minute(tmp_path, minute), timeout=120).ok()
    calls = [entry for entry in sandbox_log(fresh_sandbox, settled=True) if entry["vendor"] == "distribu"]
    assert [call for call in calls if call["status"] != 200] == []  # not one 429
    assert max(call["in_flight"] for call in calls) > 1
    (arrivals,) = configure(fresh_sandbox)["arrivals"].values()
    assert busiest_window(arrivals, minute) <= 60


def start(config: dict, catalog: dict, folder: str, env: dict | None = None) -> subprocess.Popen:
    """The tap command in the background, its stdout read line by line (tests stop it mid-run)."""
    (Path(folder) / "config.json").write_text(json.dumps(config))
    (Path(folder) / "catalog.json").write_text(json.dumps(catalog))
    with open(Path(folder) / "stderr.log", "w") as errors:  # a file: a pipe left unread could fill up
        return subprocess.Popen([*TAP, "--config", f"{folder}/config.json", "--catalog", f"{folder}/catalog.json"],
                                stdout=subprocess.PIPE, stderr=errors, text=True, env={**os.environ, **(env or {})})
