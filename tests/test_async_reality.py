"""The async engine against other readings of the vendor documents and a harsher world (issue 11):
link expiry in any form, bodies that are not the report, jobs the vendor forgot, one deadline per
window, stopping mid-download, proxies, and the files waiting on disk. The tap command against
the sandbox over real HTTP.
"""

from __future__ import annotations

import http.server
import itertools
import json
import signal
import socketserver
import subprocess
import threading
import time
import typing as t
from pathlib import Path

import pytest
import requests

from tap_retail_reports.sandbox.credentials import FLIPKART_WAREHOUSE_IDS
from tap_retail_reports.sandbox.server import RunningSandbox
from tests.clock import MovableClock
from tests.conftest import (
    TapRun,
    catalog_selecting,
    env_setting_class_attributes,
    parse_messages,
    run_tap,
    sandbox_log,
    set_faults,
)
from tests.test_async_vendors import (
    assert_same_rows,
    config,
    foxycart_expected,
    keyed,
    knobs,
    start_tap,
)

DOWNLOADS_FOLDER = "tap-retail-reports-downloads"  # core/download.py's, spelt out: the test runs against older code too
FLIPKART_TYPES = ("gst_returns_report", "sales_ledger", "settled_transaction_ledger", "financial_year_ledger",
                  "fbf_orders_report", "returns_report", "orders_report", "stock_ledger", "mir_ledger",
                  "current_inventory_report", "stranded_inventory_report", "unsellable_inventory_report")


@pytest.fixture
def fast(tmp_path: Path) -> dict:
    """The engine's waits shortened inside the tap's process; its temporary files under tmp_path/tmp."""
    owner = "tap_retail_reports.core.async_stream:AsyncReportStream"
    env = env_setting_class_attributes(tmp_path, {
        f"{owner}.poll_first_seconds": 0.2, f"{owner}.poll_cap_seconds": 1.0, f"{owner}.retry_wait_seconds": 0.2,
        "tap_retail_reports.core.async_jobs:JobRunner.download_wait_first": 0.2,
    })
    (tmp_path / "tmp").mkdir()
    return {**env, "TMPDIR": str(tmp_path / "tmp")}


def flipkart_rows_expected(running: RunningSandbox, report_type: str) -> int:
    """Rows of every COMPLETED report of that type the sandbox made."""
    app = running.sandbox.apps["flipkart"]
    reports = [r for r in knobs(running, "flipkart")["reports"] if r["name"] == report_type and r["status"] == "COMPLETED"]
    return sum(len(rows) for r in reports
               for rows in app.expected_rows(report_type, r["parameters"], as_of=r.get("as_of")).values())


# -- 1: a link's stated expiry is a hint ---------------------------------------------------------


def test_flipkart_loads_every_stream_when_its_expiry_is_naive_utc(fresh_sandbox: RunningSandbox, fast: dict) -> None:
    # Another reading of the document: naive UTC. Read as India time, every fresh link looks 5.5 h stale.
    knobs(fresh_sandbox, "flipkart", expiry_form="utc", data_start="2026-09-01")  # mir_ledger: September
    cfg = config(fresh_sandbox, ("flipkart",), "2026-09-28", "2026-10-12",
                 flipkart={"warehouse_ids": list(FLIPKART_WAREHOUSE_IDS)})
    run = run_tap(cfg, env=fast).ok()
    for report_type in FLIPKART_TYPES:
        assert len(run.records[f"flipkart_{report_type}"]) == flipkart_rows_expected(fresh_sandbox, report_type) > 0, (
            report_type)
    downloads = knobs(fresh_sandbox, "flipkart")["downloads"]
    assert all(d["status"] == 200 for d in downloads)


@pytest.mark.parametrize("form", ["offset", "epoch_seconds", "epoch_millis", "absent", "unreadable"])
def test_flipkart_reads_any_form_of_expiry(fresh_sandbox: RunningSandbox, fast: dict, form: str) -> None:
    knobs(fresh_sandbox, "flipkart", expiry_form=form)
    cfg = config(fresh_sandbox, ("flipkart",), "2026-10-06", "2026-10-08")
    run = run_tap(cfg, catalog=catalog_selecting(cfg, ["flipkart_orders_report"]), env=fast).ok()
    assert len(run.records["flipkart_orders_report"]) == flipkart_rows_expected(fresh_sandbox, "orders_report") > 0


