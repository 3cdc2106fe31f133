"""Any report layout, typed and exact: what a warehouse gets from report files the tap did not expect.

End to end: the tap command against the sandbox's FoxyCart and Flipkart, whose knobs give other
readings of their files (neither vendor documents its columns): other column names for the same
reports (`csv_column_names: portal`, "Transaction Date", "Order Total"), dates and times in other
forms, times with offsets, ragged rows. Values are compared with their JSON types (tests/exact.py).
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import re
import typing as t
import zoneinfo
from pathlib import Path

import pytest
import requests
import yaml

from tap_retail_reports.core.log_lines import LINE_LIMIT, PREFIX_WIDTH
from tap_retail_reports.sandbox.files import Variant
from tap_retail_reports.sandbox.foxycart import PORTAL_NAMES
from tap_retail_reports.sandbox.server import RunningSandbox
from tests.conftest import TapRun, catalog_selecting, env_setting_class_attributes, run_tap, sandbox_log, set_faults
from tests.exact import exact
from tests.test_async_vendors import config, fast, foxycart_expected, keyed, knobs, parse_utc

__all__ = ["fast"]  # a fixture, used by name

LOS_ANGELES = zoneinfo.ZoneInfo("America/Los_Angeles")
KOLKATA = zoneinfo.ZoneInfo("Asia/Kolkata")
OWNER = "tap_retail_reports.core.async_stream:AsyncReportStream"
POLLS = {f"{OWNER}.poll_first_seconds": 0.2, f"{OWNER}.poll_cap_seconds": 1.0, f"{OWNER}.retry_wait_seconds": 0.2}
BOOLEANS = {"true": True, "false": False, "yes": True, "no": False, "y": True, "n": False, "1": True, "0": False}
DAYS = ("2026-10-05", "2026-10-08")  # one window of each report (a Monday-based week, cut at end_date)

# What each column of the portal layout is declared as, read from its values (or its name: identifiers).
FOXYCART_TRANSACTIONS = {
    "Transaction Date": "date-time", "Customer ID": "string", "First Name": "string", "Email": "string",
    "Postal Code": "string", "Item Total": "number", "Tax": "number", "Shipping": "number", "Discount": "number",
    "Order Total": "number", "Currency": "string", "Status": "string", "Test Transaction": "integer",
    "Hidden": "boolean", "Note": "string", "ID": "string",
}
FOXYCART_LTV = {
    "Customer ID": "string", "Date Created": "date-time", "First Transaction Date": "date-time",
    "Last Transaction Date": "date-time", "Orders": "integer", "Lifetime Value": "number",
    "Average Order Value": "number", "Currency": "string",
}
FLIPKART_ORDERS = {
    "Order ID": "string", "Order Item ID": "string", "Order Date": "string", "Sku": "string", "Fsn": "string",
    "Quantity": "integer", "Selling Price": "number", "Shipping Charge": "number", "Total Amount": "number",
    "Dispatch By Date": "date", "Is Replacement": "boolean", "Buyer City": "string",
}


def declared(run: TapRun, stream: str) -> dict[str, str]:
    """Each property of the stream's last SCHEMA as one word: its format, else its type that is not null."""
    properties = run.schemas[stream]["schema"]["properties"]
    return {name: prop.get("format") or next(kind for kind in prop["type"] if kind != "null")
            for name, prop in properties.items() if "type" in prop}


def typed(text: str, kind: str, zone: dt.tzinfo | None) -> t.Any:
    """What a value of the sandbox's file becomes in a column declared `kind`, as JSON parses it."""
    if kind == "string":
        return text
    if text == "":
        return None
    if kind == "number":
        return float(text)
    if kind == "integer":
        return int(text)
    if kind == "boolean":
        return BOOLEANS[text.lower()]
    if kind == "date-time":
        assert zone is not None
        moment = dt.datetime.fromisoformat(text).replace(tzinfo=zone).astimezone(dt.timezone.utc)
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    return text  # a date, as the sandbox writes it: ISO


