"""The SDK's own entry points reach the asynchronous streams too: `--test` syncs each stream by
itself (no `sync_all`), so a FoxyCart or Flipkart stream plans and submits its own report jobs."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import run_tap
from tests.test_async_vendors import config, fast, knobs  # noqa: F401 (fast is a fixture)


def test_the_sdk_dry_run_reads_foxycart_and_flipkart(fresh_sandbox, fast) -> None:  # noqa: F811
    for vendor in ("foxycart", "flipkart"):
        knobs(fresh_sandbox, vendor, processing_seconds=0.2)
    cfg = config(fresh_sandbox, ("foxycart", "flipkart"), "2026-11-02", "2026-11-06")
    run = run_tap(cfg, args=["--test"], env=fast)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "no jobs were planned" not in run.stderr and "ERROR" not in run.stderr
    streams = {name for name, rows in run.records.items() if rows}
    assert {"foxycart_complete", "foxycart_customers", "flipkart_orders_report"} <= streams, streams
    # The dry run reads one record per stream: the jobs it did not wait for were dropped, not left running.
    assert all(len(rows) == 1 for rows in run.records.values())


def test_core_does_not_import_the_tap() -> None:
    """core/ is a library a sixth vendor or another tap could use: nothing in it reaches back up."""
    core = Path(__file__).parent.parent / "tap_retail_reports" / "core"
    offenders = [path.name for path in core.glob("*.py") if "tap_retail_reports.tap " in path.read_text()]
    assert not offenders
