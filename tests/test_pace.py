"""A vendor's pace learned from its answers, end to end (issue 17, points 1, 2 and 7).

The sandbox reads the documents' silence on limits several ways (`POST /_sandbox/limits`): a
vendor that refuses a request while it answers another, with 429 and Retry-After, 503 and
Retry-After, or a bare 429; answers that take a while. Each test counts what a user would: rows,
refusals, requests, log lines; never times.
"""

from __future__ import annotations

import re

import pytest
import requests

from tap_retail_reports.sandbox.server import RunningSandbox
from tests.conftest import catalog_selecting, env_setting_class_attributes, run_tap, sandbox_log, set_faults
from tests.test_async_vendors import FOXY_REPORTS, assert_same_rows, config, foxycart_expected, keyed, knobs
from tests.test_vroom import expected_rows, vroom_config

START, END = "2026-10-01", "2026-10-21"  # 20 one-day windows
ASYNC = "tap_retail_reports.core.async_stream:AsyncReportStream"


def limits(running: RunningSandbox, **by_vendor: dict) -> dict:
    response = requests.post(f"http://127.0.0.1:{running.port}/_sandbox/limits", json=by_vendor, timeout=10)
    response.raise_for_status()
    return response.json()


def refused(running: RunningSandbox, vendor: str) -> int:
    return requests.get(f"http://127.0.0.1:{running.port}/_sandbox/limits", timeout=10).json()["refused"].get(vendor, 0)


def pace_lines(stderr: str, vendor: str) -> list[str]:
    """The pace's own lines for `vendor` (core/pace.py): what changed, and why."""
    return [line for line in stderr.splitlines() if f"| {vendor}: " in line and " at once" in line]


def vroom_orders(running: RunningSandbox, **vroom: object) -> tuple[dict, dict]:
    config = vroom_config(running, **vroom)
    config.update(start_date=START, end_date=END)
    return config, catalog_selecting(config, ["vroom_orders"])


@pytest.mark.parametrize(("refusal", "status"), [
    ({"refuse_with": 429, "retry_after": 1}, 429),
    ({"refuse_with": 503, "retry_after": 1}, 503),
    ({"refuse_with": 429, "retry_after": None}, 429),
])
def test_a_vendor_that_takes_one_request_at_a_time_gets_one_after_a_refusal(
        fresh_sandbox: RunningSandbox, refusal: dict, status: int) -> None:
    config, catalog = vroom_orders(fresh_sandbox)
    limits(fresh_sandbox, vroom={"max_in_flight": 1, "latency_seconds": 0.2, **refusal})
    run = run_tap(config, catalog=catalog).ok()
    got = sorted(row["order_id"] for row in run.records["vroom_orders"])
    assert got == sorted(row["order_id"] for row in expected_rows("orders", START, END))
    # Two requests at first; the second is refused, and from then on one at a time: no request of
    # the 20 windows is refused again (the next try at two comes after 32 clean answers).
    assert refused(fresh_sandbox, "vroom") == 1
    (line,) = pace_lines(run.stderr, "vroom")
    assert f"HTTP {status} with 2 request(s) in flight: now at most 1 at once (was 2)" in line


def test_a_vendor_that_takes_many_requests_gets_them_up_to_the_ceiling(fresh_sandbox: RunningSandbox) -> None:
    config, catalog = vroom_orders(fresh_sandbox, concurrent_windows=3)
    limits(fresh_sandbox, vroom={"latency_seconds": 0.2})
    run = run_tap(config, catalog=catalog).ok()
    calls = [entry for entry in sandbox_log(fresh_sandbox, settled=True) if entry["path"].endswith("/orders")]
    assert len(calls) == 20 and max(call["in_flight"] for call in calls) == 3
    assert pace_lines(run.stderr, "vroom") == [next(
        line for line in run.stderr.splitlines()
        if line.endswith("vroom: answers come back clean: 3 request(s) at once, the most allowed (vroom.concurrent_windows)"))]


def test_report_jobs_share_their_vendors_pace(fresh_sandbox: RunningSandbox, tmp_path) -> None:
    """Four FoxyCart reports' jobs at once, against a vendor that answers one request at a time."""
    env = env_setting_class_attributes(tmp_path, {f"{ASYNC}.poll_first_seconds": 0.2, f"{ASYNC}.poll_cap_seconds": 1.0})
    limits(fresh_sandbox, foxycart={"max_in_flight": 1, "latency_seconds": 0.1, "retry_after": 1})
    cfg = config(fresh_sandbox, ("foxycart",), "2026-10-28", "2026-11-04", foxycart={"reports": FOXY_REPORTS})
    run = run_tap(cfg, env=env).ok()
    for name in FOXY_REPORTS:
        rows = run.records[f"foxycart_{name}"]
        assert_same_rows(keyed(rows), foxycart_expected(fresh_sandbox, name, rows))
    assert refused(fresh_sandbox, "foxycart") <= 2  # the first two at once; perhaps one try at two later
    assert len(pace_lines(run.stderr, "foxycart")) == 1


