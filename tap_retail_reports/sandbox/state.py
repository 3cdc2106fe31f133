"""What the server's threads share: the vendor apps, the faults in force, the request log tests read, and
how many requests each vendor is answering."""

from __future__ import annotations

import importlib
import random
import threading
import time
import typing as t
from dataclasses import dataclass

from tap_retail_reports.sandbox.faults import Faults
from tap_retail_reports.sandbox.limits import VendorLimits

if t.TYPE_CHECKING:
    from tap_retail_reports.sandbox.tls import TlsEndpoint
    from tap_retail_reports.sandbox.vendor_app import VendorApp

VENDORS = ("vroom", "retrend", "distribu", "foxycart", "flipkart")  # each a module of this package with an `App`


@dataclass
class LoggedRequest:
    vendor: str
    method: str
    path: str
    status: int
    at: float
    fault: str | None = None
    in_flight: int = 1  # requests to this vendor being answered when this one arrived, itself included


class Sandbox:
    """The server's shared state: apps, faults, request log."""

    def __init__(self, seed: int = 42, faults: Faults | None = None) -> None:
        self.seed = seed
        self.faults = faults or Faults()
        self.apps: dict[str, VendorApp] = {}
        self.log: list[LoggedRequest] = []
        self._lock = threading.Lock()
        self._rng = random.Random(seed)
        self._counter = 0
        self._in_flight: dict[str, int] = {}
        self.tls: TlsEndpoint | None = None  # the HTTPS port, when served (sandbox/tls.py)
        self.limits = VendorLimits()
        for app_class in vendor_app_classes():
            app = app_class(seed)
            self.apps[app.prefix] = app

    def next_fault(self, vendor: str, path: str = "/") -> str | None:
        with self._lock:
            faults = self.faults
            if not faults.applies_to(vendor, path):
                return None
            self._counter += 1
            return faults.draw(self._counter, self._rng)

    def record(self, entry: LoggedRequest) -> None:
        with self._lock:
            self.log.append(entry)

    def settle(self, timeout: float = 30.0) -> None:
        """Wait until no vendor request is being answered (a client may have given up on one)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if not any(self._in_flight.values()):
                    return
            time.sleep(0.05)

    def count_in_flight(self, vendor: str, change: int) -> int:
        """Count a request to `vendor` in (+1) or out (-1); return how many are being answered."""
        with self._lock:
            self._in_flight[vendor] = self._in_flight.get(vendor, 0) + change
            return self._in_flight[vendor]

    def set_faults(self, payload: dict) -> None:
        with self._lock:
            self.faults = Faults(**payload)
            self._counter = 0


def vendor_app_classes() -> list[type[VendorApp]]:
    """Every vendor's `App`. A vendor module that fails to import stops the sandbox: a vendor silently
    missing would pass for one that answers 404."""
    return [importlib.import_module(f"tap_retail_reports.sandbox.{name}").App for name in VENDORS]
