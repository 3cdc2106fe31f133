"""Naive local times converted once per minute (core/values.py `as_iso_datetime`) give the text a
conversion of each value on its own gives: around daylight-saving changes (a gap, a repeated hour),
in zones with offsets of minutes or of seconds (local mean time before 1900), and for texts that
look like a naive time but are none."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from tap_retail_reports.core.values import Misfit, as_iso_datetime
from tap_retail_reports.core.windows import UTC, iso

ZONES = ("Asia/Kolkata", "America/Los_Angeles", "Europe/London", "Australia/Lord_Howe", "America/St_Johns",
         "Asia/Kathmandu", "UTC")


def one_by_one(value: str, zone: dt.tzinfo) -> str:
    """The value read in `zone` and written in UTC, on its own."""
    moment = dt.datetime.fromisoformat(value).replace(tzinfo=zone).astimezone(UTC)
    return iso(moment)


def local_texts() -> list[str]:
    texts = []
    for year in (1850, 1890, 2024, 2026):  # local mean times with seconds in their offsets, then today's rules
        for month in (1, 3, 4, 9, 10, 11):
            for day in range(1, 32):
                for hour in (0, 1, 2, 3, 12, 23):
                    for minute, second in ((0, 0), (29, 59), (30, 0), (59, 59)):
                        try:
                            moment = dt.datetime(year, month, day, hour, minute, second)  # noqa: DTZ001  # naive: a file's local time
                        except ValueError:
                            continue
                        texts.append(moment.strftime("%Y-%m-%d %H:%M:%S"))
                        texts.append(moment.strftime("%Y-%m-%dT%H:%M:%S"))
    return texts


@pytest.mark.parametrize("name", ZONES)
def test_a_naive_time_converted_per_minute_is_the_time_converted_on_its_own(name: str) -> None:
    zone = ZoneInfo(name)
    convert = as_iso_datetime(zone)
    texts = local_texts()
    for text in texts + texts:  # the second time from the minute's memory
        assert convert(text) == one_by_one(text, zone), (name, text)


def test_texts_shaped_like_a_naive_time_that_are_none_do_not_fit() -> None:
    convert = as_iso_datetime(ZoneInfo("Asia/Kolkata"))
    for text in ("2026-10-05 24:00:00", "2026-13-05 10:00:00", "2026-02-30 10:00:00", "2026-10-05 10:61:00"):
        for _ in range(2):
            assert isinstance(convert(text), Misfit), text
    assert convert("2026-10-05 10:00:60").__class__ is Misfit
    assert convert("2026-10-05 10:00:07.250") == "2026-10-05T04:30:07.250Z"  # a fraction: converted on its own
    assert convert("2026-10-05T10:00:07+05:30") == "2026-10-05T10:00:07+05:30"  # has an offset: kept
