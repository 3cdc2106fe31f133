"""The environment's proxies and CA bundle, for API calls and downloads alike: requests merges them in
`Session.request`, but the SDK and this tap call a session's `send`, which skips that step. A certificate
that fails verification is a setting to fix, not an outage (the same settings meet it on every retry):
`certificate_problems` makes it one line, never retried.
"""

from __future__ import annotations

import contextlib
import os
import ssl
import typing as t
from urllib.parse import urlsplit

import requests

from tap_retail_reports.core.errors import TapError

# Where a CA bundle may be named, in the order they are read: requests' own, then curl's, then OpenSSL's.
CA_VARIABLES = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR")


class CertificateProblem(TapError):
    """A host's TLS certificate was not accepted, or the CA bundle named in the environment cannot be
    read: a setting to fix, not an outage. The message is one line, with no secret in it."""


def ca_setting() -> tuple[str, str] | None:
    """The CA bundle the environment names, as (variable, path); None: certifi's bundle (requests' default)."""
    for variable in CA_VARIABLES:
        value = os.environ.get(variable)
        if value:
            return variable, value
    return None


class NetworkSettings:
    """The `proxies` and `verify` arguments for a request to a URL, as `Session.request` would merge them
    (SSL_CERT_FILE / SSL_CERT_DIR too: a TLS-inspecting proxy's instructions often name them). Proxies are
    looked up once per scheme and host: requests' lookup scans os.environ, a third of a small call's cost."""

    def __init__(self, session_proxies: t.Mapping[str, str] | None = None) -> None:
        self._session_proxies = dict(session_proxies or {})
        self._proxies: dict[tuple[str, str], dict[str, str]] = {}
        setting = ca_setting()
        self.verify: str | bool = setting[1] if setting else True

    def __call__(self, url: str) -> dict[str, t.Any]:
        scheme, netloc = urlsplit(url)[:2]
        found = self._proxies.get((scheme, netloc))
        if found is None:
            # {} when NO_PROXY covers the host; a session's own proxies fill the schemes the environment leaves.
            found = {**self._session_proxies, **requests.utils.get_environ_proxies(url)}
            self._proxies[(scheme, netloc)] = found
        return {"proxies": dict(found), "verify": self.verify}  # a copy: requests may change the mapping


def host_of(url: str) -> str:
    """`host:port` of a URL, without credentials or path: fit for any log line."""
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port}" if parts.port else str(parts.hostname)


def _verification_failure(error: BaseException) -> ssl.SSLCertVerificationError | None:
    """The certificate verification error behind a requests/urllib3 SSL error, if that is what it is."""
    seen: set[int] = set()
    pending: list[t.Any] = [error]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, ssl.SSLCertVerificationError):
            return current
        if isinstance(current, BaseException):
            pending += [current.__cause__, current.__context__, getattr(current, "reason", None), *current.args]
    return None


def describe_certificate_failure(url: str, failure: ssl.SSLCertVerificationError) -> str:
    """One line: which host, what the verification said, that it is no outage, and which setting to check."""
    verdict = failure.verify_message or failure.reason or "certificate verify failed"
    setting = ca_setting()
    if setting is None:
        checked, advice = "certifi's CA bundle", "set REQUESTS_CA_BUNDLE or SSL_CERT_FILE to a bundle holding its CA"
    else:
        checked, advice = f"{setting[0]}={setting[1]}", f"does {setting[0]} hold the CA that signed it?"
    # The advice closes the line in parentheses, so that a line cut to fit a terminal keeps it.
    return (f"the TLS certificate of {host_of(url)} was not accepted, a certificate problem, not an outage; "
            f"not retried: {verdict}, checked against {checked} ({advice})")


@contextlib.contextmanager
def certificate_problems(url: str) -> t.Iterator[None]:
    """Inside: a request to `url`. A certificate that fails verification, or a CA bundle that cannot be
    read, leaves as CertificateProblem (never retried); any other error as it was."""
    try:
        yield
    except requests.exceptions.SSLError as error:
        failure = _verification_failure(error)
        if failure is None:
            raise  # a handshake cut short, a protocol mismatch: a network error like any other
        raise CertificateProblem(describe_certificate_failure(url, failure)) from None
    except OSError as error:
        setting = ca_setting()
        # requests checks the bundle's path before it connects ("Could not find a suitable TLS CA certificate bundle").
        if setting is None or "CA certificate bundle" not in str(error) or isinstance(error, requests.RequestException):
            raise
        raise CertificateProblem(f"{setting[0]}={setting[1]} names no readable CA bundle (a file of PEM "
                                 f"certificates, or a folder of them): fix or unset it; needed for {host_of(url)}") from None
