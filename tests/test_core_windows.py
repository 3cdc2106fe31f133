"""Date windows, periods and lookback: pure logic, no HTTP."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest

from tap_retail_reports.core.windows import (
    Window,
    day_windows,
    iso,
    parse_when,
    period_start,
    periods,
    resume_from,
)

UTC = dt.timezone.utc


def at(text: str) -> dt.datetime:
    return parse_when(text)


def test_parse_when_accepts_dates_and_datetimes_as_utc():
    assert at("2026-03-01") == dt.datetime(2026, 3, 1, tzinfo=UTC)
    assert at("2026-03-01T05:30:00+02:00") == dt.datetime(2026, 3, 1, 3, 30, tzinfo=UTC)
    assert at("2026-03-01T05:30:00Z").tzinfo is not None


@pytest.mark.parametrize("bad", ["yesterday-ish", "2026-13-01", "", "31/12/2026"])
def test_parse_when_rejects_non_dates(bad):
    with pytest.raises(ValueError):
        parse_when(bad)


def test_day_windows_are_adjacent_half_open_and_cut_at_end():
    windows = list(day_windows(at("2026-03-01T10:00:00Z"), at("2026-03-04T06:00:00Z"), 1))
    assert windows[0].start == at("2026-03-01")  # aligned on midnight
    assert windows[-1].end == at("2026-03-04T06:00:00Z")  # cut at the end bound
    for earlier, later in itertools.pairwise(windows):
        assert earlier.end == later.start  # no gap, no overlap
    assert len(windows) == 4


def test_multi_day_windows_cover_the_range_exactly():
    windows = list(day_windows(at("2026-01-01"), at("2026-01-08"), 3))
    assert [(w.start.day, w.end.day) for w in windows] == [(1, 4), (4, 7), (7, 8)]


def test_last_instant_stays_inside_the_window():
    window = Window(at("2026-03-01"), at("2026-03-02"))
    assert window.start < window.last_instant < window.end
    assert iso(window.last_instant) == "2026-03-01T23:59:59.999Z"


def test_resume_applies_lookback_but_never_before_start_date():
    start = at("2026-01-01")
    assert resume_from(None, start, 3) == start
    assert resume_from(at("2026-02-10"), start, 3) == at("2026-02-07")
    assert resume_from(at("2026-01-02"), start, 3) == start


@pytest.mark.parametrize(
    ("day", "duration", "expected"),
    [
        ("2026-11-19", "daily", "2026-11-19"),
        ("2026-11-19", "weekly", "2026-11-16"),  # a Thursday: its ISO week starts Monday
        ("2026-11-19", "monthly", "2026-11-01"),
        ("2026-11-19", "quarterly", "2026-10-01"),
        ("2026-02-28", "quarterly", "2026-01-01"),
        ("2026-11-19", "yearly", "2026-01-01"),
    ],
)
def test_period_start_follows_the_calendar(day, duration, expected):
    assert period_start(at(day), duration).isoformat() == expected


def test_periods_yield_only_completed_periods_unless_asked():
    end = at("2026-05-15T12:00:00Z")
    months = list(periods(at("2026-01-20"), end, "monthly"))
    assert [p[0].isoformat() for p in months] == ["2026-01-01", "2026-02-01", "2026-03-01", "2026-04-01"]
    assert all(completed for _, _, completed in months)
    with_current = list(periods(at("2026-01-20"), end, "monthly", include_current=True))
    assert with_current[-1][0].isoformat() == "2026-05-01" and with_current[-1][2] is False
    # February has 28 days in 2026: calendar arithmetic, not 30-day steps.
    assert months[1][1].isoformat() == "2026-03-01"
