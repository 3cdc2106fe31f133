"""Comparing records as JSON values with their JSON types: `1`, `1.0`, `true` and `"1"` all differ.

Python's `==` says `1 == 1.0 == True`: a test comparing parsed JSON with it would pass a path that
wrote `2.0` for `2`, or `true` for `1`. `exact` tags every scalar with its type, so that `==` on the
results compares types too (objects still compare without regard to key order).
"""

from __future__ import annotations

import typing as t


def exact(value: t.Any) -> t.Any:
    """`value` (parsed JSON) with every scalar as (its type's name, itself), recursively."""
    if isinstance(value, dict):
        return {key: exact(item) for key, item in value.items()}
    if isinstance(value, list):
        return [exact(item) for item in value]
    return (type(value).__name__, value)
