"""The fast record path (core/fast_records.py) against the SDK's own per-record path.

Both runs read the same sandbox files; the fast path must write the same RECORD messages and the
same SCHEMA, compared as JSON with its types (`1`, `1.0`, `true` and `"1"` all differ: tests/exact.py),
for every file stream: with a subset of columns selected, values that do not fit their column
(in the sample, and after it), a vendor column named like one of the tap's, warehouse partitions,
and another reading of the files (other column names, other date and time forms, short and long
rows, a column that starts further down). A user's stream maps and flattening must send records
through the SDK path.
"""

from __future__ import annotations

import json
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from singer_sdk.contrib.msgspec import encoder
from singer_sdk.singerlib.catalog import SelectionMask

from tap_retail_reports.core.fast_records import FileRecords
from tap_retail_reports.core.file_stream import column_types, file_schema, row_of
from tap_retail_reports.core.records import SchemaCoercion
from tap_retail_reports.sandbox.credentials import FLIPKART_WAREHOUSE_IDS
from tap_retail_reports.sandbox.server import RunningSandbox
from tests.conftest import TapRun, catalog_selecting, env_setting_class_attributes, run_tap
from tests.exact import exact
from tests.test_async_vendors import FOXY_REPORTS, config, knobs

OWNER = "tap_retail_reports.core.async_stream:AsyncReportStream"
FAST_POLLS = {f"{OWNER}.poll_first_seconds": 0.2, f"{OWNER}.poll_cap_seconds": 1.0, f"{OWNER}.retry_wait_seconds": 0.2}
SDK_PATH_LINE = "records go through the SDK's per-record path"

# Per vendor: the tap's config, cell values that do not fit (or need reading) in typed columns, and
# the columns left out of the catalog's selection (a learned string, a typed one, a file field).
CASES = {
    "foxycart": (
        {"foxycart": {"reports": FOXY_REPORTS}},
        {"total_tax": "N/A", "is_test": "maybe", "transaction_date": "soon", "item_price": "1,204.10",
         "date_created": "2026-10-29T08:00:00+05:30", "total_spent": " "},
        ("customer_city", "total_shipping", "last_name", "_report_window_end"),
    ),
    "flipkart": (
        {"flipkart": {"warehouse_ids": list(FLIPKART_WAREHOUSE_IDS)}},
        {"selling_price": "N/A", "quantity": "2.5", "order_date": "31/10/2026", "opening_stock": "",
         "dispatch_by_date": "soon", "is_replacement": "yes"},
        ("buyer_city", "shipping_charge", "inward", "_extra_fields"),
    ),
}
# Another reading of the same files: names, dates and times as the portal might write them, ragged rows,
# a column from row 30 on, and (after the rows that type the columns) values that do not fit.
READINGS = {
    "foxycart": ({"csv_date_format": "dmy", "csv_time_format": "ampm"},
                 ("City", "Shipping", "Last Name", "_report_window_end")),
    "flipkart": ({"csv_date_format": "mdy", "csv_time_format": "minutes", "csv_time_zone": "offset"},
                 ("Buyer City", "Shipping Charge", "Inward", "_report_window_end")),
}
LATE_MISFITS = {"total_order": "N/A", "item_quantity": "2.5", "total_spent": "lots", "transaction_date": "soon",
                "selling_price": "N/A", "quantity": "2.5", "dispatch_by_date": "soon", "debit": "-",
                "is_replacement": "maybe", "opening_stock": "7.25"}


def deselect(catalog: dict, columns: tuple[str, ...]) -> dict:
    """The catalog with `columns` not selected in every stream (learned columns included)."""
    for entry in catalog["streams"]:
        entry["metadata"] = [m for m in entry["metadata"] if tuple(m["breadcrumb"]) not in
                             {("properties", name) for name in columns}]
        entry["metadata"] += [{"breadcrumb": ["properties", name], "metadata": {"selected": False}} for name in columns]
    return catalog


