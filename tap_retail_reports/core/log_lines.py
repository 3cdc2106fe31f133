"""Log lines that fit a terminal: a shorter console prefix, and long lists cut to a few names.

Every line the tap writes names its stream (or vendor) at its start, so the console prefix shows
the program (`tap-retail-reports`), not the stream's logger again. A run's lines stay under
`LINE_LIMIT` characters, prefix included (tests/test_logging.py measures a whole run); a failure's
lines keep the vendor's own words and every stream they stopped, however long.
"""

from __future__ import annotations

import logging
import typing as t

from singer_sdk.logging import ConsoleFormatter

LINE_LIMIT = 240
CONSOLE_FORMAT = "{asctime:23s} | {levelname:8s} | {name:18s} | {message}"


class ProgramNameFormatter(ConsoleFormatter):
    """The SDK's console format, with the top-level logger's name (`tap-retail-reports`, `singer_sdk`)."""

    def __init__(self, **kwargs: t.Any) -> None:
        kwargs.setdefault("fmt", CONSOLE_FORMAT)
        super().__init__(**kwargs)

    def formatMessage(self, record: logging.LogRecord) -> str:  # logging's name
        return self._fmt.format(**{**record.__dict__, "name": record.name.split(".")[0]})  # type: ignore[union-attr]


def shorten_console_prefix() -> None:
    """Give the SDK's console handler (set up by its command) the shorter prefix; a logging
    config of the user's own (`SINGER_SDK_LOG_CONFIG`, structured logs) is left as it is."""
    for handler in logging.getLogger().handlers:
        if type(handler.formatter) is ConsoleFormatter:
            handler.setFormatter(ProgramNameFormatter())


def listed(names: t.Sequence[str], width: int = 80) -> str:
    """`a, b, c`, or `a, b ... (12 more)`: at most `width` characters, though always one name."""
    for count in range(len(names), 0, -1):
        text = ", ".join(names[:count]) + (f" ... ({len(names) - count} more)" if count < len(names) else "")
        if len(text) <= width or count == 1:
            return text
    return ""

