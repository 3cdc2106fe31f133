"""Times as Vroom reads and writes them: request bounds read liberally, rows written to the second in UTC."""

from __future__ import annotations

import datetime as dt
import re
import typing as t

UTC = dt.timezone.utc
PROGRAM_START = dt.datetime(2024, 1, 1, tzinfo=UTC)  # the retailer's first day on Vroom: no rows before it
MIDNIGHT_DAYS = (1, 11, 21)  # days of the month with rows at exactly 00:00:00 UTC

_FRACTION = re.compile(r"\.(\d+)")


class BadRequest(ValueError):
    """A request body Vroom would refuse with 400; the message names the field."""


def parse_time(value: t.Any, field: str) -> dt.datetime:
    """A request time, read as liberally as Vroom says it is: ISO-8601 with Z or an
    offset, with or without (any number of) fractional digits, or a bare date. Naive is UTC."""
    if not isinstance(value, str) or not value.strip():
        raise BadRequest(f"{field} must be a date-time string such as 2024-03-01T00:00:00Z, got {value!r}")
    text = value.strip()
    if text[-1:] in "Zz":
        text = text[:-1] + "+00:00"
    # datetime.fromisoformat wants 3 or 6 fractional digits before Python 3.11
    text = _FRACTION.sub(lambda m: "." + (m.group(1) + "000000")[:6], text, count=1)
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise BadRequest(
            f"{field}: cannot read {value!r} as a date-time; use ISO-8601 such as 2024-03-01T00:00:00Z"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def format_time(moment: dt.datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def days_between(start: dt.datetime, end: dt.datetime) -> t.Iterator[dt.date]:
    """Every UTC day from `start`'s to `end`'s, both included."""
    day, last = start.date(), end.date()
    while day <= last:
        yield day
        day += dt.timedelta(days=1)


def at_second(day: dt.date, second: int) -> dt.datetime:
    """The moment `second` seconds after `day`'s UTC midnight."""
    return dt.datetime(day.year, day.month, day.day, tzinfo=UTC) + dt.timedelta(seconds=second)
