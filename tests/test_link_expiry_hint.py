"""A link's stated expiry orders downloads and renews a link near it, never skips one (issue 11 point 1).

Finished jobs wait for a place on disk while the target reads slowly; a link whose stated
expiry comes near during that wait is swapped for a fresh one before the fetch, and the
link expiring first gets the next place. A wrong hint costs at most one extra poll.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import subprocess
import threading
import time
import typing as t
from pathlib import Path

import pytest

from tap_retail_reports.core.async_jobs import JobRunner
from tap_retail_reports.core.job_model import JobSpec, Poll, PollSchedule
from tap_retail_reports.core.scheduler import JobScheduler
from tap_retail_reports.core.windows import UTC, Window
from tap_retail_reports.sandbox.server import RunningSandbox
from tests.conftest import TAP, FakeClock, catalog_selecting
from tests.test_async_reality import fast, flipkart_rows_expected  # noqa: F401  # `fast` is a fixture
from tests.test_async_vendors import config, knobs
from tests.test_core_async_jobs import SPEC, START, FakeDownloader, ScriptedVendor

# -- the near-expiry rule, with a fake clock --------------------------------------------------------


class ExpiringVendor(ScriptedVendor):
    """Each link's stated expiry is `lifetime` seconds after the poll that gave it (None: not stated)."""

    def __init__(self, clock: FakeClock, lifetime: float | None) -> None:
        super().__init__(["ready"])
        self.clock, self.lifetime = clock, lifetime

    def poll(self, job_id: str) -> Poll:
        poll = super().poll(job_id)
        poll.link_expires_at = None if self.lifetime is None else self.clock.now + self.lifetime
        return poll


def waiting_runner(vendor: ScriptedVendor, tmp_path: Path, clock: FakeClock, disk_wait: float) -> tuple[JobRunner, FakeDownloader]:
    """A runner whose every claim of a disk place waits `disk_wait` seconds (0: a place is free)."""

    def claim_disk(spec: JobSpec, expires_at: float | None = None) -> bool:
        clock.sleep(disk_wait)
        return disk_wait > 0

    downloader = FakeDownloader(tmp_path)
    runner = JobRunner(vendor, downloader, logging.getLogger("test"), 3600.0, PollSchedule(1.0, 2.0, 8.0, 0.0),  # type: ignore[arg-type]
                       clock=clock, sleep=clock.sleep, claim_disk=claim_disk)
    return runner, downloader


@pytest.mark.parametrize(("lifetime", "disk_wait", "fresh"), [
    (600.0, 0.0, False),    # no wait: the link as polled
    (600.0, 300.0, False),  # 300 s left after the wait, more than the 60 s margin
    (600.0, 560.0, True),   # 40 s left: within 60 s
    (600.0, 900.0, True),   # passed during the wait
    (20.0, 17.0, True),     # a short link: 3 s left is within a fifth of its 20 s
    (20.0, 10.0, False),    # 10 s of 20 s left
    (None, 3600.0, False),  # no stated expiry: as before, the link is tried
])
def test_a_link_whose_stated_expiry_nears_while_it_waits_for_disk_is_swapped_for_a_fresh_one(
        tmp_path: Path, lifetime: float | None, disk_wait: float, fresh: bool) -> None:
    clock = FakeClock(START)
    vendor = ExpiringVendor(clock, lifetime)
    runner, downloader = waiting_runner(vendor, tmp_path, clock, disk_wait)
    result = runner.run(SPEC, None, "s.csv")
    assert result.error is None and result.downloads == 1
    assert downloader.links == [f"https://storage.example/job-1?sig=s3cr3t{2 if fresh else 1}"]


def test_a_hint_that_reads_as_long_expired_costs_one_poll_then_the_link_is_tried(tmp_path: Path) -> None:
    clock = FakeClock(START)
    vendor = ExpiringVendor(clock, -5.5 * 3600)  # naive UTC read as India time
    runner, downloader = waiting_runner(vendor, tmp_path, clock, 30.0)
    result = runner.run(SPEC, None, "s.csv")
    assert result.error is None and result.polls == 2  # one poll to settle, one fresh link: no more
    assert downloader.links == ["https://storage.example/job-1?sig=s3cr3t2"]


# -- the order of disk places -----------------------------------------------------------------------


def spec(day: int) -> JobSpec:
    start = dt.datetime(2026, 10, day, tzinfo=UTC)
    return JobSpec("s", (), Window(start, start + dt.timedelta(days=1)), {})


def until(condition: t.Callable[[], bool]) -> None:
    for _ in range(500):
        if condition():
            return
        time.sleep(0.01)
    raise AssertionError("waited 5 s for a worker")


