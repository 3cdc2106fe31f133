"""The jobs in flight of one partition of an asynchronous stream, in its STATE's `jobs` (docs/state.md): one
entry per window, keyed by its start (the open window's end is "now", which differs on every run):

    {"job_id", "params", "created_at", "attempt", "window_end": "<ISO>", "origin": "<base URL[/store]>"}

A stored job is handed back only when it belongs to the configured vendor account, so that STATE can never
point the tap's credentials at another host.
"""

from __future__ import annotations

import datetime as dt
import typing as t
from dataclasses import dataclass
from urllib.parse import urlsplit

from tap_retail_reports.core.job_model import JobRecord
from tap_retail_reports.core.windows import Window, iso, parse_when

if t.TYPE_CHECKING:
    import logging

JOBS_KEY = "jobs"


@dataclass(frozen=True)
class StoredJob:
    """A job a previous run created, with the window it was created for."""

    record: JobRecord
    window: Window


class PartitionJobs:
    """The `jobs` of one partition's STATE (a dict the SDK's state manager owns, changed in place)."""

    def __init__(self, state: dict, origin: str, stream_name: str, logger: logging.Logger) -> None:
        self._state = state
        self.origin = origin  # the vendor account jobs are made at (its base URL, its store)
        self._stream_name = stream_name
        self._logger = logger

    @property
    def _jobs(self) -> dict[str, t.Any]:
        jobs = self._state.get(JOBS_KEY)
        if not isinstance(jobs, dict):
            jobs = self._state[JOBS_KEY] = {}
        return jobs

    def stored(self, start: dt.datetime) -> StoredJob | None:
        """The job stored for the window starting at `start`, if it is readable and this account's;
        any other entry for that window is forgotten, with an INFO line."""
        key = iso(start)
        for name in [name for name in self._jobs if _window_start_of(name) == key]:
            entry = self._jobs[name]
            record = JobRecord.from_state(entry)
            problem = "is unreadable" if record is None else self._foreign(record, entry)
            window_end = _when(entry.get("window_end")) if isinstance(entry, dict) else None
            if window_end is None and "/" in name:  # kept by an older version under "start/end"
                window_end = _when(name.split("/", 1)[1])
            if problem is None and (window_end is None or window_end <= start):
                problem = "has no readable window end"
            if problem is not None or record is None or window_end is None:
                self._logger.info("%s: forgetting stored job %s for window from %s: it %s", self._stream_name,
                                  _job_id_of(entry), key, problem)
                del self._jobs[name]
                continue
            return StoredJob(record, Window(start, window_end))
        return None

    def keep_only(self, starts: t.Iterable[dt.datetime]) -> None:
        """Forget stored jobs of windows this run does not read, with an INFO line each."""
        wanted = {iso(start) for start in starts}
        for name in [name for name in self._jobs if _window_start_of(name) not in wanted]:
            self._logger.info("%s: forgetting stored job %s for window from %s, outside this run's windows",
                              self._stream_name, _job_id_of(self._jobs[name]), _window_start_of(name))
            del self._jobs[name]

    def created(self, window: Window, record: JobRecord) -> None:
        """A job now exists at the vendor for `window`: the next run resumes it if this one dies."""
        self.forget(window)
        self._jobs[iso(window.start)] = {**record.to_state(), "window_end": iso(window.end), "origin": self.origin}

    def forget(self, window: Window) -> None:
        """The window's job is done with (read, or failed for good)."""
        key = iso(window.start)
        for name in [name for name in self._jobs if _window_start_of(name) == key]:
            del self._jobs[name]

    def _foreign(self, record: JobRecord, entry: dict) -> str | None:
        """Why a stored job is not this account's, or None when it is."""
        origin = entry.get("origin")
        if origin is not None and origin != self.origin:
            return f"was made at {origin}, not at the configured {self.origin}"
        link = urlsplit(record.job_id)
        if link.scheme or link.netloc:  # a job known by its URL (a HAL self link)
            ours = urlsplit(self.origin)
            if (link.scheme, link.netloc) != (ours.scheme, ours.netloc):
                return f"is a URL on {link.scheme}://{link.netloc}, not on the configured vendor host {ours.netloc}"
        return None


def _window_start_of(name: str) -> str:
    return name.split("/", 1)[0]


def _job_id_of(entry: t.Any) -> t.Any:
    return entry.get("job_id") if isinstance(entry, dict) else entry


def _when(value: t.Any) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return parse_when(value)
    except ValueError:
        return None
