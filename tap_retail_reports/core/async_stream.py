"""Streams whose reports come from asynchronous vendor jobs: every job planned before any stream syncs,
so that the vendors make all the reports at once, then each window's file read in window order.

The bookmark is a low-water mark (a failed window holds it, later windows still emit) and the jobs in
flight are in STATE from their creation, so a run that dies resumes them (docs/state.md). How a file's
rows become records is core/file_stream.py's.
"""

from __future__ import annotations

import copy
import csv
import datetime as dt
import typing as t

from tap_retail_reports.core.async_jobs import JobRunner
from tap_retail_reports.core.environment import CertificateProblem
from tap_retail_reports.core.file_formats import file_format
from tap_retail_reports.core.file_stream import FileReportStream
from tap_retail_reports.core.files import report_tables
from tap_retail_reports.core.job_model import JobRecord, JobRepository, JobResult, JobSpec, PollSchedule
from tap_retail_reports.core.job_state import PartitionJobs
from tap_retail_reports.core.outage import VendorUnavailable
from tap_retail_reports.core.streams import for_context
from tap_retail_reports.core.tables import Table, UnreadableFile
from tap_retail_reports.core.windows import (
    UTC,
    Window,
    iso,
    local_day_windows,
    local_midnight,
    on_grid,
    resume_from,
)

if t.TYPE_CHECKING:
    from singer_sdk.helpers.types import Context

