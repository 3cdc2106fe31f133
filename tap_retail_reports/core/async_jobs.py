"""The life of an asynchronous report job: create, poll, download, verify.

A vendor supplies a `JobRepository` (create a job, poll it) and nothing else:
no sleeps, no threads, no files. `JobRunner` drives one job to a verified file
on disk, in a worker thread:

- statuses are mapped to four (running, done, failed, expired); a status the
  mapping does not know is an error that names it;
- polls follow their own schedule (start small, grow, capped, with jitter so
  jobs do not poll in lockstep), apart from the HTTP retry backoff;
- a failed or expired job, or one past its deadline, is re-created, at most
  `MAX_ATTEMPTS` times, with a wait between;
- an expired link (403/410 from storage, or past its stated expiry) is
  refreshed by polling the job again; the job is re-created only when that fails;
- the file is fetched without credentials into a temporary file, its size
  checked against Content-Length and its archive checksums verified; a
  truncated or corrupt file is fetched again.
"""

from __future__ import annotations

import datetime as dt
import enum
import logging
import random
import tempfile
import threading
import time
import typing as t
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import requests
import urllib3

from tap_retail_reports.core.files import CorruptFile, verify
from tap_retail_reports.core.http import retry_after_seconds
from tap_retail_reports.core.redact import redact
from tap_retail_reports.core.windows import Window, iso

MAX_ATTEMPTS = 3  # jobs created per window before the window fails for good
DOWNLOAD_TRIES = 3  # fetches of one link (truncated, corrupt, 5xx) before the job is re-created
LINK_REFRESHES = 3  # fresh links asked of the vendor before the job is re-created
CHUNK = 1 << 20


class JobStatus(enum.Enum):
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    EXPIRED = "expired"


class UnknownJobStatus(Exception):
    """The vendor reported a status this tap does not know: never guessed at."""


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
                                   f"(known: {known}); the window is not bookmarked")
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
    """Waits between polls: start small, grow by `factor`, capped, each with +/- `jitter`."""

    def __init__(self, first: float = 1.0, factor: float = 1.5, cap: float = 60.0, jitter: float = 0.2,
                 rng: random.Random | None = None) -> None:
        self.first, self.factor, self.cap, self.jitter = first, factor, cap, jitter
        self._rng = rng or random.Random()

    def delays(self) -> t.Iterator[float]:
        delay = self.first
        while True:
            yield delay * (1 + self._rng.uniform(-self.jitter, self.jitter))
            delay = min(delay * self.factor, self.cap)


class LinkExpired(Exception):
    """Storage refused the link (403/410), or the vendor's stated expiry has passed."""


class DownloadFailed(Exception):
    """The file could not be fetched whole (truncated, corrupt, storage errors)."""


class JobCancelled(Exception):
    """The run is stopping (a signal, or another failure ended it): the job is left as it is."""


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
    polls: int = 0
    creations: int = 0
    downloads: int = 0
    waited: float = 0.0


def safe_link(url: str) -> str:
    """A link fit for a log line: host and path, never the query (signatures, keys)."""
    parts = urlsplit(url)
    return redact(f"{parts.scheme}://{parts.netloc}{parts.path}")


class Downloader:
    """Fetches links into temporary files with a session that carries no credentials.

    Links point at storage, not at the vendor's API: the API's Authorization and
    vendor headers must never travel with them.
    """

    def __init__(self, user_agent: str, timeout: tuple[float, float] = (30, 300), directory: str | None = None) -> None:
        self.user_agent = user_agent
        self.timeout = timeout
        self.directory = directory
        self._local = threading.local()  # a requests session per thread

    @property
    def session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.headers.clear()
            session.headers["User-Agent"] = self.user_agent
            session.trust_env = False  # no .netrc credentials either
            self._local.session = session
        return session

    def fetch(self, url: str) -> Path:
        """The link's body in a new temporary file (the caller deletes it)."""
        try:
            response = self.session.get(url, stream=True, timeout=self.timeout, allow_redirects=True)
        except requests.RequestException as exc:
            raise DownloadFailed(f"{safe_link(url)}: {type(exc).__name__}") from None
        with response:
            if response.status_code in (401, 403, 410):
                raise LinkExpired(f"{safe_link(url)} -> HTTP {response.status_code}")
            if response.status_code != 200:
                wait = retry_after_seconds(response)
                raise DownloadFailed(f"{safe_link(url)} -> HTTP {response.status_code}"
                                     + (f" (retry after {wait:.0f}s)" if wait else ""))
            expected = response.headers.get("Content-Length")
            handle = tempfile.NamedTemporaryFile(prefix="report-", suffix=".download", dir=self.directory, delete=False)  # noqa: SIM115  # closed by the `with handle:` below; the path outlives it
            path = Path(handle.name)
            written = 0
            try:
                with handle:
                    # Raw bytes as stored: a gzip'd body stays gzip'd and is read as such.
                    for chunk in response.raw.stream(CHUNK, decode_content=False):
                        handle.write(chunk)
                        written += len(chunk)
            except (requests.RequestException, OSError, urllib3.exceptions.HTTPError) as exc:  # ProtocolError et al.
                path.unlink(missing_ok=True)
                raise DownloadFailed(f"{safe_link(url)}: cut off after {written} bytes ({type(exc).__name__})") from None
            if expected is not None and expected.isdigit() and int(expected) != written:
                path.unlink(missing_ok=True)
                raise DownloadFailed(f"{safe_link(url)}: got {written} of {expected} bytes")
            return path


