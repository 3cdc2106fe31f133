"""Keep secrets out of every log line and error message.

Secrets are registered once (from the config) and replaced wherever they appear;
query parameters that look like credentials (signed download links, tokens) are
masked whatever their value. The hook sits in the log record factory so it also
covers lines written by the SDK, backoff, urllib3 and tracebacks.
"""

from __future__ import annotations

import logging
import re
import threading
from urllib.parse import parse_qsl, urlsplit

MASK = "***"

# Query parameters whose values are credentials in signed URLs or token calls.
_SECRET_PARAM = re.compile(
    r"(?i)([?&;](?:[\w.-]*(?:key|secret|token|sig|signature|password|credential|auth)"
    r"[\w.-]*|x-amz-[\w-]+|expires))=([^&\s\"'<>]+)"
)
# user:password@ in URLs.
_URL_USERINFO = re.compile(r"(?i)(\b[a-z][a-z0-9+.-]*://)[^/\s:@]+:[^/\s@]+@")


class Redactor:
    def __init__(self) -> None:
        self._secrets: set[str] = set()
        self._lock = threading.Lock()

    def add(self, *values: object) -> None:
        """Register secret values; very short values would mask innocent text, so skip them."""
        with self._lock:
            for value in values:
                if isinstance(value, str) and len(value) >= 4:
                    self._secrets.add(value)

    def add_link(self, url: str) -> None:
        """Register a signed link as it arrives: the whole URL, its query and each query value."""
        query = urlsplit(url).query
        self.add(url, query, *(value for _, value in parse_qsl(query, keep_blank_values=True)))

    def __call__(self, text: str) -> str:
        if not text:
            return text
        for secret in sorted(self._secrets, key=len, reverse=True):
            if secret in text:
                text = text.replace(secret, MASK)
        text = _SECRET_PARAM.sub(lambda m: f"{m.group(1)}={MASK}", text)
        return _URL_USERINFO.sub(lambda m: f"{m.group(1)}{MASK}@", text)


redact = Redactor()

_installed = False


def install_log_redaction() -> None:
    """Route every log record created from now on through `redact`."""
    global _installed
    if _installed:
        return
    _installed = True
    base_factory = logging.getLogRecordFactory()
    formatter = logging.Formatter()

    def factory(*args: object, **kwargs: object) -> logging.LogRecord:
        record = base_factory(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # a malformed log call is not ours to fix here
            return record
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        if record.exc_info:
            record.exc_text = redact(formatter.formatException(record.exc_info))
        return record

    logging.setLogRecordFactory(factory)
