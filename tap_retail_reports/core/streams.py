"""Base stream classes every vendor builds on.

`ReportStream` is a Singer SDK RESTStream with this project's policies: retries
with Retry-After, one-line error messages with no secret in them, a shared
per-vendor rate limit, and no vendor field ever dropped (unknown fields travel
in `_extra_fields`). `WindowedStream` adds date windows with a bookmark written
after each finished window, so a run that dies resumes at the first window it
did not finish.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import random
import re
import sys
import threading
import time
import typing as t
from functools import cached_property
from urllib.parse import urlsplit

import requests
from singer_sdk import RESTStream
from singer_sdk.exceptions import (
    AbortedSyncFailedException,
    AbortedSyncPausedException,
    FatalAPIError,
    RetriableAPIError,
)
from singer_sdk.helpers._util import utc_now
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.helpers.jsonpath import extract_jsonpath

from tap_retail_reports.core.auth import TokenAuthenticator, TokenRejected, expiry_epoch
from tap_retail_reports.core.catalog import follow_catalog, undeclared_columns_message
from tap_retail_reports.core.environment import CertificateProblem
from tap_retail_reports.core.errors import TapError
from tap_retail_reports.core.fast_records import RecordLines, blocker, nested_deselection, write_rows
from tap_retail_reports.core.http import (
    LimitedSession,
    RateLimiter,
    describe_response,
    retry_after_seconds,
)
from tap_retail_reports.core.log_lines import MESSAGE_WIDTH, VENDOR_WORDS, excerpt, readable_text, shortened
from tap_retail_reports.core.outage import OutageProbes, VendorHealth, VendorUnavailable
from tap_retail_reports.core.pace import Abandoned, Pace, PacedSession, abandonable_sleep, abandoned
from tap_retail_reports.core.records import SchemaCoercion
from tap_retail_reports.core.redact import redact
from tap_retail_reports.core.run import RunContext
from tap_retail_reports.core.run_outcome import ReaderGone
from tap_retail_reports.core.run_stats import FULL_TABLE, NO_BOOKMARK_YET, StreamStats
from tap_retail_reports.core.window_fetcher import in_window_order
from tap_retail_reports.core.windows import Window, day_windows, iso, parse_when, resume_from

if t.TYPE_CHECKING:
    from backoff.types import Details
    from singer_sdk.helpers._batch import BaseBatchFileEncoding, BatchConfig
    from singer_sdk.helpers.types import Context, Record
    from singer_sdk.metrics import Counter
    from singer_sdk.singerlib import RecordMessage
    from singer_sdk.singerlib.catalog import Catalog


EXTRA_FIELDS = "_extra_fields"
EXTRA_FIELDS_SCHEMA = {
    "type": ["object", "null"],
    "additionalProperties": True,
    "description": "Fields the vendor returned that this tap's schema does not declare.",
}


# Failures that end one stream but not the run: the vendor refused, gave no usable answer,
# or kept failing after every retry. Anything else is a bug and stops the run.
STREAM_FAILURES = (FatalAPIError, RetriableAPIError, TapError, requests.RequestException)
ANSWER_READ = 4000  # characters of an error answer read for the vendor's words (cut in log lines; whole at DEBUG)
RETRY_JITTER = 0.2  # a retry waits up to this share more than asked: refused workers do not retry in step
# What the SDK retries; a call that still ends in one of these, of the outage kind, puts its vendor down.
RETRIED_ERRORS = (RetriableAPIError, requests.exceptions.ConnectionError, requests.exceptions.Timeout,
                  requests.exceptions.ChunkedEncodingError, ConnectionResetError)


def failure_reason(stream_name: str, error: BaseException) -> str:
    """One redacted line saying why a stream stopped, without the stream's name in front."""
    reason = str(error).removeprefix(f"{stream_name}: ")
    if isinstance(error, RetriableAPIError):
        reason = f"gave up after repeated failures: {reason}"
    elif isinstance(error, requests.RequestException):
        reason = f"network error: {type(error).__name__}: {reason}"
    return redact(" ".join(reason.split()))


class _DropRepeatedLines(logging.Filter):
    """Lines that another line already says, on a stream's logger: `backoff`'s for each retry
    and the give-up (`backoff_handler` logs each retry; a give-up ends in the failure summary),
    and the SDK's "unhandled error" for a failure that `ReportStream.sync` handles."""

    BACKOFF = re.compile(r"(Backing off|Giving up) \w+\(\.\.\.\) ")

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if self.BACKOFF.match(message):
            return False
        return not (
            message.startswith("An unhandled error occurred while syncing")
            # logged inside the SDK's `except`; a dry run's record limit (`--test`) is no error either
            and isinstance(sys.exc_info()[1], (*STREAM_FAILURES, AbortedSyncFailedException, AbortedSyncPausedException,
                                               ReaderGone))
        )


