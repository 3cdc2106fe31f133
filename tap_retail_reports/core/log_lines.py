"""Log lines that fit a terminal: a shorter console prefix, long lists cut to a few names or wrapped
over lines of their own, a vendor's long text (an error page) cut to an excerpt, and, last, a line
nothing else made fit folded over several.

Every line the tap writes names its stream (or vendor) at its start, so the console prefix shows
the program (`tap-retail-reports`), not the stream's logger again. A run's lines stay under
`LINE_LIMIT` characters, prefix included (tests/test_logging.py measures whole runs, failures
included): a message fits in `MESSAGE_WIDTH`, the exit line's in `EXIT_WIDTH`.
"""

from __future__ import annotations

import contextlib
import functools
import html
import logging
import re
import typing as t

from singer_sdk.logging import ConsoleFormatter
from singer_sdk.metrics import METRICS_LOGGER_NAME

LINE_LIMIT = 240
CONSOLE_FORMAT = "{asctime:23s} | {levelname:8s} | {name:18s} | {message}"
# `2026-12-07 17:46:16,817 | INFO     | tap-retail-reports | `: 58 characters
PREFIX_WIDTH = len(CONSOLE_FORMAT.format(asctime="", levelname="", name="", message=""))
MESSAGE_WIDTH = LINE_LIMIT - 1 - PREFIX_WIDTH  # the most a log message may hold
EXIT_PREFIX = "tap-retail-reports: error: "
EXIT_WIDTH = LINE_LIMIT - 1 - len(EXIT_PREFIX)  # the most the exit line's message may hold
SHORTEST_EXCERPT = 40  # a text is never cut shorter than this, whatever else its line holds
VENDOR_WORDS = 120  # the most of a vendor's error text an error line carries (each line then fits what it holds)


class ProgramNameFormatter(ConsoleFormatter):
    """The SDK's console format, with the top-level logger's name (`tap-retail-reports`, `singer_sdk`)."""

    def __init__(self, **kwargs: t.Any) -> None:
        kwargs.setdefault("fmt", CONSOLE_FORMAT)
        super().__init__(**kwargs)

    def formatMessage(self, record: logging.LogRecord) -> str:  # logging's name
        return self._fmt.format(**{**record.__dict__, "name": record.name.split(".")[0]})  # type: ignore[union-attr]

    def format(self, record: logging.LogRecord) -> str:
        """The record as the SDK formats it, a line that would reach `LINE_LIMIT` folded (`fold`), each
        continuation indented under the message: the last resort for a line nothing else made fit. The
        SDK's METRIC lines (off by default) are JSON for programs to read, and stay whole."""
        formatted = super().format(record)
        if record.name == METRICS_LOGGER_NAME:
            return formatted
        return "\n".join(folded(line) for line in formatted.split("\n"))


def folded(line: str) -> str:
    """`line`, or its clauses over lines under `LINE_LIMIT`, the later ones indented by `PREFIX_WIDTH`."""
    return "\n".join(fold(line, LINE_LIMIT - 1, " " * PREFIX_WIDTH)) if len(line) >= LINE_LIMIT else line


CLAUSE_BREAK = re.compile(r"(?<=[;:,]) | (?=\()")  # a space after `;`, `:` or `,`, or before `(`


def fold(text: str, width: int, indent: str = "") -> list[str]:
    """`text` in lines of at most `width` characters, the later ones starting with `indent`, in as few
    lines as a break at a word gives; among the breaks that give as few, one after a clause (`;`, `:`,
    `,`) or before a parenthesis, so that a phrase stays whole on its line (for grep). Nothing is cut.
    A text of many lines' length (a DEBUG dump) is simply broken at words."""
    if len(text) > 40 * width:
        return _broken_at_words(text, width, indent)

    @functools.cache
    def folded_from(rest: str) -> tuple[str, ...]:
        if len(rest) <= width:
            return (rest,)
        room = rest[: width + 1]
        word = room.rfind(" ")
        if word <= len(indent):
            word = width  # one word longer than a line
        clause = max((match.start() for match in CLAUSE_BREAK.finditer(room)), default=-1)
        folds = [(rest[:cut].rstrip(), *folded_from(indent + rest[cut:].lstrip()))
                 for cut in (clause, word) if cut > len(indent)]
        return min(folds, key=len)  # the clause's break when it gives as few lines

    return list(folded_from(text))


