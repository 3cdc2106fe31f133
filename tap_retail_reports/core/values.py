"""What a report file's text values are, in the forms exports write them (docs/streams.md, "Columns: any
layout, typed"): `read_text` gives the evidence core/layouts.py types a column from, and the date and
date-time converters here read the same forms (the other converters are in core/records.py).

Dates: `2026-10-05`, `2026/10/05`, or day and month in either order with `/`, `-` or `.` between
(`10/05/2026`); times after a space or `T`, with or without seconds, fractions, AM/PM and an offset.
"""

from __future__ import annotations

import datetime as dt
import re
import typing as t
from dataclasses import dataclass

import pendulum

from tap_retail_reports.core.windows import UTC, iso

MDY, DMY = "mdy", "dmy"
ORDERS = (MDY, DMY)

_INTEGER = re.compile(r"[+-]?(?:\d+|\d{1,3}(?:,\d{3})+)")
_DECIMAL = re.compile(r"[+-]?(?:\d+\.\d*|\.\d+|\d{1,3}(?:,\d{3})+\.\d+)")
_LEADING_ZERO = re.compile(r"[+-]?0\d+")
LONG_DIGITS = 12  # a whole number written with this many digits or more is an identifier, never a count
_DIGITS = re.compile(r"\d+")

_ISO_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_ISO_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})")
_YMD_SLASH = re.compile(r"(\d{4})/(\d{1,2})/(\d{1,2})")
_DAY_MONTH = re.compile(r"(\d{1,2})([/.-])(\d{1,2})\2(\d{4})")
_DATE_PART = r"\d{4}-\d{2}-\d{2}|\d{4}/\d{1,2}/\d{1,2}|\d{1,2}(?P<sep>[/.-])\d{1,2}(?P=sep)\d{4}"
_DATE_TIME = re.compile(
    rf"(?P<date>{_DATE_PART})(?:T| +)(?P<hour>\d{{1,2}}):(?P<minute>\d{{2}})"
    r"(?::(?P<second>\d{2})(?P<fraction>\.\d{1,9})?)?"
    r"(?: ?(?P<half>[AaPp][Mm]))?"
    r"(?: ?(?P<offset>[Zz]|[+-]\d{2}:?\d{2}))?"
)
BOOLEAN_WORDS = {"true": True, "false": False, "yes": True, "no": False, "y": True, "n": False}


class Misfit:
    """A value that does not fit its column's type: it goes to `_extra_fields` under the column's name."""

    __slots__ = ("value",)

    def __init__(self, value: t.Any) -> None:
        self.value = value


Converter = t.Callable[[t.Any], t.Any]  # a value as sent -> the typed value, or a Misfit


@dataclass(frozen=True)
class Shape:
    """What one value could be. `orders`: the day/month orders a date reads in (both for an ISO date or
    a day and month of 12 or less); `naive`: a date-time without an offset; `identifier`: digits that
    must stay text (a leading zero, or LONG_DIGITS or more)."""

    kind: str  # integer, number, boolean, date, date-time, string; array and object in JSON answers
    orders: frozenset[str] = frozenset(ORDERS)
    naive: bool = False
    identifier: bool = False


STRING = Shape("string")
_BOOLEAN = Shape("boolean")
_INTEGER_SHAPE = Shape("integer")
_NUMBER_SHAPE = Shape("number")
_IDENTIFIER = Shape("string", identifier=True)
_ARRAY = Shape("array")
_OBJECT = Shape("object")


def read_text(text: str) -> Shape | None:
    """The shape of a text value; None for a blank (no evidence either way)."""
    value = text.strip()
    if not value:
        return None
    if value.lower() in BOOLEAN_WORDS:
        return _BOOLEAN
    if _INTEGER.fullmatch(value):
        digits = value.lstrip("+-").replace(",", "")
        if _LEADING_ZERO.fullmatch(value) or len(digits) >= LONG_DIGITS:
            return _IDENTIFIER
        return _INTEGER_SHAPE
    if _DECIMAL.fullmatch(value):
        return _NUMBER_SHAPE
    if not value[:1].isdigit():
        return STRING
    orders = date_orders(value)
    if orders:
        return Shape("date", orders)
    found = _DATE_TIME.fullmatch(value)
    if found:
        orders = date_orders(found["date"])
        if orders and time_of(found) is not None:
            return Shape("date-time", orders, naive=found["offset"] is None)
    return STRING


