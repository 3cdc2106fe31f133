"""How a run ends: the failures it collected on the way, Singer lines written whole when a
stop signal arrives in the middle of one, and a reader (the target) that goes away."""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
import threading
import typing as t

from singer_sdk.contrib.msgspec import MsgSpecWriter
from singer_sdk.singerlib import RecordMessage

from tap_retail_reports.core.errors import TapError
from tap_retail_reports.core.log_lines import EXIT_WIDTH, MESSAGE_WIDTH, fold, listed, shortened, wrapped
from tap_retail_reports.core.redact import redact


class RunFailed(TapError):
    """Some streams failed; the others finished. Each failure has been logged already."""


READER_GONE = "the target stopped reading: broken pipe"
READER_GONE_EXIT = 141  # 128 + SIGPIPE: what a shell shows for a writer a closed pipe stopped


class ReaderGone(Exception):
    """The target (stdout's reader) went away: nothing more can be delivered, so the run stops at
    once. Not a TapError, nor an OSError: no stream's error handling may take it for its own failure
    and go on. The last STATE the target read is as far as the run got."""


def stdout_to_devnull() -> None:
    """Point stdout at /dev/null: what is still buffered for a reader that went away is dropped
    quietly, instead of failing again when the interpreter flushes it at exit."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


class RunFailures:
    """Failures that end a stream, or one window of it, while the run goes on. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._failures: list[tuple[str, str]] = []

    def add(self, stream_name: str, reason: str) -> None:
        with self._lock:
            self._failures.append((stream_name, redact(" ".join(reason.split()))))  # one line

    def _by_reason(self) -> dict[str, list[str]]:
        with self._lock:
            streams_by_reason: dict[str, list[str]] = {}
            for stream, reason in self._failures:
                streams = streams_by_reason.setdefault(reason, [])
                if stream not in streams:
                    streams.append(stream)
            return streams_by_reason

    def lines(self, width: int = MESSAGE_WIDTH - len("failed: ")) -> list[str]:
        """One reason after another, each in lines of at most `width` characters: a reason that stopped
        one stream after that stream's name; one that stopped several (a vendor down, or refusing its
        credentials) alone, then every stream it stopped. Nothing is cut: a long reason goes on in lines
        indented by four, the streams in lines of their own."""
        lines = []
        for reason, streams in self._by_reason().items():
            said = f"{streams[0]}: {reason}" if len(streams) == 1 else reason
            lines += fold(said, width, "    ")
            if len(streams) > 1:
                head = f"  {len(streams)} stream(s): "
                names = wrapped(streams, width - len(head))
                lines += [head + names[0], *(" " * len(head) + more for more in names[1:])]
        return lines

    def exit_message(self, verdict: str = "", width: int = EXIT_WIDTH) -> str:
        """The run's last line: how many streams failed, their names, and the first reason, in at most
        `width` characters. The reason comes first (what to fix): when both do not fit, the names are
        cut (`a ... (4 more)`), or left to the lines above; the reason keeps its closing `(check ...)`."""
        streams = self.streams()
        with self._lock:
            stream, reason = self._failures[0]
        reasons = len(self._by_reason())
        head, between = f"{verdict}{len(streams)} stream(s) failed", f"; the first{f' of {reasons}' if reasons > 1 else ''}: "
        if len(streams) == 1:  # named before the reason, and never left out
            return f"{head}: {stream}{between}{shortened(reason, width - len(head) - 2 - len(stream) - len(between))}"
        whole = f"{head}: {', '.join(streams)}{between}{reason}"
        if len(whole) <= width:
            return whole
        first = f"{stream}: {reason}" if self._by_reason()[reason] == [stream] else reason
        first = shortened(first, width - len(head) - len(between))
        room = width - len(head) - len(": ") - len(between) - len(first)
        names = listed(streams, room)
        return f"{head}: {names}{between}{first}" if len(names) <= room else f"{head}{between}{first}"

    def streams(self) -> list[str]:
        with self._lock:
            return list(dict.fromkeys(stream for stream, _ in self._failures))


class WholeLineWriter(MsgSpecWriter):
    """The tap's Singer writer: a stop signal that lands while a line is being written
    takes effect once that line is out, so stdout never ends in half a message.

    RECORD lines wait in a buffer of their own (stdout may be unbuffered, PYTHONUNBUFFERED)
    and go out in blocks: with the next other message (STATE, SCHEMA), before a stop, at
    exit, or when `PENDING_BYTES` have gathered. A STATE is never ahead of its records."""

    PENDING_BYTES = 1 << 16

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        self._writing = False
        self._after_line: t.Callable[[], None] | None = None
        self._pending = bytearray()
        self.reader_gone = False
        atexit.register(self._write_out_at_exit)  # records after the last STATE, should the run end without one

    def write_message(self, message: t.Any) -> None:
        def write() -> None:
            self._pending += self.format_message(message)
            if not isinstance(message, RecordMessage) or len(self._pending) >= self.PENDING_BYTES:
                self._write_out()

        self._whole(write)

    def write_lines(self, lines: bytes | bytearray) -> None:
        """RECORD lines already encoded, each ending in a newline (core/fast_records.py)."""

        def write() -> None:
            self._pending += lines
            self._write_out()

        self._whole(write)

    def _write_out(self) -> None:
        if self.reader_gone:
            self._pending.clear()
            return
        out = sys.stdout.buffer
        view = memoryview(self._pending)
        try:
            while view:  # an unbuffered stdout may take part of it (a signal mid-write)
                view = view[out.write(view) or 0:]
            sys.stdout.flush()
        except BrokenPipeError:
            self.reader_gone = True
            stdout_to_devnull()
            raise ReaderGone(READER_GONE) from None
        finally:
            view.release()
            self._pending.clear()

    def flush(self) -> None:
        """Write out the RECORD lines still waiting (the run is over): a reader gone is said now, not at exit."""
        self._whole(self._write_out)

    def _write_out_at_exit(self) -> None:
        try:
            self._write_out()
        except ReaderGone:  # the exit code is set by then: say it at least
            print(f"tap-retail-reports: error: {READER_GONE}", file=sys.stderr, flush=True)

    def _whole(self, write: t.Callable[[], None]) -> None:
        self._writing = True
        try:
            write()
        finally:
            self._writing = False
        action, self._after_line = self._after_line, None
        if action is not None:
            self._write_out()  # the lines waiting are out before the stop
            action()

    def when_line_done(self, action: t.Callable[[], None]) -> None:
        """Run `action` now, or right after the line being written (from a signal handler)."""
        if self._writing:
            self._after_line = action
        else:
            self._write_out()
            action()
