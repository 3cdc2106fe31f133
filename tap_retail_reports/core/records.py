"""Small per-record helpers. They run once per row, so they stay cheap."""

from __future__ import annotations

import collections
import datetime as dt
import decimal
import hashlib
import json
import re
import typing as t

import pendulum
from singer_sdk import typing as th

from tap_retail_reports.core.windows import UTC, iso

_THOUSANDS = re.compile(r"[+-]?\d{1,3}(,\d{3})+(\.\d+)?")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_ISO_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})")


def to_numbers(row: dict, fields: t.Iterable[str]) -> None:
    """Turn numeric strings ("12.50") in `fields` into numbers; leave anything else as sent.

    Decimal keeps the vendor's exact digits on the way to the target.
    """
    for name in fields:
        value = row.get(name)
        if isinstance(value, str):
            try:
                number = decimal.Decimal(value)  # most values: a plain number (Decimal strips whitespace itself)
            except decimal.InvalidOperation:
                text = value.strip()
                if not text:
                    row[name] = None
                    continue
                if not _THOUSANDS.fullmatch(text):
                    continue  # not a number: left as sent, so the value is not lost
                number = decimal.Decimal(text.replace(",", ""))  # "1,204.10"; a decimal comma ("12,50") is left as sent
            if number.is_finite():  # JSON has no NaN or Infinity
                row[name] = number


def to_iso_datetimes(row: dict, fields: t.Iterable[str], zone: dt.tzinfo = UTC) -> None:
    """Rewrite date-times that are not ISO-8601 with an offset ("2026-10-01 12:00:00") as ISO UTC.

    A time without an offset is read in `zone` (the vendor's), never silently as UTC.
    Values already in ISO form with an offset (almost all) cost one regex match;
    values that are not dates at all are left as sent. A workbook's `datetime` (naive: read
    in `zone` too) or `date` (its midnight in `zone`) becomes the same ISO text.
    """
    for name in fields:
        value = row.get(name)
        if isinstance(value, str) and not _ISO_DATETIME.fullmatch(value):
            text = value.strip()
            if not text:
                row[name] = None
                continue
            try:
                moment = dt.datetime.fromisoformat(text)  # fast for "YYYY-MM-DD HH:MM:SS"
            except ValueError:
                try:
                    found = pendulum.parse(text, tz=None)
                except (ValueError, pendulum.parsing.exceptions.ParserError):
                    continue
                if isinstance(found, dt.datetime):
                    moment = found
                elif isinstance(found, dt.date):
                    moment = dt.datetime(found.year, found.month, found.day, tzinfo=zone)
                else:
                    continue
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=zone)
            row[name] = iso(moment)
        elif isinstance(value, dt.date):  # a workbook's cell: a date-time, or a date (its midnight)
            if not isinstance(value, dt.datetime):
                value = dt.datetime(value.year, value.month, value.day, tzinfo=zone)
            row[name] = iso(value if value.tzinfo else value.replace(tzinfo=zone))


_TRUE = frozenset({"true", "t", "yes", "y", "1"})
_FALSE = frozenset({"false", "f", "no", "n", "0"})


def to_booleans(row: dict, fields: t.Iterable[str]) -> None:
    """"true"/"false", "1"/"0", "yes"/"no" as booleans: the SDK would read any non-empty string as true."""
    for name in fields:
        value = row.get(name)
        if isinstance(value, str):
            text = value.strip().lower()
            if text in _TRUE:
                row[name] = True
            elif text in _FALSE:
                row[name] = False
            elif not text:
                row[name] = None
        elif isinstance(value, int) and value in (0, 1) and not isinstance(value, bool):
            row[name] = bool(value)


class SchemaCoercion:
    """Numbers, booleans and date-times as the stream's schema declares them, whatever the vendor sent.

    Only top-level fields typed purely as numbers, booleans or date-times are touched.
    A value that still does not fit its type afterwards ("N/A" for a total) would make
    the record break its own SCHEMA, and a validating target reject the load: it is
    moved to `_extra_fields` under its own name and the column is left null, so it is
    neither lost nor invalid.
    """

    def __init__(self, schema: dict, zone: dt.tzinfo = UTC) -> None:
        self.zone = zone
        self.number_fields: list[str] = []
        self.integer_fields: list[str] = []
        self.boolean_fields: list[str] = []
        self.datetime_fields: list[str] = []
        self.date_fields: list[str] = []
        for name, prop in (schema.get("properties") or {}).items():
            types = prop.get("type") or []
            types = {types} if isinstance(types, str) else set(types)
            if types & {"number", "integer"} and "string" not in types:
                self.number_fields.append(name)
                if "number" not in types:
                    self.integer_fields.append(name)
            elif "boolean" in types and "string" not in types:
                self.boolean_fields.append(name)
            elif prop.get("format") == "date-time":
                self.datetime_fields.append(name)
            elif prop.get("format") == "date":
                self.date_fields.append(name)

    def __call__(self, row: dict) -> None:
        misfits: dict[str, t.Any] | None = None
        to_numbers(row, self.number_fields)
        for name in self.number_fields:
            value = row.get(name)
            if isinstance(value, decimal.Decimal):
                if name in self.integer_fields:
                    if value == value.to_integral_value():
                        row[name] = int(value)
                    else:
                        misfits = _set_aside(row, name, misfits)
            elif isinstance(value, float) and name in self.integer_fields:  # a workbook's number: 3.0
                if value.is_integer():
                    row[name] = int(value)
                else:
                    misfits = _set_aside(row, name, misfits)
            elif value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
                misfits = _set_aside(row, name, misfits)
        if self.boolean_fields:
            to_booleans(row, self.boolean_fields)
            for name in self.boolean_fields:
                if row.get(name) is not None and not isinstance(row[name], bool):
                    misfits = _set_aside(row, name, misfits)
        to_iso_datetimes(row, self.datetime_fields, self.zone)
        for name in self.datetime_fields:  # what is still not ISO after to_iso_datetimes is no time at all
            value = row.get(name)
            if value is not None and (not isinstance(value, str) or not _ISO_DATETIME.fullmatch(value)):
                misfits = _set_aside(row, name, misfits)  # text that is no time, or a workbook's number
        for name in self.date_fields:
            value = row.get(name)
            if isinstance(value, str) and not _ISO_DATE.fullmatch(value):
                if value.strip():
                    misfits = _set_aside(row, name, misfits)
                else:
                    row[name] = None
            elif value is not None and not isinstance(value, str):
                misfits = _workbook_date(row, name, value, misfits)
        if misfits:
            row["_extra_fields"] = {**(row.get("_extra_fields") or {}), **misfits}


def _workbook_date(row: dict, name: str, value: t.Any, misfits: dict | None) -> dict | None:
    """A workbook's cell in a date column: a date, or a date-time at midnight; anything else is set aside."""
    if isinstance(value, dt.datetime):
        if value.time() == dt.time() and value.tzinfo is None:
            row[name] = value.date().isoformat()
            return misfits
    elif isinstance(value, dt.date):
        row[name] = value.isoformat()
        return misfits
    return _set_aside(row, name, misfits)


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


def _set_aside(row: dict, name: str, misfits: dict | None) -> dict:
    misfits = misfits if misfits is not None else {}
    misfits[name] = row[name]
    row[name] = None
    return misfits


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
