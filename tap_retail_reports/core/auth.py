"""A vendor's token (a session, an OAuth access token), fetched once per run and shared by its streams and
worker threads: renewed shortly before it expires and once when a call answers 401, under one lock, so
that concurrent jobs never start a storm of renewals.
"""

from __future__ import annotations

import threading
import time
import typing as t

import requests
from singer_sdk.authenticators import APIAuthenticatorBase
from singer_sdk.exceptions import RetriableAPIError

from tap_retail_reports.core.windows import parse_when

if t.TYPE_CHECKING:
    import logging

# Renew this long before the vendor's expiry (at most a fifth of the token's life),
# so that a token never runs out between the check and the vendor reading it.
RENEW_MARGIN_SECONDS = 60.0

TokenFetcher = t.Callable[[], "tuple[str, float | None]"]  # -> (token, expiry in epoch seconds or None)


def expiry_epoch(value: t.Any, now: float) -> float | None:
    """When a token expires (epoch seconds), from an ISO date-time, epoch seconds or milliseconds, or a
    lifetime in seconds (OAuth's `expires_in`); None if unreadable."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            try:
                return parse_when(value.strip()).timestamp()
            except ValueError:
                return None
    else:
        return None
    if number >= 1e12:
        return number / 1000.0  # epoch milliseconds
    if number >= 1e9:
        return number  # epoch seconds (anything after 2001)
    return now + number  # a lifetime


class RenewableToken:
    """One vendor's current token for the run (thread-safe): `get()` a live one, `rejected(token)` after a
    401, which is worth a retry with a new token once (not when it cannot be renewed, nor twice in a row)."""

    def __init__(
        self,
        fetch: TokenFetcher | None,
        token: str | None = None,
        *,
        name: str = "token",
        kind: str = "token",
        margin: float = RENEW_MARGIN_SECONDS,
        logger: logging.Logger | None = None,
        clock: t.Callable[[], float] = time.time,
    ) -> None:
        if token is None and fetch is None:
            raise ValueError("a token needs a value or a way to fetch one")
        self._fetch = fetch
        self._token = token
        self._renew_at: float | None = None  # None: no known expiry, renewed on 401 only
        self._after_rejection = False  # the current token replaced one the vendor refused
        self._name = name
        self.kind = kind  # what the vendor calls it, for log lines: "token", "session"
        self._margin = margin
        self._logger = logger
        self._clock = clock
        self._lock = threading.Lock()
        self.fetches = 0

    @property
    def renewable(self) -> bool:
        return self._fetch is not None

    def get(self) -> str:
        with self._lock:
            due = self._renew_at is not None and self._clock() >= self._renew_at
            if self._fetch is not None and (self._token is None or due):
                self._install(*self._fetch())
                self.fetches += 1
            assert self._token is not None
            return self._token

    def _install(self, token: str, expires_at: float | None) -> None:
        now = self._clock()
        self._token = token
        self._renew_at = None
        if expires_at is not None and expires_at <= now:
            # A clock that disagrees with the vendor's: trust the vendor's 401 instead.
            if self._logger:
                self._logger.warning(
                    "%s: the new token's expiry is already past by this machine's clock; "
                    "it will be renewed when the API refuses it", self._name,
                )
        elif expires_at is not None:
            self._renew_at = expires_at - min(self._margin, (expires_at - now) / 5)

    def rejected(self, token: str) -> bool:
        """A call made with `token` answered 401. True: retry, a new token will be used."""
        with self._lock:
            if token != self._token:
                return True  # already replaced, by another call or a renewal
            if self._fetch is None or self._after_rejection:
                return False
            self._token = None
            self._after_rejection = True
        if self._logger:  # once per renewal, by the call that asks for it: not by every call the 401 met
            self._logger.warning("%s: %s refused (HTTP 401); retrying with a new one", self._name, self.kind)
        return True

    def accepted(self, token: str) -> None:
        """A call made with `token` succeeded: a later 401 may be renewed again."""
        with self._lock:
            if token == self._token:
                self._after_rejection = False


class TokenRejected(RetriableAPIError):
    """A 401 whose token can be renewed: retried at once with a new token."""


class TokenAuthenticator(APIAuthenticatorBase):
    """Fixed headers and the run's current token on every call, retries included (the SDK applies the
    authenticator to each), so that a retry after a renewal carries the new token. `header` and `scheme`:
    `Authorization: Bearer <token>` by default, `x-session: <token>` for a vendor with its own header."""

    def __init__(
        self,
        token: RenewableToken,
        headers: dict[str, str] | None = None,
        *,
        header: str = "Authorization",
        scheme: str = "Bearer",
    ) -> None:
        super().__init__()
        self.auth_headers = dict(headers or {})
        self.token = token
        self.header = header
        self.scheme = scheme

    def authenticate_request(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        value = self.token.get()
        request.headers[self.header] = f"{self.scheme} {value}" if self.scheme else value
        return super().authenticate_request(request)

    def token_of(self, request: requests.PreparedRequest | None) -> str | None:
        """The token a sent request carried, to tell the right one of a 401."""
        if request is None:
            return None
        value = request.headers.get(self.header)
        if not value or not isinstance(value, str):  # authenticate_request sets a str
            return None
        if not self.scheme:
            return value
        return value[len(self.scheme) + 1 :] if value.startswith(f"{self.scheme} ") else None
