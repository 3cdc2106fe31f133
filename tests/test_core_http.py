"""Rate limiter and Retry-After parsing: pure logic, with a fake clock."""

from __future__ import annotations

import requests

from tap_retail_reports.core.http import RateLimiter, retry_after_seconds
from tests.conftest import FakeClock


def busiest_window(times: list[float], period: float) -> int:
    return max(sum(1 for other in times if start <= other < start + period) for start in times)


def test_limiter_never_exceeds_the_budget_in_any_sliding_window():
    clock = FakeClock()
    limiter = RateLimiter(60, 60.0, clock=clock, sleep=clock.sleep)
    sent = []
    for _ in range(365):
        limiter.acquire()
        sent.append(clock.now)
        clock.now += 0.01  # the request itself takes a little time
    assert busiest_window(sent, 60.0) <= 60
    # ... and it does not wait more than it must: 365 calls at 60/min need about 6 minutes.
    assert sent[-1] < 6 * 60 + 5


def response(status: int, headers: dict | None = None, body: bytes = b"") -> requests.Response:
    made = requests.Response()
    made.status_code = status
    made.headers.update(headers or {})
    made._content = body
    return made


def test_retry_after_from_header_seconds_body_or_nothing():
    assert retry_after_seconds(response(429, {"Retry-After": "7"})) == 7.0
    assert retry_after_seconds(response(429, body=b'{"error": "slow down", "retryAfter": 12}')) == 12.0
    assert retry_after_seconds(response(503, body=b"<html>busy</html>")) is None
    assert retry_after_seconds(None) is None


def test_retry_after_is_bounded():
    assert retry_after_seconds(response(429, {"Retry-After": "86400"})) == 300.0
    assert retry_after_seconds(response(429, {"Retry-After": "-3"})) == 0.0


def test_a_malformed_retry_after_falls_back_to_the_body_or_to_our_own_waits():
    assert retry_after_seconds(response(429, {"Retry-After": "soon"})) is None
    assert retry_after_seconds(response(429, {"Retry-After": "soon"}, b'{"retryAfter": 4}')) == 4.0
    http_date = retry_after_seconds(response(503, {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}))
    assert http_date == 0.0  # a date in the past: retry at once
