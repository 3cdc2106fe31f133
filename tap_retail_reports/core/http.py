"""HTTP plumbing shared by every vendor: client-side rate limits, Retry-After, waits."""

from __future__ import annotations

import collections
import datetime as dt
import email.utils
import json
import logging
import threading
import time
import typing as t

import requests

from tap_retail_reports.core.environment import NetworkSettings, certificate_problems

# Never wait longer than this on one Retry-After: a vendor asking for an hour is
# better answered by failing the run clearly than by hanging a scheduler slot.
MAX_RETRY_AFTER_SECONDS = 300.0

# A pause for the request budget longer than this is logged, with its cause: a
# silent minute looks like a hang. Shorter ones are counted in the run summary only.
LOG_WAITS_OVER_SECONDS = 5.0

if t.TYPE_CHECKING:
    from tap_retail_reports.core.run_stats import StreamStats


class RateLimiter:
    """At most `max_calls` in any sliding window of `period` seconds, shared by every stream and thread of a
    vendor: the budget is per API key, not per stream."""

    def __init__(
        self,
        max_calls: int,
        period: float = 60.0,
        clock: t.Callable[[], float] = time.monotonic,
        sleep: t.Callable[[float], None] = time.sleep,
        *,
        label: str = "rate limit",
        logger: logging.Logger | None = None,
    ) -> None:
        if max_calls < 1:
            raise ValueError("max_calls must be at least 1")
        self.max_calls = max_calls
        self.period = period
        self.label = label  # names the budget in log lines: the vendor
        self.logger = logger or logging.getLogger(__name__)
        self._clock = clock
        self._sleep = sleep
        self._sent: collections.deque[float] = collections.deque()
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Block until a call may go out; return the seconds waited."""
        waited = 0.0
        while True:
            with self._lock:
                now = self._clock()
                while self._sent and self._sent[0] <= now - self.period:
                    self._sent.popleft()
                if len(self._sent) < self.max_calls:
                    self._sent.append(now)
                    return waited
                # A small margin keeps the oldest call safely out of the window.
                pause = self._sent[0] + self.period - now + 0.001
            if pause > LOG_WAITS_OVER_SECONDS:
                self.logger.info(
                    "%s: request budget of %d per %g s reached; waiting %.0f s",
                    self.label, self.max_calls, self.period, pause,
                )
            self._sleep(pause)
            waited += pause


class LimitedSession(requests.Session):
    """A requests session whose every send takes a slot from a rate limiter, is counted in the stream's
    stats, and goes through the environment's proxies and CA bundle (core/environment.py)."""

    def __init__(self, limiter: RateLimiter | None = None, stats: StreamStats | None = None) -> None:
        super().__init__()
        self.limiter = limiter
        self.stats = stats
        self.network = NetworkSettings(self.proxies)

    def send(self, request: requests.PreparedRequest, **kwargs: t.Any) -> requests.Response:
        waited = self.limiter.acquire() if self.limiter is not None else 0.0
        if self.stats is not None:
            self.stats.add(requests=1, rate_limit_wait=waited)
        url = request.url or ""
        with certificate_problems(url):
            return super().send(request, **{**self.network(url), **kwargs})


def retry_after_seconds(response: requests.Response | None) -> float | None:
    """The wait a 429/503 asks for: `Retry-After` (seconds or HTTP date) or a JSON body field."""
    if response is None:
        return None
    header = response.headers.get("Retry-After")
    if header:
        header = header.strip()
        try:
            return _bounded(float(header))
        except ValueError:
            pass
        try:
            when = email.utils.parsedate_to_datetime(header)
        except (TypeError, ValueError):
            when = None  # neither seconds nor an HTTP date: fall back to the body, then our own waits
        if when is not None:
            if when.tzinfo is None:
                when = when.replace(tzinfo=dt.timezone.utc)
            return _bounded(when.timestamp() - time.time())
    try:
        body = json.loads(response.content or b"null")
    except (ValueError, UnicodeDecodeError):
        return None
    if isinstance(body, dict):
        for key in ("retryAfter", "retry_after"):
            value = body.get(key)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                return _bounded(float(value))
    return None


def _bounded(seconds: float) -> float:
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_SECONDS)


def describe_response(response: requests.Response) -> str:
    """`METHOD /path -> status`, without query string or host: safe for any log line."""
    request = response.request
    method = request.method if request is not None else "?"
    path = requests.utils.urlparse(response.url).path if response.url else "?"
    return f"{method} {path} -> HTTP {response.status_code}"
