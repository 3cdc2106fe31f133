"""Flipkart: OAuth (client credentials, or a partner app's refresh or access token) and report jobs with
signed links whose stated expiry is only a hint (docs/streams.md, "Flipkart"). The gateway's 499 and a
202 without its answer are asked again, never read as an empty answer.
"""

from __future__ import annotations

import datetime as dt
import typing as t
import uuid
import zoneinfo
from functools import cached_property
from urllib.parse import urlsplit

from singer_sdk.exceptions import RetriableAPIError

from tap_retail_reports.core.async_stream import AsyncReportStream
from tap_retail_reports.core.auth import RenewableToken, TokenAuthenticator
from tap_retail_reports.core.file_stream import column_types
from tap_retail_reports.core.job_model import JobSpec, JobStatus, Poll, StatusMap
from tap_retail_reports.core.redact import redact
from tap_retail_reports.core.windows import Window

if t.TYPE_CHECKING:
    import requests
    from singer_sdk.helpers.types import Context

TOKEN_PATH = "/oauth-service/oauth/token"
# Flipkart's days, and its naive `metadata.expiry`, are India's (the document gives no zone).
ZONE = zoneinfo.ZoneInfo("Asia/Kolkata")
STATUSES = StatusMap("flipkart", {
    "TRIGGERED": JobStatus.RUNNING, "PROCESSING": JobStatus.RUNNING, "COMPLETED": JobStatus.DONE,
    "FAILED": JobStatus.FAILED, "EXPIRED": JobStatus.EXPIRED,
})


EPOCH_MILLIS_FROM = 1e11  # a larger epoch number counts milliseconds (1e11 s is the year 5138)


def expiry_of(metadata: t.Any) -> float | None:
    """`metadata.expiry` as epoch seconds, in any form (naive, read as India's; ISO with an offset; epoch
    seconds or milliseconds); None if absent or unreadable. A hint only: the engine tries every link."""
    value = metadata.get("expiry") if isinstance(metadata, dict) else None
    if isinstance(value, str) and value.strip().lstrip("-").replace(".", "", 1).isdigit():
        value = float(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = value / 1000 if abs(value) >= EPOCH_MILLIS_FROM else float(value)
        return seconds if 0 < seconds < EPOCH_MILLIS_FROM else None  # also no NaN, no infinity
    if not isinstance(value, str):
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        moment = dt.datetime.fromisoformat(text)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=ZONE)
        return moment.timestamp()
    except (ValueError, OverflowError, OSError):
        return None