# -- 2: a body that is not the report is never rows ---------------------------------------------


def not_the_report(rows: list[dict]) -> list[dict]:
    """Rows made of a sandbox's non-report body: an HTML page, an XML or JSON document, its made-up CSV."""
    markers = ("<!DOCTYPE html>", "<?xml", '{"error"')
    return [row for row in rows
            if any(str(name).startswith(markers) for name in row) or "not the report" in row.values()]


def test_foxycart_bodies_that_are_not_the_zip_are_fetched_again(fresh_sandbox: RunningSandbox, fast: dict) -> None:
    faults = ("html", "xml_error", "json_error", "empty", "plain_csv")
    knobs(fresh_sandbox, "foxycart", **{f"{fault}_next_downloads": 1 for fault in faults})
    cfg = config(fresh_sandbox, ("foxycart",), "2026-10-28", "2026-11-01", foxycart={"reports": ["customers"]})
    run = run_tap(cfg, env=fast).ok()
    rows = run.records["foxycart_customers"]
    assert not not_the_report(rows)
    assert_same_rows(keyed(rows), foxycart_expected(fresh_sandbox, "customers", rows))
    state = knobs(fresh_sandbox, "foxycart")
    assert [d["fault"] for d in state["downloads"]] == [*faults, None]
    assert len(state["reports"]) == 1  # fresh links, not new jobs
    assert "answered an HTML page" in run.stderr and "while this vendor sends zip" in run.stderr
    assert run.last_state["bookmarks"]["foxycart_customers"]["replication_key_value"] == "2026-11-01T00:00:00Z"


def test_flipkart_error_documents_are_not_rows_and_an_expired_body_gets_a_fresh_link(
        fresh_sandbox: RunningSandbox, fast: dict) -> None:
    knobs(fresh_sandbox, "flipkart", html_next_downloads=1, expired_body_next_downloads=1, json_error_next_downloads=1)
    cfg = config(fresh_sandbox, ("flipkart",), "2026-10-06", "2026-10-08")
    run = run_tap(cfg, catalog=catalog_selecting(cfg, ["flipkart_stock_ledger"]), env=fast).ok()
    rows = run.records["flipkart_stock_ledger"]
    assert not not_the_report(rows)
    assert len(rows) == flipkart_rows_expected(fresh_sandbox, "stock_ledger") > 0
    assert "saying the link expired" in run.stderr


def test_a_window_whose_downloads_are_never_the_report_fails_with_its_bookmark_held(
        fresh_sandbox: RunningSandbox, fast: dict) -> None:
    knobs(fresh_sandbox, "foxycart", html_next_downloads=1000)
    cfg = config(fresh_sandbox, ("foxycart",), "2026-10-28", "2026-11-01", foxycart={"reports": ["customers"]})
    run = run_tap(cfg, env=fast)
    assert run.returncode == 1 and not run.records["foxycart_customers"]
    assert "Traceback" not in run.stderr
    lines = run.stderr.splitlines()
    [at] = [number for number, line in enumerate(lines) if "failed: foxycart_customers: " in line]
    carried_on = itertools.takewhile(lambda line: "| failed:     " in line, lines[at + 1:])  # indented by four
    assert "answered an HTML page" in " ".join([lines[at], *carried_on])
    assert "replication_key_value" not in (run.last_state or {}).get("bookmarks", {}).get("foxycart_customers", {})


# -- 5: a job the vendor no longer knows ---------------------------------------------------------


