"""Simulated Flipkart Report Management API: client-credentials tokens, report jobs, signed downloads.

Routes (relative to /flipkart; answers are application/json):
  GET  /oauth-service/oauth/token?grant_type=client_credentials&scope=Seller_Api   HTTP Basic
       client_id:client_secret -> {access_token, token_type, expires_in, scope}; bad -> 401
       invalid_client. The partner token `credentials.FLIPKART_ACCESS_TOKEN` is accepted as Bearer too.
  GET  /oauth-service/oauth/token?grant_type=refresh_token&refresh_token=...   the same Basic
       credentials -> a partner access token {access_token, token_type, expires_in (60 days), scope}
       and, as `refresh_token_rotation` says, no refresh_token, the same one, or a new one that
       replaces the used one. `credentials.FLIPKART_REFRESH_TOKEN` is valid at the start; an unknown
       or replaced refresh token is 400 invalid_grant.
  POST /reports/{report_type}     Bearer; JSON {correlation_id (optional, a UUID), parameters} ->
       {"report_id": "R-<26 chars>"}. Unknown type 404; bad parameters 400 naming the problem.
  GET  /reports/{report_id}/detail   Bearer; status TRIGGERED, then PROCESSING (after a third of
       processing_seconds), then COMPLETED with `location` (a fresh x_secret_key on every GET) and
       metadata {expiry, file_name, row_count}, or FAILED, or EXPIRED (no location).
       `metadata.expiry` is "YYYY-MM-DD HH:MM:SS", naive, in Asia/Kolkata (IST): the link works until
       then (link_ttl_seconds after the GET). The `expiry_form` knob gives other readings.
  GET  /storage/reports/{report_id}?x_secret_key=...   the file as application/octet-stream; a request
       with an Authorization header is refused with 400 (counted as a credential violation); a wrong
       key is 403; a link past its expiry (or a report past report_ttl_seconds) is 410 Gone.

Parameters (strict; dates yyyy-MM-dd, to_date >= from_date, both inclusive):
  from_date, to_date                 gst_returns_report, sales_ledger, settled_transaction_ledger,
                                     financial_year_ledger, fbf_orders_report, returns_report, orders_report
  warehouse_id, from_date, to_date   stock_ledger
  warehouse_id, month ("May"), year  mir_ledger: a month is available from the 8th of the next
                                     month, by the sandbox clock in IST (earlier: 400)
  warehouse_id                       current_inventory_report, stranded_inventory_report,
                                     unsellable_inventory_report (snapshots as of the creation day, IST)
Warehouses are `credentials.FLIPKART_WAREHOUSE_IDS`.

Files: the format per report type comes from the `formats` knob (csv, csv_bom, gzip, zip or xlsx;
defaults in DEFAULT_FORMATS). A CSV is named `<type>.csv`, or `<type>_<warehouse_id>.csv` for
warehouse-scoped types; metadata.file_name is that name (plus .gz for gzip), or `<same base>.zip` for a
zip, which holds that one CSV, except sales_ledger's zip: sales_report.csv and cash_back_report.csv.
An xlsx is `<same base>.xlsx`, a workbook with the CSV's rows on `Sheet1` (sales_ledger's: two sheets,
`sales_report` and `cash_back_report`), its cells typed: numbers, booleans, dates and (naive IST)
date-times. Times in the CSVs are naive IST "YYYY-MM-DD HH:MM:SS", dates "YYYY-MM-DD".

Knobs (`POST /_sandbox/vendor/flipkart`): those of `jobs.py`, plus
  expire_next: N          the next N reports created end EXPIRED as soon as they finish
  report_ttl_seconds      a COMPLETED report turns EXPIRED this long after it finished (default 86400)
  formats: {type: format} file format per report type (merged into the current ones); the type "*"
                          sets every type's, e.g. {"*": "xlsx"} (sales_ledger's stays a zip unless xlsx)
  csv_repeat_header_every: N   every CSV built from now on repeats its header line after every N rows
  csv_new_header_after: N      every CSV built from now on has, after N rows, a header with its columns
                          in reverse order, and the rows after it in that order (0: off, the default)
  xlsx_text_cells: true   every workbook built from now on holds text cells only, as the CSV's (default false:
                          numbers, dates, date-times and booleans typed)
  timeout_499_next: N     the next N report calls (create or detail) answer 499 {"code":
                          "CONNECTION_TIMED_OUT", "message": "Connection timed out"}, as the gateway does
  accepted_next: N        the next N report calls answer 202 {"message": ...} with no report_id or status
                          ("accepted, not ready"): nothing in it may be read as an answer
  create_status           the status of a successful creation: 200 (default), 201 or 202, each with report_id
  running_detail_status   the status of a detail answer while the report is TRIGGERED or PROCESSING:
                          200 (default) or 202, each with its status
  partner_token_lifetime_seconds   lifetime of access tokens from the refresh grant (default 60 days)
  refresh_token_rotation  what a refresh grant answers: "absent" (no refresh_token, the default),
                          "same" (the used one again) or "rotate" (a new one; the used one stops working)
  reports_need_partner_token  true: report calls refuse client-credentials tokens with 403, as
                          Flipkart's public documentation says its Reports API does
  expiry_form             how metadata.expiry is written: ist (default, naive India time), utc (naive
                          UTC), offset (ISO 8601 with +05:30), epoch_seconds, epoch_millis (numbers),
                          absent (no expiry), unreadable ("soon")
`fail_next` makes reports end FAILED; `revoke_tokens` also revokes the partner token (until `reset`).
For tests, `App.expected_rows(report_type, parameters, as_of=None)` gives exactly what the file holds.
"""

