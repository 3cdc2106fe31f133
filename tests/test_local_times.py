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


def odd_texts() -> list[str]:
    """Date-times in the other forms files write them, and texts close to them that are none."""
    dates = ("10/05/2026", "05.10.2026", "2026/10/05", "2026-10-05", "3/8/2026", "2026-03-08")
    clocks = ("1:45", "01:45:07", "1:45:07 PM", "12:00:59 am", "13:45:07 PM", "1:45:7 PM", "1:45:07:30",
              "1:45:07.250", "1:45:60", "1:61:07", "23:59:59", "1:45:07PM", "02:30:00")
    rests = ("", " +05:30", "+0530", "Z", " -08:00", " +25:00", ":", " x", " 7")
    return [f"{date}{between}{clock}{rest}" for date in dates for clock in clocks for rest in rests for between in (" ", "T")]


@pytest.mark.parametrize("name", ["America/Los_Angeles", "Asia/Kolkata"])
def test_any_date_time_text_converted_per_minute_is_the_text_converted_on_its_own(name: str) -> None:
    """The per-minute split (slices at the first colon, checked against `_AT_MINUTE` once per minute) gives
    what each text's own conversion gives, whichever text of a minute came first; so does `raising`."""
    convert = as_iso_datetime(ZoneInfo(name))
    texts = odd_texts()
    for text in texts + texts[::-1]:
        expected = convert.one_by_one(text)
        got = convert(text)
        assert (got.__class__, getattr(got, "value", got)) == (expected.__class__, getattr(expected, "value", expected)), text
        if expected.__class__ is Misfit:
            with pytest.raises(KeyError):
                convert.raising(text)
        else:
            assert convert.raising(text) == expected, text
