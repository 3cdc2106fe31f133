"""Simulated FoxyCart hAPI: the refresh-token grant, the store, report jobs and zipped CSV downloads.

Routes (relative to /foxycart; every API answer is `application/hal+json`):
  POST /token                    form `grant_type=refresh_token&refresh_token=...`, HTTP Basic
                                 client_id:client_secret -> {access_token, token_type, expires_in,
                                 refresh_token, scope}; bad Basic 401 invalid_client, bad refresh
                                 token 400 invalid_grant (application/json, as OAuth servers answer)
  GET  /stores/{id}              the store: id, store_name, timezone, _links["fx:reports"]
  POST /stores/{id}/reports      JSON {name, version: "1", datetime_start, datetime_end}, datetimes
                                 exactly "YYYY-MM-DD HH:MM:SS" in the store's zone -> 201 + Location
  GET  /reports/{id}             `queued`, then `ready` with a fresh `fx:download_url` on every GET
                                 (or `error`)
  GET  /downloads/{id}/{name}_report.{epoch_ms}.zip?foo=...   the zip, no credentials allowed
The API routes need `Authorization: Bearer <token>` (401 otherwise) and `FOXY-API-VERSION: 1`
(400 otherwise). A download with an Authorization or FOXY-API-VERSION header is refused with 400
and counted as a credential violation; an unknown `foo` or an expired link is a 403 with an
S3-like XML body.

Zips: `complete` holds transactions.csv, transaction_items.csv and coupons.csv; `customers`
customers.csv; `customers_ltv` customers_ltv.csv; `transactions` transactions.csv. Times in the
CSVs are naive store-local "YYYY-MM-DD HH:MM:SS"; a row is in a report when its own time (for
customers, date_created) lies in [datetime_start, datetime_end] compared as local times. Each
local day's rows spread over that day's real hours, so 2026-11-01 (America/Los_Angeles) has 25
hours and repeats 01:xx. Every day starts with a row at 00:00:00 and ends with one at 23:59:59.

Knobs (`POST /_sandbox/vendor/foxycart`): those of `jobs.py`, plus `timezone` (the store's IANA
zone, default America/Los_Angeles) and `error_shape`: how API errors read, `hal` (default, as hAPI
documents: `{"total": 1, "_embedded": {"fx:errors": [{"logref", "message"}]}}`), `hal_with_message`
(a top-level `message` too), `hal_single` (`fx:errors` one object) or `plain` (`{"error": "..."}`).
`fail_next` makes reports end in status `error`. The state
lists token grants, reports (with their links), polls, downloads and credential violations.
For tests, `App.expected_rows(name, start, end)` gives exactly what the report's zip holds.
"""

from __future__ import annotations

import base64
import datetime as dt
import random
import secrets
import typing as t
from urllib.parse import parse_qs
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tap_retail_reports.sandbox import credentials
from tap_retail_reports.sandbox.files import Member
from tap_retail_reports.sandbox.jobs import AsyncVendorApp, Job, days
from tap_retail_reports.sandbox.vendor_app import Request, Response

HAL = "application/hal+json"
DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S"
API_VERSION_HEADER = "FOXY-API-VERSION"
REPORT_NAMES = ("complete", "customers", "customers_ltv", "transactions")
STORE_NAME = "Sandbox Supply Co."
CURIES = [{"name": "fx", "href": "https://api.foxycart.com/rels/{rel}", "templated": True}]

FIRST_NAMES = ("Ana", "José", "Zoë", "Søren", "Mei", "Olu", "Łukasz", "Björn", "Chloé", "Rahul", "Sam", "Priya")
LAST_NAMES = ("García", "Müller", "O'Brien", "Nguyen", "Smith", "Dubois", "Kowalski", "Østergaard", "Tanaka", "Okafor")
STREETS = ("12 Harbor Way, Suite 4", "88 Elm St", "1 Infinite Loop", "400 Rue de l'Église", "7 Mill Lane, Unit B")
CITIES = (("Portland", "OR", "97201"), ("Austin", "TX", "73301"), ("Boston", "MA", "02108"), ("Denver", "CO", "80202"))
PRODUCTS = (
    ("TEE-BLK-M", "Black Tee, Medium", "apparel", 24.00, 0.4),
    ("MUG-12OZ", "Ceramic Mug 12oz", "kitchen", 14.50, 0.9),
    ("CAP-RED", "Red \"Dad\" Cap", "apparel", 19.99, 0.2),
    ("NB-A5", "Notebook A5 – dotted", "stationery", 9.75, 0.3),
    ("SUB-COFFEE", "Coffee Subscription", "subscriptions", 32.00, 1.0),
)
NOTES = ("", "", "", "Leave at the back door", "Happy birthday!\nLove, Sam", "Call before delivery, please")

