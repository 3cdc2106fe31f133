"""Distribu's auth and base streams: a `dk_` bearer key with the reports:read scope, GETs, 60 calls a minute."""

from __future__ import annotations

import datetime as dt
import typing as t
from functools import cached_property

from singer_sdk.authenticators import BearerTokenAuthenticator
from singer_sdk.helpers.jsonpath import extract_jsonpath

from tap_retail_reports.core.records import day_reading
from tap_retail_reports.core.streams import ReportStream, WindowedStream, add_extra_fields
from tap_retail_reports.core.windows import UTC, Window, iso

if t.TYPE_CHECKING:
    import requests
    from singer_sdk.helpers.types import Context

DEFAULT_REQUESTS_PER_MINUTE = 60  # the document's budget: 60 requests a minute per key


# The parts of `data` the document shows; range and totals are request echoes and sums of rows.
DOCUMENTED_DATA_PARTS = frozenset({"range", "totals", "daily", "byStatus", "rows", "groups"})


class DistribuStream(ReportStream):
    """One `GET /api/v1/reports/<report>`; every answer is `{"data": {...}}` or `{"error": "..."}`."""

    vendor = "distribu"
    default_base_url = "https://distribu.app"
    # The per-status and per-customer days restate while their orders move from SUBMITTED to
    # DELIVERED or CANCELLED, which takes days; re-reading a week costs ~8 calls a per-day stream.
    default_lookback_days = 7
    auth_hint = "check distribu.api_key"
    # Distribu counts its minute from each call's arrival, the limiter from its sending: a second of slack
    # keeps a call delayed on the way from landing as a 61st inside the vendor's minute.
    rate_limit_period = 61.0
    # Two requests at once (a ceiling; the pace adapts below it) keep the budget (requests_per_minute,
    # enforced per request by the shared limiter) busy while an answer is on its way; more would only wait.
    default_concurrent_windows = 2

    @cached_property
    def authenticator(self) -> BearerTokenAuthenticator:
        return BearerTokenAuthenticator(token=self.vendor_config["api_key"])

    def requests_per_minute(self) -> int:
        return int(self.vendor_config.get("requests_per_minute") or DEFAULT_REQUESTS_PER_MINUTE)

    def probe(self) -> None:
        """The outage probe (core/outage.py): the sales report for an instant (it takes the shared budget)."""
        moment = iso(self.end_date)
        self.call("GET", "/api/v1/reports/sales", params={"from": moment, "to": moment})

    def vendor_error_detail(self, response: requests.Response) -> str:
        detail = super().vendor_error_detail(response)
        if response.status_code == 403:
            # The key is real but may not read reports: say which scope it needs, not just "Forbidden".
            detail += "; the key lacks the reports:read scope that the reports endpoints require"
        return detail

    def parse_response(self, response: requests.Response) -> t.Iterable[dict]:
        body = self.response_json(response)
        if not isinstance(body, dict) or not isinstance(body.get("data"), dict):
            # Without `data` there are no rows; passing it as an empty report would move the bookmark over them.
            raise self.unreadable(response, "returned no `data` object")
        unread = self.unread_parts(body["data"])
        for row in extract_jsonpath(self.records_jsonpath, input=body):
            yield add_extra_fields(row, unread)

    def unread_parts(self, data: dict) -> dict:
        """Parts of `data` the documented shape does not have, so that no field is dropped:
        they travel with every row, in `_extra_fields`, under `data.<name>`."""
        unread = {f"data.{key}": value for key, value in data.items() if key not in DOCUMENTED_DATA_PARTS}
        if unread and not self._warned_unread:
            self._warned_unread = True
            self.logger.warning(
                "%s: Distribu sent parts this tap does not read (%s); they are kept in _extra_fields",
                self.name, ", ".join(sorted(unread)),
            )
        return unread

    _warned_unread = False


class DistribuRangeStream(DistribuStream, WindowedStream):
    """A report over a date range (`/reports/sales`, `/reports/customers`), asked window by window."""

    replication_key = "date"

    def get_url_params(self, context: Context | None, next_page_token: t.Any) -> dict:
        window = self.window_of(context)
        # The document's own ranges end at T23:59:59.999Z: `to` is inclusive, so the window's last millisecond
        # is sent (a bare date might be read as that day's midnight, and the whole day dropped).
        return {"from": iso(window.start), "to": iso(window.last_instant)}


class DistribuDayStream(DistribuRangeStream):
    """Rows the vendor aggregates over the requested range: asked one UTC day a call, stamped
    `date` and `_read_at` (see `day_reading`)."""

    fixed_window_days = 1

    def records_in_window(self, window: Window, context: Context | None) -> t.Iterable[dict]:
        day = window.start.date().isoformat()  # windows start at UTC midnight
        return day_reading(self.complete_day(super().records_in_window(window, context)), day)

    def complete_day(self, rows: t.Iterable[dict]) -> t.Iterable[dict]:
        """The day's rows as the vendor sent them; a stream whose keys form a known set adds
        the keys the vendor left out, so that a re-read day overwrites them."""
        return rows


class DistribuSnapshotStream(DistribuStream):
    """A part (`rows` or `groups`) of the current inventory, stamped with the run's UTC date.

    The inventory streams share one call per run: the second reads this run's copy, so
    products and categories describe the same moment and the call budget pays once.
    """

    path = "/api/v1/reports/inventory"
    records_jsonpath = "$.data"
    replication_key = None
    # Full table: ACTIVATE_VERSION lets a target delete (or flag) rows the snapshot no longer has.
    emit_activate_version_messages = True
    part: t.ClassVar[str]

    def snapshot(self, context: Context | None) -> dict:
        cache = self.run.shared("distribu.inventory", dict)
        if not cache:
            # Fetched outside `shared`'s lock: the request itself takes the tap's shared rate limiter.
            (cache["data"],) = self.request_records(context)  # parse_response yields the one `data`
            cache["snapshot_date"] = dt.datetime.now(UTC).date().isoformat()
            cache["arrived_at"] = self.last_answer_at()  # both streams' records: when the one answer came
        return cache

    def get_records(self, context: Context | None) -> t.Iterable[dict]:
        snapshot = self.snapshot(context)
        self.extracted_at = snapshot["arrived_at"]
        unread = self.unread_parts(snapshot["data"])
        for row in snapshot["data"].get(self.part) or []:
            # A copy: post_process edits rows in place, and the cached snapshot is shared.
            yield add_extra_fields({**row, "snapshot_date": snapshot["snapshot_date"]}, unread)
