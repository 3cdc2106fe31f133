"""A vendor's standing in a run (core/outage.py): while one call retries through a suspected outage,
calls failing on other threads wait for its verdict instead of spending retries of their own."""

from __future__ import annotations

import threading

import pytest

from tap_retail_reports.core.outage import VendorHealth, VendorUnavailable


def waiter(health: VendorHealth, outcome: list) -> threading.Thread:
    def run() -> None:
        try:
            outcome.append(health.retry_turn())
        except VendorUnavailable as error:
            outcome.append(str(error))
        finally:
            health.call_ended()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


@pytest.mark.parametrize("verdict", ["down", "answered"])
def test_a_second_failing_call_waits_for_the_probing_calls_verdict(verdict: str) -> None:
    health = VendorHealth("vroom")
    assert health.retry_turn() is True  # this thread probes
    assert health.retry_turn() is True  # and keeps probing on its next failure
    outcome: list = []
    thread = waiter(health, outcome)
    thread.join(0.3)
    assert thread.is_alive() and not outcome  # it waits: no retry of its own meanwhile
    if verdict == "down":
        health.went_down("vroom is down: HTTP 503, 6 attempt(s)")
    else:
        health.answered()
    health.call_ended()
    thread.join(5)
    assert outcome == (["vroom is down: HTTP 503, 6 attempt(s)"] if verdict == "down" else [False])


def test_once_the_probe_is_over_the_next_failure_probes_again() -> None:
    health = VendorHealth("vroom")
    assert health.retry_turn() is True
    health.answered()
    health.call_ended()
    outcome: list = []
    waiter(health, outcome).join(5)
    assert outcome == [True]