@pytest.mark.parametrize("how", ["never made here", "purged (410)"])
def test_a_stored_job_the_vendor_does_not_know_is_created_again(fresh_sandbox: RunningSandbox, fast: dict,
                                                                  how: str) -> None:
    cfg = config(fresh_sandbox, ("flipkart",), "2026-10-06", "2026-10-08")
    catalog = catalog_selecting(cfg, ["flipkart_orders_report"])
    first = run_tap(cfg, catalog=catalog, env=fast).ok()
    rows = first.records["flipkart_orders_report"]
    [report] = knobs(fresh_sandbox, "flipkart")["reports"]
    window = f"{rows[0]['_report_window_start']}/{rows[0]['_report_window_end']}"
    job_id = "R-00000000000000000000000000"  # a sandbox restarted, or another environment's job
    if how.startswith("purged"):
        job_id = report["id"]
        knobs(fresh_sandbox, "flipkart", purge_reports=True, purged_status=410)
    stored = {"job_id": job_id, "params": report["parameters"], "created_at": time.time() - 60, "attempt": 1}
    state = {"bookmarks": {"flipkart_orders_report": {"jobs": {window: stored}}}}
    run = run_tap(cfg, catalog=catalog, state=state, env=fast).ok()
    assert len(run.records["flipkart_orders_report"]) == len(rows) > 0
    bookmark = run.last_state["bookmarks"]["flipkart_orders_report"]
    assert bookmark["replication_key_value"] == rows[0]["_report_window_end"] and not bookmark["jobs"]
    assert "is unknown to the vendor" in run.stderr and "| ERROR" not in run.stderr


def test_an_unknown_status_is_polled_on(fresh_sandbox: RunningSandbox, fast: dict) -> None:
    knobs(fresh_sandbox, "foxycart", unknown_status_next_polls=3)
    cfg = config(fresh_sandbox, ("foxycart",), "2026-10-28", "2026-11-01", foxycart={"reports": ["customers"]})
    run = run_tap(cfg, env=fast).ok()
    rows = run.records["foxycart_customers"]
    assert_same_rows(keyed(rows), foxycart_expected(fresh_sandbox, "customers", rows))
    assert run.stderr.count("'ON_HOLD', which this tap does not know") == 1  # said once, not per poll


# -- 6: job_timeout_minutes bounds the window --------------------------------------------------


def test_job_timeout_bounds_every_attempt_of_a_window_together(fresh_sandbox: RunningSandbox, fast: dict,
                                                               tmp_path: Path) -> None:
    knobs(fresh_sandbox, "foxycart", processing_seconds=600)
    cfg = config(fresh_sandbox, ("foxycart",), "2026-10-28", "2026-11-01", foxycart={"reports": ["customers"]},
                 job_timeout_minutes=1)
    clock = MovableClock(tmp_path)  # the tap's minute passes at once, once its job is polled
    process = start_tap(cfg, tmp_path, {**fast, **clock.env}, stderr=subprocess.PIPE)
    for _ in range(300):
        if any(knobs(fresh_sandbox, "foxycart")["polls"].values()):
            break
        time.sleep(0.1)
    clock.advance(90)
    out, err = process.communicate(timeout=60)
    run = parse_messages(out, TapRun(process.returncode, out, err))
    assert run.returncode == 1 and not run.records["foxycart_customers"]
    failed = [line for line in run.stderr.splitlines() if "failed: foxycart_customers: " in line]
    assert len(failed) == 1 and "gave up after 1 min (job_timeout_minutes, every attempt together)" in failed[0]
    assert len(knobs(fresh_sandbox, "foxycart")["reports"]) == 1  # not a new job (and a new minute) per attempt
    assert "replication_key_value" not in run.last_state["bookmarks"]["foxycart_customers"]


# -- 10: stopping, and the files of a run ---------------------------------------------------------


def downloads_left(tmp: Path) -> list[Path]:
    return [path for path in tmp.rglob("*") if path.is_file()]


def wait_for_stalled_download(running: RunningSandbox, vendor: str, tmp: Path) -> None:
    """Until the sandbox trickles a stalled download and the tap has its file open on disk."""
    for _ in range(600):
        if any(d["fault"] == "stall" for d in knobs(running, vendor)["downloads"]) and downloads_left(tmp):
            return
        time.sleep(0.05)
    raise AssertionError("the tap never started the stalled download")


