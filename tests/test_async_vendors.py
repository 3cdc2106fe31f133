"""FoxyCart and Flipkart end to end: the tap command against the sandbox over real HTTP.

Each test compares what the tap wrote with what the sandbox's files hold
(`expected_rows`), and reads the sandbox's own record of jobs, polls and downloads.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import threading
import time
import typing as t
import zoneinfo
from collections import Counter
from pathlib import Path

import pytest
import requests

from tap_retail_reports.sandbox.credentials import FLIPKART_WAREHOUSE_IDS, tap_config
from tap_retail_reports.sandbox.server import RunningSandbox
from tests.conftest import TAP, TapRun, catalog_selecting, env_setting_class_attributes, run_tap

LOS_ANGELES = zoneinfo.ZoneInfo("America/Los_Angeles")
KOLKATA = zoneinfo.ZoneInfo("Asia/Kolkata")
FOXY_REPORTS = ["complete", "customers", "customers_ltv", "transactions"]


@pytest.fixture
def fast(tmp_path: Path) -> dict:
    """The engine's waits shortened inside the tap's process (polls from 0.2 s, retries after 0.2 s)."""
    owner = "tap_retail_reports.core.async_stream:AsyncReportStream"
    return env_setting_class_attributes(tmp_path, {
        f"{owner}.poll_first_seconds": 0.2, f"{owner}.poll_cap_seconds": 1.0, f"{owner}.retry_wait_seconds": 0.2,
    })


def knobs(running: RunningSandbox, vendor: str, **settings: object) -> dict:
    response = requests.post(f"http://127.0.0.1:{running.port}/_sandbox/vendor/{vendor}", json=settings, timeout=10)
    response.raise_for_status()
    return response.json()


def config(running: RunningSandbox, vendors: tuple[str, ...], start: str, end: str, **vendor_settings: dict) -> dict:
    cfg = tap_config(f"http://127.0.0.1:{running.port}", vendors=vendors)
    cfg.update(start_date=start, end_date=end)
    for key, value in vendor_settings.items():
        if isinstance(value, dict):
            cfg[key].update(value)  # a vendor's settings
        else:
            cfg[key] = value
    return cfg


def parse_utc(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


def windows_of(rows: list[dict]) -> set[tuple[str, str]]:
    return {(row["_report_window_start"], row["_report_window_end"]) for row in rows}


def foxycart_expected(running: RunningSandbox, name: str, rows: list[dict],
                      windows: set[tuple[str, str]] | None = None) -> dict[tuple, dict]:
    """The sandbox's rows for every window the tap read (or `windows`), keyed as the target keys them."""
    app = running.sandbox.apps["foxycart"]
    expected = {}
    for start, end in windows_of(rows) if windows is None else windows:
        local_start = parse_utc(start).astimezone(LOS_ANGELES).strftime("%Y-%m-%d %H:%M:%S")
        local_end = (parse_utc(end) - dt.timedelta(seconds=1)).astimezone(LOS_ANGELES).strftime("%Y-%m-%d %H:%M:%S")
        for file_name, file_rows in app.expected_rows(name, local_start, local_end).items():
            for number, row in enumerate(file_rows, start=1):
                expected[(file_name, start, number)] = row
    return expected


def keyed(rows: list[dict]) -> dict[tuple, dict]:
    keys = [(row["_source_file"], row["_report_window_start"], row["_row_number"]) for row in rows]
    assert len(keys) == len(set(keys)), "a key repeats within one run"
    return dict(zip(keys, rows, strict=True))


def assert_same_rows(got: dict[tuple, dict], expected: dict[tuple, dict]) -> None:
    """Same keys, and each row is the same file row: its first (identifying) column matches."""
    assert got.keys() == expected.keys()
    for key, row in expected.items():
        first = next(iter(row))
        assert got[key][first] == row[first], key


