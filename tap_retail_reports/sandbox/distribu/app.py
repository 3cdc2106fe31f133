"""Distribu over HTTP: a bearer key with scopes, 60 calls a minute per key, and the three report endpoints."""

from __future__ import annotations

import collections
import datetime as dt
import email.utils
import math
import threading
import time

from tap_retail_reports.sandbox.credentials import DISTRIBU_API_KEY, DISTRIBU_API_KEY_WITHOUT_SCOPE
from tap_retail_reports.sandbox.distribu.data import FIRST_DAY, UTC, Account, Order, end_of, iso_ms, start_of
from tap_retail_reports.sandbox.vendor_app import Request, Response, VendorApp

SCOPES = {DISTRIBU_API_KEY: {"reports:read", "orders:read"}, DISTRIBU_API_KEY_WITHOUT_SCOPE: {"orders:read"}}
PRESETS = ("today", "week", "month", "quarter", "year", "all")


def parse_js_date(text: str) -> tuple[dt.datetime, bool]:
    """A `from`/`to` value read the way JavaScript's `new Date()` reads it; (instant, date_only).

    ISO dates ("2026-04-01", "2026-04", "2026") are UTC midnight; date-times take their
    offset or Z (with none, UTC: the sandbox runs in UTC); RFC 2822 dates are accepted too.
    """
    value = text.strip()
    try:
        if len(value) in (4, 7) and value[:4].isdigit():  # "2026", "2026-04"
            parts = [int(p) for p in value.split("-")]
            return dt.datetime(parts[0], parts[1] if len(parts) > 1 else 1, 1, tzinfo=UTC), True
        if len(value) == 10:
            return dt.datetime.combine(dt.date.fromisoformat(value), dt.time(), UTC), True
        parsed = dt.datetime.fromisoformat(value.replace(" ", "T", 1) if "T" not in value else value)
    except ValueError:
        try:
            parsed = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            raise ValueError(f"Invalid date: {text!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC), False



def preset_range(preset: str, today: dt.date) -> tuple[dt.datetime, dt.datetime, str]:
    """(from, to, label) of a preset: the period that holds today, up to the end of today."""
    if preset == "today":
        first, label = today, "Today"
    elif preset == "week":
        first = today - dt.timedelta(days=today.weekday())
        label = f"Week of {first.isoformat()}"
    elif preset == "month":
        first, label = today.replace(day=1), today.strftime("%B %Y")
    elif preset == "quarter":
        quarter = (today.month - 1) // 3
        first, label = dt.date(today.year, 3 * quarter + 1, 1), f"Q{quarter + 1} {today.year}"
    elif preset == "year":
        first, label = dt.date(today.year, 1, 1), str(today.year)
    elif preset == "all":
        first, label = FIRST_DAY, "All time"
    else:
        raise ValueError(f"Invalid preset: {preset!r} (one of {', '.join(PRESETS)})")
    return start_of(first), end_of(today), label


class App(VendorApp):
    prefix = "distribu"

    def __init__(self, seed: int) -> None:
        super().__init__(seed)
        self.account = Account(seed)
        self.requests_per_minute = 60
        self.window_seconds = 60.0
        self.today: dt.date | None = None  # None: the real UTC date
        self._accepted: dict[str, collections.deque[float]] = collections.defaultdict(collections.deque)
        self._arrivals: dict[str, list[float]] = collections.defaultdict(list)
        self._lock = threading.Lock()

    # The account's data and reports, as tests read them without HTTP.

    def orders_on(self, day: dt.date) -> list[Order]:
        return self.account.orders_on(day)

    def orders_between(self, start: dt.datetime, end: dt.datetime) -> list[Order]:
        return self.account.orders_between(start, end)

    def sales(self, start: dt.datetime, end: dt.datetime, today: dt.date | None = None) -> dict:
        return self.account.sales(start, end, today)

    def customer_sales(self, start: dt.datetime, end: dt.datetime) -> dict:
        return self.account.customer_sales(start, end)

    def inventory(self, day: dt.date | None = None) -> dict:
        return self.account.inventory(day)

    # -- HTTP -----------------------------------------------------------------

    def configure(self, settings: dict) -> dict:
        """Set the knobs in `settings` (`POST /_sandbox/vendor/distribu`); the answer is every knob, and each
        key's arrival times."""
        known = {"requests_per_minute", "window_seconds", "today", "removed_products", *self.account.dashboard}
        unknown = set(settings) - known
        if unknown:
            raise ValueError(f"unknown distribu setting(s): {', '.join(sorted(unknown))}")
        with self._lock:
            if "requests_per_minute" in settings:
                if int(settings["requests_per_minute"]) < 1:
                    raise ValueError("requests_per_minute must be at least 1")
                self.requests_per_minute = int(settings["requests_per_minute"])
            if "window_seconds" in settings:
                if float(settings["window_seconds"]) <= 0:
                    raise ValueError("window_seconds must be positive")
                self.window_seconds = float(settings["window_seconds"])
            if "today" in settings:
                self.today = dt.date.fromisoformat(settings["today"]) if settings["today"] else None
            if "removed_products" in settings:
                self.account.removed_products = set(settings["removed_products"] or ())
            self.account.configure_dashboard(settings)
            return {
                **self.account.dashboard,
                "removed_products": sorted(self.account.removed_products),
                "requests_per_minute": self.requests_per_minute,
                "window_seconds": self.window_seconds,
                "today": self.today.isoformat() if self.today else None,
                # Arrival times (monotonic seconds) per key, the key shortened: the busiest window is computed from these.
                "arrivals": {f"{key[:6]}...{key[-4:]}": list(times) for key, times in self._arrivals.items()},
            }

    def throttle(self, key: str) -> float | None:
        """Seconds to wait when `key` has used its budget in the sliding window, else None (and count it)."""
        with self._lock:
            now = time.monotonic()
            self._arrivals[key].append(now)
            accepted = self._accepted[key]
            while accepted and accepted[0] <= now - self.window_seconds:
                accepted.popleft()
            if len(accepted) >= self.requests_per_minute:
                return accepted[0] + self.window_seconds - now
            accepted.append(now)
            return None

    def handle(self, request: Request) -> Response:
        auth = request.headers.get("Authorization") or ""
        key = auth[len("Bearer ") :].strip() if auth.startswith("Bearer ") else ""
        # Errors echo the key they were sent, as some vendors' do: the tap must mask it.
        if key not in SCOPES:
            return Response.json({"error": f"Invalid or missing API key {key!r}"}, 401)
        wait = self.throttle(key)
        if wait is not None:
            return Response.json(
                {"error": "Rate limit exceeded", "retryAfter": round(wait, 3)},
                429,
                **{"Retry-After": str(max(1, math.ceil(wait)))},
            )
        if "reports:read" not in SCOPES[key]:
            return Response.json({"error": f"Forbidden: insufficient scope for key {key!r}"}, 403)
        if request.method != "GET":
            return Response.json({"error": "Method not allowed"}, 405)
        today = self.today or dt.datetime.now(UTC).date()
        if request.path == "/api/v1/reports/inventory":
            return Response.json({"data": self.inventory(today)})
        if request.path not in ("/api/v1/reports/sales", "/api/v1/reports/customers"):
            return Response.json({"error": "Not found"}, 404)
        try:
            start, end, range_info = self.requested_range(request, today)
        except ValueError as exc:
            return Response.json({"error": str(exc)}, 400)
        if request.path.endswith("/sales"):
            data = self.sales(start, end, today)
        else:
            data = self.customer_sales(start, end)
        return Response.json({"data": {"range": range_info, **data}})

    @staticmethod
    def requested_range(request: Request, today: dt.date) -> tuple[dt.datetime, dt.datetime, dict]:
        preset = request.arg("preset") or "month"
        start, end, label = preset_range(preset, today)
        given_from, given_to = request.arg("from"), request.arg("to")
        if given_from:
            start, _ = parse_js_date(given_from)
        if given_to:
            end, date_only = parse_js_date(given_to)
            if date_only:  # a bare date means that whole day, as the vendor's own ranges end at .999
                end = end_of(end.date())
        if given_from or given_to:
            preset, label = "custom", f"{start.date().isoformat()} → {end.date().isoformat()}"
        if end < start:
            raise ValueError("Invalid range: from is after to")
        return start, end, {"from": iso_ms(start), "to": iso_ms(end), "preset": preset, "label": label}
