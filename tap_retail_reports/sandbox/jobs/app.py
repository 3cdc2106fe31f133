"""`AsyncVendorApp`, the base of FoxyCart's and Flipkart's simulators: a clock tests can move, report jobs
whose status is computed from it on each poll, tokens, and a download route with its faults and accounting."""

from __future__ import annotations

import base64
import datetime as dt
import secrets
import threading
import time
import typing as t
from dataclasses import dataclass, field

from tap_retail_reports.sandbox.files import BuiltFile, FileStore, stream, trickle
from tap_retail_reports.sandbox.jobs.knobs import (
    ACTIONS,
    BODY_FAULTS,
    DEFAULTS,
    GRANT_REFUSALS,
    PER_REPORT,
    UNKNOWN_STATUS,
    check_common_knob,
)
from tap_retail_reports.sandbox.vendor_app import Request, Response, VendorApp


@dataclass
class Job:
    """One report job. Times are on the app's clock (epoch seconds plus the offset)."""

    id: str
    name: str  # FoxyCart report name or Flipkart report type
    parameters: dict
    created_at: float
    processing_seconds: float
    outcome: str  # what it ends as: "ready", "failed" or (Flipkart) "expired"
    rows_per_day: int
    extra: dict = field(default_factory=dict)  # vendor details (correlation id, file name, ...)
    polls: int = 0
    links: dict[str, float] = field(default_factory=dict)  # link secret -> expires at

    @property
    def done_at(self) -> float:
        return self.created_at + self.processing_seconds


