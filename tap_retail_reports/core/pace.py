"""How many requests a vendor gets at once, learned from its answers (TCP's additive increase,
multiplicative decrease, on requests in flight): most vendors document no such limit, and the one that
does may change it. The rules, and their log lines: docs/production.md, "How many requests at once".

Work that has ended (a stopped stream, a stopping run, a report job nobody waits for) must not go on
calling the vendor: its thread runs inside `work_for(ended)`, and its calls raise `Abandoned`.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import threading
import time
import typing as t
from dataclasses import dataclass

import requests
from requests.adapters import HTTPAdapter

from tap_retail_reports.core.http import LimitedSession, RateLimiter, retry_after_seconds

if t.TYPE_CHECKING:
    from tap_retail_reports.core.run_stats import StreamStats

START = 2  # requests at once before the vendor has answered any
REFUSAL_PAUSE = 1.0  # seconds every request waits after a refusal that does not say how long
PROBE_EVERY = 32  # clean answers below a refused level before one more request at once is tried
PROBE_EVERY_MAX = 1024
TICK = 0.25  # seconds between looks at the work's end while waiting


class Abandoned(Exception):
    """The work a call was for has ended (its stream stopped, the run is stopping, nobody waits
    for its report job): the call is not sent, or its answer is dropped, and it is not retried."""


_work = threading.local()


@contextlib.contextmanager
def work_for(ended: t.Callable[[], bool], order: int = 0) -> t.Iterator[None]:
    """Run the block's calls for work that `ended()` says is over; `order` ranks its turns (lower first)."""
    previous = getattr(_work, "ended", None), getattr(_work, "order", 0)
    _work.ended, _work.order = ended, order
    try:
        yield
    finally:
        _work.ended, _work.order = previous


def abandoned() -> bool:
    """Whether the calling thread's work has ended."""
    ended = getattr(_work, "ended", None)
    return ended is not None and ended()


def check_not_abandoned() -> None:
    if abandoned():
        raise Abandoned("the work this call was for has ended")


def abandonable_sleep(seconds: float) -> None:
    """`time.sleep`, cut short (raising Abandoned) when the calling thread's work ends."""
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        check_not_abandoned()
        time.sleep(min(left, TICK))
    check_not_abandoned()


@dataclass(frozen=True)
class Turn:
    """One request's place: how many were in flight with it, and under which cut it was sent."""

    in_flight: int
    cut: int


