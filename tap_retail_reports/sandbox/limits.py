"""Per-vendor limits a real vendor may have without documenting them: how many requests it
answers at once, and how long an answer takes.

Set with `POST /_sandbox/limits` (a JSON object by vendor prefix; it replaces every limit set
before; `{}` lifts them all), read with `GET /_sandbox/limits` (the limits and each vendor's count
of refused requests):

    {"vroom": {"max_in_flight": 1, "refuse_with": 429, "retry_after": 1, "latency_seconds": 0.3}}

  max_in_flight    requests answered at once (0 or absent: no limit); one more that arrives
                   meanwhile is refused at once, logged with the fault "over_limit"
  refuse_with      429 (default) or 503: the status of a refused request
  retry_after      seconds in the refusal's Retry-After header (default 1); null sends none
  latency_seconds  every answer of the vendor takes this long (a vendor over the internet), a
                   request counting as in flight meanwhile; refusals are sent at once
  paths            path prefixes (after the vendor's prefix) the limit applies to; default: every
                   path but the report files' downloads (FoxyCart's /downloads/, Flipkart's
                   /storage/), which the real vendors serve from a storage host of their own

A request stops counting as in flight when its answer is ready, before it is sent: a client that
sends its next request as soon as it has an answer is never refused for it.
"""

from __future__ import annotations

import threading
import time
import typing as t
from dataclasses import dataclass

from tap_retail_reports.sandbox.vendor_app import Response

# Where the sandbox serves a vendor's report files: a storage host at the real vendor, outside its API's limits.
STORAGE_PATHS = {"foxycart": ("/downloads/",), "flipkart": ("/storage/",)}


@dataclass(frozen=True)
class VendorLimit:
    max_in_flight: int = 0
    refuse_with: int = 429
    retry_after: float | None = 1.0
    latency_seconds: float = 0.0
    paths: tuple[str, ...] | None = None

    def applies_to(self, vendor: str, path: str) -> bool:
        if self.paths is not None:
            return path.startswith(self.paths)
        return not path.startswith(STORAGE_PATHS.get(vendor, ()))

    @classmethod
    def parse(cls, vendor: str, given: t.Any) -> VendorLimit:
        if not isinstance(given, dict):
            raise ValueError(f"limits.{vendor} must be an object")
        unknown = set(given) - {"max_in_flight", "refuse_with", "retry_after", "latency_seconds", "paths"}
        if unknown:
            raise ValueError(f"limits.{vendor}: unknown knob(s) {', '.join(sorted(unknown))}")
        paths = given.get("paths")
        if paths is not None and (not isinstance(paths, list) or not all(isinstance(p, str) for p in paths)):
            raise ValueError(f"limits.{vendor}.paths must be a list of path prefixes, or null")
        limit = cls(**{**given, "paths": None if paths is None else tuple(paths)})
        if isinstance(limit.max_in_flight, bool) or not isinstance(limit.max_in_flight, int) or limit.max_in_flight < 0:
            raise ValueError(f"limits.{vendor}.max_in_flight must be a whole number >= 0")
        if limit.refuse_with not in (429, 503):
            raise ValueError(f"limits.{vendor}.refuse_with must be 429 or 503")
        for name in ("retry_after", "latency_seconds"):
            value = getattr(limit, name)
            if (value is not None or name == "latency_seconds") and (
                    isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0):
                raise ValueError(f"limits.{vendor}.{name} must be a number of seconds >= 0")
        return limit


class VendorLimits:
    """The limits in force and the requests each vendor is answering under them (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._limits: dict[str, VendorLimit] = {}
        self._answering: dict[str, int] = {}
        self.refused: dict[str, int] = {}

    def set(self, payload: t.Any, vendors: t.Collection[str]) -> dict:
        if not isinstance(payload, dict):
            raise ValueError("limits must be an object by vendor")
        unknown = set(payload) - set(vendors)
        if unknown:
            raise ValueError(f"limits: unknown vendor(s) {', '.join(sorted(unknown))}")
        limits = {vendor: VendorLimit.parse(vendor, given) for vendor, given in payload.items()}
        with self._lock:
            self._limits = limits
            self.refused = {}
        return self.state()

    def state(self) -> dict:
        with self._lock:
            return {"limits": {vendor: {**limit.__dict__, "paths": limit.paths and list(limit.paths)}
                               for vendor, limit in self._limits.items()},
                    "refused": dict(self.refused)}

    def admit(self, vendor: str, path: str) -> tuple[bool, VendorLimit | None]:
        """(whether the request is answered, the vendor's limit). An admitted request must be `done`."""
        with self._lock:
            limit = self._limits.get(vendor)
            if limit is None or not limit.applies_to(vendor, path):
                return True, None
            if limit.max_in_flight and self._answering.get(vendor, 0) >= limit.max_in_flight:
                self.refused[vendor] = self.refused.get(vendor, 0) + 1
                return False, limit
            self._answering[vendor] = self._answering.get(vendor, 0) + 1
        if limit.latency_seconds:
            time.sleep(limit.latency_seconds)
        return True, limit

    def done(self, vendor: str, limit: VendorLimit | None) -> None:
        """An admitted request's answer is ready."""
        if limit is not None:
            with self._lock:
                self._answering[vendor] = self._answering.get(vendor, 0) - 1


def refusal(limit: VendorLimit) -> Response:
    """The answer to a request over the vendor's limit."""
    headers = {} if limit.retry_after is None else {"Retry-After": f"{limit.retry_after:g}"}
    return Response.json({"error": "Too many requests at once"}, limit.refuse_with, **headers)