def test_sigterm_during_a_stalled_download_stops_at_once_and_leaves_no_file(
        fresh_sandbox: RunningSandbox, fast: dict, tmp_path: Path) -> None:
    knobs(fresh_sandbox, "foxycart", stall_next_downloads=1, stall_seconds=120)
    cfg = config(fresh_sandbox, ("foxycart",), "2026-10-28", "2026-11-01", foxycart={"reports": ["customers"]})
    process = start_tap(cfg, tmp_path, fast, stderr=subprocess.PIPE)
    wait_for_stalled_download(fresh_sandbox, "foxycart", tmp_path / "tmp")
    assert downloads_left(tmp_path / "tmp"), "the stalled download should be on disk"
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=20)  # a stalled body trickles for 120 s
    assert process.returncode == 143, err[-2000:]
    assert downloads_left(tmp_path / "tmp") == []
    assert "Traceback" not in err


def test_sigterm_during_a_retry_wait_of_a_poll_stops_at_once(fresh_sandbox: RunningSandbox, fast: dict,
                                                            tmp_path: Path) -> None:
    knobs(fresh_sandbox, "foxycart", processing_seconds=3600)
    cfg = config(fresh_sandbox, ("foxycart",), "2026-10-28", "2026-11-01", foxycart={"reports": ["customers"]})
    process = start_tap(cfg, tmp_path, fast, stderr=subprocess.PIPE)
    for _ in range(300):
        if knobs(fresh_sandbox, "foxycart")["reports"]:
            break
        time.sleep(0.1)
    set_faults(fresh_sandbox, error_rate=1.0, vendors=["foxycart"], paths=["/reports/"])  # polls answer 503
    for _ in range(300):
        if sum(entry["status"] == 503 for entry in sandbox_log(fresh_sandbox)) >= 4:
            break  # the worker now waits 8 s, then 16 s, before its next try
        time.sleep(0.1)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=6)
    assert process.returncode == 143, err[-2000:]
    assert downloads_left(tmp_path / "tmp") == []


def test_files_left_by_a_killed_run_are_removed_by_the_next(fresh_sandbox: RunningSandbox, fast: dict,
                                                            tmp_path: Path) -> None:
    knobs(fresh_sandbox, "foxycart", stall_next_downloads=1, stall_seconds=120)
    cfg = config(fresh_sandbox, ("foxycart",), "2026-10-28", "2026-11-01", foxycart={"reports": ["customers"]})
    process = start_tap(cfg, tmp_path, fast, stderr=subprocess.DEVNULL)
    wait_for_stalled_download(fresh_sandbox, "foxycart", tmp_path / "tmp")
    process.kill()
    process.communicate(timeout=20)
    left = downloads_left(tmp_path / "tmp")
    assert left and all(DOWNLOADS_FOLDER in path.parts for path in left)
    run_tap(cfg, env=fast).ok()
    assert downloads_left(tmp_path / "tmp") == []


# -- 12: proxies ------------------------------------------------------------------------------------


class ForwardingProxy(socketserver.ThreadingMixIn, http.server.HTTPServer):
    """A plain-HTTP forward proxy on loopback that records each request's path and headers."""

    daemon_threads = True

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, dict[str, str]]] = []
        super().__init__(("127.0.0.1", 0), _ProxyHandler)


