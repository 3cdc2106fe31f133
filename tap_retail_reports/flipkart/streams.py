"""Flipkart's report types, one stream each (`flipkart_<type>`), their columns learned from the files: range
reports in India days (per warehouse for `stock_ledger`), `mir_ledger` by month once it is available, and
inventory snapshots once per warehouse and run (docs/streams.md, "Flipkart").
"""

from __future__ import annotations

import calendar
import datetime as dt
import typing as t

from tap_retail_reports.core.file_stream import file_schema
from tap_retail_reports.core.windows import Window, local_midnight, resume_from
from tap_retail_reports.flipkart import RANGE_REPORTS, SNAPSHOT_REPORTS
from tap_retail_reports.flipkart.client import ZONE, FlipkartStream

if t.TYPE_CHECKING:
    from singer_sdk.helpers.types import Context

MIR_AVAILABLE_AFTER_DAY = 7  # a month's MIR ledger can be asked for after the 7th of the next month
WAREHOUSE_COLUMN = {"warehouse_id": {"type": ["string"], "description": "The warehouse the report is for"}}


class WarehouseStream(FlipkartStream):
    """A report asked for once per configured warehouse; each warehouse has its own bookmark."""

    state_partitioning_keys = ("warehouse_id",)

    @property
    def partitions(self) -> list[dict]:
        return [{"warehouse_id": w} for w in dict.fromkeys(self.vendor_config.get("warehouse_ids") or [])]


class MirLedgerStream(WarehouseStream):
    name = "flipkart_mir_ledger"
    report_type = "mir_ledger"
    schema = file_schema(WAREHOUSE_COLUMN)

    def job_windows(self, context: Context | None) -> list[Window]:
        """Whole months in India's calendar, up to the last one already available."""
        bookmark = self.bookmark(context)
        start = resume_from(bookmark, self.start_date, self.lookback_days).astimezone(ZONE)
        today = self.end_date.astimezone(ZONE).date()
        month = dt.date(start.year, start.month, 1)
        windows = []
        while True:
            following = (month + dt.timedelta(days=32)).replace(day=1)
            if today <= following.replace(day=MIR_AVAILABLE_AFTER_DAY):
                break
            windows.append(Window(local_midnight(month, ZONE), local_midnight(following, ZONE)))
            month = following
        available = following.replace(day=MIR_AVAILABLE_AFTER_DAY)
        note = f"; {month:%B %Y} is available after {available} in India" if not windows else ""
        self.log_plan(context, bookmark, start, windows, note=note)
        return windows

    def job_params(self, window: Window, context: Context | None) -> dict:
        month = window.start.astimezone(ZONE)
        assert context is not None
        return {"warehouse_id": context["warehouse_id"], "month": calendar.month_name[month.month], "year": month.year}


class SnapshotStream(WarehouseStream):
    """Inventory as it is now, one job per warehouse per run."""

    reads_regardless_of_dates = True  # a snapshot of now, whatever start_date says

    def job_windows(self, context: Context | None) -> list[Window]:
        today = self.end_date.astimezone(ZONE).date()
        windows = [Window(local_midnight(today, ZONE), self.end_date)]
        self.log_plan(context, self.bookmark(context), windows[0].start, windows, origin="the inventory as of now")
        return windows

    def job_params(self, window: Window, context: Context | None) -> dict:
        assert context is not None
        return {"warehouse_id": context["warehouse_id"]}


def _range_stream(report_type: str, base: type[FlipkartStream], columns: dict | None = None) -> type[FlipkartStream]:
    return type(
        f"{report_type.title().replace('_', '')}Stream",
        (base,),
        {"name": f"flipkart_{report_type}", "report_type": report_type, "schema": file_schema(columns),
         "__doc__": f"Flipkart's {report_type} report.", "__module__": __name__},
    )


STREAMS: dict[str, type[FlipkartStream]] = {
    **{r: _range_stream(r, FlipkartStream) for r in RANGE_REPORTS},
    "stock_ledger": _range_stream("stock_ledger", WarehouseStream, WAREHOUSE_COLUMN),
    "mir_ledger": MirLedgerStream,
    **{r: _range_stream(r, SnapshotStream, WAREHOUSE_COLUMN) for r in SNAPSHOT_REPORTS},
}
WAREHOUSE_TYPES = ("stock_ledger", "mir_ledger", *SNAPSHOT_REPORTS)
