"""Synchronous windows fetched several at once on worker threads, handed back in window order: a backfill
spends most of its time waiting for answers, while records and STATE stay on the main thread, so the
bookmark is still the end of the last window whose rows are all out.

A failed window raises in its turn, where a sequential read would have; once the caller stops reading,
the workers' work has ended (core/pace.py `work_for`), so the next stream never shares the vendor with them.
"""

from __future__ import annotations

import concurrent.futures
import threading
import typing as t

from tap_retail_reports.core.pace import work_for

if t.TYPE_CHECKING:
    from tap_retail_reports.core.windows import Window

LOOK_AHEAD = 2  # windows fetched ahead per worker, at most: memory stays bounded by a few windows


def in_window_order(windows: t.Sequence[Window], fetch: t.Callable[[Window], t.Iterable[dict]],
                    workers: int, name: str, stop: threading.Event | None = None,
                    ) -> t.Iterator[tuple[Window, t.Iterable[dict]]]:
    """(window, its rows) in window order. With one worker, rows are read lazily on the calling thread.
    `stop` set (the run stopping) ends the workers' work as the caller's stopping would."""
    if workers <= 1 or len(windows) <= 1:
        for window in windows:
            yield window, fetch(window)
        return
    results = [concurrent.futures.Future[list[dict]]() for _ in windows]
    slots = threading.Semaphore(workers * LOOK_AHEAD)  # one per window started and not yet emitted
    done = threading.Event()
    lock = threading.Lock()
    taken = 0

    def ended() -> bool:
        return done.is_set() or (stop is not None and stop.is_set())

    def work() -> None:
        nonlocal taken
        while True:
            while not slots.acquire(timeout=0.5):
                if done.is_set():
                    return
            with lock:
                index, taken = taken, taken + 1
            if done.is_set() or index >= len(windows):
                return
            result = results[index]
            if not result.set_running_or_notify_cancel():
                continue
            try:
                with work_for(ended, order=index):  # the vendor's pace serves earlier windows first
                    result.set_result(list(fetch(windows[index])))
            except BaseException as exc:  # noqa: BLE001  # raised on the main thread, in the window's turn
                result.set_exception(exc)

    threads = [threading.Thread(target=work, name=f"{name}-window-{i + 1}", daemon=True)
               for i in range(min(workers, len(windows)))]
    for thread in threads:
        thread.start()
    try:
        for window, result in zip(windows, results, strict=True):
            while True:  # a short wait at a time: a stop signal is handled at once
                try:
                    rows = result.result(timeout=0.5)
                    break
                except concurrent.futures.TimeoutError:
                    continue
            slots.release()
            yield window, rows
    finally:
        done.set()
        for result in results:
            result.cancel()
