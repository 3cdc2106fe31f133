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

from singer_sdk import typing as th

from tap_retail_reports.core.layouts import STRING, ColumnType
from tap_retail_reports.core.values import MDY, Converter, Misfit, as_date, as_iso_datetime
from tap_retail_reports.core.windows import UTC

_THOUSANDS = re.compile(r"[+-]?\d{1,3}(,\d{3})+(\.\d+)?")


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
    """Top-level values converted to the types the stream declares (the schema's, or `types`), whatever the
    vendor sent. A value that does not fit ("N/A" for a total) would break the record's SCHEMA: it goes to
    `_extra_fields` and the column is null. A `widenable` integer column that gets a fraction becomes a
    number column instead, after `widen(name)` has declared it again."""

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
    """A workbook's typed values in text columns (`fields`: a row's names, or positions in its values) as the
    CSV of the same report writes them, so that either format gives the same row: "12", "true", YYYY-MM-DD,
    ISO date-times (naive ones in `zone`; with none, "YYYY-MM-DD HH:MM:SS"), "" for an empty cell."""
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
    """A stable identity for a row with no key of its own: SHA-256 of the canonical JSON of `fields`, a fixed
    list, so that a field the vendor adds later does not change the key of every row already loaded."""
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
    """The rows of one reading of a per-day aggregate, stamped with their `date` and `_read_at`: a re-read
    day may have lost keys whose old rows an upserting target keeps, and `_read_at` (to the microsecond)
    lets a query keep only the day's latest reading."""
    read_at = dt.datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    for row in rows:
        row["date"] = day
        row["_read_at"] = read_at
        yield row