def assert_same_output(fast: TapRun, sdk: TapRun, streams: list[str]) -> None:
    """The two runs wrote the same records and SCHEMA per stream, with their JSON types, and the same STATE."""
    assert SDK_PATH_LINE not in fast.stderr and SDK_PATH_LINE in sdk.stderr
    assert sorted(fast.records) == sorted(sdk.records)
    assert set(streams) - set(fast.records) <= {"flipkart_mir_ledger"}  # a month's ledger comes after the 7th
    for stream in streams:
        assert exact(fast.records[stream]) == exact(sdk.records[stream]), stream
        assert exact(fast.schemas[stream]) == exact(sdk.schemas[stream]), stream
    assert exact([state for state in fast.states if "bookmarks" in state][-1]) == exact(sdk.last_state)


def both_paths(cfg: dict, catalog: dict, tmp_path: Path) -> tuple[TapRun, TapRun]:
    (tmp_path / "fast").mkdir()
    (tmp_path / "sdk").mkdir()
    fast = run_tap(cfg, catalog=catalog, env=env_setting_class_attributes(tmp_path / "fast", FAST_POLLS)).ok()
    sdk = run_tap(cfg, catalog=catalog, env=env_setting_class_attributes(
        tmp_path / "sdk", {**FAST_POLLS, f"{OWNER}.fast_record_path": False})).ok()
    return fast, sdk


def vendor_streams(cfg: dict, vendor: str) -> list[str]:
    return [entry["tap_stream_id"] for entry in catalog_selecting(cfg, [])["streams"]
            if entry["tap_stream_id"].startswith(vendor)]


@pytest.mark.parametrize("vendor", sorted(CASES))
def test_the_fast_path_writes_the_records_of_the_sdk_path(fresh_sandbox: RunningSandbox, tmp_path: Path,
                                                          vendor: str) -> None:
    settings, cells, left_out = CASES[vendor]
    knobs(fresh_sandbox, vendor, processing_seconds=0.1, csv_cell_values=cells,
          csv_extra_column={"_source_file": "vendor's own", "loyalty_tier": "gold"})
    cfg = config(fresh_sandbox, (vendor,), "2026-10-01", "2026-10-10", **settings)
    streams = vendor_streams(cfg, vendor)
    catalog = deselect(catalog_selecting(cfg, streams), left_out)
    fast, sdk = both_paths(cfg, catalog, tmp_path)
    assert_same_output(fast, sdk, streams)
    rows = [row for stream in streams for row in fast.records[stream]]
    assert all(name not in row for row in rows for name in left_out)
    assert all(row["_source_file_vendor"] == "vendor's own" and row["loyalty_tier"] == "gold" for row in rows)
    misfits = [row["_extra_fields"] for row in rows if row.get("_extra_fields")]
    if "_extra_fields" not in left_out:
        assert misfits and all(set(extra) <= set(cells) for extra in misfits)


@pytest.mark.parametrize("vendor", sorted(READINGS))
def test_the_fast_path_writes_the_records_of_the_sdk_path_on_another_reading(fresh_sandbox: RunningSandbox,
                                                                             tmp_path: Path, vendor: str) -> None:
    reading, left_out = READINGS[vendor]
    knobs(fresh_sandbox, vendor, processing_seconds=0.1, rows_per_day=300, csv_column_names="portal",
          csv_short_rows_every=7, csv_long_rows_every=11, csv_new_column_after=30, csv_cell_values=LATE_MISFITS,
          csv_cell_values_from_row=2050, **reading)
    cfg = config(fresh_sandbox, (vendor,), "2026-10-05", "2026-10-12", **CASES[vendor][0])
    streams = vendor_streams(cfg, vendor)
    catalog = deselect(catalog_selecting(cfg, streams), left_out)
    fast, sdk = both_paths(cfg, catalog, tmp_path)
    assert_same_output(fast, sdk, streams)
    rows = [row for stream in streams for row in fast.records[stream]]
    extra = [row["_extra_fields"] for row in rows if row.get("_extra_fields")]
    assert any("_column_" in name for fields in extra for name in fields)  # long rows
    assert any(set(fields) - {name for name in fields if name.startswith("_column_")} for fields in extra)  # misfits
    assert any(row.get("late_column") for row in rows)  # the column that starts further down
    assert all(name not in row for row in rows for name in left_out)