def iso_utc(moment: float) -> str:
    return dt.datetime.fromtimestamp(moment, dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def days(first: dt.date, last: dt.date) -> t.Iterator[dt.date]:
    """Every day from `first` to `last`, both included."""
    day = first
    while day <= last:
        yield day
        day += dt.timedelta(days=1)


class AsyncVendorApp(VendorApp):
    """Base of a simulated asynchronous-report vendor: subclasses add their routes and data."""

    report_names: tuple[str, ...] = ()
    vendor_defaults: t.ClassVar[dict[str, t.Any]] = {}  # vendor-specific knobs and their defaults
    vendor_per_report: tuple[str, ...] = ()  # vendor knobs also allowed under per_report
    portal_names: t.ClassVar[dict[str, str]] = {}  # the csv_column_names knob's `portal` names of the vendor's columns
    token_lifetime_default = 3600.0

    def __init__(self, seed: int) -> None:
        super().__init__(seed)
        self._lock = threading.RLock()
        self.offset = 0.0
        self.clock_rate = 1.0
        self._rate_since = (time.time(), time.time())  # (real, app) when clock_rate was last set
        self.knobs: dict[str, t.Any] = {
            **DEFAULTS, "token_lifetime_seconds": self.token_lifetime_default, **self.vendor_defaults
        }
        self.per_report: dict[str, dict[str, t.Any]] = {}
        self.files = FileStore(self.prefix)
        self.files.portal_names = dict(self.portal_names)
        self._forget()

    def _forget(self) -> None:
        """Forget reports, tokens, downloads and counts; the knobs stay."""
        self.jobs: dict[str, Job] = {}
        self.purged: set[str] = set()  # report ids forgotten by `purge_reports`
        self.tokens: dict[str, float] = {}  # token -> expires at
        self.revoked: set[str] = set()
        self.token_grants = 0
        self.downloads: list[dict] = []
        self.credential_violations = 0

    # -- clock and knobs ---------------------------------------------------------

    def now(self) -> float:
        """The app's clock: real time (run at `clock_rate` since it was set) plus what tests advanced it by."""
        real, app = self._rate_since
        return app + (time.time() - real) * self.clock_rate + self.offset

    def configure(self, settings: dict) -> dict:
        allowed = {*DEFAULTS, "token_lifetime_seconds", *self.vendor_defaults, *ACTIONS}
        unknown = set(settings) - allowed
        if unknown:
            raise ValueError(f"unknown {self.prefix} setting(s): {', '.join(sorted(unknown))}")
        with self._lock:
            for key, value in settings.items():
                if key in ACTIONS:
                    continue
                self.knobs[key] = self.check_knob(key, value)
            if "per_report" in settings:
                self.per_report = self._check_per_report(settings["per_report"] or {})
            if settings.get("advance_seconds"):
                if float(settings["advance_seconds"]) < 0:
                    raise ValueError("advance_seconds must not be negative: the clock only moves forward")
                self.offset += float(settings["advance_seconds"])
            if "clock_rate" in settings:
                rate = settings["clock_rate"]
                if isinstance(rate, bool) or not isinstance(rate, (int, float)) or rate <= 0:
                    raise ValueError(f"clock_rate must be a number > 0, got {rate!r}")
                self._rate_since = (time.time(), self.now() - self.offset)
                self.clock_rate = float(rate)
            if settings.get("revoke_tokens"):
                self.revoke_tokens()
            if settings.get("reset"):
                self._forget()
            if settings.get("purge_reports"):
                self.purged.update(self.jobs)
                self.jobs.clear()
            return self.state()

    def check_knob(self, key: str, value: t.Any) -> t.Any:
        """The knob's value, checked; vendors extend this for their own knobs."""
        return check_common_knob(key, value, self.files)

    def _check_per_report(self, given: t.Any) -> dict[str, dict[str, t.Any]]:
        if not isinstance(given, dict):
            raise ValueError("per_report must be an object {report: {knob: value}}")
        checked = {}
        for name, knobs in given.items():
            if name not in self.report_names:
                raise ValueError(f"per_report: unknown report {name!r} (one of {', '.join(self.report_names)})")
            if not isinstance(knobs, dict):
                raise ValueError(f"per_report.{name} must be an object of knobs")
            unknown = set(knobs) - {*PER_REPORT, *self.vendor_per_report}
            if unknown:
                raise ValueError(f"per_report.{name}: unknown knob(s) {', '.join(sorted(unknown))}")
            checked[name] = {key: self.check_knob(key, value) for key, value in knobs.items()}
        return checked

    def setting(self, name: str, key: str) -> t.Any:
        """A knob's value for one report: its own, else the app's."""
        return self.per_report.get(name, {}).get(key, self.knobs[key])

    def link_base(self, request: Request) -> str:
        """Where download links point: the API's base URL, or `download_base_url`."""
        return self.knobs["download_base_url"] or request.base_url

    def use_countdown(self, name: str, counter: str) -> bool:
        """Use one unit of a countdown knob (the report's own first); False when both are spent."""
        with self._lock:
            own = self.per_report.get(name, {})
            if own.get(counter, 0) > 0:
                own[counter] -= 1
                return True
            if self.knobs[counter] > 0:
                self.knobs[counter] -= 1
                return True
            return False

    def data_span(self) -> tuple[dt.date, dt.date]:
        """The days with data: every day unless the data_start/data_end knobs narrow it."""
        start, end = self.knobs["data_start"], self.knobs["data_end"]
        return (dt.date.fromisoformat(start) if start else dt.date.min,
                dt.date.fromisoformat(end) if end else dt.date.max)

    # -- tokens --------------------------------------------------------------------

    def issue_token(self, prefix: str) -> tuple[str, int]:
        token = prefix + secrets.token_urlsafe(24)
        with self._lock:
            lifetime = self.knobs["token_lifetime_seconds"]
            self.tokens[token] = self.now() + lifetime
            self.token_grants += 1
        return token, int(lifetime)

    def token_problem(self, request: Request) -> str | None:
        """Why the request's bearer token is refused, or None when it is live."""
        header = request.headers.get("Authorization") or ""
        if not header.lower().startswith("bearer "):
            return "missing bearer token"
        token = header[7:].strip()
        with self._lock:
            expires = self.tokens.get(token)
            if expires is None or token in self.revoked:
                return "invalid or revoked access token"
            if expires <= self.now():
                return "access token expired"
        return None

    def grant_refusal(self, request: Request, client_id: str, client_secret: str, description: str) -> Response | None:
        """Why a token grant is refused, or None: other Basic credentials (401 invalid_client, with the vendor's
        `description`), or the app's access withdrawn by `refuse_grants`."""
        expected = base64.b64encode(f"{client_id}:{client_secret}".encode()).decode()
        if (request.headers.get("Authorization") or "") != f"Basic {expected}":
            return Response.json({"error": "invalid_client", "error_description": description}, 401)
        refusal = self.knobs["refuse_grants"]
        if not refusal:
            return None
        return Response.json({"error": refusal, "error_description": "access to this app was withdrawn"},
                             GRANT_REFUSALS[refusal])

    def revoke_tokens(self) -> None:
        self.revoked.update(self.tokens)

    # -- jobs ----------------------------------------------------------------------

    def new_job(self, job_id: str, name: str, parameters: dict, **extra: t.Any) -> Job:
        outcome = "failed" if self.use_countdown(name, "fail_next") else "ready"
        with self._lock:
            job = Job(
                id=job_id,
                name=name,
                parameters=parameters,
                created_at=self.now(),
                processing_seconds=self.setting(name, "processing_seconds"),
                outcome=outcome,
                rows_per_day=self.setting(name, "rows_per_day"),
                extra=extra,
            )
            self.jobs[job_id] = job
        return job

    def lookup(self, report_id: str) -> tuple[Job | None, int]:
        """(the job, 0), or (None, the status to answer): `purged_status` for a purged report, else 404."""
        job = self.jobs.get(report_id)
        if job is not None:
            return job, 0
        return None, self.knobs["purged_status"] if report_id in self.purged else 404

    def polled(self, job: Job, status: str) -> str:
        """Count a poll; the status to answer (UNKNOWN_STATUS while `unknown_status_next_polls` lasts)."""
        with self._lock:
            job.polls += 1
        return UNKNOWN_STATUS if self.use_countdown(job.name, "unknown_status_next_polls") else status

    def status(self, job: Job) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def issue_link(self, job: Job) -> tuple[str, float]:
        """A fresh link secret for `job` and when it stops working."""
        secret = secrets.token_urlsafe(18)
        with self._lock:
            expires = self.now() + self.setting(job.name, "link_ttl_seconds")
            job.links[secret] = expires
        return secret, expires

    def state(self) -> dict:
        with self._lock:
            now = self.now()
            return {
                "clock": {"now": iso_utc(now), "offset_seconds": self.offset, "rate": self.clock_rate},
                "settings": {**self.knobs, "per_report": self.per_report},
                "token_grants": self.token_grants,
                "tokens_issued": [
                    {"token": token, "expires_at": iso_utc(expires), "revoked": token in self.revoked}
                    for token, expires in self.tokens.items()
                ],
                "reports": [
                    {
                        "id": job.id,
                        "name": job.name,
                        "parameters": job.parameters,
                        "status": self.status(job),
                        "created_at": iso_utc(job.created_at),
                        "polls": job.polls,
                        "links": [
                            {"secret": secret, "expires_at": iso_utc(expires)} for secret, expires in job.links.items()
                        ],
                        **job.extra,
                    }
                    for job in self.jobs.values()
                ],
                "polls": {job.id: job.polls for job in self.jobs.values()},
                "downloads": list(self.downloads),
                "credential_violations": self.credential_violations,
                "files_built": self.files.builds,
            }

    # -- downloads ------------------------------------------------------------------

    def refuse_credentials(self, request: Request, forbidden: t.Iterable[str]) -> Response | None:
        """A 400 when a download carries API credentials or vendor headers (links point at storage)."""
        carried = [name for name in forbidden if request.headers.get(name) is not None]
        if not carried:
            return None
        with self._lock:
            self.credential_violations += 1
        return Response.json(
            {"error": f"storage links take no credentials: the request carried {', '.join(carried)}"}, 400
        )

    def record_download(self, job: Job | None, status: int, sent: int, fault: str | None = None) -> None:
        with self._lock:
            self.downloads.append(
                {"report_id": job.id if job else None, "name": job.name if job else None,
                 "status": status, "bytes": sent, "fault": fault, "at": iso_utc(self.now())}
            )

    def serve_file(self, job: Job, built: BuiltFile, content_type: str, expired: t.Callable[[], Response]) -> Response:
        """The file, or the fault a test asked for (expired link, truncated or corrupt body)."""
        if self.use_countdown(job.name, "expired_link_next_downloads"):
            response = expired()
            self.record_download(job, response.status, 0, "expired_link")
            return response
        for knob, body in BODY_FAULTS.items():
            if self.use_countdown(job.name, knob):
                self.record_download(job, 200, len(body), knob.removesuffix("_next_downloads"))
                return Response(200, body, {"Content-Type": content_type})
        if self.use_countdown(job.name, "stall_next_downloads"):
            self.record_download(job, 200, built.size, "stall")
            return Response(200, trickle(built.path, self.knobs["stall_seconds"]), {"Content-Type": content_type},
                            content_length=built.size)
        fault = None
        if self.use_countdown(job.name, "truncate_next_downloads"):
            fault = "truncate"
        elif self.use_countdown(job.name, "corrupt_next_downloads"):
            fault = "corrupt"
        response = Response(
            200,
            stream(built.path, corrupt=fault == "corrupt"),
            {"Content-Type": content_type},
            content_length=built.size,
            cut_after=built.size // 2 if fault == "truncate" else None,
        )
        self.record_download(job, 200, built.size // 2 if fault == "truncate" else built.size, fault)
        return response
