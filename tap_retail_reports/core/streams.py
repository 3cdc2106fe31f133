"""The base streams every vendor builds on.

`ReportStream` is a Singer SDK RESTStream with this project's policies, one concern a module: its calls
(core/vendor_calls.py: retries, rate limit and pace, one-line errors, the vendor's health), its records
(core/stream_records.py: typing, `_extra_fields`, new columns, the record path), and here the settings and
what one stream's failure does to the run. `WindowedStream` reads date windows and bookmarks each finished
window (core/bookmarks.py).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import sys
import typing as t

import requests
from singer_sdk.exceptions import (
    AbortedSyncFailedException,
    AbortedSyncPausedException,
    FatalAPIError,
    RetriableAPIError,
)
from singer_sdk.helpers.conform import TypeConformanceLevel

from tap_retail_reports.core.bookmarks import WindowBookmarks, for_context
from tap_retail_reports.core.catalog import undeclared_columns_message
from tap_retail_reports.core.errors import TapError
from tap_retail_reports.core.log_lines import MESSAGE_WIDTH, shortened
from tap_retail_reports.core.outage import VendorUnavailable
from tap_retail_reports.core.redact import redact
from tap_retail_reports.core.run_outcome import ReaderGone
from tap_retail_reports.core.run_stats import FULL_TABLE, NO_BOOKMARK_YET
from tap_retail_reports.core.stream_records import EXTRA_FIELDS, StreamRecords, add_extra_fields
from tap_retail_reports.core.window_fetcher import in_window_order
from tap_retail_reports.core.windows import UTC, Window, day_windows, iso, parse_when, resume_from

if t.TYPE_CHECKING:
    from singer_sdk.helpers.types import Context

__all__ = ["EXTRA_FIELDS", "STREAM_FAILURES", "ReportStream", "WindowedStream", "add_extra_fields", "for_context"]

# Failures that end one stream but not the run: the vendor refused, gave no usable answer,
# or kept failing after every retry. Anything else is a bug and stops the run.
STREAM_FAILURES = (FatalAPIError, RetriableAPIError, TapError, requests.RequestException)


def failure_reason(stream_name: str, error: BaseException) -> str:
    """One redacted line saying why a stream stopped, without the stream's name in front."""
    reason = str(error).removeprefix(f"{stream_name}: ")
    if isinstance(error, RetriableAPIError):
        reason = f"gave up after repeated failures: {reason}"
    elif isinstance(error, requests.RequestException):
        reason = f"network error: {type(error).__name__}: {reason}"
    return redact(" ".join(reason.split()))


class _DropRepeatedLines(logging.Filter):
    """Lines another line already gives, on a stream's logger: `backoff`'s per retry and give-up (see
    `backoff_handler` and the failure summary), and the SDK's "unhandled error" for a failure `sync` handles."""

    BACKOFF = re.compile(r"(Backing off|Giving up) \w+\(\.\.\.\) ")

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if self.BACKOFF.match(message):
            return False
        return not (
            message.startswith("An unhandled error occurred while syncing")
            # logged inside the SDK's `except`; a dry run's record limit (`--test`) is no error either
            and isinstance(sys.exc_info()[1], (*STREAM_FAILURES, AbortedSyncFailedException, AbortedSyncPausedException,
                                               ReaderGone))
        )


_DROP_REPEATED_LINES = _DropRepeatedLines()


class ReportStream(StreamRecords):
    """A vendor report over HTTP. Subclasses set `vendor` (the config key) and the usual SDK attributes."""

    default_lookback_days: t.ClassVar[int] = 1

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        self.logger.addFilter(_DROP_REPEATED_LINES)  # the same filter object is added once per logger

    # -- one stream's failure is not the run's ----------------------------------

    def sync(self, context: Context | None = None) -> None:  # type: ignore[misc]  # wraps the SDK's final sync
        """The SDK's sync; an expected failure is recorded for the run's summary, the bookmark stays at the last
        finished window, and the run goes on. A vendor-wide failure is logged by the first stream it stops."""
        try:
            super().sync(context)
        except STREAM_FAILURES as error:
            reason = failure_reason(self.name, error)
            if isinstance(error, VendorUnavailable):
                if self.health.is_new_failure(reason):  # the vendor's line: its other streams stop on it quietly
                    self.logger.error("%s", shortened(reason, MESSAGE_WIDTH))
                self.logger.info("%s: stopped by the %s failure above; its bookmark stays at %s",
                                 self.name, self.vendor, self.bookmark_text())
            else:
                stopped, kept = f"{self.name}: stopped: ", f"; its bookmark stays at {self.bookmark_text()}"
                self.logger.error("%s%s%s", stopped, shortened(reason, MESSAGE_WIDTH - len(stopped) - len(kept)), kept)
            self.run.record_failure(self.name, reason)

    @property
    def reads_regardless_of_dates(self) -> bool:
        """Whether the stream reads what the vendor has now, whatever the run's dates (full table, snapshots)."""
        return not self.replication_key

    def bookmark_text(self) -> str:
        """This stream's bookmark(s) for log lines: one value, a range over partitions, or none."""
        if not self.replication_key:
            return FULL_TABLE
        states = self.state_manager.get_state_partitions() or [self.stream_state]
        values = sorted(str(s["replication_key_value"]) for s in states if s.get("replication_key_value"))
        if not values:
            return NO_BOOKMARK_YET
        if values[0] == values[-1]:
            return values[0] if len(states) == 1 else f"{values[0]} ({len(states)} partitions)"
        return f"{values[0]} to {values[-1]} ({len(states)} partitions)"

    def log_sync_costs(self) -> None:
        """The SDK's end-of-stream hook: one summary line per selected stream, and the columns it typed
        from the data that the catalog does not declare (with a block that pins them)."""
        if self.selected:
            self.logger.info("%s: summary: %s; bookmark %s", self.name, self.stats.describe(), self.bookmark_text())
            columns = self.undeclared_columns()
            block = undeclared_columns_message(self.name, columns)
            if block is None:
                return
            if set(columns) & self.newly_typed_columns():
                self.logger.info("%s", block)
            else:  # as an earlier run's STATE had them: that run said the block, said again at DEBUG only
                self.logger.info("%s: %d column(s) typed from the data are not in the catalog; their types are kept in "
                                 "STATE (the block that pins them: at DEBUG)", self.name, len(columns))
                self.logger.debug("%s", block)

    def undeclared_columns(self) -> t.Mapping[str, t.Any]:
        """The columns this run typed from the data that neither the tap nor the catalog declares."""
        return {}

    def newly_typed_columns(self) -> set[str]:
        """The columns this run typed otherwise than an earlier run's STATE had them (or had not)."""
        return set()

    # -- settings ---------------------------------------------------------------

    @property
    def lookback_days(self) -> int:
        value = self.config.get("lookback_days")
        return self.default_lookback_days if value is None else int(value)

    @property
    def start_date(self) -> dt.datetime:
        return self.run.start_date

    @property
    def end_date(self) -> dt.datetime:
        return self.run.end_date