def read_cell(value: t.Any, *, json: bool = False) -> Shape | None:
    """The shape of a value as a workbook (or, with `json`, a JSON answer) types it; text is read as
    `read_text`. A workbook's whole number of LONG_DIGITS or more is an identifier, as its text would
    be; a JSON number is the number the vendor typed."""
    if value is None:
        return None
    if isinstance(value, str):
        return read_text(value)
    if isinstance(value, bool):
        return _BOOLEAN
    if isinstance(value, int):
        return _IDENTIFIER if not json and len(str(abs(value))) >= LONG_DIGITS else _INTEGER_SHAPE
    if isinstance(value, float):
        return _NUMBER_SHAPE
    if isinstance(value, dt.datetime):
        return Shape("date-time", naive=value.tzinfo is None)
    if isinstance(value, dt.date):
        return Shape("date")
    if isinstance(value, list):
        return _ARRAY
    if isinstance(value, dict):
        return _OBJECT
    return STRING


def date_orders(text: str) -> frozenset[str]:
    """The orders (MDY, DMY) in which `text` is a real date; empty when it is no date."""
    found = _ISO_DATE.fullmatch(text) or _YMD_SLASH.fullmatch(text)
    if found:
        return frozenset(ORDERS) if _valid(int(found[1]), int(found[2]), int(found[3])) else frozenset()
    found = _DAY_MONTH.fullmatch(text)
    if not found:
        return frozenset()
    first, second, year = int(found[1]), int(found[3]), int(found[4])
    return frozenset(order for order, (month, day) in ((MDY, (first, second)), (DMY, (second, first)))
                     if _valid(year, month, day))


def _valid(year: int, month: int, day: int) -> bool:
    try:
        dt.date(year, month, day)
    except ValueError:
        return False
    return year >= 1


def window_order(values: t.Iterable[t.Any], first: dt.date, last: dt.date) -> str | None:
    """The day/month order under which dates written with them both ("05/10/2026", also as a date-time's
    date) fall between `first` and `last` (a report's window, a day wider each side) where the other
    order puts them elsewhere; None when the values do not tell."""
    inside: dict[str, int] = dict.fromkeys(ORDERS, 0)
    for value in values:
        if value.__class__ is not str:
            continue
        text = value.strip().split(" ")[0].split("T")[0]
        if not _DAY_MONTH.fullmatch(text):
            continue
        placed = [order for order in ORDERS if (day := read_date(text, order)) is not None and first <= day <= last]
        if len(placed) == 1:
            inside[placed[0]] += 1
    told = [order for order, count in inside.items() if count]
    return told[0] if len(told) == 1 else None


def read_date(text: str, order: str) -> dt.date | None:
    """A date written in any of the forms above, day and month read in `order`; None if it is none."""
    found = _ISO_DATE.fullmatch(text) or _YMD_SLASH.fullmatch(text)
    try:
        if found:
            return dt.date(int(found[1]), int(found[2]), int(found[3]))
        found = _DAY_MONTH.fullmatch(text)
        if not found:
            return None
        first, second = int(found[1]), int(found[3])
        month, day = (first, second) if order == MDY else (second, first)
        return dt.date(int(found[4]), month, day)
    except ValueError:
        return None


