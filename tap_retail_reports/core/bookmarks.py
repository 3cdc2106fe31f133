"""A windowed stream's STATE: the bookmark is the end (exclusive) of the last finished window, written as soon
as its rows are out, so that a run that dies resumes at the first window it did not finish (less the lookback)."""

from __future__ import annotations

import typing as t

from tap_retail_reports.core import sdk
from tap_retail_reports.core.windows import iso, parse_when

if t.TYPE_CHECKING:
    import datetime as dt

    from singer_sdk.helpers.types import Context, Record

    from tap_retail_reports.core.sdk import BaseBatchFileEncoding, BatchConfig
    from tap_retail_reports.core.streams import ReportStream

    _Stream = ReportStream
else:
    _Stream = object  # a mixin of WindowedStream (core/streams.py), typed against the stream it is part of


def for_context(context: Context | None) -> str:
    """A partition for a log line, in words: " for warehouse_id BLR01", or "" for none."""
    return " for " + ", ".join(f"{key} {value}" for key, value in context.items()) if context else ""


class WindowBookmarks(_Stream):
    """Bookmarks per finished window, in place of the SDK's per-record ones."""

    def bookmark(self, context: Context | None) -> dt.datetime | None:
        """The partition's bookmark, if STATE holds a readable one of this stream's replication key."""
        state = self.get_context_state(context)
        value = state.get("replication_key_value")
        if value is None or state.get("replication_key") != self.replication_key:
            return None
        try:
            return parse_when(value)
        except ValueError:
            self.logger.warning("%s: ignoring unreadable bookmark %r in STATE", self.name, value)
            return None

    def checkpoint(self, context: Context | None, done_until: dt.datetime) -> None:
        """Every row before `done_until` is out: move the bookmark there and write STATE (in BATCH mode,
        once the batch file holding them is; see `get_batches`)."""
        if self._unbatched_checkpoints is not None:
            self._unbatched_checkpoints.append((context, done_until))
        else:
            self._advance_bookmark(context, done_until)
            self.run.pump_job_events()  # jobs other streams created meanwhile
            self.write_state_now()
        self.stats.add(windows=1)
        if self.stats.progress_due():
            planned = self.stats["windows_planned"]
            self.logger.info(
                "%s%s: progress: %d%s window(s) done, through %s; %s so far",
                self.name, for_context(context), self.stats["windows"],
                f" of {planned:.0f}" if planned else "", iso(done_until), self.stats.describe(),
            )

    def _advance_bookmark(self, context: Context | None, done_until: dt.datetime) -> None:
        state = self.get_context_state(context)
        state["replication_key"] = self.replication_key
        state["replication_key_value"] = iso(done_until)
        self.state_manager.finalize_state(state)

    def write_state_now(self) -> None:
        """Write STATE even when no record came since the last one (the SDK skips it then)."""
        sdk.write_state(self)

    _unbatched_checkpoints: list[tuple[Context | None, dt.datetime]] | None = None  # a list in BATCH mode

    def get_batches(
        self, batch_config: BatchConfig, context: Context | None = None
    ) -> t.Iterator[tuple[BaseBatchFileEncoding, list[str]]]:
        """BATCH mode: a checkpoint is applied after the BATCH message of the file that holds its rows (the SDK yields
        each file here before writing that message), so that a STATE never runs ahead of the data."""
        self._unbatched_checkpoints = []
        try:
            for encoding, manifest in super().get_batches(batch_config, context):
                covered, self._unbatched_checkpoints = self._unbatched_checkpoints, []
                yield encoding, manifest
                for checkpoint in covered:
                    self._advance_bookmark(*checkpoint)
            for checkpoint in self._unbatched_checkpoints:  # windows after the last file had no rows
                self._advance_bookmark(*checkpoint)
        finally:
            self._unbatched_checkpoints = None

    @sdk.STARTING_VALUE.override
    def _write_starting_replication_value(self, context: Context | None) -> None:
        """Skipped: `windows` logs where the stream starts and why (the SDK would log start_date, without the
        lookback, as a "bookmark value"), and `bookmark` reads STATE itself."""

    @sdk.INCREMENT_STATE.override
    def _increment_stream_state(self, latest_record: Record, *, context: Context | None = None) -> None:
        """Skipped: bookmarks advance per finished window (`checkpoint`); rows inside a window come in no order."""