def _broken_at_words(text: str, width: int, indent: str) -> list[str]:
    lines = []
    while len(text) > width:
        cut = text.rfind(" ", len(indent) + 1, width + 1)
        cut = width if cut < 0 else cut
        lines.append(text[:cut].rstrip())
        text = indent + text[cut:].lstrip()
    return [*lines, text]


def shorten_console_prefix() -> None:
    """Give the SDK's console handler (set up by its command) the shorter prefix; a logging
    config of the user's own (`SINGER_SDK_LOG_CONFIG`, structured logs) is left as it is."""
    for handler in logging.getLogger().handlers:
        if type(handler.formatter) is ConsoleFormatter:
            handler.setFormatter(ProgramNameFormatter())


class _InfoHeldBack(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno != logging.INFO


@contextlib.contextmanager
def info_held_back(logger: logging.Logger) -> t.Iterator[None]:
    """No INFO line while inside, from any logger (per-stream lines: plans, jobs, columns, summaries);
    warnings and errors still show. `--test` says only its verdict (and what went wrong) this way; with
    the log level at DEBUG, every line shows as in a run."""
    if logger.isEnabledFor(logging.DEBUG):
        yield
        return
    held_back, handlers = _InfoHeldBack(), list(logging.getLogger().handlers)
    for handler in handlers:
        handler.addFilter(held_back)
    try:
        yield
    finally:
        for handler in handlers:
            handler.removeFilter(held_back)


def listed(names: t.Sequence[str], width: int = 80) -> str:
    """`a, b, c`, or `a, b ... (12 more)`: at most `width` characters, though always one name."""
    for count in range(len(names), 0, -1):
        text = ", ".join(names[:count]) + (f" ... ({len(names) - count} more)" if count < len(names) else "")
        if len(text) <= width or count == 1:
            return text
    return ""


def wrapped(names: t.Sequence[str], width: int) -> list[str]:
    """Every name, `a, b, c,` over as many lines of at most `width` characters as they take (a name
    longer than that has a line of its own): a list that must stay whole, such as the streams a failure stopped."""
    lines: list[str] = []
    line = ""
    for name in names:
        if line and len(line) + 2 + len(name) + 1 > width:  # ", name" and the comma that would end the line
            lines.append(line + ",")
            line = name
        else:
            line = f"{line}, {name}" if line else name
    return [*lines, line] if line else lines


def excerpt(text: str, width: int) -> str:
    """`text`, or its beginning cut at a word and ended with `...`, in at most `width` characters
    (never fewer than `SHORTEST_EXCERPT`)."""
    width = max(width, SHORTEST_EXCERPT)
    if len(text) <= width:
        return text
    cut = text[: width - 3]
    space = cut.rfind(" ")
    if space > len(cut) - 15:  # end at a word when one ends close by
        cut = cut[:space]
    return cut.rstrip(" ,;:") + "..."


HINT = re.compile(r" \([^()]+\)$")  # a closing `(check vroom.password)`: what to do, kept when a line is cut


def shortened(text: str, width: int) -> str:
    """`text` in at most `width` characters: its beginning, `...`, and its closing parenthesis (the
    setting to check), which a cut must not lose."""
    if len(text) <= width:
        return text
    hint = HINT.search(text)
    tail = hint.group() if hint and len(hint.group()) <= width - SHORTEST_EXCERPT else ""
    return excerpt(text[: len(text) - len(tail)], width - len(tail)) + tail


MARKUP = re.compile(r"<(script|style)\b.*?</\1\s*>|<!--.*?-->|<[^>]*>", re.IGNORECASE | re.DOTALL)


def readable_text(body: str) -> str:
    """A vendor's answer as words on one line: an HTML page or an XML error without its tags and
    scripts (`403 Forbidden Access denied ...`), any other text with its whitespace made single spaces."""
    if body.lstrip().startswith("<"):
        body = html.unescape(MARKUP.sub(" ", body))
    return " ".join(body.split())