def read_date_time(text: str, order: str) -> dt.datetime | None:
    """A date-time in any of the forms above, aware when it has an offset, else naive; None if it is none."""
    found = _DATE_TIME.fullmatch(text)
    if not found:
        return None
    day = read_date(found["date"], order)
    clock = time_of(found)
    if day is None or clock is None:
        return None
    moment = dt.datetime.combine(day, clock)
    offset = found["offset"]
    if offset is not None:
        if offset in ("Z", "z"):
            return moment.replace(tzinfo=dt.timezone.utc)
        sign = -1 if offset[0] == "-" else 1
        digits = offset[1:].replace(":", "")
        delta = dt.timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
        if delta >= dt.timedelta(hours=24):
            return None
        moment = moment.replace(tzinfo=dt.timezone(sign * delta))
    return moment


def time_of(found: re.Match[str]) -> dt.time | None:
    """The time of day of a `_DATE_TIME` match, or None when it is no time (25:00, 13 PM)."""
    hour, minute = int(found["hour"]), int(found["minute"])
    half = (found["half"] or "").lower()
    if half:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if half == "pm" else 0)
    fraction = found["fraction"]
    micro = int((fraction[1:] + "000000")[:6]) if fraction else 0
    try:
        return dt.time(hour, minute, int(found["second"] or 0), micro)
    except ValueError:
        return None


# A date-time split at its minute: what comes before its seconds, its seconds (when it has them), the rest
# (AM/PM, an offset). The first "H:MM" is its time: a date has no colon, an offset comes after.
_AT_MINUTE = re.compile(r"(.*?[0-9]:[0-5][0-9])(:[0-5][0-9])?(\D*|\s*[AaPp][Mm]\s*[+-]?[0-9:]*|\s*[+-][0-9:]+)")
SECONDS = frozenset(f"{second:02d}" for second in range(60))
MINUTES_REMEMBERED = 100_000  # distinct minutes per column converter (about 70 days): memory stays flat