def portal(name: str) -> str:
    return Variant(column_names="portal").name(name, PORTAL_NAMES)


def vendor_fields(row: dict) -> dict:
    return {name: value for name, value in row.items() if not name.startswith("_")}


def flipkart_expected(running: RunningSandbox, report_type: str) -> dict[tuple, dict]:
    """The sandbox's rows of every `report_type` job the tap made, keyed as the target keys them."""
    app = running.sandbox.apps["flipkart"]
    expected = {}
    for report in knobs(running, "flipkart")["reports"]:
        if report["name"] != report_type:
            continue
        start = dt.datetime.combine(dt.date.fromisoformat(report["parameters"]["from_date"]), dt.time(), KOLKATA)
        window = start.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        for file_name, rows in app.expected_rows(report_type, report["parameters"]).items():
            for number, row in enumerate(rows, start=1):
                expected[(file_name, window, number)] = row
    return expected


# -- 1 and 2: any layout typed by its values; store-local times as instants ------------------------------


def test_other_column_names_arrive_typed_by_their_values(fresh_sandbox: RunningSandbox, fast: dict) -> None:
    """The same reports with the portal's column names: money and counts as numbers and integers, dates
    as dates, FoxyCart's store-local times as UTC instants, identifiers as text (a postal code keeps its
    leading zero), Flipkart's naive times as the file writes them (no document gives their zone)."""
    for vendor in ("foxycart", "flipkart"):
        knobs(fresh_sandbox, vendor, processing_seconds=0.1, csv_column_names="portal")
    cfg = config(fresh_sandbox, ("foxycart", "flipkart"), *DAYS, foxycart={"reports": ["transactions", "customers_ltv"]})
    catalog = catalog_selecting(cfg, ["foxycart_transactions", "foxycart_customers_ltv", "flipkart_orders_report"])
    run = run_tap(cfg, catalog=catalog, env=fast).ok()

    for stream, report, kinds in (("foxycart_transactions", "transactions", FOXYCART_TRANSACTIONS),
                                  ("foxycart_customers_ltv", "customers_ltv", FOXYCART_LTV)):
        types = declared(run, stream)
        assert {name: types.get(name) for name in kinds} == kinds, stream
        rows = run.records[stream]
        expected = foxycart_expected(fresh_sandbox, report, rows)
        assert rows and keyed(rows).keys() == expected.keys()
        for key, row in keyed(rows).items():
            want = {portal(name): typed(text, types[portal(name)], LOS_ANGELES) for name, text in expected[key].items()}
            assert exact(vendor_fields(row)) == exact(want), key
    assert any(row["Postal Code"] == "02108" for row in run.records["foxycart_transactions"])

    types = declared(run, "flipkart_orders_report")
    assert {name: types.get(name) for name in FLIPKART_ORDERS} == FLIPKART_ORDERS
    rows = run.records["flipkart_orders_report"]
    expected = flipkart_expected(fresh_sandbox, "orders_report")
    assert rows and keyed(rows).keys() == expected.keys()
    for key, row in keyed(rows).items():
        want = {portal(name): typed(text, types[portal(name)], None) for name, text in expected[key].items()}
        assert exact(vendor_fields(row)) == exact(want), key
    # The same data again (a second run, from the first's STATE) gives the same SCHEMA.
    again = run_tap(cfg, catalog=catalog, state=run.last_state, env=fast).ok()
    for stream in ("foxycart_transactions", "foxycart_customers_ltv", "flipkart_orders_report"):
        assert again.schemas[stream] == run.schemas[stream], stream


