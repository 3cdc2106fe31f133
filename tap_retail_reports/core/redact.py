"""Keep secrets out of every log line and error message: each secret is registered when it becomes known
(configured ones at start-up, tokens when issued, signed links when they arrive) and masked wherever it
appears, with credential-like query parameters and user:password@ masked whatever their value as a second
net. The hook sits in the log record factory, so that it covers the SDK's, backoff's and urllib3's lines too.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
import traceback
import typing as t
from urllib.parse import parse_qsl, quote, quote_plus, urlsplit

MASK = "***"
MIN_SECRET_LENGTH = 4  # shorter values would mask innocent text

# Query parameters whose values are credentials in signed URLs or token calls.
_SECRET_PARAM = re.compile(
    r"(?i)([?&;](?:[\w.-]*(?:key|secret|token|sig|signature|password|credential|auth)"
    r"[\w.-]*|x-amz-[\w-]+|expires))=([^&\s\"'<>]+)"
)
# A URL in a line of text, up to where it surely ends.
_URL = re.compile(r"(?i)\b[a-z][a-z0-9+.-]*://[^\s\"'<>]+")
# user:password@ in URLs.
_URL_USERINFO = re.compile(r"(?i)(\b[a-z][a-z0-9+.-]*://)[^/\s:@]+:[^/\s@]+@")


class Redactor:
    """The registered secrets, and `redact(text)`: the text with each of them masked."""

    def __init__(self) -> None:
        self._secrets: set[str] = set()
        # Secrets by their first MIN_SECRET_LENGTH characters, longest first: one dict look-up per
        # position of a line, however many links a long run has registered.
        self._by_prefix: dict[str, list[str]] = {}
        # Whole links by their part before `?`: links share their first characters (`https://`),
        # so they are found where a URL starts in the text, not by prefix.
        self._links: dict[str, list[str]] = {}
        self._lock = threading.Lock()

    def add(self, *values: object) -> None:
        """Register secret values, with the forms they take in URLs and JSON."""
        forms = []
        for value in values:
            if isinstance(value, str) and len(value) >= MIN_SECRET_LENGTH:
                forms += [value, quote(value, safe=""), quote_plus(value), json.dumps(value)[1:-1]]
        with self._lock:
            by_prefix = dict(self._by_prefix)  # readers keep the old index until the new one is whole
            for form in set(forms) - self._secrets:
                self._secrets.add(form)
                same = by_prefix.get(form[:MIN_SECRET_LENGTH], [])
                by_prefix[form[:MIN_SECRET_LENGTH]] = sorted([*same, form], key=len, reverse=True)
            self._by_prefix = by_prefix

    def add_link(self, url: object) -> None:
        """Register a signed link: the whole URL, its query string and each query value, since links carry
        their signature under any parameter name (FoxyCart's documented example is `...zip?foo=bar`)."""
        if not isinstance(url, str) or not url:
            return
        with self._lock:
            links = dict(self._links)
            base = url.partition("?")[0]
            links[base] = sorted({*links.get(base, []), url}, key=len, reverse=True)
            self._links = links
        query = urlsplit(url).query
        values: list[str] = []
        if query:
            values.append(query)
            values += [part.partition("=")[2] for part in re.split(r"[&;]", query)]  # as written (percent-encoded)
            values += [value for _, value in parse_qsl(query, keep_blank_values=True)]  # decoded
        self.add(*values)

    def add_basic(self, username: object, password: object) -> None:
        """Register the password and the Base64 `user:password` of an HTTP Basic header."""
        if not isinstance(password, str) or not password:
            return
        self.add(password)
        pair = f"{username or ''}:{password}"
        encodings = {pair.encode("utf-8"), pair.encode("latin-1", errors="ignore")}  # SDK, requests
        self.add(*(base64.b64encode(raw).decode("ascii") for raw in encodings))

    def __call__(self, text: str) -> str:
        if not text:
            return text
        if self._links:
            text = _URL.sub(self._mask_link, text)
        text = self._mask_registered(text)
        text = _SECRET_PARAM.sub(lambda match: f"{match.group(1)}={MASK}", text)
        return _URL_USERINFO.sub(lambda match: f"{match.group(1)}{MASK}@", text)

    def _mask_link(self, match: re.Match[str]) -> str:
        found = match.group(0)
        for link in self._links.get(found.partition("?")[0], ()):
            if found.startswith(link):
                return MASK + found[len(link) :]
        return found

    def _mask_registered(self, text: str) -> str:
        """Each registered secret in `text` as MASK, the longest where several start at one place."""
        by_prefix = self._by_prefix
        if not by_prefix:
            return text
        parts, start, position, last = [], 0, 0, len(text) - MIN_SECRET_LENGTH
        while position <= last:
            for secret in by_prefix.get(text[position : position + MIN_SECRET_LENGTH], ()):
                if text.startswith(secret, position):
                    parts += [text[start:position], MASK]
                    position = start = position + len(secret)
                    break
            else:
                position += 1
        return "".join(parts) + text[start:] if parts else text


redact = Redactor()


class RedactedError(Exception):
    """Stands in, in a log record, for an exception whose text carried a secret."""


def redacted_traceback(error: BaseException) -> str:
    return redact("".join(traceback.format_exception(type(error), error, error.__traceback__)))


_installed = False


def install_log_redaction() -> None:
    """Route every log record created from now on, and every uncaught thread error, through `redact`."""
    global _installed
    if _installed:
        return
    _installed = True
    base_factory = logging.getLogRecordFactory()
    formatter = logging.Formatter()

    def factory(*args: t.Any, **kwargs: t.Any) -> logging.LogRecord:
        record = base_factory(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001  # a malformed log call is not ours to fix here
            return record
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        if record.exc_info and record.exc_info[1] is not None:
            raw = formatter.formatException(record.exc_info)
            record.exc_text = redact(raw)
            if record.exc_text != raw:
                # Formatters that read exc_info themselves (the SDK's JSON one) see a stand-in.
                error = record.exc_info[1]
                first_line = redact(f"{type(error).__name__}: {error}")
                record.exc_info = (RedactedError, RedactedError(first_line), error.__traceback__)
        return record

    logging.setLogRecordFactory(factory)

    def thread_excepthook(hook_args: threading.ExceptHookArgs) -> None:
        if hook_args.exc_type is SystemExit:
            return
        name = hook_args.thread.name if hook_args.thread else "a thread"
        logging.getLogger("tap-retail-reports").error(
            "uncaught error in %s", name, exc_info=(hook_args.exc_type, hook_args.exc_value, hook_args.exc_traceback)  # type: ignore[arg-type]  # an uncaught error has a value
        )

    threading.excepthook = thread_excepthook
