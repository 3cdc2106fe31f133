"""What a run says on stderr: readable by default, one line per retry, progress on long runs,
a summary per stream, long waits explained, and where each stream starts said once."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import logging
import re
import threading
import time

import pytest
import requests
import yaml

from tap_retail_reports.core.http import RateLimiter
from tap_retail_reports.core.job_model import JobResult, JobSpec
from tap_retail_reports.core.log_lines import (
    EXIT_WIDTH,
    LINE_LIMIT,
    MESSAGE_WIDTH,
    PREFIX_WIDTH,
    excerpt,
    fold,
    readable_text,
    shortened,
)
from tap_retail_reports.core.run_outcome import RunFailures
from tap_retail_reports.core.run_stats import StreamStats
from tap_retail_reports.core.scheduler import JobScheduler
from tap_retail_reports.core.windows import UTC, Window
from tap_retail_reports.sandbox.credentials import tap_config
from tests.conftest import (
    FakeClock,
    catalog_selecting,
    env_setting_class_attributes,
    run_tap,
    sandbox_log,
    set_faults,
)
from tests.replay_server import Answer, ReplayServer
from tests.test_async_vendors import knobs

START, END = "2025-03-01", "2025-03-06"
METRICS = "TAP_RETAIL_REPORTS_METRICS_LOGLEVEL"


def vroom(running, streams=("vroom_orders",)) -> tuple[dict, dict]:
    config = {**tap_config(f"http://127.0.0.1:{running.port}", vendors=("vroom",)), "start_date": START, "end_date": END}
    return config, catalog_selecting(config, streams)


def test_a_long_wait_for_the_request_budget_says_so(caplog):
    clock = FakeClock()
    limiter = RateLimiter(
        3, 61.0, clock=clock, sleep=clock.sleep, label="distribu", logger=logging.getLogger("test.limiter")
    )
    with caplog.at_level(logging.INFO, logger="test.limiter"):
        for _ in range(3):
            limiter.acquire()  # within the budget
        clock.now = 58.0
        assert limiter.acquire() == pytest.approx(3.0, abs=0.01)  # a short wait: counted, not logged
        assert not caplog.records
        for _ in range(2):
            limiter.acquire()
        assert limiter.acquire() == pytest.approx(61.0, abs=0.01)  # the budget is spent for a whole window
    assert [r.getMessage() for r in caplog.records] == ["distribu: request budget of 3 per 61 s reached; waiting 61 s"]


def test_metric_lines_are_off_by_default_and_come_back_on_request(sandbox):
    config, catalog = vroom(sandbox)
    quiet = run_tap(config, catalog=catalog).ok()
    assert "METRIC" not in quiet.stderr
    loud = run_tap(config, catalog=catalog, env={METRICS: "INFO"}).ok()
    assert "METRIC" in loud.stderr and '"metric":"http_request_duration"' in loud.stderr
    metrics = [line.split("METRIC: ", 1)[1] for line in loud.stderr.splitlines() if "METRIC: " in line]
    assert all(json.loads(metric)["type"] for metric in metrics)  # JSON for programs: whole, never folded
    assert len(quiet.stderr.splitlines()) < 15  # the whole story of a short run fits on a screen


def test_each_stream_ends_with_a_summary_that_matches_what_it_did(fresh_sandbox, tmp_path):
    set_faults(fresh_sandbox, throttle_every=3, throttle_burst=1, retry_after=0.2, vendors=["vroom"])
    config, catalog = vroom(fresh_sandbox, ("vroom_orders", "vroom_customer_contacts"))
    run = run_tap(config, catalog=catalog).ok()
    calls = [e for e in sandbox_log(fresh_sandbox) if e["path"].endswith("/analytics/orders")]
    throttled = [e for e in calls if e["fault"] == "throttle"]
    assert throttled, "the sandbox should have throttled some calls"

    summary = re.search(
        r"vroom_orders: summary: (\d+) row\(s\), (\d+) request\(s\), (\d+) retried, waited ([\d.]+) s.*; bookmark (\S+)",
        run.stderr,
    )
    assert summary, run.stderr
    rows, requests_, retried, _, bookmark = summary.groups()
    assert int(rows) == len(run.records["vroom_orders"])
    assert int(requests_) == len(calls)
    assert int(retried) == len(throttled)
    assert bookmark == run.last_state["bookmarks"]["vroom_orders"]["replication_key_value"]
    contacts = [e for e in sandbox_log(fresh_sandbox) if e["path"].endswith("/analytics/customer_contacts")]
    assert re.search(
        rf"vroom_customer_contacts: summary: {len(run.records['vroom_customer_contacts'])} row\(s\), "
        rf"{len(contacts)} request\(s\).*; bookmark none \(full table\)",
        run.stderr,
    )
    # One line per retry: ours, with the reason and the wait; not backoff's as well.
    all_throttled = [e for e in sandbox_log(fresh_sandbox) if e["fault"] == "throttle"]
    assert run.stderr.count("retrying in") == len(all_throttled)
    assert "Backing off" not in run.stderr


def test_progress_lines_come_every_so_often_not_per_window(sandbox, tmp_path):
    config, catalog = vroom(sandbox)
    short = run_tap(config, catalog=catalog).ok()
    assert "progress:" not in short.stderr  # a run shorter than the interval: no progress lines

    every_window = env_setting_class_attributes(
        tmp_path, {"tap_retail_reports.core.run_stats:StreamStats.progress_every_seconds": 0}
    )
    run = run_tap(config, catalog=catalog, env=every_window).ok()
    lines = [line for line in run.stderr.splitlines() if "vroom_orders: progress:" in line]
    assert len(lines) == 5, run.stderr  # five one-day windows
    assert re.search(r"progress: 5 of 5 window\(s\) done, through 2025-03-06T00:00:00Z; \d+ row\(s\)", lines[-1])


def test_stats_counters_are_named_and_add_up():
    stats = StreamStats(clock=lambda: 0.0)
    stats.add(rows=2, requests=1)
    stats.add(rows=3, rate_limit_wait=58.4, retry_wait=1.5, retries=1)
    assert (stats["rows"], stats["requests"], stats["retries"]) == (5, 1, 1)
    assert stats.describe() == "5 row(s), 1 request(s), 1 retried, waited 60 s (rate limit 58 s, retries 1.5 s)"
    with pytest.raises(KeyError):
        stats.add(rowz=1)


def test_where_a_stream_starts_is_said_once_and_truly(sandbox):
    config, catalog = vroom(sandbox)
    first = run_tap(config, catalog=catalog).ok()
    assert "vroom_orders: no bookmark; starting at start_date 2025-03-01T00:00:00Z" in first.stderr
    assert "bookmark value" not in first.stderr  # the SDK would call the start_date a bookmark

    second = run_tap(config, catalog=catalog, state=first.last_state).ok()
    assert "vroom_orders: resuming from bookmark 2025-03-06T00:00:00Z less 2 lookback day(s)" in second.stderr
    assert "no bookmark" not in second.stderr and "bookmark value" not in second.stderr


def test_a_resumed_jobs_age_counts_from_its_making_not_from_this_run(caplog):
    """A job resumed from STATE was made at the vendor in an earlier run: "the oldest running" says how long ago."""
    scheduler = JobScheduler(1, logging.getLogger("test.scheduler"))
    start = dt.datetime(2026, 10, 5, tzinfo=UTC)
    job = JobSpec("foxycart_complete", (), Window(start, start + dt.timedelta(days=7)), {})
    running, release = threading.Event(), threading.Event()

    def polling() -> JobResult:
        running.set()
        release.wait(10)
        return JobResult(job, error="done with")

    try:
        scheduler.submit(job, polling, created_at=time.time() - 600)  # as the stored job's created_at
        assert running.wait(10)
        with caplog.at_level(logging.INFO, logger="test.scheduler"):
            scheduler.log_progress()
    finally:
        release.set()
        scheduler.shutdown()
    [line] = [r.getMessage() for r in caplog.records]
    assert re.fullmatch(r"foxycart_complete: 0 of 1 report job\(s\) done, 1 running, 0 waiting for a slot; "
                        r"the oldest running for 60\ds", line), line


EVERY_VENDOR = ("vroom", "retrend", "distribu", "foxycart", "flipkart")
# Over a month end past the 7th, so that flipkart_mir_ledger has a whole month (January) to read too.
ALL_START, ALL_END = "2025-01-27", "2025-02-10"


def every_vendor(running) -> dict:
    config = tap_config(f"http://127.0.0.1:{running.port}", vendors=EVERY_VENDOR)
    return {**config, "start_date": ALL_START, "end_date": ALL_END}


def test_a_whole_run_fits_a_terminal_and_ends_with_one_line_that_sums_it_up(fresh_sandbox, tmp_path):
    shorter_polls = env_setting_class_attributes(tmp_path, {
        "tap_retail_reports.core.async_stream:AsyncReportStream.poll_first_seconds": 0.2})
    run = run_tap(every_vendor(fresh_sandbox), env=shorter_polls).ok()
    lines = run.stderr.splitlines()
    longest = max(lines, key=len)
    assert len(longest) < LINE_LIMIT, f"{len(longest)} characters: {longest}"
    # The grid explained once for the run, not on every partition's line.
    assert run.stderr.count("report windows lie on a 7-day grid") == 1
    assert "the start of the 7-day grid window holding" not in run.stderr
    assert run.stderr.count("flipkart reports take whole days") == 1

    summary = re.fullmatch(r".* \| INFO +\| tap-retail-reports +\| run summary: (\d+) stream\(s\), (\d+) row\(s\), "
                           r"(\d+) request\(s\) in [\d.]+ s; bookmarks: (\d+) advanced, (\d+) full table; no stream failed",
                           lines[-1])
    assert summary, lines[-1]
    streams, rows, requests_, advanced, full_table = map(int, summary.groups())
    assert streams == len(run.schemas) == 31
    assert rows == sum(len(records) for records in run.records.values()) > 0
    assert advanced == sum(1 for value in run.last_state["bookmarks"].values() if "replication_key" in str(value))
    assert full_table == 4  # vroom_customer_contacts, vroom_order_statuses, distribu_inventory(_categories)
    assert run.records["flipkart_mir_ledger"]  # a whole month to read
    # Each stream's summary gave its requests; the run's line adds them up.
    assert requests_ == sum(int(n) for n in re.findall(r": summary: \d+ row\(s\), (\d+) request\(s\)", run.stderr))


# A web application firewall's page in front of Flipkart's API: what a vendor behind a gateway answers.
GATEWAY_PAGE = (
    "<!DOCTYPE html>\n<html><head><title>403 Forbidden</title>\n<style>body { font-family: sans-serif; margin: 4em }"
    " h1 { color: #b00 }</style><script>window.dataLayer = window.dataLayer || [];</script></head>\n<body>"
    "<h1>Access denied</h1>\n" + "<p>This request was blocked by the security rules of this site.</p>\n" * 25
    + "<p>Reference #18.7f3c2e17.1796671958.2a9d0b4c</p></body></html>\n"
)


def test_a_run_with_failures_of_every_kind_fits_a_terminal_and_still_says_everything(fresh_sandbox, tmp_path):
    """Every vendor, four of them failing each its own way (a refused password, a refused key, a vendor down,
    a gateway's long HTML page) and FoxyCart's files with columns the catalog does not declare: no line of
    stderr reaches LINE_LIMIT, and every failed stream, each vendor's words, the setting to check and the
    block that pins the columns are still there."""
    set_faults(fresh_sandbox, error_rate=1.0, vendors=["retrend"])  # down: 503 for every call
    knobs(fresh_sandbox, "foxycart", csv_column_names="portal", processing_seconds=0.1)
    config = every_vendor(fresh_sandbox)
    config["vroom"]["password"] = "not-the-vroom-password"
    config["distribu"]["api_key"] = "dk_not_a_key"
    owner = "tap_retail_reports.core.async_stream:AsyncReportStream"
    fast = env_setting_class_attributes(tmp_path, {"tap_retail_reports.core.streams:ReportStream.backoff_factor": 0.05,
                                                   f"{owner}.poll_first_seconds": 0.2})
    token = ("GET", "/flipkart/oauth-service/oauth/token")
    with ReplayServer({token: Answer(GATEWAY_PAGE.encode(), 403, content_type="text/html")}) as gateway:
        config["flipkart"]["base_url"] = f"{gateway.url}/flipkart"
        run = run_tap(config, env=fast)
        flipkart_alone = {**tap_config(gateway.url, vendors=("flipkart",)), "start_date": ALL_START, "end_date": ALL_END}
        flipkart_alone["flipkart"]["base_url"] = f"{gateway.url}/flipkart"
        debug = run_tap(flipkart_alone, env={"TAP_RETAIL_REPORTS_LOGLEVEL": "DEBUG"})
    assert run.returncode == 1 and "Traceback" not in run.stderr, run.stderr[-3000:]
    lines = run.stderr.splitlines()
    longest = max(lines, key=len)
    assert len(longest) < LINE_LIMIT, f"{len(longest)} characters: {longest}"

    # One line per vendor's failure, in its own words, with the settings to check; then every stream it stopped.
    assert not any(line.startswith(" " * PREFIX_WIDTH) for line in lines)  # each fits: no line needed folding
    failed = [line.split("| failed: ", 1)[1] for line in lines if "| failed: " in line]
    reasons: list[str] = []  # each whole: its first line and the lines that carry it on (indented by four)
    for line in failed:
        if not line.startswith(" "):
            reasons.append(line)
        elif re.match(r" {4}\S", line):
            reasons[-1] += " " + line.strip()
    for vendor, words in {
        "distribu": ("HTTP 401", "Invalid or missing API key '***'", "(check distribu.api_key)"),
        "flipkart": ("HTTP 403", "403 Forbidden Access denied This request was blocked",
                     "(check flipkart.client_id and flipkart.client_secret)"),
        "retrend": ("retrend is down", "HTTP 503", "6 attempt(s)"),
        "vroom": ("HTTP 401", "Invalid email or password", "(check vroom.username and vroom.password)"),
    }.items():
        [line] = [line for line in reasons if line.startswith(vendor)]
        assert all(word in line for word in words), line
    listed = [re.sub(r"^  \d+ stream\(s\): ", "", line) for line in failed if re.match(r"  \d+ stream| {15}", line)]
    names = re.findall(r"\w+", " ".join(listed))
    every_stream = {entry["tap_stream_id"] for entry in catalog_selecting(config, ())["streams"]}
    assert sorted(names) == sorted(name for name in every_stream if not name.startswith("foxycart_"))
    assert not any(name.startswith("foxycart_") for name in re.findall(r"\w+", " ".join(failed)))
    # The gateway's page as words, cut: no markup, never the whole page; the whole of it at DEBUG.
    assert "<" not in run.stderr and "Reference #18" not in run.stderr
    assert "Reference #18.7f3c2e17" in debug.stderr and "<style" not in debug.stderr
    # The exit line: every failure counted, the first reason whole (its words and the setting to check).
    assert lines[-1].startswith("tap-retail-reports: error: 28 stream(s) failed: distribu_customer_sales"), lines[-1]
    assert lines[-1].endswith("; the first of 4: distribu: GET /distribu/api/v1/reports/customers -> HTTP 401: "
                              "Invalid or missing API key '***' (check distribu.api_key)"), lines[-1]
    assert "dk_not_a_key" not in run.stderr and "not-the-vroom-password" not in run.stderr

    # FoxyCart loaded; each of its streams names the columns the catalog does not declare, then a block to paste.
    assert all(run.records[stream] for stream in every_stream if stream.startswith("foxycart_"))
    said = run.stderr.split("| foxycart_complete: ")[-1].split("\n")
    count = re.fullmatch(r"(\d+) column\(s\) typed from the data are not in the catalog: .*; the block below pins "
                         r"their types", said[0])
    assert count, said[0]
    block = list(itertools.takewhile(lambda line: not line.startswith("20"), said[1:]))  # up to the next log line
    pinned = yaml.safe_load("\n".join(block))["schema"]["foxycart_complete"]
    commented = [json.loads("{" + line.strip().removeprefix("# ") + "}") for line in block if line.startswith("    # \"")]
    beyond_meltano = {name: column for entry in commented for name, column in entry.items()}
    assert len(pinned) + len(beyond_meltano) == int(count[1]) > 20, block
    assert "Order Total" in beyond_meltano and "Tax" in pinned
    declared = run.schemas["foxycart_complete"]["schema"]["properties"]
    assert all(declared[name]["type"] == column["type"] for name, column in {**pinned, **beyond_meltano}.items())


def test_long_texts_fit_their_lines_and_keep_what_matters():
    """The pieces the run's lines are made with: folds lose no word, excerpts and cut reasons keep the setting
    to check, an HTML page reads as its words, and the failure summary names every stream within its width."""
    download = ("foxycart_customers window [2026-10-26T07:00:00Z, 2026-11-01T00:00:00Z): download failed (http://127.0.0.1:"
                "39785/foxycart/downloads/1001/customers_report.1796673208131.zip answered an HTML page (a sign-in or "
                "error page), not a report); fetching again")
    lines = fold(download, MESSAGE_WIDTH, "    ")
    assert len(lines) == 2 and all(len(line) <= MESSAGE_WIDTH for line in lines)
    assert lines[1].startswith("    (http://") and "answered an HTML page" in lines[1]  # broken before "(", not inside
    assert " ".join(line.strip() for line in lines) == download
    assert [len(line) for line in fold("y" * 500, 100, "  ")] == [100, 100, 100, 100, 100, 10]  # one word: cut, all kept

    refused = "vroom: POST /analytics/orders -> HTTP 401: " + "Invalid email or password " * 20 + "(check vroom.password)"
    assert shortened(refused, 120).endswith("or... (check vroom.password)") and len(shortened(refused, 120)) <= 120
    assert excerpt("a" * 300, 10) == "a" * 37 + "..."  # never shorter than SHORTEST_EXCERPT
    assert readable_text(GATEWAY_PAGE).startswith("403 Forbidden Access denied This request was blocked by the security")
    assert "{" not in readable_text(GATEWAY_PAGE) and "dataLayer" not in readable_text(GATEWAY_PAGE)

    failures = RunFailures()
    streams = [f"vendor_report_number_{n}" for n in range(30)]
    for stream in streams:
        failures.add(stream, "vendor: GET /token -> HTTP 403: " + "no access " * 30 + "(check vendor.client_id)")
    failures.add("other_stream", "window 2025-03-02: report FAILED at the vendor (job 42)")
    said = failures.lines()
    assert all(len(line) <= MESSAGE_WIDTH - len("failed: ") for line in said)
    assert re.findall(r"vendor_report_number_\d+", " ".join(said)) == streams
    assert said[-1] == "other_stream: window 2025-03-02: report FAILED at the vendor (job 42)"
    last = failures.exit_message()  # the reason first: the names give way (they are in the lines above)
    assert len(last) <= EXIT_WIDTH and last.startswith("31 stream(s) failed; the first of 2: vendor: GET /token -> ")
    assert "HTTP 403: no access" in last and last.endswith("no... (check vendor.client_id)")
    short = RunFailures()
    for stream in streams:
        short.add(stream, "vendor: GET /token -> HTTP 403: no access (check vendor.client_id)")
    assert short.exit_message("--test failed: ") == ("--test failed: 30 stream(s) failed: vendor_report_number_0, "
                                                     "vendor_report_number_1, vendor_report_number_2 ... (27 more); the "
                                                     "first: vendor: GET /token -> HTTP 403: no access (check vendor.client_id)")


def test_test_mode_says_nothing_per_stream_and_ends_with_a_verdict(sandbox, tmp_path):
    config = every_vendor(sandbox)
    run = run_tap(config, args=["--test"])
    assert run.returncode == 0, run.stderr[-3000:]
    assert "records go through the SDK's per-record path" not in run.stderr
    last = run.stderr.splitlines()[-1]
    assert last.endswith("| --test passed: 31 stream(s) read, each up to 1 record(s)"), last
    # Nothing per stream (plans, jobs, columns, summaries) once the streams are read: those lines are DEBUG's.
    said = [line.split(" | ", 3)[-1] for line in run.stderr.splitlines() if "| INFO " in line]
    assert not [line for line in said if line.startswith(EVERY_VENDOR)], said
    assert len(said) <= 3 and said[-1].startswith("--test passed"), said  # the SDK's start-up lines, and the verdict
    debug = run_tap(config, args=["--test"], env={"TAP_RETAIL_REPORTS_LOGLEVEL": "DEBUG"})
    assert debug.returncode == 0 and "vroom_orders: no bookmark; starting at start_date" in debug.stderr

    config["distribu"]["api_key"] = "dk_not_a_key"
    failed = run_tap(config, args=["--test"])
    assert failed.returncode == 1
    last = failed.stderr.splitlines()[-1]
    assert last.startswith("tap-retail-reports: error: --test failed: 5 stream(s) failed: distribu_customer_sales"), last
    assert "--test passed" not in failed.stderr


def test_a_retry_that_does_not_wait_does_not_say_it_waits(fresh_sandbox):
    """A refused session is renewed and the call tried again at once: one line says so, not "retrying in 0.0s"."""
    requests.post(f"http://127.0.0.1:{fresh_sandbox.port}/_sandbox/vendor/retrend", json={"refuse_sessions": True},
                  timeout=10).raise_for_status()
    config = {**tap_config(f"http://127.0.0.1:{fresh_sandbox.port}", vendors=("retrend",)),
              "start_date": "2024-03-01", "end_date": "2024-03-03"}
    run = run_tap(config)
    assert run.returncode == 1
    assert "retrying in 0.0s" not in run.stderr
    assert run.stderr.count("session refused (HTTP 401); retrying with a new one") == 1
