"""FoxyCart over HTTP: the refresh-token grant, the store, report jobs and their zipped CSVs, hAPI's errors."""

from __future__ import annotations

import datetime as dt
import secrets
import typing as t
from urllib.parse import parse_qs
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tap_retail_reports.sandbox import credentials
from tap_retail_reports.sandbox.files import Member
from tap_retail_reports.sandbox.foxycart.data import DATETIME_FORMAT, PORTAL_NAMES, REPORT_NAMES, report_members
from tap_retail_reports.sandbox.jobs import AsyncVendorApp, Job
from tap_retail_reports.sandbox.vendor_app import Request, Response

HAL = "application/hal+json"
API_VERSION_HEADER = "FOXY-API-VERSION"
STORE_NAME = "Sandbox Supply Co."
CURIES = [{"name": "fx", "href": "https://api.foxycart.com/rels/{rel}", "templated": True}]
ERROR_SHAPES = ("hal", "hal_with_message", "hal_single", "plain")


def hapi_error(status: int, message: str, shape: str = "hal") -> Response:
    """An error as hAPI answers it, the message only inside `_embedded.fx:errors`, or in another reading
    (`shape`, the `error_shape` knob): a top-level message too, `fx:errors` one object, or `{"error": message}`."""
    error = {"logref": f"sandbox-{status}-{secrets.token_hex(4)}", "message": message}
    if shape == "plain":
        return Response.json({"error": message}, status)
    payload: dict[str, t.Any] = {
        "total": 1,
        "_links": {"curies": CURIES},
        "_embedded": {"fx:errors": error if shape == "hal_single" else [error]},
    }
    if shape == "hal_with_message":
        payload = {"type": "error", "code": status, "message": message, **payload}
    response = Response.json(payload, status)
    response.headers["Content-Type"] = HAL
    return response


def _hal_json(payload: dict, status: int = 200, **headers: str) -> Response:
    """A JSON answer as hAPI types it, `application/hal+json`."""
    response = Response.json(payload, status, **headers)
    response.headers["Content-Type"] = HAL
    return response


def _expired_link() -> Response:
    """What the storage host answers for a link past its expiry."""
    body = (
        b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>'
        b"<Message>Request has expired</Message></Error>"
    )
    return Response(403, body, {"Content-Type": "application/xml"})


def _access_denied() -> Response:
    """What the storage host answers for a link it did not sign."""
    body = (
        b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>'
        b"<Message>Access Denied</Message></Error>"
    )
    return Response(403, body, {"Content-Type": "application/xml"})


def _parse_local(value: t.Any, field: str) -> dt.datetime:
    """A report's datetime_start or datetime_end, exactly "YYYY-MM-DD HH:MM:SS"; ValueError names the field."""
    if not isinstance(value, str):
        raise ValueError(f"{field} is required, as YYYY-MM-DD HH:MM:SS")
    try:
        parsed = dt.datetime.strptime(value, DATETIME_FORMAT)
    except ValueError:
        raise ValueError(f"{field} must be YYYY-MM-DD HH:MM:SS in the store's timezone, got {value!r}") from None
    if parsed.strftime(DATETIME_FORMAT) != value:  # strptime accepts "2026-1-1 1:2:3"
        raise ValueError(f"{field} must be YYYY-MM-DD HH:MM:SS in the store's timezone, got {value!r}")
    return parsed


