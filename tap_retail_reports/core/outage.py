"""A vendor that cannot be read at all this run: down, or refusing its credentials.

Such a failure is the vendor's, not one stream's: it is said in one line for the vendor,
and the vendor's other streams fail fast instead of each spending its own retries (a
dead host costs the retries of one call, not of every stream and window).
"""

from __future__ import annotations

import threading

from tap_retail_reports.core.errors import TapError


class VendorUnavailable(TapError):
    """The vendor stayed down through every retry, or refused its credentials. The message is
    the same for every stream of the vendor: the run's summary gives it once."""


class VendorHealth:
    """One vendor's standing in this run, shared by its streams and worker threads (thread-safe).

    - down: a call used up its retries on connection errors or 5xx answers. Later calls try
      once, without retries; the first that gets an answer brings the retries back.
    - refused: a call was refused for its credentials (401/403, a token that cannot be had).
      Later calls are not sent: the same settings would be refused again.
    """

    def __init__(self, vendor: str) -> None:
        self.vendor = vendor
        self._lock = threading.Condition()
        self._down: str | None = None
        self._refused: str | None = None
        self._said: set[str] = set()
        self._prober: int | None = None  # the thread whose call is retrying through a suspected outage

    def retry_turn(self) -> bool:
        """A call met a connection error or a 5xx and would retry. The first such call retries (it
        probes the vendor: True); calls that fail meanwhile, on other threads (concurrent windows,
        job workers), wait for its verdict instead of spending retries of their own: they fail at
        once if it gave up (VendorUnavailable), and retry now (False) if it got an answer."""
        me = threading.get_ident()
        with self._lock:
            if self._prober in (None, me):
                self._prober = me
                return True
            while self._prober is not None:
                self._lock.wait(1.0)
            if self._down is not None:
                raise VendorUnavailable(self._down)
            return False

    def call_ended(self) -> None:
        """The calling thread's call is over (answered, gave up, or failed otherwise): if it was
        probing the vendor, the calls waiting for its verdict go on."""
        with self._lock:
            if self._prober == threading.get_ident():
                self._prober = None
                self._lock.notify_all()

    @property
    def down(self) -> bool:
        return self._down is not None

    @property
    def refused(self) -> str | None:
        return self._refused

    def went_down(self, reason: str) -> VendorUnavailable:
        """A call gave up on connection errors or 5xx: the error for it, with the outage's first reason."""
        with self._lock:
            self._down = self._down or reason
            return VendorUnavailable(self._down)

    def refuse(self, reason: str) -> VendorUnavailable:
        with self._lock:
            self._refused = self._refused or reason
            return VendorUnavailable(self._refused)

    def answered(self) -> None:
        """A call got an answer: the vendor is up (again)."""
        if self._down is not None:
            with self._lock:
                self._down = None

    def first_to_say(self, reason: str) -> bool:
        """True once per reason and run: the line that says it is logged by the first stream only."""
        with self._lock:
            if reason in self._said:
                return False
            self._said.add(reason)
            return True
