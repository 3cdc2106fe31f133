"""A vendor that cannot be read at all this run: down, refusing its credentials, or behind a
certificate this machine does not trust.

Such a failure is the vendor's, not one stream's: it is said in one line for the vendor,
and the vendor's other streams fail fast instead of each spending its own retries (a
dead host costs the retries of one call, not of every stream and window). When a call
finds its vendor down, the vendors not heard from yet are probed at once, in parallel
(`OutageProbes`): a run whose every vendor is down spends one vendor's retries, not five.
"""

from __future__ import annotations

import threading
import time
import typing as t

if t.TYPE_CHECKING:
    import logging

from tap_retail_reports.core.errors import TapError

# A job's wait between polls is cut into steps this long, to stop at once when its vendor is lost.
LOST_CHECK_SECONDS = 0.25


class VendorUnavailable(TapError):
    """The vendor stayed down through every retry, refused its credentials, or its certificate was not
    accepted. The message is the same for every stream of the vendor: the run's summary gives it once."""


class VendorHealth:
    """One vendor's standing in this run, shared by its streams and worker threads (thread-safe).

    - down: a call used up its retries on connection errors or 5xx answers. Later calls try
      once, without retries; the first that gets an answer brings the retries back.
    - lost: a call was refused for its credentials (401/403, a token that cannot be had), or the
      vendor's certificate was not accepted. Later calls are not sent, and jobs waiting between
      polls stop at once: the same settings would fail again.
    """

    def __init__(self, vendor: str) -> None:
        self.vendor = vendor
        self._lock = threading.Condition()
        self._down: str | None = None
        self._lost: str | None = None
        self._heard = False  # some call got an answer this run
        self._failures_logged: set[str] = set()
        self._prober: int | None = None  # the thread whose call is retrying through a suspected outage

    def retry_turn(self) -> bool:
        """A call met a connection error or a 5xx and would retry. The first such call retries (it
        probes the vendor: True); calls that fail meanwhile, on other threads (concurrent windows,
        job workers, an outage probe), wait for its verdict instead of spending retries of their own:
        they fail at once if it gave up (VendorUnavailable), and retry now (False) if it got an answer."""
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
    def lost(self) -> str | None:
        """Why the vendor is lost for this run (credentials refused, certificate not accepted), or None."""
        return self._lost

    @property
    def heard(self) -> bool:
        """Whether a call got an answer from the vendor this run (then it needs no outage probe)."""
        return self._heard

    def check(self) -> None:
        """Raise the vendor's VendorUnavailable if it is lost for this run: no call is sent then."""
        if self._lost is not None:
            raise VendorUnavailable(self._lost)

    def went_down(self, reason: str) -> VendorUnavailable:
        """A call gave up on connection errors or 5xx: the error for it, with the outage's first reason."""
        with self._lock:
            self._down = self._down or reason
            return VendorUnavailable(self._down)

    def lose(self, reason: str) -> VendorUnavailable:
        """The vendor refused its credentials, or its certificate was not accepted: every later call
        fails with the first such reason, without being sent."""
        with self._lock:
            self._lost = self._lost or reason
            self._heard = True
            return VendorUnavailable(self._lost)

    def answered(self) -> None:
        """A call got an answer: the vendor is up (again)."""
        self._heard = True
        if self._down is not None:
            with self._lock:
                self._down = None

    def is_new_failure(self, reason: str) -> bool:
        """True the first time a reason is given this run: its line is logged by the first stream it stops only."""
        with self._lock:
            if reason in self._failures_logged:
                return False
            self._failures_logged.add(reason)
            return True

    def waits(self, sleep: t.Callable[[float], None]) -> t.Callable[[float], None]:
        """`sleep` (a job's wait between polls) taken in short steps, ended by VendorUnavailable as soon
        as the vendor is lost: a job learns of refused credentials at once, not at its next poll."""

        def wait(seconds: float) -> None:
            until = time.monotonic() + seconds
            while True:
                self.check()
                left = until - time.monotonic()
                if left <= 0:
                    return
                sleep(min(left, LOST_CHECK_SECONDS))

        return wait


class OutageProbes:
    """Each vendor's probe (one cheap call through the usual retries), run when a call finds another
    vendor down: the vendors not heard from yet are asked at once, each on a thread of its own, so
    that a network or a proxy that is down costs one vendor's retries rather than every vendor's in
    turn. A probe that gives up puts its vendor down; the vendor's streams then fail at once, and a
    stream that meets the outage while the probe still retries waits for its verdict (`retry_turn`).
    Each vendor is probed at most once per run, and only when one of its probes is wanted (a selected
    stream's): a healthy run sends no probe."""

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self._logger = logger
        self._lock = threading.Lock()
        self._offers: dict[str, list[tuple[VendorHealth, t.Callable[[], bool]]]] = {}
        self._probed: set[str] = set()

    def offer(self, vendor: str, health: VendorHealth, probe: t.Callable[[], bool]) -> None:
        """`probe()` asks the vendor once (with retries) and returns True, or returns False when it is
        not wanted (its stream is not selected): the next offer of the vendor is tried then."""
        with self._lock:
            self._offers.setdefault(vendor, []).append((health, probe))

    def suspect(self, vendor: str) -> None:
        """A call to `vendor` met an outage: probe every other vendor not heard from yet, in parallel."""
        with self._lock:
            others = [(name, offers) for name, offers in self._offers.items()
                      if name != vendor and name not in self._probed and not offers[0][0].heard]
            self._probed.update(name for name, _ in others)
            self._probed.add(vendor)  # found by its own call: no probe of its own
        if others and self._logger:
            self._logger.info("%s did not answer; asking %s at once, in parallel, whether they answer", vendor,
                              ", ".join(name for name, _ in others))
        for name, offers in others:
            threading.Thread(target=_first_wanted, args=(offers,), name=f"{name}-probe", daemon=True).start()


def _first_wanted(offers: list[tuple[VendorHealth, t.Callable[[], bool]]]) -> None:
    for _, probe in offers:
        if probe():
            return
