"""Date windows, calendar periods, lookback and the end bound.

All times are timezone-aware UTC. A window is half-open, [start, end): a row at
exactly `end` belongs to the next window, so adjacent windows never share a row.
"""

from __future__ import annotations

import datetime as dt
import typing as t
from dataclasses import dataclass

import pendulum

UTC = dt.timezone.utc
DURATIONS = ("daily", "weekly", "monthly", "quarterly", "yearly")
GRID_ORIGIN = dt.date(2001, 1, 1)  # a Monday: 7-day windows on the grid are ISO weeks


@dataclass(frozen=True)
class Window:
    start: dt.datetime
    end: dt.datetime  # exclusive

    @property
    def last_instant(self) -> dt.datetime:
        """The last millisecond inside the window, for APIs whose end bound is inclusive."""
        return self.end - dt.timedelta(milliseconds=1)

    def __str__(self) -> str:
        return f"[{iso(self.start)}, {iso(self.end)})"


def parse_when(value: str | dt.date | dt.datetime) -> dt.datetime:
    """A config or state value (date or date-time) as an aware UTC datetime; ValueError naming the text when
    it is not a date."""
    if isinstance(value, dt.datetime):
        parsed = value
    elif isinstance(value, dt.date):
        parsed = dt.datetime(value.year, value.month, value.day, tzinfo=UTC)
    else:
        try:
            found = pendulum.parse(str(value))  # strict: ISO-8601 only, no day/month guessing
        except (ValueError, pendulum.parsing.exceptions.ParserError) as exc:
            raise ValueError(f"not a date or date-time: {value!r}") from exc
        if isinstance(found, dt.datetime):
            parsed = found
        elif isinstance(found, dt.date):
            parsed = dt.datetime(found.year, found.month, found.day, tzinfo=UTC)
        else:
            raise ValueError(f"not a date or date-time: {value!r}")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return dt.datetime.fromtimestamp(parsed.timestamp(), UTC)


def iso(moment: dt.datetime) -> str:
    """ISO-8601 in UTC with a Z, to the second (to the millisecond when it has one)."""
    moment = moment.astimezone(UTC)
    if moment.microsecond:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def start_of_day(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def resume_from(
    bookmark: dt.datetime | None,
    start_date: dt.datetime,
    lookback_days: int,
) -> dt.datetime:
    """Where a run starts: the bookmark less the lookback, never before start_date."""
    if bookmark is None:
        return start_date
    return max(start_date, bookmark - dt.timedelta(days=lookback_days))


def day_windows(start: dt.datetime, end: dt.datetime, days: int) -> t.Iterator[Window]:
    """Windows of `days` days aligned on UTC midnights, the last one cut at `end`."""
    if days < 1:
        raise ValueError("a window is at least one day")
    cursor = start_of_day(start)
    step = dt.timedelta(days=days)
    while cursor < end:
        yield Window(cursor, min(cursor + step, end))
        cursor += step


def period_start(moment: dt.datetime | dt.date, duration: str) -> dt.date:
    """The first day of the calendar period (by `duration`) that holds `moment`."""
    day = pendulum.date(moment.year, moment.month, moment.day)
    if duration == "daily":
        return day
    if duration == "weekly":
        return day.start_of("week")  # ISO weeks: Monday
    if duration == "monthly":
        return day.start_of("month")
    if duration == "quarterly":
        return pendulum.date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    if duration == "yearly":
        return day.start_of("year")
    raise ValueError(f"unknown duration {duration!r}; expected one of {', '.join(DURATIONS)}")


def next_period_start(start: dt.date, duration: str) -> dt.date:
    day = pendulum.date(start.year, start.month, start.day)
    step = {
        "daily": {"days": 1},
        "weekly": {"weeks": 1},
        "monthly": {"months": 1},
        "quarterly": {"months": 3},
        "yearly": {"years": 1},
    }[duration]
    return day.add(**step)


def periods(
    first: dt.date, end: dt.datetime, duration: str, *, include_current: bool = False
) -> t.Iterator[tuple[dt.date, dt.date, bool]]:
    """(start, end exclusive, completed) of the calendar periods from the one holding `first` up to `end`: the
    period in progress (not completed by `end`) only with include_current."""
    cursor = period_start(first, duration)
    end_day = end.astimezone(UTC).date()
    while True:
        following = next_period_start(cursor, duration)
        completed = following <= end_day
        if not completed:
            if include_current and cursor <= end_day:
                yield cursor, following, False
            return
        yield cursor, following, True
        cursor = following


def local_day_windows(start: dt.datetime, end: dt.datetime, days: int, zone: dt.tzinfo) -> t.Iterator[Window]:
    """Windows of `days` local calendar days in `zone`, the last cut at `end`: built from local dates, so that
    a day of 23 or 25 hours (a DST change) is still one day; bounds in UTC."""
    if days < 1:
        raise ValueError("a window is at least one day")
    day = start.astimezone(zone).date()
    while True:
        cursor = local_midnight(day, zone)
        if cursor >= end:
            return
        day = day + dt.timedelta(days=days)
        yield Window(cursor, min(local_midnight(day, zone), end))


def on_grid(day: dt.date, days: int) -> dt.date:
    """The first day of the `days`-day grid window (counted from Monday 2001-01-01) that holds `day`:
    windows on this grid start on the same days whichever day a run resumes from."""
    return day - dt.timedelta(days=(day - GRID_ORIGIN).days % days)


def local_midnight(day: dt.date, zone: dt.tzinfo) -> dt.datetime:
    """The instant a local day starts, in UTC (the first of two at a repeated hour)."""
    return dt.datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(UTC)


def local_naive(moment: dt.datetime, zone: dt.tzinfo) -> str:
    """`YYYY-MM-DD HH:MM:SS` as a wall clock in `zone` shows it, for vendors that take local times."""
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")
