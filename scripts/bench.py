"""`make bench`: one table of ratios and peaks, all measured in this run against the bundled sandbox.

Every command is the real one (`tap-retail-reports`, or a bare reference script), run through
scripts/measure_run.py, which counts its records, times the first to the last record and reads
its peak RSS. Figures are ratios within this run, so they hold on a slow or busy machine better
than absolute times would; each speed is the best of --repeat runs.

  1. FoxyCart's `complete` report, one window of --rows transactions (a zip of three CSVs: transactions,
     their items and coupons): the tap against scripts/bare_csv_to_jsonl.py (csv.DictReader +
     json.dumps) reading the same downloaded zip; then Flipkart's gzip'd orders the same way, and
     again in another reading (other column names and date forms, typed by their values).
  2. Peak RSS of the tap on that zip and on one ten times larger (its rows repeated ten times).
  3. Six Flipkart range reports of T seconds each in one run: wall time / T.
  4. Requests per report, polls included, with the tap's own poll schedule (FoxyCart, Flipkart).
  5. The synchronous vendors' heaviest streams against a bare requests client each, and a
     365-day Distribu backfill's calls against the fewest its reports allow.
  6. Five vendors down: the run's time (scripts/bench_outage.py).
  7. The Vroom backfill against a vendor that answers one request at a time (the pace learns it).
  8. A report ready T after its creation: how long after T its first record comes, and the polls it took.
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import typing as t
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # tests.conftest: the class-attribute knobs the tests use

from scripts.bench_outage import all_vendors_down  # noqa: E402
from tap_retail_reports.core.async_stream import AsyncReportStream  # noqa: E402
from tap_retail_reports.core.windows import day_windows, iso, parse_when  # noqa: E402
from tap_retail_reports.sandbox import credentials as sandbox_credentials  # noqa: E402
from tap_retail_reports.sandbox.credentials import tap_config  # noqa: E402
from tap_retail_reports.sandbox.files import BuiltFile, Variant  # noqa: E402
from tap_retail_reports.sandbox.server import RunningSandbox  # noqa: E402
from tests.conftest import env_setting_class_attributes  # noqa: E402

TAP = [sys.executable, "-m", "tap_retail_reports.tap"]
MEASURE = [sys.executable, str(ROOT / "scripts" / "measure_run.py")]
BARE_CSV = [sys.executable, str(ROOT / "scripts" / "bare_csv_to_jsonl.py")]
ASYNC = "tap_retail_reports.core.async_stream:AsyncReportStream"
FAST_POLLS = {f"{ASYNC}.poll_first_seconds": 0.2, f"{ASYNC}.poll_cap_seconds": 1.0}
# Instructions counted by valgrind (when installed): the same on every run, where this machine's speed is not.
COUNT_INSTRUCTIONS = ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null"]
SMALL_FILE_ROWS = 1_000  # the run subtracted from a file's, so that start-up, token, job and download cancel out
FOXY_DAY = ("2026-10-05T07:00:00Z", "2026-10-06T07:00:00Z")  # one local day in America/Los_Angeles
FOXY_LOCAL = ("2026-10-05 00:00:00", "2026-10-05 23:59:59")
FLIPKART_DAY = ("2026-10-04T18:30:00Z", "2026-10-05T18:30:00Z")  # one local day in Asia/Kolkata
FLIPKART_DAYS = ("2026-10-06", "2026-10-08")  # one window per range report: inside one Monday-based week
VENDOR_NAMES = {"foxycart": "FoxyCart", "flipkart": "Flipkart"}
# Another reading of Flipkart's file: the portal's names, dates month first, times with AM/PM and an offset.
OTHER_READING = {"csv_column_names": "portal", "csv_date_format": "mdy", "csv_time_format": "ampm",
                 "csv_time_zone": "offset"}
FLIPKART_TYPES = ("orders_report", "returns_report", "sales_ledger", "gst_returns_report", "fbf_orders_report",
                  "settled_transaction_ledger")


@dataclass
class Run:
    returncode: int
    seconds: float
    lines: int
    records: int
    first_to_last: float
    first_record: float | None
    first_record_at: float | None
    max_rss_kb: int
    stderr: str

    @property
    def rate(self) -> float:
        return self.records / self.seconds

    @property
    def record_path_rate(self) -> float:
        return self.records / self.first_to_last if self.first_to_last else float("nan")


BACKFILL_START = "2025-01-01"  # Vroom's backfills: a whole past year (a window past now is never asked for)
LATENCY_SECONDS = 0.02  # a round trip to a vendor's API over the internet, for the second backfill row
# A vendor that answers one request at a time: a second one at once is refused (429, Retry-After: 1).
ONE_AT_A_TIME = {"max_in_flight": 1, "refuse_with": 429, "retry_after": 1, "latency_seconds": 0.3}
# Reports ready T s after their creation, and how fast the sandbox's clock runs for each (the tap's waits
# are scaled alike): (T, rate).
READY_AFTER = ((5.0, 1.0), (120.0, 10.0), (1800.0, 100.0))


class Bench:
    def __init__(self, sandbox: RunningSandbox, folder: Path) -> None:
        self.sandbox = sandbox
        self.folder = folder
        self.base = f"http://127.0.0.1:{sandbox.port}"
        self.rows: list[tuple[str, str, str, str]] = []  # the table: measure, figure, aim, how

    # -- running things ------------------------------------------------------------------

    def measure(self, command: list[str], env: dict | None = None, *, every_line: bool = False,
                check: bool = True) -> Run:
        errors = self.folder / "stderr.log"
        done = subprocess.run(
            [*MEASURE, "--stderr", str(errors), *(["--every-line"] if every_line else []), "--", *command],
            capture_output=True, text=True, check=True, env={**os.environ, **(env or {})},
        )
        run = Run(**json.loads(done.stdout), stderr=errors.read_text(errors="replace"))
        if check and run.returncode != 0:
            raise SystemExit(f"{' '.join(command[-4:])} failed ({run.returncode}):\n{run.stderr[-3000:]}")
        return run

    def tap(self, config: dict, catalog: dict | None = None, env: dict | None = None, *, check: bool = True) -> Run:
        return self.measure(self.tap_command(config, catalog), env, check=check)

    def tap_command(self, config: dict, catalog: dict | None = None) -> list[str]:
        command = [*TAP, "--config", str(self.write("config.json", config))]
        if catalog is not None:
            command += ["--catalog", str(self.write("catalog.json", catalog))]
        return command

    def best_of(self, repeat: int, run: t.Callable[[], Run]) -> list[Run]:
        return sorted((run() for _ in range(repeat)), key=lambda r: r.seconds)

    def write(self, name: str, payload: dict) -> Path:
        path = self.folder / name
        path.write_text(json.dumps(payload))
        return path

    def env(self, settings: dict) -> dict:
        folder = Path(tempfile.mkdtemp(dir=self.folder))
        return env_setting_class_attributes(folder, settings)

    # -- the sandbox -----------------------------------------------------------------------

    def knobs(self, vendor: str, **settings: object) -> dict:
        response = requests.post(f"{self.base}/_sandbox/vendor/{vendor}", json=settings, timeout=30)
        response.raise_for_status()
        return response.json()

    def log(self, vendor: str) -> list[dict]:
        entries = requests.get(f"{self.base}/_sandbox/log", timeout=30).json()
        return [entry for entry in entries if entry["vendor"] == vendor]

    def clear_log(self) -> None:
        requests.post(f"{self.base}/_sandbox/log/clear", timeout=30).raise_for_status()

    def config(self, vendors: tuple[str, ...], start: str, end: str, **settings: object) -> dict:
        config = tap_config(self.base, vendors=vendors)
        config.update(start_date=start, end_date=end, **settings)
        return config

    def catalog(self, config: dict, streams: t.Iterable[str]) -> dict:
        wanted = set(streams)
        done = subprocess.run([*TAP, "--config", str(self.write("config.json", config)), "--discover"],
                              capture_output=True, text=True, check=True)
        catalog = json.loads(done.stdout)
        for entry in catalog["streams"]:
            for metadata in entry["metadata"]:
                if metadata["breadcrumb"] == []:
                    metadata["metadata"]["selected"] = entry["tap_stream_id"] in wanted
        return catalog

    def row(self, measure: str, figure: str, aim: str, how: str) -> None:
        self.rows.append((measure, figure, aim, how))
        print(f"  {measure}: {figure}  ({how})", file=sys.stderr, flush=True)

    # -- 1 and 2: a large zipped CSV -------------------------------------------------------

    def foxycart_download(self, report: str) -> Path:
        """The zip the sandbox serves for `report` over the benchmark's day, fetched as a client would."""
        c = sandbox_credentials
        api = f"{self.base}/foxycart"
        token = requests.post(f"{api}/token", data={"grant_type": "refresh_token", "refresh_token": c.FOXYCART_REFRESH_TOKEN},
                              auth=(c.FOXYCART_CLIENT_ID, c.FOXYCART_CLIENT_SECRET), timeout=30).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}", "FOXY-API-VERSION": "1"}
        body = {"name": report, "version": "1", "datetime_start": FOXY_LOCAL[0], "datetime_end": FOXY_LOCAL[1]}
        created = requests.post(f"{api}/stores/{c.FOXYCART_STORE_ID}/reports", json=body, headers=headers, timeout=30)
        link = created.json()["_links"]["self"]["href"]
        while (resource := requests.get(link, headers=headers, timeout=30).json())["status"] != "ready":
            time.sleep(0.2)
        path = self.folder / f"{report}.zip"
        with requests.get(resource["_links"]["fx:download_url"]["href"], stream=True, timeout=(30, 900)) as response:
            response.raise_for_status()
            with open(path, "wb") as sink:
                shutil.copyfileobj(response.raw, sink, 1 << 20)
        return path

    def large_csv(self, rows: int, repeat: int) -> None:
        report = "complete"
        self.knobs("foxycart", rows_per_day=rows, processing_seconds=0)
        began = time.perf_counter()
        zip_path = self.foxycart_download(report)  # the sandbox builds it once; the tap gets the same bytes
        print(f"  (sandbox built {rows} rows in {time.perf_counter() - began:.0f} s)", file=sys.stderr)
        config = self.config(("foxycart",), *FOXY_DAY)
        config["foxycart"]["reports"] = [report]
        fast = self.env(FAST_POLLS)
        taps, bares = [], []
        for _ in range(repeat):  # alternated, so both see the same machine
            taps.append(self.tap(config, env=fast))
            bares.append(self.measure([*BARE_CSV, str(zip_path)], every_line=True))
        tap = min(taps, key=lambda r: r.seconds)
        bare = min(bares, key=lambda r: r.seconds)
        path_tap = max(taps, key=lambda r: r.record_path_rate)
        path_bare = max(bares, key=lambda r: r.record_path_rate)
        assert tap.records == bare.records >= rows, (tap.records, bare.records, rows)
        size = zip_path.stat().st_size / 1e6
        self.row("FoxyCart records/s, tap / bare csv-to-JSON", f"{tap.rate / bare.rate:.2f}", "-",
                 f"foxycart_complete: {tap.records:,} rows ({rows:,} transactions), {size:.0f} MB zip; "
                 f"{typed_columns(tap.stderr)}; whole commands (start-up included): tap {tap.rate:,.0f}/s, "
                 f"bare {bare.rate:,.0f}/s")
        self.row("  the same, first record to last", f"{path_tap.record_path_rate / path_bare.record_path_rate:.2f}",
                 ">= 1.5", f"tap {path_tap.record_path_rate:,.0f}/s, bare {path_bare.record_path_rate:,.0f}/s"
                 f"{spread(taps, bares)}")
        small_peak = max(r.max_rss_kb for r in taps)

        # Ten times larger: the same rows ten times over, put in the sandbox's file store under the
        # key of a report with ten times the rows a day (generating 3M rows would take minutes).
        big_rows = rows * 10
        big_zip = self.folder / "big.zip"
        repeat_member(zip_path, big_zip, 10)
        zip_path.unlink()
        app = self.sandbox.sandbox.apps["foxycart"]
        self.knobs("foxycart", rows_per_day=big_rows)
        key = (report, *FOXY_LOCAL, big_rows, app.knobs["timezone"], *app.data_span())
        app.files._built[key] = BuiltFile(str(big_zip), big_zip.stat().st_size, big_rows)
        builds = app.files.builds
        big = self.tap(config, env=fast)
        assert app.files.builds == builds, "the sandbox built the large file itself: its key changed"
        assert big.records == tap.records * 10, (big.records, tap.records)
        self.row("Peak RSS of the tap, MB", f"{small_peak / 1024:.0f} and {big.max_rss_kb / 1024:.0f}", "< 150",
                 f"{tap.records:,} and {big.records:,} rows ({big_zip.stat().st_size / 1e6:.0f} MB zip)")
        self.row("  peak RSS, 10x file / 1x file", f"{big.max_rss_kb / small_peak:.2f}", "about 1",
                 f"the 10x run: {big.rate:,.0f} records/s")
        self.knobs("foxycart", rows_per_day=20, reset=True)
        return tap, bare

    def flipkart_file(self, rows: int, repeat: int, reading: dict | None = None) -> None:
        """Flipkart's orders report (a gzip'd CSV) of one India day, tap against the bare reader; with
        `reading`, another reading of the file (sandbox knobs), whose columns the tap types by their values."""
        report = "orders_report"
        label = "Flipkart records/s" + (", another reading," if reading else ",")
        self.knobs("flipkart", rows_per_day=rows, processing_seconds=0, reset=True, **(reading or {}))
        config = self.config(("flipkart",), *FLIPKART_DAY)
        catalog = self.catalog(config, [f"flipkart_{report}"])
        fast = self.env(FAST_POLLS)
        taps = [self.tap(config, catalog, env=fast)]
        made = self.knobs("flipkart")["reports"][-1]
        path = self.flipkart_download(report, made["parameters"])  # the same bytes the tap read
        bares = [self.measure([*BARE_CSV, str(path)], every_line=True)]
        for _ in range(repeat - 1):
            taps.append(self.tap(config, catalog, env=fast))
            bares.append(self.measure([*BARE_CSV, str(path)], every_line=True))
        tap = min(taps, key=lambda r: r.seconds)
        bare = min(bares, key=lambda r: r.seconds)
        assert tap.records == bare.records > 0, (tap.records, bare.records)
        path_tap = max(taps, key=lambda r: r.record_path_rate)
        path_bare = max(bares, key=lambda r: r.record_path_rate)
        self.row(f"{label} tap / bare csv-to-JSON", f"{tap.rate / bare.rate:.2f}", "-",
                 f"flipkart_orders_report: {tap.records:,} rows, {made['format']} file"
                 f"{' (' + ', '.join(f'{k} {v}' for k, v in reading.items()) + ')' if reading else ''}; "
                 f"{typed_columns(tap.stderr)}; whole commands: tap {tap.rate:,.0f}/s, bare {bare.rate:,.0f}/s")
        self.row("  the same, first record to last", f"{path_tap.record_path_rate / path_bare.record_path_rate:.2f}",
                 ">= 1.5", f"tap {path_tap.record_path_rate:,.0f}/s, bare {path_bare.record_path_rate:,.0f}/s; "
                 f"peak RSS {tap.max_rss_kb / 1024:.0f} MB{spread(taps, bares)}")
        if shutil.which("valgrind"):
            self.instructions_per_row(report, config, catalog, path, tap.records, reading)
        path.unlink()
        self.knobs("flipkart", rows_per_day=20, processing_seconds=1.0, reset=True,
                   **{knob: getattr(Variant(), knob.removeprefix("csv_")) for knob in reading or {}})

    def instructions_per_row(self, report: str, config: dict, catalog: dict, path: Path, records: int,
                             reading: dict | None) -> None:
        """Instructions a row costs the tap and the bare reader on the same file, counted by valgrind: each
        command's count on the file less its count on a file of SMALL_FILE_ROWS rows (what does not grow with
        the rows cancels out), over the difference in rows. Noise-free where the records/s ratio is not."""
        tap_command = self.tap_command(config, catalog)
        fast = self.env(FAST_POLLS)
        tap_big, bare_big = self.instructions(tap_command, fast), self.instructions([*BARE_CSV, str(path)])
        self.knobs("flipkart", rows_per_day=SMALL_FILE_ROWS, processing_seconds=0, reset=True, **(reading or {}))
        tap_small = self.instructions(tap_command, fast)
        made = self.knobs("flipkart")["reports"][-1]
        small = self.flipkart_download(report, made["parameters"], name="small")
        small_records = self.measure([*BARE_CSV, str(small)], every_line=True).records
        bare_small = self.instructions([*BARE_CSV, str(small)])
        small.unlink()
        rows = records - small_records
        tap_row, bare_row = (tap_big - tap_small) / rows, (bare_big - bare_small) / rows
        self.row("  the same, instructions per row, bare / tap", f"{bare_row / tap_row:.2f}", "-",
                 f"tap {tap_row:,.0f}, bare {bare_row:,.0f} a row (valgrind's count: {records:,} rows less "
                 f"{small_records:,}, whole commands)")

    def instructions(self, command: list[str], env: dict | None = None) -> int:
        """The instructions `command` executes, as valgrind's cachegrind counts them."""
        done = subprocess.run([*COUNT_INSTRUCTIONS, *command], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              text=True, errors="replace", env={**os.environ, **(env or {})}, check=False)
        found = re.search(r"I\s+refs:\s+([\d,]+)", done.stderr)
        if done.returncode != 0 or found is None:
            raise SystemExit(f"{' '.join(command[-4:])} under valgrind failed ({done.returncode}):\n{done.stderr[-3000:]}")
        return int(found[1].replace(",", ""))

    def flipkart_download(self, report: str, parameters: dict, name: str | None = None) -> Path:
        """A report's file fetched as a client would: token, create, poll, download."""
        c = sandbox_credentials
        api = f"{self.base}/flipkart"
        token = requests.get(f"{api}/oauth-service/oauth/token", params={"grant_type": "client_credentials",
                             "scope": "Seller_Api"}, auth=(c.FLIPKART_CLIENT_ID, c.FLIPKART_CLIENT_SECRET),
                             timeout=30).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        body = {"correlation_id": str(uuid.uuid4()), "parameters": parameters}
        report_id = requests.post(f"{api}/reports/{report}", json=body, headers=headers, timeout=30).json()["report_id"]
        while (detail := requests.get(f"{api}/reports/{report_id}/detail", headers=headers, timeout=30).json())[
            "status"
        ] != "COMPLETED":
            time.sleep(0.2)
        path = self.folder / f"{name or report}.download"
        with requests.get(detail["location"], stream=True, timeout=(30, 900)) as response:
            response.raise_for_status()
            with open(path, "wb") as sink:
                shutil.copyfileobj(response.raw, sink, 1 << 20)
        return path

    # -- 3 and 4: jobs ---------------------------------------------------------------------

    def concurrency(self, seconds: float) -> None:
        self.knobs("flipkart", processing_seconds=seconds, reset=True)
        config = self.config(("flipkart",), *FLIPKART_DAYS)
        catalog = self.catalog(config, [f"flipkart_{name}" for name in FLIPKART_TYPES])
        self.clear_log()
        run = self.tap(config, catalog, env=self.env(FAST_POLLS))
        log = self.log("flipkart")
        creates = [e["at"] for e in log if e["method"] == "POST" and e["path"].startswith("/reports/")]
        downloads = [e["at"] for e in log if e["path"].startswith("/storage/")]
        assert len(creates) == len(FLIPKART_TYPES) == len(downloads), (len(creates), len(downloads))
        jobs_wall = max(downloads) - min(creates)
        self.row(f"Six jobs of T = {seconds:g} s: wall / T", f"{jobs_wall / seconds:.2f}", "< 1.5",
                 f"first job created to last file fetched; whole command {run.seconds / seconds:.2f} T; "
                 "test poll schedule (from 0.2 s)")

    def requests_per_report(self, seconds: float) -> None:
        self.knobs("flipkart", processing_seconds=seconds, reset=True)
        self.knobs("foxycart", processing_seconds=seconds, reset=True)
        config = self.config(("foxycart", "flipkart"), *FOXY_DAY, max_concurrent_jobs=10)
        config["foxycart"]["reports"] = ["complete", "customers", "customers_ltv", "transactions"]
        config["start_date"], config["end_date"] = FOXY_DAY[0], FOXY_DAY[1]
        streams = [f"foxycart_{name}" for name in config["foxycart"]["reports"]]
        streams += [f"flipkart_{name}" for name in FLIPKART_TYPES]
        catalog = self.catalog(config, streams)
        self.clear_log()
        self.tap(config, catalog)  # the tap's own poll schedule
        for vendor in ("foxycart", "flipkart"):
            calls = self.log(vendor)
            state = self.knobs(vendor)
            reports = len(state["reports"])
            polls = sum(r["polls"] for r in state["reports"])
            self.row(f"{VENDOR_NAMES[vendor]} requests per report", f"{len(calls) / reports:.1f}", "few",
                     f"{len(calls)} requests for {reports} reports of {seconds:g} s: {polls / reports:.1f} polls "
                     "each, token and store calls shared")
        self.knobs("flipkart", processing_seconds=1.0, reset=True)
        self.knobs("foxycart", processing_seconds=1.0, reset=True)

    # -- 5: the synchronous vendors --------------------------------------------------------

    def sync_stream(self, label: str, stream: str, config: dict, bare: t.Callable[[], int], repeat: int,
                    aim: str = "-") -> None:
        bare()  # warm the sandbox's generated days, for both
        catalog = self.catalog(config, [stream])
        taps, bares = [], []
        serving = []  # this process's CPU seconds during a tap run: the sandbox answering it
        for _ in range(repeat):
            cpu = time.process_time()
            taps.append(self.tap(config, catalog))
            serving.append(time.process_time() - cpu)
            began = time.perf_counter()
            rows = bare()
            bares.append((time.perf_counter() - began, rows))
        tap = min(taps, key=lambda r: r.seconds)
        path = max(taps, key=lambda r: r.record_path_rate)
        bare_seconds, bare_rows = min(bares)
        bare_rate = bare_rows / bare_seconds
        warning = "" if tap.records == bare_rows else f"; ROW COUNTS DIFFER ({tap.records} vs {bare_rows})"
        ratios = sorted(run.rate / (rows / seconds) for run, (seconds, rows) in zip(taps, bares, strict=True))
        runs = f"; runs {ratios[0]:.2f} to {ratios[-1]:.2f}" if len(ratios) > 1 else ""
        self.row(f"{label} records/s, tap / bare requests", f"{tap.rate / bare_rate:.2f}", aim,
                 f"{stream}: {tap.records:,} rows; whole command (start-up included) {tap.rate:,.0f}/s, "
                 f"bare {bare_rate:,.0f}/s{runs}{warning}")
        self.row("  the same, the tap's first record to last", f"{path.record_path_rate / bare_rate:.2f}", "-",
                 f"tap {path.record_path_rate:,.0f}/s; whole tap run {tap.seconds:.2f} s, to its first record "
                 f"{tap.first_record or 0:.2f} s; the sandbox's CPU answering it {min(serving):.2f} s; "
                 f"bare loop {bare_seconds:.2f} s")

    def vroom(self, days: int, repeat: int) -> None:
        start, end = parse_when(BACKFILL_START), parse_when(BACKFILL_START) + dt.timedelta(days=days)
        config = self.config(("vroom",), iso(start), iso(end))
        c = sandbox_credentials

        def bare() -> int:
            rows = 0
            with requests.Session() as session, open(os.devnull, "w") as sink:
                session.auth = (c.VROOM_USERNAME, c.VROOM_PASSWORD)
                for window in day_windows(start, end, 1):
                    body = {"from_time": iso(window.start), "to_time": iso(window.last_instant)}
                    for row in session.post(f"{config['vroom']['base_url']}/analytics/orders", json=body,
                                            timeout=60).json():
                        sink.write(json.dumps(row) + "\n")
                        rows += 1
            return rows

        self.sync_stream(f"Vroom {days}-day backfill", "vroom_orders", config, bare, repeat, ">= 1.5")
        # On loopback an answer costs the sandbox's CPU and no travel: the row above is bound by the
        # sandbox (one process) and the tap's start-up. A vendor over the internet takes a round trip
        # per answer, which is what reading windows at once saves: the same backfill with 20 ms answers.
        latency = {"stall_rate": 1.0, "stall_seconds": LATENCY_SECONDS, "vendors": ["vroom"]}
        requests.post(f"{self.base}/_sandbox/faults", json=latency, timeout=30).raise_for_status()
        try:
            self.sync_stream(f"Vroom {days}-day backfill, answers of {LATENCY_SECONDS * 1000:.0f} ms", "vroom_orders",
                             config, bare, repeat, ">= 3.0")
        finally:
            requests.post(f"{self.base}/_sandbox/faults", json={}, timeout=30).raise_for_status()

    def vroom_one_at_a_time(self, days: int) -> None:
        """The backfill against a vendor that refuses a second request while it answers one: the pace
        must learn one at a time from a handful of refusals, and the run finish with every row."""
        start, end = parse_when(BACKFILL_START), parse_when(BACKFILL_START) + dt.timedelta(days=days)
        config = self.config(("vroom",), iso(start), iso(end))
        catalog = self.catalog(config, ["vroom_orders"])
        last = iso(end - dt.timedelta(milliseconds=1))
        expected = len(self.sandbox.sandbox.apps["vroom"].rows("orders", {"from_time": iso(start), "to_time": last}))
        self.limits({"vroom": ONE_AT_A_TIME})
        self.clear_log()
        try:
            run = self.tap(config, catalog)  # a failed run stops the bench (see measure)
            refused = requests.get(f"{self.base}/_sandbox/limits", timeout=30).json()["refused"].get("vroom", 0)
        finally:
            self.limits({})
        calls = len(self.log("vroom"))
        least = (calls - refused) * ONE_AT_A_TIME["latency_seconds"]  # each answer in turn, none at once
        rows = f"{run.records:,} rows of {expected:,}" + ("" if run.records == expected else " (ROWS MISSING)")
        self.row(f"Vroom {days}-day backfill, one request at a time: refusals", f"{refused}", "<= 10",
                 f"429 with Retry-After: 1 for a second request at once, answers of 300 ms: exit 0, {rows}, "
                 f"{calls} requests; {run.seconds:.0f} s, {run.seconds / least:.2f}x one answer after another")

    def limits(self, payload: dict) -> None:
        requests.post(f"{self.base}/_sandbox/limits", json=payload, timeout=30).raise_for_status()

    def ready_latency(self) -> None:
        """A FoxyCart report of one day, ready T after its creation: from then to the tap's first record,
        and the polls it took. Long T run on a faster sandbox clock, the tap's waits scaled alike."""
        config = self.config(("foxycart",), *FOXY_DAY)
        config["foxycart"]["reports"] = ["customers"]
        for seconds, rate in READY_AFTER:
            self.knobs("foxycart", processing_seconds=seconds, clock_rate=rate, reset=True)
            scaled = {f"{ASYNC}.poll_first_seconds": AsyncReportStream.poll_first_seconds / rate,
                      f"{ASYNC}.poll_cap_seconds": AsyncReportStream.poll_cap_seconds / rate}
            self.clear_log()
            run = self.tap(config, env=self.env(scaled) if rate != 1 else None)
            created = next(call["at"] for call in self.log("foxycart")
                           if call["method"] == "POST" and call["path"].endswith("/reports"))
            late = (t.cast("float", run.first_record_at) - created) * rate - seconds
            (report,) = self.knobs("foxycart")["reports"]
            aim = max(0.2 * seconds, 2.0)
            scale = f"; sandbox clock and the tap's waits {rate:g}x faster" if rate != 1 else ""
            self.row(f"Report ready at T = {duration(seconds)}: first record after T, s", f"{late:.1f}", f"<= {aim:g}",
                     f"{late / seconds:.1%} of T; {report['polls']} polls for the job (foxycart_customers, one day){scale}")
        self.knobs("foxycart", processing_seconds=1.0, clock_rate=1.0, reset=True)

    def startup(self, repeat: int) -> None:
        """Start-up to the first record of a one-stream run: vroom_orders over one day."""
        start = parse_when("2026-01-01")
        config = self.config(("vroom",), iso(start), iso(start + dt.timedelta(days=1)))
        catalog = self.catalog(config, ["vroom_orders"])
        runs = sorted(t.cast("float", self.tap(config, catalog).first_record) for _ in range(repeat))
        self.row("Start-up to first record, s", f"{runs[0]:.2f}", "< 0.5",
                 f"vroom_orders, one day, whole command from exec; runs {runs[0]:.2f} to {runs[-1]:.2f}")

    def retrend(self, days: int, repeat: int) -> None:
        start, end = parse_when("2026-01-01"), parse_when("2026-01-01") + dt.timedelta(days=days)
        config = self.config(("retrend",), iso(start), iso(end))
        settings = config["retrend"]
        report = "conversation_delta_report"

        def bare() -> int:
            rows = 0
            with requests.Session() as session, open(os.devnull, "w") as sink:
                identity = {"organization-id": settings["organization_id"]}
                token = session.post(f"{settings['base_url']}/session", headers={**identity, "api-key": settings["api_key"]},
                                     timeout=60).json()["token"]
                session.headers.update({**identity, "x-session": token})
                for store in settings["store_nums"]:
                    for window in day_windows(start, end, 1):
                        body = {"store_num": store, "report": report, "duration": "daily",
                                "start_date": window.start.date().isoformat()}
                        response = session.post(f"{settings['base_url']}/v2/reports/general", json=body, timeout=60)
                        if response.status_code == 200:
                            sink.write(json.dumps(response.json()) + "\n")
                            rows += 1
            return rows

        self.sync_stream("Retrend", f"retrend_{report}", config, bare, repeat)

    def distribu(self, days: int, repeat: int) -> None:
        start, end = parse_when("2025-01-01"), parse_when("2025-01-01") + dt.timedelta(days=days)
        self.knobs("distribu", requests_per_minute=1_000_000)  # measured here: the records, not the limit
        config = self.config(("distribu",), iso(start), iso(end))
        config["distribu"]["requests_per_minute"] = 1_000_000
        settings = config["distribu"]

        def bare() -> int:
            rows = 0
            with requests.Session() as session, open(os.devnull, "w") as sink:
                session.headers["Authorization"] = f"Bearer {settings['api_key']}"
                for window in day_windows(start, end, 1):
                    params = {"from": iso(window.start), "to": iso(window.last_instant)}
                    body = session.get(f"{settings['base_url']}/api/v1/reports/customers", params=params, timeout=60)
                    for row in body.json()["data"]["rows"]:
                        sink.write(json.dumps(row) + "\n")
                        rows += 1
            return rows

        self.sync_stream("Distribu", "distribu_customer_sales", config, bare, repeat)

    def distribu_backfill(self) -> None:
        minute = 1.0  # the sandbox's "minute", and the tap's limiter scaled to it, as tests/test_distribu.py does
        self.knobs("distribu", requests_per_minute=60, window_seconds=minute)
        start, end = parse_when("2025-01-01"), parse_when("2026-01-01")
        config = self.config(("distribu",), iso(start), iso(end))
        env = self.env({"tap_retail_reports.distribu.client:DistribuStream.rate_limit_period": minute + 0.1})
        self.clear_log()
        self.tap(config, env=env)  # a failed run stops the bench (see measure)
        calls = self.log("distribu")
        days = (end - start).days
        # What the reports allow: sales' daily[] takes up to 366 days a call; by-status and per-customer
        # figures are totals over the asked range, so one call a day each; the inventory once.
        fewest = -(-days // 366) + days + days + 1
        refused = sum(1 for call in calls if call["status"] == 429)
        span = (calls[-1]["at"] - calls[0]["at"]) / minute
        self.row("Distribu 365-day backfill: calls / fewest", f"{len(calls) / fewest:.2f}", "1.00",
                 f"{len(calls)} calls ({refused} refused with 429) vs {fewest}; {len(calls) / span:.0f} calls a "
                 f"(scaled) minute over the run, the key allows 60")
        self.knobs("distribu", requests_per_minute=60, window_seconds=60.0)


def duration(seconds: float) -> str:
    return f"{seconds / 60:g} min" if seconds >= 60 else f"{seconds:g} s"


LEARNED = re.compile(r"\d+ column\(s\) learned from the file header \(([^)]*)\)")


def typed_columns(stderr: str) -> str:
    """How many of the file's columns the tap typed (not text), from its log lines: "typing on"."""
    kinds: collections.Counter[str] = collections.Counter()
    for found in LEARNED.finditer(stderr):
        kinds.update({kind: int(count) for kind, count in (part.rsplit(" ", 1) for part in found[1].split(", "))})
    typed = sum(count for kind, count in kinds.items() if kind != "string")
    details = ", ".join(f"{kind} {count}" for kind, count in sorted(kinds.items()) if kind != "string")
    return f"{typed} of {sum(kinds.values())} columns typed ({details})"


def repeat_member(source: Path, target: Path, times: int) -> None:
    """A zip whose CSVs each hold the source's header once and its data rows `times` over."""
    with zipfile.ZipFile(source) as archive, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as out:
        for member in archive.infolist():
            info = zipfile.ZipInfo(member.filename, (2026, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            with archive.open(member) as raw, out.open(info, "w") as packed:
                packed.write(raw.readline())
                body = raw.read()
                for _ in range(times):
                    packed.write(body)


def spread(taps: list[Run], bares: list[Run]) -> str:
    """The range of the per-run ratios (tap run i against bare run i), when there are several."""
    if len(taps) < 2:
        return ""
    ratios = sorted(tap.record_path_rate / bare.record_path_rate for tap, bare in zip(taps, bares, strict=True))
    return f"; runs {ratios[0]:.2f} to {ratios[-1]:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000,
                        help="transactions of the FoxyCart zip (about 3.3 rows each in its three CSVs) and rows of "
                        "the Flipkart file (default 100,000)")
    parser.add_argument("--repeat", type=int, default=5,
                        help="runs of each speed measurement (best kept; a shared machine's speed moves by up to 2x)")
    parser.add_argument("--job-seconds", type=float, default=5.0, help="T, how long each sandbox job takes")
    parser.add_argument("--only", help="comma-separated parts: foxycart, flipkart, flipkart-reading, jobs, requests, "
                        "vroom, vroom-one-at-a-time, latency, retrend, distribu-backfill, distribu, startup, all-down "
                        "(default: all)")
    args = parser.parse_args()
    began = time.perf_counter()
    with RunningSandbox(seed=42) as sandbox, tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        bench = Bench(sandbox, Path(tmp))
        parts: dict[str, t.Callable[[], None]] = {
            "foxycart": lambda: bench.large_csv(args.rows, args.repeat),
            "flipkart": lambda: bench.flipkart_file(args.rows, args.repeat),
            "flipkart-reading": lambda: bench.flipkart_file(args.rows, args.repeat, OTHER_READING),
            "jobs": lambda: bench.concurrency(args.job_seconds),
            "requests": lambda: bench.requests_per_report(args.job_seconds),
            "vroom": lambda: bench.vroom(365, args.repeat),
            "vroom-one-at-a-time": lambda: bench.vroom_one_at_a_time(365),
            "latency": bench.ready_latency,
            "retrend": lambda: bench.retrend(180, args.repeat),
            "distribu-backfill": bench.distribu_backfill,
            "distribu": lambda: bench.distribu(120, args.repeat),
            "startup": lambda: bench.startup(args.repeat),
            "all-down": lambda: all_vendors_down(bench),
        }
        for name in args.only.split(",") if args.only else parts:
            parts[name]()
    width = max(len(row[0]) for row in bench.rows)
    print(f"make bench, {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} CPUs, "
          f"{time.perf_counter() - began:.0f} s")
    print(f"| {'measure':<{width}} | figure | aim | how |")
    print(f"|{'-' * (width + 2)}|---|---|---|")
    for measure, figure, aim, how in bench.rows:
        print(f"| {measure:<{width}} | {figure} | {aim} | {how} |")


if __name__ == "__main__":
    main()