READINGS = [  # (FoxyCart's reading, Flipkart's): dates, times and zones as exports might write them
    ({"csv_date_format": "dmy", "csv_time_format": "ampm"}, {"csv_date_format": "mdy", "csv_time_format": "minutes"}),
    ({"csv_date_format": "ymd_slash", "csv_time_format": "t_separator", "csv_time_zone": "offset"},
     {"csv_date_format": "dmy", "csv_time_zone": "offset"}),
    ({"csv_date_format": "mdy", "csv_time_format": "minutes", "csv_time_zone": "utc"}, {"csv_time_zone": "utc"}),
]


@pytest.mark.parametrize(("foxycart", "flipkart"), READINGS, ids=["naive", "offset", "utc"])
def test_times_and_dates_in_any_form(fresh_sandbox: RunningSandbox, fast: dict, foxycart: dict, flipkart: dict) -> None:
    """Dates written day first or month first are read in the order their values (or the report's window)
    show, not the vendor's habit; FoxyCart's naive times are read in the store's zone (its document says
    so), Flipkart's stay text as written (its document gives none), and times with an offset are instants."""
    knobs(fresh_sandbox, "foxycart", processing_seconds=0.1, csv_column_names="portal", **foxycart)
    knobs(fresh_sandbox, "flipkart", processing_seconds=0.1, csv_column_names="portal", **flipkart)
    cfg = config(fresh_sandbox, ("foxycart", "flipkart"), *DAYS, foxycart={"reports": ["customers"]})
    run = run_tap(cfg, catalog=catalog_selecting(cfg, ["foxycart_customers", "flipkart_orders_report"]), env=fast).ok()

    types = declared(run, "foxycart_customers")
    assert types["Date Created"] == types["Last Login"] == "date-time"
    rows = run.records["foxycart_customers"]
    expected = foxycart_expected(fresh_sandbox, "customers", rows)
    minutes = foxycart.get("csv_time_format") == "minutes"
    for key, row in keyed(rows).items():
        for name in ("date_created", "last_login_date"):
            if not expected[key][name]:
                assert row[portal(name)] is None
                continue
            local = dt.datetime.fromisoformat(expected[key][name])
            local = local.replace(second=0) if minutes else local
            assert parse_utc(row[portal(name)]) == local.replace(tzinfo=LOS_ANGELES), (key, name)

    types = declared(run, "flipkart_orders_report")
    assert types["Dispatch By Date"] == "date"
    naive = flipkart.get("csv_time_zone", "naive") == "naive"
    assert types["Order Date"] == ("string" if naive else "date-time")
    reading = Variant(date_format=flipkart.get("csv_date_format", "iso"), time_format=flipkart.get("csv_time_format", "seconds"),
                      time_zone=flipkart.get("csv_time_zone", "naive"))
    expected = flipkart_expected(fresh_sandbox, "orders_report")
    for key, row in keyed(run.records["flipkart_orders_report"]).items():
        source = expected[key]
        assert row["Dispatch By Date"] == source["dispatch_by_date"], key  # read in the file's order
        if naive:
            assert row["Order Date"] == reading.value(source["order_date"], KOLKATA), key  # as the file writes it
        else:
            assert parse_utc(row["Order Date"]) == dt.datetime.fromisoformat(source["order_date"]).replace(tzinfo=KOLKATA)


def test_a_value_that_does_not_fit_after_the_sample_goes_to_extra_fields(fresh_sandbox: RunningSandbox, fast: dict) -> None:
    """Types are decided from the first rows of a layout; a later value that does not fit is kept in
    `_extra_fields` under its column's name and the column is null: never dropped, never retyped."""
    knobs(fresh_sandbox, "foxycart", processing_seconds=0.1, csv_column_names="portal", rows_per_day=800,
          csv_cell_values={"total_tax": "N/A"}, csv_cell_values_from_row=2100)
    cfg = config(fresh_sandbox, ("foxycart",), *DAYS, foxycart={"reports": ["transactions"]})
    run = run_tap(cfg, env=fast).ok()
    assert declared(run, "foxycart_transactions")["Tax"] == "number"
    rows = sorted((row for row in run.records["foxycart_transactions"]
                   if row["_report_window_start"] == "2026-10-05T07:00:00Z"), key=lambda row: row["_row_number"])
    assert len(rows) > 2100  # about 3 days of 800 (to end_date, in UTC): one file
    assert all(isinstance(row["Tax"], float) and not row.get("_extra_fields") for row in rows[:2100])
    assert all(row["Tax"] is None and row["_extra_fields"] == {"Tax": "N/A"} for row in rows[2100:])


