"""Retrend's reports: one typed JSON report object per (store_num, report, duration, period start), read
period by period per (store_num, duration) partition, with a bookmark after each finished period."""

from __future__ import annotations

import collections
import copy
import datetime as dt
import json
import typing as t
from functools import cached_property

import requests
from singer_sdk.exceptions import FatalAPIError

from tap_retail_reports.core.http import describe_response
from tap_retail_reports.core.layouts import NUMBER, ColumnMemory, ColumnType, StreamColumns
from tap_retail_reports.core.log_lines import listed
from tap_retail_reports.core.records import SchemaCoercion
from tap_retail_reports.core.streams import for_context
from tap_retail_reports.core.windows import DURATIONS, UTC, iso, periods, resume_from
from tap_retail_reports.retrend.session import RetrendSessionStream

if t.TYPE_CHECKING:
    from singer_sdk.helpers.types import Context

# Responses kept for the run (a few KB each). Repeats come close together (a period asked
# by general and, in the same run, again), so the most recent ones are the ones to keep.
RESPONSE_CACHE_SIZE = 512

# A period without a report (a 404) may get one later (a store in a timezone behind UTC, a report
# computed late): it is asked again on every run until this many days after the period ends.
MISSING_REPORT_RETRY_DAYS = 7
LEARNED_FIGURE = "A figure of Retrend's report, learned from its answers"


def report_rows(body: t.Any) -> t.Iterator[dict]:
    """The report objects in a response body: the documented `{"report": {...}}`, a bare report, or a
    list of either. Fields beside `report` are kept, as `response_<name>` where the report has that name."""
    if isinstance(body, list):
        for item in body:
            yield from report_rows(item)
        return
    if not isinstance(body, dict) or not body:
        return
    if "report" in body and body["report"] is None:
        return  # `{"report": null}`: the wrapper, with no report in it
    inner = body.get("report")
    if not isinstance(inner, dict):
        yield dict(body)  # a bare report (its own `report` field, if any, is a plain value)
        return
    row = dict(inner)
    for key, value in body.items():
        if key != "report":
            row[key if key not in row else f"response_{key}"] = value
    yield row


