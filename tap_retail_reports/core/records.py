"""Small per-record helpers. They run once per row, so they stay cheap."""

from __future__ import annotations

import collections
import datetime as dt
import decimal
import hashlib
import json
import math
import re
import typing as t

import pendulum
from singer_sdk import typing as th

from tap_retail_reports.core.windows import UTC, iso

_THOUSANDS = re.compile(r"[+-]?\d{1,3}(,\d{3})+(\.\d+)?")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_ISO_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})")


class Misfit:
    """A value that does not fit its column's type: it goes to `_extra_fields` under the column's name."""

    __slots__ = ("value",)

    def __init__(self, value: t.Any) -> None:
        self.value = value


Converter = t.Callable[[t.Any], t.Any]  # a value as sent -> the typed value, or a Misfit


def as_number(value: t.Any) -> t.Any:
    """A numeric string ("12.50", "1,204.10") as a Decimal, which keeps the vendor's exact digits.

    A blank is null; a decimal comma ("12,50"), NaN or Infinity (not JSON) does not fit.
    """
    kind = value.__class__
    if kind is decimal.Decimal:  # a JSON answer's number (read as Decimal): the common case, first
        return value if value.is_finite() else None
    if kind is int:
        return value
    if isinstance(value, str):
        try:
            number = decimal.Decimal(value)  # most values: a plain number (Decimal strips whitespace itself)
        except decimal.InvalidOperation:
            text = value.strip()
            if not text:
                return None
            if not _THOUSANDS.fullmatch(text):
                return Misfit(value)
            number = decimal.Decimal(text.replace(",", ""))
        return number if number.is_finite() else Misfit(value)
    if isinstance(value, (float, decimal.Decimal)) and not math.isfinite(value):
        return None  # JSON has no NaN or Infinity (as the SDK's type conformance would have it)
    if value is None or (isinstance(value, (int, float, decimal.Decimal)) and not isinstance(value, bool)):
        return value
    return Misfit(value)


def as_integer(value: t.Any) -> t.Any:
    number = as_number(value)
    if isinstance(number, decimal.Decimal):
        return int(number) if number == number.to_integral_value() else Misfit(number)
    if isinstance(number, float):  # a workbook's number: 3.0 is 3, 2.5 is no whole number
        return int(number) if number.is_integer() else Misfit(number)
    return number


_TRUE = frozenset({"true", "t", "yes", "y", "1"})
_FALSE = frozenset({"false", "f", "no", "n", "0"})


def as_boolean(value: t.Any) -> t.Any:
    """"true"/"false", "1"/"0", "yes"/"no" as booleans: the SDK would read any non-empty string as true."""
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        return None if not text else Misfit(value)
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    return Misfit(value)


# A naive time to the second, in ASCII digits: the common shape of a report file's local times.
_NAIVE_SECOND = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[ T][0-9]{2}:[0-9]{2}:[0-5][0-9]")
MINUTES_REMEMBERED = 100_000  # distinct local minutes per column converter (about 70 days): memory stays flat