# -- 3: types that hold from run to run -------------------------------------------------------------------


def test_column_types_hold_from_run_to_run(fresh_sandbox: RunningSandbox, fast: dict) -> None:
    """A column keeps the type it was declared with, in STATE beside the bookmark: values that would type
    it otherwise on a later run are misfits; only a whole-number column widens, to number."""
    knobs(fresh_sandbox, "foxycart", processing_seconds=0.1, csv_column_names="portal")
    cfg = config(fresh_sandbox, ("foxycart",), *DAYS, foxycart={"reports": ["transactions"]})
    first = run_tap(cfg, env=fast).ok()  # no STATE: a first run
    remembered = first.last_state["bookmarks"]["foxycart_transactions"]["column_types"]
    assert remembered["Tax"] == "number" and remembered["Test Transaction"] == "integer"
    assert remembered["Transaction Date"] == "date-time" and remembered["Customer ID"] == "string"

    # Every tax now "N/A", and a test flag with a fraction: read from the first run's STATE ...
    knobs(fresh_sandbox, "foxycart", csv_cell_values={"total_tax": "N/A", "is_test": "0.5"})
    second = run_tap(cfg, state=first.last_state, env=fast).ok()
    types = declared(second, "foxycart_transactions")
    assert types["Tax"] == "number" and types["Test Transaction"] == "number"
    rows = second.records["foxycart_transactions"]
    assert rows and all(row["Tax"] is None and row["_extra_fields"] == {"Tax": "N/A"} for row in rows)
    assert all(exact(row["Test Transaction"]) == ("float", 0.5) for row in rows)
    state = second.last_state["bookmarks"]["foxycart_transactions"]
    assert state["column_types"]["Test Transaction"] == "number" and state["column_types"]["Tax"] == "number"
    assert state["replication_key_value"] == "2026-10-08T00:00:00Z"  # beside the bookmark, which the SDK keeps
    # ... while the same data with no STATE types the column as text.
    fresh = run_tap(cfg, env=fast).ok()
    assert declared(fresh, "foxycart_transactions")["Tax"] == "string"

    # Whole numbers again: the widened column stays a number column.
    knobs(fresh_sandbox, "foxycart", csv_cell_values={})
    third = run_tap(cfg, state=second.last_state, env=fast).ok()
    assert declared(third, "foxycart_transactions")["Test Transaction"] == "number"
    assert {exact(row["Test Transaction"]) for row in third.records["foxycart_transactions"]} <= {("int", 0), ("int", 1)}


def test_the_block_that_pins_columns_is_said_when_a_run_types_columns_anew(fresh_sandbox: RunningSandbox,
                                                                          fast: dict) -> None:
    """A run that types columns no earlier run's STATE had says the block that pins them; a run whose
    types all come from STATE says one line instead (the block at DEBUG), until a new column comes."""
    knobs(fresh_sandbox, "foxycart", processing_seconds=0.1, csv_column_names="portal")
    cfg = config(fresh_sandbox, ("foxycart",), *DAYS, foxycart={"reports": ["transactions"]})
    kept = "foxycart_transactions: 22 column(s) typed from the data are not in the catalog; their types are kept in STATE"
    first = run_tap(cfg, env=fast).ok()
    assert "\nschema:\n  foxycart_transactions:\n" in first.stderr and kept not in first.stderr
    again = run_tap(cfg, state=first.last_state, env=fast).ok()
    assert kept in again.stderr and "\nschema:" not in again.stderr
    knobs(fresh_sandbox, "foxycart", csv_extra_column={"Gift Note": "thanks"})
    grown = run_tap(cfg, state=again.last_state, env=fast).ok()
    assert "\nschema:\n  foxycart_transactions:\n" in grown.stderr and '"gift note"' in grown.stderr.lower()