class RetrendStream(RetrendSessionStream):
    """One Retrend report, read per (store_num, duration) partition, one calendar period at a time;
    the bookmark is the end of the last period read, as `WindowedStream`'s is."""

    http_method = "POST"
    path = "/v2/reports/{endpoint}"  # general or run-now, from the request's context
    primary_keys = ("store_num", "duration", "start_date")
    replication_key = "start_date"
    report: t.ClassVar[str]

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        # Figures learned from the answers are added to the schema: each instance gets its own copy.
        self.schema = copy.deepcopy(type(self).schema)  # type: ignore[misc,arg-type]  # streams declare schema as a class dict
        super().__init__(*args, **kwargs)
        self._partitions_done: list[tuple[bool, bool]] = []  # (found a report, passed a period) per partition

    @property
    def partitions(self) -> list[dict]:
        """One partition, and one bookmark, per configured store and duration."""
        stores = dict.fromkeys(self.vendor_config["store_nums"])  # duplicates would repeat requests
        durations = dict.fromkeys(self.vendor_config.get("durations") or ["daily"])
        return [{"store_num": store, "duration": duration} for store in stores for duration in durations]

    def check_status(self, response: requests.Response) -> None:
        if response.status_code == 404:
            return  # no report for this period (yet): see parse_response
        super().check_status(response)

    # -- requests and records ------------------------------------------------------

    def prepare_request_payload(self, context: Context | None, next_page_token: t.Any) -> dict:
        assert context is not None
        return {
            "store_num": context["store_num"],
            "report": self.report,
            "duration": context["duration"],
            "start_date": context["start_date"],  # always explicit: "latest" would drift between calls
        }

    def parse_response(self, response: requests.Response) -> t.Iterable[dict]:
        if response.status_code == 404:
            self.log_missing_report(response)
            return
        rows = list(report_rows(self.response_json(response)))
        asked = json.loads(response.request.body or b"{}")  # type: ignore[arg-type]  # our JSON payload: bytes
        where = f"store_num {asked.get('store_num')}, {asked.get('duration')} period {asked.get('start_date')}"
        if not rows:
            self.logger.warning("%s: %s returned no report object for %s: taken as no report yet",
                                self.name, describe_response(response), where)
        for row in rows:
            other = other_period(row, asked.get("duration"), asked.get("start_date"))
            if other:
                self.logger.warning("%s: %s answered %s with a report for %s: not a report of the period asked, "
                                    "taken as no report yet", self.name, describe_response(response), where, other)
            else:
                yield row

    def log_missing_report(self, response: requests.Response) -> None:
        """A 404 for a period: logged here; what it means is decided per partition in get_records."""
        asked = json.loads(response.request.body or b"{}")  # type: ignore[arg-type]  # our JSON payload: bytes
        self.logger.info(
            "%s; no report for store_num %s, %s period %s",
            self.error_line(response), asked.get("store_num"), asked.get("duration"), asked.get("start_date"),
        )

    def retry_until(self, period_end: dt.date) -> dt.date:
        """The day from which a missing report of a period ending `period_end` is no longer asked for."""
        return period_end + dt.timedelta(days=MISSING_REPORT_RETRY_DAYS)

    def is_settled(self, period_end: dt.date) -> bool:
        """Whether a period ended long enough ago that a missing report is no longer waited for."""
        return dt.datetime.combine(self.retry_until(period_end), dt.time(), UTC) <= self.end_date

    def periods_to_read(self, context: Context) -> t.Iterator[tuple[dt.date, dt.date, bool]]:
        """(start, end exclusive, completed) of each period this run reads for a partition."""
        duration = context["duration"]
        bookmark = self.bookmark(context)
        first = resume_from(bookmark, self.start_date, self.lookback_days)
        self.warn_if_past_end(bookmark, first)
        # Worded as every stream's first line is (core/streams.py, core/async_stream.py): grep-able alike.
        where = f"{self.name}{for_context(context)}"
        if bookmark is None:
            self.logger.info("%s: no bookmark; starting at start_date %s: %s periods from the one holding %s",
                             where, iso(first), duration, first.date())
        else:
            self.logger.info("%s: resuming from bookmark %s less %d lookback day(s): %s periods from the one holding %s",
                             where, iso(bookmark), self.lookback_days, duration, first.date())
        include_current = bool(self.vendor_config.get("refresh_current_period"))
        return periods(first, self.end_date, duration, include_current=include_current)

    def has_reported_before(self) -> bool:
        """Whether some partition of this stream has a bookmark: Retrend has answered it with reports,
        so a 404 is about a period, not a wrong base_url or organization."""
        return any(
            partition.get("replication_key_value") for partition in self.stream_state.get("partitions") or []
        )

    def get_records(self, context: Context | None) -> t.Iterable[dict]:
        """Each period's report, and a bookmark after each period; a missing report holds the bookmark
        until `MISSING_REPORT_RETRY_DAYS` after its period (docs/streams.md, "Retrend", for the rest)."""
        assert context is not None, "Retrend streams run per partition"
        store, duration = context["store_num"], context["duration"]
        bookmark_held = False  # a missing report still waited for: no bookmark past it in this run
        found = False
        waiting: list[tuple[dt.date, dt.date]] = []  # (start, end) of missing periods still asked for
        passed: list[dt.date] = []  # starts of missing periods past the horizon
        write = self.record_writer(context)
        for start, end, completed in self.periods_to_read(context):
            rows, arrived = self.fetch(store, duration, start, "general" if completed else "run-now")
            stamped = (self.stamp(row, store, duration, start, completed=completed) for row in rows)
            if write is None:
                self.extracted_at = arrived
                yield from stamped
            else:
                write((arrived, row) for row in stamped)
            found = found or bool(rows)
            if not completed:
                continue  # the period in progress is never bookmarked
            if not rows and not self.is_settled(end):
                waiting.append((start, end))
                bookmark_held = True
            elif not rows:
                passed.append(start)
            if not bookmark_held and (rows or self.has_reported_before()):
                self.checkpoint(context, dt.datetime.combine(end, dt.time(), UTC))
        self.report_missing(store, duration, found=found, waiting=waiting, passed=passed)
        self._partitions_done.append((found, bool(passed)))
        if len(self._partitions_done) == len(self.partitions):
            self.stop_if_retrend_never_answered()

    def report_missing(
        self, store: int, duration: str, *, found: bool, waiting: list[tuple[dt.date, dt.date]], passed: list[dt.date]
    ) -> None:
        where = f"{self.name} store_num {store}, {duration}"
        if waiting:
            self.logger.info(
                "%s: no report yet for %d period(s) (%s); asked again on each run until %s, "
                "the bookmark stays before %s",
                where, len(waiting), ", ".join(str(start) for start, _ in waiting[:10]),
                self.retry_until(waiting[0][1]), waiting[0][0],
            )
        if passed and not found:
            self.logger.warning(
                "%s: Retrend has no report for any period read, %d of them ended over %d days ago (%s to %s): "
                "has the store stopped reporting? (check retrend.store_nums)",
                where, len(passed), MISSING_REPORT_RETRY_DAYS, passed[0], passed[-1],
            )
        elif passed:
            self.logger.warning(
                "%s: no report for %d period(s) (%s) %d days after they ended: no longer waited for",
                where, len(passed), ", ".join(map(str, passed[:10])), MISSING_REPORT_RETRY_DAYS,
            )

    def stop_if_retrend_never_answered(self) -> None:
        """After the last partition: no report for any store, ever, and periods long over: not a
        store that stopped reporting but a base_url or organization that is wrong."""
        if any(found for found, _ in self._partitions_done) or self.has_reported_before():
            return
        if any(passed for _, passed in self._partitions_done):
            raise FatalAPIError(
                f"{self.name}: Retrend has no report for any period of any store, not even for periods that "
                f"ended over {MISSING_REPORT_RETRY_DAYS} days ago (check retrend.base_url, retrend.organization_id "
                "and retrend.store_nums, or start later with start_date)"
            )

    def fetch(self, store: int, duration: str, start: dt.date, endpoint: str) -> tuple[list[dict], dt.datetime]:
        """The report rows for one period and when their answer arrived, from the run's cache when this
        run has asked already."""
        key = (store, self.report, duration, start.isoformat())
        cache: collections.OrderedDict = self.run.shared("retrend.responses", collections.OrderedDict)
        if key in cache:
            self.logger.debug("%s: %s from this run's cache", self.name, key)
            cache.move_to_end(key)
            text, arrived = cache[key]
            return json.loads(text), arrived
        rows = list(
            self.request_records(
                {"store_num": store, "duration": duration, "start_date": start.isoformat(), "endpoint": endpoint}
            )
        )
        arrived = self.last_answer_at() or dt.datetime.now(UTC)
        cache[key] = (json.dumps(rows), arrived)  # a snapshot: the rows below are changed on their way out
        if len(cache) > RESPONSE_CACHE_SIZE:  # bounded: a multi-year backfill must not grow memory
            cache.popitem(last=False)
        return rows, arrived

    def post_process(self, row: dict, context: Context | None = None) -> dict | None:
        self.learn_figures(row)
        return super().post_process(row, context)

    @cached_property
    def columns(self) -> StreamColumns:
        """The report's declared fields and the figures learned from Retrend's answers (core/layouts.py)."""
        declared = {name: schema for name, schema in self.schema["properties"].items() if name not in self.catalog_columns}
        return StreamColumns(declared, self.catalog_columns, json=True, memory=lambda: ColumnMemory(self.stream_state))

    def learn_figures(self, row: dict) -> None:
        """Give the report's top-level fields columns of their own, typed from their values and announced
        before the first row that has them: the document names the figures but not their fields."""
        names = [name for name, value in row.items() if value is not None and not name.startswith("vendor_")
                 and (name not in self._declared_fields or name in self.columns.learned)]
        declare = self.columns.plan(names, [[row[name] for name in names]])
        if declare:
            self.announce_columns({name: column.schema(LEARNED_FIGURE) for name, column in declare.items()})
            self.logger.info("%s: %d column(s) learned from Retrend's answer: %s", self.name, len(declare),
                             listed([f"{name} ({column.kind})" for name, column in declare.items()]))

    def make_coercion(self) -> SchemaCoercion:
        columns = self.columns
        return SchemaCoercion(self.schema, types=columns.types, strict=columns.learned, widen=self.widen_figure,
                              widenable=columns.widenable)

    def widen_figure(self, name: str) -> None:
        """A learned whole-number figure got a fraction: a number column from now on."""
        self.columns.learn(name, NUMBER)
        self.announce_columns({name: NUMBER.schema(LEARNED_FIGURE)})

    def undeclared_columns(self) -> dict[str, ColumnType]:
        return self.columns.undeclared()

    def newly_typed_columns(self) -> set[str]:
        return self.columns.new

    def stamp(self, row: dict, store: int, duration: str, start: dt.date, *, completed: bool) -> dict:
        """Give a row its key as requested; a vendor value that disagrees is kept as `vendor_<field>`."""
        for field, value in (("store_num", store), ("duration", duration), ("start_date", start.isoformat())):
            sent = row.get(field)
            if sent is not None and not _agrees(field, sent, value):
                self.logger.warning(
                    "%s: Retrend sent %s %r for a request with %r; the row keeps the requested value, "
                    "and Retrend's in _extra_fields.vendor_%s", self.name, field, sent, value, field,
                )
                row[f"vendor_{field}"] = sent
            row[field] = value
        row["_period_completed"] = completed
        return row


def other_period(row: dict, duration: str, start: str) -> str | None:
    """The period a report says it is for, when that is plainly another than (duration, start), else None;
    an unreadable date or duration is no contradiction (`stamp` keeps it beside the requested one)."""
    sent_duration = str(row.get("duration") or duration).strip().lower()
    try:
        sent_start = dt.date.fromisoformat(str(row.get("start_date") or start).strip()[:10]).isoformat()
    except ValueError:
        sent_start = start
    if sent_duration == duration and sent_start == start:
        return None
    if sent_duration != duration and sent_duration not in DURATIONS:
        sent_duration = duration  # not a duration at all: not another period
        if sent_start == start:
            return None
    return f"the {sent_duration} period starting {sent_start}"


def _agrees(field: str, sent: t.Any, value: t.Any) -> bool:
    text = str(sent).strip().lower()
    return text[:10] == value if field == "start_date" else text == str(value).lower()