def as_iso_datetime(zone: dt.tzinfo = UTC) -> Converter:
    """Date-times that are not ISO-8601 with an offset ("2026-10-01 12:00:00") as ISO UTC.

    A time without an offset is read in `zone` (the vendor's), never silently as UTC.
    Values already in ISO form with an offset (almost all) cost one regex match.
    A naive time to the second ("2026-10-01 12:00:07") is converted once per minute, not
    once per value: the zone's offset holds for the whole minute when it is the same at
    its first and last second and a whole number of minutes (see `minute_in_utc`), so the
    seconds are carried over as written.
    """
    minutes: dict[str, str | None] = {}

    def minute_in_utc(minute: str) -> str | None:
        """"YYYY-MM-DDTHH:MM" in UTC for a local "YYYY-MM-DD HH:MM", or None when its seconds cannot
        be carried over (an offset with seconds, a change of offset inside the minute, a far year)."""
        first = convert_slowly(minute + ":00")
        if first.__class__ is not str or not first.endswith(":00Z") or len(first) != 20:
            return None
        moment = dt.datetime.fromisoformat(minute)
        if zone.utcoffset(moment) != zone.utcoffset(moment.replace(second=59)):
            return None
        return first[:16]

    def convert(value: t.Any) -> t.Any:
        if value.__class__ is str and _NAIVE_SECOND.fullmatch(value):
            minute = value[:16]
            utc = minutes.get(minute, minutes)
            if utc is minutes:
                if len(minutes) >= MINUTES_REMEMBERED:
                    minutes.clear()
                utc = minutes[minute] = minute_in_utc(minute)
            if utc is not None:
                return f"{utc}{value[16:]}Z"
        return convert_slowly(value)

    def convert_slowly(value: t.Any) -> t.Any:
        if not isinstance(value, str):
            if value is None:
                return None
            if isinstance(value, dt.date):  # a workbook's cell: a date-time (naive: in `zone`), or a date's midnight
                if not isinstance(value, dt.datetime):
                    value = dt.datetime(value.year, value.month, value.day, tzinfo=zone)
                return iso(value if value.tzinfo else value.replace(tzinfo=zone))
            return Misfit(value)  # a workbook's number is no time
        if _ISO_DATETIME.fullmatch(value):
            return value
        text = value.strip()
        if not text:
            return None
        try:
            moment = dt.datetime.fromisoformat(text)  # fast for "YYYY-MM-DD HH:MM:SS"
        except ValueError:
            try:
                found = pendulum.parse(text, tz=None)
            except (ValueError, pendulum.parsing.exceptions.ParserError):
                return Misfit(value)
            if isinstance(found, dt.datetime):
                moment = found
            elif isinstance(found, dt.date):
                moment = dt.datetime(found.year, found.month, found.day, tzinfo=zone)
            else:
                return Misfit(value)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=zone)
        utc = moment.astimezone(UTC)
        if utc.microsecond or utc.year < 1000:
            return iso(utc)
        return utc.replace(tzinfo=None).isoformat() + "Z"  # iso()'s text, several times quicker than strftime

    convert.remembers = True  # type: ignore[attr-defined]  # its own memory, per minute: callers need none
    return convert


