"""The fast record path of synchronous streams (WindowedStream.get_records with
core/fast_records.py `write_rows`) against the SDK's own per-record path.

For every stream of Vroom, Distribu and Retrend, both runs read the same sandbox answers; the fast
path must write the same RECORD messages (after JSON parsing) and the same final STATE, with a
subset of columns selected, a field the schema does not declare and values that do not fit their
type. Windows are read several at once (the vendors' defaults) in both runs.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tap_retail_reports.sandbox.credentials import tap_config
from tap_retail_reports.sandbox.server import RunningSandbox
from tests.conftest import catalog_selecting, env_setting_class_attributes, run_tap, set_faults
from tests.test_fast_path import SDK_PATH_LINE, deselect

OWNER = "tap_retail_reports.core.streams:WindowedStream"

# Per vendor: the days read, and the columns left out of the catalog's selection (typed and text ones,
# `_extra_fields` for one vendor).
CASES = {
    "vroom": (("2026-01-01", "2026-01-04"), ("customer_email", "tip", "quantity")),
    "distribu": (("2025-03-01", "2025-03-04"), ("customerName", "units", "_extra_fields")),
    "retrend": (("2025-03-01", "2025-03-04"), ("delta", "interest", "category")),
}
WRONG_TYPES = {"total": "N/A", "merchandise": "lots", "revenue": "N/A", "units": "many", "quantity": "2.5",
               "orders": "some", "conversations": "lots", "searches": "several", "count": "x"}


READ_TIMES = ("_read_at", "snapshot_at")  # when a run read a day's figures or took a snapshot: each run's own


def read_at_aside(rows: list[dict] | None) -> list[dict] | None:
    """The rows with the time of their reading only checked present."""
    if rows is None:
        return None
    return [{**row, **{name: bool(row[name]) for name in READ_TIMES if name in row}} for row in rows]


@pytest.mark.parametrize("vendor", sorted(CASES))
def test_the_fast_path_writes_the_records_of_the_sdk_path_for_sync_streams(fresh_sandbox: RunningSandbox,
                                                                           tmp_path: Path, vendor: str) -> None:
    (start, end), left_out = CASES[vendor]
    set_faults(fresh_sandbox, vendors=[vendor], extra_field={"loyalty_tier": "gold"}, wrong_type_field=WRONG_TYPES)
    cfg = tap_config(f"http://127.0.0.1:{fresh_sandbox.port}", vendors=(vendor,))
    cfg.update(start_date=start, end_date=end)
    discovered = catalog_selecting(cfg, [])
    streams = [entry["tap_stream_id"] for entry in discovered["streams"] if entry["tap_stream_id"].startswith(vendor)]
    catalog = deselect(catalog_selecting(cfg, streams), left_out)
    (tmp_path / "fast").mkdir()
    (tmp_path / "sdk").mkdir()
    fast = run_tap(cfg, catalog=catalog, env=env_setting_class_attributes(tmp_path / "fast", {})).ok()
    sdk = run_tap(cfg, catalog=catalog, env=env_setting_class_attributes(
        tmp_path / "sdk", {f"{OWNER}.fast_record_path": False})).ok()
    assert SDK_PATH_LINE not in fast.stderr and SDK_PATH_LINE in sdk.stderr
    assert sorted(fast.records) == sorted(sdk.records)
    for stream in streams:
        assert read_at_aside(fast.records.get(stream)) == read_at_aside(sdk.records.get(stream)), stream
    rows = [row for stream in streams for row in fast.records.get(stream, [])]
    assert rows
    assert all(name not in row for row in rows for name in left_out)
    # The new field: in `_extra_fields`, or a column of its own where the stream learns its figures (Retrend).
    assert any(row.get("loyalty_tier") == "gold" or "loyalty_tier" in (row.get("_extra_fields") or {})
               for row in rows) or "_extra_fields" in left_out
    if vendor == "vroom":  # values that did not fit their type, set aside
        assert any(set(row.get("_extra_fields") or {}) & set(WRONG_TYPES) for row in rows)
    assert [state for state in fast.states if "bookmarks" in state][-1] == sdk.last_state


def test_stream_maps_send_sync_records_through_the_sdk_path(fresh_sandbox: RunningSandbox) -> None:
    cfg = tap_config(f"http://127.0.0.1:{fresh_sandbox.port}", vendors=("vroom",))
    cfg.update(start_date="2026-01-01", end_date="2026-01-03",
               stream_maps={"vroom_orders": {"total_twice": "total * 2"}})
    run = run_tap(cfg, catalog=catalog_selecting(cfg, ["vroom_orders"])).ok()
    rows = run.records["vroom_orders"]
    assert rows and all(row["total_twice"] == row["total"] * 2 for row in rows)
    assert f"vroom_orders: {SDK_PATH_LINE}: stream maps are configured" in run.stderr
