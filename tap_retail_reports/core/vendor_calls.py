"""A stream's calls to its vendor's API: retries with Retry-After, the vendor's rate limit and pace, one-line
errors with no secret in them, and the vendor's health (down, or lost for the run) shared by its streams."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import random
import threading
import time
import typing as t
from functools import cached_property
from urllib.parse import urlsplit

import requests
from singer_sdk import RESTStream
from singer_sdk.exceptions import FatalAPIError, RetriableAPIError

from tap_retail_reports.core import sdk
from tap_retail_reports.core.auth import TokenAuthenticator, TokenRejected, expiry_epoch
from tap_retail_reports.core.environment import CertificateProblem
from tap_retail_reports.core.http import RateLimiter, describe_response, retry_after_seconds
from tap_retail_reports.core.log_lines import VENDOR_WORDS, excerpt, readable_text
from tap_retail_reports.core.outage import OutageProbes, VendorHealth, VendorUnavailable
from tap_retail_reports.core.pace import Abandoned, Pace, PacedSession, abandonable_sleep, abandoned
from tap_retail_reports.core.redact import redact
from tap_retail_reports.core.run_stats import StreamStats
from tap_retail_reports.core.windows import UTC

if t.TYPE_CHECKING:
    from backoff.types import Details
    from singer_sdk import Tap
    from singer_sdk.helpers.types import Context

    from tap_retail_reports.core.run import RunContext

ANSWER_READ = 4000  # characters of an error answer read for the vendor's words (cut in log lines; whole at DEBUG)
RETRY_JITTER = 0.2  # a retry waits up to this share more than asked: refused workers do not retry in step
# What the SDK retries; a call that still ends in one of these, of the outage kind, puts its vendor down.
RETRIED_ERRORS = (RetriableAPIError, requests.exceptions.ConnectionError, requests.exceptions.Timeout,
                  requests.exceptions.ChunkedEncodingError, ConnectionResetError)


class VendorCalls(RESTStream):
    """The HTTP side of a report stream (core/streams.py builds on it). Subclasses set `vendor` (the config key)."""

    vendor: t.ClassVar[str]
    default_base_url: t.ClassVar[str]
    auth_hint: t.ClassVar[str] = ""  # appended to 401/403 errors: which settings to check

    extra_retry_statuses: tuple[int, ...] = (429,)
    outage_statuses: tuple[int, ...] = ()  # beside 5xx: answers that say the vendor is not answering
    max_tries: t.ClassVar[int] = 6  # per call; 1 while the vendor is down (see `backoff_max_tries`)
    backoff_factor = 1.0  # seconds before the first retry; doubles each time, capped at 60
    timeout = (30, 300)  # type: ignore[assignment]  # seconds to connect, seconds between bytes; requests takes both

    # The limiter's window; tests shrink it together with the sandbox's clock.
    rate_limit_period: t.ClassVar[float] = 60.0
    # The most requests to the vendor at once (`<vendor>.concurrent_windows`): a ceiling, below which
    # the vendor's pace adapts to its answers (core/pace.py). A vendor sets a default its limits allow.
    default_concurrent_windows: t.ClassVar[int] = 1

    def __init__(self, tap: Tap, *args: t.Any, run: RunContext, **kwargs: t.Any) -> None:
        self.tap = tap  # the SDK keeps it private: the mapper and the message writer are read from here
        self.run = run  # what this stream needs from its run: bounds, shared objects, failures, job scheduler
        self._answers = threading.local()  # per thread: when the last answer it asked for arrived
        self._paced_session: PacedSession | None = None
        super().__init__(tap, *args, **kwargs)
        self.outage_probes.offer(self.vendor, self.health, self.probe_if_selected)

    @cached_property
    def stats(self) -> StreamStats:
        """This stream's counters for this run: progress lines and the end-of-run summary."""
        return StreamStats()

    # -- settings ---------------------------------------------------------------

    @property
    def vendor_config(self) -> dict:
        return self.config.get(self.vendor) or {}

    @property
    def url_base(self) -> str:
        return (self.vendor_config.get("base_url") or self.default_base_url).rstrip("/")

    def requests_per_minute(self) -> int | None:
        """The vendor's request budget per `rate_limit_period`; None for no client-side limit."""
        return None

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

    # -- the vendor's health ----------------------------------------------------------

    @property
    def health(self) -> VendorHealth:
        """The vendor's standing in this run (down, refused), shared by its streams."""
        return self.run.shared(f"{self.vendor}.health", lambda: VendorHealth(self.vendor))

    @property
    def outage_probes(self) -> OutageProbes:
        """The run's outage probes (core/outage.py): every vendor's, started when a call finds one down."""
        return self.run.shared("run.outage_probes", lambda: OutageProbes(self.run.logger))

    def probe(self) -> None:
        """One cheap call that shows whether the vendor answers (core/outage.py): by default its token, when
        the tap fetches one; a vendor without one names a call of its own."""
        authenticator = self.authenticator
        if isinstance(authenticator, TokenAuthenticator) and authenticator.token.renewable:
            authenticator.token.get()

    def probe_if_selected(self) -> bool:
        """`probe`, if this stream is selected (False: another stream of the vendor may probe). What it
        meets is logged by the vendor's streams when their turn comes."""
        if not self.selected:
            return False
        with contextlib.suppress(Exception):  # the vendor's streams meet the same failure, and log it
            self.probe()
        return True

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
        """A 401/403: the vendor's settings are wrong for every stream, one line for the vendor."""
        return self.health.lose(self.error_line(response, self.vendor))

    # -- calls ----------------------------------------------------------------------

    @property
    def requests_session(self) -> requests.Session:
        """The vendor's limited and paced session, made once (worker threads share it), noting when answers arrive."""
        if self._paced_session is None:
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
            session = PacedSession(limiter, self.stats, self.pace)
            session.hooks["response"].append(self._note_arrival)
            self._paced_session = session
        return self._paced_session

    def call(
        self,
        method: str,
        url: str,
        *,
        authenticated: bool = True,
        context: Context | None = None,
        **request: t.Any,
    ) -> requests.Response:
        """One request to the vendor's API, by path or absolute URL (a HAL href, a job link), with the
        stream's authenticator, headers, retries, rate limit and metrics. `authenticated=False` is for the
        token call itself: no token, and a 401 means the configured credentials."""
        if not url.startswith(("http://", "https://")):
            url = f"{self.url_base}{url}"
        headers = {**self.http_headers, **request.pop("headers", {})}
        if authenticated:
            prepared = self.build_prepared_request(method=method, url=url, headers=headers, **request)
            return self.request_decorator(sdk.send_request)(self, prepared, context)
        headers.setdefault("User-Agent", self.user_agent)  # as the SDK gives authenticated calls
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

    def _note_arrival(self, response: requests.Response, *args: t.Any, **kwargs: t.Any) -> None:
        """The session's response hook: when the answer arrived, for the thread that asked (its rows' time_extracted)."""
        self._answers.arrived = dt.datetime.now(UTC)

    def last_answer_at(self) -> dt.datetime | None:
        """When the last answer this thread asked for arrived (the rows it parses come from it)."""
        return getattr(self._answers, "arrived", None)

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

    # -- answers --------------------------------------------------------------------

    def validate_response(self, response: requests.Response) -> None:
        authenticator = self.authenticator
        auth = authenticator if isinstance(authenticator, TokenAuthenticator) else None
        token = auth.token_of(response.request) if auth else None
        if auth and token is not None and response.status_code == 401:
            self.health.check()  # another call's renewal was refused meanwhile: logged once, by that call
            if auth.token.rejected(token):  # the call that renews the token logs it (core/auth.py)
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

    # -- retries --------------------------------------------------------------------

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
            return  # validate_response logged it: "... refused (HTTP 401); retrying with a new one"
        self.logger.warning(
            "%s: attempt %d of %d failed (%s); %s",
            self.name,
            details.get("tries", 0),
            self.backoff_max_tries(),
            redact(_short_error(error)),
            f"retrying in {wait:.1f}s" if round(wait, 1) else "retrying at once",
        )


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
