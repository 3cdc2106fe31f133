"""Report files the tap must read as what they are: XLSX workbooks, CSVs of exports joined end to end.

End to end: the tap command against the sandbox's Flipkart, which delivers its reports in the
format (and layout) a knob asks for.
"""

from __future__ import annotations

import datetime as dt
import re
import zipfile
import zoneinfo
from pathlib import Path

import pytest

from tap_retail_reports.core.files import report_tables
from tap_retail_reports.core.layouts import ColumnType
from tap_retail_reports.core.records import SchemaCoercion, text_columns, typed_as_text
from tap_retail_reports.core.tables import UnreadableFile
from tap_retail_reports.sandbox.credentials import FLIPKART_WAREHOUSE_IDS
from tap_retail_reports.sandbox.files import Layout, Member, write_file
from tap_retail_reports.sandbox.server import RunningSandbox
from tests.conftest import catalog_selecting, run_tap
from tests.test_async_vendors import config, fast, knobs

__all__ = ["fast"]  # a fixture, used by name

EVERY_TYPE = ["flipkart_orders_report", "flipkart_sales_ledger", "flipkart_returns_report", "flipkart_stock_ledger",
              "flipkart_settled_transaction_ledger", "flipkart_current_inventory_report"]


def table_of(source: str) -> str:
    """The table a row came from, the same in both formats: `BLR01/stock_ledger` for `BLR01/stock_ledger.csv`
    and `BLR01/stock_ledger.xlsx#Sheet1`; `sales_report` for `sales_report.csv` and `sales_ledger.xlsx#sales_report`."""
    if "#" not in source:
        return source.removesuffix(".csv")
    workbook, sheet = source.split("#")
    folder = workbook.rpartition("/")[0]
    return workbook.removesuffix(".xlsx") if sheet == "Sheet1" else f"{folder}/{sheet}".lstrip("/")


def by_key(rows: list[dict]) -> dict[tuple, dict]:
    keyed = {(table_of(row["_source_file"]), row["_report_window_start"], row["_row_number"]):
             {name: value for name, value in row.items() if name != "_source_file"} for row in rows}
    assert len(keyed) == len(rows), "a key repeats"
    return keyed


@pytest.mark.parametrize("text_cells", [False, True], ids=["typed-cells", "text-cells"])
def test_flipkart_workbooks_load_the_same_typed_rows_as_csv(fresh_sandbox: RunningSandbox, fast: dict,
                                                            text_cells: bool) -> None:
    cfg = config(fresh_sandbox, ("flipkart",), "2026-10-05", "2026-10-08",
                 flipkart={"warehouse_ids": list(FLIPKART_WAREHOUSE_IDS[:1])})
    catalog = catalog_selecting(cfg, EVERY_TYPE)
    as_csv = run_tap(cfg, catalog=catalog, env=fast).ok()
    # A workbook's cells typed as numbers, dates and booleans, or (another export) all text.
    knobs(fresh_sandbox, "flipkart", formats={"*": "xlsx"}, xlsx_text_cells=text_cells)
    as_xlsx = run_tap(cfg, catalog=catalog, env=fast).ok()
    assert {report["format"] for report in knobs(fresh_sandbox, "flipkart")["reports"][-len(EVERY_TYPE):]} == {"xlsx"}

    for stream in EVERY_TYPE:
        csv_rows, xlsx_rows = as_csv.records[stream], as_xlsx.records[stream]
        assert csv_rows, stream
        # Every row again, under the same key and with the same values: numbers as numbers, dates as dates.
        got, expected = by_key(xlsx_rows), by_key(csv_rows)
        assert got.keys() == expected.keys(), stream
        for key, row in expected.items():
            assert got[key] == row, (key, {name: (got[key].get(name), value) for name, value in row.items()
                                           if got[key].get(name) != value})
        assert as_xlsx.schemas[stream]["schema"] == as_csv.schemas[stream]["schema"], stream
        assert all("#" in row["_source_file"] for row in xlsx_rows), stream

    # sales_ledger's workbook has two sheets, each named in _source_file.
    sheets = {row["_source_file"] for row in as_xlsx.records["flipkart_sales_ledger"]}
    assert sheets == {"sales_ledger.xlsx#sales_report", "sales_ledger.xlsx#cash_back_report"}
    order = as_xlsx.records["flipkart_orders_report"][0]
    assert order["_source_file"] == "orders_report.xlsx#Sheet1"
    assert isinstance(order["total_amount"], float) and isinstance(order["quantity"], int)
    assert isinstance(order["is_replacement"], bool)
    assert dt.date.fromisoformat(order["dispatch_by_date"])  # YYYY-MM-DD
    # Flipkart's documents give its files' times no zone: a naive time stays text as the CSV writes it.
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", order["order_date"])
    assert as_csv.schemas["flipkart_orders_report"]["schema"]["properties"]["order_date"]["type"] == ["string", "null"]
    assert "Traceback" not in as_xlsx.stderr


