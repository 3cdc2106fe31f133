"""How a run ends: the failures it collected on the way, and Singer lines written whole
when a stop signal arrives in the middle of one."""

from __future__ import annotations

import sys
import threading
import typing as t

from singer_sdk.contrib.msgspec import MsgSpecWriter
from singer_sdk.singerlib import RecordMessage

from tap_retail_reports.core.errors import TapError
from tap_retail_reports.core.redact import redact


class RunFailed(TapError):
    """Some streams failed; the others finished. Each failure has been logged already."""


class RunFailures:
    """Failures that end a stream, or one window of it, while the run goes on. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._failures: list[tuple[str, str]] = []

    def add(self, stream_name: str, reason: str) -> None:
        with self._lock:
            self._failures.append((stream_name, redact(" ".join(reason.split()))))  # one line

    def lines(self) -> list[str]:
        with self._lock:
            return [f"{stream}: {reason}" for stream, reason in self._failures]

    def streams(self) -> list[str]:
        with self._lock:
            return list(dict.fromkeys(stream for stream, _ in self._failures))


class WholeLineWriter(MsgSpecWriter):
    """The tap's Singer writer: a stop signal that lands while a line is being written
    takes effect once that line is out, so stdout never ends in half a message.
    Records are flushed with the next other message (STATE, SCHEMA) or at exit."""

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        self._writing = False
        self._after_line: t.Callable[[], None] | None = None

    def write_message(self, message: t.Any) -> None:
        def write() -> None:
            sys.stdout.buffer.write(self.format_message(message))
            # RECORD lines wait in stdout's buffer (one system call per block, not per record); any
            # other message goes out at once with every record before it, so a STATE is never late.
            if not isinstance(message, RecordMessage):
                sys.stdout.flush()

        self._whole(write)

    def write_lines(self, lines: bytes | bytearray) -> None:
        """Singer lines already encoded, each ending in a newline (core/fast_records.py), written whole."""

        def write() -> None:
            sys.stdout.buffer.write(lines)
            sys.stdout.flush()

        self._whole(write)

    def _whole(self, write: t.Callable[[], None]) -> None:
        self._writing = True
        try:
            write()
        finally:
            self._writing = False
        action, self._after_line = self._after_line, None
        if action is not None:
            sys.stdout.flush()  # the lines waiting in the buffer are out before the stop
            action()

    def when_line_done(self, action: t.Callable[[], None]) -> None:
        """Run `action` now, or right after the line being written (from a signal handler)."""
        if self._writing:
            self._after_line = action
        else:
            action()