TRANSACTION_COLUMNS = (
    "id", "transaction_date", "customer_id", "customer_first_name", "customer_last_name", "customer_email",
    "customer_address1", "customer_city", "customer_state", "customer_postal_code", "customer_country",
    "total_item_price", "total_tax", "total_shipping", "total_discount", "total_order", "currency_code",
    "payment_type", "status", "is_test", "hide_transaction", "custom_note",
)
ITEM_COLUMNS = (
    "transaction_id", "transaction_date", "item_id", "item_code", "item_name", "item_category",
    "item_price", "item_quantity", "item_weight", "subscription_frequency", "is_future_line_item",
)
COUPON_COLUMNS = ("transaction_id", "transaction_date", "coupon_code", "coupon_name", "discount_amount")
CUSTOMER_COLUMNS = (
    "id", "first_name", "last_name", "email", "company", "phone", "date_created", "last_login_date",
    "is_anonymous", "tax_id", "default_billing_address1", "default_billing_city", "default_billing_country",
)
LTV_COLUMNS = (
    "customer_id", "first_name", "last_name", "email", "date_created", "first_transaction_date",
    "last_transaction_date", "transaction_count", "total_spent", "average_order_value", "currency_code",
)
FILES = {  # report name -> its CSVs, in zip order
    "complete": (("transactions.csv", TRANSACTION_COLUMNS), ("transaction_items.csv", ITEM_COLUMNS),
                 ("coupons.csv", COUPON_COLUMNS)),
    "customers": (("customers.csv", CUSTOMER_COLUMNS),),
    "customers_ltv": (("customers_ltv.csv", LTV_COLUMNS),),
    "transactions": (("transactions.csv", TRANSACTION_COLUMNS),),
}


# How FoxyCart's admin portal might head the same columns (the csv_column_names knob's `portal` reading).
PORTAL_NAMES = {
    "transaction_date": "Transaction Date", "customer_id": "Customer ID",
    "customer_first_name": "First Name", "customer_last_name": "Last Name", "customer_email": "Email",
    "customer_address1": "Address 1", "customer_city": "City", "customer_state": "State",
    "customer_postal_code": "Postal Code", "customer_country": "Country", "total_item_price": "Item Total",
    "total_tax": "Tax", "total_shipping": "Shipping", "total_discount": "Discount", "total_order": "Order Total",
    "currency_code": "Currency", "payment_type": "Payment Type", "is_test": "Test Transaction",
    "hide_transaction": "Hidden", "custom_note": "Note", "item_code": "Item Code", "item_name": "Item Name",
    "item_price": "Price", "item_quantity": "Quantity", "item_weight": "Weight", "date_created": "Date Created",
    "last_login_date": "Last Login", "transaction_count": "Orders", "total_spent": "Lifetime Value",
    "average_order_value": "Average Order Value",
}


def money(value: float) -> str:
    return f"{value + 0.0:.2f}"  # + 0.0: no "-0.00"


ERROR_SHAPES = ("hal", "hal_with_message", "hal_single", "plain")


def hapi_error(status: int, message: str, shape: str = "hal") -> Response:
    """An error as hAPI answers it: `{"total", "_embedded": {"fx:errors": [{"logref", "message"}]}}`,
    the message only inside. Other readings, for tests: a top-level message too, `fx:errors` one
    object instead of a list, or a plain `{"error": message}`."""
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


def _hal(payload: dict, status: int = 200, **headers: str) -> Response:
    response = Response.json(payload, status, **headers)
    response.headers["Content-Type"] = HAL
    return response


def _expired_link() -> Response:
    body = (
        b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>'
        b"<Message>Request has expired</Message></Error>"
    )
    return Response(403, body, {"Content-Type": "application/xml"})


def _denied() -> Response:
    body = (
        b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>'
        b"<Message>Access Denied</Message></Error>"
    )
    return Response(403, body, {"Content-Type": "application/xml"})