def test_foxycart_every_report_arrives_complete_and_typed(fresh_sandbox: RunningSandbox, fast: dict) -> None:
    cfg = config(fresh_sandbox, ("foxycart",), "2026-10-28", "2026-11-04", foxycart={"reports": FOXY_REPORTS})
    run = run_tap(cfg, env=fast).ok()
    for name in FOXY_REPORTS:
        rows = run.records[f"foxycart_{name}"]
        assert rows, name
        expected = foxycart_expected(fresh_sandbox, name, rows)
        assert_same_rows(keyed(rows), expected)
    complete = run.records["foxycart_complete"]
    assert {row["_source_file"] for row in complete} == {"transactions.csv", "transaction_items.csv", "coupons.csv"}
    # Typed once, from the schema: money as numbers, "false"/"0" as false, naive store times read in the store's zone.
    first = next(row for row in complete if row["_source_file"] == "transactions.csv")
    source = foxycart_expected(fresh_sandbox, "complete", complete)[("transactions.csv", first["_report_window_start"], 1)]
    assert first["total_order"] == float(source["total_order"])
    assert first["is_test"] is (source["is_test"] == "1") and isinstance(first["hide_transaction"], bool)
    local = dt.datetime.fromisoformat(source["transaction_date"]).replace(tzinfo=LOS_ANGELES)
    assert parse_utc(first["transaction_date"]) == local
    schema = run.schemas["foxycart_complete"]["schema"]["properties"]
    assert schema["total_order"]["type"] == ["number", "null"] and schema["customer_city"]["type"] == ["string", "null"]
    # The DST day (2026-11-01, 25 hours in Los Angeles) is inside one window and complete.
    state = knobs(fresh_sandbox, "foxycart")
    # Jobs are created concurrently: in window order, every window but the last (cut at end_date) ends at 23:59:59.
    sent = sorted((r["parameters"] for r in state["reports"] if r["name"] == "complete"),
                  key=lambda p: p["datetime_start"])
    assert len(sent) > 1 and all(p["datetime_end"].endswith("23:59:59") for p in sent[:-1])
    assert state["credential_violations"] == 0
    bookmark = run.last_state["bookmarks"]["foxycart_complete"]
    assert bookmark["replication_key_value"] == "2026-11-04T00:00:00Z" and not bookmark.get("jobs")
    # Every secret stays out of what the tap wrote.
    secrets = [link["secret"] for report in state["reports"] for link in report["links"]]
    secrets += [token["token"] for token in state["tokens_issued"]]
    for secret in secrets:
        assert secret not in run.stdout and secret not in run.stderr


def test_flipkart_every_report_type_arrives_complete(fresh_sandbox: RunningSandbox, fast: dict) -> None:
    cfg = config(fresh_sandbox, ("flipkart",), "2026-09-28", "2026-10-12",
                 flipkart={"warehouse_ids": list(FLIPKART_WAREHOUSE_IDS)})
    run = run_tap(cfg, env=fast).ok()
    app = fresh_sandbox.sandbox.apps["flipkart"]
    state = knobs(fresh_sandbox, "flipkart")
    assert state["credential_violations"] == 0
    done = {}
    for report in state["reports"]:
        done[(report["name"], json.dumps(report["parameters"], sort_keys=True))] = report
    streams_seen = set()
    for (report_type, params_text), report in done.items():
        params = json.loads(params_text)
        expected = app.expected_rows(report_type, params, as_of=report.get("as_of"))
        rows = [r for r in run.records[f"flipkart_{report_type}"]
                if (report_type not in WAREHOUSE_PARTITIONED or r["warehouse_id"] == params["warehouse_id"])
                and _flipkart_params(r, params)]
        prefix = f"{params['warehouse_id']}/" if "warehouse_id" in params and report_type in WAREHOUSE_PARTITIONED else ""
        got = Counter(r["_source_file"] for r in rows)
        # A zip's CSVs keep their names; a single file is named for its report type, which,
        # unlike the vendor's file name, stays the same when the window is read again.
        names = {name: name if report["format"] == "zip" else f"{report_type}.csv" for name in expected}
        assert got == Counter({prefix + names[name]: len(file_rows) for name, file_rows in expected.items() if file_rows}), (
            report_type, params)
        streams_seen.add(report_type)
    assert len(streams_seen) == 12
    months = {r["parameters"]["month"] for r in state["reports"] if r["name"] == "mir_ledger"}
    assert months == {"September"}, months  # October's is available only after 7 November


