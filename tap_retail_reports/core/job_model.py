"""What an asynchronous report job is, in the terms a vendor and the job engine (core/async_jobs.py)
share: a vendor supplies a `JobRepository` and a `StatusMap`, and nothing else (no sleeps, no threads,
no files)."""

from __future__ import annotations

import enum
import random
import typing as t
from dataclasses import dataclass, field

from tap_retail_reports.core.windows import Window, iso

if t.TYPE_CHECKING:
    from pathlib import Path


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
        where = ", ".join(f"{name} {value}" for name, value in self.partition)
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
    link_expires_at: float | None = None  # epoch seconds, when the vendor states it


class JobRepository(t.Protocol):
    """A vendor's side of the engine: HTTP only, no waits, thread-safe."""

    def create(self, spec: JobSpec) -> str:
        """Create the job; return the vendor's job id."""

    def poll(self, job_id: str) -> Poll:
        """The job's status now (and its download link when done)."""


class PollSchedule:
    """The wait before a job's next poll: `share` of its age, so that a report is seen soon after it is
    ready however long it takes; at least `first`, at most `cap`, with +/- `jitter` so that jobs do not
    poll in lockstep (the latency this gives: docs/streams.md, "Asynchronous reports")."""

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
    # The vendor was lost (credentials refused, or down through every retry): its stream logs
    # that once for the vendor, not once per window (see AsyncReportStream.get_records).
    vendor_lost: Exception | None = None
    polls: int = 0
    creations: int = 0
    downloads: int = 0
    waited: float = 0.0
    unknown_statuses: set[str] = field(default_factory=set)  # warned about already