_DROP_REPEATED_LINES = _DropRepeatedLines()


def for_context(context: Context | None) -> str:
    """A partition for a log line, in words: " for warehouse_id BLR01", or "" for none."""
    return " for " + ", ".join(f"{key} {value}" for key, value in context.items()) if context else ""


def add_extra_fields(row: dict, extra: dict) -> dict:
    """Put fields the schema does not declare into the row's `_extra_fields`, beside any already there."""
    if extra:
        row[EXTRA_FIELDS] = {**(row.get(EXTRA_FIELDS) or {}), **extra}
    return row


class ReportStream(RESTStream):
    """A vendor report over HTTP. Subclasses set `vendor` (the config key) and the usual SDK attributes."""

    vendor: t.ClassVar[str]
    default_base_url: t.ClassVar[str]
    default_lookback_days: t.ClassVar[int] = 1
    auth_hint: t.ClassVar[str] = ""  # appended to 401/403 errors: which settings to check

    records_jsonpath = "$[*]"
    extra_retry_statuses: tuple[int, ...] = (429,)
    outage_statuses: tuple[int, ...] = ()  # beside 5xx: answers that say the vendor is not answering
    max_tries: t.ClassVar[int] = 6  # per call; 1 while the vendor is down (see `backoff_max_tries`)
    backoff_factor = 1.0  # seconds before the first retry; doubles each time, capped at 60
    timeout = (30, 300)  # type: ignore[assignment]  # seconds to connect, seconds between bytes; requests takes both

    def __init__(self, *args: t.Any, run: RunContext, **kwargs: t.Any) -> None:
        self.run = run  # what this stream needs from its run: bounds, shared objects, failures, job scheduler
        super().__init__(*args, **kwargs)
        properties = self.schema.setdefault("properties", {})
        properties.setdefault(EXTRA_FIELDS, EXTRA_FIELDS_SCHEMA)
        self._declared_fields = frozenset(properties)
        self._answers = threading.local()  # per thread: when the last answer it asked for arrived
        self.logger.addFilter(_DROP_REPEATED_LINES)  # the same filter object is added once per logger
        self.outage_probes.offer(self.vendor, self.health, self.probe_if_selected)

    # -- the catalog: columns a user declares, and the replication key -------------------------

    catalog_columns: t.Mapping[str, dict] = {}  # properties the catalog declares and the tap does not

    def apply_catalog(self, catalog: Catalog) -> None:
        """The SDK's, then what the tap adds (core/catalog.py): a replication key the stream cannot honour
        stops the tap before any request; columns the catalog declares beyond the tap's are followed."""
        own_key = self.replication_key
        super().apply_catalog(catalog)
        pinned = follow_catalog(self.name, catalog, own_key, self.replication_key, self.schema)
        self.replication_key = own_key  # the windows are read by the stream's own key, whatever the SDK took
        if pinned:
            self.catalog_columns = pinned
            self.schema = {**self.schema, "properties": {**self.schema["properties"], **pinned}}  # type: ignore[misc]  # an instance's own copy
            self._declared_fields = frozenset(self.schema["properties"])
            self._coercion_cache = None

    @cached_property
    def stats(self) -> StreamStats:
        """This stream's counters for this run: progress lines and the end-of-run summary."""
        return StreamStats()

    # -- one stream's failure is not the run's ----------------------------------

    def sync(self, context: Context | None = None) -> None:  # type: ignore[misc]  # wraps the SDK's final sync
        """The SDK's sync; an expected failure is recorded for the run's summary and the
        run goes on with the other streams. The bookmark stays at the last finished window.
        A vendor-wide failure (down, credentials refused) is said by the first stream it stops."""
        try:
            super().sync(context)
        except STREAM_FAILURES as error:
            reason = failure_reason(self.name, error)
            if isinstance(error, VendorUnavailable):
                if self.health.first_to_say(reason):  # the vendor's line: its other streams stop on it quietly
                    self.logger.error("%s", shortened(reason, MESSAGE_WIDTH))
                self.logger.info("%s: stopped by the %s failure above; its bookmark stays at %s",
                                 self.name, self.vendor, self.bookmark_text())
            else:
                stopped, kept = f"{self.name}: stopped: ", f"; its bookmark stays at {self.bookmark_text()}"
                self.logger.error("%s%s%s", stopped, shortened(reason, MESSAGE_WIDTH - len(stopped) - len(kept)), kept)
            self.run.record_failure(self.name, reason)

    @property
    def health(self) -> VendorHealth:
        """The vendor's standing in this run (down, refused), shared by its streams."""
        return self.run.shared(f"{self.vendor}.health", lambda: VendorHealth(self.vendor))

    @property
    def outage_probes(self) -> OutageProbes:
        """The run's outage probes (core/outage.py): every vendor's, started when a call finds one down."""
        return self.run.shared("run.outage_probes", lambda: OutageProbes(self.run.logger))

    def probe(self) -> None:
        """One cheap call that says whether the vendor answers, made on a thread of its own when a call
        finds another vendor down (core/outage.py). By default the vendor's token, when the tap fetches one
        (the run needs it anyway); a vendor without one names a call of its own."""
        authenticator = self.authenticator
        if isinstance(authenticator, TokenAuthenticator) and authenticator.token.renewable:
            authenticator.token.get()

    def probe_if_selected(self) -> bool:
        """`probe`, if this stream is selected (False: another stream of the vendor may probe). Whatever it
        meets is left to the vendor's streams to say, when their turn comes."""
        if not self.selected:
            return False
        with contextlib.suppress(Exception):  # the vendor's streams meet the same failure, and say it
            self.probe()
        return True

    @property
    def reads_regardless_of_dates(self) -> bool:
        """Whether the stream reads what the vendor has now, whatever the run's dates (full table, snapshots)."""
        return not self.replication_key

    def bookmark_text(self) -> str:
        """This stream's bookmark(s) for log lines: one value, a range over partitions, or none."""
        if not self.replication_key:
            return FULL_TABLE
        states = self.state_manager.get_state_partitions() or [self.stream_state]
        values = sorted(str(s["replication_key_value"]) for s in states if s.get("replication_key_value"))
        if not values:
            return NO_BOOKMARK_YET
        if values[0] == values[-1]:
            return values[0] if len(states) == 1 else f"{values[0]} ({len(states)} partitions)"
        return f"{values[0]} to {values[-1]} ({len(states)} partitions)"

    def log_sync_costs(self) -> None:
        """The SDK's end-of-stream hook: one summary line per selected stream, and the columns it typed
        from the data that the catalog does not declare (with a block that pins them)."""
        if self.selected:
            self.logger.info("%s: summary: %s; bookmark %s", self.name, self.stats.describe(), self.bookmark_text())
            undeclared = undeclared_columns_message(self.name, self.undeclared_columns())
            if undeclared:
                self.logger.info("%s", undeclared)

    def undeclared_columns(self) -> t.Mapping[str, t.Any]:
        """The columns this run typed from the data that neither the tap nor the catalog declares."""
        return {}

    # -- configuration --------------------------------------------------------

    @property
    def vendor_config(self) -> dict:
        return self.config.get(self.vendor) or {}

    @property
    def url_base(self) -> str:
        return (self.vendor_config.get("base_url") or self.default_base_url).rstrip("/")

    @property
    def lookback_days(self) -> int:
        value = self.config.get("lookback_days")
        return self.default_lookback_days if value is None else int(value)

    @property
    def start_date(self) -> dt.datetime:
        return self.run.start_date

    @property
    def end_date(self) -> dt.datetime:
        return self.run.end_date

    # The limiter's window; tests shrink it together with the sandbox's clock.
    rate_limit_period: t.ClassVar[float] = 60.0

    def requests_per_minute(self) -> int | None:
        """The vendor's request budget per `rate_limit_period`; None for no client-side limit."""
        return None

    # The most requests to the vendor at once (`<vendor>.concurrent_windows`): a ceiling, below which
    # the vendor's pace adapts to its answers (core/pace.py). A vendor sets a default its limits allow.
    default_concurrent_windows: t.ClassVar[int] = 1

    @property
    def concurrent_windows(self) -> int:
        return int(self.vendor_config.get("concurrent_windows") or self.default_concurrent_windows)

    @property
    def concurrency_setting(self) -> str:
        """The setting that sets the vendor's ceiling, for log lines."""
        return f"{self.vendor}.concurrent_windows"

    @property
    def pace(self) -> Pace:
        """The vendor's requests at once, learned from its answers and shared by its streams, windows and jobs."""
        return self.run.shared(f"{self.vendor}.pace", lambda: Pace(
            self.vendor, self.concurrent_windows, self.run.logger, ceiling_setting=self.concurrency_setting))

    # -- HTTP -----------------------------------------------------------------

    @property
    def requests_session(self) -> requests.Session:
        # RESTStream.__init__ already made a plain Session: replace it, or nothing is limited.
        if not isinstance(self._requests_session, LimitedSession):
            limit = self.requests_per_minute()
            limiter = (
                self.run.shared(
                    f"{self.vendor}.rate_limiter",
                    lambda: RateLimiter(limit, self.rate_limit_period, sleep=abandonable_sleep, label=self.vendor,
                                        logger=self.run.logger),
                )
                if limit
                else None
            )
            self._requests_session = PacedSession(limiter, self.stats, self.pace)
        return self._requests_session

    def call(
        self,
        method: str,
        url: str,
        *,
        authenticated: bool = True,
        context: Context | None = None,
        **request: t.Any,
    ) -> requests.Response:
        """One request to the vendor's API, by path or absolute URL (a HAL href, a job link),
        with the stream's authenticator, headers, retries, rate limit and metrics.

        `authenticated=False` is for the token call itself: no token, and a 401 means the
        configured credentials.
        """
        if not url.startswith(("http://", "https://")):
            url = f"{self.url_base}{url}"
        headers = {**self.http_headers, **request.pop("headers", {})}
        if authenticated:
            prepared = self.build_prepared_request(method=method, url=url, headers=headers, **request)
            return self.request_decorator(self._request)(prepared, context)
        prepared = requests.Request(method, url, headers=headers, **request).prepare()
        return self.request_decorator(self._send_unauthenticated)(prepared, context)

    def oauth_token(self, method: str, path: str, client_id: str, client_secret: str, *,
                    on_refresh_token: t.Callable[[str], None] | None = None,
                    **request: t.Any) -> tuple[str, float | None]:
        """An OAuth2 token call with HTTP Basic client credentials: (access_token, expiry epoch).
        `on_refresh_token` is given the answer's refresh_token, when it has one."""
        redact.add_basic(client_id, client_secret)  # its Base64 form too, should an answer echo it
        response = self.call(method, path, authenticated=False, auth=(client_id, client_secret), **request)
        body = self.response_json(response)
        token = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token.strip():
            raise self.unreadable(response, "returned no access_token")
        refresh_token = body.get("refresh_token")
        redact.add(token, refresh_token)  # before anything could log them
        if on_refresh_token is not None and isinstance(refresh_token, str) and refresh_token.strip():
            on_refresh_token(refresh_token)
        self.logger.info("%s: new access token, valid %ss", self.vendor, body.get("expires_in", "an unknown time"))
        return token, expiry_epoch(body.get("expires_in"), time.time())

    # -- when an answer arrived: its records' time_extracted -----------------------------------

    extracted_at: dt.datetime | None = None  # set by a stream that knows when the rows it emits arrived

    def _request(self, prepared_request: requests.PreparedRequest, context: Context | None) -> requests.Response:
        """The SDK's call; the time its answer arrived is noted for the thread that asked for it."""
        response = super()._request(prepared_request, context)
        self._answers.arrived = utc_now()
        return response

    def last_answer_at(self) -> dt.datetime | None:
        """When the last answer this thread asked for arrived (the rows it parses come from it)."""
        return getattr(self._answers, "arrived", None)

    def _generate_record_messages(self, record: Record) -> t.Generator[RecordMessage, None, None]:
        """The SDK's RECORD messages, stamped with when their answer (or file) arrived, not when written."""
        arrived = self.extracted_at or self.last_answer_at()
        for message in super()._generate_record_messages(record):
            if arrived is not None:
                message.time_extracted = arrived
            yield message

    def _send_unauthenticated(self, request: requests.PreparedRequest, context: Context | None) -> requests.Response:
        response = self.requests_session.send(request, timeout=self.timeout)
        status = response.status_code
        if 400 <= status < 500 and status not in self.extra_retry_statuses:
            # The token call: any refusal (401, or OAuth's 400 invalid_grant) is the vendor's settings.
            raise self.credentials_refused(response)
        self.check_status(response)
        return response

    def request_decorator(self, func: t.Callable) -> t.Callable:
        """The SDK's retries, inside the vendor's standing: no call once its credentials were
        refused; one try per call while it is down; a call that gives up on an outage puts it down."""
        retried = super().request_decorator(func)

        def call(*args: t.Any, **kwargs: t.Any) -> requests.Response:
            self.health.check()  # lost (credentials refused, certificate not accepted): nothing is sent
            tries = self.backoff_max_tries()
            try:
                response = retried(*args, **kwargs)
                self.health.answered()  # before call_ended: calls waiting for this one's verdict see it
            except CertificateProblem as problem:  # not retried: the same settings meet the same certificate
                raise self.health.lose(f"{self.vendor}: {problem}") from None
            except RETRIED_ERRORS as error:
                if self.is_outage(error):
                    raise self.health.went_down(self.outage_reason(error, tries)) from None
                raise
            finally:
                self.health.call_ended()
            return response

        return call

    def backoff_max_tries(self) -> int:  # the SDK's; backoff asks it before each call
        return 1 if self.health.down else self.max_tries

    def is_outage(self, error: BaseException) -> bool:
        """No answer, or an answer that says the vendor is not working (5xx): not a refusal or a 429."""
        if isinstance(error, RetriableAPIError):
            status = error.response.status_code if error.response is not None else 0
            return status >= 500 or status in self.outage_statuses
        return True

    def outage_reason(self, error: BaseException, tries: int) -> str:
        return (f"{self.vendor} is down: {_short_error(error)}, {tries} attempt(s); its other calls this run try once each "
                "and fail at once while it stays down")

    def credentials_refused(self, response: requests.Response) -> VendorUnavailable:
        """A 401/403: the vendor's settings are wrong for every stream, said for the vendor."""
        return self.health.lose(self.error_line(response, self.vendor))

    def validate_response(self, response: requests.Response) -> None:
        authenticator = self.authenticator
        auth = authenticator if isinstance(authenticator, TokenAuthenticator) else None
        token = auth.token_of(response.request) if auth else None
        if auth and token is not None and response.status_code == 401:
            self.health.check()  # another call's renewal was refused meanwhile: said once, by that call
            if auth.token.rejected(token):  # the call that renews the token says so (core/auth.py)
                raise TokenRejected(self.error_line(response), response)
            raise self.credentials_refused(response)
        self.check_status(response)
        if auth and token is not None:
            auth.token.accepted(token)

    def check_status(self, response: requests.Response) -> None:
        status = response.status_code
        if status in self.extra_retry_statuses or status >= 500:
            raise RetriableAPIError(self.error_line(response), response)
        if status in (401, 403):
            raise self.credentials_refused(response)
        if status >= 400:
            error = FatalAPIError(self.error_line(response))
            error.response = response  # type: ignore[attr-defined]  # its status tells "gone" (404/410) from "refused"
            raise error

    def error_line(self, response: requests.Response, who: str | None = None) -> str:
        """One line for a failed call: stream (or `who`), call, status, the vendor's own words, a hint."""
        line = f"{who or self.name}: {describe_response(response)}"
        detail = redact(self.vendor_error_detail(response))
        # OAuth servers refuse a bad grant or client with 400 (invalid_grant, invalid_client).
        refused = response.status_code in (401, 403) or "invalid_grant" in detail or "invalid_client" in detail
        hint = f" ({self.auth_hint})" if refused and self.auth_hint else ""
        if detail:  # the vendor's words, an excerpt of a long answer (an HTML page); whole at DEBUG
            words = excerpt(detail, VENDOR_WORDS)
            if words != detail:
                self.logger.debug("%s: the vendor's whole answer: %s", line, detail)
            line += f": {words}"
        return redact(line + hint)

    def vendor_error_detail(self, response: requests.Response) -> str:
        """The vendor's error text; vendors with another error shape override this."""
        try:
            body = response.json()
        except ValueError:
            return readable_text(response.text[:ANSWER_READ])
        if isinstance(body, dict):
            error, description = body.get("error"), body.get("error_description")
            if isinstance(error, str) and isinstance(description, str):  # OAuth's pair: code and words
                return f"{error}: {description}"
            for key in ("error", "message", "error_description", "detail"):
                value = body.get(key)
                if isinstance(value, str):
                    return value
                if isinstance(value, dict) and isinstance(value.get("message"), str):
                    return value["message"]
        return json.dumps(body)[:ANSWER_READ]

    def backoff_wait_generator(self) -> t.Generator[float, t.Any, None]:
        """Exponential waits, except when the vendor says how long (Retry-After)."""

        def waits() -> t.Generator[float, t.Any, None]:
            error = yield 0.0  # backoff primes the generator (this value is dropped), then sends each exception
            attempt = 0
            while True:
                if abandoned():  # its stream stopped, or the run: no retry (core/pace.py)
                    raise Abandoned(f"{self.name}: not retried, its work has ended") from error
                if isinstance(error, TokenRejected):  # a new token is ready: no reason to wait
                    error = yield 0.0
                    continue
                if self.is_outage(error):
                    if not self.health.retry_turn():  # another call probed: it answered
                        error = yield 0.0
                        continue
                    self.outage_probes.suspect(self.vendor)  # the vendors not heard from yet, in parallel
                hinted = retry_after_seconds(getattr(error, "response", None))
                delay = hinted if hinted is not None else min(self.backoff_factor * 2**attempt, 60.0)
                attempt += 1
                error = yield delay

        return waits()

    def backoff_jitter(self, value: float) -> float:
        """Up to a fifth more, never less: Retry-After is a "not before", and workers refused together
        must not all retry at the same instant (the vendor's pace holds them all until then too)."""
        return value * (1 + random.uniform(0, RETRY_JITTER))

    def backoff_handler(self, details: Details) -> None:
        error = details.get("exception")
        wait = details.get("wait", 0.0)
        self.stats.add(retries=1, retry_wait=wait)
        if isinstance(error, TokenRejected):
            return  # validate_response said it: "... refused (HTTP 401); retrying with a new one"
        self.logger.warning(
            "%s: attempt %d of %d failed (%s); %s",
            self.name,
            details.get("tries", 0),
            self.backoff_max_tries(),
            redact(_short_error(error)),
            f"retrying in {wait:.1f}s" if round(wait, 1) else "retrying at once",
        )

    # -- records --------------------------------------------------------------

    def unreadable(self, response: requests.Response, problem: str) -> FatalAPIError:
        """The error for an answer the tap cannot read: one line, stream and call first."""
        return FatalAPIError(redact(f"{self.name}: {describe_response(response)} {problem}"))

    def response_json(self, response: requests.Response) -> t.Any:
        try:
            return response.json()
        except ValueError:
            pass
        try:  # a byte-order mark, or a charset header that does not match the body
            return json.loads(response.content.decode("utf-8-sig"))
        except ValueError as exc:
            kind = response.headers.get("Content-Type", "no content type")
            raise self.unreadable(response, f"returned a body that is not JSON ({kind})") from exc

    def parse_response(self, response: requests.Response) -> t.Iterable[dict]:
        yield from extract_jsonpath(self.records_jsonpath, input=self.response_json(response))

    _coercion_cache: SchemaCoercion | None = None

    @property
    def coercion(self) -> SchemaCoercion:
        """The converters of the stream's columns as declared so far (announce_columns starts new ones)."""
        if self._coercion_cache is None:
            self._coercion_cache = self.make_coercion()
        return self._coercion_cache

    def make_coercion(self) -> SchemaCoercion:
        return SchemaCoercion(self.schema)

    def post_process(self, row: Record, context: Context | None = None) -> Record | None:
        """Type what the vendor sent loosely (numeric strings, non-ISO times); keep unknown fields."""
        self.coercion(row)
        unknown = row.keys() - self._declared_fields
        if unknown:
            add_extra_fields(row, {key: row.pop(key) for key in unknown})
        self.stats.add(rows=1)
        return row

    def get_new_paginator(self) -> None:
        return None  # one response a request; windows are iterated in get_records

    _open_lines: RecordLines | None = None  # the fast path's RECORD lines not written yet (core/fast_records.py)

    def announce_columns(self, columns: t.Mapping[str, dict]) -> None:
        """Declare `columns` ({name: schema}; new, or retyped) and send the stream's new SCHEMA message,
        before the first record that has them."""
        properties = self.schema["properties"]
        # With a catalog, records are conformed to the catalog's schema (the SDK's input schema), which
        # would drop a column it does not name: it learns them too.
        given = (self._input_schema or {}).get("properties")
        for name, schema in columns.items():
            properties[name] = dict(schema)
            if given is not None and given is not properties:
                given[name] = dict(schema)
            # The SDK looks up every record field's selection; one the catalog does not name is
            # resolved from its parent on each lookup. Resolve it once (the same answer).
            self.mask[("properties", name)] = self.mask[("properties", name)]
        self._declared_fields = frozenset(properties)
        self._coercion_cache = None
        # The SDK's stream maps hold the schema they were built with (records are conformed to it): build
        # them again. Dropped first: the SDK keeps them when the schema it was given compares equal.
        self._tap.mapper.stream_maps.pop(self.name, None)
        self._tap.mapper.register_raw_stream_schema(self.name, self.schema, self.primary_keys)
        self._stream_maps = []
        if self._open_lines is not None:
            self._open_lines.flush()  # the rows before the new columns go out before their SCHEMA
        self._write_schema_message()


