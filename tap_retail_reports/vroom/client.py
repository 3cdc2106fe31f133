"""Vroom's auth and base stream: HTTP Basic with the portal e-mail and password, JSON POSTs."""

from __future__ import annotations

import typing as t
from functools import cached_property

import requests
from singer_sdk.authenticators import BasicAuthenticator

from tap_retail_reports.core.redact import redact
from tap_retail_reports.core.streams import ReportStream, WindowedStream
from tap_retail_reports.core.windows import iso

if t.TYPE_CHECKING:
    from singer_sdk.helpers.types import Context


class VroomStream(ReportStream):
    """One `POST /analytics/<endpoint>` report; the body carries site_ids and the time range."""

    vendor = "vroom"
    default_base_url = "https://www.vroomdelivery.com/api/retailer/v1"
    # Orders are adjusted (refunds, upcharges, completion) for a day or two after they are placed.
    default_lookback_days = 2
    auth_hint = "check vroom.username and vroom.password"
    http_method = "POST"
    endpoint: t.ClassVar[str]
    sends_site_ids: t.ClassVar[bool] = True  # transactions takes no site_ids
    # Vroom documents no limit: the pace learns it (core/pace.py), up to eight requests at once by default.
    default_concurrent_windows = 8

    @property
    def path(self) -> str:  # type: ignore[override]  # the SDK declares a class attribute; here it is built per endpoint
        return f"/analytics/{self.endpoint}"

    @cached_property
    def authenticator(self) -> BasicAuthenticator:
        username, password = self.vendor_config["username"], self.vendor_config["password"]
        redact.add_basic(username, password)  # the header's Base64 is as secret as the password
        return BasicAuthenticator(username=username, password=password)

    def probe(self) -> None:
        """The outage probe (core/outage.py): this report for an empty range, an instant long."""
        moment = iso(self.end_date)
        self.call("POST", self.path, json={"from_time": moment, "to_time": moment})

    def parse_response(self, response: requests.Response) -> t.Iterable[dict]:
        """Vroom answers a JSON array; an array wrapped in an object is taken too."""
        body = self.response_json(response)
        if isinstance(body, dict):
            lists = [value for key, value in body.items() if isinstance(value, list) and key in ("data", "results", "items")]
            if len(lists) != 1:
                raise self.unreadable(response, f"answered an object with keys {sorted(body)[:10]}, not the documented array")
            body = lists[0]
        if not isinstance(body, list):
            raise self.unreadable(response, f"answered {type(body).__name__}, not an array")
        for row in body:
            if isinstance(row, dict):
                yield row
            else:
                raise self.unreadable(response, f"has a non-object row: {str(row)[:80]!r}")

    def request_body(self, context: Context | None) -> dict:
        body: dict[str, t.Any] = {}
        site_ids = self.vendor_config.get("site_ids")
        if site_ids and self.sends_site_ids:
            body["site_ids"] = list(site_ids)
        return body

    def prepare_request_payload(self, context: Context | None, next_page_token: t.Any) -> dict:
        return self.request_body(context)


class VroomWindowedStream(VroomStream, WindowedStream):
    """A Vroom report read in windows of `vroom.window_days` days. Vroom does not say whether `to_time` is
    inclusive: the window's last millisecond is sent, so that a row at midnight is read in one window only."""

    window_days_setting = "window_days"

    def request_body(self, context: Context | None) -> dict:
        window = self.window_of(context)
        return {
            **super().request_body(context),
            "from_time": iso(window.start),
            "to_time": iso(window.last_instant),
        }
