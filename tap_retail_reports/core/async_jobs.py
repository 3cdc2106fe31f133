"""The life of an asynchronous report job: create, poll, download, verify.

A vendor supplies a `JobRepository` (create a job, poll it) and nothing else:
no sleeps, no threads, no files. `JobRunner` drives one job to a verified file
on disk, in a worker thread:

- statuses are mapped to four (running, done, failed, expired); a status the
  mapping does not know is named in a warning and polled on like a running one;
- polls follow their own schedule (each wait a share of the job's age, so a report is
  seen soon after it is ready however long it takes; capped, with jitter so jobs do
  not poll in lockstep), apart from the HTTP retry backoff;
- a failed or expired job, one the vendor no longer knows (404/410), or one past
  its deadline, is re-created, at most `MAX_ATTEMPTS` times, with a wait between;
  `job_timeout_minutes` bounds the window's attempts together;
- a stored job is resumed unless its parameters differ or it is older than
  `STORED_JOB_MAX_AGE`;
- a link is always tried (its stated expiry is a hint); storage's refusal, or a
  body saying it expired, asks for a fresh link; the job is re-created only when that fails;
  a link whose stated expiry came near while it waited for a place on disk is swapped for a
  fresh one before the fetch (once per wait), and the link expiring first gets the next place;
- the file is fetched without credentials (core/download.py), its size checked
  against Content-Length, its first bytes checked to be a report, and its archive
  checksums verified; a truncated, corrupt or wrong body is fetched again.
"""

from __future__ import annotations

import datetime as dt
import enum
import logging
import random
import threading
import time
import typing as t
from dataclasses import dataclass, field
from pathlib import Path

from tap_retail_reports.core.download import Downloader, DownloadFailed, JobCancelled, LinkExpired, safe_link
from tap_retail_reports.core.files import CorruptFile, verify
from tap_retail_reports.core.redact import redact
from tap_retail_reports.core.windows import Window, iso

MAX_ATTEMPTS = 3  # jobs created per window before the window fails for good
DOWNLOAD_TRIES = 3  # fetches of one link (truncated, corrupt, 5xx) before the job is re-created
LINK_REFRESHES = 3  # fresh links asked of the vendor before the job is re-created
STORED_JOB_MAX_AGE = 24 * 3600.0  # a stored job older than this is re-created: its report may be stale
HURRY_MARGIN_SECONDS = 60.0  # a link this close to its stated expiry (or a fifth of its life) after a wait is swapped
__all__ = ["DownloadFailed", "Downloader", "JobCancelled", "LinkExpired", "safe_link"]  # their home is core/download.py


class JobStatus(enum.Enum):
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    EXPIRED = "expired"


class UnknownJobStatus(Exception):
    """The vendor reported a status this tap does not know: never guessed at."""

    def __init__(self, message: str, vendor_status: object = None) -> None:
        super().__init__(message)
        self.vendor_status = str(vendor_status)


class StatusMap:
    """A vendor's job statuses, each mapped to one of the engine's four."""

    def __init__(self, vendor: str, mapping: dict[str, JobStatus]) -> None:
        folded: dict[str, JobStatus] = {}
        for name, status in mapping.items():
            key = name.strip().lower()
            if key in folded:
                raise ValueError(f"{vendor}: job status {name!r} is mapped twice")
            folded[key] = status
        missing = {JobStatus.RUNNING, JobStatus.DONE} - set(folded.values())
        if missing:
            raise ValueError(f"{vendor}: no vendor status maps to {', '.join(s.value for s in missing)}")
        self.vendor = vendor
        self._mapping = folded

    def __call__(self, vendor_status: object) -> JobStatus:
        status = self._mapping.get(str(vendor_status).strip().lower()) if isinstance(vendor_status, str) else None
        if status is None:
            known = ", ".join(sorted(self._mapping))
            raise UnknownJobStatus(f"{self.vendor} reported job status {vendor_status!r}, which this tap does not know "
                                   f"(known: {known}); polling on until job_timeout_minutes", vendor_status)
        return status


