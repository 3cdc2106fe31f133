"""Unit tests of core/layouts.py and core/values.py: how a column is typed from a sample of its values."""

from __future__ import annotations

import datetime as dt

import pytest

from tap_retail_reports.core.layouts import ColumnMemory, ColumnType, StreamColumns, identifier_name, infer
from tap_retail_reports.core.values import DMY, MDY, as_date, as_iso_datetime, read_cell, read_text, window_order


def typed(name: str, *values: str, naive_times: bool = True) -> str:
    column = infer(name, [read_text(value) for value in values], naive_times=naive_times)
    return column.token


@pytest.mark.parametrize("name", ["id", "customer_id", "customerId", "orderID", "Order No.", "Postal Code", "zip",
                                  "item_sku", "UPC", "Phone", "Tax ID", "invoice_number", "hsn_code", "seller_gstin"])
def test_identifier_names_keep_their_values_text(name: str) -> None:
    assert identifier_name(name)
    assert typed(name, "12", "13", "14") == "string"


@pytest.mark.parametrize("name", ["paid", "valid", "total", "Order Total", "number_of_items", "Transaction Count", "year"])
def test_other_names_are_typed_by_their_values(name: str) -> None:
    assert not identifier_name(name)
    assert typed(name, "12", "13") == "integer"


def test_values_type_a_column() -> None:
    assert typed("n", "1", "-2", "", "1,204") == "integer"
    assert typed("n", "1", "2.50", " ") == "number"
    assert typed("b", "true", "False", "yes", "N") == "boolean"
    assert typed("b", "1", "0", "1") == "integer"  # 0 and 1 may be counts: whole numbers, never booleans
    assert typed("d", "2026-10-05", "2026/10/06") == "date"
    assert typed("d", "10/05/2026", "10/13/2026") == "date:mdy"
    assert typed("d", "13/05/2026", "01/02/2026") == "date:dmy"
    assert typed("d", "13/05/2026", "05/13/2026") == "string"  # no one order reads them both
    assert typed("d", "2026-02-30") == "string"
    assert typed("t", "2026-10-05 13:45", "2026-10-05T13:45:07.5", "10/05/2026 1:45 PM") == "date-time"
    assert typed("t", "2026-10-05 13:45:00", naive_times=False) == "string"  # no zone to place it in
    assert typed("t", "2026-10-05T13:45:00+05:30", "2026-10-05 08:15:00Z", naive_times=False) == "date-time"
    assert typed("m", "2026-10-05", "2026-10-05 13:45:00") == "string"  # dates and times mixed
    assert typed("x", "12", "twelve") == "string"
    assert typed("x", "", "  ") == "string"  # no value to tell: text


def test_identifier_values_keep_a_column_text() -> None:
    assert typed("code_value", "12", "007") == "string"  # a leading zero
    assert typed("reference_value", "12", "123456789012") == "string"  # twelve digits or more
    assert typed("amount", "12", "12345678901") == "integer"
    assert read_cell(123456789012).identifier and not read_cell(123456789012, json=True).identifier


def test_a_column_widens_only_from_integer_to_number_and_remembers_it() -> None:
    state: dict = {}
    columns = StreamColumns({}, {}, naive_times=True, memory=lambda: ColumnMemory(state))
    assert columns.plan(["n", "t"], [["1", "x"], ["2", "y"]]) == {"n": ColumnType("integer"), "t": ColumnType("string")}
    assert columns.plan(["n", "t"], [["2.5", "3"]]) == {"n": ColumnType("number")}  # a fraction: widened
    assert state["column_types"] == {"n": "number", "t": "string"}
    again = StreamColumns({}, {}, naive_times=True, memory=lambda: ColumnMemory(state))
    assert again.plan(["n", "t"], [["1", "7"]]) == {"n": ColumnType("number"), "t": ColumnType("string")}


def test_a_declared_or_pinned_column_keeps_its_type() -> None:
    state: dict = {}
    columns = StreamColumns({"n": {"type": ["integer", "null"]}}, {"p": {"type": ["string", "null"]}},
                            memory=lambda: ColumnMemory(state))
    assert columns.plan(["n", "p", "q"], [["2.5", "12", "1.5"]]) == {"q": ColumnType("number")}
    assert columns.types["n"] == ColumnType("integer") and columns.types["p"] == ColumnType("string")
    assert columns.undeclared() == {"q": ColumnType("number")} and "p" not in state["column_types"]


def test_the_day_month_order_comes_from_the_layout_the_window_or_the_stream() -> None:
    state: dict = {}
    columns = StreamColumns({}, {}, naive_times=True, memory=lambda: ColumnMemory(state))
    window = (dt.date(2026, 10, 4), dt.date(2026, 10, 9))
    # "05/10/2026" is the 5th of October only when read day first: the report's window says so.
    columns.plan(["day", "other"], [["05/10/2026", "06/10/2026"]], window)
    assert columns.types["day"] == ColumnType("date", DMY) == columns.types["other"]
    # A later column of the stream with no order of its own takes the stream's.
    columns.plan(["later"], [["01/02/2026"]])
    assert columns.types["later"] == ColumnType("date", DMY)
    assert window_order(["10/05/2026"], *window) == MDY and window_order(["01/02/2026"], *window) is None


def test_converters_read_the_forms_the_typing_reads() -> None:
    assert as_date(DMY)("05.10.2026") == "2026-10-05" and as_date(MDY)("10/05/2026") == "2026-10-05"
    assert as_date(MDY)("2026/10/05") == "2026-10-05"
    assert as_date(MDY)("13/05/2026").__class__.__name__ == "Misfit"
    kolkata = dt.timezone(dt.timedelta(hours=5, minutes=30))
    convert = as_iso_datetime(kolkata, MDY)
    assert convert("10/05/2026 1:45 PM") == "2026-10-05T08:15:00Z"
    assert convert("2026-10-05 13:45") == "2026-10-05T08:15:00Z"
    assert convert("2026-10-05 13:45:00 +0530") == "2026-10-05T08:15:00Z"
    assert as_iso_datetime(None)("2026-10-05 13:45:00").__class__.__name__ == "Misfit"  # no zone: no instant
    assert convert("10/05/2026 1:45:59 PM") == "2026-10-05T08:15:59Z"  # the minute, remembered


def test_column_types_round_trip_through_state() -> None:
    for column in (ColumnType("integer"), ColumnType("date", DMY), ColumnType("date-time"), ColumnType("array")):
        assert ColumnType.from_token(column.token) == column
    assert ColumnType.from_token("integer:dmy") is None and ColumnType.from_token(7) is None
    assert ColumnType.from_schema({"type": ["string", "null"], "format": "date-time"}) == ColumnType("date-time")
    assert ColumnType.from_schema({"type": ["string", "integer", "null"]}).kind == "any"