def _parse_local(value: t.Any, field: str) -> dt.datetime:
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
    prefix = "foxycart"
    report_names = REPORT_NAMES
    vendor_defaults: t.ClassVar[dict[str, t.Any]] = {"timezone": "America/Los_Angeles", "error_shape": "hal"}
    token_lifetime_default = 7200.0
    portal_names = PORTAL_NAMES

    def hapi_error(self, status: int, message: str) -> Response:
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
                return _hal(self._store(request))
            if len(parts) == 3 and parts[2] == "reports" and request.method == "POST":
                return self._create(request)
        if parts[0] == "reports" and len(parts) == 2 and request.method in ("GET", "HEAD"):
            return self._poll(request, parts[1])
        return self.hapi_error(404, f"no resource at {request.path} for {request.method}")

    def _token(self, request: Request) -> Response:
        expected = base64.b64encode(
            f"{credentials.FOXYCART_CLIENT_ID}:{credentials.FOXYCART_CLIENT_SECRET}".encode()
        ).decode()
        if (request.headers.get("Authorization") or "") != f"Basic {expected}":
            return Response.json({"error": "invalid_client", "error_description": "client authentication failed"}, 401)
        refused = self.grant_refusal()
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
        resource = self._resource(request, job)
        return _hal(resource, 201, Location=resource["_links"]["self"]["href"])

    def status(self, job: Job) -> str:
        if self.now() < job.done_at:
            return "queued"
        return "error" if job.outcome == "failed" else "ready"

    def _resource(self, request: Request, job: Job, *, with_link: bool = False) -> dict:
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
        resource = self._resource(request, job, with_link=True)
        resource["status"] = self.polled(job, resource["status"])
        if resource["status"] != "ready":
            resource["_links"].pop("fx:download_url", None)
        return _hal(resource)

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
            return _denied()
        if self.now() >= job.links[secret] or self.status(job) != "ready":
            self.record_download(job, 403, 0)
            return _expired_link()
        built = self.files.get(self._file_key(job), "zip", lambda: self.members(job.name, *self._window(job), job),
                               ZoneInfo(job.extra["timezone"]))
        return self.serve_file(job, built, "application/zip", _expired_link)

    # -- data ------------------------------------------------------------------------

    @staticmethod
    def _window(job: Job) -> tuple[str, str]:
        return job.parameters["datetime_start"], job.parameters["datetime_end"]

    def _file_key(self, job: Job) -> tuple:
        return (job.name, *self._window(job), job.rows_per_day, job.extra["timezone"], *self.data_span())

    def members(self, name: str, start: str, end: str, job: Job | None = None) -> list[Member]:
        """The CSVs of report `name` over [start, end] (local "YYYY-MM-DD HH:MM:SS")."""
        rows_per_day = job.rows_per_day if job else self.setting(name, "rows_per_day")
        zone = ZoneInfo(job.extra["timezone"]) if job else self.zone
        first, last = self.data_span()
        first = max(first, dt.date.fromisoformat(start[:10]))
        last = min(last, dt.date.fromisoformat(end[:10]))

        def produce(part: str) -> t.Callable[[], t.Iterator[dict[str, str]]]:
            def rows() -> t.Iterator[dict[str, str]]:
                for day in days(first, last):
                    if part in ("customers.csv", "customers_ltv.csv"):
                        for customer, ltv in self._customers_on(day, rows_per_day, zone):
                            if start <= customer["date_created"] <= end:
                                yield customer if part == "customers.csv" else ltv
                        continue
                    for transaction, items, coupon in self._transactions_on(day, rows_per_day, zone):
                        if not start <= transaction["transaction_date"] <= end:
                            continue
                        if part == "transactions.csv":
                            yield transaction
                        elif part == "transaction_items.csv":
                            yield from items
                        elif coupon:
                            yield coupon
            return rows

        return [Member(file_name, columns, produce(file_name)) for file_name, columns in FILES[name]]

    def expected_rows(self, name: str, start: str | dt.datetime, end: str | dt.datetime) -> dict[str, list[dict]]:
        """Exactly what the zip of report `name` over [start, end] holds: {file name: rows as strings}.

        `start` and `end` are naive store-local times, as sent in datetime_start/datetime_end.
        Uses the app's current knobs (rows_per_day, timezone, data span).
        """
        start = start.strftime(DATETIME_FORMAT) if isinstance(start, dt.datetime) else start
        end = end.strftime(DATETIME_FORMAT) if isinstance(end, dt.datetime) else end
        return {member.name: list(member.rows()) for member in self.members(name, start, end)}

    @staticmethod
    def _local_times(rng: random.Random, day: dt.date, count: int, zone: ZoneInfo) -> list[str]:
        """`count` naive local times spread over the day's real seconds (23, 24 or 25 hours),
        in the order they happened. Anchors first: 00:00:00, 1.5 and 2.5 hours after midnight
        (on the day clocks fall back, both read 01:30:00) and 23:59:59."""
        midnight = dt.datetime.combine(day, dt.time(), zone).timestamp()
        length = int(dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), zone).timestamp() - midnight)
        anchors = [0, 5400, 9000, length - 1][:count]
        offsets = sorted(anchors + [rng.randrange(1, length - 1) for _ in range(count - len(anchors))])
        return [
            dt.datetime.fromtimestamp(midnight + offset, zone).strftime(DATETIME_FORMAT) for offset in offsets
        ]

    def _transactions_on(
        self, day: dt.date, count: int, zone: ZoneInfo
    ) -> t.Iterator[tuple[dict[str, str], list[dict[str, str]], dict[str, str] | None]]:
        rng = random.Random(f"{self.seed}:foxycart:transactions:{day.isoformat()}:{count}")
        for n, when in enumerate(self._local_times(rng, day, count, zone)):
            transaction_id = f"{day:%Y%m%d}{n:06d}"
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            city, state, postal = rng.choice(CITIES)
            items = []
            for position in range(rng.randint(1, 3)):
                code, title, category, price, weight = rng.choice(PRODUCTS)
                quantity = rng.randint(1, 4)
                items.append({
                    "transaction_id": transaction_id,
                    "transaction_date": when,
                    "item_id": f"{transaction_id}{position:02d}",
                    "item_code": code,
                    "item_name": title,
                    "item_category": category,
                    "item_price": money(price),
                    "item_quantity": str(quantity),
                    "item_weight": f"{weight * quantity:.3f}",
                    "subscription_frequency": "1m" if category == "subscriptions" else "",
                    "is_future_line_item": "1" if category == "subscriptions" and rng.random() < 0.5 else "0",
                })
            item_total = sum(float(item["item_price"]) * int(item["item_quantity"]) for item in items)
            coupon = None
            discount = 0.0
            if rng.random() < 0.3:
                discount = round(min(item_total, rng.choice((5.0, 10.0, item_total * 0.15))), 2)
                coupon = {
                    "transaction_id": transaction_id,
                    "transaction_date": when,
                    "coupon_code": rng.choice(("FALL10", "WELCOME5", "VIP-15")),
                    "coupon_name": rng.choice(("Fall sale, 10 off", "Welcome", "VIP 15%")),
                    "discount_amount": money(-discount),
                }
            tax = round(item_total * 0.0825, 2)
            shipping = rng.choice((0.0, 4.99, 9.5))
            yield (
                {
                    "id": transaction_id,
                    "transaction_date": when,
                    "customer_id": str(rng.randint(100_000, 999_999)),
                    "customer_first_name": first,
                    "customer_last_name": last,
                    "customer_email": f"{first}.{last}@example.com".lower().replace("'", ""),
                    "customer_address1": rng.choice(STREETS),
                    "customer_city": city,
                    "customer_state": state,
                    "customer_postal_code": postal,
                    "customer_country": "US",
                    "total_item_price": money(item_total),
                    "total_tax": money(tax),
                    "total_shipping": money(shipping),
                    "total_discount": money(-discount),
                    "total_order": money(item_total + tax + shipping - discount),
                    "currency_code": "USD",
                    "payment_type": rng.choice(("plastic", "plastic", "paypal", "purchase_order")),
                    "status": rng.choice(("captured", "captured", "approved", "refunded", "")),
                    "is_test": "1" if rng.random() < 0.05 else "0",
                    "hide_transaction": "true" if rng.random() < 0.03 else "false",
                    "custom_note": rng.choice(NOTES),
                },
                items,
                coupon,
            )

    def _customers_on(
        self, day: dt.date, count: int, zone: ZoneInfo
    ) -> t.Iterator[tuple[dict[str, str], dict[str, str]]]:
        """Customers created on `day`, each with its customers_ltv row."""
        rng = random.Random(f"{self.seed}:foxycart:customers:{day.isoformat()}:{count}")
        for n, when in enumerate(self._local_times(rng, day, count, zone)):
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            city, _, _ = rng.choice(CITIES)
            anonymous = rng.random() < 0.1
            login = "" if anonymous or rng.random() < 0.3 else when
            orders = rng.randint(0, 6)
            spent = round(sum(rng.uniform(10, 140) for _ in range(orders)), 2)
            customer = {
                "id": f"{day:%Y%m%d}{n:06d}",
                "first_name": first,
                "last_name": last,
                "email": f"{first}.{last}.{n}@example.com".lower().replace("'", ""),
                "company": rng.choice(("", "", "Smith, Jones & Co", "Acme")),
                "phone": rng.choice(("", "+1 503 555 0100", "(512) 555-0199")),
                "date_created": when,
                "last_login_date": login,
                "is_anonymous": "true" if anonymous else "false",
                "tax_id": "",
                "default_billing_address1": rng.choice(STREETS),
                "default_billing_city": city,
                "default_billing_country": "US",
            }
            yield customer, {
                "customer_id": customer["id"],
                "first_name": first,
                "last_name": last,
                "email": customer["email"],
                "date_created": when,
                "first_transaction_date": when if orders else "",
                "last_transaction_date": when if orders else "",
                "transaction_count": str(orders),
                "total_spent": money(spent),
                "average_order_value": money(spent / orders) if orders else "",
                "currency_code": "USD",
            }
