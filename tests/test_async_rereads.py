"""A report window read again (the lookback) gives its rows the keys they had: the warehouse upserts them.

The key of a CSV row is (_source_file, _report_window_start, _row_number). A second run resumes two
days before its bookmark; its first window must start where the first run's window holding that day
started, or every re-read row arrives under a new key and is loaded twice.
"""

from __future__ import annotations

from tests.conftest import catalog_selecting, run_tap
from tests.test_async_vendors import config, fast, keyed  # noqa: F401 (fast is a fixture)


def test_rows_read_again_keep_their_keys(fresh_sandbox, fast) -> None:  # noqa: F811
    cfg = config(fresh_sandbox, ("foxycart", "flipkart"), "2026-10-28", "2026-11-06",
                 foxycart={"reports": ["transactions"]})
    catalog = catalog_selecting(cfg, ["foxycart_transactions", "flipkart_orders_report"])
    first = run_tap(cfg, catalog=catalog, env=fast).ok()
    second = run_tap({**cfg, "end_date": "2026-11-08"}, catalog=catalog, state=first.last_state, env=fast).ok()
    for stream, identity in (("foxycart_transactions", "id"), ("flipkart_orders_report", "order_item_id")):
        before = {row[identity]: key for key, row in keyed(first.records[stream]).items()}
        after = {row[identity]: key for key, row in keyed(second.records[stream]).items()}
        again = before.keys() & after.keys()
        assert again, f"{stream}: the second run read nothing again (no lookback?)"
        moved = {i: (before[i], after[i]) for i in again if before[i] != after[i]}
        assert not moved, f"{stream}: {len(moved)} of {len(again)} re-read rows got a new key, e.g. {next(iter(moved.values()))}"
