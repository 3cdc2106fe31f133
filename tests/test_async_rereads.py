"""A report window read again gives its rows the keys they had: the warehouse upserts them.

The key of a CSV row is (_source_file, _report_window_start, _row_number). Windows lie on a fixed
7-day grid, so a window is the same window whichever run reads it: a run resuming two days before
its bookmark (the lookback), or a backfill from an earlier start_date.
"""

from __future__ import annotations

from tests.conftest import TapRun, catalog_selecting, run_tap
from tests.test_async_vendors import config, fast, keyed  # noqa: F401 (fast is a fixture)


def assert_same_keys(first: TapRun, second: TapRun, streams: dict[str, str]) -> None:
    """Rows both runs read (told apart by the vendor's own id column) have the same key in both."""
    for stream, identity in streams.items():
        before = {row[identity]: key for key, row in keyed(first.records[stream]).items()}
        after = {row[identity]: key for key, row in keyed(second.records[stream]).items()}
        again = before.keys() & after.keys()
        assert again, f"{stream}: the second run read nothing again"
        moved = {i: (before[i], after[i]) for i in again if before[i] != after[i]}
        assert not moved, f"{stream}: {len(moved)} of {len(again)} re-read rows got a new key, e.g. {next(iter(moved.values()))}"


def test_rows_read_again_keep_their_keys(fresh_sandbox, fast) -> None:  # noqa: F811
    cfg = config(fresh_sandbox, ("foxycart", "flipkart"), "2026-10-28", "2026-11-06",
                 foxycart={"reports": ["transactions"]})
    catalog = catalog_selecting(cfg, ["foxycart_transactions", "flipkart_orders_report"])
    first = run_tap(cfg, catalog=catalog, env=fast).ok()
    second = run_tap({**cfg, "end_date": "2026-11-08"}, catalog=catalog, state=first.last_state, env=fast).ok()
    assert_same_keys(first, second, {"foxycart_transactions": "id", "flipkart_orders_report": "order_item_id"})


def test_a_backfill_from_an_earlier_start_date_keeps_the_keys_of_rows_already_loaded(fresh_sandbox, fast) -> None:  # noqa: F811
    # 2026-11-04 is a Wednesday: the first run's first window is the grid week from Monday 2026-11-02.
    cfg = config(fresh_sandbox, ("foxycart", "flipkart"), "2026-11-04", "2026-11-20",
                 foxycart={"reports": ["customers"]})
    catalog = catalog_selecting(cfg, ["foxycart_customers", "flipkart_orders_report"])
    first = run_tap(cfg, catalog=catalog, env=fast).ok()
    backfill = run_tap({**cfg, "start_date": "2026-10-25"}, catalog=catalog, env=fast).ok()
    assert_same_keys(first, backfill, {"foxycart_customers": "id", "flipkart_orders_report": "order_item_id"})
    # The plan says why it reads from Monday: once for the run, not on every partition's line.
    assert first.stderr.count("report windows lie on a 7-day grid in the vendor's time zone") == 1
    assert "foxycart_customers: no bookmark; starting at start_date 2026-11-04T00:00:00Z: 3 report job(s) from 2026-11-02" \
        in first.stderr