class FlipkartStream(AsyncReportStream):
    """One Flipkart report type."""

    vendor = "flipkart"
    default_base_url = "https://api.flipkart.net"
    report_type: t.ClassVar[str]
    extra_retry_statuses = (429, 499)  # 499: the gateway's "connection timed out"
    outage_statuses = (499,)
    takes_whole_days = True  # from_date/to_date are whole India days, both inclusive
    # Dates written with day and month (31/10/2026) are read day first, as India writes them, unless a
    # value shows otherwise. Times in the files have no documented zone: naive ones stay text as written.
    day_first = True
    column_types = column_types(
        NUMBER=("selling_price", "shipping_charge", "total_amount", "price_before_discount", "total_discount",
                "final_invoice_amount", "taxable_value", "igst_rate", "igst_amount", "cgst_rate", "cgst_amount",
                "sgst_rate", "sgst_amount", "amount", "settlement_value", "sale_amount", "marketplace_fee",
                "commission", "collection_fee", "fixed_fee", "shipping_fee", "tcs", "tds", "gst_on_mp_fees",
                "protection_fund", "total_invoice_value", "debit", "credit", "refund_amount", "removal_fee",
                "storage_fee"),
        INTEGER=("quantity", "item_quantity", "opening_stock", "inward", "outward", "customer_returns",
                 "adjustments", "closing_stock", "live_inventory", "reserved", "in_transit", "sellable",
                 "stranded_quantity", "unsellable_quantity", "opening_balance", "received", "dispatched",
                 "returned", "damaged", "closing_balance"),
        DATE=("dispatch_by_date", "invoice_date", "payment_date", "shipped_date", "delivered_date", "completed_date",
              "date", "stranded_since", "received_date"),
        BOOLEAN=("is_replacement",),
    )

    @property
    def auth_hint(self) -> str:  # type: ignore[override]  # a class attribute in core; here it depends on config
        if self.vendor_config.get("refresh_token"):
            return ("check flipkart.refresh_token (a partner refresh token lives 180 days), flipkart.client_id "
                    "and flipkart.client_secret")
        if self.vendor_config.get("client_id"):
            return "check flipkart.client_id and flipkart.client_secret"
        return "flipkart.access_token was refused: it may have expired; set a fresh one, or client credentials"

    @property
    def report_name(self) -> str:  # type: ignore[override]  # a class attribute in core; one class serves many reports
        return self.report_type

    @property
    def vendor_timezone(self) -> dt.tzinfo:
        return ZONE

    def check_status(self, response: requests.Response) -> None:
        super().check_status(response)
        if response.status_code == 202 and not self.carries_answer(response):
            raise RetriableAPIError(f"{self.error_line(response)}: accepted but not ready; asking again", response)

    @staticmethod
    def carries_answer(response: requests.Response) -> bool:
        """Whether a 202 holds what its call asks for: a creation's report_id, a poll's status, a token."""
        path = urlsplit(response.url or "").path.rstrip("/")
        needed = ("status" if path.endswith("/detail") else "access_token" if path.endswith("/oauth/token")
                  else "report_id")
        try:
            body = response.json()
        except ValueError:
            return False
        return isinstance(body, dict) and isinstance(body.get(needed), str) and bool(body[needed])

    # -- auth ------------------------------------------------------------------------

    @property
    def token(self) -> RenewableToken:
        config = self.vendor_config
        renewable = bool(config.get("client_id") and config.get("client_secret"))
        # A configured access_token is used first when it can be renewed with the refresh token,
        # or when it is all there is; beside client credentials alone, the grant gives tokens.
        first = config.get("access_token") if config.get("refresh_token") or not renewable else None
        return self.run.shared(
            "flipkart.token",
            lambda: RenewableToken(self.fetch_token if renewable else None, first, name="flipkart", logger=self.logger),
        )

    @cached_property
    def authenticator(self) -> TokenAuthenticator:
        return TokenAuthenticator(self.token)

    def fetch_token(self) -> tuple[str, float | None]:
        """A partner token from the refresh grant when a refresh token is set, else the client-credentials grant."""
        config = self.vendor_config
        if not config.get("refresh_token"):
            return self.oauth_token(
                "GET", TOKEN_PATH, config["client_id"], config["client_secret"],
                params={"grant_type": "client_credentials", "scope": "Seller_Api"},
            )
        # The run's current refresh token: Flipkart may answer a grant with a new one.
        current = self.run.shared("flipkart.refresh_token", lambda: [config["refresh_token"]])
        return self.oauth_token(
            "GET", TOKEN_PATH, config["client_id"], config["client_secret"],
            params={"grant_type": "refresh_token", "refresh_token": current[0]},
            on_refresh_token=lambda issued: self.refresh_token_issued(current, issued),
        )

    def refresh_token_issued(self, current: list[str], issued: str) -> None:
        """A grant answered with a refresh token: a new one replaces the configured one."""
        if issued == current[0]:
            return
        first_rotation = current[0] == self.vendor_config["refresh_token"]
        current[0] = issued  # this run renews with the new one
        if first_rotation:
            self.logger.warning(  # two lines that fit a terminal
                "flipkart: Flipkart issued a new refresh token (this run goes on with it; it is neither logged nor "
                "stored): before the next run, set flipkart.refresh_token to the app's current one")
            self.logger.warning("flipkart: in Meltano, `meltano config set tap-retail-reports flipkart.refresh_token ...`")

    # -- jobs --------------------------------------------------------------------------

    def job_params(self, window: Window, context: Context | None) -> dict:
        """The range reports: yyyy-MM-dd dates in India, both ends inclusive."""
        last_day = (window.end - dt.timedelta(seconds=1)).astimezone(ZONE).date()
        params = {"from_date": window.start.astimezone(ZONE).date().isoformat(), "to_date": last_day.isoformat()}
        if context and "warehouse_id" in context:
            params = {"warehouse_id": context["warehouse_id"], **params}
        return params

    def repository(self) -> FlipkartReports:
        # The token first: refused credentials (or a vendor that is down) then fail the stream's
        # planning, reported once for the vendor, rather than each of its jobs in its own line.
        self.token.get()
        return FlipkartReports(self)


class FlipkartReports:
    def __init__(self, stream: FlipkartStream) -> None:
        self.stream = stream

    def create(self, spec: JobSpec) -> str:
        body = {"correlation_id": str(uuid.uuid4()), "parameters": dict(spec.params)}
        response = self.stream.call("POST", f"/reports/{self.stream.report_type}", json=body)
        answer = self.stream.response_json(response)
        report_id = answer.get("report_id") if isinstance(answer, dict) else None
        if not isinstance(report_id, str) or not report_id:
            raise self.stream.unreadable(response, "gave no report_id")
        return report_id

    def poll(self, job_id: str) -> Poll:
        response = self.stream.call("GET", f"/reports/{job_id}/detail")
        body = self.stream.response_json(response)
        vendor_status = body.get("status") if isinstance(body, dict) else None
        status = STATUSES(vendor_status)
        if status is not JobStatus.DONE:
            return Poll(status, str(vendor_status))
        location = body.get("location")
        if isinstance(location, str) and location:
            redact.add_link(location)  # before anything could log it
        return Poll(status, str(vendor_status), location if isinstance(location, str) else None,
                    expiry_of(body.get("metadata")))
