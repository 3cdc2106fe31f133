"""The tap: which vendors are active, their streams, a run from start to summary, and the command."""

from __future__ import annotations

import copy
import datetime as dt
import io
import json
import logging
import os
import signal
import sys
import threading
import time
import typing as t
from functools import cached_property

import requests
from singer_sdk import Tap
from singer_sdk.exceptions import ConfigValidationError, FatalAPIError, RetriableAPIError
from singer_sdk.logging import StructuredFormatter

from tap_retail_reports import settings
from tap_retail_reports.command_files import checked_file_arguments
from tap_retail_reports.core import sdk
from tap_retail_reports.core.async_stream import AsyncReportStream
from tap_retail_reports.core.config import (
    Vendor,
    check_date,
    readable_schema_error,
    secret_values,
    with_nested_env_settings,
)
from tap_retail_reports.core.errors import TapError
from tap_retail_reports.core.log_lines import (
    EXIT_PREFIX,
    EXIT_WIDTH,
    excerpt,
    info_held_back,
    listed,
    shorten_console_prefix,
    shortened,
)
from tap_retail_reports.core.redact import install_log_redaction, redact, redacted_traceback
from tap_retail_reports.core.run import RunContext
from tap_retail_reports.core.run_outcome import (
    READER_GONE,
    READER_GONE_EXIT,
    ReaderGone,
    RunFailed,
    RunFailures,
    WholeLineWriter,
    stdout_to_devnull,
)
from tap_retail_reports.core.run_stats import bookmark_values, run_summary
from tap_retail_reports.core.state_file import read_state
from tap_retail_reports.core.streams import STREAM_FAILURES, ReportStream
from tap_retail_reports.core.windows import UTC
from tap_retail_reports.settings import VENDORS

if t.TYPE_CHECKING:
    from singer_sdk.streams import Stream

DEFAULT_START_DAYS_AGO = 30
# The SDK's METRIC lines (one per request, most of a run's stderr) are hidden unless this is
# INFO or DEBUG; the end-of-run summary gives rows, requests, retries and waits per stream.
METRICS_LEVEL_VARIABLE = "TAP_RETAIL_REPORTS_METRICS_LOGLEVEL"
LOG_LEVEL_VARIABLE = "TAP_RETAIL_REPORTS_LOGLEVEL"  # read by the SDK

install_log_redaction()