from __future__ import annotations

import base64
import calendar
import dataclasses
import datetime as dt
import random
import re
import secrets
import typing as t
import uuid
from zoneinfo import ZoneInfo

from tap_retail_reports.sandbox import credentials
from tap_retail_reports.sandbox.files import FORMATS, BuiltFile, Member
from tap_retail_reports.sandbox.jobs import AsyncVendorApp, Job, days
from tap_retail_reports.sandbox.vendor_app import Request, Response

IST = ZoneInfo("Asia/Kolkata")
WAREHOUSES = credentials.FLIPKART_WAREHOUSE_IDS
RANGE_TYPES = (
    "gst_returns_report", "sales_ledger", "settled_transaction_ledger", "financial_year_ledger",
    "fbf_orders_report", "returns_report", "orders_report",
)
SNAPSHOT_TYPES = ("current_inventory_report", "stranded_inventory_report", "unsellable_inventory_report")
REPORT_TYPES = (*RANGE_TYPES, "stock_ledger", "mir_ledger", *SNAPSHOT_TYPES)
PARAMETERS = {
    **dict.fromkeys(RANGE_TYPES, ("from_date", "to_date")),
    "stock_ledger": ("warehouse_id", "from_date", "to_date"),
    "mir_ledger": ("warehouse_id", "month", "year"),
    **dict.fromkeys(SNAPSHOT_TYPES, ("warehouse_id",)),
}
DEFAULT_FORMATS = {
    **dict.fromkeys(REPORT_TYPES, "csv"),
    "orders_report": "gzip",
    "sales_ledger": "zip",
    "returns_report": "zip",
    "stock_ledger": "csv_bom",
}
LAYOUT_KNOBS = ("csv_repeat_header_every", "csv_new_header_after", "xlsx_text_cells")  # Layout's fields, in order
MONTHS = tuple(calendar.month_name)[1:]  # English names, "January" .. "December"
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
PARTNER_TOKEN_PREFIX = "fkpt_"  # access tokens from the refresh grant; the client-credentials grant's are fkat_

SKUS = (
    ("TSHIRT-CTN-3PK", "Cotton T-Shirt, Pack of 3"),
    ("CHAI-250G", "Masala Chai – 250 g"),
    ("SLEEVE-15", "15.6\" Laptop Sleeve"),
    ("KURTA-BLU-L", "Kurta (Blue, L)"),
    ("TEA-DARJ-100", "Darjeeling चाय 100g"),
    ("BOTTLE-1L", "Steel Bottle 1L"),
    ("EARBUDS-X2", "Wireless Earbuds X2"),
    ("DIARY-2027", "Diary 2027"),
)
STATES = (("Bengaluru", "Karnataka"), ("New Delhi", "Delhi"), ("Mumbai", "Maharashtra"), ("Kolkata", "West Bengal"))
GSTIN = "29ABCDE1234F1Z5"


def money(value: float) -> str:
    return f"{value + 0.0:.2f}"  # + 0.0: no "-0.00"