class Pace:
    """One vendor's requests at once (thread-safe): a place is taken before each request, given back with its answer."""

    def __init__(self, vendor: str, ceiling: int, logger: logging.Logger, *, ceiling_setting: str = "",
                 clock: t.Callable[[], float] = time.monotonic) -> None:
        self.vendor = vendor
        self.ceiling = max(1, ceiling)
        self.ceiling_setting = ceiling_setting  # named in log lines: what a user may change
        self.logger = logger
        self.limit = min(START, self.ceiling)
        self.refusals = 0
        self._clock = clock
        self._cond = threading.Condition()
        self._in_flight = 0
        self._not_before = 0.0
        self._believed_limit = self.ceiling  # the most the vendor is believed to take (below a refused level)
        self._probe_every = PROBE_EVERY
        self._probe_in = 0  # clean answers at the hold before trying one more
        self._clean = 0  # clean answers in a row since the last change
        self._full = False  # every place was taken at some moment since the last change: the limit is what binds
        self._cut = 0  # how many times the pace was cut
        self._waiting: list[tuple[int, int]] = []
        self._arrivals = itertools.count()
        self._levels_reached: set[tuple[str, int]] = set()

    def take(self) -> Turn:
        """Wait for a place: past any Retry-After, a free place, and this request's turn (lower `work_for` order
        first, so that the window a stream waits for goes first; then arrival)."""
        key = (getattr(_work, "order", 0), next(self._arrivals))
        with self._cond:
            self._waiting.append(key)
            try:
                while True:
                    check_not_abandoned()
                    now = self._clock()
                    if now < self._not_before:
                        self._cond.wait(min(self._not_before - now, TICK))
                    elif self._in_flight < self.limit and min(self._waiting) == key:
                        self._in_flight += 1
                        self._full = self._full or self._in_flight >= self.limit
                        return Turn(self._in_flight, self._cut)
                    else:
                        self._cond.wait(TICK)
            finally:
                self._waiting.remove(key)
                self._cond.notify_all()

    def done(self, turn: Turn, response: requests.Response | None) -> None:
        """Give the place back; `response` is the answer (None: no answer, which says nothing of the pace)."""
        status = response.status_code if response is not None else None
        retry_after = retry_after_seconds(response) if status in (429, 503) else None
        line: tuple[int, str] | None = None
        with self._cond:
            self._in_flight -= 1
            if status == 429 or (status == 503 and retry_after is not None):
                # Requests out while this one was: the most the vendor may have been answering (it came
                # first or last among them); its own place counts, as the vendor counted it.
                line = self._refused(max(turn.in_flight, self._in_flight + 1), turn.cut, status, retry_after)
            elif status is not None and status < 500 and self._full:
                line = self._answered_clean()
            self._cond.notify_all()
        if line is not None:
            level, message = line
            self.logger.log(level, "%s", message)

    def _refused(self, in_flight: int, cut: int, status: int, retry_after: float | None) -> tuple[int, str] | None:
        self.refusals += 1
        self._clean = 0
        pause = REFUSAL_PAUSE if retry_after is None else retry_after
        self._not_before = max(self._not_before, self._clock() + pause)
        was = self.limit
        if cut != self._cut:
            return None  # sent before the last cut, under a pace no longer in force: not news
        if 1 < in_flight <= self._believed_limit + 1:
            # Refused with N in flight: it takes fewer than N; try N again only after clean answers below it.
            if self._believed_limit < self.ceiling:
                self._probe_every = min(self._probe_every * 2, PROBE_EVERY_MAX)  # it refused a try before
            self._believed_limit = in_flight - 1
            self._probe_in = self._probe_every
        self._cut += 1
        self.limit = max(1, min(self.limit // 2, self._believed_limit))
        self._full = self._in_flight >= self.limit
        if self.limit == was:
            return None
        why = f"Retry-After {retry_after:g} s" if retry_after is not None else "it gave no Retry-After"
        return self._change_line("down", f"{self.vendor}: HTTP {status} with {in_flight} request(s) in flight: "
                         f"now at most {self.limit} at once (was {was}); every request to it waits {pause:g} s ({why})")

    def _answered_clean(self) -> tuple[int, str] | None:
        self._clean += 1
        if self.limit < min(self._believed_limit, self.ceiling):
            if self._clean < self.limit:
                return None
            self._clean = 0
            self.limit += 1
            self._full = self._in_flight >= self.limit
        elif self._believed_limit < self.ceiling and self.limit == self._believed_limit:
            self._probe_in -= 1
            if self._probe_in > 0:
                return None
            self._clean = 0
            self._believed_limit = self.limit = self.limit + 1
            self._full = self._in_flight >= self.limit
            return logging.DEBUG, f"{self.vendor}: {self._probe_every} clean answers: trying {self.limit} at once"
        else:
            return None
        if self.limit == self.ceiling:
            setting = f" ({self.ceiling_setting})" if self.ceiling_setting else ""
            return self._change_line("ceiling", f"{self.vendor}: answers come back clean: {self.limit} request(s) at once, "
                             f"the most allowed{setting}")
        return None

    def _change_line(self, kind: str, message: str) -> tuple[int, str]:
        """INFO the first time the pace reaches a level this way, DEBUG after (a vendor's probes repeat)."""
        first = (kind, self.limit) not in self._levels_reached
        self._levels_reached.add((kind, self.limit))
        return (logging.INFO if first else logging.DEBUG), message


class PacedSession(LimitedSession):
    """A LimitedSession whose every request first takes a place from its vendor's Pace (before the rate
    limiter's slot, so that the budget counts requests when they leave), and sends nothing for abandoned work."""

    def __init__(self, limiter: RateLimiter | None, stats: StreamStats | None, pace: Pace) -> None:
        super().__init__(limiter, stats)
        self.pace = pace
        if pace.ceiling > 10:  # requests keeps 10 connections per host: more would be opened and dropped
            for prefix in ("https://", "http://"):
                self.mount(prefix, HTTPAdapter(pool_maxsize=pace.ceiling))
        self._sending = threading.local()

    def send(self, request: requests.PreparedRequest, **kwargs: t.Any) -> requests.Response:
        if getattr(self._sending, "turn", None) is not None:  # a redirect, sent inside this thread's own send
            return super().send(request, **kwargs)
        turn = self._sending.turn = self.pace.take()
        response = None
        try:
            check_not_abandoned()
            response = super().send(request, **kwargs)
        finally:
            self._sending.turn = None
            # An answer for work that has ended is not learned from: its stream (or the run) is over, and
            # the pace must not speak after it (the next stream of the vendor learns from its own).
            ended = abandoned()
            self.pace.done(turn, None if ended else response)
        if ended:
            response.close()
            raise Abandoned("the work this call was for ended while it was answered")
        return response
