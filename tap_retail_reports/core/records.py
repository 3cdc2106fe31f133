"""Small per-record helpers. They run once per row, so they stay cheap."""

from __future__ import annotations

import decimal
import hashlib
import json
import typing as t


def to_numbers(row: dict, fields: t.Iterable[str]) -> None:
    """Turn numeric strings ("12.50") in `fields` into numbers; leave anything else as sent.

    Decimal keeps the vendor's exact digits on the way to the target.
    """
    for name in fields:
        value = row.get(name)
        if isinstance(value, str):
            text = value.strip().replace(",", "")
            if not text:
                row[name] = None
                continue
            try:
                number = decimal.Decimal(text)
            except decimal.InvalidOperation:
                continue  # not a number: left as sent, so the value is not lost
            if number.is_finite():  # JSON has no NaN or Infinity
                row[name] = number


def row_hash(row: dict) -> str:
    """A stable identity for a row with no key of its own: SHA-256 of its canonical JSON."""
    canonical = json.dumps(row, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()