class AsyncReportStream(FileReportStream):
    """A report made by vendor jobs. A vendor subclass supplies `repository()`, `job_params()` and, when its
    windows are not plain local days, `job_windows()`."""

    primary_keys = ("_source_file", "_report_window_start", "_row_number")
    replication_key = "_report_window_start"
    is_sorted = False
    default_window_days: t.ClassVar[int] = 7
    default_lookback_days = 2
    takes_whole_days: t.ClassVar[bool] = False  # the vendor's reports cover whole local days (dates, not times)
    report_name: t.ClassVar[str]  # the vendor's name for the report; single-file downloads take it as file name
    path = ""  # requests go to the URLs the vendor hands out (see ReportStream.call)
    # The file formats the vendor sends (as `core.file_formats.sniff` names them); another is a failed download.
    download_formats: t.ClassVar[frozenset[str] | None] = None

    # Test knobs: the engine's waits (core/job_model.py PollSchedule), shortened by tests that run the tap
    # as a command. The share is what a report's latency depends on: with every wait scaled, it stays.
    poll_first_seconds: t.ClassVar[float] = 1.5
    poll_share: t.ClassVar[float] = 0.15
    poll_cap_seconds: t.ClassVar[float] = 120.0
    retry_wait_seconds: t.ClassVar[float] = 30.0

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        # Learned columns are added to the schema: each instance gets its own copy.
        self.schema = copy.deepcopy(type(self).schema)  # type: ignore[misc,arg-type]  # streams declare schema as a class dict
        super().__init__(*args, **kwargs)
        self._plans: dict[tuple, list[JobSpec]] = {}

    # -- what the vendor supplies ----------------------------------------------------

    def repository(self) -> JobRepository:
        raise NotImplementedError

    def job_params(self, window: Window, context: Context | None) -> dict:
        raise NotImplementedError

    @property
    def vendor_timezone(self) -> dt.tzinfo:
        """The zone of the vendor's days and of naive times in its files."""
        return UTC

    @property
    def window_days(self) -> int:
        return self.default_window_days

    @property
    def concurrent_windows(self) -> int:
        """The vendor's ceiling of requests at once (core/pace.py): its jobs run `max_concurrent_jobs` at a time."""
        return self.run.max_concurrent_jobs

    @property
    def concurrency_setting(self) -> str:
        return "max_concurrent_jobs"

    def job_windows(self, context: Context | None) -> list[Window]:
        """Local-day windows in the vendor's zone from the bookmark (less the lookback) to the end, on a
        fixed grid: a window read again is the window the first run read, so its rows keep their keys."""
        bookmark = self.bookmark(context)
        start = resume_from(bookmark, self.start_date, self.lookback_days)
        self.warn_if_past_end(bookmark, start)
        zone = self.vendor_timezone
        grid_start = local_midnight(on_grid(start.astimezone(zone).date(), self.window_days), zone)
        end = self.read_until()
        windows = list(local_day_windows(grid_start, end, self.window_days, zone))
        if windows and windows[0].start < start and self.run.first_time("grid"):
            self.logger.info("report windows lie on a %d-day grid in the vendor's time zone: a run starts at the grid "
                             "window holding its start, and rows read again keep their keys (docs/state.md)",
                             self.window_days)
        self.log_plan(context, bookmark, start, windows, end)
        return windows

    def read_until(self) -> dt.datetime:
        """The end of what this run reads: the run's end, or for a vendor whose reports take whole
        local days, the last of its midnights at or before it (the part day is the next run's)."""
        if not self.takes_whole_days:
            return self.end_date
        zone = self.vendor_timezone
        return local_midnight(self.end_date.astimezone(zone).date(), zone)

    def log_plan(self, context: Context | None, bookmark: dt.datetime | None, start: dt.datetime,
                 windows: list[Window], end: dt.datetime | None = None, *, origin: str | None = None,
                 note: str = "") -> None:
        """One line per partition: where it starts and why (or `origin`), how many jobs, and `note`; once per
        vendor, where its runs stop short of the run's end (whole local days)."""
        if end is not None and end < self.end_date and self.run.first_time(f"{self.vendor}.whole days"):
            self.logger.info("%s reports take whole days: this run reads up to %s, the last midnight in %s; the part "
                             "day after it is the next run's", self.vendor, iso(end), self.vendor_timezone)
        if origin is None:
            origin = (f"resuming from bookmark {iso(bookmark)} less {self.lookback_days} lookback day(s)"
                      if bookmark is not None else f"no bookmark; starting at start_date {iso(start)}")
        self.logger.info("%s%s: %s: %d report job(s)%s%s", self.name, for_context(context), origin, len(windows),
                         f" from {iso(windows[0].start)}" if windows else "", note)

    # -- planning (main thread) -------------------------------------------------------

    @property
    def job_origin(self) -> str:
        """The vendor account this stream's jobs are made at: a stored job made elsewhere is not resumed."""
        return self.url_base

    def partition_jobs(self, context: Context | None) -> PartitionJobs:
        """The jobs in flight of one partition, in its STATE."""
        return PartitionJobs(self.get_context_state(context), self.job_origin, self.name, self.logger)

    def plan(self) -> int:
        """Submit every job this stream needs in this run, for every partition; return how many. The tap
        calls it before any stream syncs; a stream the SDK syncs by itself (`--test`) plans when it starts."""
        self.run.listen(self.name, self.remember_job)
        runner = self.runner()
        count = 0
        partitions = self.partitions
        for context in [*partitions] if partitions else [None]:
            jobs = self.partition_jobs(context)
            planned: list[tuple[JobSpec, JobRecord | None]] = []
            for window in self.job_windows(context):
                stored = jobs.stored(window.start)
                if stored is not None and stored.window.end < window.end:
                    # A run that died left the job of its open window: it ended at that run's "now".
                    # Its rows are read as it was made, the bookmark stops at its end, the next run goes on.
                    self.logger.info("%s: resuming the stored job of the open window %s; reading up to its end, "
                                     "the next run continues from there", self.name, stored.window)
                    planned.append((self.job_spec(stored.window, context), stored.record))
                    break
                same = stored is not None and stored.window == window
                planned.append((self.job_spec(window, context), stored.record if stored and same else None))
            jobs.keep_only(spec.window.start for spec, _ in planned)
            for spec, record in planned:
                self.run.submit(spec, lambda spec=spec, record=record: self.run_job(runner, spec, record),  # type: ignore[misc]  # defaults bind this spec
                                record.created_at if record is not None else None)
            self._plans[_partition_key(context)] = [spec for spec, _ in planned]
            count += len(planned)
        return count

    def run_job(self, runner: JobRunner, spec: JobSpec, record: JobRecord | None) -> JobResult:
        """In a worker: one job to its file. A vendor lost meanwhile (credentials refused, down, a certificate
        not accepted) ends the job quietly, kept in STATE: the stream reports that once for the vendor."""
        try:
            try:
                return runner.run(spec, record, self.file_name(spec))
            except CertificateProblem as problem:  # a download's: its storage host, read with the same settings
                raise self.health.lose(f"{self.vendor}: {problem}") from None
        except VendorUnavailable as lost:
            return JobResult(spec, error=str(lost), resumable=True, vendor_lost=lost)

    def job_spec(self, window: Window, context: Context | None) -> JobSpec:
        return JobSpec(self.name, _partition_key(context), window, self.job_params(window, context))

    def file_name(self, spec: JobSpec) -> str:
        """The `_source_file` of a download that is a single CSV: stable across runs, unlike job ids."""
        return f"{self.report_name}.csv"

    def runner(self) -> JobRunner:
        scheduler = self.run.scheduler
        return JobRunner(
            repository=self.repository(),
            downloader=self.run.downloader,
            logger=self.logger,
            timeout_seconds=self.run.job_timeout_seconds,
            schedule=PollSchedule(first=self.poll_first_seconds, share=self.poll_share, cap=self.poll_cap_seconds),
            retry_wait_seconds=self.retry_wait_seconds,
            formats=self.download_formats,
            sleep=self.health.waits(scheduler.sleep),  # a vendor lost meanwhile ends the wait at once
            stopping=scheduler.stopping,
            on_created=scheduler.created,
            claim_disk=scheduler.claim_disk,
            release_disk=scheduler.release_disk,
        )

    def remember_job(self, spec: JobSpec, record: JobRecord | None) -> None:
        """On the main thread: a job was created (record) or is finished with (None); write STATE."""
        jobs = self.partition_jobs(spec.context)
        if record is None:
            jobs.forget(spec.window)
        else:
            jobs.created(spec.window, record)
        self.write_state_now()

    # -- syncing (main thread) -------------------------------------------------------

    planning_failed: BaseException | None = None  # the vendor refused while the tap planned this stream's jobs

    def get_records(self, context: Context | None) -> t.Iterable[dict]:
        if self.planning_failed is not None:
            raise self.planning_failed  # this stream fails (see ReportStream.sync); the others go on
        if _partition_key(context) not in self._plans:
            self.plan()  # synced without the tap's up-front planning
        pending = self._plans.pop(_partition_key(context), [])
        jobs = self.partition_jobs(context)
        partition = self.state_manager.get_state_partition_context(context) or {}
        first_failed: Window | None = None  # the first window that failed: the bookmark stays before it
        vendor_lost: Exception | None = None  # said once, for the vendor, when this partition is done
        try:
            while pending:
                spec = pending.pop(0)
                result = self.run.result(spec)
                self.count_job(result)
                if result.error is None and result.path is not None:
                    arrived = dt.datetime.fromtimestamp(result.path.stat().st_mtime, UTC)  # the file's last byte
                    try:
                        if self.fast_path and file_format(result.path) != "xlsx":  # a workbook's cells are typed
                            # Written here; nothing goes back to the SDK's loop.
                            self.write_records(self.files_of(result), partition, arrived)
                        else:
                            self.extracted_at = arrived
                            yield from self.rows_of(self.files_of(result))
                    except (csv.Error, UnicodeError, OSError, UnreadableFile) as exc:
                        result.error = f"{spec}: the downloaded file cannot be read as CSV: {exc}"
                    finally:
                        result.path.unlink(missing_ok=True)
                if result.vendor_lost is not None:
                    vendor_lost = vendor_lost or result.vendor_lost
                    first_failed = first_failed or spec.window
                elif result.error is not None:
                    self.logger.error("%s", result.error)  # said now; the run's summary repeats it at the end
                    self.run.record_failure(self.name, result.error)
                    first_failed = first_failed or spec.window
                if not result.resumable:
                    jobs.forget(spec.window)
                if first_failed is None:
                    self.checkpoint(context, spec.window.end)
                else:
                    self.write_state_now()
        finally:
            for spec in pending:  # the SDK stopped this stream early (a record limit): nobody takes these
                self.run.cancel(spec)
        if vendor_lost is not None:
            raise vendor_lost  # the stream stops; ReportStream.sync says it once for the vendor

    def sync(self, context: Context | None = None) -> None:  # type: ignore[misc]  # ReportStream wraps the SDK's final sync
        try:
            super().sync(context)
        finally:
            if context is None:  # partitions a failure left unread: nobody takes their jobs
                for specs in self._plans.values():
                    for spec in specs:
                        self.run.cancel(spec)
                self._plans.clear()

    def count_job(self, result: JobResult) -> None:
        """The job's figures, for the stream's summary line."""
        self.stats.add(jobs=1, job_creations=result.creations, polls=result.polls, downloads=result.downloads,
                       requests=result.downloads, job_wait=result.waited)

    def files_of(self, result: JobResult) -> t.Iterator[tuple[Table, dict[str, str]]]:
        """The tables of a job's download, each with the file fields its rows get."""
        spec = result.spec
        assert result.path is not None
        window = {"_report_window_start": iso(spec.window.start), "_report_window_end": iso(spec.window.end)}
        # Files of two partitions (warehouses) may share a name: the key must tell them apart.
        prefix = "".join(f"{value}/" for _, value in spec.partition)
        for table in report_tables(result.path, result.file_name):
            source = prefix + table.name
            table.where, table.logger = f"{spec}: {source}", self.logger
            yield table, {"_source_file": source, **window}


def _partition_key(context: Context | None) -> tuple:
    return tuple(sorted((context or {}).items()))
