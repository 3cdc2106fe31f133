"""The suite is green on any date: the tests that read the real date or time (marked `date_sensitive`)
run again here with the clock of pytest, of the sandbox it serves and of every tap command it starts
moved (tests/clock.py) to each day of next week, to a month's end, and to the next daylight-saving
change of Los Angeles (FoxyCart's stores) and of central Europe.

The times of day put the vendors' days apart, and the machine's zone (TZ) is the one whose date is not
UTC's: 02:30 UTC is still the day before in Los Angeles, 20:00 UTC is already the next day in India
(Flipkart), and a month's last day at 20:00 UTC is the next month there.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import zoneinfo
from pathlib import Path

import pytest

from tap_retail_reports.core.windows import parse_when
from tap_retail_reports.sandbox.credentials import tap_config
from tap_retail_reports.sandbox.server import RunningSandbox
from tests.clock import MOMENT_VARIABLE, run_pytest_at
from tests.conftest import catalog_selecting, run_tap, sandbox_log

UTC = dt.timezone.utc
TESTS = Path(__file__).resolve().parent
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
LOS_ANGELES, KOLKATA = "America/Los_Angeles", "Asia/Kolkata"  # FoxyCart's store, Flipkart
DST_ZONES = {"us-dst": LOS_ANGELES, "eu-dst": "Europe/Berlin"}


def next_offset_change(zone: zoneinfo.ZoneInfo, after: dt.datetime) -> dt.datetime:
    """The first moment after `after` at which the zone's UTC offset changes (a DST change)."""
    hour = after.replace(minute=0, second=0, microsecond=0)
    offset = hour.astimezone(zone).utcoffset()
    for _ in range(24 * 400):
        hour += dt.timedelta(hours=1)
        if hour.astimezone(zone).utcoffset() != offset:
            return hour
    raise AssertionError(f"{zone} has no offset change in the next 400 days")


def moments(now: dt.datetime) -> dict[str, tuple[dt.datetime, str]]:
    """Each case's moment (UTC) and the machine's zone then (TZ), all after `now`, so that the fixed past
    dates of the other tests stay in the past."""
    monday = dt.datetime.combine(now.date() + dt.timedelta(days=7 - now.weekday()), dt.time(), UTC)
    cases: dict[str, tuple[dt.datetime, str]] = {}
    for number, day in enumerate(WEEKDAYS):  # the machine's zone the vendor's, whose date differs from UTC's
        time_of_day, zone = (dt.time(2, 30), LOS_ANGELES) if number % 2 == 0 else (dt.time(20), KOLKATA)
        cases[day] = (dt.datetime.combine((monday + dt.timedelta(days=number)).date(), time_of_day, UTC), zone)
    next_month = (now.date().replace(day=1) + dt.timedelta(days=32)).replace(day=1)
    last_day = (next_month + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
    cases["month-end"] = (dt.datetime.combine(last_day, dt.time(20), UTC), KOLKATA)
    for name, zone in DST_ZONES.items():  # half an hour after the change, in that zone
        cases[name] = (next_offset_change(zoneinfo.ZoneInfo(zone), now) + dt.timedelta(minutes=30), zone)
    return cases


def test_the_cases_cover_every_weekday_a_month_end_and_both_dst_changes() -> None:
    cases = moments(dt.datetime(2026, 12, 7, 17, 0, tzinfo=UTC))
    assert [cases[day][0].weekday() for day in WEEKDAYS] == list(range(7))
    assert cases["monday"] == (dt.datetime(2026, 12, 14, 2, 30, tzinfo=UTC), LOS_ANGELES)  # Sunday there
    assert cases["tuesday"] == (dt.datetime(2026, 12, 15, 20, 0, tzinfo=UTC), KOLKATA)  # Wednesday there
    assert cases["month-end"] == (dt.datetime(2027, 1, 31, 20, 0, tzinfo=UTC), KOLKATA)  # February there
    assert cases["us-dst"] == (dt.datetime(2027, 3, 14, 10, 30, tzinfo=UTC), "America/Los_Angeles")  # 03:30 PDT
    assert cases["eu-dst"] == (dt.datetime(2027, 3, 28, 1, 30, tzinfo=UTC), "Europe/Berlin")  # 03:30 CEST


@pytest.mark.skipif(MOMENT_VARIABLE in os.environ, reason="already a run on a chosen date")
@pytest.mark.parametrize("case", [*WEEKDAYS, "month-end", *DST_ZONES])
def test_the_date_sensitive_tests_pass_on(case: str) -> None:
    moment, zone = moments(dt.datetime.now(UTC))[case]
    files = [str(path) for path in sorted(TESTS.glob("test_*.py")) if "mark.date_sensitive" in path.read_text()]
    done = run_pytest_at(moment, ["-m", "date_sensitive", "-q", "-rA", *files], timezone=zone,
                         capture_output=True, text=True, timeout=900)
    said = f"on {moment.isoformat()} (TZ={zone}):\n{done.stdout[-6000:]}\n{done.stderr[-2000:]}"
    assert done.returncode == 0, said
    assert "PASSED tests/test_any_date.py::test_the_tap_and_the_sandbox_see_the_same_now" in done.stdout, said


@pytest.mark.date_sensitive
def test_the_tap_and_the_sandbox_see_the_same_now(fresh_sandbox: RunningSandbox) -> None:
    """Proof that a run on a chosen date is one: the test, the sandbox and the tap agree on now."""
    before = dt.datetime.now(UTC).replace(microsecond=0)
    config = {**tap_config(f"http://127.0.0.1:{fresh_sandbox.port}", vendors=("vroom",)),
              "start_date": (before - dt.timedelta(hours=1)).isoformat(), "end_date": "2099-01-01"}
    run = run_tap(config, catalog=catalog_selecting(config, ["vroom_orders"])).ok()
    after = dt.datetime.now(UTC)
    said = re.search(r"end_date 2099-01-01 is in the future: reading up to now \((\S+)\)", run.stderr)
    assert said, run.stderr[-3000:]
    assert before <= parse_when(said[1]) <= after  # the tap's now
    answered = [dt.datetime.fromtimestamp(entry["at"], UTC) for entry in sandbox_log(fresh_sandbox)]
    assert answered and all(before <= at <= after for at in answered)  # the sandbox's
    if MOMENT_VARIABLE in os.environ:  # a run on a chosen date: started then, and shorter than its timeout
        moment = dt.datetime.fromisoformat(os.environ[MOMENT_VARIABLE])
        assert moment <= before <= moment + dt.timedelta(minutes=15), (moment, before)
