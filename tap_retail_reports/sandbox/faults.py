"""Faults the server injects before (or instead of) a vendor's answer, set at start or by `POST /_sandbox/faults`:
5xx, 429 bursts, connections reset or dropped, stalls, and JSON answers cut, emptied or reshaped."""

from __future__ import annotations

import json
import random
import typing as t
from dataclasses import dataclass

from tap_retail_reports.sandbox.vendor_app import Response


@dataclass
class Faults:
    """Faults injected before a vendor app answers. Rates are probabilities per request."""

    error_rate: float = 0.0  # answer 503 instead
    error_retry_after: float | None = None  # seconds, in a Retry-After header of injected 503s (None: no header)
    drop_rate: float = 0.0  # close the connection without answering (the client sees it reset)
    refuse_status: int | None = None  # 401 or 403 for every request: credentials revoked (tokens and grants too)
    reset_rate: float = 0.0  # send half the body, then drop the connection
    throttle_every: int = 0  # every Nth request answers 429 ...
    throttle_burst: int = 1  # ... this many in a row
    retry_after: float = 1.0  # seconds, in Retry-After of injected 429s
    stall_rate: float = 0.0  # wait `stall_seconds` before answering (a client timeout)
    stall_seconds: float = 5.0
    corrupt_json_rate: float = 0.0  # a JSON answer cut in half, sent whole (200, valid length, bad JSON)
    empty_rate: float = 0.0  # every list in a JSON answer (its rows) sent empty
    extra_field: dict | None = None  # {name: value} added to every object of a JSON answer (a new vendor field)
    wrong_type_field: dict | None = None  # {name: value} replaces that field's value wherever it occurs
    vendors: list[str] | None = None  # None: all vendors
    paths: list[str] | None = None  # None: every path; else paths (after the prefix) starting so

    def applies_to(self, vendor: str, path: str = "/") -> bool:
        return (self.vendors is None or vendor in self.vendors) and (
            self.paths is None or path.startswith(tuple(self.paths))
        )

    def draw(self, count: int, rng: random.Random) -> str | None:
        """The fault of the `count`th request these faults apply to: throttling by count, the rest by chance."""
        if self.throttle_every and ((count - 1) % self.throttle_every < self.throttle_burst):
            return "throttle"
        if self.refuse_status:
            return "refused"
        roll = rng.random()
        if roll < self.error_rate:
            return "error"
        if roll < self.error_rate + self.reset_rate:
            return "reset"
        if roll < self.error_rate + self.reset_rate + self.stall_rate:
            return "stall"
        if roll < self.error_rate + self.reset_rate + self.stall_rate + self.drop_rate:
            return "drop"
        roll = rng.random()  # answer-body faults: a second draw, so rates above stay as they were
        if roll < self.corrupt_json_rate:
            return "corrupt_json"
        if roll < self.corrupt_json_rate + self.empty_rate:
            return "empty"
        if self.extra_field or self.wrong_type_field:
            return "reshaped"
        return None


def garble_json(response: Response, fault: str, faults: Faults) -> str | None:
    """Apply an answer-body fault to a successful JSON answer, in place; None when there is none to garble."""
    if response.status != 200 or "json" not in response.headers.get("Content-Type", "") or not isinstance(
        response.body, (bytes, bytearray)
    ):
        return None
    if fault == "corrupt_json":
        response.body = bytes(response.body[: len(response.body) // 2])
        return fault
    payload = json.loads(response.body)
    if fault == "empty":
        payload = _reshape(payload, lambda node: [] if isinstance(node, list) else node)
    else:
        payload = _reshape(payload, lambda node: _with_fields(node, faults))
    response.body = json.dumps(payload).encode()
    return fault


def _reshape(node: t.Any, change: t.Callable[[t.Any], t.Any]) -> t.Any:
    """`change` applied to every list and object of a JSON document, innermost first."""
    if isinstance(node, list):
        node = [_reshape(item, change) for item in node]
    elif isinstance(node, dict):
        node = {key: _reshape(value, change) for key, value in node.items()}
    return change(node)


def _with_fields(node: t.Any, faults: Faults) -> t.Any:
    if isinstance(node, dict):
        for name, value in (faults.wrong_type_field or {}).items():
            if name in node:
                node[name] = value
        node.update(faults.extra_field or {})
    return node