def test_no_request_of_a_stream_that_stopped_reaches_the_vendor_after_the_next_stream_starts(
        fresh_sandbox: RunningSandbox, tmp_path) -> None:
    """Every Vroom answer a 429: the first stream gives up; its other windows' workers, mid-retry or
    waiting, send nothing more once the second stream has started (they used to retry on beside it)."""
    config = vroom_config(fresh_sandbox)
    config.update(start_date=START, end_date=END)
    catalog = catalog_selecting(config, ["vroom_orders", "vroom_line_items"])
    set_faults(fresh_sandbox, throttle_every=1, retry_after=0.3, vendors=["vroom"])
    env = env_setting_class_attributes(tmp_path, {"tap_retail_reports.core.streams:ReportStream.max_tries": 3})
    run = run_tap(config, catalog=catalog, env=env)
    assert run.returncode == 1
    calls = sandbox_log(fresh_sandbox, settled=True)
    first = calls[0]["path"]  # the stream the SDK syncs first
    started = min(call["at"] for call in calls if call["path"] != first)
    late = [call for call in calls if call["path"] == first and call["at"] >= started]
    assert late == []
    # Nor does a retry of it say so after its stream stopped.
    stream = "vroom_" + first.rsplit("/", 1)[-1]
    lines = run.stderr.splitlines()
    stopped = next(number for number, line in enumerate(lines) if f"{stream}: stopped: " in line)
    assert [line for line in lines[stopped:] if f"{stream}: attempt" in line] == []


POLL_LINE = re.compile(r"job \S+ is '\w+' (?:after|at) ([\d.]+)s(?: old)?; next poll in ([\d.]+)s")


def test_a_report_is_polled_so_that_it_is_seen_within_a_fifth_of_its_time(fresh_sandbox: RunningSandbox,
                                                                         tmp_path) -> None:
    """Point 7: a report ready T after its creation is seen within max(20% of T, 2 s), T from seconds to
    half an hour, so each wait before the next poll is at most a fifth of the job's age (or 2 s). The
    engine's waits are scaled down five times here (the sandbox's job takes 8 s, as a 40 s one would);
    the decisions are read from the tap's DEBUG lines, not timed."""
    scale = 5.0
    env = env_setting_class_attributes(tmp_path, {f"{ASYNC}.poll_first_seconds": 1.5 / scale,
                                                  f"{ASYNC}.poll_cap_seconds": 120 / scale})
    knobs(fresh_sandbox, "foxycart", processing_seconds=8.0)
    cfg = config(fresh_sandbox, ("foxycart",), "2026-10-28", "2026-10-29", foxycart={"reports": ["customers"]})
    run = run_tap(cfg, env={**env, "TAP_RETAIL_REPORTS_LOGLEVEL": "DEBUG"}).ok()
    assert run.records["foxycart_customers"]
    waits = [(float(age), float(wait)) for age, wait in POLL_LINE.findall(run.stderr)]
    late = [(age, wait) for age, wait in waits if wait > max(0.2 * age, 2.0 / scale) + 0.05]  # the lines round to 0.1 s
    assert late == []
    assert len(waits) >= 8 and max(age for age, _ in waits) >= 6.0  # polled from the start to past 6 s
    (report,) = knobs(fresh_sandbox, "foxycart")["reports"]
    assert report["polls"] == len(waits) + 1  # each poll but the last (it saw the report ready) said when the next comes


def test_the_sandboxs_limits_knob_names_a_bad_setting(fresh_sandbox: RunningSandbox) -> None:
    url = f"http://127.0.0.1:{fresh_sandbox.port}/_sandbox/limits"
    for bad, words in [({"nope": {}}, "unknown vendor"), ({"vroom": {"max_in_flight": -1}}, "max_in_flight"),
                       ({"vroom": {"refuse_with": 500}}, "429 or 503"), ({"vroom": {"speed": 1}}, "unknown knob")]:
        answer = requests.post(url, json=bad, timeout=10)
        assert answer.status_code == 400 and words in answer.json()["error"]
    assert limits(fresh_sandbox, vroom={"max_in_flight": 2})["limits"]["vroom"]["max_in_flight"] == 2
    assert limits(fresh_sandbox)["limits"] == {}
