"""Retrend over HTTP: sessions, the `general` and `run-now` report calls, and the test knobs."""

from __future__ import annotations

import datetime as dt
import secrets
import threading
import time
import typing as t

from tap_retail_reports.sandbox import credentials
from tap_retail_reports.sandbox.retrend.data import DURATIONS, REPORTS, build_report, period_end, period_start
from tap_retail_reports.sandbox.vendor_app import Request, Response, VendorApp

STORES = (*credentials.RETREND_STORE_NUMS, 3)  # 3 exists but is not in the demo config
KIOSK_HEADERS = ("kiosk-id", "x-kiosk", "x-temp-kiosk", "x-device-id")
ODD_ANSWERS = ("report_null", "null", "empty", "previous_period", "next_period")


class App(VendorApp):
    prefix = "retrend"

    def __init__(self, seed: int) -> None:
        super().__init__(seed)
        self._lock = threading.Lock()
        self.token_lifetime = 3600.0
        self.latency = 0.0
        self.wrap_reports = True
        self.today: dt.date | None = None
        self.tokens: dict[str, tuple[str, float]] = {}  # token -> (organization, expires at)
        self.revoked: set[str] = set()
        self.refuse_sessions = False
        self.calls: dict[tuple, list[int]] = {}  # (endpoint, store, report, duration, start) -> statuses
        self.kiosk_seen: list[dict[str, str]] = []
        self.missing_periods: set[str] = set()  # period starts with no report at all (404)
        self.silent_stores: set[int] = set()  # stores with no report for any period (404)
        self.odd_answers: dict[str, str] = {}  # period start -> a 200 that is not its report

    # -- test knobs -------------------------------------------------------------

    def configure(self, settings: dict) -> dict:
        unknown = set(settings) - {
            "token_lifetime_seconds", "latency_seconds", "revoke_tokens", "refuse_sessions", "wrap_reports",
            "today", "reset_calls", "missing_periods", "silent_stores", "odd_answers",
        }
        if unknown:
            raise ValueError(f"unknown retrend setting(s): {', '.join(sorted(unknown))}")
        with self._lock:
            if "token_lifetime_seconds" in settings:
                self.token_lifetime = float(settings["token_lifetime_seconds"])
            if "latency_seconds" in settings:
                self.latency = float(settings["latency_seconds"])
            if "wrap_reports" in settings:
                self.wrap_reports = bool(settings["wrap_reports"])
            if "today" in settings:
                self.today = dt.date.fromisoformat(settings["today"]) if settings["today"] else None
            if "missing_periods" in settings:
                self.missing_periods = set(settings["missing_periods"] or ())
            if "odd_answers" in settings:
                odd = settings["odd_answers"] or {}
                if not isinstance(odd, dict) or not set(odd.values()) <= set(ODD_ANSWERS):
                    raise ValueError(f"odd_answers must be an object {{start_date: {'|'.join(ODD_ANSWERS)}}}")
                self.odd_answers = dict(odd)
            if "silent_stores" in settings:
                self.silent_stores = {int(store) for store in settings["silent_stores"] or ()}
            if "refuse_sessions" in settings:
                self.refuse_sessions = bool(settings["refuse_sessions"])
            if settings.get("revoke_tokens"):
                self.revoked.update(self.tokens)
            if settings.get("reset_calls"):
                self.calls.clear()
                self.kiosk_seen.clear()
            return {
                "token_lifetime_seconds": self.token_lifetime,
                "latency_seconds": self.latency,
                "wrap_reports": self.wrap_reports,
                "today": self.today.isoformat() if self.today else None,
                "refuse_sessions": self.refuse_sessions,
                "tokens_issued": list(self.tokens),
                "calls": [
                    {"endpoint": e, "store_num": s, "report": r, "duration": d, "start_date": p, "statuses": list(v)}
                    for (e, s, r, d, p), v in self.calls.items()
                ],
                "kiosk_headers_seen": list(self.kiosk_seen),
            }

    def current_day(self) -> dt.date:
        return self.today or dt.datetime.now(dt.timezone.utc).date()

    # -- HTTP ---------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        if request.method != "POST":
            return Response.json({"error": "method not allowed"}, 405)
        if request.path == "/session":
            return self._session(request)
        if request.path in ("/v2/reports/general", "/v2/reports/run-now"):
            return self._report(request, request.path.rsplit("/", 1)[1])
        return Response.json({"error": f"no route {request.path}"}, 404)

    def _session(self, request: Request) -> Response:
        organization = request.headers.get("organization-id")
        api_key = request.headers.get("api-key")
        if organization != credentials.RETREND_ORGANIZATION_ID or api_key != credentials.RETREND_API_KEY:
            # Echoes what it was sent, as some vendors do: the tap must mask it.
            return Response.json({"error": f"invalid organization-id {organization!r} or api-key {api_key!r}"}, 401)
        token = "rts_" + secrets.token_urlsafe(24)
        with self._lock:
            expires = time.time() + self.token_lifetime
            self.tokens[token] = (organization, expires)
        when = dt.datetime.fromtimestamp(expires, dt.timezone.utc).isoformat(timespec="milliseconds")
        return Response.json({"token": token, "expires": when.replace("+00:00", "Z")})

    def _session_problem(self, request: Request) -> str | None:
        token = request.headers.get("x-session")
        with self._lock:
            issued = self.tokens.get(token or "")
            if issued is None or token in self.revoked or self.refuse_sessions:
                return f"invalid session {token}"
            if issued[0] != request.headers.get("organization-id"):
                return "session does not belong to this organization-id"
            if issued[1] <= time.time():
                return f"session {token} expired"
        return None

    def _report(self, request: Request, endpoint: str) -> Response:
        if self.latency:
            time.sleep(self.latency)
        problem = self._session_problem(request)
        try:
            body = request.json()
        except ValueError:
            body = None
        key = None
        if isinstance(body, dict):
            key = (endpoint, body.get("store_num"), body.get("report"), body.get("duration"), body.get("start_date"))
        if problem:
            response = Response.json({"error": problem}, 401)
        else:
            response = self._answer(body, endpoint)
        with self._lock:
            if key is not None and all(isinstance(part, t.Hashable) for part in key):
                self.calls.setdefault(key, []).append(response.status)
            kiosk = {name: request.headers[name] for name in KIOSK_HEADERS if request.headers.get(name)}
            if kiosk and kiosk not in self.kiosk_seen:
                self.kiosk_seen.append(kiosk)
        return response

    def _answer(self, body: t.Any, endpoint: str) -> Response:
        if not isinstance(body, dict):
            return Response.json({"error": "body must be a JSON ReportRequest object"}, 400)
        store, report, duration = body.get("store_num"), body.get("report"), body.get("duration")
        if isinstance(store, bool) or not isinstance(store, int):
            return Response.json({"error": "store_num must be a number"}, 400)
        if store not in STORES:
            return Response.json({"error": f"unknown store_num {store}"}, 400)
        if report not in REPORTS:
            return Response.json({"error": f"report must be one of {', '.join(REPORTS)}"}, 400)
        if duration not in DURATIONS:
            return Response.json({"error": f"duration must be one of {', '.join(DURATIONS)}"}, 400)
        today = self.current_day()
        current = period_start(today, duration)
        if body.get("start_date") is None:
            start = current if endpoint == "run-now" else period_start(current - dt.timedelta(days=1), duration)
        else:
            try:
                start = dt.date.fromisoformat(str(body["start_date"]))
            except ValueError:
                return Response.json({"error": f"start_date must be an ISO date, got {body['start_date']!r}"}, 400)
            if start != period_start(start, duration):
                return Response.json(
                    {"error": f"start_date {start} is not the first day of a {duration} period "
                     f"({period_start(start, duration)})"},
                    400,
                )
        if start > current:
            return Response.json({"error": f"the {duration} period starting {start} has not begun"}, 404)
        if start == current and endpoint == "general":
            return Response.json(
                {"error": f"report not ready: the {duration} period starting {start} ends "
                 f"{period_end(start, duration)}; use run-now for a partial report"},
                404,
            )
        if start.isoformat() in self.missing_periods or store in self.silent_stores:
            return Response.json({"error": f"no report for the {duration} period starting {start}"}, 404)
        created = dt.datetime.now(dt.timezone.utc) if endpoint == "run-now" else None
        odd = self.odd_answers.get(start.isoformat())
        if odd in ("report_null", "null", "empty"):
            return Response.json({"report_null": {"report": None}, "null": None, "empty": {}}[odd])
        if odd == "previous_period":
            start = period_start(start - dt.timedelta(days=1), duration)
        elif odd == "next_period":
            start = period_end(start, duration)
        payload = self.report(store, report, duration, start, created_at=created)
        return Response.json({"report": payload} if self.wrap_reports else payload)

    # -- reports ---------------------------------------------------------------------

    def report(
        self, store: int, report: str, duration: str, start: dt.date, *, created_at: dt.datetime | None = None
    ) -> dict:
        """The report object for one store, report, duration and period: the same for a seed."""
        return build_report(self.seed, store, report, duration, start, created_at=created_at)