# -- 4: the catalog's columns -----------------------------------------------------------------------------


def test_the_catalogs_columns_are_followed(fresh_sandbox: RunningSandbox, fast: dict) -> None:
    """Columns a catalog declares (as Meltano's `schema` extra writes them) are declared from the first
    SCHEMA, converted to the catalog's type (misfits aside), and selectable; the summary names the
    columns typed from the data that the catalog does not declare, with a block that pins them."""
    knobs(fresh_sandbox, "foxycart", processing_seconds=0.1, csv_column_names="portal")
    cfg = config(fresh_sandbox, ("foxycart",), *DAYS, foxycart={"reports": ["transactions"]})
    catalog = catalog_selecting(cfg, ["foxycart_transactions"])
    entry = next(entry for entry in catalog["streams"] if entry["tap_stream_id"] == "foxycart_transactions")
    entry["schema"]["properties"].update({
        "Order Total": {"type": ["number", "null"]},
        "Tax": {"type": ["string", "null"]},  # pinned as text: kept as written
        "Note": {"type": ["integer", "null"]},  # notes are no numbers: misfits
        "Currency": {"type": ["string", "null"]},
    })
    entry["metadata"].append({"breadcrumb": ["properties", "Currency"], "metadata": {"selected": False}})
    run = run_tap(cfg, catalog=catalog, env=fast).ok()

    first_schema = next(json.loads(line) for line in run.stdout.splitlines() if '"type":"SCHEMA"' in line
                        and '"foxycart_transactions"' in line)
    assert {"Order Total", "Tax", "Note"} <= set(first_schema["schema"]["properties"])
    types = declared(run, "foxycart_transactions")
    assert types["Order Total"] == "number" and types["Tax"] == "string" and types["Note"] == "integer"
    rows = run.records["foxycart_transactions"]
    expected = foxycart_expected(fresh_sandbox, "transactions", rows)
    for key, row in keyed(rows).items():
        source = expected[key]
        assert exact(row["Tax"]) == ("str", source["total_tax"])
        assert exact(row["Order Total"]) == ("float", float(source["total_order"]))
        assert row["Note"] is None and (row.get("_extra_fields") or {}).get("Note") == (source["custom_note"] or None)
        assert "Currency" not in row

    summary = run.stderr[run.stderr.index("foxycart_transactions: 18 column(s) typed from the data"):]
    block = summary[summary.index("\nschema:") + 1:].split("\n20")[0]  # up to the next log line
    pinned = yaml.safe_load(block)["schema"]["foxycart_transactions"]
    assert "Tax" not in pinned and "Order Total" not in pinned and "Currency" not in pinned
    assert pinned["Hidden"] == {"type": ["boolean", "null"]} and pinned["Discount"] == {"type": ["number", "null"]}
    schema = run.schemas["foxycart_transactions"]["schema"]["properties"]
    assert all(schema[name]["type"] == column["type"] for name, column in pinned.items())
    # Names with spaces are listed apart, as comments: Meltano's schema extra cannot reach them, a catalog can (as above).
    commented = '    # "Transaction Date": {"type": ["string", "null"], "format": "date-time"}'
    assert "Transaction Date" not in pinned and commented in block and "catalog file" in block
    assert all(len(line) < LINE_LIMIT for line in summary.split("\n20")[0].splitlines())


# -- 5: ragged rows ---------------------------------------------------------------------------------------


def messages(run: TapRun) -> t.Iterator[dict]:
    for line in run.stdout.splitlines():
        if line.strip():
            yield json.loads(line)


