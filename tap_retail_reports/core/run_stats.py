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
        """`1234 row(s), 40 request(s), 2 retried, waited 58 s (rate limit 54 s, retries 4 s)`."""
        with self._lock:
            values = dict(self._values)
        text = f"{values['rows']:.0f} row(s), {values['requests']:.0f} request(s)"
        if values["polls"]:
            text += f" ({values['polls']:.0f} poll(s))"
        if values["jobs"]:
            text += (f", {values['jobs']:.0f} report job(s) ({values['job_creations']:.0f} created, "
                     f"{values['downloads']:.0f} download(s), polled for {_seconds(values['job_wait'])})")
        text += f", {values['retries']:.0f} retried"
        waited = values["rate_limit_wait"] + values["retry_wait"]
        text += f", waited {_seconds(waited)}"
        if _seconds(waited) != "0 s":
            text += f" (rate limit {_seconds(values['rate_limit_wait'])}, retries {_seconds(values['retry_wait'])})"
        return text


def _seconds(value: float) -> str:
    if round(value, 1) == 0:
        return "0 s"
    return f"{value:.0f} s" if value >= 10 else f"{value:.1f} s"
