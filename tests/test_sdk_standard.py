"""The Singer SDK's standard tap tests, run against the bundled sandbox over loopback, every vendor configured.

They discover the catalog, sync every stream (the SDK's dry run, which syncs each stream by itself:
the asynchronous streams plan their own report jobs then) and check each record against its
schema, keys and replication key: what any Singer pipeline relies on.

The data is bounded by a few days (start_date) and by the report vendors' data span, never by a
record limit: a limit sends every stream through the SDK's per-record path, and these tests must
check the records of the path a run takes, the fast one (`test_windowed_streams_took_the_fast_path`).
"""

from __future__ import annotations

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

START, END = dt.date(2026, 10, 5), dt.date(2026, 10, 8)  # past days: the same run on any date
# The factory needs the config when the module is collected; the sandbox behind it starts only when
# these tests run (`sandbox_behind_the_config`), which sets its port in this same dict.
CONFIG = {
    **tap_config("http://127.0.0.1:9", vendors=tuple(vendor.key for vendor in VENDORS)),
    "start_date": START.isoformat(),
    "end_date": END.isoformat(),
}


@pytest.fixture(scope="module", autouse=True)
def sandbox_behind_the_config() -> t.Iterator[None]:
    """A sandbox for these tests, whose report jobs finish at once; the tap (run in this process) polls them soon."""
    with RunningSandbox(seed=7) as running, pytest.MonkeyPatch.context() as patch:
        base = f"http://127.0.0.1:{running.port}"
        for vendor, settings in tap_config(base, vendors=tuple(vendor.key for vendor in VENDORS)).items():
            CONFIG[vendor]["base_url"] = settings["base_url"]
        for vendor in ("foxycart", "flipkart"):  # the report vendors' data covers the run's days
            requests.post(f"{base}/_sandbox/vendor/{vendor}", timeout=10, json={
                "data_start": (START - dt.timedelta(days=7)).isoformat(), "data_end": END.isoformat(),
                "processing_seconds": 0.1,
            }).raise_for_status()
        patch.setattr(AsyncReportStream, "poll_first_seconds", 0.1)
        patch.setattr(AsyncReportStream, "poll_cap_seconds", 0.5)
        yield


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