def sku(index: int) -> tuple[str, str, str]:
    """(sku, fsn, title) of the catalog's `index`th product: the catalog grows with rows_per_day."""
    code, title = SKUS[index % len(SKUS)]
    lap = index // len(SKUS)
    if lap:
        code, title = f"{code}-V{lap}", f"{title} v{lap}"
    return code, f"FSN{index:013d}", title


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
    return Response.json({"code": {400: "BAD_REQUEST", 403: "FORBIDDEN", 404: "NOT_FOUND",
                                   410: "GONE"}.get(status, "ERROR"), "message": message}, status)


class BadParameters(ValueError):
    """The report request's parameters are wrong; the message names the problem."""


class App(AsyncVendorApp):
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
        expected = base64.b64encode(
            f"{credentials.FLIPKART_CLIENT_ID}:{credentials.FLIPKART_CLIENT_SECRET}".encode()
        ).decode()
        if (request.headers.get("Authorization") or "") != f"Basic {expected}":
            return Response.json({"error": "invalid_client", "error_description": "Bad client credentials"}, 401)
        refused = self.grant_refusal()
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
        if self.take(name, "timeout_499_next"):
            return Response.json({"code": "CONNECTION_TIMED_OUT", "message": "Connection timed out"}, 499)
        if self.take(name, "accepted_next"):
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
            parameters = self.check_parameters(report_type, body.get("parameters"))
        except BadParameters as exc:
            return _error(400, str(exc))
        report_id = "R-" + "".join(secrets.choice(CROCKFORD) for _ in range(26))
        expire = self.take(report_type, "expire_next")
        job = self.new_job(report_id, report_type, parameters, correlation_id=correlation_id)
        if expire and job.outcome == "ready":
            job.outcome = "expired"
        job.extra.update(
            format=self.knobs["formats"][report_type],
            report_ttl_seconds=self.setting(report_type, "report_ttl_seconds"),
            as_of=self.now_ist().date().isoformat(),
        )
        return Response.json({"report_id": report_id}, self.knobs["create_status"])

    def check_parameters(self, report_type: str, given: t.Any) -> dict:
        """The parameters, checked against the report type; raises BadParameters naming the problem."""
        if not isinstance(given, dict):
            raise BadParameters("parameters is required: a JSON object")
        wanted = PARAMETERS[report_type]
        missing = [name for name in wanted if name not in given]
        if missing:
            raise BadParameters(f"{report_type} needs parameters.{', parameters.'.join(missing)}")
        unknown = set(given) - set(wanted)
        if unknown:
            raise BadParameters(f"{report_type} takes no parameter(s) {', '.join(sorted(unknown))}")
        if "warehouse_id" in wanted and given["warehouse_id"] not in WAREHOUSES:
            raise BadParameters(f"unknown warehouse_id {given['warehouse_id']!r}")
        if "from_date" in wanted:
            first, last = (self._date(given, name) for name in ("from_date", "to_date"))
            if last < first:
                raise BadParameters("to_date is before from_date")
        if report_type == "mir_ledger":
            month, year = given["month"], given["year"]
            if month not in MONTHS:
                raise BadParameters(f"month must be an English month name such as \"May\", got {month!r}")
            if isinstance(year, bool) or not isinstance(year, int) or not 2000 <= year <= 2100:
                raise BadParameters(f"year must be a number such as 2023, got {year!r}")
            number = MONTHS.index(month) + 1
            available = dt.date(year + number // 12, number % 12 + 1, 8)
            if self.now_ist().date() < available:
                raise BadParameters(
                    f"the mir_ledger of {month} {year} is available from {available.isoformat()} "
                    "(after the 7th of the following month)"
                )
        return dict(given)

    @staticmethod
    def _date(given: dict, name: str) -> dt.date:
        value = given[name]
        try:
            if not isinstance(value, str) or not DATE.match(value):
                raise ValueError
            return dt.date.fromisoformat(value)
        except ValueError:
            raise BadParameters(f"{name} must be a date yyyy-MM-dd, got {value!r}") from None

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
            built = self._built(job)
            secret, expires = self.issue_link(job)
            expires = float(int(expires))  # the link works until the second metadata.expiry names
            job.links[secret] = expires
            answer["location"] = f"{self.link_base(request)}/storage/reports/{job.id}?x_secret_key={secret}"
            answer["metadata"] = {
                "expiry": expiry_text(expires, self.knobs["expiry_form"]),
                "file_name": self.file_name(job.name, job.parameters, job.extra["format"]),
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
        return self.serve_file(job, self._built(job), "application/octet-stream",
                               lambda: _error(410, "this link has expired: ask for the report's detail again"))

    # -- files and data ------------------------------------------------------------------

    def _built(self, job: Job) -> BuiltFile:
        key = (job.name, tuple(sorted(job.parameters.items())), job.rows_per_day, job.extra["format"],
               job.extra["as_of"] if job.name in SNAPSHOT_TYPES else None, *self.data_span())
        return self.files.get(key, job.extra["format"], lambda: self.members(
            job.name, job.parameters, dt.date.fromisoformat(job.extra["as_of"]), job.rows_per_day
        ), IST)

    @staticmethod
    def csv_names(report_type: str, parameters: dict) -> tuple[str, ...]:
        if report_type == "sales_ledger":
            return ("sales_report.csv", "cash_back_report.csv")
        warehouse = parameters.get("warehouse_id")
        return (f"{report_type}_{warehouse}.csv" if warehouse else f"{report_type}.csv",)

    @classmethod
    def file_name(cls, report_type: str, parameters: dict, file_format: str) -> str:
        if file_format in ("zip", "xlsx"):
            warehouse = parameters.get("warehouse_id")
            return f"{report_type}_{warehouse}.{file_format}" if warehouse else f"{report_type}.{file_format}"
        name = cls.csv_names(report_type, parameters)[0]
        return name + ".gz" if file_format == "gzip" else name

    def expected_rows(
        self, report_type: str, parameters: dict, as_of: dt.date | str | None = None
    ) -> dict[str, list[dict]]:
        """Exactly what the report's file holds: {CSV name: rows as strings}. The CSV name is the zip
        member's, or metadata.file_name without ".gz". `as_of` (snapshots only) is the IST day the
        report was created, default today on the sandbox clock. Uses the app's current knobs."""
        day = dt.date.fromisoformat(as_of) if isinstance(as_of, str) else as_of or self.now_ist().date()
        rows_per_day = self.setting(report_type, "rows_per_day")
        return {m.name: list(m.rows()) for m in self.members(report_type, parameters, day, rows_per_day)}

    def members(self, report_type: str, parameters: dict, as_of: dt.date, count: int) -> list[Member]:
        names = self.csv_names(report_type, parameters)
        warehouse = parameters.get("warehouse_id")
        first, last = self.data_span()
        if report_type in SNAPSHOT_TYPES:
            def snapshot() -> t.Iterator[dict[str, str]]:
                rng = random.Random(f"{self.seed}:flipkart:{report_type}:{warehouse}:{as_of}:{count}")
                for n in range(count):
                    yield ROWS[report_type](rng, as_of, n, warehouse)
            return [Member(names[0], COLUMNS[report_type], snapshot)]
        if report_type == "mir_ledger":
            number = MONTHS.index(parameters["month"]) + 1
            month_start = dt.date(parameters["year"], number, 1)
            has_data = first <= month_start <= last

            def monthly() -> t.Iterator[dict[str, str]]:
                rng = random.Random(f"{self.seed}:flipkart:mir:{warehouse}:{month_start}:{count}")
                for n in range(count if has_data else 0):
                    yield mir_row(rng, month_start, n, warehouse)
            return [Member(names[0], COLUMNS["mir_ledger"], monthly)]
        window_first = max(first, dt.date.fromisoformat(parameters["from_date"]))
        window_last = min(last, dt.date.fromisoformat(parameters["to_date"]))

        def daily(part: str, per_day: int) -> t.Callable[[], t.Iterator[dict[str, str]]]:
            def rows() -> t.Iterator[dict[str, str]]:
                for day in days(window_first, window_last):
                    rng = random.Random(f"{self.seed}:flipkart:{part}:{warehouse}:{day}:{per_day}")
                    for n in range(per_day):
                        yield ROWS[part](rng, day, n, warehouse)
            return rows

        if report_type == "sales_ledger":
            return [Member(names[0], COLUMNS["sales_ledger"], daily("sales_ledger", count)),
                    Member(names[1], COLUMNS["cash_back"], daily("cash_back", max(1, count // 4)))]
        return [Member(names[0], COLUMNS[report_type], daily(report_type, count))]


# -- rows per report type: (rng, day, n, warehouse) -> {column: text} ----------------------


def _moment(rng: random.Random, day: dt.date) -> str:
    return (dt.datetime.combine(day, dt.time()) + dt.timedelta(seconds=rng.randrange(86_400))).strftime(TIME_FORMAT)


def _order_ids(day: dt.date, n: int) -> tuple[str, str]:
    base = f"{day:%y%m%d}{n:07d}"
    return f"OD1{base}00", f"{base}1"


def _tax(rng: random.Random, taxable: float) -> dict[str, str]:
    """GST: IGST for an inter-state sale, else CGST + SGST; the other pair left empty."""
    rate = rng.choice((5, 12, 18))
    if rng.random() < 0.5:
        return {"igst_rate": str(rate), "igst_amount": money(taxable * rate / 100),
                "cgst_rate": "", "cgst_amount": "", "sgst_rate": "", "sgst_amount": ""}
    half = money(taxable * rate / 200)
    return {"igst_rate": "", "igst_amount": "", "cgst_rate": str(rate / 2), "cgst_amount": half,
            "sgst_rate": str(rate / 2), "sgst_amount": half}


def orders_row(rng: random.Random, day: dt.date, n: int, _: str | None) -> dict[str, str]:
    order_id, item_id = _order_ids(day, n)
    code, fsn, title = sku(rng.randrange(len(SKUS) * 2))
    quantity, price = rng.randint(1, 3), round(rng.uniform(149, 4999), 2)
    shipping = rng.choice((0.0, 40.0, 70.0))
    city, state = rng.choice(STATES)
    return {
        "order_id": order_id, "order_item_id": item_id, "order_date": _moment(rng, day), "sku": code,
        "fsn": fsn, "product_title": title, "quantity": str(quantity), "selling_price": money(price),
        "shipping_charge": money(shipping), "total_amount": money(price * quantity + shipping),
        "order_status": rng.choice(("APPROVED", "PACKED", "SHIPPED", "DELIVERED", "CANCELLED")),
        "dispatch_by_date": (day + dt.timedelta(days=2)).isoformat(), "buyer_city": city, "buyer_state": state,
        "is_replacement": "true" if rng.random() < 0.05 else "false",
    }


def sales_row(rng: random.Random, day: dt.date, n: int, _: str | None) -> dict[str, str]:
    order_id, item_id = _order_ids(day, n)
    code, fsn, _title = sku(rng.randrange(len(SKUS) * 2))
    quantity, mrp = rng.randint(1, 3), round(rng.uniform(199, 5999), 2)
    discount = round(mrp * rng.choice((0, 0.1, 0.25)), 2)
    final = round((mrp - discount) * quantity, 2)
    event = rng.choice(("Sale", "Sale", "Sale", "Return", "Cancellation"))
    return {
        "seller_gstin": GSTIN, "order_id": order_id, "order_item_id": item_id, "event_type": event,
        "event_sub_type": {"Sale": "Sale", "Return": "Return", "Cancellation": "Cancellation"}[event],
        "order_date": _moment(rng, day), "invoice_id": f"FAAB{day:%y%m}{n:06d}", "invoice_date": day.isoformat(),
        "sku": code, "fsn": fsn, "item_quantity": str(quantity), "price_before_discount": money(mrp),
        "total_discount": money(discount), "final_invoice_amount": money(final),
        "taxable_value": money(final / 1.18), **_tax(rng, final / 1.18),
        "customer_delivery_state": rng.choice(STATES)[1],
    }


def cash_back_row(rng: random.Random, day: dt.date, n: int, _: str | None) -> dict[str, str]:
    order_id, item_id = _order_ids(day, n * 4)
    amount = round(rng.uniform(10, 300), 2)
    return {
        "order_id": order_id, "order_item_id": item_id,
        "document_type": rng.choice(("Credit Note", "Debit Note")), "document_sub_type": "Sale",
        "invoice_id": f"FACB{day:%y%m}{n:06d}", "invoice_date": day.isoformat(), "amount": money(amount),
        "taxable_value": money(amount / 1.18), "igst_amount": money(amount - amount / 1.18),
    }


def settled_row(rng: random.Random, day: dt.date, n: int, _: str | None) -> dict[str, str]:
    order_id, item_id = _order_ids(day, n)
    sale = round(rng.uniform(199, 4999), 2)
    fees = {name: round(sale * share, 2) for name, share in
            (("commission", 0.08), ("collection_fee", 0.02), ("fixed_fee", 0.01), ("shipping_fee", 0.015))}
    marketplace = sum(fees.values())
    tcs, tds = round(sale * 0.01, 2), round(sale * 0.001, 2)
    return {
        "neft_id": f"NEFT{day:%y%m%d}{n % 7:03d}", "neft_type": rng.choice(("NEFT", "IMPS")),
        "payment_date": day.isoformat(), "settlement_value": money(sale - marketplace - tcs - tds),
        "order_id": order_id, "order_item_id": item_id, "sale_amount": money(sale),
        "marketplace_fee": money(-marketplace), **{name: money(-value) for name, value in fees.items()},
        "tcs": money(-tcs), "tds": money(-tds), "gst_on_mp_fees": money(-marketplace * 0.18),
        "protection_fund": "" if rng.random() < 0.8 else money(rng.uniform(5, 50)),
    }


def gst_row(rng: random.Random, day: dt.date, n: int, _: str | None) -> dict[str, str]:
    order_id, item_id = _order_ids(day, n)
    _code, _fsn, title = sku(rng.randrange(len(SKUS)))
    quantity, taxable = rng.randint(1, 3), round(rng.uniform(100, 4000), 2)
    tax = _tax(rng, taxable)
    total = taxable + sum(float(tax[key] or 0) for key in ("igst_amount", "cgst_amount", "sgst_amount"))
    return {
        "seller_gstin": GSTIN, "order_id": order_id, "order_item_id": item_id,
        "invoice_number": f"FAAB{day:%y%m}{n:06d}", "invoice_date": day.isoformat(),
        "hsn_code": rng.choice(("6109", "0902", "4202", "8518")), "product_title": title,
        "quantity": str(quantity), "taxable_value": money(taxable), **tax,
        "total_invoice_value": money(total), "place_of_supply": rng.choice(STATES)[1],
    }


def ledger_row(rng: random.Random, day: dt.date, n: int, _: str | None) -> dict[str, str]:
    kind = rng.choice(("Order Payout", "Commission", "Refund", "Ads Spend, Sponsored Listing"))
    amount = money(rng.uniform(50, 20000))
    credit = kind == "Order Payout"
    return {
        "transaction_date": _moment(rng, day), "transaction_type": kind,
        "reference_id": f"TXN{day:%y%m%d}{n:06d}", "description": f"{kind} for {day:%d %b %Y}",
        "debit": "" if credit else amount, "credit": amount if credit else "",
    }


def fbf_row(rng: random.Random, day: dt.date, n: int, _: str | None) -> dict[str, str]:
    order_id, item_id = _order_ids(day, n)
    code, fsn, _title = sku(rng.randrange(len(SKUS)))
    ordered = _moment(rng, day)
    shipped = rng.random() < 0.7
    status = rng.choice(("DELIVERED", "SHIPPED")) if shipped else "APPROVED"
    return {
        "order_id": order_id, "order_item_id": item_id, "order_date": ordered,
        "warehouse_id": rng.choice(WAREHOUSES), "fulfilment_type": "FBF", "sku": code, "fsn": fsn,
        "quantity": str(rng.randint(1, 2)), "shipped_date": (day + dt.timedelta(days=1)).isoformat() if shipped else "",
        "delivered_date": (day + dt.timedelta(days=3)).isoformat() if status == "DELIVERED" else "",
        "order_status": status,
    }


def returns_row(rng: random.Random, day: dt.date, n: int, _: str | None) -> dict[str, str]:
    order_id, item_id = _order_ids(day - dt.timedelta(days=7), n)
    code, fsn, _title = sku(rng.randrange(len(SKUS)))
    done = rng.random() < 0.5
    return {
        "return_id": f"RET{day:%y%m%d}{n:06d}", "order_id": order_id, "order_item_id": item_id,
        "return_requested_date": _moment(rng, day),
        "return_type": rng.choice(("customer_return", "courier_return")),
        "return_reason": rng.choice(("DAMAGED", "WRONG_ITEM", "SIZE_ISSUE")),
        "return_sub_reason": rng.choice(("", "Box was torn", "Colour differs")),
        "buyer_comment": rng.choice(("", "Wrong size, please exchange", "Arrived broken.\nPhotos attached")),
        "sku": code, "fsn": fsn, "quantity": "1", "refund_amount": money(rng.uniform(149, 2999)),
        "return_status": "completed" if done else "in_transit",
        "completed_date": (day + dt.timedelta(days=5)).isoformat() if done else "",
    }


def stock_row(rng: random.Random, day: dt.date, n: int, warehouse: str | None) -> dict[str, str]:
    code, fsn, title = sku(n)
    opening = rng.randint(0, 500)
    inward, outward, returned = rng.randint(0, 50), rng.randint(0, 60), rng.randint(0, 5)
    adjustment = -rng.randint(0, 2)
    return {
        "date": day.isoformat(), "warehouse_id": warehouse or "", "sku": code, "fsn": fsn, "product_title": title,
        "opening_stock": str(opening), "inward": str(inward), "outward": str(outward),
        "customer_returns": str(returned), "adjustments": str(adjustment),
        "closing_stock": str(opening + inward - outward + returned + adjustment),
    }


def mir_row(rng: random.Random, month_start: dt.date, n: int, warehouse: str | None) -> dict[str, str]:
    code, fsn, _title = sku(n)
    opening, received, dispatched = rng.randint(0, 900), rng.randint(0, 400), rng.randint(0, 500)
    returned, damaged = rng.randint(0, 20), rng.randint(0, 5)
    return {
        "warehouse_id": warehouse or "", "month": MONTHS[month_start.month - 1], "year": str(month_start.year),
        "sku": code, "fsn": fsn, "opening_balance": str(opening), "received": str(received),
        "dispatched": str(dispatched), "returned": str(returned), "damaged": str(damaged),
        "closing_balance": str(opening + received - dispatched + returned - damaged),
        "storage_fee": money(rng.uniform(0, 800)),
    }


def current_row(rng: random.Random, day: dt.date, n: int, warehouse: str | None) -> dict[str, str]:
    code, fsn, title = sku(n)
    live, reserved = rng.randint(0, 800), rng.randint(0, 40)
    return {
        "warehouse_id": warehouse or "", "sku": code, "fsn": fsn, "product_title": title,
        "live_inventory": str(live), "reserved": str(reserved), "in_transit": str(rng.randint(0, 100)),
        "sellable": str(max(0, live - reserved)), "last_updated": _moment(rng, day),
    }


def stranded_row(rng: random.Random, day: dt.date, n: int, warehouse: str | None) -> dict[str, str]:
    code, fsn, title = sku(n)
    return {
        "warehouse_id": warehouse or "", "sku": code, "fsn": fsn, "product_title": title,
        "stranded_quantity": str(rng.randint(1, 60)),
        "stranded_reason": rng.choice(("Listing inactive", "Price missing", "Listing blocked, policy")),
        "stranded_since": (day - dt.timedelta(days=rng.randint(1, 90))).isoformat(),
        "action_required": rng.choice(("", "Activate listing", "Update price")),
    }


def unsellable_row(rng: random.Random, day: dt.date, n: int, warehouse: str | None) -> dict[str, str]:
    code, fsn, title = sku(n)
    return {
        "warehouse_id": warehouse or "", "sku": code, "fsn": fsn, "product_title": title,
        "unsellable_quantity": str(rng.randint(1, 25)),
        "reason": rng.choice(("Damaged", "Expired", "Customer return - unsellable")),
        "received_date": (day - dt.timedelta(days=rng.randint(1, 120))).isoformat(),
        "removal_fee": "" if rng.random() < 0.3 else money(rng.uniform(10, 250)),
    }


ROWS: dict[str, t.Callable[[random.Random, dt.date, int, str | None], dict[str, str]]] = {
    "orders_report": orders_row, "sales_ledger": sales_row, "cash_back": cash_back_row,
    "settled_transaction_ledger": settled_row, "gst_returns_report": gst_row, "financial_year_ledger": ledger_row,
    "fbf_orders_report": fbf_row, "returns_report": returns_row, "stock_ledger": stock_row,
    "current_inventory_report": current_row, "stranded_inventory_report": stranded_row,
    "unsellable_inventory_report": unsellable_row,
}
_SAMPLE_DAY = dt.date(2026, 10, 1)
COLUMNS: dict[str, tuple[str, ...]] = {  # each type's header: the keys its row function writes
    name: tuple(make(random.Random(0), _SAMPLE_DAY, 0, "BLR01")) for name, make in ROWS.items()
}
COLUMNS["mir_ledger"] = tuple(mir_row(random.Random(0), _SAMPLE_DAY, 0, "BLR01"))
