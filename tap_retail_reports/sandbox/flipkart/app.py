"""Flipkart over HTTP: client-credentials and refresh grants, report jobs, signed downloads, gateway faults."""

from __future__ import annotations

import dataclasses
import datetime as dt
import secrets
import typing as t
import uuid

from tap_retail_reports.sandbox import credentials
from tap_retail_reports.sandbox.files import FORMATS, BuiltFile
from tap_retail_reports.sandbox.flipkart.reports import (
    DEFAULT_FORMATS,
    IST,
    REPORT_TYPES,
    SNAPSHOT_TYPES,
    BadParameters,
    check_parameters,
    file_name,
    report_members,
)
from tap_retail_reports.sandbox.flipkart.rows import TIME_FORMAT
from tap_retail_reports.sandbox.jobs import AsyncVendorApp, Job
from tap_retail_reports.sandbox.vendor_app import Request, Response

LAYOUT_KNOBS = ("csv_repeat_header_every", "csv_new_header_after", "xlsx_text_cells")  # Layout's fields, in order
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
PARTNER_TOKEN_PREFIX = "fkpt_"  # access tokens from the refresh grant; the client-credentials grant's are fkat_
EXPIRY_FORMS = ("ist", "utc", "offset", "epoch_seconds", "epoch_millis", "absent", "unreadable")


def expiry_text(expires: float, form: str) -> str | int | None:
    """`metadata.expiry` in one of the forms a reading of the document may give it (None: absent)."""
    if form == "ist":
        return dt.datetime.fromtimestamp(expires, IST).strftime(TIME_FORMAT)
    if form == "utc":
        return dt.datetime.fromtimestamp(expires, dt.timezone.utc).strftime(TIME_FORMAT)
    if form == "offset":
        return dt.datetime.fromtimestamp(expires, IST).isoformat(timespec="seconds")
    if form == "epoch_seconds":
        return int(expires)
    if form == "epoch_millis":
        return int(expires * 1000)
    if form == "unreadable":
        return "soon"
    return None


def _error(status: int, message: str) -> Response:
    """An API error as Flipkart writes it: {code, message}."""
    return Response.json({"code": {400: "BAD_REQUEST", 403: "FORBIDDEN", 404: "NOT_FOUND",
                                   410: "GONE"}.get(status, "ERROR"), "message": message}, status)


