"""Simulated Retrend Reports API: sessions, `general` and `run-now`, seeded typed reports.

- `POST /session` with `organization-id` and `api-key` headers gives `{"token", "expires"}`;
  `expires` is an ISO-8601 UTC date-time, `token_lifetime_seconds` after issue (default 3600).
- `POST /v2/reports/general` and `POST /v2/reports/run-now` need `organization-id` and a live
  `x-session`; the body is `{store_num, report, duration, start_date?}`. Answers are
  `{"report": {...}}` (or the bare report object with `wrap_reports: false`).
- `general` serves completed periods only: a period still in progress (or in the future) is a
  404 `{"error": "report not ready ..."}`; without start_date it is the latest completed period.
  `run-now` also serves the period in progress (it computes the report on demand, so its
  `created_at` is the time of the call); without start_date it is the period in progress.
- Periods are calendar periods in UTC: ISO weeks starting Monday, months, quarters, years.
  A start_date that is not the first day of its period is a 400.

Test knobs, through `POST /_sandbox/vendor/retrend` (each optional; the answer is the state):
  token_lifetime_seconds  lifetime of tokens issued from now on
  latency_seconds         delay before answering each report call
  revoke_tokens: true     every token issued so far answers 401 from now on
  refuse_sessions         true: every report call answers 401, even with a fresh token
  wrap_reports            false: answer with the bare report object
  today                   "YYYY-MM-DD" to fix the sandbox's today (null: the real UTC date)
  reset_calls: true       forget the counted report calls
  missing_periods         ["YYYY-MM-DD", ...]: period starts with no report (404) for any store
  silent_stores           [store_num, ...]: stores with no report at all (404), as a closed store
  odd_answers             {"YYYY-MM-DD": kind}: a 200 for that period start (any store) that is not its
                          report; kind "report_null" ({"report": null}), "null" (a JSON null),
                          "empty" ({}), "previous_period" or "next_period" (the report of the period
                          before or after the one asked)
The state lists every report call as {endpoint, store_num, report, duration, start_date,
statuses}, the kiosk headers seen and the tokens issued, so tests can check that no request
was repeated and that no token reached a log. A refused session's 401 names the token,
and a refused api-key's names the key, as some APIs do, which is what the tap's redaction is for.
"""

from __future__ import annotations

import datetime as dt
import random
import secrets
import threading
import time
import typing as t

from tap_retail_reports.sandbox import credentials
from tap_retail_reports.sandbox.vendor_app import Request, Response, VendorApp

REPORTS = ("conversation_delta_report", "category_interest_trends", "direct_search_oos_impact")
DURATIONS = ("daily", "weekly", "monthly", "quarterly", "yearly")
STORES = (*credentials.RETREND_STORE_NUMS, 3)  # 3 exists but is not in the demo config
KIOSK_HEADERS = ("kiosk-id", "x-kiosk", "x-temp-kiosk", "x-device-id")
CLIENT_ID = "client-7781"
ODD_ANSWERS = ("report_null", "null", "empty", "previous_period", "next_period")

REPORT_NAMES = {
    "conversation_delta_report": "Conversation Delta Report",
    "category_interest_trends": "Category Interest Trends",
    "direct_search_oos_impact": "Direct Search OOS Impact",
}
INTENTS = ("product_search", "availability", "recommendation", "order_status", "store_hours", "returns")
CHANNELS = ("kiosk", "web_chat", "sms", "voice")
BROADTYPES = ("wine", "spirits", "beer", "cider", "mixers", "snacks", "tobacco", "accessories")
SUBTYPES = (
    "red wine", "white wine", "rose", "sparkling", "bourbon", "scotch", "tequila", "vodka",
    "gin", "ipa", "lager", "stout", "hard seltzer", "tonic", "chips", "cigars",
)
PRODUCTS = (
    ("P-10023", "Cabernet Sauvignon 750ml"), ("P-10087", "Prosecco Brut 750ml"),
    ("P-20011", "Kentucky Bourbon 1L"), ("P-20045", "Blanco Tequila 750ml"),
    ("P-30002", "Hazy IPA 6-pack"), ("P-30019", "Mexican Lager 12-pack"),
    ("P-40007", "Premium Tonic 4-pack"), ("P-50003", "Sea Salt Chips 200g"),
)


# -- calendar periods (written here independently of the tap, so tests compare two readings) --

def period_start(day: dt.date, duration: str) -> dt.date:
    if duration == "daily":
        return day
    if duration == "weekly":
        return day - dt.timedelta(days=day.weekday())
    if duration == "monthly":
        return day.replace(day=1)
    if duration == "quarterly":
        return dt.date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    return dt.date(day.year, 1, 1)


