"""Retrend's session: `POST /session` with the `organization-id` and `api-key` headers gives a token
that every report call sends as `x-session`. One session serves the run's three streams, renewed
shortly before it expires and once when a call answers 401 (docs/streams.md, "Retrend")."""

from __future__ import annotations

import datetime as dt
import time
from functools import cached_property

from tap_retail_reports.core.auth import RenewableToken, TokenAuthenticator, expiry_epoch
from tap_retail_reports.core.redact import redact
from tap_retail_reports.core.streams import WindowedStream
from tap_retail_reports.core.windows import UTC, iso

KIOSK_HEADERS = {"kiosk_id": "kiosk-id", "kiosk": "x-kiosk", "temp_kiosk": "x-temp-kiosk", "device_id": "x-device-id"}


class RetrendSessionStream(WindowedStream):
    """A Retrend stream's identity headers and session; RetrendStream (retrend/client.py) reads the reports."""

    vendor = "retrend"
    default_base_url = "https://api.retrend.ai"

    @property
    def auth_hint(self) -> str:  # type: ignore[override]  # a class attribute in core; here it depends on config
        if self.vendor_config.get("api_key"):
            return "check retrend.organization_id and retrend.api_key"
        return "check retrend.session_token, which may have expired, or set retrend.api_key instead"

    @property
    def token(self) -> RenewableToken:
        """The run's session, shared by the three streams. A configured session_token is used as
        given; without an api_key it cannot be renewed, so a 401 is an error that names it."""
        config = self.vendor_config
        return self.run.shared(
            "retrend.session",
            lambda: RenewableToken(self.create_session if config.get("api_key") else None,
                                   config.get("session_token") or None, name="retrend", kind="session",
                                   logger=self.logger),
        )

    def identity_headers(self) -> dict[str, str]:
        headers = {"organization-id": str(self.vendor_config["organization_id"])}
        for setting, header in KIOSK_HEADERS.items():
            value = self.vendor_config.get(setting)
            if value not in (None, ""):
                headers[header] = str(value)
        return headers

    @cached_property
    def authenticator(self) -> TokenAuthenticator:
        return TokenAuthenticator(self.token, self.identity_headers(), header="x-session", scheme="")

    def create_session(self) -> tuple[str, float | None]:
        """`POST /session`: a new token and its expiry (epoch seconds; None when not given)."""
        response = self.call("POST", "/session", authenticated=False,
                             headers={**self.identity_headers(), "api-key": self.vendor_config["api_key"]})
        body = self.response_json(response)
        token = body.get("token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token.strip():
            raise self.unreadable(response, "returned no token")
        redact.add(token)  # before anything could log it
        expires = expiry_epoch(body.get("expires"), time.time())
        if expires is None:
            self.logger.info("retrend: new session, with no readable expiry: renewed when the API refuses it")
        else:
            self.logger.info("retrend: new session, expires %s", iso(dt.datetime.fromtimestamp(expires, UTC)))
        return token, expires