def test_a_mir_ledger_with_no_completed_month_says_when_the_next_one_is_available(sandbox: RunningSandbox,
                                                                                   fast: dict) -> None:
    """Inside a month (or before the 7th of the next), flipkart_mir_ledger has no month to ask for: each
    warehouse's plan line says which month comes next and from when, instead of a bare "0 report job(s)"."""
    cfg = config(sandbox, ("flipkart",), "2026-10-03T00:00:00Z", "2026-10-06T00:00:00Z")
    run = run_tap(cfg, catalog=catalog_selecting(cfg, ["flipkart_mir_ledger"]), env=fast).ok()
    assert not run.records.get("flipkart_mir_ledger")
    for warehouse in FLIPKART_WAREHOUSE_IDS:
        [line] = [line for line in run.stderr.splitlines() if f"flipkart_mir_ledger for warehouse_id {warehouse}:" in line]
        assert line.endswith("; October 2026 is available after 2026-11-07 in India"), line


WAREHOUSE_PARTITIONED = ("stock_ledger", "mir_ledger", "current_inventory_report", "stranded_inventory_report",
                         "unsellable_inventory_report")


def _flipkart_params(row: dict, params: dict) -> bool:
    """Whether a row came from the job created with `params` (its window's dates)."""
    if "from_date" not in params:
        return True
    start = parse_utc(row["_report_window_start"]).astimezone(KOLKATA).date().isoformat()
    return start == params["from_date"]


def test_failed_jobs_expired_links_and_bad_downloads_are_recovered(fresh_sandbox: RunningSandbox, fast: dict) -> None:
    knobs(fresh_sandbox, "foxycart", fail_next=1, expired_link_next_downloads=1, truncate_next_downloads=1,
          corrupt_next_downloads=1)
    cfg = config(fresh_sandbox, ("foxycart",), "2026-10-28", "2026-11-01", foxycart={"reports": ["customers"]})
    run = run_tap(cfg, env=fast).ok()
    rows = run.records["foxycart_customers"]
    assert_same_rows(keyed(rows), foxycart_expected(fresh_sandbox, "customers", rows))
    state = knobs(fresh_sandbox, "foxycart")
    assert [r["status"] for r in state["reports"]] == ["error", "ready"]  # the failed job was created again, once
    faults = [d.get("fault") for d in state["downloads"]]
    assert faults == ["expired_link", "truncate", "corrupt", None]
    assert state["credential_violations"] == 0
    assert "ended with status 'error'" in run.stderr and "download link expired" in run.stderr


def test_an_expired_flipkart_report_is_created_again(fresh_sandbox: RunningSandbox, fast: dict) -> None:
    knobs(fresh_sandbox, "flipkart", expire_next=1)
    # Tuesday to Thursday: inside one week of the window grid, so one job (a range across a Monday has two).
    cfg = config(fresh_sandbox, ("flipkart",), "2026-10-06", "2026-10-08")
    catalog = catalog_selecting(cfg, ["flipkart_orders_report"])
    run = run_tap(cfg, catalog=catalog, env=fast).ok()
    state = knobs(fresh_sandbox, "flipkart")
    assert [r["status"] for r in state["reports"]] == ["EXPIRED", "COMPLETED"]
    params = state["reports"][-1]["parameters"]
    expected = fresh_sandbox.sandbox.apps["flipkart"].expected_rows("orders_report", params)
    assert len(run.records["flipkart_orders_report"]) == sum(len(v) for v in expected.values()) > 0


