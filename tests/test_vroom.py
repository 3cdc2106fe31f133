"""Vroom end to end: the real tap command against the sandbox over loopback HTTP."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import signal
import subprocess
import tempfile
from pathlib import Path

import pytest
import requests

from tap_retail_reports.core.windows import iso, parse_when
from tap_retail_reports.sandbox.credentials import VROOM_PASSWORD, tap_config
from tap_retail_reports.sandbox.vroom import App as VroomApp
from tests.conftest import (
    TAP,
    TapRun,
    catalog_selecting,
    env_setting_class_attributes,
    parse_messages,
    run_tap,
    sandbox_log,
    set_faults,
)
from tests.documents import documents_text

START, END = "2026-10-01", "2026-10-08"
WINDOWED = {
    "vroom_orders": ("orders", ("order_id",)),
    "vroom_line_items": ("line_items", ("order_id", "cart_position")),
    "vroom_transactions": ("transactions", ("transaction_id",)),
    "vroom_search_terms": ("search_terms", ("site_id", "created_at", "_row_hash")),
    "vroom_audit_logs": ("audit_logs", ("site_id", "created_at", "_row_hash")),
}


def vroom_config(running, **extra) -> dict:
    config = tap_config(f"http://127.0.0.1:{running.port}", vendors=("vroom",))
    config.update({"start_date": START, "end_date": END})
    for key, value in extra.items():
        config["vroom"][key] = value
    return config


def expected_rows(endpoint: str, start: str = START, end: str = END, **body) -> list[dict]:
    """What the sandbox holds for [start, end): asked in one call, inclusive of its last instant."""
    last = parse_when(end) - dt.timedelta(milliseconds=1)
    return VroomApp(42).rows(endpoint, {"from_time": start, "to_time": iso(last), **body})


def start_tap(config: dict, catalog: dict, folder: str) -> subprocess.Popen:
    """The tap command in the background, its stdout to read line by line (a test kills it mid-run)."""
    (Path(folder) / "config.json").write_text(json.dumps(config))
    (Path(folder) / "catalog.json").write_text(json.dumps(catalog))
    return subprocess.Popen(
        [*TAP, "--config", f"{folder}/config.json", "--catalog", f"{folder}/catalog.json"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )


def keys(rows: list[dict], key: tuple[str, ...]) -> list[tuple]:
    return sorted(tuple(str(row.get(k)) for k in key) for row in rows)


@pytest.fixture(scope="module")
def full_run(sandbox) -> TapRun:
    return run_tap(vroom_config(sandbox)).ok()


@pytest.mark.parametrize("stream", sorted(WINDOWED))
def test_every_row_in_range_arrives_exactly_once(full_run, stream):
    endpoint, key = WINDOWED[stream]
    expected = expected_rows(endpoint)
    assert expected, "the sandbox should hold rows in this range"
    got = full_run.records[stream]
    # Exactly once: a row stamped at midnight belongs to one window only.
    identity = tuple(k for k in key if k != "_row_hash")
    assert keys(got, identity) == keys(expected, identity)
    assert len(set(keys(got, key))) == len(got), "duplicate primary keys"


def test_midnight_rows_are_read_once(full_run):
    midnight = [row for row in expected_rows("orders") if row["created_at"].endswith("T00:00:00Z")]
    assert midnight, "the sandbox should place some orders exactly at midnight"
    ids = [row["order_id"] for row in full_run.records["vroom_orders"]]
    for row in midnight:
        assert ids.count(row["order_id"]) == 1


def test_sales_by_product_is_one_row_per_product_per_day(full_run):
    got = full_run.records["vroom_sales_by_product"]
    day = parse_when(START)
    while day < parse_when(END):
        following = day + dt.timedelta(days=1)
        expected = expected_rows("sales_by_product", iso(day), iso(following))
        rows = [row for row in got if row["date"] == day.date().isoformat()]
        assert sorted((r["upc_or_plu"], float(r["total_sales"]), r["units_sold"]) for r in rows) == sorted(
            (r["upc_or_plu"], float(r["total_sales"]), r["units_sold"]) for r in expected
        )
        day = following


def test_orders_are_typed_and_keep_undeclared_fields(full_run):
    orders = full_run.records["vroom_orders"]
    schema = full_run.schemas["vroom_orders"]["schema"]["properties"]
    assert "number" in schema["total"]["type"] and schema["created_at"]["format"] == "date-time"
    assert all(isinstance(order["total"], (int, float)) for order in orders if order.get("total") is not None)
    # Fields Vroom adds that the schema does not know are kept, not dropped.
    sent = {k for row in expected_rows("orders") for k in row}
    declared = set(schema)
    for field in sent - declared:
        assert any(field in (order.get("_extra_fields") or {}) for order in orders), field


def test_full_table_and_snapshot_streams(full_run):
    contacts = full_run.records["vroom_customer_contacts"]
    assert contacts and len({c["email"] for c in contacts}) == len(contacts)
    statuses = full_run.records["vroom_order_statuses"]
    assert statuses and all(row["snapshot_at"] and row["site_id"] for row in statuses)


def test_site_ids_restrict_every_stream(sandbox):
    run = run_tap(vroom_config(sandbox, site_ids=["1001"])).ok()
    assert {row["site_id"] for row in run.records["vroom_orders"]} == {"1001"}
    # Transactions take no site_ids (the document lists only the two times), so the tap
    # filters them itself: another store's money does not reach a user who asked for one store.
    transactions = run.records["vroom_transactions"]
    assert transactions and {row["site_id"] for row in transactions} == {"1001"}
    expected = [row for row in expected_rows("transactions") if row["site_id"] == "1001"]
    assert keys(transactions, ("transaction_id",)) == keys(expected, ("transaction_id",))


def test_bookmark_is_written_per_window_and_resume_uses_it(sandbox):
    config = vroom_config(sandbox)
    config["end_date"] = "2026-10-05"
    catalog = catalog_selecting(config, ["vroom_orders"])
    first = run_tap(config, catalog=catalog).ok()
    bookmarks = [s["bookmarks"]["vroom_orders"]["replication_key_value"] for s in first.states if "vroom_orders" in s.get("bookmarks", {})]
    # One STATE per finished window, each a window's end.
    assert bookmarks[:4] == ["2026-10-02T00:00:00Z", "2026-10-03T00:00:00Z", "2026-10-04T00:00:00Z", "2026-10-05T00:00:00Z"]
    config["end_date"] = END
    second = run_tap({**config, "lookback_days": 1}, catalog=catalog, state=first.last_state).ok()
    assert "resuming from bookmark 2026-10-05T00:00:00Z less 1 lookback day(s): 4 window(s) from 2026-10-04T00:00:00Z" in second.stderr
    union = {row["order_id"] for run in (first, second) for row in run.records["vroom_orders"]}
    assert union == {row["order_id"] for row in expected_rows("orders")}


def test_every_row_arrives_through_5xx_and_resets(fresh_sandbox):
    set_faults(fresh_sandbox, error_rate=0.10, reset_rate=0.05, vendors=["vroom"])
    config = vroom_config(fresh_sandbox)
    catalog = catalog_selecting(config, ["vroom_orders", "vroom_line_items", "vroom_sales_by_product"])
    run = run_tap(config, catalog=catalog).ok()
    faults = [entry for entry in sandbox_log(fresh_sandbox) if entry["fault"]]
    assert faults, "the sandbox should have injected faults"
    assert keys(run.records["vroom_orders"], ("order_id",)) == keys(expected_rows("orders"), ("order_id",))
    assert len(run.records["vroom_line_items"]) == len(expected_rows("line_items"))
    assert "retrying in" in run.stderr


def test_a_run_killed_half_way_resumes_without_loss(fresh_sandbox):
    config = vroom_config(fresh_sandbox)
    catalog = catalog_selecting(config, ["vroom_orders"])
    with tempfile.TemporaryDirectory() as tmp:
        process = start_tap(config, catalog, tmp)
        lines, states = [], 0
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            if '"type":"STATE"' in line.replace(" ", ""):
                states += 1
                if states == 3:
                    process.send_signal(signal.SIGKILL)
                    break
        process.wait(timeout=30)
    killed = parse_messages("".join(lines), TapRun(-9, "", ""))
    assert killed.last_state and len(killed.records["vroom_orders"]) < len(expected_rows("orders"))
    resumed = run_tap({**config, "lookback_days": 0}, catalog=catalog, state=killed.last_state).ok()
    union = {row["order_id"] for run in (killed, resumed) for row in run.records["vroom_orders"]}
    assert union == {row["order_id"] for row in expected_rows("orders")}


def test_wrong_password_is_one_clear_line_without_the_secret(sandbox):
    config = vroom_config(sandbox, password="not-the-password-123")
    run = run_tap(config)
    assert run.returncode == 1
    error_lines = [line for line in run.stderr.splitlines() if "error" in line.lower()]
    assert any("HTTP 401" in line and "check vroom.username and vroom.password" in line for line in error_lines), run.stderr
    assert "Traceback" not in run.stderr
    assert "not-the-password-123" not in run.stderr + run.stdout


def test_no_secret_in_stderr_state_or_records(full_run):
    assert VROOM_PASSWORD not in full_run.stderr
    assert VROOM_PASSWORD not in full_run.stdout
    assert full_run.states and VROOM_PASSWORD not in json.dumps(full_run.states)


def test_rows_land_in_a_real_target(sandbox, tmp_path):
    """tap | target-duckdb: the rows a user queries are the rows the tap read."""
    duckdb = pytest.importorskip("duckdb")
    config = vroom_config(sandbox)
    (tmp_path / "tap.json").write_text(json.dumps(config))
    warehouse = tmp_path / "warehouse.duckdb"
    (tmp_path / "target.json").write_text(json.dumps({"filepath": str(warehouse), "default_target_schema": "vroom"}))
    target_bin = Path(os.path.dirname(os.sys.executable)) / "target-duckdb"
    tap = subprocess.Popen([*TAP, "--config", str(tmp_path / "tap.json")], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    target = subprocess.run([str(target_bin), "--config", str(tmp_path / "target.json")], stdin=tap.stdout,
                            capture_output=True, timeout=300, check=False)
    tap.wait(timeout=60)
    assert tap.returncode == 0 and target.returncode == 0, target.stderr.decode()[-2000:]
    with duckdb.connect(str(warehouse), read_only=True) as db:
        (orders,) = db.execute("select count(distinct order_id) from vroom.vroom_orders").fetchone()
        (line_items,) = db.execute("select count(*) from vroom.vroom_line_items").fetchone()
    assert orders == len(expected_rows("orders"))
    assert line_items == len(expected_rows("line_items"))


def test_429_bursts_are_waited_out_for_as_long_as_retry_after_says(fresh_sandbox):
    set_faults(fresh_sandbox, throttle_every=4, throttle_burst=1, retry_after=1.5, vendors=["vroom"])
    config = vroom_config(fresh_sandbox)
    config["end_date"] = "2026-10-04"
    catalog = catalog_selecting(config, ["vroom_orders"])
    run = run_tap(config, catalog=catalog).ok()
    throttled = [entry for entry in sandbox_log(fresh_sandbox) if entry["fault"] == "throttle"]
    assert throttled
    # As long as Retry-After says, and up to a fifth more (jitter: workers refused together do not retry in step).
    waits = [float(wait) for wait in re.findall(r"HTTP 429\); retrying in ([\d.]+)s", run.stderr)]
    assert waits and all(1.5 <= wait <= 1.8 for wait in waits), waits
    assert keys(run.records["vroom_orders"], ("order_id",)) == keys(expected_rows("orders", end="2026-10-04"), ("order_id",))


def test_a_vendor_that_stops_answering_is_timed_out_and_retried(fresh_sandbox, tmp_path):
    """Stalled answers: the read timeout fires, the call is retried, no row is lost.

    The production timeouts (30 s to connect, 300 s between bytes) are shortened in the
    tap's process only, so that the test waits seconds, not minutes.
    """
    set_faults(fresh_sandbox, stall_rate=0.3, stall_seconds=3, vendors=["vroom"])
    config = vroom_config(fresh_sandbox)
    config["end_date"] = "2026-10-04"
    catalog = catalog_selecting(config, ["vroom_orders"])
    env = env_setting_class_attributes(tmp_path, {"tap_retail_reports.core.streams:ReportStream.timeout": (5, 1)})
    run = run_tap(config, catalog=catalog, env=env).ok()
    stalls = [entry for entry in sandbox_log(fresh_sandbox, settled=True) if entry["fault"] == "stall"]
    assert stalls, "the sandbox should have stalled some answers"
    assert "ReadTimeout" in run.stderr and "retrying in" in run.stderr
    assert keys(run.records["vroom_orders"], ("order_id",)) == keys(expected_rows("orders", end="2026-10-04"), ("order_id",))


@pytest.mark.date_sensitive  # the run reads up to now
def test_a_future_end_date_never_bookmarks_past_now(sandbox):
    today = dt.datetime.now(dt.timezone.utc)
    config = vroom_config(sandbox)
    config.update(start_date=(today - dt.timedelta(days=2)).date().isoformat(), end_date="2099-01-01")
    catalog = catalog_selecting(config, ["vroom_orders"])
    run = run_tap(config, catalog=catalog).ok()
    assert "end_date 2099-01-01 is in the future: reading up to now" in run.stderr
    bookmark = parse_when(run.last_state["bookmarks"]["vroom_orders"]["replication_key_value"])
    assert bookmark <= dt.datetime.now(dt.timezone.utc)


def test_no_declared_column_is_always_null(full_run):
    """A declared column that no row ever fills is a column a user builds on and never gets
    (orders are read without include_line_items: the vroom_line_items stream carries them)."""
    for stream, schema_message in full_run.schemas.items():
        rows = full_run.records[stream]
        assert rows, stream
        never_filled = [
            name for name in schema_message["schema"]["properties"]
            if name != "_extra_fields" and all(row.get(name) is None for row in rows)
        ]
        assert never_filled == [], f"{stream} declares columns no row fills: {never_filled}"


def test_a_field_vroom_adds_later_keeps_every_row_hash(fresh_sandbox):
    """_row_hash covers a fixed list of documented fields: a new vendor field must not give every
    row re-read by the lookback a new primary key (a duplicate of each row in the target)."""
    config = vroom_config(fresh_sandbox)
    config["end_date"] = "2026-10-03"
    hashed = ["vroom_search_terms", "vroom_audit_logs"]
    catalog = catalog_selecting(config, hashed)
    before = run_tap(config, catalog=catalog).ok()
    response = requests.post(
        f"http://127.0.0.1:{fresh_sandbox.port}/_sandbox/vendor/vroom",
        json={"extra_row_fields": {"session_id": "s-81f2", "device": "ios"}}, timeout=10,
    )
    response.raise_for_status()
    after = run_tap(config, catalog=catalog).ok()
    for stream in hashed:
        key = WINDOWED[stream][1]
        assert before.records[stream] and keys(after.records[stream], key) == keys(before.records[stream], key), stream
        assert all(row["_extra_fields"]["session_id"] == "s-81f2" for row in after.records[stream])
        # Identical repeats still get keys of their own.
        assert len(set(keys(after.records[stream], key))) == len(after.records[stream])


def test_hashed_fields_are_declared_vroom_fields():
    from tap_retail_reports.vroom.streams import STREAMS, HashedEventStream

    hashed = [stream for stream in STREAMS if issubclass(stream, HashedEventStream)]
    assert hashed
    for stream in hashed:
        declared = set(stream.schema["properties"]) - {"_row_hash", "_extra_fields"}
        assert set(stream.hashed_fields) == declared, stream.name


def a_sale_canceled_later(app: VroomApp) -> tuple[dt.date, dt.datetime]:
    """A day and a moment in it at which a product has sales that a later cancelation takes away."""
    day = dt.date(2026, 10, 1)
    for _ in range(20):
        start = dt.datetime.combine(day, dt.time(), dt.timezone.utc)
        body = {"from_time": iso(start), "to_time": iso(start + dt.timedelta(days=1, milliseconds=-1))}
        final = {row["upc_or_plu"] for row in app.rows("sales_by_product", body)}
        for minutes in range(60, 24 * 60, 5):
            moment = start + dt.timedelta(minutes=minutes)
            if {row["upc_or_plu"] for row in app.rows("sales_by_product", body, now=moment)} - final:
                return day, moment
        day += dt.timedelta(days=1)
    raise AssertionError("the sandbox should cancel some product's only sale of a day")


def test_a_restated_day_keeps_only_its_latest_reading_in_the_target(fresh_sandbox, tmp_path):
    """A product's sales canceled after the first reading: the upserted table still has its row,
    and the README's query (run in DuckDB through target-duckdb) keeps only the day's latest reading."""
    duckdb = pytest.importorskip("duckdb")
    app = VroomApp(42)
    day, moment = a_sale_canceled_later(app)
    config = vroom_config(fresh_sandbox)
    config.update(start_date=day.isoformat(), end_date=(day + dt.timedelta(days=1)).isoformat(), lookback_days=1)
    catalog = catalog_selecting(config, ["vroom_sales_by_product"])
    knobs = f"http://127.0.0.1:{fresh_sandbox.port}/_sandbox/vendor/vroom"
    requests.post(knobs, json={"now": iso(moment)}, timeout=10).raise_for_status()  # the day in progress
    first = run_tap(config, catalog=catalog).ok()
    requests.post(knobs, json={"now": None}, timeout=10).raise_for_status()
    second = run_tap(config, catalog=catalog, state=first.last_state).ok()

    stdin = first.stdout + second.stdout
    warehouse = tmp_path / "warehouse.duckdb"
    (tmp_path / "target.json").write_text(json.dumps({"filepath": str(warehouse), "default_target_schema": "vroom"}))
    target_bin = Path(os.path.dirname(os.sys.executable)) / "target-duckdb"
    loaded = subprocess.run([str(target_bin), "--config", str(tmp_path / "target.json")], input=stdin,
                            capture_output=True, text=True, timeout=300, check=False)
    assert loaded.returncode == 0, loaded.stderr[-2000:]
    readme = documents_text()  # docs/streams.md holds the query
    query = next(block for block in readme.split("```sql")[1:] if "vroom_sales_by_product" in block).split("```")[0]
    with duckdb.connect(str(warehouse), read_only=True) as db:
        db.execute("set schema 'vroom'")
        upserted = db.execute("select upc_or_plu from vroom_sales_by_product").fetchall()
        latest = db.execute(f"select upc_or_plu, units_sold, total_sales from ({query})").fetchall()

    start = dt.datetime.combine(day, dt.time(), dt.timezone.utc)
    current = app.rows("sales_by_product", {"from_time": iso(start), "to_time": iso(start + dt.timedelta(days=1, milliseconds=-1))})
    assert len(upserted) > len(current), "the earlier reading's row for the canceled product stays in the table"
    assert sorted((upc, units, float(sales)) for upc, units, sales in latest) == sorted(
        (row["upc_or_plu"], row["units_sold"], float(row["total_sales"])) for row in current
    )