class App(AsyncVendorApp):
    """FoxyCart's simulator under `/foxycart`: its routes, its own knobs, and each report's files."""

    prefix = "foxycart"
    report_names = REPORT_NAMES
    vendor_defaults: t.ClassVar[dict[str, t.Any]] = {"timezone": "America/Los_Angeles", "error_shape": "hal"}
    token_lifetime_default = 7200.0
    portal_names = PORTAL_NAMES

    def hapi_error(self, status: int, message: str) -> Response:
        """An API error in the shape the `error_shape` knob says."""
        return hapi_error(status, message, self.knobs["error_shape"])

    def check_knob(self, key: str, value: t.Any) -> t.Any:
        if key == "error_shape":
            if value not in ERROR_SHAPES:
                raise ValueError(f"error_shape must be one of {', '.join(ERROR_SHAPES)}, got {value!r}")
            return value
        if key == "timezone":
            try:
                ZoneInfo(str(value))
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"timezone must be an IANA zone name, got {value!r}") from None
            return str(value)
        return super().check_knob(key, value)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.knobs["timezone"])

    def local_iso(self, moment: dt.datetime) -> str:
        """A time as FoxyCart's JSON shows it: 2022-01-01T00:00:00-0800, in the store's zone."""
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=self.zone)
        return moment.astimezone(self.zone).strftime("%Y-%m-%dT%H:%M:%S%z")

    # -- HTTP --------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        if request.path == "/token":
            return self._token(request) if request.method == "POST" else self.hapi_error(405, "method not allowed")
        if request.path.startswith("/downloads/"):
            return self._download(request)
        problem = self.token_problem(request)
        if problem:
            return self.hapi_error(401, problem)
        if request.headers.get(API_VERSION_HEADER) is None:
            return self.hapi_error(400, f"the {API_VERSION_HEADER} header is required (send {API_VERSION_HEADER}: 1)")
        if request.headers.get(API_VERSION_HEADER) != "1":
            return self.hapi_error(400, f"unsupported {API_VERSION_HEADER}: only 1 is supported")
        parts = request.path.strip("/").split("/")
        if parts[0] == "stores" and len(parts) in (2, 3):
            if parts[1] != credentials.FOXYCART_STORE_ID:
                return self.hapi_error(403, f"this token has no access to store {parts[1]}")
            if len(parts) == 2 and request.method == "GET":
                return _hal_json(self._store(request))
            if len(parts) == 3 and parts[2] == "reports" and request.method == "POST":
                return self._create(request)
        if parts[0] == "reports" and len(parts) == 2 and request.method in ("GET", "HEAD"):
            return self._poll(request, parts[1])
        return self.hapi_error(404, f"no resource at {request.path} for {request.method}")

    def _token(self, request: Request) -> Response:
        refused = self.grant_refusal(request, credentials.FOXYCART_CLIENT_ID, credentials.FOXYCART_CLIENT_SECRET,
                                     "client authentication failed")
        if refused is not None:
            return refused
        form = {key: values[0] for key, values in parse_qs(request.body.decode("utf-8", "replace")).items()}
        if form.get("grant_type") != "refresh_token":
            return Response.json(
                {"error": "unsupported_grant_type", "error_description": "grant_type must be refresh_token"}, 400
            )
        if form.get("refresh_token") != credentials.FOXYCART_REFRESH_TOKEN:
            return Response.json({"error": "invalid_grant", "error_description": "refresh token is invalid"}, 400)
        token, lifetime = self.issue_token("fxat_")
        return Response.json({
            "access_token": token,
            "token_type": "bearer",
            "expires_in": lifetime,
            "refresh_token": credentials.FOXYCART_REFRESH_TOKEN,
            "scope": "store_full_access",
        })

    def _store(self, request: Request) -> dict:
        store = credentials.FOXYCART_STORE_ID
        return {
            "_links": {
                "curies": CURIES,
                "self": {"href": f"{request.base_url}/stores/{store}", "title": "This Store"},
                "fx:reports": {"href": f"{request.base_url}/stores/{store}/reports", "title": "Reports"},
            },
            "id": int(store),
            "store_name": STORE_NAME,
            "store_domain": "sandbox-supply",
            "currency_code": "USD",
            "timezone": self.knobs["timezone"],
            "date_created": "2019-04-02T09:30:00-0700",
        }

    def _create(self, request: Request) -> Response:
        body = request.json()
        if not isinstance(body, dict):
            return self.hapi_error(400, "the body must be a JSON object {name, version, datetime_start, datetime_end}")
        name = body.get("name")
        if name not in REPORT_NAMES:
            return self.hapi_error(400, f"name must be one of {', '.join(REPORT_NAMES)}, got {name!r}")
        if body.get("version") != "1":
            return self.hapi_error(400, f"version must be \"1\" (a string), got {body.get('version')!r}")
        try:
            start = _parse_local(body.get("datetime_start"), "datetime_start")
            end = _parse_local(body.get("datetime_end"), "datetime_end")
        except ValueError as exc:
            return self.hapi_error(400, str(exc))
        if end < start:
            return self.hapi_error(400, "datetime_end is before datetime_start")
        unknown = set(body) - {"name", "version", "datetime_start", "datetime_end"}
        if unknown:
            return self.hapi_error(400, f"unknown field(s): {', '.join(sorted(unknown))}")
        with self._lock:
            report_id = str(1000 + len(self.jobs) + 1)
        job = self.new_job(report_id, name, {
            "name": name, "version": "1",
            "datetime_start": body["datetime_start"], "datetime_end": body["datetime_end"],
        })
        job.extra["timezone"] = self.knobs["timezone"]
        resource = self._report_resource(request, job)
        return _hal_json(resource, 201, Location=resource["_links"]["self"]["href"])

    def status(self, job: Job) -> str:
        if self.now() < job.done_at:
            return "queued"
        return "error" if job.outcome == "failed" else "ready"

    def _report_resource(self, request: Request, job: Job, *, with_link: bool = False) -> dict:
        status = self.status(job)
        created = dt.datetime.fromtimestamp(job.created_at, dt.timezone.utc)
        modified = created if status == "queued" else created + dt.timedelta(seconds=job.processing_seconds)
        links: dict[str, t.Any] = {
            "curies": CURIES,
            "self": {"href": f"{request.base_url}/reports/{job.id}", "title": "This Report"},
            "fx:store": {"href": f"{request.base_url}/stores/{credentials.FOXYCART_STORE_ID}", "title": "This Store"},
        }
        if with_link and status == "ready":
            secret, _ = self.issue_link(job)
            epoch_ms = int(job.created_at * 1000)
            links["fx:download_url"] = {
                "href": f"{self.link_base(request)}/downloads/{job.id}/{job.name}_report.{epoch_ms}.zip?foo={secret}",
                "title": "Download This Report",
            }
        start = dt.datetime.strptime(job.parameters["datetime_start"], DATETIME_FORMAT)
        end = dt.datetime.strptime(job.parameters["datetime_end"], DATETIME_FORMAT)
        return {
            "_links": links,
            "name": job.name,
            "version": "1",
            "datetime_start": self.local_iso(start),
            "datetime_end": self.local_iso(end),
            "status": status,
            "date_created": self.local_iso(created),
            "date_modified": self.local_iso(modified),
        }

    def _poll(self, request: Request, report_id: str) -> Response:
        job, missing = self.lookup(report_id)
        if job is None:
            return self.hapi_error(missing, f"no report {report_id}")
        resource = self._report_resource(request, job, with_link=True)
        resource["status"] = self.polled(job, resource["status"])
        if resource["status"] != "ready":
            resource["_links"].pop("fx:download_url", None)
        return _hal_json(resource)

    def _download(self, request: Request) -> Response:
        refused = self.refuse_credentials(request, ("Authorization", API_VERSION_HEADER))
        if refused:
            self.record_download(None, 400, 0, "credentials")
            return refused
        parts = request.path.strip("/").split("/")
        job, missing = self.lookup(parts[1]) if len(parts) == 3 else (None, 404)
        secret = request.arg("foo")
        if job is None and missing != 404:
            self.record_download(None, missing, 0)
            return self.hapi_error(missing, "no such report")
        if job is None or secret not in job.links:
            self.record_download(job, 403, 0)
            return _access_denied()
        if self.now() >= job.links[secret] or self.status(job) != "ready":
            self.record_download(job, 403, 0)
            return _expired_link()
        built = self.files.get(self._file_key(job), "zip", lambda: self.members(job.name, *self._window(job), job),
                               ZoneInfo(job.extra["timezone"]))
        return self.serve_file(job, built, "application/zip", _expired_link)

    # -- the report's files ---------------------------------------------------------------

    @staticmethod
    def _window(job: Job) -> tuple[str, str]:
        return job.parameters["datetime_start"], job.parameters["datetime_end"]

    def _file_key(self, job: Job) -> tuple:
        return (job.name, *self._window(job), job.rows_per_day, job.extra["timezone"], *self.data_span())

    def members(self, name: str, start: str, end: str, job: Job | None = None) -> list[Member]:
        """The CSVs of report `name` over [start, end] (local "YYYY-MM-DD HH:MM:SS"), as the job or the knobs say."""
        rows_per_day = job.rows_per_day if job else self.setting(name, "rows_per_day")
        zone = ZoneInfo(job.extra["timezone"]) if job else self.zone
        return report_members(self.seed, name, start, end, rows_per_day, zone, self.data_span())

    def expected_rows(self, name: str, start: str | dt.datetime, end: str | dt.datetime) -> dict[str, list[dict]]:
        """Exactly what the zip of report `name` over [start, end] (naive store-local times) holds with the
        current knobs: {file name: rows as strings}."""
        start = start.strftime(DATETIME_FORMAT) if isinstance(start, dt.datetime) else start
        end = end.strftime(DATETIME_FORMAT) if isinstance(end, dt.datetime) else end
        return {member.name: list(member.rows()) for member in self.members(name, start, end)}
