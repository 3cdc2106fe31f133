"""Vroom over HTTP: routes, Basic auth, and the test knobs (see docs/developing.md, "Vendor knobs")."""

from __future__ import annotations

import base64
import datetime as dt
import hmac
import typing as t

from tap_retail_reports.sandbox.credentials import VROOM_PASSWORD, VROOM_USERNAME
from tap_retail_reports.sandbox.vendor_app import Request, Response, VendorApp
from tap_retail_reports.sandbox.vroom.reports import ENDPOINTS, Reports
from tap_retail_reports.sandbox.vroom.times import BadRequest, format_time, parse_time

API = "/api/retailer/v1"
KNOBS = ("now", "extra_row_fields", "removed_contacts", "phone_only_every", "missing_email_as")


class App(VendorApp):
    prefix = "vroom"

    def __init__(self, seed: int) -> None:
        super().__init__(seed)
        self.reports = Reports(seed)
        self.now: dt.datetime | None = None  # None: the real time
        self.extra_row_fields: dict[str, t.Any] = {}

    def rows(self, endpoint: str, body: dict | None = None, now: dt.datetime | None = None) -> list[dict]:
        """The rows `POST /analytics/<endpoint>` answers with `body` at `now` (default: the real now)."""
        return self.reports.rows(endpoint, body, now)

    def configure(self, settings: dict) -> dict:
        """Set the knobs in `settings` (`POST /_sandbox/vendor/vroom`); the answer is every knob's value."""
        reports = self.reports
        unknown = set(settings) - set(KNOBS)
        if unknown:
            raise ValueError(f"unknown vroom setting(s): {', '.join(sorted(unknown))}")
        if "now" in settings:
            self.now = parse_time(settings["now"], "now") if settings["now"] else None
        if "extra_row_fields" in settings:
            self.extra_row_fields = dict(settings["extra_row_fields"] or {})
        if "removed_contacts" in settings:
            reports.removed_contacts = set(settings["removed_contacts"] or ())
        if "phone_only_every" in settings:
            every = settings["phone_only_every"]
            if isinstance(every, bool) or not isinstance(every, int) or every < 0:
                raise ValueError(f"phone_only_every must be a whole number >= 0, got {every!r}")
            reports.phone_only_every = every
        if "missing_email_as" in settings:
            if settings["missing_email_as"] not in ("null", "absent", "empty"):
                raise ValueError(f"missing_email_as must be null, absent or empty, got {settings['missing_email_as']!r}")
            reports.missing_email_as = settings["missing_email_as"]
        return {"now": format_time(self.now) if self.now else None, "extra_row_fields": self.extra_row_fields,
                "removed_contacts": sorted(reports.removed_contacts), "phone_only_every": reports.phone_only_every,
                "missing_email_as": reports.missing_email_as}

    def handle(self, request: Request) -> Response:
        path = request.path.rstrip("/")
        name = path.removeprefix(f"{API}/analytics/")
        known = path.startswith(f"{API}/analytics/") and name in ENDPOINTS
        promo = path == f"{API}/marketing/create_promo_code"
        if not (known or promo):
            return Response.json({"error": f"Not found: {request.path}"}, 404)
        if request.method != "POST":
            return Response.json({"error": f"{request.method} not allowed; use POST"}, 405, Allow="POST")
        header = request.headers.get("Authorization")
        if not self.authorized(header):
            # Echoes what it was sent, as some vendors' error pages do: the tap must mask it.
            return Response.json(
                {"error": f"Invalid email or password {self.sent_credentials(header)}"},
                401,
                **{"WWW-Authenticate": 'Basic realm="Vroom"'},
            )
        if promo:  # it writes to the vendor; the tap only reads
            return Response.json({"error": "create_promo_code is not simulated"}, 501)
        body = request.json()  # a body that is not JSON: the server answers 400 with the reason
        try:
            rows = self.rows(name, body, self.now)
        except BadRequest as exc:
            return Response.json({"error": str(exc)}, 400)
        return Response.json([{**row, **self.extra_row_fields} for row in rows] if self.extra_row_fields else rows)

    @staticmethod
    def sent_credentials(header: str | None) -> str:
        """The Authorization header and what it decodes to, as the vendor's 401 echoes them."""
        _, _, encoded = (header or "").partition(" ")
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode()
        except (ValueError, UnicodeDecodeError):
            decoded = ""
        username, _, password = decoded.partition(":")
        return f"(Authorization: {header!r}; username {username!r}, password {password!r})"

    @staticmethod
    def authorized(header: str | None) -> bool:
        scheme, _, encoded = (header or "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            username, _, password = base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        return hmac.compare_digest(username.encode(), VROOM_USERNAME.encode()) & hmac.compare_digest(
            password.encode(), VROOM_PASSWORD.encode()
        )
