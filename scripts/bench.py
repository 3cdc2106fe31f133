"""`make bench`: the tap's cost per record, as ratios against a bare client, in one run.

Against the sandbox on loopback it times, for the same Vroom windows:
  bare   - requests + json.dumps of each row to /dev/null: the floor any extractor pays;
  tap    - `tap-retail-reports` (SDK, typing, schema conformance, STATE) to /dev/null.
Each is run --repeat times (best of, to damp a noisy machine); the sandbox's answers are
warmed first so its own generation cost is not counted. Figures are only comparable
within one run of this script.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests
from singer_sdk.io_base import SingerWriter

from tap_retail_reports.core.windows import day_windows, iso, parse_when
from tap_retail_reports.sandbox.credentials import VROOM_PASSWORD, VROOM_USERNAME, tap_config
from tap_retail_reports.sandbox.server import RunningSandbox
from tap_retail_reports.tap import TapRetailReports


class JsonWriterTap(TapRetailReports):
    """The same tap with the SDK's default writer, to measure what msgspec buys."""

    message_writer_class = SingerWriter

STREAMS = {"vroom_orders": "orders", "vroom_line_items": "line_items", "vroom_transactions": "transactions"}


def bare(base: str, start: dt.datetime, end: dt.datetime) -> int:
    rows = 0
    with requests.Session() as session, open("/dev/null", "w") as sink:
        session.auth = (VROOM_USERNAME, VROOM_PASSWORD)
        for endpoint in STREAMS.values():
            for window in day_windows(start, end, 1):
                body = {"from_time": iso(window.start), "to_time": iso(window.last_instant)}
                for row in session.post(f"{base}/analytics/{endpoint}", json=body, timeout=60).json():
                    sink.write(json.dumps(row) + "\n")
                    rows += 1
    return rows


def tap(config: dict, catalog: dict) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "config.json").write_text(json.dumps(config))
        Path(tmp, "catalog.json").write_text(json.dumps(catalog))
        done = subprocess.run(
            [sys.executable, "-m", "tap_retail_reports.tap", "--config", f"{tmp}/config.json", "--catalog", f"{tmp}/catalog.json"],
            capture_output=True, text=True, check=True,
        )
    return sum(1 for line in done.stdout.splitlines() if line.startswith('{"type":"RECORD"'))


def in_process(tap_class: type, config: dict, catalog: dict) -> int:
    """A sync inside this process (no start-up cost), its messages written to /dev/null."""
    import contextlib
    import io

    tap_instance = tap_class(config=config, catalog=catalog, state={})
    with open("/dev/null", "wb") as devnull, contextlib.redirect_stdout(io.TextIOWrapper(devnull, write_through=True)):
        tap_instance.sync_all()
    return 0


def catalog_for(config: dict) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "config.json").write_text(json.dumps(config))
        out = subprocess.run(
            [sys.executable, "-m", "tap_retail_reports.tap", "--config", f"{tmp}/config.json", "--discover"],
            capture_output=True, text=True, check=True,
        ).stdout
    catalog = json.loads(out)
    for entry in catalog["streams"]:
        for metadata in entry["metadata"]:
            if metadata["breadcrumb"] == []:
                metadata["metadata"]["selected"] = entry["tap_stream_id"] in STREAMS
    return catalog


def best_of(repeat: int, run) -> tuple[float, int]:
    best, rows = float("inf"), 0
    for _ in range(repeat):
        began = time.perf_counter()
        rows = run()
        best = min(best, time.perf_counter() - began)
    return best, rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    start, end = parse_when("2026-01-01"), parse_when("2026-01-01") + dt.timedelta(days=args.days)
    with RunningSandbox(seed=42) as sandbox:
        config = tap_config(f"http://127.0.0.1:{sandbox.port}", vendors=("vroom",))
        config.update(start_date=iso(start), end_date=iso(end))
        base = config["vroom"]["base_url"]
        bare(base, start, end)  # warm the sandbox's cache of generated days
        catalog = catalog_for(config)
        bare_seconds, bare_rows = best_of(args.repeat, lambda: bare(base, start, end))
        tap_seconds, tap_rows = best_of(args.repeat, lambda: tap(config, catalog))
        msgspec_seconds, _ = best_of(args.repeat, lambda: in_process(TapRetailReports, config, catalog))
        json_seconds, _ = best_of(args.repeat, lambda: in_process(JsonWriterTap, config, catalog))
    print(f"Vroom {', '.join(STREAMS)}: {args.days} days, 1-day windows, best of {args.repeat}")
    print(f"  bare requests+json : {bare_rows:>7} rows in {bare_seconds:6.2f}s = {bare_rows / bare_seconds:8.0f} rows/s")
    print(f"  tap-retail-reports : {tap_rows:>7} rows in {tap_seconds:6.2f}s = {tap_rows / tap_seconds:8.0f} rows/s")
    print(f"  tap / bare time    : {tap_seconds / bare_seconds:.2f}x (includes the tap's ~1 s start-up)")
    print("In process, no start-up: the Singer message writer")
    print(f"  msgspec writer (the tap's)  : {msgspec_seconds:6.2f}s")
    print(f"  SDK default json writer     : {json_seconds:6.2f}s = {json_seconds / msgspec_seconds:.2f}x the msgspec time")
    if tap_rows != bare_rows:
        print(f"  WARNING: row counts differ ({tap_rows} vs {bare_rows})")


if __name__ == "__main__":
    main()