def test_a_window_that_fails_for_good_holds_its_bookmark_while_the_rest_finish(fresh_sandbox: RunningSandbox,
                                                                               fast: dict) -> None:
    # One job at a time, so the first customers window takes the first three failures.
    knobs(fresh_sandbox, "foxycart", per_report={"customers": {"fail_next": 3}})
    cfg = config(fresh_sandbox, ("foxycart",), "2026-10-20", "2026-11-01", max_concurrent_jobs=1,
                 foxycart={"reports": ["customers", "customers_ltv"]})
    run = run_tap(cfg, env=fast)
    assert run.returncode == 1
    assert "foxycart_customers" in run.stderr and "gave up after 3 job(s)" in run.stderr
    assert "'error'" in run.stderr and "Traceback" not in run.stderr
    bookmarks = run.last_state["bookmarks"]
    assert "replication_key_value" not in bookmarks["foxycart_customers"]  # held before the failed first window
    assert bookmarks["foxycart_customers_ltv"]["replication_key_value"] == "2026-11-01T00:00:00Z"
    windows = sorted(windows_of(run.records["foxycart_customers"]))
    assert windows and windows[0][0] > "2026-10-20"  # the later window still arrived


def test_a_run_killed_while_polling_resumes_its_jobs_without_creating_new_ones(fresh_sandbox: RunningSandbox,
                                                                               fast: dict, tmp_path: Path) -> None:
    knobs(fresh_sandbox, "foxycart", processing_seconds=3600)
    cfg = config(fresh_sandbox, ("foxycart",), "2026-10-20", "2026-11-01", foxycart={"reports": ["customers"]})
    process = start_tap(cfg, tmp_path, fast, stderr=subprocess.DEVNULL)
    last_state = None
    assert process.stdout is not None
    for line in process.stdout:  # until STATE holds both windows' jobs
        message = json.loads(line)
        if message["type"] == "STATE":
            last_state = message["value"]
            if len(last_state["bookmarks"].get("foxycart_customers", {}).get("jobs", {})) == 2:
                break
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert last_state is not None
    created = [r["id"] for r in knobs(fresh_sandbox, "foxycart")["reports"]]
    assert len(created) == 2
    knobs(fresh_sandbox, "foxycart", advance_seconds=7200)  # the jobs finish while no tap runs
    run = run_tap(cfg, state=last_state, env=fast).ok()
    state = knobs(fresh_sandbox, "foxycart")
    assert [r["id"] for r in state["reports"]] == created  # polled, not created again
    rows = run.records["foxycart_customers"]
    assert_same_rows(keyed(rows), foxycart_expected(fresh_sandbox, "customers", rows))
    assert len(windows_of(rows)) == 2
    assert not run.last_state["bookmarks"]["foxycart_customers"].get("jobs")


def test_jobs_of_every_report_type_run_at_once(fresh_sandbox: RunningSandbox, fast: dict) -> None:
    types = ["orders_report", "returns_report", "sales_ledger", "gst_returns_report", "fbf_orders_report",
             "settled_transaction_ledger"]
    knobs(fresh_sandbox, "flipkart", processing_seconds=3)
    cfg = config(fresh_sandbox, ("flipkart",), "2026-10-06", "2026-10-08")
    run = run_tap(cfg, catalog=catalog_selecting(cfg, [f"flipkart_{t}" for t in types]), env=fast).ok()
    reports = knobs(fresh_sandbox, "flipkart")["reports"]
    assert sorted(r["name"] for r in reports) == sorted(types)
    created = sorted(parse_utc(r["created_at"]) for r in reports)
    # The SDK syncs streams one after another; the jobs did not wait for each other: every one
    # was created before the first could have finished.
    assert created[-1] - created[0] < dt.timedelta(seconds=3)
    assert all(run.records[f"flipkart_{t}"] for t in types)