def assert_every_field_declared_first(run: TapRun) -> None:
    """No RECORD carries a field that its stream's latest SCHEMA (at that point) does not declare."""
    declared_now: dict[str, set[str]] = {}
    for message in messages(run):
        if message["type"] == "SCHEMA":
            declared_now[message["stream"]] = set(message["schema"]["properties"])
        elif message["type"] == "RECORD":
            undeclared = set(message["record"]) - declared_now[message["stream"]]
            assert not undeclared, (message["stream"], undeclared)


@pytest.mark.parametrize("path", ["fast", "sdk"])
def test_ragged_rows_load_with_every_field_declared(fresh_sandbox: RunningSandbox, tmp_path: Path, path: str) -> None:
    """A short row (the file's first among them) has nulls for its missing values; a long row keeps its
    extra value in `_extra_fields`; every column of the header is declared before the first record."""
    knobs(fresh_sandbox, "foxycart", processing_seconds=0.1, csv_column_names="portal", csv_short_rows_every=4,
          csv_long_rows_every=5)
    cfg = config(fresh_sandbox, ("foxycart",), *DAYS, foxycart={"reports": ["transactions"]})
    settings = {**POLLS, **({f"{OWNER}.fast_record_path": False} if path == "sdk" else {})}
    run = run_tap(cfg, env=env_setting_class_attributes(tmp_path, settings)).ok()
    assert_every_field_declared_first(run)
    rows = keyed(run.records["foxycart_transactions"])
    unfolded = run.stderr.replace("\n" + " " * PREFIX_WIDTH, " ")  # a WARNING too long for a line goes on in the next
    said = {window: (int(short), int(long)) for window, short, long in re.findall(
        r"window \[(\S+), \S+\): transactions\.csv: (\d+) row\(s\) with fewer values than the header \(the "
        r"missing ones are null\); (\d+) row\(s\) with more \(the extra values kept in _extra_fields", unfolded)}
    numbers: dict[str, list[int]] = {}
    for _, window, number in rows:
        numbers.setdefault(window, []).append(number)
    assert said == {window: (sum(1 for n in found if n % 4 == 1), sum(1 for n in found if n % 5 == 0 and n % 4 != 1))
                    for window, found in numbers.items()}  # one WARNING per file: what became of its ragged rows
    expected = foxycart_expected(fresh_sandbox, "transactions", list(rows.values()))
    assert rows.keys() == expected.keys() and len(rows) > 20
    last_two = [portal(name) for name in list(next(iter(expected.values())))[-2:]]  # Hidden, Note
    assert last_two == ["Hidden", "Note"]
    for (_, _, number), row in rows.items():
        if number % 4 == 1:
            assert all(row[name] is None for name in last_two), number
        else:
            assert row["Note"] == expected[(row["_source_file"], row["_report_window_start"], number)]["custom_note"]
        if number % 5 == 0 and number % 4 != 1:
            assert row["_extra_fields"] == {"_column_23": "spare"}, number
        else:
            assert not row.get("_extra_fields"), number


# -- 7: time_extracted ------------------------------------------------------------------------------------


def test_time_extracted_is_when_the_answer_arrived(fresh_sandbox: RunningSandbox) -> None:
    """A synchronous stream's records carry when their answer arrived, even after a Retry-After wait:
    each day's window is asked once (429, wait 1 s), then again; its records are stamped no earlier
    than the sandbox's answer to that second request."""
    set_faults(fresh_sandbox, throttle_every=2, retry_after=1, vendors=["vroom"])
    cfg = config(fresh_sandbox, ("vroom",), "2026-01-01", "2026-01-04", vroom={"concurrent_windows": 1})
    run = run_tap(cfg, catalog=catalog_selecting(cfg, ["vroom_orders"])).ok()
    calls = [entry for entry in sandbox_log(fresh_sandbox) if entry["path"].endswith("/analytics/orders")]
    assert [entry["status"] for entry in calls] == [429, 200] * 3  # one window after another
    answered = {day: calls[2 * index + 1]["at"] for index, day in enumerate(("2026-01-01", "2026-01-02", "2026-01-03"))}
    stamped = [(message["record"]["created_at"][:10], parse_utc(message["time_extracted"]).timestamp())
               for message in messages(run) if message["type"] == "RECORD"]
    assert {day for day, _ in stamped} == set(answered)
    for day, when in stamped:
        assert when >= answered[day], (day, when, answered[day])  # never before its answer came


