"""core/pace.py as pure logic: a vendor's requests at once, learned from its answers (no HTTP, a fake clock)."""

from __future__ import annotations

import logging
import threading

import pytest
import requests

from tap_retail_reports.core.pace import PROBE_EVERY, START, Abandoned, Pace, abandoned, work_for
from tests.conftest import FakeClock


def answer(status: int, retry_after: str | None = None) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = b"{}"
    if retry_after is not None:
        response.headers["Retry-After"] = retry_after
    return response


def pace(ceiling: int = 8, clock: FakeClock | None = None) -> Pace:
    return Pace("vendor", ceiling, logging.getLogger("test.pace"), ceiling_setting="vendor.concurrent_windows",
                clock=clock or FakeClock())


def fill(p: Pace) -> list:
    """Take every place the pace allows now: the limit is in use."""
    return [p.take() for _ in range(p.limit)]


def test_it_starts_modestly_and_grows_while_answers_come_back_clean_up_to_the_ceiling(caplog):
    p = pace(ceiling=5)
    assert p.limit == START == 2
    seen = []
    with caplog.at_level(logging.DEBUG, "test.pace"):
        for _ in range(40):
            for turn in fill(p):
                p.done(turn, answer(200))
            seen.append(p.limit)
    assert seen[0] == 3 and max(seen) == 5 and seen[-1] == 5  # one more each round of clean answers, never past 5
    said = [r.getMessage() for r in caplog.records if "at once" in r.getMessage()]
    assert said == ["vendor: answers come back clean: 5 request(s) at once, the most allowed (vendor.concurrent_windows)"]


def test_a_lone_caller_does_not_grow_the_pace():
    p = pace()
    for _ in range(20):
        p.done(p.take(), answer(200))  # one request at a time: the limit of 2 is never in use
    assert p.limit == START


def test_a_refusal_halves_at_once_and_the_burst_it_belongs_to_cuts_once(caplog):
    p = pace(ceiling=8)
    for _ in range(30):
        for turn in fill(p):
            p.done(turn, answer(200))
    assert p.limit == 8
    turns = fill(p)
    with caplog.at_level(logging.INFO, "test.pace"):
        for turn in turns[:4]:  # four of the eight refused, all sent before the first cut
            p.done(turn, answer(429, "1"))
    assert p.limit == 4 and p.refusals == 4
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [("vendor: HTTP 429 with 8 request(s) in flight: now at most 4 at once (was 8); "
                      "every request to it waits 1 s (Retry-After 1 s)")]


def test_retry_after_holds_every_request_until_it_has_passed():
    clock = FakeClock(100.0)
    p = pace(clock=clock)
    first, second = p.take(), p.take()
    p.done(first, answer(429, "3"))
    p.done(second, answer(200))
    taken = threading.Event()

    def worker() -> None:
        p.take()
        taken.set()

    thread = threading.Thread(target=worker, daemon=True)
    thread.start()
    assert not taken.wait(0.6)  # not before 103 on the vendor's clock, whoever asks
    clock.now = 103.0
    assert taken.wait(5)


def test_503_with_retry_after_is_a_refusal_and_503_without_is_not():
    p = pace()
    turns = fill(p)
    p.done(turns[0], answer(503))  # an outage's answer: core/outage.py's business, not the pace's
    assert p.limit == 2 and p.refusals == 0
    p.done(turns[1], answer(503, "2"))
    assert p.limit == 1 and p.refusals == 1


def test_a_vendor_that_takes_one_at_a_time_is_tried_again_rarely():
    """Refused with two in flight: one at a time, and two again only after PROBE_EVERY clean answers,
    then twice as many after each try it refuses: a whole backfill costs a handful of refusals."""
    p = pace(ceiling=8)
    answered = 0
    while answered < 365:  # a year of daily windows; the vendor refuses what comes while another is in flight
        turns = fill(p)
        for index, turn in enumerate(turns):
            p.done(turn, answer(429, "0") if index > 0 else answer(200))
        answered += 1
    assert p.refusals == 4  # 1 at the start, then tries after 32, 64 and 128 more clean answers
    assert p.limit == 1 and PROBE_EVERY == 32


def test_a_request_of_ended_work_is_not_sent():
    p = pace()
    ended = threading.Event()
    with work_for(ended.is_set):
        assert not abandoned()
        p.done(p.take(), answer(200))
        ended.set()
        assert abandoned()
        with pytest.raises(Abandoned):
            p.take()
    assert not abandoned()  # the scope ends with the block


def test_places_go_to_the_earliest_work_first():
    p = pace(ceiling=1)
    held = p.take()
    order: list[int] = []

    def worker(index: int) -> None:
        with work_for(lambda: False, order=index):
            p.done(p.take(), answer(200))
            order.append(index)

    threads = [threading.Thread(target=worker, args=(index,), daemon=True) for index in (5, 3, 9, 1)]
    for thread in threads:
        thread.start()
    while len(p._waiting) < 4:
        threading.Event().wait(0.01)
    p.done(held, answer(200))
    for thread in threads:
        thread.join(5)
    assert order == [1, 3, 5, 9]
