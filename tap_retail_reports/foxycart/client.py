"""FoxyCart (hAPI): OAuth refresh-token auth, the store (its timezone, and the link reports are created at,
followed rather than built), and report jobs whose files are zips of CSVs (docs/streams.md, "FoxyCart").
"""

from __future__ import annotations

import datetime as dt
import typing as t
import zoneinfo
from functools import cached_property

from singer_sdk.exceptions import FatalAPIError

from tap_retail_reports.core.async_stream import AsyncReportStream
from tap_retail_reports.core.auth import RenewableToken, TokenAuthenticator
from tap_retail_reports.core.file_stream import column_types
from tap_retail_reports.core.job_model import JobSpec, JobStatus, Poll, StatusMap
from tap_retail_reports.core.windows import Window, local_naive

if t.TYPE_CHECKING:
    import requests
    from singer_sdk.helpers.types import Context

RENEW_MARGIN_SECONDS = 300.0  # five minutes before the token's expiry
STATUSES = StatusMap("foxycart", {"queued": JobStatus.RUNNING, "processing": JobStatus.RUNNING,
                                  "ready": JobStatus.DONE, "error": JobStatus.FAILED})


def hal_errors(body: t.Any) -> list[str]:
    """The messages of a HAL error body, each with its logref; [] when the body is not one."""
    embedded = body.get("_embedded") if isinstance(body, dict) else None
    errors = embedded.get("fx:errors") if isinstance(embedded, dict) else None
    if isinstance(errors, dict):  # one error, not in a list
        errors = [errors]
    lines = []
    for error in errors if isinstance(errors, list) else []:
        message = error.get("message") if isinstance(error, dict) else None
        if isinstance(message, str) and message.strip():
            logref = error.get("logref")
            lines.append(f"{message.strip()} (logref {logref})" if isinstance(logref, str) and logref else message.strip())
    return lines


def href(resource: t.Any, rel: str) -> str | None:
    """A HAL link's href, or None."""
    links = resource.get("_links") if isinstance(resource, dict) else None
    link = links.get(rel) if isinstance(links, dict) else None
    if isinstance(link, list) and link:
        link = link[0]
    value = link.get("href") if isinstance(link, dict) else None
    return value if isinstance(value, str) and value else None


class FoxyCartStream(AsyncReportStream):
    """One FoxyCart report; its rows are the CSV files of the report's zip."""

    vendor = "foxycart"
    default_base_url = "https://api.foxycart.com"
    auth_hint = "check foxycart.client_id, client_secret, refresh_token and store_id"  # short: it ends every refusal's line
    download_formats = frozenset({"zip"})  # every report is a zip of CSVs: a bare CSV or a page is not the report
    column_types = column_types(
        NUMBER=("total_item_price", "total_tax", "total_shipping", "total_discount", "total_order", "item_price",
                "item_weight", "discount_amount", "total_spent", "average_order_value"),
        INTEGER=("item_quantity", "transaction_count"),
        DATE_TIME=("transaction_date", "date_created", "last_login_date", "first_transaction_date",
                   "last_transaction_date"),  # naive, in the store's timezone (other columns: typed by their values)
        BOOLEAN=("is_test", "hide_transaction", "is_anonymous", "is_future_line_item"),
    )

    @property
    def http_headers(self) -> dict:
        return {**super().http_headers, "FOXY-API-VERSION": "1", "Accept": "application/hal+json"}

    def vendor_error_detail(self, response: requests.Response) -> str:
        try:
            messages = hal_errors(response.json())
        except ValueError:
            messages = []
        return "; ".join(messages) if messages else super().vendor_error_detail(response)

    # -- auth ------------------------------------------------------------------------

    @property
    def token(self) -> RenewableToken:
        return self.run.shared(
            "foxycart.token",
            lambda: RenewableToken(self.fetch_token, name="foxycart", margin=RENEW_MARGIN_SECONDS, logger=self.logger),
        )

    @cached_property
    def authenticator(self) -> TokenAuthenticator:
        return TokenAuthenticator(self.token)

    def fetch_token(self) -> tuple[str, float | None]:
        config = self.vendor_config
        return self.oauth_token(
            "POST", "/token", config["client_id"], config["client_secret"],
            data={"grant_type": "refresh_token", "refresh_token": config["refresh_token"]},
        )

    # -- the store ---------------------------------------------------------------------

    @property
    def store(self) -> dict:
        return self.run.shared("foxycart.store", self.fetch_store)

    def fetch_store(self) -> dict:
        store_id = self.vendor_config["store_id"]
        response = self.call("GET", f"/stores/{store_id}")
        body = self.response_json(response)
        reports = href(body, "fx:reports")
        if not reports:
            raise self.unreadable(response, "has no fx:reports link: cannot create reports for this store")
        name = body.get("timezone") if isinstance(body, dict) else None
        try:
            zone = zoneinfo.ZoneInfo(str(name))
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
            raise FatalAPIError(f"{self.name}: store {store_id} has timezone {name!r}, which is not an IANA zone "
                                "this machine knows: cannot tell which local days to ask for") from exc
        self.logger.info("foxycart: store %s, timezone %s", store_id, zone.key)
        return {"reports": reports, "zone": zone}

    def probe(self) -> None:
        """The outage probe (core/outage.py): the token and the store, which the run needs anyway."""
        _ = self.store

    @property
    def vendor_timezone(self) -> dt.tzinfo:
        return self.store["zone"]

    @property
    def naive_times_zone(self) -> dt.tzinfo:
        """The document: report times are "for your store's configured timezone"."""
        return self.store["zone"]

    @property
    def job_origin(self) -> str:  # reports belong to one store: a job stored for another is not resumed
        return f"{self.url_base}/stores/{self.vendor_config['store_id']}"

    # -- jobs --------------------------------------------------------------------------

    def job_params(self, window: Window, context: Context | None) -> dict:
        zone = self.vendor_timezone
        return {
            "name": self.report_name,
            "version": "1",
            "datetime_start": local_naive(window.start, zone),
            # The document: pass 23:59:59 as the end, or miss the last day's data.
            "datetime_end": local_naive(window.end - dt.timedelta(seconds=1), zone),
        }

    def repository(self) -> FoxyCartReports:
        return FoxyCartReports(self)


class FoxyCartReports:
    """Create and poll FoxyCart report jobs through the stream's HTTP primitive."""

    def __init__(self, stream: FoxyCartStream) -> None:
        self.stream = stream

    def create(self, spec: JobSpec) -> str:
        response = self.stream.call("POST", self.stream.store["reports"], json=dict(spec.params))
        body = self.stream.response_json(response)
        link = href(body, "self") or response.headers.get("Location")
        if not link:
            raise self.stream.unreadable(response, "created a report but gave no link to it (_links.self or Location)")
        return link

    def poll(self, job_id: str) -> Poll:
        response = self.stream.call("GET", job_id)
        body = self.stream.response_json(response)
        vendor_status = body.get("status") if isinstance(body, dict) else None
        status = STATUSES(vendor_status)
        link = href(body, "fx:download_url") if status is JobStatus.DONE else None
        return Poll(status, str(vendor_status), link)