@pytest.mark.parametrize("path", ["fast", "sdk"])
def test_a_files_records_carry_when_the_file_arrived(fresh_sandbox: RunningSandbox, tmp_path: Path, path: str) -> None:
    knobs(fresh_sandbox, "foxycart", processing_seconds=0.1, rows_per_day=400)
    cfg = config(fresh_sandbox, ("foxycart",), "2026-09-30", DAYS[1], foxycart={"reports": ["transactions"]})
    settings = {**POLLS, **({f"{OWNER}.fast_record_path": False} if path == "sdk" else {})}
    run = run_tap(cfg, env=env_setting_class_attributes(tmp_path, settings)).ok()
    by_window: dict[str, set[str]] = {}
    for message in messages(run):
        if message["type"] == "RECORD":
            by_window.setdefault(message["record"]["_report_window_start"], set()).add(message["time_extracted"])
    assert len(by_window) == 2  # two weekly windows, one file each
    downloads = [entry["at"] for entry in sandbox_log(fresh_sandbox) if entry["path"].startswith("/downloads/")]
    for stamps in by_window.values():
        assert len(stamps) == 1, stamps  # one file, one arrival: every record of it carries it
        assert parse_utc(next(iter(stamps))).timestamp() >= min(downloads) - 0.01


# -- 8: a replication key the stream cannot honour ---------------------------------------------------------


@pytest.mark.parametrize(("stream", "asked"), [("foxycart_transactions", "_row_number"),
                                               ("vroom_customer_contacts", "created_at")])
def test_a_catalogs_replication_key_the_stream_cannot_honour_stops_the_tap(fresh_sandbox: RunningSandbox,
                                                                           stream: str, asked: str) -> None:
    cfg = config(fresh_sandbox, ("foxycart", "vroom"), *DAYS, foxycart={"reports": ["transactions"]})
    catalog = catalog_selecting(cfg, [stream])
    entry = next(entry for entry in catalog["streams"] if entry["tap_stream_id"] == stream)
    original = copy.deepcopy(entry)
    entry["replication_key"] = asked
    entry["replication_method"] = "INCREMENTAL"
    for metadata in entry["metadata"]:
        if metadata["breadcrumb"] == []:
            metadata["metadata"].update({"replication-key": asked, "replication-method": "INCREMENTAL"})
    before = len(sandbox_log(fresh_sandbox))
    run = run_tap(cfg, catalog=catalog)
    assert run.returncode == 1 and "Traceback" not in run.stderr
    last = run.stderr.strip().splitlines()[-1]
    assert last.startswith(f"tap-retail-reports: error: {stream}: the catalog sets replication-key '{asked}'"), last
    assert '"type":"STATE"' not in run.stdout and '"type":"RECORD"' not in run.stdout
    assert len(sandbox_log(fresh_sandbox)) == before  # before any request
    # The catalog as discovered (the stream's own key, or none for a full table) runs.
    entry.clear()
    entry.update(original)
    assert run_tap(cfg, catalog=catalog).returncode == 0


def test_the_sandbox_knobs_refuse_unknown_readings(fresh_sandbox: RunningSandbox) -> None:
    response = requests.post(f"http://127.0.0.1:{fresh_sandbox.port}/_sandbox/vendor/foxycart",
                             json={"csv_date_format": "julian"}, timeout=10)
    assert response.status_code == 400 and "csv_date_format must be one of" in response.text
