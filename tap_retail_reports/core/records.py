"""Small per-record helpers. They run once per row, so they stay cheap."""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import json
import re
import typing as t

from singer_sdk import typing as th

from tap_retail_reports.core.windows import UTC, iso, parse_when

_THOUSANDS = re.compile(r"[+-]?\d{1,3}(,\d{3})+(\.\d+)?")
_ISO_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})")


def to_numbers(row: dict, fields: t.Iterable[str]) -> None:
    """Turn numeric strings ("12.50") in `fields` into numbers; leave anything else as sent.

    Decimal keeps the vendor's exact digits on the way to the target.
    """
    for name in fields:
        value = row.get(name)
        if isinstance(value, str):
            text = value.strip()
            if _THOUSANDS.fullmatch(text):
                text = text.replace(",", "")  # "1,204.10"; a decimal comma ("12,50") is left as sent
            if not text:
                row[name] = None
                continue
            try:
                number = decimal.Decimal(text)
            except decimal.InvalidOperation:
                continue  # not a number: left as sent, so the value is not lost
            if number.is_finite():  # JSON has no NaN or Infinity
                row[name] = number


def to_iso_datetimes(row: dict, fields: t.Iterable[str]) -> None:
    """Rewrite date-times that are not ISO-8601 with an offset ("2026-10-01 12:00:00") as ISO UTC.

    Values already in that form (almost all) are left untouched and cost one regex match;
    values that are not dates at all are left as sent.
    """
    for name in fields:
        value = row.get(name)
        if isinstance(value, str) and value and not _ISO_DATETIME.fullmatch(value):
            try:
                row[name] = iso(parse_when(value))
            except ValueError:
                pass


class SchemaCoercion:
    """Numbers and date-times as the stream's schema declares them, whatever the vendor sent.

    Only top-level fields typed purely as numbers, or as date-times, are touched.
    """

    def __init__(self, schema: dict) -> None:
        self.number_fields: list[str] = []
        self.integer_fields: list[str] = []
        self.datetime_fields: list[str] = []
        for name, prop in (schema.get("properties") or {}).items():
            types = prop.get("type") or []
            types = {types} if isinstance(types, str) else set(types)
            if types & {"number", "integer"} and "string" not in types:
                self.number_fields.append(name)
                if "number" not in types:
                    self.integer_fields.append(name)
            elif prop.get("format") == "date-time":
                self.datetime_fields.append(name)

    def __call__(self, row: dict) -> None:
        to_numbers(row, self.number_fields)
        for name in self.integer_fields:
            value = row.get(name)
            if isinstance(value, decimal.Decimal) and value == value.to_integral_value():
                row[name] = int(value)
        to_iso_datetimes(row, self.datetime_fields)


def row_hash(row: dict, fields: t.Sequence[str]) -> str:
    """A stable identity for a row with no key of its own: SHA-256 of the canonical JSON of `fields`.

    `fields` is a fixed list, not the row's keys: a field the vendor adds later must not
    change the key of every row already loaded. A field the row lacks counts as null.
    """
    canonical = json.dumps({name: row.get(name) for name in fields}, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


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