class App(AsyncVendorApp):
    """Flipkart's simulator under `/flipkart`: its routes, its own knobs, and each report's file."""

    prefix = "flipkart"
    report_names = REPORT_TYPES
    vendor_defaults: t.ClassVar[dict[str, t.Any]] = {
        "expire_next": 0, "report_ttl_seconds": 86400.0, "formats": dict(DEFAULT_FORMATS),
        "timeout_499_next": 0, "accepted_next": 0, "create_status": 200, "running_detail_status": 200,
        "partner_token_lifetime_seconds": 60 * 86400.0, "refresh_token_rotation": "absent",
        "reports_need_partner_token": False,
        "csv_repeat_header_every": 0, "csv_new_header_after": 0, "xlsx_text_cells": False, "expiry_form": "ist",
    }
    vendor_per_report = ("expire_next", "report_ttl_seconds", "timeout_499_next", "accepted_next")
    token_lifetime_default = 3600.0

    def _forget(self) -> None:
        super()._forget()
        self.partner_revoked = False
        self.refresh_tokens = {credentials.FLIPKART_REFRESH_TOKEN}  # the valid ones
        self.refresh_grants = 0

    def state(self) -> dict:
        with self._lock:
            return {**super().state(), "refresh_grants": self.refresh_grants,
                    "refresh_tokens": sorted(self.refresh_tokens)}

    def check_knob(self, key: str, value: t.Any) -> t.Any:
        if key == "refresh_token_rotation":
            if value not in ("absent", "same", "rotate"):
                raise ValueError(f"refresh_token_rotation must be absent, same or rotate, got {value!r}")
            return value
        if key == "reports_need_partner_token":
            if not isinstance(value, bool):
                raise ValueError(f"reports_need_partner_token must be true or false, got {value!r}")
            return value
        if key == "partner_token_lifetime_seconds":
            return super().check_knob("token_lifetime_seconds", value)
        if key in ("create_status", "running_detail_status"):
            allowed = (200, 201, 202) if key == "create_status" else (200, 202)
            if value not in allowed:
                raise ValueError(f"{key} must be one of {', '.join(map(str, allowed))}, got {value!r}")
            return value
        if key == "xlsx_text_cells" and not isinstance(value, bool):
            raise ValueError(f"xlsx_text_cells must be true or false, got {value!r}")
        counters = ("expire_next", "timeout_499_next", "accepted_next", *LAYOUT_KNOBS[:2])
        if key in counters and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
            raise ValueError(f"{key} must be a whole number >= 0, got {value!r}")
        if key in LAYOUT_KNOBS:
            knobs = {**{name: self.knobs.get(name) for name in LAYOUT_KNOBS}, key: value}
            self.files.layout = dataclasses.replace(
                self.files.layout, repeat_header_every=knobs["csv_repeat_header_every"] or 0,
                new_header_after=knobs["csv_new_header_after"] or 0, text_cells=bool(knobs["xlsx_text_cells"]))
            return value
        if key in ("expire_next", "timeout_499_next", "accepted_next"):
            return value
        if key == "expiry_form":
            if value not in EXPIRY_FORMS:
                raise ValueError(f"expiry_form must be one of {', '.join(EXPIRY_FORMS)}, got {value!r}")
            return value
        if key == "formats":
            if not isinstance(value, dict):
                raise ValueError(f"formats must be an object {{report_type: {'|'.join(FORMATS)}}}")
            merged = dict(self.knobs["formats"])
            for name, file_format in value.items():
                if name not in (*REPORT_TYPES, "*"):
                    raise ValueError(f"formats: unknown report type {name!r}")
                if file_format not in FORMATS:
                    raise ValueError(f"formats.{name} must be one of {', '.join(FORMATS)}, got {file_format!r}")
                if name == "sales_ledger" and file_format not in ("zip", "xlsx"):
                    raise ValueError("formats.sales_ledger must be zip or xlsx: it holds two CSVs")
                if name == "*":
                    merged.update({report_type: file_format for report_type in REPORT_TYPES
                                   if report_type != "sales_ledger" or file_format == "xlsx"})
                else:
                    merged[name] = file_format
            return merged
        return super().check_knob(key, value)

    def now_ist(self) -> dt.datetime:
        """The app's clock in India time, which Flipkart's dates and month availability follow."""
        return dt.datetime.fromtimestamp(self.now(), IST)

    # -- tokens --------------------------------------------------------------------

    def token_problem(self, request: Request) -> str | None:
        header = request.headers.get("Authorization") or ""
        if header[7:].strip() == credentials.FLIPKART_ACCESS_TOKEN and header.lower().startswith("bearer "):
            return "access token revoked" if self.partner_revoked else None
        return super().token_problem(request)

    def revoke_tokens(self) -> None:
        super().revoke_tokens()
        self.partner_revoked = True

    # -- HTTP --------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        parts = request.path.strip("/").split("/")
        if request.path == "/oauth-service/oauth/token":
            return self._token(request)
        if parts[:2] == ["storage", "reports"] and len(parts) == 3:
            return self._download(request, parts[2])
        if parts[0] != "reports" or len(parts) not in (2, 3):
            return _error(404, f"no resource at {request.path}")
        problem = self.token_problem(request)
        if problem:
            return Response.json({"error": "invalid_token", "error_description": problem}, 401)
        header = request.headers.get("Authorization") or ""
        if self.knobs["reports_need_partner_token"] and not (
                header[7:].startswith(PARTNER_TOKEN_PREFIX) or header[7:] == credentials.FLIPKART_ACCESS_TOKEN):
            return _error(403, "the Reports API takes only third-party (partner) app tokens")
        refused = self._gateway_fault(parts[1] if len(parts) == 2 else self.jobs.get(parts[1]))
        if refused:
            return refused
        if len(parts) == 2 and request.method == "POST":
            return self._create(request, parts[1])
        if len(parts) == 3 and parts[2] == "detail" and request.method == "GET":
            return self._detail(request, parts[1])
        return _error(404, f"no resource at {request.path} for {request.method}")

    def _token(self, request: Request) -> Response:
        refused = self.grant_refusal(request, credentials.FLIPKART_CLIENT_ID, credentials.FLIPKART_CLIENT_SECRET,
                                     "Bad client credentials")
        if refused is not None:
            return refused
        if request.arg("grant_type") == "refresh_token":
            return self._refresh_grant(request.arg("refresh_token"))
        if request.arg("grant_type") != "client_credentials":
            return Response.json({"error": "unsupported_grant_type",
                                  "error_description": "grant_type must be client_credentials or refresh_token"}, 400)
        if request.arg("scope") != "Seller_Api":
            return Response.json({"error": "invalid_scope", "error_description": "scope must be Seller_Api"}, 400)
        token, lifetime = self.issue_token("fkat_")
        return Response.json({"access_token": token, "token_type": "bearer", "expires_in": lifetime,
                              "scope": "Seller_Api"})

    def _gateway_fault(self, report: str | Job | None) -> Response | None:
        """A 499 or an empty 202 the tests asked for, counted against the report's type."""
        name = report.name if isinstance(report, Job) else report or ""
        if self.use_countdown(name, "timeout_499_next"):
            return Response.json({"code": "CONNECTION_TIMED_OUT", "message": "Connection timed out"}, 499)
        if self.use_countdown(name, "accepted_next"):
            return Response.json({"message": "Request accepted; try again shortly"}, 202)
        return None

    def _refresh_grant(self, refresh_token: str | None) -> Response:
        with self._lock:
            if refresh_token not in self.refresh_tokens:
                return Response.json({"error": "invalid_grant", "error_description": "Invalid refresh token"}, 400)
            token = PARTNER_TOKEN_PREFIX + secrets.token_urlsafe(24)
            lifetime = self.knobs["partner_token_lifetime_seconds"]
            self.tokens[token] = self.now() + lifetime
            self.token_grants += 1
            self.refresh_grants += 1
            answer: dict[str, t.Any] = {"access_token": token, "token_type": "bearer", "expires_in": int(lifetime),
                                        "scope": "Seller_Api"}
            rotation = self.knobs["refresh_token_rotation"]
            if rotation == "same":
                answer["refresh_token"] = refresh_token
            elif rotation == "rotate":
                self.refresh_tokens.discard(refresh_token)
                answer["refresh_token"] = "fkrt_" + secrets.token_urlsafe(24)
                self.refresh_tokens.add(answer["refresh_token"])
        return Response.json(answer)

    def _create(self, request: Request, report_type: str) -> Response:
        if report_type not in REPORT_TYPES:
            return _error(404, f"unknown report type {report_type!r}")
        body = request.json()
        if not isinstance(body, dict):
            return _error(400, "the body must be a JSON object {correlation_id, parameters}")
        unknown = set(body) - {"correlation_id", "parameters"}
        if unknown:
            return _error(400, f"unknown field(s) in the body: {', '.join(sorted(unknown))}")
        correlation_id = body.get("correlation_id")
        if correlation_id is not None:
            try:
                if not isinstance(correlation_id, str) or str(uuid.UUID(correlation_id)) != correlation_id.lower():
                    raise ValueError
            except ValueError:
                return _error(400, f"correlation_id must be a UUID string, got {correlation_id!r}")
        try:
            parameters = check_parameters(report_type, body.get("parameters"), self.now_ist().date())
        except BadParameters as exc:
            return _error(400, str(exc))
        report_id = "R-" + "".join(secrets.choice(CROCKFORD) for _ in range(26))
        expire = self.use_countdown(report_type, "expire_next")
        job = self.new_job(report_id, report_type, parameters, correlation_id=correlation_id)
        if expire and job.outcome == "ready":
            job.outcome = "expired"
        job.extra.update(
            format=self.knobs["formats"][report_type],
            report_ttl_seconds=self.setting(report_type, "report_ttl_seconds"),
            as_of=self.now_ist().date().isoformat(),
        )
        return Response.json({"report_id": report_id}, self.knobs["create_status"])


    def status(self, job: Job) -> str:
        now = self.now()
        if now < job.created_at + job.processing_seconds / 3:
            return "TRIGGERED"
        if now < job.done_at:
            return "PROCESSING"
        if job.outcome == "failed":
            return "FAILED"
        if job.outcome == "expired" or now >= job.done_at + job.extra.get("report_ttl_seconds", 86400.0):
            return "EXPIRED"
        return "COMPLETED"

    def _detail(self, request: Request, report_id: str) -> Response:
        job, missing = self.lookup(report_id)
        if job is None:
            return _error(missing, f"no report {report_id}")
        status = self.polled(job, self.status(job))
        answer: dict[str, t.Any] = {"report_id": job.id, "status": status}
        if status == "COMPLETED":
            built = self._report_file(job)
            secret, expires = self.issue_link(job)
            expires = float(int(expires))  # the link works until the second metadata.expiry names
            job.links[secret] = expires
            answer["location"] = f"{self.link_base(request)}/storage/reports/{job.id}?x_secret_key={secret}"
            answer["metadata"] = {
                "expiry": expiry_text(expires, self.knobs["expiry_form"]),
                "file_name": file_name(job.name, job.parameters, job.extra["format"]),
                "row_count": built.row_count,
            }
            if answer["metadata"]["expiry"] is None:
                del answer["metadata"]["expiry"]
        running = status in ("TRIGGERED", "PROCESSING")
        return Response.json(answer, self.knobs["running_detail_status"] if running else 200)

    def _download(self, request: Request, report_id: str) -> Response:
        refused = self.refuse_credentials(request, ("Authorization",))
        if refused:
            self.record_download(None, 400, 0, "credentials")
            return refused
        job, missing = self.lookup(report_id)
        secret = request.arg("x_secret_key")
        if job is None and missing != 404:
            self.record_download(None, missing, 0)
            return _error(missing, f"no report {report_id}")
        if job is None or secret not in job.links:
            self.record_download(job, 403, 0)
            return _error(403, "the signature does not match")
        if self.now() >= job.links[secret] or self.status(job) != "COMPLETED":
            self.record_download(job, 410, 0)
            return _error(410, "this link has expired: ask for the report's detail again")
        return self.serve_file(job, self._report_file(job), "application/octet-stream",
                               lambda: _error(410, "this link has expired: ask for the report's detail again"))

    # -- the report's file ------------------------------------------------------------------

    def _report_file(self, job: Job) -> BuiltFile:
        """The job's file, built once for its report, parameters, rows, format and data span."""
        key = (job.name, tuple(sorted(job.parameters.items())), job.rows_per_day, job.extra["format"],
               job.extra["as_of"] if job.name in SNAPSHOT_TYPES else None, *self.data_span())
        return self.files.get(key, job.extra["format"], lambda: report_members(
            self.seed, job.name, job.parameters, dt.date.fromisoformat(job.extra["as_of"]), job.rows_per_day,
            self.data_span()), IST)

    def expected_rows(
        self, report_type: str, parameters: dict, as_of: dt.date | str | None = None
    ) -> dict[str, list[dict]]:
        """Exactly what the report's file holds with the current knobs: {CSV name: rows as strings}; `as_of`
        (snapshots only) is the IST day the report was created, by default today on the app's clock."""
        day = dt.date.fromisoformat(as_of) if isinstance(as_of, str) else as_of or self.now_ist().date()
        rows_per_day = self.setting(report_type, "rows_per_day")
        members = report_members(self.seed, report_type, parameters, day, rows_per_day, self.data_span())
        return {member.name: list(member.rows()) for member in members}
