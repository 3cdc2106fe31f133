"""The run's report jobs, at most `max_concurrent_jobs` at once in worker threads, while the SDK syncs the
streams one after another: a job spends most of its life waiting at the vendor, so every stream's jobs
run together and each stream takes its own in window order.

Workers talk HTTP and write files only, and the files waiting on disk are bounded (`claim_disk`);
records and STATE are the main thread's, which applies the workers' events when it waits (`pump`).
"""

from __future__ import annotations

import concurrent.futures
import itertools
import math
import queue
import threading
import time
import typing as t

from tap_retail_reports.core.download import JobCancelled
from tap_retail_reports.core.job_model import JobRecord, JobResult, JobSpec
from tap_retail_reports.core.pace import work_for
from tap_retail_reports.core.redact import redact

if t.TYPE_CHECKING:
    import logging

NOBODY_WAITS = "cancelled: its stream stopped, nobody will read its file"
EventHandler = t.Callable[[JobSpec, "JobRecord | None"], None]


class DaemonPool:
    """Worker threads that never hold up the process's exit, taking work in submission order: on SIGTERM a
    worker may sit in a backoff sleep nothing wakes, and it holds nothing that would be lost (no STATE)."""

    def __init__(self, workers: int, name: str) -> None:
        self._work: queue.SimpleQueue[tuple[concurrent.futures.Future, t.Callable[[], t.Any]] | None] = queue.SimpleQueue()
        self._threads = [threading.Thread(target=self._serve, name=f"{name}_{number}", daemon=True)
                         for number in range(workers)]
        for thread in self._threads:
            thread.start()

    def submit(self, work: t.Callable[[], JobResult]) -> concurrent.futures.Future[JobResult]:
        future: concurrent.futures.Future[JobResult] = concurrent.futures.Future()
        self._work.put((future, work))
        return future

    def _serve(self) -> None:
        while (item := self._work.get()) is not None:
            future, work = item
            if not future.set_running_or_notify_cancel():
                continue  # cancelled while queued
            try:
                future.set_result(work())
            except BaseException as exc:  # noqa: BLE001  # handed to whoever waits for the future
                future.set_exception(exc)

    def shutdown(self) -> None:
        """Cancel the work not started; each worker ends after its current job."""
        while True:
            try:
                item = self._work.get_nowait()
            except queue.Empty:
                break
            if item is not None:
                item[0].cancel()
        for _ in self._threads:
            self._work.put(None)


