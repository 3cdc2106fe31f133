"""What a stream needs from the run it is part of (its bounds, the objects its streams share, the failures
that end it in error, the report job scheduler), in one object the tap hands its streams: so `core/`
knows nothing of the tap, and a sixth vendor, or another tap, builds on it as a library.
"""

from __future__ import annotations

import datetime as dt
import threading
import typing as t
from dataclasses import dataclass, field

from tap_retail_reports.core.download import Downloader
from tap_retail_reports.core.job_model import JobRecord, JobResult, JobSpec
from tap_retail_reports.core.run_outcome import RunFailures
from tap_retail_reports.core.scheduler import EventHandler, JobScheduler

if t.TYPE_CHECKING:
    import logging


@dataclass
class RunContext:
    """One run of the tap, as its streams see it. Created by the tap; every method is for streams."""

    start_date: dt.datetime  # the earliest moment the run reads
    end_date: dt.datetime  # the end (exclusive) of what the run reads, the same for every stream
    logger: logging.Logger
    max_concurrent_jobs: int = 8
    job_timeout_seconds: float = 7200.0
    user_agent: str = "tap-retail-reports"
    # Set on SIGINT/SIGTERM and when the run ends: job workers check it and stop.
    stop: threading.Event = field(default_factory=threading.Event)
    failures: RunFailures = field(default_factory=RunFailures)

    def __post_init__(self) -> None:
        self._shared: dict[str, t.Any] = {}
        self._shared_locks: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()
        self._scheduler: JobScheduler | None = None
        self._job_listeners: dict[str, EventHandler] = {}
        self._keys_seen: set[str] = set()

    # -- shared objects and failures ---------------------------------------------------

    def shared(self, key: str, factory: t.Callable[[], t.Any]) -> t.Any:
        """One object per key for the whole run: a vendor's rate limiter, its session token."""
        # A lock per key: building one object (a token, which may call the API) must not
        # block another, and may itself ask for a different one (the store needs the token).
        with self._lock:
            lock = self._shared_locks.setdefault(key, threading.Lock())
        with lock:
            if key not in self._shared:
                self._shared[key] = factory()
            return self._shared[key]

    def first_time(self, key: str) -> bool:
        """True the first time it is asked for `key` in this run: for an explanation logged once, not per stream."""
        with self._lock:
            if key in self._keys_seen:
                return False
            self._keys_seen.add(key)
            return True

    def record_failure(self, stream_name: str, reason: str) -> None:
        """Record a failure that ends the run in error without stopping it: a stream, or one
        window of it, that cannot be read this run. Thread-safe; `reason` is one line, redacted here.
        The caller keeps that stream's bookmark from passing what failed."""
        self.failures.add(stream_name, reason.removeprefix(f"{stream_name}: "))  # the summary names it already

    # -- asynchronous report jobs ------------------------------------------------------

    @property
    def scheduler(self) -> JobScheduler:
        """The run's job scheduler, started on first use (a run without report jobs starts none)."""
        with self._lock:
            if self._scheduler is None:
                self._scheduler = JobScheduler(self.max_concurrent_jobs, self.logger, self.stop)
            return self._scheduler

    @property
    def downloader(self) -> Downloader:
        return self.shared("run.downloader", lambda: Downloader(user_agent=self.user_agent))

    def listen(self, stream_name: str, handler: EventHandler) -> None:
        """Send the job events of `stream_name`'s jobs (created, done with) to `handler`, on the main thread."""
        self._job_listeners[stream_name] = handler

    def submit(self, spec: JobSpec, work: t.Callable[[], JobResult], created_at: float | None = None) -> None:
        self.scheduler.submit(spec, work, created_at)

    def result(self, spec: JobSpec) -> JobResult:
        """Wait for a submitted job's result, putting every stream's new jobs into STATE meanwhile."""
        return self.scheduler.result(spec, self._apply_job_event)

    def cancel(self, spec: JobSpec) -> None:
        """A submitted job whose result is no longer wanted (its stream stopped early)."""
        self.scheduler.cancel(spec)

    def pump_job_events(self) -> None:
        """Put jobs created meanwhile into STATE: called by any stream between windows, so that
        a job reaches STATE even while another vendor's stream is syncing."""
        if self._scheduler is not None:
            self._scheduler.pump(self._apply_job_event)

    def _apply_job_event(self, spec: JobSpec, record: JobRecord | None) -> None:
        self._job_listeners[spec.stream](spec, record)

    def close(self) -> None:
        """The run is over: stop the job workers (a job already created stays in STATE)."""
        if self._scheduler is not None:
            self._scheduler.shutdown()