def test_a_repeated_header_is_skipped_and_a_new_header_starts_a_new_layout(fresh_sandbox: RunningSandbox,
                                                                          fast: dict) -> None:
    cfg = config(fresh_sandbox, ("flipkart",), "2026-10-05", "2026-10-08")
    catalog = catalog_selecting(cfg, ["flipkart_orders_report", "flipkart_settled_transaction_ledger"])
    plain = run_tap(cfg, catalog=catalog, env=fast).ok()
    knobs(fresh_sandbox, "flipkart", csv_repeat_header_every=7, csv_new_header_after=30,
          formats={"orders_report": "gzip", "settled_transaction_ledger": "csv"})
    joined = run_tap(cfg, catalog=catalog, env=fast).ok()
    for stream in ("flipkart_orders_report", "flipkart_settled_transaction_ledger"):
        expected = plain.records[stream]
        got = joined.records[stream]
        # No header line became a row, and every value sits under its own column's name.
        assert len(got) == len(expected) > 30, stream
        values = sorted((row["_report_window_start"], row["order_item_id"], sorted(
            (name, str(value)) for name, value in row.items() if name != "_row_number")) for row in got)
        assert values == sorted((row["_report_window_start"], row["order_item_id"], sorted(
            (name, str(value)) for name, value in row.items() if name != "_row_number")) for row in expected), stream
        assert not [row for row in got if row.get("order_id") == "order_id"]
    assert "a different header at data line" in joined.stderr
    assert "repeated header line(s)" in joined.stderr


def test_a_different_header_keeps_each_value_under_its_name(tmp_path: Path) -> None:
    rows = [{"id": str(n), "total": f"{n}.50", "city": f"C{n}"} for n in range(6)]
    path = tmp_path / "joined.csv"
    write_file(str(path), "csv", [Member("r.csv", ("id", "total", "city"), lambda: rows)], Layout(2, 4))
    read = [values for table in report_tables(path, "r.csv") for _, values in table.rows()]
    assert read == rows


@pytest.mark.parametrize("file_format", ["xlsx", "csv"])
def test_a_workbook_and_a_csv_read_as_the_same_table(tmp_path: Path, file_format: str) -> None:
    rows = [{"id": "A1", "day": "2026-10-01", "at": "2026-10-01 09:30:00", "n": "3", "ok": "true", "note": ""}]
    path = tmp_path / f"r.{file_format}"
    write_file(str(path), file_format, [Member("r.csv", tuple(rows[0]), lambda: rows)])
    (table,) = report_tables(path, "r.csv")
    (_, values), = table.rows()
    if file_format == "xlsx":  # a workbook's date-times are naive: the vendor's zone is the tap's to apply
        assert table.name == "r.xlsx#Sheet1"
        assert values == {"id": "A1", "day": dt.date(2026, 10, 1), "at": dt.datetime(2026, 10, 1, 9, 30),  # noqa: DTZ001
                          "n": 3,
                          "ok": True, "note": None}
    else:
        assert values == rows[0]



def test_a_workbook_inside_a_zip_is_never_read_as_csv(tmp_path: Path) -> None:
    rows = [{"id": "1", "total": "2.50"}]
    workbook = tmp_path / "inner.xlsx"
    write_file(str(workbook), "xlsx", [Member("r.csv", ("id", "total"), lambda: rows)])
    archive = tmp_path / "outer.zip"
    with zipfile.ZipFile(archive, "w") as packed:
        packed.write(workbook, "report.xlsx")
    (table,) = report_tables(archive, "outer.zip")
    with pytest.raises(UnreadableFile, match=r"report\.xlsx is a zip or XLSX workbook inside the download"):
        list(table.rows())


def test_a_workbooks_typed_cells_are_coerced_as_the_schema_declares() -> None:
    kolkata = zoneinfo.ZoneInfo("Asia/Kolkata")
    schema = {"properties": {
        "at": {"type": ["string", "null"], "format": "date-time"}, "day": {"type": ["string", "null"], "format": "date"},
        "n": {"type": ["integer", "null"]}, "total": {"type": ["number", "null"]}, "ok": {"type": ["boolean", "null"]},
        "note": {"type": ["string", "null"]}, "_extra_fields": {"type": ["object", "null"]},
    }}
    row = {"at": dt.datetime(2026, 10, 1, 18, 30), "day": dt.datetime(2026, 10, 2), "n": 3.0,  # noqa: DTZ001
           "total": 149, "ok": True, "note": 2.5}
    types = {name: ColumnType.from_schema(prop) for name, prop in schema["properties"].items()}
    typed_as_text(row, text_columns(types, row), kolkata)
    SchemaCoercion(schema, kolkata)(row)
    assert row == {"at": "2026-10-01T13:00:00Z", "day": "2026-10-02", "n": 3, "total": 149, "ok": True, "note": "2.5"}
    # A cell that does not fit its column is kept aside, never lost: a fraction for a whole number,
    # a time of day for a date, a number for a date-time.
    odd = {"n": 2.5, "day": dt.datetime(2026, 10, 2, 9, 0), "at": 45000}  # noqa: DTZ001
    SchemaCoercion(schema, kolkata)(odd)
    assert odd["n"] is None and odd["day"] is None and odd["at"] is None
    assert odd["_extra_fields"] == {"n": 2.5, "day": dt.datetime(2026, 10, 2, 9, 0), "at": 45000}  # noqa: DTZ001
