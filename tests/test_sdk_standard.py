"""The Singer SDK's standard tap tests, run against the bundled sandbox over loopback, every vendor configured.

They discover the catalog, sync every stream (the SDK's dry run, which syncs each stream by itself:
the asynchronous streams plan their own report jobs then) and check each record against its
schema, keys and replication key: what any Singer pipeline relies on.

The data is bounded by a few days (start_date) and by the report vendors' data span, never by a
record limit: a limit sends every stream through the SDK's per-record path, and these tests must
check the records of the path a run takes, the fast one (`test_windowed_streams_took_the_fast_path`).
"""

from __future__ import annotations

import atexit
import datetime as dt
import typing as t

import pytest
import requests
from singer_sdk.testing import SuiteConfig, get_tap_test_class
from singer_sdk.testing.tap_tests import StreamRecordSchemaMatchesCatalogTest

from tap_retail_reports.core.async_stream import AsyncReportStream
from tap_retail_reports.core.fast_records import RecordLines
from tap_retail_reports.core.streams import WindowedStream
from tap_retail_reports.sandbox.credentials import tap_config
from tap_retail_reports.sandbox.server import RunningSandbox
from tap_retail_reports.tap import VENDORS, TapRetailReports

# The factory needs the config when the module is collected, so the sandbox starts here.
_SANDBOX = RunningSandbox(seed=7).__enter__()
atexit.register(_SANDBOX.__exit__)
_BASE = f"http://127.0.0.1:{_SANDBOX.port}"

_today = dt.date.today()
START = _today - dt.timedelta(days=3)
CONFIG = {
    **tap_config(_BASE, vendors=tuple(vendor.key for vendor in VENDORS)),
    "start_date": START.isoformat(),
}
# The report vendors' data covers the run's days, and their jobs finish at once; the tap polls
# them soon (these tests run the tap in this process, so its class knobs are set here).
for _vendor in ("foxycart", "flipkart"):
    requests.post(f"{_BASE}/_sandbox/vendor/{_vendor}", timeout=10, json={
        "data_start": (START - dt.timedelta(days=7)).isoformat(), "data_end": _today.isoformat(),
        "processing_seconds": 0.1,
    }).raise_for_status()
AsyncReportStream.poll_first_seconds = 0.1
AsyncReportStream.poll_cap_seconds = 0.5

TestTapRetailReports = get_tap_test_class(
    TapRetailReports,
    config=CONFIG,
    # A month's MIR ledger is made only after the 7th of the next month: none in these few days.
    suite_config=SuiteConfig(max_records_limit=None, ignore_no_records_for_streams=["flipkart_mir_ledger"]),
)


@pytest.fixture(scope="class", autouse=True)
def fast_streams() -> t.Iterator[set[str]]:
    """The streams whose records were written by the fast record path (core/fast_records.py)."""
    seen: set[str] = set()
    flush = RecordLines.flush

    def noting_flush(lines: RecordLines) -> None:
        if lines.buffer:
            seen.add(lines.stream.name)
        flush(lines)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(RecordLines, "flush", noting_flush)
        yield seen


def windowed_streams_took_the_fast_path(self: t.Any, runner: t.Any, fast_streams: set[str]) -> None:
    windowed = {name for name, stream in TapRetailReports(config=CONFIG).streams.items()
                if isinstance(stream, WindowedStream)}
    with_records = {name for name, records in runner.records.items() if records}
    assert windowed & with_records, "no windowed stream wrote a record"
    assert windowed & with_records <= fast_streams, f"on the SDK's path: {sorted((windowed & with_records) - fast_streams)}"


TestTapRetailReports.test_windowed_streams_took_the_fast_path = windowed_streams_took_the_fast_path  # type: ignore[attr-defined]


class RecordFieldsAreAnnounced(StreamRecordSchemaMatchesCatalogTest):
    """The SDK's check that every record field is declared, read against the SCHEMA messages the tap
    wrote: a CSV stream declares the columns it learns from a file's header in a new SCHEMA message
    before the first row that has them, so the discovered catalog cannot list them."""

    def test(self) -> None:
        announced = set().union(*(message["schema"]["properties"] for message in self.runner.schema_messages
                                  if message["stream"] == self.stream.name))
        fields = set().union(*(record.keys() for record in self.stream_records))
        assert fields <= announced, f"Fields in records but in no SCHEMA message: {fields - announced}"


TestTapRetailReports.test_tap_stream_record_schema_matches_transformed_catalog = RecordFieldsAreAnnounced().run  # type: ignore[attr-defined]