class _ProxyHandler(http.server.BaseHTTPRequestHandler):
    server: ForwardingProxy

    def _forward(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("proxy-connection", "connection", "host")}
        self.server.seen.append((self.command, self.path, dict(self.headers.items())))
        answer = requests.request(self.command, self.path, headers=headers, data=body, timeout=60, stream=True,
                                  allow_redirects=False, proxies={"http": "", "https": ""})
        content = answer.raw.read(decode_content=False)
        self.send_response(answer.status_code)
        for name, value in answer.raw.headers.items():
            if name.lower() not in ("connection", "transfer-encoding", "content-length"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        self.wfile.write(content)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _forward

    def log_message(self, *args: t.Any) -> None:
        pass


def test_downloads_go_through_the_environments_proxy_without_credentials(fresh_sandbox: RunningSandbox,
                                                                          fast: dict) -> None:
    proxy = ForwardingProxy()
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    try:
        cfg = config(fresh_sandbox, ("foxycart",), "2026-10-28", "2026-11-01", foxycart={"reports": ["customers"]})
        env = {**fast, "HTTP_PROXY": f"http://127.0.0.1:{proxy.server_address[1]}", "NO_PROXY": "", "no_proxy": ""}
        run = run_tap(cfg, env=env).ok()
    finally:
        proxy.shutdown()
    assert run.records["foxycart_customers"]
    downloads = [headers for _, path, headers in proxy.seen if "/foxycart/downloads/" in path]
    assert downloads, "the download did not go through the proxy"
    assert all("Authorization" not in headers and "FOXY-API-VERSION" not in headers for headers in downloads)
    assert knobs(fresh_sandbox, "foxycart")["credential_violations"] == 0


# -- 11: files waiting on disk are bounded ----------------------------------------------------------


def test_a_backfill_keeps_at_most_about_max_concurrent_jobs_files_on_disk(fresh_sandbox: RunningSandbox, fast: dict,
                                                                          tmp_path: Path) -> None:
    knobs(fresh_sandbox, "foxycart", data_start="2026-06-01", rows_per_day=40, processing_seconds=0.1)
    cfg = config(fresh_sandbox, ("foxycart",), "2026-06-01", "2026-11-30", foxycart={"reports": ["customers"]},
                 max_concurrent_jobs=2)
    # Nobody reads the tap's output for a while: its pipe fills, the stream stops, and the
    # downloads would pile up on disk.
    process = start_tap(cfg, tmp_path, fast, stderr=subprocess.DEVNULL)
    most, count, steady_since = 0, -1, time.monotonic()
    while time.monotonic() - steady_since < 3.0:
        most = max(most, len(downloads_left(tmp_path / "tmp")))
        now = len(knobs(fresh_sandbox, "foxycart")["downloads"])
        if now != count:
            count, steady_since = now, time.monotonic()
        time.sleep(0.05)
    out, _ = process.communicate(timeout=300)
    assert process.returncode == 0
    rows = [json.loads(line)["record"] for line in out.splitlines() if '"type":"RECORD"' in line.replace(" ", "")]
    windows = {row["_report_window_start"] for row in rows}
    assert len(windows) > 20  # a long backfill, every window read
    assert 0 < most <= 2 + 1, most  # max_concurrent_jobs waiting, plus the one the stream reads
    assert downloads_left(tmp_path / "tmp") == []


# -- issue 12 point 8: progress lines ---------------------------------------------------------------


def test_async_progress_is_one_line_per_stream_partition_not_one_per_poll(fresh_sandbox: RunningSandbox,
                                                                          tmp_path: Path) -> None:
    owner = "tap_retail_reports.core.async_stream:AsyncReportStream"
    env = env_setting_class_attributes(tmp_path, {
        f"{owner}.poll_first_seconds": 0.5, f"{owner}.poll_cap_seconds": 0.5,
        "tap_retail_reports.core.scheduler:JobScheduler.progress_every": 2.0,
    })
    knobs(fresh_sandbox, "flipkart", processing_seconds=6)
    warehouses = list(FLIPKART_WAREHOUSE_IDS)[:2]
    cfg = config(fresh_sandbox, ("flipkart",), "2026-10-01", "2026-10-12", flipkart={"warehouse_ids": warehouses})
    run = run_tap(cfg, catalog=catalog_selecting(cfg, ["flipkart_stock_ledger"]), env=env).ok()
    assert "next poll in" not in run.stderr
    for warehouse in warehouses:
        windows = {row["_report_window_start"] for row in run.records["flipkart_stock_ledger"]
                   if row["warehouse_id"] == warehouse}
        lines = [line for line in run.stderr.splitlines()
                 if f"flipkart_stock_ledger warehouse_id {warehouse}: " in line and "report job(s) done" in line]
        assert lines, warehouse
        assert all(f"of {len(windows)} report job(s) done" in line for line in lines), lines