@dataclass
class JobRunner:
    """Drives one job from creation (or a stored job) to a verified file."""

    repository: JobRepository
    downloader: Downloader
    logger: logging.Logger
    timeout_seconds: float
    schedule: PollSchedule = field(default_factory=PollSchedule)
    retry_wait_seconds: float = 30.0  # between a failed job and its re-creation
    log_wait_over: float = 5.0  # polls and waits longer than this are logged at INFO
    clock: t.Callable[[], float] = time.time
    sleep: t.Callable[[float], None] = time.sleep
    on_created: t.Callable[[JobSpec, JobRecord], None] = lambda spec, record: None

    def run(self, spec: JobSpec, stored: JobRecord | None, file_name: str) -> JobResult:
        result = JobResult(spec, file_name=file_name)
        record = stored
        if record is not None and record.params != dict(spec.params):
            self.logger.info("%s: stored job %s was created with other parameters; creating a new one", spec, record.job_id)
            record = None
        attempt = record.attempt if record is not None else 0
        problem = ""
        while True:
            if record is None:
                if attempt >= MAX_ATTEMPTS:
                    result.error = f"{spec}: gave up after {attempt} job(s): {problem}"
                    return result
                if attempt:
                    self._wait(spec, self.retry_wait_seconds, f"before re-creating the job ({problem})", result)
                attempt += 1
                job_id = self.repository.create(spec)
                result.creations += 1
                record = JobRecord(job_id, dict(spec.params), self.clock(), attempt)
                self.on_created(spec, record)
                self.logger.info("%s: created job %s (attempt %d of %d)", spec, job_id, attempt, MAX_ATTEMPTS)
            else:
                self.logger.info("%s: resuming job %s from STATE", spec, record.job_id)
            poll = self._until_settled(spec, record, result)
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
            self.logger.warning("%s: %s", spec, problem)
            record = None

    def _until_settled(self, spec: JobSpec, record: JobRecord, result: JobResult) -> Poll:
        """Poll until the job is no longer running, or its deadline (from its creation) passes."""
        deadline = record.created_at + self.timeout_seconds
        started = self.clock()
        for delay in self.schedule.delays():
            poll = self.repository.poll(record.job_id)
            result.polls += 1
            if poll.status is not JobStatus.RUNNING:
                return poll
            now = self.clock()
            if now >= deadline:
                return poll
            delay = min(delay, max(deadline - now, 0.0))
            if delay >= self.log_wait_over:
                self.logger.info("%s: job %s is %r after %.0fs; next poll in %.0fs",
                                 spec, record.job_id, poll.vendor_status, now - started, delay)
            self.sleep(delay)
            result.waited += delay
        raise AssertionError("unreachable")  # the schedule never ends

    def _download(self, spec: JobSpec, record: JobRecord, poll: Poll, result: JobResult) -> tuple[Path | None, str]:
        """Fetch and verify the job's file; (path, "") or (None, why the job must be re-created)."""
        refreshes = 0
        failures = 0  # fetches cut short or corrupt (an expired link is not the file's fault)
        while True:
            if not poll.link:
                return None, f"job {record.job_id} is {poll.vendor_status!r} but has no download link"
            redact.add_link(poll.link)
            try:
                if poll.link_expires_at is not None and poll.link_expires_at <= self.clock():
                    raise LinkExpired(f"the link's stated expiry {iso_epoch(poll.link_expires_at)} has passed")
                result.downloads += 1
                path = self.downloader.fetch(poll.link)
            except LinkExpired as exc:
                refreshes += 1
                if refreshes > LINK_REFRESHES:
                    return None, f"download link kept expiring ({exc})"
                self.logger.info("%s: download link expired (%s); asking %s for a fresh one",
                                 spec, exc, "the vendor")
                poll = self.repository.poll(record.job_id)
                result.polls += 1
                if poll.status is not JobStatus.DONE:
                    return None, f"job {record.job_id} is {poll.vendor_status!r} when asked for a fresh link"
                continue
            except DownloadFailed as exc:
                failures += 1
                if failures >= DOWNLOAD_TRIES:
                    return None, f"download failed {failures} times ({exc})"
                self.logger.warning("%s: download failed (%s); fetching again", spec, exc)
                self._wait(spec, min(2.0**failures, 30.0), "before fetching again", result)
                continue
            try:
                verify(path)
            except CorruptFile as exc:
                path.unlink(missing_ok=True)
                failures += 1
                if failures >= DOWNLOAD_TRIES:
                    return None, f"downloaded file corrupt or cut short {failures} times ({exc})"
                self.logger.warning("%s: downloaded file is corrupt (%s); fetching again", spec, exc)
                continue
            self.logger.info("%s: job %s downloaded (%d bytes)", spec, record.job_id, path.stat().st_size)
            return path, ""

    def _wait(self, spec: JobSpec, seconds: float, why: str, result: JobResult) -> None:
        if seconds <= 0:
            return
        level = logging.INFO if seconds >= self.log_wait_over else logging.DEBUG
        self.logger.log(level, "%s: waiting %.0fs %s", spec, seconds, why)
        self.sleep(seconds)
        result.waited += seconds


def iso_epoch(seconds: float) -> str:
    return iso(dt.datetime.fromtimestamp(seconds, dt.timezone.utc))