def period_end(start: dt.date, duration: str) -> dt.date:
    """The first day after the period (exclusive end)."""
    if duration == "daily":
        return start + dt.timedelta(days=1)
    if duration == "weekly":
        return start + dt.timedelta(days=7)
    months = {"monthly": 1, "quarterly": 3, "yearly": 12}[duration]
    index = start.year * 12 + start.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def buckets(start: dt.date, end: dt.date, duration: str) -> list[str]:
    """Labels of a report's time series: hours of a day, days of a week or month,
    weeks of a quarter, months of a year."""
    if duration == "daily":
        return [f"{start.isoformat()}T{hour:02d}:00:00Z" for hour in range(24)]
    if duration in ("weekly", "monthly"):
        return [(start + dt.timedelta(days=n)).isoformat() for n in range((end - start).days)]
    if duration == "quarterly":
        return [(start + dt.timedelta(weeks=n)).isoformat() for n in range(((end - start).days + 6) // 7)]
    return [dt.date(start.year, month, 1).isoformat() for month in range(1, 13)]


def _pct(now: float, before: float) -> float | None:
    return None if not before else round(100.0 * (now - before) / before, 2)


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

    # -- data -----------------------------------------------------------------------

    def report(
        self, store: int, report: str, duration: str, start: dt.date, *, created_at: dt.datetime | None = None
    ) -> dict:
        """The report object for one store, report, duration and period: the same for a seed."""
        rng = random.Random(f"{self.seed}:{store}:{report}:{duration}:{start.isoformat()}")
        end = period_end(start, duration)
        if created_at is None:  # reports of completed periods are computed in the small hours after
            created_at = dt.datetime.combine(end, dt.time(2, rng.randrange(60)), dt.timezone.utc)
        labels = buckets(start, end, duration)
        common = {
            "report_name": REPORT_NAMES[report],
            "client_id": CLIENT_ID,
            "store_num": store,
            "duration": duration,
            "start_date": start.isoformat(),
            "end_date": (end - dt.timedelta(days=1)).isoformat(),  # last day of the period
            "created_at": created_at.isoformat(timespec="seconds").replace("+00:00", "Z"),
        }
        build = {
            "conversation_delta_report": self._conversation_delta,
            "category_interest_trends": self._category_interest,
            "direct_search_oos_impact": self._direct_search_oos,
        }[report]
        return {**common, **build(rng, labels)}

    @staticmethod
    def _conversation_delta(rng: random.Random, labels: list[str]) -> dict:
        volumes: list[dict[str, t.Any]] = [{"period": label, "conversations": rng.randrange(5, 60)} for label in labels]
        total = sum(v["conversations"] for v in volumes)
        previous = max(1, int(total * rng.uniform(0.7, 1.3)))
        intents = []
        for intent in INTENTS:
            now, before = rng.randrange(0, total + 1), rng.randrange(1, total + 2)
            intents.append({"intent": intent, "count": now, "previous_count": before, "percent_change": _pct(now, before)})
        channels = []
        for channel in CHANNELS:
            now, before = rng.randrange(0, total + 1), rng.randrange(1, total + 2)
            channels.append({
                "channel": channel,
                "conversations": now,
                "share": round(now / total, 4) if total else 0.0,
                "percent_change": _pct(now, before),
            })
        return {
            "total_conversations": total,
            "previous_total_conversations": previous,
            "percent_change": _pct(total, previous),
            "volumes": volumes,
            "intent_breakdown": intents,
            "channel_mix": channels,
        }

    @staticmethod
    def _category_interest(rng: random.Random, labels: list[str]) -> dict:
        def ranked(names: t.Sequence[str], field: str, count: int) -> list[dict]:
            chosen = rng.sample(list(names), count)
            return [
                {field: name, "rank": rank, "interest": rng.randrange(20, 500), "growth_pct": round(rng.uniform(-40, 120), 1)}
                for rank, name in enumerate(chosen, 1)
            ]

        shown = rng.sample(list(BROADTYPES), 4)
        return {
            "top_broadtypes": ranked(BROADTYPES, "broadtype", 5),
            "rising_broadtypes": ranked(BROADTYPES, "broadtype", 3),
            "top_subtypes": ranked(SUBTYPES, "subtype", 8),
            "rising_subtypes": ranked(SUBTYPES, "subtype", 5),
            "bar_data": {
                "labels": labels,
                "series": [{"name": name, "values": [rng.randrange(0, 80) for _ in labels]} for name in shown],
            },
        }

    @staticmethod
    def _direct_search_oos(rng: random.Random, labels: list[str]) -> dict:
        searches = [rng.randrange(10, 200) for _ in labels]
        oos = [rng.randrange(0, max(1, s // 4)) for s in searches]
        volume, oos_total = sum(searches), sum(oos)
        products = []
        for product_id, name in rng.sample(list(PRODUCTS), 5):
            count = rng.randrange(5, 150)
            missed = rng.randrange(0, count // 2 + 1)
            products.append({
                "product_id": product_id,
                "name": name,
                "searches": count,
                "oos_searches": missed,
                "oos_rate": round(missed / count, 4),
            })
        return {
            "direct_search_volume": volume,
            "oos_search_count": oos_total,
            "oos_rate": round(oos_total / volume, 4) if volume else 0.0,
            "estimated_lost_revenue": round(oos_total * rng.uniform(8, 30), 2),
            "top_searched_products": products,
            "time_series": {
                "search_volume": [{"period": label, "value": value} for label, value in zip(labels, searches, strict=True)],
                "oos_rate": [
                    {"period": label, "value": round(missed / count, 4)}
                    for label, count, missed in zip(labels, searches, oos, strict=True)
                ],
            },
        }

