"""Flipkart's report types: the parameters each takes, checked as the API checks them, its file names, and the
CSVs it holds, made from rows.py's row functions."""

from __future__ import annotations

import datetime as dt
import random
import re
import typing as t
from zoneinfo import ZoneInfo

from tap_retail_reports.sandbox.files import Member
from tap_retail_reports.sandbox.flipkart.rows import COLUMNS, MONTHS, ROWS, WAREHOUSES, mir_row
from tap_retail_reports.sandbox.jobs import days

IST = ZoneInfo("Asia/Kolkata")  # Flipkart's times, naive in files and metadata, are India's
RANGE_TYPES = (
    "gst_returns_report", "sales_ledger", "settled_transaction_ledger", "financial_year_ledger",
    "fbf_orders_report", "returns_report", "orders_report",
)
SNAPSHOT_TYPES = ("current_inventory_report", "stranded_inventory_report", "unsellable_inventory_report")
REPORT_TYPES = (*RANGE_TYPES, "stock_ledger", "mir_ledger", *SNAPSHOT_TYPES)
PARAMETERS = {
    **dict.fromkeys(RANGE_TYPES, ("from_date", "to_date")),
    "stock_ledger": ("warehouse_id", "from_date", "to_date"),
    "mir_ledger": ("warehouse_id", "month", "year"),
    **dict.fromkeys(SNAPSHOT_TYPES, ("warehouse_id",)),
}
DEFAULT_FORMATS = {
    **dict.fromkeys(REPORT_TYPES, "csv"),
    "orders_report": "gzip",
    "sales_ledger": "zip",
    "returns_report": "zip",
    "stock_ledger": "csv_bom",
}
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class BadParameters(ValueError):
    """The report request's parameters are wrong; the message names the problem."""


def check_parameters(report_type: str, given: t.Any, today: dt.date) -> dict:
    """The parameters, checked against the report type on `today` (IST); BadParameters names the problem."""
    if not isinstance(given, dict):
        raise BadParameters("parameters is required: a JSON object")
    wanted = PARAMETERS[report_type]
    missing = [name for name in wanted if name not in given]
    if missing:
        raise BadParameters(f"{report_type} needs parameters.{', parameters.'.join(missing)}")
    unknown = set(given) - set(wanted)
    if unknown:
        raise BadParameters(f"{report_type} takes no parameter(s) {', '.join(sorted(unknown))}")
    if "warehouse_id" in wanted and given["warehouse_id"] not in WAREHOUSES:
        raise BadParameters(f"unknown warehouse_id {given['warehouse_id']!r}")
    if "from_date" in wanted:
        first, last = (_date(given, name) for name in ("from_date", "to_date"))
        if last < first:
            raise BadParameters("to_date is before from_date")
    if report_type == "mir_ledger":
        month, year = given["month"], given["year"]
        if month not in MONTHS:
            raise BadParameters(f"month must be an English month name such as \"May\", got {month!r}")
        if isinstance(year, bool) or not isinstance(year, int) or not 2000 <= year <= 2100:
            raise BadParameters(f"year must be a number such as 2023, got {year!r}")
        number = MONTHS.index(month) + 1
        available = dt.date(year + number // 12, number % 12 + 1, 8)
        if today < available:
            raise BadParameters(
                f"the mir_ledger of {month} {year} is available from {available.isoformat()} "
                "(after the 7th of the following month)"
            )
    return dict(given)


def _date(given: dict, name: str) -> dt.date:
    """The parameter `name`, a date written exactly yyyy-MM-dd."""
    value = given[name]
    try:
        if not isinstance(value, str) or not DATE.match(value):
            raise ValueError
        return dt.date.fromisoformat(value)
    except ValueError:
        raise BadParameters(f"{name} must be a date yyyy-MM-dd, got {value!r}") from None


def csv_names(report_type: str, parameters: dict) -> tuple[str, ...]:
    """The CSVs a report holds: `<type>.csv`, `<type>_<warehouse>.csv`, or sales_ledger's two."""
    if report_type == "sales_ledger":
        return ("sales_report.csv", "cash_back_report.csv")
    warehouse = parameters.get("warehouse_id")
    return (f"{report_type}_{warehouse}.csv" if warehouse else f"{report_type}.csv",)


def file_name(report_type: str, parameters: dict, file_format: str) -> str:
    """metadata.file_name of a report in `file_format`."""
    if file_format in ("zip", "xlsx"):
        warehouse = parameters.get("warehouse_id")
        return f"{report_type}_{warehouse}.{file_format}" if warehouse else f"{report_type}.{file_format}"
    name = csv_names(report_type, parameters)[0]
    return name + ".gz" if file_format == "gzip" else name


def report_members(seed: int, report_type: str, parameters: dict, as_of: dt.date, count: int,
                   span: tuple[dt.date, dt.date]) -> list[Member]:
    """The CSVs of a report: `count` rows a day (a snapshot's as of `as_of`, IST), days outside `span` empty."""
    names = csv_names(report_type, parameters)
    warehouse = parameters.get("warehouse_id")
    first, last = span
    if report_type in SNAPSHOT_TYPES:
        def snapshot() -> t.Iterator[dict[str, str]]:
            rng = random.Random(f"{seed}:flipkart:{report_type}:{warehouse}:{as_of}:{count}")
            for n in range(count):
                yield ROWS[report_type](rng, as_of, n, warehouse)
        return [Member(names[0], COLUMNS[report_type], snapshot)]
    if report_type == "mir_ledger":
        number = MONTHS.index(parameters["month"]) + 1
        month_start = dt.date(parameters["year"], number, 1)
        has_data = first <= month_start <= last

        def monthly() -> t.Iterator[dict[str, str]]:
            rng = random.Random(f"{seed}:flipkart:mir:{warehouse}:{month_start}:{count}")
            for n in range(count if has_data else 0):
                yield mir_row(rng, month_start, n, warehouse)
        return [Member(names[0], COLUMNS["mir_ledger"], monthly)]
    window_first = max(first, dt.date.fromisoformat(parameters["from_date"]))
    window_last = min(last, dt.date.fromisoformat(parameters["to_date"]))

    def daily(part: str, per_day: int) -> t.Callable[[], t.Iterator[dict[str, str]]]:
        def rows() -> t.Iterator[dict[str, str]]:
            for day in days(window_first, window_last):
                rng = random.Random(f"{seed}:flipkart:{part}:{warehouse}:{day}:{per_day}")
                for n in range(per_day):
                    yield ROWS[part](rng, day, n, warehouse)
        return rows

    if report_type == "sales_ledger":
        return [Member(names[0], COLUMNS["sales_ledger"], daily("sales_ledger", count)),
                Member(names[1], COLUMNS["cash_back"], daily("cash_back", max(1, count // 4)))]
    return [Member(names[0], COLUMNS[report_type], daily(report_type, count))]

