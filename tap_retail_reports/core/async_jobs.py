"""One asynchronous report job, driven in a worker thread from creation (or a job stored in STATE) to
a verified file on disk; a failed, expired, lost or late job is created again. What the tap does in
each case is tabled in docs/streams.md ("Asynchronous reports")."""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
import typing as t
from dataclasses import dataclass, field
from pathlib import Path

from tap_retail_reports.core.download import Downloader, DownloadFailed, LinkExpired
from tap_retail_reports.core.file_formats import CorruptFile, verify
from tap_retail_reports.core.job_model import (
    JobRecord,
    JobRepository,
    JobResult,
    JobSpec,
    JobStatus,
    Poll,
    PollSchedule,
    UnknownJobStatus,
)
from tap_retail_reports.core.redact import redact
from tap_retail_reports.core.windows import iso

MAX_ATTEMPTS = 3  # jobs created per window before the window fails for good
DOWNLOAD_TRIES = 3  # fetches of one link (truncated, corrupt, 5xx) before the job is re-created
LINK_REFRESHES = 3  # fresh links asked of the vendor before the job is re-created
STORED_JOB_MAX_AGE = 24 * 3600.0  # a stored job older than this is re-created: its report may be stale
# A link this close to its stated expiry (or to a fifth of its stated life) after a wait for disk is swapped.
NEAR_EXPIRY_SECONDS = 60.0


class JobGone(Exception):
    """The vendor no longer knows the job (404/410 on a poll): purged, or another environment's."""


def http_status(error: BaseException) -> int | None:
    """The HTTP status behind an API error, when it carries its response."""
    status = getattr(getattr(error, "response", None), "status_code", None)
    return status if isinstance(status, int) else None


