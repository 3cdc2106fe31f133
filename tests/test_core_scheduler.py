"""The run's job scheduler, on its own: places on disk and files of jobs nobody will take."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from pathlib import Path

from tap_retail_reports.core.job_model import JobResult, JobSpec
from tap_retail_reports.core.pace import abandoned
from tap_retail_reports.core.scheduler import JobScheduler
from tap_retail_reports.core.windows import UTC, Window


def spec(day: int) -> JobSpec:
    start = dt.datetime(2026, 10, day, tzinfo=UTC)
    return JobSpec("stream", (), Window(start, start + dt.timedelta(days=1)), {})


def test_a_job_cancelled_while_it_runs_leaves_no_file_and_no_place_taken_on_disk(tmp_path: Path) -> None:
    """A stream stopped early (the SDK's record limit, a vendor lost) cancels its jobs; one already running
    downloads later. Its file must go, and its place on disk must not be held for the rest of the run."""
    scheduler = JobScheduler(1, logging.getLogger("test"))  # one worker, one file on disk at a time
    first, second = spec(1), spec(2)
    running, go, second_has_its_place = threading.Event(), threading.Event(), threading.Event()
    downloaded = tmp_path / "first.csv"

    def first_job() -> JobResult:
        running.set()
        go.wait()
        scheduler.claim_disk(first)  # the download, once the job is ready
        downloaded.write_text("id\n1\n")
        return JobResult(first, path=downloaded)

    def second_job() -> JobResult:
        scheduler.claim_disk(second)
        second_has_its_place.set()
        return JobResult(second, error="done with")

    try:
        scheduler.submit(first, first_job)
        scheduler.submit(second, second_job)
        assert running.wait(10)
        scheduler.cancel(first)  # nobody will take its file
        go.set()
        # Before the fix the first job's place stayed taken: the second waited for good (or until
        # the main thread asked for it), and the first job's file stayed on disk until the process ended.
        assert second_has_its_place.wait(10), "the cancelled job's place on disk was never given back"
        assert not downloaded.exists()
    finally:
        scheduler.shutdown()


def test_a_job_cancelled_while_it_polls_stops_at_its_next_wait() -> None:
    """A cancelled job's worker is not held (nor the vendor polled) until the job happens to finish."""
    scheduler = JobScheduler(1, logging.getLogger("test"))
    job, polling = spec(1), threading.Event()
    polls: list[int] = []
    ended: list[JobResult] = []

    def polling_job() -> JobResult:
        for poll in range(1000):
            polls.append(poll)
            polling.set()
            scheduler.sleep(0.01)  # between polls
        return JobResult(job, error="polled to the end")

    try:
        scheduler.submit(job, polling_job)
        scheduler.submit(spec(2), lambda: ended.append(JobResult(spec(2))) or ended[0])
        assert polling.wait(10)
        scheduler.cancel(job)
        scheduler.result(spec(2), lambda *_: None)  # the worker is free for the next job
        assert len(polls) < 1000
    finally:
        scheduler.shutdown()


def test_a_cancelled_jobs_calls_to_its_vendor_are_abandoned() -> None:
    """Issue 17, point 2: a job nobody waits for sends nothing more, not even a retry (core/pace.py's scope)."""
    scheduler = JobScheduler(1, logging.getLogger("test"))
    job, started, gave_up = spec(1), threading.Event(), threading.Event()

    def calling_job() -> JobResult:
        started.set()
        while not abandoned():  # what PacedSession.send and the retry waits check before each call
            gave_up.wait(0.01)
        gave_up.set()
        return JobResult(job, error="abandoned")

    try:
        scheduler.submit(job, calling_job)
        assert started.wait(10)
        assert not gave_up.wait(0.2)  # its work goes on while someone may take its result
        scheduler.cancel(job)
        assert gave_up.wait(10)
    finally:
        scheduler.shutdown()