@dataclass(frozen=True)
class JobSpec:
    """One report job to run: which stream, partition and window, with the vendor parameters."""

    stream: str
    partition: tuple[tuple[str, t.Any], ...]  # the state partition, as sorted items
    window: Window
    params: t.Mapping[str, t.Any]  # what the job is created with; a stored job must match them

    @property
    def key(self) -> str:
        """The job's name inside its partition's state: the window."""
        return f"{iso(self.window.start)}/{iso(self.window.end)}"

    @property
    def context(self) -> dict | None:
        return dict(self.partition) or None

    def __str__(self) -> str:
        where = ", ".join(f"{k} {v}" for k, v in self.partition)
        return f"{self.stream}{' ' + where if where else ''} window {self.window}"


@dataclass
class JobRecord:
    """What STATE keeps of a job in flight, so the next run polls it instead of creating another."""

    job_id: str
    params: dict
    created_at: float  # epoch seconds
    attempt: int = 1

    def to_state(self) -> dict:
        return {"job_id": self.job_id, "params": dict(self.params), "created_at": self.created_at, "attempt": self.attempt}

    @classmethod
    def from_state(cls, value: t.Any) -> JobRecord | None:
        if not isinstance(value, dict) or not isinstance(value.get("job_id"), str):
            return None
        try:
            return cls(value["job_id"], dict(value.get("params") or {}), float(value["created_at"]),
                       int(value.get("attempt") or 1))
        except (TypeError, ValueError, KeyError):
            return None


@dataclass
class Poll:
    """One look at a job: its mapped status, the vendor's word, and when done, the link."""

    status: JobStatus
    vendor_status: str
    link: str | None = None
    link_expires_at: float | None = None  # epoch seconds, when the vendor says


class JobRepository(t.Protocol):
    """A vendor's side of the engine: HTTP only, no waits, thread-safe."""

    def create(self, spec: JobSpec) -> str:
        """Create the job; return the vendor's job id."""

    def poll(self, job_id: str) -> Poll:
        """The job's status now (and its download link when done)."""


class PollSchedule:
    """The wait before the next poll of a job of a given age: `share` of its age, at least `first`, at most
    `cap`, with +/- `jitter`.

    A report ready T seconds after its creation is seen by the first poll after T, which comes at most
    one wait later: T * share * (1 + jitter) for a long job, `first` * (1 + jitter) for a short one. With
    the defaults a report is seen within max(16.5% of T, 1.65 s) up to T = 800 s (a fifth of T, or
    2 s, leaves time to fetch the file), and within 132 s after; a 30-minute job is polled about 48
    times, a 2-minute one 26 times.
    """

    def __init__(self, first: float = 1.5, share: float = 0.15, cap: float = 120.0, jitter: float = 0.1,
                 rng: random.Random | None = None) -> None:
        self.first, self.share, self.cap, self.jitter = first, share, cap, jitter
        self._rng = rng or random.Random()

    def delay(self, age: float) -> float:
        return min(max(self.share * age, self.first), self.cap) * (1 + self._rng.uniform(-self.jitter, self.jitter))


@dataclass
class JobResult:
    """A finished job: the verified file on disk, or why the window failed."""

    spec: JobSpec
    path: Path | None = None
    error: str | None = None
    file_name: str = ""
    # The job may still be good at the vendor (the tap met an error while polling it): STATE keeps
    # it, and the next run polls it again instead of creating another.
    resumable: bool = False
    # The vendor was lost (credentials refused, or down through every retry): its stream says
    # it once for the vendor, not once per window (see AsyncReportStream.get_records).
    vendor_lost: Exception | None = None
    polls: int = 0
    creations: int = 0
    downloads: int = 0
    waited: float = 0.0
    unknown_statuses: set[str] = field(default_factory=set)  # warned about already


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
            # Not guessed at: polled on like a running job, until the deadline. Said once per status.
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
        """Fetch and verify the job's file; (path, "") or (None, why the job must be re-created).

        The link's stated expiry is only a hint (its zone or unit may be read wrongly): the link
        is always tried. Storage's refusal asks for a fresh link; so do DOWNLOAD_TRIES failed
        fetches of one link, once; after that the job is re-created."""
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
        """The link's stated expiry is within HURRY_MARGIN_SECONDS, or a fifth of its stated life, from now."""
        if poll.link_expires_at is None:
            return False  # unknown or unreadable: the link is tried as it is
        margin = min(HURRY_MARGIN_SECONDS, max(poll.link_expires_at - received, 0.0) / 5)
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