@dataclass
class JobRunner:
    """Drives one job from creation (or a stored job) to a verified file."""

    repository: JobRepository
    downloader: Downloader
    logger: logging.Logger
    timeout_seconds: float  # the window's budget in this run, every attempt together
    schedule: PollSchedule = field(default_factory=PollSchedule)
    retry_wait_seconds: float = 30.0  # between a failed job and its re-creation
    log_wait_over: float = 5.0  # polls and waits longer than this are logged at INFO
    max_stored_age_seconds: float = STORED_JOB_MAX_AGE
    formats: t.Collection[str] | None = None  # the file formats the vendor sends (None: any report format)
    clock: t.Callable[[], float] = time.time
    sleep: t.Callable[[float], None] = time.sleep
    stopping: threading.Event = field(default_factory=threading.Event)
    on_created: t.Callable[[JobSpec, JobRecord], None] = lambda spec, record: None
    # Bound the files waiting on disk: `claim_disk` may block until the stream has read others.
    # Given the link's stated expiry (the order of places); returns whether it waited.
    claim_disk: t.Callable[[JobSpec, float | None], bool] = lambda spec, link_expires_at: False
    release_disk: t.Callable[[JobSpec], None] = lambda spec: None
    download_wait_first: t.ClassVar[float] = 2.0  # before the second fetch of a link; doubles, capped at 30 s

    def run(self, spec: JobSpec, stored: JobRecord | None, file_name: str) -> JobResult:
        """The job's verified file, or why its window failed: never raises for the vendor's failures."""
        result = JobResult(spec, file_name=file_name)
        deadline = self.clock() + self.timeout_seconds
        record = self._trusted(spec, stored)
        attempt = record.attempt if record is not None else 0
        problem = ""
        while True:
            if record is None:
                if attempt >= MAX_ATTEMPTS:
                    result.error = f"{spec}: gave up after {attempt} job(s): {problem}"
                    return result
                if attempt and self.clock() < deadline:
                    wait = min(self.retry_wait_seconds, deadline - self.clock())
                    self._wait(spec, wait, f"before re-creating the job ({problem})", result)
                if self.clock() >= deadline:  # checked after the wait: no job is made to be abandoned at once
                    result.error = (f"{spec}: gave up after {self.timeout_seconds / 60:g} min "
                                    f"(job_timeout_minutes, every attempt together): {problem}")
                    return result
                attempt += 1
                job_id = self.repository.create(spec)
                result.creations += 1
                record = JobRecord(job_id, dict(spec.params), self.clock(), attempt)
                self.on_created(spec, record)
                self.logger.info("%s: created job %s (attempt %d of %d)", spec, job_id, attempt, MAX_ATTEMPTS)
            else:
                self.logger.info("%s: resuming job %s from STATE", spec, record.job_id)
            try:
                poll = self._until_settled(spec, record, result, deadline)
                if poll.status is JobStatus.DONE:
                    path, problem = self._download(spec, record, poll, result)
                    if path is not None:
                        result.path = path
                        return result
                elif poll.status is JobStatus.FAILED:
                    problem = f"job {record.job_id} ended with status {poll.vendor_status!r}"
                elif poll.status is JobStatus.EXPIRED:
                    problem = f"job {record.job_id} expired (status {poll.vendor_status!r})"
                else:  # still running past the deadline
                    problem = (f"job {record.job_id} still {poll.vendor_status!r} after "
                               f"{self.timeout_seconds / 60:g} min (job_timeout_minutes)")
            except JobGone as exc:
                problem = str(exc)
            self.logger.warning("%s: %s", spec, problem)
            record = None

    def _trusted(self, spec: JobSpec, stored: JobRecord | None) -> JobRecord | None:
        """The stored job, unless it was made with other parameters or is too old to trust."""
        if stored is None:
            return None
        if stored.params != dict(spec.params):
            self.logger.info("%s: stored job %s was created with other parameters; creating a new one",
                             spec, stored.job_id)
            return None
        age = self.clock() - stored.created_at
        if age > self.max_stored_age_seconds:
            self.logger.info("%s: stored job %s is %.0f h old (over %.0f h): its report may be stale; creating a new one",
                             spec, stored.job_id, age / 3600, self.max_stored_age_seconds / 3600)
            return None
        return stored

    def _poll(self, record: JobRecord, result: JobResult) -> Poll:
        try:
            poll = self.repository.poll(record.job_id)
        except UnknownJobStatus as exc:
            # Not guessed at: polled on like a running job, until the deadline. Warned once per status.
            if exc.vendor_status not in result.unknown_statuses:
                result.unknown_statuses.add(exc.vendor_status)
                self.logger.warning("%s", exc)
            poll = Poll(JobStatus.RUNNING, exc.vendor_status)
        except Exception as exc:
            if http_status(exc) in (404, 410):
                raise JobGone(f"job {record.job_id} is unknown to the vendor (HTTP {http_status(exc)}): "
                              "purged, or made elsewhere; creating a new one") from None
            raise
        result.polls += 1
        return poll

    def _until_settled(self, spec: JobSpec, record: JobRecord, result: JobResult, window_deadline: float) -> Poll:
        """Poll until the job is no longer running, or a deadline passes: the job's (from its creation)
        or the window's (from the start of this run's work on it)."""
        deadline = min(record.created_at + self.timeout_seconds, window_deadline)
        while True:
            poll = self._poll(record, result)
            if poll.status is not JobStatus.RUNNING:
                return poll
            now = self.clock()
            if now >= deadline:
                return poll
            age = max(now - record.created_at, 0.0)  # a resumed job's age counts from its creation, in an earlier run
            delay = min(self.schedule.delay(age), max(deadline - now, 0.0))
            # Progress is one line per stream every 30 s (JobScheduler.log_progress); this one per poll is detail.
            self.logger.debug("%s: job %s is %r at %.1fs old; next poll in %.1fs",
                              spec, record.job_id, poll.vendor_status, age, delay)
            self.sleep(delay)
            result.waited += delay

    def _download(self, spec: JobSpec, record: JobRecord, poll: Poll, result: JobResult) -> tuple[Path | None, str]:
        """Fetch and verify the job's file; (path, "") or (None, why the job must be re-created). The link
        is always tried: its stated expiry is only a hint, whose zone or unit may be read wrongly."""
        refreshes = 0
        failures = 0  # failed fetches of the current link (an expired link is not the file's fault)
        refreshed_for_failures = False
        received = self.clock()  # when this link came: its stated life is measured from here
        while True:
            if not poll.link:
                return None, f"job {record.job_id} is {poll.vendor_status!r} but has no download link"
            redact.add_link(poll.link)
            if poll.link_expires_at is not None and poll.link_expires_at <= self.clock():
                self.logger.debug("%s: the link's stated expiry %s has passed as this tap reads it; trying it anyway",
                                  spec, iso_epoch(poll.link_expires_at))
            try:
                path = self._fetch(spec, record, poll, received, result)
            except LinkExpired as exc:
                refreshes += 1
                if refreshes > LINK_REFRESHES:
                    return None, f"download link kept expiring ({exc})"
                self.logger.info("%s: download link expired or refused (%s); asking the vendor for a fresh one", spec, exc)
            except DownloadFailed as exc:
                failures += 1
                if failures < DOWNLOAD_TRIES:
                    self.logger.warning("%s: download failed (%s); fetching again", spec, exc)
                    self._wait(spec, min(self.download_wait_first * 2.0 ** (failures - 1), 30.0), "before fetching again", result)
                    continue
                if refreshed_for_failures:
                    return None, f"download failed {failures} times with a fresh link too ({exc})"
                refreshed_for_failures = True
                self.logger.warning("%s: download failed %d times (%s); asking the vendor for a fresh link",
                                    spec, failures, exc)
            else:
                self.logger.info("%s: job %s downloaded (%d bytes)", spec, record.job_id, path.stat().st_size)
                return path, ""
            failures = 0
            poll, received = self._poll(record, result), self.clock()
            if poll.status is not JobStatus.DONE:
                return None, f"job {record.job_id} is {poll.vendor_status!r} when asked for a fresh link"

    def _fetch(self, spec: JobSpec, record: JobRecord, poll: Poll, received: float, result: JobResult) -> Path:
        """One verified download, holding a place on disk while it lasts (and, if it succeeds, after)."""
        waited = self.claim_disk(spec, poll.link_expires_at)
        kept = False
        try:
            link = poll.link or ""
            if waited and self._near_expiry(poll, received):
                # Cheaper than a fetch the storage refuses. A wrong hint costs this one poll: the link is tried.
                self.logger.info("%s: the link's stated expiry %s is near or past after the file waited for a place on disk; "
                                 "asking the vendor for a fresh link", spec, iso_epoch(t.cast(float, poll.link_expires_at)))
                fresh = self._poll(record, result)
                if fresh.status is JobStatus.DONE and fresh.link:
                    link = fresh.link
                    redact.add_link(link)
            result.downloads += 1
            path = self.downloader.fetch(link, formats=self.formats, stop=self.stopping)
            try:
                verify(path)
            except CorruptFile as exc:
                path.unlink(missing_ok=True)
                raise DownloadFailed(f"downloaded file corrupt or cut short ({exc})") from None
            kept = True
            return path
        finally:
            if not kept:
                self.release_disk(spec)

    def _near_expiry(self, poll: Poll, received: float) -> bool:
        """The link's stated expiry is within NEAR_EXPIRY_SECONDS, or a fifth of its stated life, from now."""
        if poll.link_expires_at is None:
            return False  # unknown or unreadable: the link is tried as it is
        margin = min(NEAR_EXPIRY_SECONDS, max(poll.link_expires_at - received, 0.0) / 5)
        return poll.link_expires_at - self.clock() <= margin

    def _wait(self, spec: JobSpec, seconds: float, why: str, result: JobResult) -> None:
        if seconds <= 0:
            return
        level = logging.INFO if seconds >= self.log_wait_over else logging.DEBUG
        self.logger.log(level, "%s: waiting %.0fs %s", spec, seconds, why)
        self.sleep(seconds)
        result.waited += seconds


def iso_epoch(seconds: float) -> str:
    try:
        return iso(dt.datetime.fromtimestamp(seconds, dt.timezone.utc))
    except (ValueError, OverflowError, OSError):
        return f"{seconds:g} (epoch seconds)"