def as_iso_date(value: t.Any) -> t.Any:
    if isinstance(value, str):
        if not _ISO_DATE.fullmatch(value):
            return Misfit(value) if value.strip() else None
        return value
    if value is None:
        return None
    # A workbook's cell: a date, or a naive date-time at midnight; anything else does not fit.
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() and value.tzinfo is None else Misfit(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return Misfit(value)


class SchemaCoercion:
    """Numbers, booleans and date-times as the stream's schema declares them, whatever the vendor sent.

    Only top-level fields typed purely as numbers, booleans or date-times are touched, each
    by the converter its schema chose once (`converters`). A value that still does not fit
    its type ("N/A" for a total) would make the record break its own SCHEMA, and a validating
    target reject the load: it is moved to `_extra_fields` under its own name and the column
    is left null, so it is neither lost nor invalid.
    """

    def __init__(self, schema: dict, zone: dt.tzinfo = UTC) -> None:
        datetime = as_iso_datetime(zone)
        self.converters: dict[str, Converter] = {}
        for name, prop in (schema.get("properties") or {}).items():
            types = prop.get("type") or []
            types = {types} if isinstance(types, str) else set(types)
            if types & {"number", "integer"} and "string" not in types:
                self.converters[name] = as_number if "number" in types else as_integer
            elif "boolean" in types and "string" not in types:
                self.converters[name] = as_boolean
            elif prop.get("format") == "date-time":
                self.converters[name] = datetime
            elif prop.get("format") == "date":
                self.converters[name] = as_iso_date

    def __call__(self, row: dict) -> None:
        misfits: dict[str, t.Any] | None = None
        for name, convert in self.converters.items():
            if name in row:
                value = convert(row[name])
                if value.__class__ is Misfit:
                    misfits = aside(misfits, name, value)
                    value = None
                row[name] = value
        if misfits:
            set_aside(row, misfits)


def aside(misfits: dict[str, t.Any] | None, name: str, misfit: Misfit) -> dict[str, t.Any]:
    """`misfits` (a new dict for a row's first) with the value that did not fit column `name`."""
    misfits = misfits if misfits is not None else {}
    misfits[name] = misfit.value
    return misfits


def set_aside(row: dict, misfits: dict) -> None:
    """Values that fit no column type, kept in `_extra_fields` beside any already there."""
    row["_extra_fields"] = {**(row.get("_extra_fields") or {}), **misfits}


def text_columns(schema: dict, columns: t.Iterable[str]) -> list[str]:
    """Of `columns`, those the schema types as plain text: a workbook's number or date there becomes text."""
    properties = schema.get("properties") or {}
    text = []
    for name in columns:
        prop = properties.get(name) or {}
        types = prop.get("type") or ["string"]
        types = {types} if isinstance(types, str) else set(types)
        if not types & {"number", "integer", "boolean"} and prop.get("format") not in ("date", "date-time"):
            text.append(name)
    return text


def typed_as_text(row: dict, fields: t.Iterable[str], zone: dt.tzinfo) -> None:
    """A workbook's typed values in text columns, as text: numbers as written ("12", "2.5"), booleans
    as "true"/"false", dates as YYYY-MM-DD, date-times as ISO with the offset of `zone` (a naive one
    is read in the vendor's zone, as a CSV's is), an empty cell as "" (as a CSV's empty field: the same
    report gives the same row in either format)."""
    for name in fields:
        value = row.get(name)
        if isinstance(value, str):
            continue
        if value is None:
            if name in row:
                row[name] = ""
        elif isinstance(value, bool):
            row[name] = "true" if value else "false"
        elif isinstance(value, float) and value.is_integer():
            row[name] = str(int(value))
        elif isinstance(value, dt.datetime):
            row[name] = (value if value.tzinfo else value.replace(tzinfo=zone)).isoformat()
        elif isinstance(value, (dt.date, dt.time)):
            row[name] = value.isoformat()
        else:
            row[name] = str(value)


def row_hash(row: dict, fields: t.Sequence[str]) -> str:
    """A stable identity for a row with no key of its own: SHA-256 of the canonical JSON of `fields`.

    `fields` is a fixed list, not the row's keys: a field the vendor adds later must not
    change the key of every row already loaded. A field the row lacks counts as null.
    """
    canonical = json.dumps({name: row.get(name) for name in fields}, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


class RowIdentities:
    """Stable identities for the rows of one answer: `row_hash` of `fields`, and for the n-th
    repeat of identical fields a hash of (that hash, n), so identical rows stay distinct.
    Identical rows come in the same answer (same window), so a re-read gives the same identities."""

    def __init__(self, fields: t.Sequence[str]) -> None:
        self.fields = fields
        self._seen: collections.Counter[str] = collections.Counter()

    def __call__(self, row: dict) -> str:
        content = row_hash(row, self.fields)
        repeat = self._seen[content]
        self._seen[content] += 1
        return row_hash({"row": content, "occurrence": repeat}, ("row", "occurrence")) if repeat else content


def fill_missing_key(rows: t.Iterable[dict], key: str, fields: t.Sequence[str]) -> t.Iterator[dict]:
    """Rows of one answer whose `key` is null, absent or blank get `no-<key>:<16 hex>`, from
    `RowIdentities(fields)` over those rows: a row the vendor sends without its key neither breaks
    the load nor merges with another such row, and keeps its key when read again."""
    identities = RowIdentities(fields)
    for row in rows:
        value = row.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            row[key] = f"no-{key}:{identities(row)[:16]}"
        yield row


READ_AT = th.Property(
    "_read_at",
    th.DateTimeType,
    required=True,
    description="When the tap read this day's figures; the same for every row of one reading. "
    "Rows of a day whose _read_at is not that day's latest are no longer in the vendor's report.",
)


def day_reading(rows: t.Iterable[dict], day: str) -> t.Iterator[dict]:
    """The rows of one reading of a per-day aggregate, stamped with their `date` and `_read_at`.

    A re-read day may have lost keys (a product no longer sold): an upserting target keeps
    their old rows, and `_read_at` is what lets a query keep only the day's latest reading.
    Microseconds, so that two readings in quick succession still sort.
    """
    read_at = dt.datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    for row in rows:
        row["date"] = day
        row["_read_at"] = read_at
        yield row