def run_revoking_tokens(running: RunningSandbox, vendor: str, run: t.Callable[[], TapRun]) -> TapRun:
    """`run()` while, once its jobs exist at `vendor` (they are processing), every token of `vendor` is revoked.

    Waiting for the jobs, not for a fixed time, keeps a slow start-up from revoking before any token is used."""
    done = threading.Event()

    def revoke_once_jobs_exist() -> None:
        while not done.is_set():
            if knobs(running, vendor)["reports"]:
                knobs(running, vendor, revoke_tokens=True)
                return
            time.sleep(0.05)

    revoker = threading.Thread(target=revoke_once_jobs_exist)
    revoker.start()
    try:
        return run()
    finally:
        done.set()
        revoker.join()


def run_revoking_flipkart_tokens(running: RunningSandbox, cfg: dict, catalog: dict, env: dict) -> TapRun:
    """The tap run while, once its jobs exist (they are processing), every Flipkart token is revoked."""
    return run_revoking_tokens(running, "flipkart", lambda: run_tap(cfg, catalog=catalog, env=env))


def test_a_token_revoked_mid_run_is_renewed(fresh_sandbox: RunningSandbox, fast: dict) -> None:
    knobs(fresh_sandbox, "flipkart", processing_seconds=3)
    cfg = config(fresh_sandbox, ("flipkart",), "2026-10-03", "2026-10-05")
    catalog = catalog_selecting(cfg, ["flipkart_orders_report", "flipkart_returns_report"])
    run = run_revoking_flipkart_tokens(fresh_sandbox, cfg, catalog, fast).ok()
    state = knobs(fresh_sandbox, "flipkart")
    assert state["token_grants"] == 2 and "token refused (HTTP 401)" in run.stderr
    assert run.records["flipkart_orders_report"] and run.records["flipkart_returns_report"]


def test_a_revoked_partner_token_fails_with_a_line_that_names_it(fresh_sandbox: RunningSandbox, fast: dict) -> None:
    from tap_retail_reports.sandbox.credentials import FLIPKART_ACCESS_TOKEN

    knobs(fresh_sandbox, "flipkart", revoke_tokens=True)
    cfg = config(fresh_sandbox, ("flipkart",), "2026-10-03", "2026-10-05")
    cfg["flipkart"] = {"base_url": cfg["flipkart"]["base_url"], "access_token": FLIPKART_ACCESS_TOKEN}
    run = run_tap(cfg, catalog=catalog_selecting(cfg, ["flipkart_orders_report"]), env=fast)
    assert run.returncode == 1
    assert "flipkart.access_token was refused" in run.stderr and "Traceback" not in run.stderr
    assert FLIPKART_ACCESS_TOKEN not in run.stderr and FLIPKART_ACCESS_TOKEN not in run.stdout


def start_tap(cfg: dict, folder: Path, env: dict, stderr: int) -> subprocess.Popen:
    """The tap command in the background, its stdout read line by line by the test."""
    config_file = folder / "config.json"
    config_file.write_text(json.dumps(cfg))
    return subprocess.Popen([*TAP, "--config", str(config_file)], stdout=subprocess.PIPE, stderr=stderr,
                            text=True, env={**os.environ, **env})


def test_sigterm_while_jobs_are_polled_exits_143_with_the_jobs_in_state(fresh_sandbox: RunningSandbox, fast: dict,
                                                                         tmp_path: Path) -> None:
    knobs(fresh_sandbox, "foxycart", processing_seconds=3600)
    cfg = config(fresh_sandbox, ("foxycart",), "2026-10-28", "2026-11-01", foxycart={"reports": ["customers"]})
    process = start_tap(cfg, tmp_path, fast, stderr=subprocess.PIPE)
    assert process.stdout is not None
    lines = []
    for line in process.stdout:
        lines.append(line)
        if '"jobs":{"' in line.replace(" ", ""):
            break
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=60)  # worker threads waiting on polls must not hold the exit
    assert process.returncode == 143, err[-2000:]
    # The last line is STATE (the SDK does not repeat an unchanged one), with the jobs to resume.
    last = json.loads((lines + out.splitlines())[-1])
    assert last["type"] == "STATE" and last["value"]["bookmarks"]["foxycart_customers"]["jobs"]