def test_the_link_expiring_first_gets_the_next_place_on_disk_and_the_wanted_job_goes_ahead() -> None:
    scheduler = JobScheduler(1, logging.getLogger("test"))
    try:
        scheduler.claim_disk(spec(1), None)  # one file waits for its stream: no place left
        order: list[int] = []
        waiters = {day: threading.Thread(target=lambda day=day, expiry=expiry: (scheduler.claim_disk(spec(day), expiry),
                                                                                 order.append(day)))
                   for day, expiry in ((2, None), (3, START + 500), (4, START + 100), (5, START + 300))}
        for waiter in waiters.values():
            waiter.start()
        until(lambda: len(scheduler._queue) == 4)  # every waiter queued
        # The stream waits for day 5's job (started): it goes ahead of the others, over the bound.
        with scheduler._disk:
            scheduler._started.update({("s", (), spec(5).key): 0.0})
            scheduler._wanted = ("s", (), spec(5).key)
            scheduler._disk.notify_all()
        waiters[5].join(5)
        assert order == [5]
        scheduler.release_disk(spec(1))  # day 5's file is still on disk: no place yet
        with scheduler._disk:
            scheduler._wanted = None
        for _ in range(3):  # each freed place goes to the link expiring first; no stated expiry last
            before = len(order)
            scheduler.release_disk(spec(order[-1]))
            until(lambda before=before: len(order) > before)
        assert order == [5, 4, 3, 2]
    finally:
        scheduler.shutdown()


# -- end to end: a slow target, short links, few places ---------------------------------------------


def run_with_a_slow_reader(running: RunningSandbox, env: dict, tmp_path: Path, max_jobs: int,
                           hold_seconds: float) -> list[dict]:
    """Flipkart reports that finish together; nobody reads the tap's output for `hold_seconds`."""
    streams = ["flipkart_orders_report", "flipkart_returns_report", "flipkart_stock_ledger"]
    cfg = config(running, ("flipkart",), "2026-10-01", "2026-10-15", max_concurrent_jobs=max_jobs)
    cfg["flipkart"]["warehouse_ids"] = cfg["flipkart"]["warehouse_ids"][:1]
    (tmp_path / "catalog.json").write_text(json.dumps(catalog_selecting(cfg, streams)))
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    process = subprocess.Popen([*TAP, "--config", str(tmp_path / "config.json"), "--catalog", str(tmp_path / "catalog.json")],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env={**os.environ, **env})
    time.sleep(hold_seconds)  # the pipe fills, the stream stops, finished jobs wait for disk places
    out, _ = process.communicate(timeout=300)
    assert process.returncode == 0
    return [json.loads(line) for line in out.splitlines() if '"type":"RECORD"' in line.replace(" ", "")]


def refused_fetches(running: RunningSandbox) -> list[dict]:
    return [d for d in knobs(running, "flipkart")["downloads"] if d["status"] in (403, 410)]


@pytest.mark.parametrize("max_jobs", [1, 2])
def test_a_link_that_expires_while_its_file_waits_for_the_stream_is_refreshed_before_the_fetch(
        fresh_sandbox: RunningSandbox, fast: dict, tmp_path: Path, max_jobs: int) -> None:  # noqa: F811
    # Big files (the pipe fills on the first), links of 2 s, and a reader that sleeps 5 s.
    knobs(fresh_sandbox, "flipkart", rows_per_day=400, link_ttl_seconds=2.0, processing_seconds=0.5,
          per_report={"returns_report": {"link_ttl_seconds": 3.0}})
    messages = run_with_a_slow_reader(fresh_sandbox, fast, tmp_path, max_jobs, hold_seconds=5.0)
    for report_type in ("orders_report", "returns_report", "stock_ledger"):
        rows = [m for m in messages if m["stream"] == f"flipkart_{report_type}"]
        assert len(rows) == flipkart_rows_expected(fresh_sandbox, report_type) > 0, report_type
    assert refused_fetches(fresh_sandbox) == []


def test_a_hint_that_reads_as_long_expired_still_loads_every_row(fresh_sandbox: RunningSandbox, fast: dict,  # noqa: F811
                                                                 tmp_path: Path) -> None:
    knobs(fresh_sandbox, "flipkart", rows_per_day=400, link_ttl_seconds=2.0, processing_seconds=0.5, expiry_form="utc")
    messages = run_with_a_slow_reader(fresh_sandbox, fast, tmp_path, 1, hold_seconds=5.0)
    for report_type in ("orders_report", "returns_report", "stock_ledger"):
        rows = [m for m in messages if m["stream"] == f"flipkart_{report_type}"]
        assert len(rows) == flipkart_rows_expected(fresh_sandbox, report_type) > 0, report_type