@pytest.mark.parametrize(("settings", "reason"), [
    ({"stream_maps": {"foxycart_transactions": {"order_twice": "total_order * 2"}}}, "stream maps are configured"),
    ({"flattening_enabled": True, "flattening_max_depth": 1}, "flattening is enabled"),
])
def test_stream_maps_and_flattening_send_records_through_the_sdk_path(fresh_sandbox: RunningSandbox, tmp_path: Path,
                                                                     settings: dict, reason: str) -> None:
    knobs(fresh_sandbox, "foxycart", processing_seconds=0.1, csv_cell_values={"total_tax": "N/A"})
    cfg = config(fresh_sandbox, ("foxycart",), "2026-10-01", "2026-10-03", foxycart={"reports": ["transactions"]})
    cfg.update(settings)
    run = run_tap(cfg, env=env_setting_class_attributes(tmp_path, FAST_POLLS)).ok()
    rows = run.records["foxycart_transactions"]
    assert rows
    if "stream_maps" in settings:
        assert all(row["order_twice"] == row["total_order"] * 2 for row in rows)
    else:  # flattened: an object with no declared properties becomes its JSON text
        assert all(json.loads(row["_extra_fields"]) == {"total_tax": "N/A"} for row in rows)
    assert f"foxycart_transactions: {SDK_PATH_LINE}: {reason}" in run.stderr


def as_written(record: dict) -> object:
    """A record as its RECORD line holds it: encoded as the tap encodes it, then parsed."""
    return json.loads(encoder.encode(record))


def test_a_row_of_the_fast_branch_is_the_row_of_the_step_by_step_branch() -> None:
    """Blank numbers, misfits, short and long rows leave the generated `record` (for `slowly`, the
    converters one by one, or the careful branch); on every row both branches, and the SDK path's
    steps (row_of, then SchemaCoercion), must write the same JSON, types included."""
    schema = file_schema(column_types(NUMBER=("total",), INTEGER=("count",), BOOLEAN=("paid",), DATE=("day",),
                                      DATE_TIME=("at",)))
    schema["properties"].update({"_extra_fields": {"type": ["object", "null"]}, "note": {"type": ["string", "null"]}})
    names = ["total", "count", "paid", "day", "at", "note", "_source_file_vendor"]
    rows = [["12.50", "3", "true", "2026-10-01", "2026-10-01 12:00:00", "x", "theirs"],
            ["N/A", "2.5", "maybe", "01/10/2026", "soon", "", "theirs"],
            ["1,204.10", "", "0", "", "2026-10-01T12:00:00+05:30", "y", "theirs"],
            ["", "007", "", "2026-02-30", "", "", ""],
            ["-0.50", "-4", "no", "2026-10-31", "2026-10-31 23:59:59", "z", "t"],
            ["NaN", "1", "yes", "2026-10-31", "2026-10-31 23:59:59", "z", "t"],
            [" 5", "+6", "Y", "2026-10-31", "2026-10-31 12:00", "z", "t"]]
    fields = {"_source_file": "a.csv", "_report_window_start": "2026-10-01T00:00:00Z",
              "_report_window_end": "2026-10-02T00:00:00Z"}
    coercion = SchemaCoercion(schema, ZoneInfo("Asia/Kolkata"))
    for left_out in ((), ("total", "note"), ("_extra_fields", "paid"), ("_report_window_end", "warehouse_id"),
                     ("total", "count", "paid", "day", "at")):
        mask = SelectionMask({(): True, **{("properties", name): False for name in left_out}})
        plan = FileRecords(mask, names, coercion.converters, fields, {"warehouse_id": "W1"})
        for number, values in enumerate([*rows, ["1"], [*rows[0], "spare", "more"]], start=1):
            fast = as_written(plan.record(number, values))
            if len(values) == len(names):
                assert exact(fast) == exact(as_written(plan.slowly(number, values))), (left_out, values)
            sdk = row_of(names, values)
            sdk.update(fields)
            sdk["_row_number"] = number
            coercion(sdk)
            sdk.setdefault("warehouse_id", "W1")
            sdk = {name: value for name, value in sdk.items() if name not in left_out}
            assert exact(fast) == exact(as_written(sdk)), (left_out, values)
            assert not set(left_out) & set(fast)
