"""The sandbox has data for any day a user asks for, so `make demo`, `make sandbox` and the docs'
recipes give rows in any year: each day's rows come from a generator seeded with the day."""

from __future__ import annotations

import pytest

from tap_retail_reports.sandbox import flipkart, foxycart
from tap_retail_reports.sandbox.server import RunningSandbox
from tests.conftest import run_tap
from tests.test_async_vendors import config, fast  # noqa: F401 (fast is a fixture)

STREAMS = {  # a stream of each vendor whose report has rows on every day
    "foxycart": "foxycart_customers",
    "flipkart": "flipkart_orders_report",
    "retrend": "retrend_conversation_delta_report",
    "distribu": "distribu_sales_daily",
}


@pytest.mark.parametrize("vendor", sorted(STREAMS))
def test_a_week_in_2019_has_rows(sandbox: RunningSandbox, fast: dict, vendor: str) -> None:  # noqa: F811
    cfg = config(sandbox, (vendor,), "2019-03-04", "2019-03-11")
    run = run_tap(cfg, env=fast).ok()
    rows = run.records[STREAMS[vendor]]
    assert rows, f"{STREAMS[vendor]} has no rows for 2019-03-04..2019-03-11"
    if vendor == "distribu":  # quiet days are rows of zeros: the week has orders too
        assert any(row["orderCount"] for row in rows), rows


def test_the_report_vendors_files_have_rows_in_2031() -> None:
    # The tap never reads past now, so the future is asked of the simulator itself.
    fox = foxycart.App(42).expected_rows("customers", "2031-06-02 00:00:00", "2031-06-08 23:59:59")
    assert sum(len(rows) for rows in fox.values()) > 0, fox
    flip = flipkart.App(42).expected_rows("orders_report", {"from_date": "2031-06-02", "to_date": "2031-06-08"})
    assert sum(len(rows) for rows in flip.values()) > 0, flip


def test_the_span_knobs_still_narrow_the_data() -> None:
    app = foxycart.App(42)
    app.configure({"data_start": "2031-06-05", "data_end": "2031-06-05"})
    rows = app.expected_rows("customers", "2031-06-02 00:00:00", "2031-06-08 23:59:59")["customers.csv"]
    assert rows and {row["date_created"][:10] for row in rows} == {"2031-06-05"}