class WindowedStream(ReportStream):
    """A date-ranged report fetched window by window, bookmarked after each window.

    The bookmark is the end (exclusive) of the last finished window, as an ISO
    date-time: everything before it has been emitted. A run resumes at the
    bookmark less `lookback_days`, so restated rows are read again.
    """

    window_days_setting: t.ClassVar[str | None] = None  # vendor setting naming the window size
    _said_past_end = False  # see warn_if_past_end
    fixed_window_days: t.ClassVar[int | None] = None  # reports whose rows are per window (per-day aggregates)

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        if not any("properties" in prop or "items" in prop for prop in self.schema["properties"].values()):
            # post_process (SchemaCoercion) has typed every top-level value as the schema says; with no
            # nested object or array, the SDK's conformance pass per record would only repeat it.
            self.TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE

    @property
    def window_days(self) -> int:
        if self.fixed_window_days:
            return self.fixed_window_days
        if self.window_days_setting:
            return int(self.vendor_config.get(self.window_days_setting) or 1)
        return 1

    def bookmark(self, context: Context | None) -> dt.datetime | None:
        state = self.get_context_state(context)
        value = state.get("replication_key_value")
        if value is None or state.get("replication_key") != self.replication_key:
            return None
        try:
            return parse_when(value)
        except ValueError:
            self.logger.warning("%s: ignoring unreadable bookmark %r in STATE", self.name, value)
            return None

    def warn_if_past_end(self, bookmark: dt.datetime | None, start: dt.datetime) -> None:
        """A bookmark that puts this run's first window at or after end_date: say so (once per stream).
        A start_date in the future is the tap's to say, once for the run."""
        if bookmark is None or start < self.end_date or self._said_past_end:
            return
        self._said_past_end = True
        self.logger.warning("%s: end_date %s is before this run's first window, at %s (the bookmark less %d lookback "
                            "day(s)): nothing to read", self.name, iso(self.end_date), iso(start), self.lookback_days)

    def windows(self, context: Context | None) -> list[Window]:
        bookmark = self.bookmark(context)
        start = resume_from(bookmark, self.start_date, self.lookback_days)
        self.warn_if_past_end(bookmark, start)
        windows = list(day_windows(start, self.end_date, self.window_days))
        self.stats.add(windows_planned=len(windows))
        where = for_context(context)
        first = iso(windows[0].start) if windows else "nothing to read"
        if bookmark is None:
            self.logger.info(
                "%s%s: no bookmark; starting at start_date %s: %d window(s) from %s",
                self.name, where, iso(start), len(windows), first,
            )
        else:
            self.logger.info(
                "%s%s: resuming from bookmark %s less %d lookback day(s): %d window(s) from %s",
                self.name, where, iso(bookmark), self.lookback_days, len(windows), first,
            )
        return windows

    def get_records(self, context: Context | None) -> t.Iterable[dict]:
        """Each window's rows, then its bookmark. Windows are fetched on up to `concurrent_windows` worker
        threads, as many at once as the vendor's pace allows, and emitted here, in window order
        (core/window_fetcher.py); when the stream stops, its workers call the vendor no more. On the fast
        path (see `fast_path`) the rows are written here as RECORD lines, nothing goes back to the
        SDK's loop; they are all out before the window's STATE either way."""
        windows = self.windows(context)
        _ = self.requests_session  # made here, once: workers share it (and its rate limiter)
        write = self.record_writer(context)
        timed_rows = t.cast("t.Callable[[Window], t.Iterable[dict]]", lambda window: self.timed_rows(window, context))
        for window, rows in in_window_order(windows, timed_rows, self.concurrent_windows, self.name,
                                              stop=self.run.stop):
            pairs = t.cast("t.Iterable[tuple[dt.datetime, dict]]", rows)  # (when its answer arrived, row)
            if write is None:
                for self.extracted_at, row in pairs:
                    yield row
            else:
                write(pairs)
            self.checkpoint(context, window.end)

    def timed_rows(self, window: Window, context: Context | None) -> t.Iterator[tuple[dt.datetime, dict]]:
        """(when its answer arrived, row) for each row of a window, on whichever thread reads it."""
        for row in self.records_in_window(window, context):
            yield self.last_answer_at() or utc_now(), row

    def record_writer(self, context: Context | None) -> t.Callable[[t.Iterable[tuple[dt.datetime, dict]]], None] | None:
        """On the fast path, what writes rows (each with when its answer arrived) as RECORD lines at once,
        through `post_process`; None on the SDK's path, where `get_records` yields them."""
        if not self.fast_path:
            return None
        lines = self._open_lines = RecordLines(self, self._record_counter, lambda count: None)  # post_process counts
        partition = self.state_manager.get_state_partition_context(context) or {}
        return lambda rows: write_rows(lines, rows, lambda row: self.post_process(row, context), partition)

    # -- the fast record path (core/fast_records.py) ---------------------------------

    fast_record_path: t.ClassVar[bool] = True  # tests turn it off to compare with the SDK's per-record path

    @cached_property
    def fast_path(self) -> bool:
        """Whether this stream's records skip the SDK's per-record path; decided once, when it syncs."""
        reason = self.fast_path_blocker()
        if reason is not None and self.ABORT_AT_RECORD_COUNT is None:  # `--test` limits records: its verdict says so
            self.logger.info("%s: records go through the SDK's per-record path: %s", self.name, reason)
        return reason is None

    def fast_path_blocker(self) -> str | None:
        """What keeps this stream's records on the SDK's per-record path, or None."""
        reason = blocker(self)
        if reason is None and self.child_streams:
            reason = "the stream has child streams"
        if reason is None and nested_deselection(self):
            reason = "the catalog leaves out fields inside objects"
        if reason is None and not self.fast_record_path:
            reason = "the fast path is turned off"
        return reason

    _record_counter: Counter | None = None

    def get_record_counter(self, **kwargs: t.Any) -> Counter:
        """The SDK's record counter for this sync, kept so that the fast path counts its records in it."""
        self._record_counter = super().get_record_counter(**kwargs)
        return self._record_counter

    def records_in_window(self, window: Window, context: Context | None) -> t.Iterable[dict]:
        """The rows of one window. Request hooks get the window from `window_of(context)`;
        it travels as ISO strings so that metric lines can show it."""
        return self.request_records(
            {**(context or {}), "window_start": iso(window.start), "window_end": iso(window.end)}
        )

    @staticmethod
    def window_of(context: Context | None) -> Window:
        assert context and "window_start" in context, "called outside records_in_window"
        return Window(parse_when(context["window_start"]), parse_when(context["window_end"]))

    def checkpoint(self, context: Context | None, done_until: dt.datetime) -> None:
        """Record that every row before `done_until` has been emitted, and say so in STATE.

        In BATCH mode the rows are not out yet: they wait in the SDK's batch file until its
        BATCH message. The bookmark then waits too (see `get_batches`)."""
        if self._unbatched_checkpoints is not None:
            self._unbatched_checkpoints.append((context, done_until))
        else:
            self._advance_bookmark(context, done_until)
            self.run.pump_job_events()  # jobs other streams created meanwhile
            self.write_state_now()
        self.stats.add(windows=1)
        if self.stats.progress_due():
            planned = self.stats["windows_planned"]
            self.logger.info(
                "%s%s: progress: %d%s window(s) done, through %s; %s so far",
                self.name, for_context(context), self.stats["windows"],
                f" of {planned:.0f}" if planned else "", iso(done_until), self.stats.describe(),
            )

    def _advance_bookmark(self, context: Context | None, done_until: dt.datetime) -> None:
        state = self.get_context_state(context)
        state["replication_key"] = self.replication_key
        state["replication_key_value"] = iso(done_until)
        self.state_manager.finalize_state(state)

    _unbatched_checkpoints: list[tuple[Context | None, dt.datetime]] | None = None  # a list in BATCH mode

    def get_batches(
        self, batch_config: BatchConfig, context: Context | None = None
    ) -> t.Iterator[tuple[BaseBatchFileEncoding, list[str]]]:
        """BATCH mode: a bookmark advances only once the BATCH message holding its rows is out.

        The SDK writes each batch file, yields it here, then writes its BATCH message and a
        STATE. A checkpoint taken before a file was complete covers rows that are all in that
        file or an earlier one; it is applied after the file's BATCH message (so that even a
        STATE written on a signal never runs ahead of the data) and goes out with the next
        STATE: at worst a window is read again after a crash, never lost.
        """
        self._unbatched_checkpoints = []
        try:
            for encoding, manifest in super().get_batches(batch_config, context):
                covered, self._unbatched_checkpoints = self._unbatched_checkpoints, []
                yield encoding, manifest
                for checkpoint in covered:
                    self._advance_bookmark(*checkpoint)
            for checkpoint in self._unbatched_checkpoints:  # windows after the last file had no rows
                self._advance_bookmark(*checkpoint)
        finally:
            self._unbatched_checkpoints = None

    def _write_starting_replication_value(self, context: Context | None) -> None:
        """Skipped: the SDK would log config's start_date as a "bookmark value" when there is
        no bookmark, and without the lookback. `windows` says where this stream starts and why,
        and a windowed stream reads its bookmark itself (`bookmark`), not the SDK's starting value."""

    def write_state_now(self) -> None:
        """Write STATE even when no record came since the last one (the SDK skips it then)."""
        self.state_manager.is_flushed = False
        self._write_state_message()

    def _increment_stream_state(self, latest_record: Record, *, context: Context | None = None) -> None:
        """Bookmarks advance per finished window (see `checkpoint`), not per record:
        rows inside a window come in no guaranteed order."""


def _short_error(error: BaseException | None) -> str:
    """A failed attempt in a few words: the call and its status, or the call and the network error
    (whose own text repeats the URL with its query string)."""
    if error is None:
        return "unknown error"
    if isinstance(error, RetriableAPIError) and error.response is not None:
        return describe_response(error.response)
    request = getattr(error, "request", None)
    if isinstance(error, requests.RequestException) and request is not None and request.url:
        return f"{request.method} {urlsplit(request.url).path}: {type(error).__name__}"
    return f"{type(error).__name__}: {str(error)[:200]}"
