"""What one stream did in a run: the counters behind its progress lines and its end-of-run summary.

One `StreamStats` per stream (`stream.stats`). Increments are thread-safe, so the
asynchronous report engine's workers can add their requests, polls and waits to it.
"""

from __future__ import annotations

import threading
import time
import typing as t

COUNTERS = ("rows", "requests", "retries", "polls", "windows", "windows_planned", "jobs", "job_creations", "downloads")
# Seconds: the client-side budget; Retry-After and backoff; report jobs polled until done (in worker threads).
WAITS = ("rate_limit_wait", "retry_wait", "job_wait")
FULL_TABLE, NO_BOOKMARK_YET = "none (full table)", "none yet"  # how a stream's bookmark reads without a value


class StreamStats:
    """Counters of one stream: `add(rows=1)`, `add(requests=1, rate_limit_wait=2.5)`, `stats["rows"]`."""

    # A progress line at most this often per stream; a run shorter than this gets none.
    progress_every_seconds: t.ClassVar[float] = 30.0

    def __init__(self, clock: t.Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._values: dict[str, float] = dict.fromkeys(COUNTERS + WAITS, 0)
        self._last_progress: float | None = None

    def add(self, **amounts: float) -> None:
        """Add to counters by name (see COUNTERS and WAITS); an unknown name is a bug, not a new counter."""
        # Called once per record: no set built per call; an unknown name fails on its lookup.
        with self._lock:
            for name, amount in amounts.items():
                if name not in self._values:
                    raise KeyError(f"unknown counter(s): {name}")
                self._values[name] += amount

    def __getitem__(self, name: str) -> float:
        with self._lock:
            return self._values[name]

    def progress_due(self) -> bool:
        """Whether a progress line is due: `progress_every_seconds` after the stream's first call to this."""
        now = self._clock()
        with self._lock:
            if self._last_progress is None:
                self._last_progress = now
                return self.progress_every_seconds <= 0
            if now - self._last_progress >= self.progress_every_seconds:
                self._last_progress = now
                return True
            return False

    def describe(self) -> str:
        """`1234 row(s), 40 request(s), 2 retried, waited 58 s (rate limit 54 s, retries 4 s)`; for report jobs
        `..., 3 report job(s) polled 6.3 s (1 resumed)`. Waits and unusual job figures only when there are some."""
        with self._lock:
            values = dict(self._values)
        text = f"{values['rows']:.0f} row(s), {values['requests']:.0f} request(s), {values['retries']:.0f} retried"
        jobs, created = values["jobs"], values["job_creations"]
        if jobs:
            unusual = [f"{jobs - created:.0f} resumed" if created < jobs else "",
                       f"{created - jobs:.0f} re-created" if created > jobs else "",
                       f"{values['downloads'] - jobs:.0f} downloaded again" if values["downloads"] > jobs else ""]
            notes = ", ".join(filter(None, unusual))
            text += f", {jobs:.0f} report job(s) polled {_seconds(values['job_wait'])}" + (f" ({notes})" if notes else "")
        waited = values["rate_limit_wait"] + values["retry_wait"]
        if _seconds(waited) != "0 s":
            text += (f", waited {_seconds(waited)} (rate limit {_seconds(values['rate_limit_wait'])}, "
                     f"retries {_seconds(values['retry_wait'])})")
        return text


def _seconds(value: float) -> str:
    if round(value, 1) == 0:
        return "0 s"
    return f"{value:.0f} s" if value >= 10 else f"{value:.1f} s"


def bookmark_values(stream_state: t.Mapping[str, t.Any] | None) -> tuple[str, ...]:
    """The bookmarks in one stream's STATE (each partition's), read without touching it."""
    if not stream_state:
        return ()
    partitions = stream_state.get("partitions") or [stream_state]
    return tuple(sorted(str(p["replication_key_value"]) for p in partitions
                        if isinstance(p, dict) and p.get("replication_key_value")))


def run_summary(streams: t.Iterable[tuple[StreamStats, bool, tuple[str, ...], tuple[str, ...]]], seconds: float,
                failed: int) -> str:
    """The run in one line: `30 stream(s), 9126 row(s), 242 request(s) in 7.7 s; bookmarks: 24 advanced,
    3 unchanged, 3 full table; no stream failed`. Each stream comes as (stats, full table, its bookmark
    values before the run, after it), as `bookmark_values` reads them."""
    count = rows = requests = advanced = unchanged = full_table = 0
    for stats, whole, before, after in streams:
        count += 1
        rows += int(stats["rows"])
        requests += int(stats["requests"])
        if whole:
            full_table += 1
        elif after and after != before:
            advanced += 1
        else:
            unchanged += 1
    bookmarks = ", ".join(f"{n} {what}" for n, what in
                          ((advanced, "advanced"), (unchanged, "unchanged"), (full_table, "full table")) if n)
    outcome = f"{failed} stream(s) failed (listed below)" if failed else "no stream failed"
    return (f"{count} stream(s), {rows} row(s), {requests} request(s) in {seconds:.1f} s; "
            f"bookmarks: {bookmarks or 'none'}; {outcome}")