def as_iso_datetime(zone: dt.tzinfo | None = UTC, order: str = MDY) -> Converter:
    """Date-times in the forms above as ISO UTC: a time without an offset is read in `zone` (no zone:
    it does not fit, never silently UTC), day and month in `order`. A file's values are converted once per
    minute, not per value (`minute_in_utc`), which is what keeps a large file quick.

    The converter's `raising` is the same conversion raising KeyError where it would give a Misfit (what
    the fast record path calls, core/fast_records.py); its `one_by_one`, each value converted on its own."""
    minutes: dict[str, str | None] = {}  # "<date> H:MM<rest>" -> its minute in UTC, or None: not by minute

    def minute_in_utc(before: str, after: str) -> str | None:
        """"YYYY-MM-DDTHH:MM" in UTC for a date-time's minute (`before` its seconds, `after` them), or None
        when its first and last second do not land in one UTC minute (a change of offset inside it, an
        offset with seconds). Parsed once: the offset at its first and last second compared."""
        text = f"{before}:00{after}"
        moment = None if _ISO_DATETIME.fullmatch(text) else read_date_time(text.strip(), order)
        if moment is None:  # ISO already, or a form only `convert_slowly` reads: its text at :00 and :59
            first = convert_slowly(text)
            if first.__class__ is not str or not first.endswith(":00Z") or len(first) != 20:
                return None
            return first[:16] if convert_slowly(f"{before}:59{after}") == first[:17] + "59Z" else None
        if moment.tzinfo is None:
            if zone is None:
                return None
            last = moment.replace(second=59, tzinfo=zone)
            moment = moment.replace(tzinfo=zone)
            if moment.utcoffset() != last.utcoffset():
                return None
        utc = moment.astimezone(UTC)
        if utc.second or utc.microsecond or utc.year < 1000:
            return None
        return utc.replace(tzinfo=None).isoformat()[:16]

    def learn(value: str, colon: int, key: str) -> str | None:
        """The UTC minute of `key`, remembered, when `value` splits at its first colon as `_AT_MINUTE` splits
        it (every value of that key then does, see `convert`); else None, not remembered."""
        split = _AT_MINUTE.fullmatch(value)
        if split is None or split[1] != value[:colon + 3] or split[1] + split[3] != key:
            return None
        if len(minutes) >= MINUTES_REMEMBERED:
            minutes.clear()
        utc = minutes[key] = minute_in_utc(split[1], split[3])
        return utc

    def by_minute(each: Converter) -> Converter:
        """The conversion through the minutes remembered, `each` for a value that is not by minute.

        Split at the first colon with slices (a regex per value costs more than the rest of the row):
        the key is the value without its seconds. The first value of a key is split by `_AT_MINUTE`
        too, and the key remembered only when both splits agree; a value of that key whose seconds are
        00-59 is then split alike."""

        def convert(value: t.Any) -> t.Any:
            if value.__class__ is str:
                colon = value.find(":")
                if colon > 0:
                    if value[colon + 3:colon + 4] == ":":
                        seconds, key = value[colon + 4:colon + 6], value[:colon + 3] + value[colon + 6:]
                    else:
                        seconds, key = "00", value
                    utc = minutes.get(key, minutes)
                    if utc is minutes:
                        utc = learn(value, colon, key)
                    if utc is not None and seconds in SECONDS:
                        return f"{utc}:{seconds}Z"
            return each(value)

        return convert

    def raising_slowly(value: t.Any) -> t.Any:
        converted = convert_slowly(value)
        if converted.__class__ is Misfit:
            raise KeyError(value)
        return converted

    def convert_slowly(value: t.Any) -> t.Any:
        if not isinstance(value, str):
            if value is None:
                return None
            if isinstance(value, dt.date):  # a workbook's cell: a date-time (naive: in `zone`), or a date's midnight
                if not isinstance(value, dt.datetime):
                    value = dt.datetime(value.year, value.month, value.day)  # noqa: DTZ001  # naive: the zone is added below
                if value.tzinfo is None:
                    if zone is None:
                        return Misfit(value)
                    value = value.replace(tzinfo=zone)
                return iso(value)
            return Misfit(value)  # a workbook's number is no time
        if _ISO_DATETIME.fullmatch(value):
            return value
        text = value.strip()
        if not text:
            return None
        moment = read_date_time(text, order)
        if moment is None:
            day = read_date(text, order)
            moment = dt.datetime(day.year, day.month, day.day) if day else None  # noqa: DTZ001  # a date: local midnight
        if moment is None:
            try:
                found = pendulum.parse(text, tz=None)
            except (ValueError, pendulum.parsing.exceptions.ParserError):
                return Misfit(value)
            if not isinstance(found, dt.datetime):
                return Misfit(value)
            moment = found
        if moment.tzinfo is None:
            if zone is None:
                return Misfit(value)
            moment = moment.replace(tzinfo=zone)
        utc = moment.astimezone(UTC)
        if utc.microsecond or utc.year < 1000:
            return iso(utc)
        return utc.replace(tzinfo=None).isoformat() + "Z"  # iso()'s text, several times quicker than strftime

    convert = by_minute(convert_slowly)
    convert.raising = by_minute(raising_slowly)  # type: ignore[attr-defined]
    convert.one_by_one = convert_slowly  # type: ignore[attr-defined]
    return convert


def as_date(order: str = MDY) -> Converter:
    """Dates as YYYY-MM-DD: ISO, or with day and month in `order` ("10/05/2026"); a real date or a Misfit."""

    def convert(value: t.Any) -> t.Any:
        if isinstance(value, str):
            if _ISO_DATE.fullmatch(value):
                try:
                    dt.date.fromisoformat(value)
                except ValueError:
                    return Misfit(value)
                return value
            text = value.strip()
            if not text:
                return None
            day = read_date(text, order)
            return day.isoformat() if day else Misfit(value)
        if value is None:
            return None
        # A workbook's cell: a date, or a naive date-time at midnight; anything else does not fit.
        if isinstance(value, dt.datetime):
            return value.date().isoformat() if value.time() == dt.time() and value.tzinfo is None else Misfit(value)
        if isinstance(value, dt.date):
            return value.isoformat()
        return Misfit(value)

    return convert


as_iso_date = as_date(MDY)