class TapRetailReports(Tap):
    """Reports from Retrend, FoxyCart, Distribu, Flipkart and Vroom, one stream per report."""

    name = "tap-retail-reports"
    # The catalog depends on the config (only configured vendors have streams), so
    # discovery validates the config too.
    dynamic_catalog = True
    # msgspec writes Singer messages several times faster than the json module and writes
    # Decimal (vendors' money) as plain JSON numbers; each line is written whole, even on a signal.
    message_writer_class = WholeLineWriter

    OWN_SETTINGS = settings.OWN_SETTINGS  # the SDK adds its built-in ones (stream maps, ...) to config_jsonschema
    config_jsonschema = OWN_SETTINGS.to_dict()

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        # Set on SIGINT/SIGTERM, before the main thread stops: worker threads check it and end,
        # or the interpreter would wait for them at exit.
        self.stop_requested = threading.Event()
        shorten_console_prefix()  # the SDK's command has set up logging by now (also for --discover, --test)
        self._syncing = False
        if kwargs.get("parse_env_config") and isinstance(kwargs.get("config") or {}, dict):  # `--config ENV`
            kwargs["config"] = with_nested_env_settings(kwargs.get("config") or {}, self.config_jsonschema,
                                                        "TAP_RETAIL_REPORTS_", [vendor.key for vendor in VENDORS])
        super().__init__(*args, **kwargs)
        level = os.environ.get(METRICS_LEVEL_VARIABLE, "WARNING").upper()
        try:
            self.metrics_logger.setLevel(level)
        except ValueError:
            self.logger.warning("%s=%s is not a log level (DEBUG, INFO, WARNING): METRIC lines stay off",
                                METRICS_LEVEL_VARIABLE, level)
            self.metrics_logger.setLevel(logging.WARNING)

    @classmethod
    def invoke(cls, *, state: t.IO[str] | None = None, **options: t.Any) -> None:
        """The SDK's sync command, with the `--state` file read in any form a user is likely to hold
        (core/state_file.py), and one line saying what was unwrapped."""
        shorten_console_prefix()
        if state is not None:
            where = f"--state {getattr(state, 'name', 'file')}"
            value, unwrapped = read_state(state.read(), where)
            if unwrapped:
                cls.logger.info("%s: read the bookmarks from %s", where, unwrapped)
            state = io.StringIO(json.dumps(value))
        super().invoke(state=state, **options)

    @sdk.VALIDATE_CONFIG.override
    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        """The SDK's schema check and the tap's (`config_problems`), one readable line per problem."""
        config = dict(self.config)
        redact.add(*secret_values(self.config_jsonschema, config))  # first: no message below can show a secret
        try:
            super()._validate_config(raise_errors=True)
            schema_errors: list[str] = []
        except ConfigValidationError as exc:
            schema_errors = [readable_schema_error(error, self.config_jsonschema) for error in exc.errors]
        # A setting of the wrong type is named once, by the schema check.
        wrong_type = {error.split(":", 1)[0] for error in schema_errors}
        problems = [p for p in self.config_problems(config) if p.split(" ", 1)[0] not in wrong_type]
        errors = [redact(error) for error in schema_errors + problems]
        # Meltano repeats a failed discovery's whole stderr in its own error: a misspelt setting, which changes
        # no stream, is left to the run that follows, where it is logged once.
        misspelt_only = all(" is not a setting; " in error for error in errors)
        if errors and raise_errors and not (self.discovering_for_meltano and misspelt_only):
            raise ConfigValidationError("Config validation failed", errors=errors)
        return errors

    discovering_for_meltano: t.ClassVar[bool] = False

    @classmethod
    def cb_discover(cls, ctx: t.Any, param: t.Any, value: bool) -> None:  # the SDK's callback
        """The SDK's `--discover`; under Meltano (structured logs), see `_validate_config`."""
        cls.discovering_for_meltano = bool(value) and _logs_are_structured()
        super().cb_discover(ctx, param, value)

    @classmethod
    def config_problems(cls, config: dict) -> list[str]:
        """Every semantic problem with a config, one line each; empty when it is usable."""
        schema = copy.deepcopy(cls.config_jsonschema)
        cls.append_builtin_config(schema)  # the SDK's own settings (stream maps, flattening, batch)
        return settings.config_problems(config, schema)

    def discover_streams(self) -> list[Stream]:
        streams: list[Stream] = []
        for vendor in self.active_vendors:
            classes = vendor.streams(self.config.get(vendor.key) or {})
            if not classes:
                self.logger.warning("%s is configured, but this version has no streams for it yet", vendor.key)
            streams += [stream_class(tap=self, run=self.run) for stream_class in classes]
        return streams

    def run_discovery(self) -> str:
        if not self.active_vendors:
            raise _no_vendor_error()  # an empty catalog would only move the question to the run
        try:
            return super().run_discovery()
        except BrokenPipeError:  # `--discover | head`: reported as a run's broken pipe is
            stdout_to_devnull()
            raise ReaderGone(READER_GONE) from None

    def sync_all(self) -> None:  # type: ignore[misc]  # wraps the SDK's final sync_all, as Stream.sync is wrapped
        """Every selected stream, each to its end or to its own failure; then, if any failed,
        one line per failure and a non-zero exit (RunFailed)."""
        if not self.streams:
            raise _no_vendor_error()
        self._syncing = True
        self._warn_about_bounds()
        started, selected = time.monotonic(), self.selected_streams()
        before = [bookmark_values(self.state.get("bookmarks", {}).get(stream.name)) for stream in selected]  # read only
        try:
            self.plan_report_jobs()
            super().sync_all()
            if isinstance(self.message_writer, WholeLineWriter):
                self.message_writer.flush()  # the last records: a target gone is reported here, not at exit
        finally:
            self.run.close()
        after = [(stream.stats, not stream.replication_key, old,
                  bookmark_values(self.state.get("bookmarks", {}).get(stream.name)))
                 for stream, old in zip(selected, before, strict=True)]
        self.logger.info("run summary: %s", run_summary(after, time.monotonic() - started, len(self.failures.streams())))
        self.raise_if_failed()

    def selected_streams(self) -> list[ReportStream]:
        return [stream for stream in self.streams.values() if isinstance(stream, ReportStream) and stream.selected]

    def run_sync_dry_run(self, dry_run_record_limit: int | None = 1,  # type: ignore[misc]  # wraps the SDK's final one
                         streams: t.Iterable[Stream] | None = None) -> bool:
        """The SDK's `--test` and its standard tests: each stream syncs until its record limit; the
        jobs left then are dropped, and a failed stream fails the test."""
        streams = list(self.streams.values() if streams is None else streams)
        self._warn_about_bounds()
        for stream in streams:
            stream.selected = True  # as the SDK's dry run does, before its streams' jobs are planned at once
        try:
            with info_held_back(self.logger):  # nothing per stream: the verdict below, and what went wrong
                self.plan_report_jobs(streams)
                super().run_sync_dry_run(dry_run_record_limit, streams)
        finally:
            self.run.close()
        self.raise_if_failed("--test failed: ")
        empty = [stream.name for stream in streams if isinstance(stream, ReportStream) and not stream.stats["rows"]]
        limit = "to its end" if dry_run_record_limit is None else f"up to {dry_run_record_limit} record(s)"
        self.logger.info("--test passed: %d stream(s) read, each %s%s", len(streams), limit,
                         f"; {len(empty)} had none in the range: {listed(empty)}" if empty else "")
        return True

    def raise_if_failed(self, verdict: str = "") -> None:
        """Log one line per failure, then raise RunFailed for the exit line (starting with `verdict`)."""
        failed = self.failures.streams()
        if failed:
            self.logger.error(
                "%d stream(s) failed; their bookmarks were kept, and every other stream finished and wrote its STATE:",
                len(failed),
            )
            for line in self.failures.lines():
                self.logger.error("failed: %s", line)
            raise RunFailed(self.failures.exit_message(verdict))

    def plan_report_jobs(self, streams: t.Iterable[Stream] | None = None) -> None:
        """Submit the jobs of every selected asynchronous stream before the first stream syncs,
        so that reports of every type are made at the vendors at once (see core/scheduler.py)."""
        total = 0
        for stream in self.streams.values() if streams is None else streams:
            if isinstance(stream, AsyncReportStream) and stream.selected:
                try:
                    total += stream.plan()
                except STREAM_FAILURES as error:
                    # Planning asks the vendor (a token, the store): a refusal fails this stream
                    # when it syncs, as any stream's failure does, and the others go on.
                    stream.planning_failed = error
        if total:
            self.logger.info("%d report job(s) planned, at most %d in flight at once",
                             total, self.run.max_concurrent_jobs)

    @cached_property
    def run(self) -> RunContext:
        """What the streams need from this run (see core/run.py); handed to each stream."""
        return RunContext(
            start_date=self.start_date,
            end_date=self.end_date,
            logger=self.logger,
            max_concurrent_jobs=int(self.config.get("max_concurrent_jobs") or 8),
            job_timeout_seconds=60.0 * int(self.config.get("job_timeout_minutes") or 120),
            user_agent=self.config.get("user_agent") or self.name,
            stop=self.stop_requested,
        )

    @property
    def failures(self) -> RunFailures:
        return self.run.failures

    def record_failure(self, stream_name: str, reason: str) -> None:
        """See RunContext.record_failure."""
        self.run.record_failure(stream_name, reason)

    @sdk.HANDLE_TERMINATION.override
    def _handle_termination(self, signum: int, frame: t.Any) -> None:
        """SIGINT/SIGTERM: write the last STATE and exit 128 + signal (130, 143), never 0,
        so that a scheduler sees an interrupted run. A Singer line being written is finished first."""
        self.stop_requested.set()
        writer = getattr(self, "message_writer", None)
        if isinstance(writer, WholeLineWriter):
            writer.when_line_done(lambda: self._stop(signum))
        else:
            self._stop(signum)

    def _stop(self, signum: int) -> t.NoReturn:
        code = 128 + signum
        name = signal.Signals(signum).name
        if self._syncing:
            self.run.pump_job_events()  # jobs created since the last STATE
            self.logger.warning(
                "%s: stopping; the last STATE holds the bookmarks of every finished window (exit %d)", name, code
            )
            self.state_writer.write_state(self.state)
        else:
            self.logger.warning("%s: stopping (exit %d)", name, code)
        raise SystemExit(code)

    @cached_property
    def active_vendors(self) -> list[Vendor]:
        return [vendor for vendor in VENDORS if vendor.is_active(self.config)]

    @cached_property
    def end_date(self) -> dt.datetime:
        """One end bound for the whole run, so every stream stops at the same moment; never later than now (a
        bookmark past now would make the next run skip the days between now and it)."""
        now = dt.datetime.now(UTC).replace(microsecond=0)
        configured = self._configured_end
        return min(configured, now) if configured is not None else now

    @property
    def _configured_end(self) -> dt.datetime | None:
        value = self.config.get("end_date")
        return check_date("end_date", value)[1] if value else None

    def _warn_about_bounds(self) -> None:
        """Warn when a run starts reading of an end_date in the future, or bounds that leave nothing to read,
        rather than run quietly with no rows (the streams took their bounds at discovery)."""
        configured = self._configured_end
        if configured is not None and configured > self.end_date:
            self.logger.warning("end_date %s is in the future: reading up to now (%s)", self.config["end_date"],
                                self.end_date.isoformat())
        start, end = self.start_date, self.end_date
        if start < end:
            return
        undated = [stream.name for stream in self.selected_streams() if stream.reads_regardless_of_dates]
        loads = (f"{len(undated)} full-table and snapshot stream(s) still load: {listed(undated, 45)}" if undated
                 else "no stream has rows to read")
        if self.config.get("end_date") and end < dt.datetime.now(UTC).replace(microsecond=0):
            self.logger.warning("end_date %s is not after start_date %s: %s (set end_date later, or leave it out to "
                                "read up to now)", self.config["end_date"], self.config.get("start_date"), loads)
        else:
            self.logger.warning("start_date %s is in the future: dated streams read nothing until then; %s",
                                self.config.get("start_date"), loads)

    @cached_property
    def start_date(self) -> dt.datetime:
        value = self.config.get("start_date")
        if value:
            return check_date("start_date", value)[1]  # type: ignore[return-value]  # config_problems() rejected a bad date at start-up
        today = dt.datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        return today - dt.timedelta(days=DEFAULT_START_DAYS_AGO)


