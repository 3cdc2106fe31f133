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
import zoneinfo
from collections import Counter, defaultdict
from pathlib import Path

import pytest
import requests

from tap_retail_reports.sandbox.credentials import FLIPKART_WAREHOUSE_IDS, tap_config
from tap_retail_reports.sandbox.server import RunningSandbox
from tests.conftest import TAP, env_setting_class_attributes, parse_messages, run_tap, TapRun

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
    for vendor, settings in vendor_settings.items():
        cfg[vendor].update(settings)
    return cfg


def parse_utc(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


def windows_of(rows: list[dict]) -> set[tuple[str, str]]:
    return {(row["_report_window_start"], row["_report_window_end"]) for row in rows}


def foxycart_expected(running: RunningSandbox, name: str, rows: list[dict]) -> dict[tuple, dict]:
    """The sandbox's rows for every window the tap read, keyed as the target keys them."""
    app = running.sandbox.apps["foxycart"]
    expected = {}
    for start, end in windows_of(rows):
        local_start = parse_utc(start).astimezone(LOS_ANGELES).strftime("%Y-%m-%d %H:%M:%S")
        local_end = (parse_utc(end) - dt.timedelta(seconds=1)).astimezone(LOS_ANGELES).strftime("%Y-%m-%d %H:%M:%S")
        for file_name, file_rows in app.expected_rows(name, local_start, local_end).items():
            for number, row in enumerate(file_rows, start=1):
                expected[(file_name, start, number)] = row
    return expected


def keyed(rows: list[dict]) -> dict[tuple, dict]:
    keys = [(row["_source_file"], row["_report_window_start"], row["_row_number"]) for row in rows]
    assert len(keys) == len(set(keys)), "a key repeats within one run"
    return dict(zip(keys, rows))


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
    sent = [r["parameters"] for r in state["reports"] if r["name"] == "complete"]
    assert all(p["datetime_end"].endswith("23:59:59") for p in sent[:-1])
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


WAREHOUSE_PARTITIONED = ("stock_ledger", "mir_ledger", "current_inventory_report", "stranded_inventory_report",
                         "unsellable_inventory_report")


def _flipkart_params(row: dict, params: dict) -> bool:
    """Whether a row came from the job created with `params` (its window's dates)."""
    if "from_date" not in params:
        return True
    start = parse_utc(row["_report_window_start"]).astimezone(KOLKATA).date().isoformat()
    return start == params["from_date"]
