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

from tap_retail_reports.core.layouts import STRING, ColumnType
from tap_retail_reports.core.values import MDY, read_date, read_date_time
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
    """A whole number, or a Misfit: a fraction, or text with a leading zero ("007", an identifier's form)."""
    if value.__class__ is str:
        try:
            whole = int(value)
        except ValueError:
            pass
        else:
            text = value.strip().lstrip("+-")
            return Misfit(value) if len(text) > 1 and text[0] == "0" else whole
    number = as_number(value)
    if isinstance(number, decimal.Decimal):
        return int(number) if number == number.to_integral_value() else Misfit(number)
    if isinstance(number, float):  # a workbook's number: 3.0 is 3, 2.5 is no whole number
        return int(number) if number.is_integer() else Misfit(number)
    return number


def with_fraction(misfit: t.Any) -> bool:
    """Whether a value that did not fit an integer column is a number with a fraction (the column widens)."""
    if misfit.__class__ is not Misfit:
        return False
    number = as_number(misfit.value)
    return isinstance(number, (decimal.Decimal, float)) and number == number and number != int(number)


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
_SECONDS = frozenset(f":{second:02d}" for second in range(60))


def as_iso_datetime(zone: dt.tzinfo | None = UTC, order: str = MDY) -> Converter:
    """Date-times that are not ISO-8601 with an offset ("2026-10-01 12:00:00", "10/01/2026 12:00 PM") as ISO UTC.

    A time without an offset is read in `zone` (the vendor's), never silently as UTC; with no zone
    (no document gives the vendor's), it does not fit. Day and month of a date written with them
    both are read in `order`. Values already in ISO form with an offset (almost all) cost one regex
    match. A naive time to the second ("2026-10-01 12:00:07") is converted once per minute, not
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
        if zone.utcoffset(moment) != zone.utcoffset(moment.replace(second=59)):  # type: ignore[union-attr]  # only with a zone
            return None
        return first[:16]

    def convert(value: t.Any) -> t.Any:
        if zone is not None and value.__class__ is str and _NAIVE_SECOND.fullmatch(value):
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

    def strict(value: t.Any) -> t.Any:
        """`convert` for the fast record path: a value that does not fit raises ValueError. A naive time to
        the second in a minute already converted costs a dict lookup (its key was checked when stored)."""
        if value.__class__ is str and len(value) == 19 and value[16:] in _SECONDS:
            utc = minutes.get(value[:16])
            if utc is not None:
                return f"{utc}{value[16:]}Z"
        converted = convert(value)
        if converted.__class__ is Misfit:
            raise ValueError(value)
        return converted

    convert.remembers = True  # type: ignore[attr-defined]  # its own memory, per minute: callers need none
    convert.strict = strict  # type: ignore[attr-defined]
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


def as_text(value: t.Any) -> t.Any:
    """A JSON answer's text column: text, or a Misfit (a number or an object where text was declared)."""
    return value if value is None or value.__class__ is str else Misfit(value)


def as_array(value: t.Any) -> t.Any:
    return value if value is None or isinstance(value, list) else Misfit(value)


def as_object(value: t.Any) -> t.Any:
    return value if value is None or isinstance(value, dict) else Misfit(value)


def converter_for(column: ColumnType, zone: dt.tzinfo | None = UTC, default_order: str = MDY, *,
                  strict: bool = False) -> Converter | None:
    """The converter of a column's values to its type; None where values pass as they are (text,
    JSON, or any type). `strict`: a JSON answer's columns, whose text, arrays and objects are checked."""
    kind = column.kind
    if kind == "number":
        return as_number
    if kind == "integer":
        return as_integer
    if kind == "boolean":
        return as_boolean
    if kind == "date":
        return as_date(column.order or default_order)
    if kind == "date-time":
        return as_iso_datetime(zone, column.order or default_order)
    if strict:
        return {"string": as_text, "array": as_array, "object": as_object}.get(kind)
    return None


class SchemaCoercion:
    """Numbers, booleans, dates and date-times as the stream declares them, whatever the vendor sent.

    Only top-level fields are touched, each by the converter its type chose once (`converters`):
    the schema's, or `types` where given (a learned column's day/month order). A value that still
    does not fit its type ("N/A" for a total) would make the record break its own SCHEMA, and a
    validating target reject the load: it is moved to `_extra_fields` under its own name and the
    column is left null, so it is neither lost nor invalid. An integer column of `widen`'s
    (`widenable`) that gets a number with a fraction becomes a number column instead: `widen(name)`
    is told first (it declares the column again), then the value is read as a number.
    """

    def __init__(self, schema: dict, zone: dt.tzinfo | None = UTC, *, types: t.Mapping[str, ColumnType] | None = None,
                 default_order: str = MDY, strict: t.Collection[str] = (),
                 widen: t.Callable[[str], None] | None = None, widenable: t.Collection[str] = ()) -> None:
        if types is None:
            types = {name: ColumnType.from_schema(prop) for name, prop in (schema.get("properties") or {}).items()}
        self.converters: dict[str, Converter] = {}
        for name, column in types.items():
            convert = converter_for(column, zone, default_order, strict=name in strict)
            if convert is not None:
                self.converters[name] = convert
        self.widen = widen
        self.widenable = set(widenable)

    def __call__(self, row: dict) -> None:
        misfits: dict[str, t.Any] | None = None
        for name, convert in list(self.converters.items()):
            if name in row:
                value = convert(row[name])
                if value.__class__ is Misfit:
                    if name in self.widenable and with_fraction(value) and self.widen is not None:
                        self.widen(name)
                        self.widenable.discard(name)
                        self.converters[name] = as_number
                        value = as_number(row[name])
                    else:
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


def text_columns(types: t.Mapping[str, ColumnType], columns: t.Iterable[str]) -> list[str]:
    """Of `columns`, those typed as plain text: a workbook's number or date there becomes text."""
    return [name for name in columns if types.get(name, STRING).kind in ("string", "any")]


def typed_as_text(row: t.MutableMapping[t.Any, t.Any] | list, fields: t.Iterable[t.Any], zone: dt.tzinfo | None) -> None:
    """A workbook's typed values in text columns (`fields`: names of a row, or positions of a row's
    values), as text: numbers as written ("12", "2.5"), booleans as "true"/"false", dates as
    YYYY-MM-DD, date-times as ISO with the offset of `zone` (a naive one is read in the vendor's
    zone, as a CSV's is; with no zone, as the CSV writes it: "YYYY-MM-DD HH:MM:SS"), an empty cell
    as "" (as a CSV's empty field: the same report gives the same row in either format)."""
    for name in fields:
        if isinstance(row, list):
            if name >= len(row):
                continue
            value = row[name]
        else:
            if name not in row:
                continue
            value = row[name]
        if isinstance(value, str):
            continue
        if value is None:
            text = ""
        elif isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, float) and value.is_integer():
            text = str(int(value))
        elif isinstance(value, dt.datetime):
            if value.tzinfo is None and zone is None:
                text = value.isoformat(sep=" ")
            else:
                text = (value if value.tzinfo else value.replace(tzinfo=zone)).isoformat()
        elif isinstance(value, (dt.date, dt.time)):
            text = value.isoformat()
        else:
            text = str(value)
        row[name] = text


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