class WindowedStream(WindowBookmarks, ReportStream):
    """A date-ranged report fetched window by window, bookmarked after each window (core/bookmarks.py)."""

    window_days_setting: t.ClassVar[str | None] = None  # vendor setting naming the window size
    fixed_window_days: t.ClassVar[int | None] = None  # reports whose rows are per window (per-day aggregates)
    _warned_past_end = False  # see warn_if_past_end

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        if not any("properties" in prop or "items" in prop for prop in self.schema["properties"].values()):
            # post_process (SchemaCoercion) has typed every top-level value as the schema says; with no
            # nested object or array, the SDK's conformance pass per record would only repeat it.
            self.TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE

    @property
    def window_days(self) -> int:
        if self.fixed_window_days:
            return self.fixed_window_days
        if self.window_days_setting:
            return int(self.vendor_config.get(self.window_days_setting) or 1)
        return 1

    def warn_if_past_end(self, bookmark: dt.datetime | None, start: dt.datetime) -> None:
        """A bookmark that puts this run's first window at or after end_date: a warning, once per stream.
        (A start_date in the future is the tap's to warn of, once for the run.)"""
        if bookmark is None or start < self.end_date or self._warned_past_end:
            return
        self._warned_past_end = True
        self.logger.warning("%s: end_date %s is before this run's first window, at %s (the bookmark less %d lookback "
                            "day(s)): nothing to read", self.name, iso(self.end_date), iso(start), self.lookback_days)

    def windows(self, context: Context | None) -> list[Window]:
        bookmark = self.bookmark(context)
        start = resume_from(bookmark, self.start_date, self.lookback_days)
        self.warn_if_past_end(bookmark, start)
        windows = list(day_windows(start, self.end_date, self.window_days))
        self.stats.add(windows_planned=len(windows))
        where = for_context(context)
        planned = f"{len(windows)} window(s) from {iso(windows[0].start)}" if windows else "no window to read"
        if bookmark is None:
            self.logger.info("%s%s: no bookmark; starting at start_date %s: %s", self.name, where, iso(start), planned)
        else:
            self.logger.info("%s%s: resuming from bookmark %s less %d lookback day(s): %s",
                             self.name, where, iso(bookmark), self.lookback_days, planned)
        return windows

    def get_records(self, context: Context | None) -> t.Iterable[dict]:
        """Each window's rows, then its bookmark. Windows are fetched on up to `concurrent_windows` worker threads
        (as many at once as the vendor's pace allows) and emitted in window order (core/window_fetcher.py); on the
        fast path the rows are written here as RECORD lines. Either way they are out before the window's STATE."""
        windows = self.windows(context)
        _ = self.requests_session  # made here, once: workers share it (and its rate limiter)
        write = self.record_writer(context)
        timed_rows = t.cast("t.Callable[[Window], t.Iterable[dict]]", lambda window: self.timed_rows(window, context))
        for window, rows in in_window_order(windows, timed_rows, self.concurrent_windows, self.name,
                                              stop=self.run.stop):
            pairs = t.cast("t.Iterable[tuple[dt.datetime, dict]]", rows)  # (when its answer arrived, row)
            if write is None:
                for self.extracted_at, row in pairs:
                    yield row
            else:
                write(pairs)
            self.checkpoint(context, window.end)

    def timed_rows(self, window: Window, context: Context | None) -> t.Iterator[tuple[dt.datetime, dict]]:
        """(when its answer arrived, row) for each row of a window, on whichever thread reads it."""
        for row in self.records_in_window(window, context):
            yield self.last_answer_at() or dt.datetime.now(UTC), row

    def records_in_window(self, window: Window, context: Context | None) -> t.Iterable[dict]:
        """The rows of one window. Request hooks get the window from `window_of(context)`;
        it travels as ISO strings so that metric lines can show it."""
        return self.request_records(
            {**(context or {}), "window_start": iso(window.start), "window_end": iso(window.end)}
        )

    @staticmethod
    def window_of(context: Context | None) -> Window:
        assert context and "window_start" in context, "called outside records_in_window"
        return Window(parse_when(context["window_start"]), parse_when(context["window_end"]))