def main() -> None:
    """Console script: the SDK's command, with expected failures shown as one line."""
    try:
        sys.argv[1:] = checked_file_arguments(sys.argv[1:])
        TapRetailReports.cli()
    except ReaderGone as exc:  # the last STATE the target read is as far as the run got
        _fail(str(exc), READER_GONE_EXIT)
    except (TapError, FatalAPIError) as exc:
        _fail(str(exc))
    except RetriableAPIError as exc:
        _fail(f"gave up after repeated failures: {exc}")
    except requests.RequestException as exc:
        _fail(f"network error: {type(exc).__name__}: {exc}")
    except Exception as exc:  # noqa: BLE001  # the last resort, for bugs
        # A bug: still one redacted line, never a raw traceback that could carry a secret.
        logging.getLogger(TapRetailReports.name).debug("traceback:\n%s", redacted_traceback(exc))
        hint = (f" (an unexpected error, most likely a bug in tap-retail-reports; rerun with {LOG_LEVEL_VARIABLE}=DEBUG "
                "for the traceback)")
        _fail(f"{type(exc).__name__}: {excerpt(redact(str(exc)), EXIT_WIDTH - len(type(exc).__name__) - 2 - len(hint))}{hint}")


def _no_vendor_error() -> TapError:
    return TapError(
        "no vendor is configured: set the credentials of at least one of "
        + ", ".join(vendor.key for vendor in VENDORS)
    )


def _fail(message: str, code: int = 1) -> t.NoReturn:
    line = f"{EXIT_PREFIX}{shortened(' '.join(redact(message).split()), EXIT_WIDTH)}"  # one line; its (check ...) kept
    if _logs_are_structured():
        # `meltano run` asks for JSON log records and reads their level: as an error record,
        # this line is the extractor's error, next to Meltano's own "Extractor failed".
        logging.getLogger(TapRetailReports.name).error(line)
    else:
        print(line, file=sys.stderr, flush=True)
    sys.exit(code)


def _logs_are_structured() -> bool:
    return any(isinstance(handler.formatter, StructuredFormatter) for handler in logging.getLogger().handlers)


if __name__ == "__main__":
    main()