class JobScheduler:
    """Report jobs submitted for the whole run, run on worker threads, handed to their streams one by one."""

    def __init__(self, max_in_flight: int, logger: logging.Logger, stop: threading.Event | None = None) -> None:
        self.max_in_flight = max_in_flight
        self.logger = logger
        self._pool = DaemonPool(max_in_flight, "report-job")
        self._events: queue.SimpleQueue[tuple[JobSpec, JobRecord | None]] = queue.SimpleQueue()
        self._futures: dict[tuple[str, tuple, str], concurrent.futures.Future[JobResult]] = {}
        self._lock = threading.Lock()
        # Set on SIGINT/SIGTERM or at the end: workers wait on it, so they stop at once.
        self.stopping = stop or threading.Event()
        # Files on disk (downloading, or waiting for their stream), by job key.
        self._disk = threading.Condition()
        self._on_disk: set[tuple[str, tuple, str]] = set()
        self._queue: dict[tuple[str, tuple, str], tuple[float, int]] = {}  # waiting for a place: (link expiry, arrival)
        self._arrivals = itertools.count()
        self._started: dict[tuple[str, tuple, str], float] = {}  # job key -> when its worker took it (monotonic)
        self._created: dict[tuple[str, tuple, str], float] = {}  # job key -> when the vendor's job was made (epoch)
        # Every job of each (stream, partition), for progress lines.
        self._planned: dict[tuple[str, tuple], dict[tuple[str, tuple, str], concurrent.futures.Future[JobResult]]] = {}
        self._last_progress = time.monotonic()
        self._wanted: tuple[str, tuple, str] | None = None  # the job the main thread waits for
        self._handed: tuple[str, tuple, str] | None = None  # the file the main thread reads
        self._cancelled: set[tuple[str, tuple, str]] = set()  # running jobs whose result nobody will take
        self._running = threading.local()  # the job a worker thread runs

    def submit(self, spec: JobSpec, work: t.Callable[[], JobResult], created_at: float | None = None) -> None:
        """Queue one job; submitted jobs start in submission order as slots free up. `created_at` (epoch
        seconds): when a job resumed from STATE was made at the vendor, the age progress lines give it."""
        if created_at is not None:
            self._created[_key(spec)] = created_at

        def guarded() -> JobResult:
            with self._disk:
                self._started[_key(spec)] = time.monotonic()
                self._disk.notify_all()
            key = self._running.key = _key(spec)  # this worker's job, for `sleep`
            if self.stopping.is_set():
                return JobResult(spec, error=f"{spec}: not started (the run is stopping)")
            try:
                # A job nobody waits for, or one of a run that stops, calls the vendor no more (core/pace.py).
                with work_for(lambda: self.stopping.is_set() or key in self._cancelled):
                    return work()
            except Exception as exc:  # noqa: BLE001  # a vendor error or a bug: the window fails, others go on
                message = str(exc) if str(exc).startswith(spec.stream) else f"{spec}: {type(exc).__name__}: {exc}"
                return JobResult(spec, error=redact(message), resumable=True)

        with self._lock:
            future = self._futures[_key(spec)] = self._pool.submit(guarded)
            self._planned.setdefault((spec.stream, spec.partition), {})[_key(spec)] = future

    def created(self, spec: JobSpec, record: JobRecord) -> None:
        """Called from a worker: a job now exists at the vendor and must reach STATE."""
        self._created[_key(spec)] = record.created_at
        self._events.put((spec, record))

    def pump(self, handler: EventHandler) -> int:
        """Apply queued events on the calling (main) thread; return how many."""
        count = 0
        while True:
            try:
                spec, record = self._events.get_nowait()
            except queue.Empty:
                return count
            handler(spec, record)
            count += 1

    def result(self, spec: JobSpec, handler: EventHandler, poll_every: float = 0.5) -> JobResult:
        """Wait for one job's result, applying events meanwhile."""
        future = self._futures.pop(_key(spec))
        with self._disk:
            # The stream has finished with the file it was handed before (deleted it).
            if self._handed is not None:
                self._on_disk.discard(self._handed)
            self._handed, self._wanted = None, _key(spec)
            self._disk.notify_all()
        while True:
            self.pump(handler)
            try:
                result = future.result(timeout=poll_every)
            except concurrent.futures.TimeoutError:
                if time.monotonic() - self._last_progress >= self.progress_every:
                    self.log_progress()
                continue
            self.pump(handler)
            with self._disk:
                self._handed, self._wanted = _key(spec), None
            return result

    def cancel(self, spec: JobSpec) -> None:
        """Drop a job whose result nobody will take: unstarted, it never starts; running, it
        downloads nothing more (a job it created stays in STATE); finished, now or later, its
        file is removed and its place on disk given back."""
        key = _key(spec)
        future = self._futures.pop(key, None)
        if future is not None and not future.cancel():
            with self._disk:
                self._cancelled.add(key)
            future.add_done_callback(lambda done: self._drop(key, done))  # at once if done already
        with self._disk:
            self._on_disk.discard(key)
            self._disk.notify_all()

    def _drop(self, key: tuple[str, tuple, str], future: concurrent.futures.Future[JobResult]) -> None:
        if future.exception() is None:
            _remove_file(future.result())
        with self._disk:
            self._on_disk.discard(key)
            self._disk.notify_all()

    progress_every = 30.0  # seconds between progress lines while the main thread waits for a job

    def log_progress(self) -> None:
        """One line per stream (and partition) with jobs under way: done, running, waiting; one for the streams
        whose jobs have not started."""
        self._last_progress = now = time.monotonic()
        with self._lock:
            planned = {key: dict(futures) for key, futures in self._planned.items()}
        with self._disk:
            started = dict(self._started)
        created, wall = dict(self._created), time.time()
        queued: list[str] = []  # streams whose every job still waits for a slot: one line for them all
        for (stream, partition), futures in planned.items():
            done = sum(future.done() for future in futures.values())
            if done == len(futures):
                continue
            # A job's age counts from its making at the vendor (a resumed one: in an earlier run), else from its start.
            running = [wall - created[key] if key in created else now - started[key]
                       for key, future in futures.items() if key in started and not future.done()]
            where = "".join(f" {name} {value}" for name, value in partition)
            if not done and not running:
                queued.append(stream + where)
                continue
            oldest = f"; the oldest running for {max(running):.0f}s" if running else ""
            self.logger.info("%s%s: %d of %d report job(s) done, %d running, %d waiting for a slot%s",
                             stream, where, done, len(futures), len(running), len(futures) - done - len(running), oldest)
        if queued:
            self.logger.info("%d stream(s) wait for a free slot (max_concurrent_jobs %d): %s",
                             len(queued), self.max_in_flight, ", ".join(queued))

    def claim_disk(self, spec: JobSpec, link_expires_at: float | None = None) -> bool:
        """A worker's place on disk for one download, so that a backfill does not fill the disk: waits while
        `max_in_flight` files wait there, unless the main thread waits for this very job (or for one not
        started: never a deadlock). The link expiring first gets the next place. Returns whether it waited."""
        key = _key(spec)
        waited = False
        with self._disk:
            if key in self._cancelled:
                raise JobCancelled(NOBODY_WAITS)
            self._queue[key] = (math.inf if link_expires_at is None else link_expires_at, next(self._arrivals))
            try:
                while not (key == self._wanted or (self._wanted is not None and self._wanted not in self._started)
                           or (len(self._on_disk) < self.max_in_flight and min(self._queue, key=self._queue.__getitem__) == key)):
                    if self.stopping.is_set():
                        raise JobCancelled("the run is stopping")
                    if key in self._cancelled:
                        raise JobCancelled(NOBODY_WAITS)
                    waited = True
                    self._disk.wait(0.5)
                self._on_disk.add(key)
            finally:
                del self._queue[key]
                self._disk.notify_all()  # the next in line may fit too
        return waited

    def release_disk(self, spec: JobSpec) -> None:
        """A download that failed gives its place back."""
        with self._disk:
            self._on_disk.discard(_key(spec))
            self._disk.notify_all()

    def sleep(self, seconds: float) -> None:
        """A worker's wait between polls: cut short when the run stops; a job cancelled meanwhile ends after it."""
        if self.stopping.wait(seconds):
            raise JobCancelled("the run is stopping")
        with self._disk:
            cancelled = getattr(self._running, "key", None) in self._cancelled
        if cancelled:
            raise JobCancelled(NOBODY_WAITS)

    def shutdown(self) -> None:
        """Stop starting jobs and drop unstarted ones; running ones stop at their next wait.
        A job already created stays in STATE, and the next run resumes it."""
        self.stopping.set()
        self._pool.shutdown()
        for future in self._futures.values():
            if future.done() and not future.cancelled():
                _remove_file(future.result())
        with self._disk:
            self._disk.notify_all()


def _key(spec: JobSpec) -> tuple[str, tuple, str]:
    return (spec.stream, spec.partition, spec.key)


def _remove_file(result: JobResult) -> None:
    if result.path is not None:
        result.path.unlink(missing_ok=True)
