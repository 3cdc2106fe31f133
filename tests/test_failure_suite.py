"""Every failure a vendor can throw, tried against every vendor: the real tap command against
the sandbox over loopback HTTP, with the outcome checked.

The matrix is `MATRIX`: for each vendor, the failures tried here. A cell another test file
already covers is named in `ELSEWHERE` (not run twice); a failure that cannot happen to a
vendor is in `NOT_APPLICABLE` with the reason. `test_the_matrix_covers_every_cell` keeps the
three honest, and the README's table "What happens when a vendor fails" is made from them.

Each run is compared with a fault-free run of the same stream and window (`clean`), which
the vendor's own test file checks against the sandbox's data. Every run is checked for the
configured secrets in stderr, records, SCHEMA and STATE. Waits are shortened inside the tap's
process only (`env_setting_class_attributes`): read timeout, retry backoff, async polls.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import signal
import subprocess
import typing as t
from dataclasses import dataclass
from pathlib import Path

import jsonschema
import pytest
import requests

from tap_retail_reports.core.config import secret_values
from tap_retail_reports.sandbox.credentials import tap_config
from tap_retail_reports.sandbox.server import RunningSandbox
from tap_retail_reports.tap import TapRetailReports
from tests.conftest import (
    TAP,
    TapRun,
    catalog_selecting,
    env_setting_class_attributes,
    once_per_run,
    parse_messages,
    run_tap,
    set_faults,
)
from tests.documents import documents_text
from tests.test_async_vendors import run_revoking_tokens


@dataclass(frozen=True)
class Vendor:
    name: str
    stream: str  # one small stream: the failures are the vendor's, not the stream's
    start: str
    end: str
    key: tuple[str, ...]  # the stream's primary key
    report_paths: tuple[str, ...]  # where its report answers come from (paths after the prefix)
    numeric_field: str | None = None  # a declared non-string field, for the wrong-type fault
    tap_filled: t.Callable[[dict], bool] = lambda row: False  # rows the tap adds, not the vendor

    def sent(self, rows: list[dict]) -> list[dict]:
        return [row for row in rows if not self.tap_filled(row)]


VENDORS = {
    vendor.name: vendor
    for vendor in (
        Vendor("vroom", "vroom_orders", "2026-10-01", "2026-10-04", ("order_id",), ("/api/retailer/v1/analytics/",),
               "total"),
        Vendor("retrend", "retrend_conversation_delta_report", "2026-10-01", "2026-10-04",
               ("store_num", "duration", "start_date"), ("/v2/reports/",), "created_at"),
        # By status: a call a day (sales_daily asks a year a call), so there are calls to fail and windows to kill.
        Vendor("distribu", "distribu_sales_by_status", "2026-10-01", "2026-10-08", ("date", "status"),
               ("/api/v1/reports/",), "revenue", tap_filled=lambda row: row["orderCount"] == 0),  # a status without orders
        Vendor("foxycart", "foxycart_customers", "2026-10-28", "2026-11-01",
               ("_source_file", "_report_window_start", "_row_number"), ("/stores/1234/reports", "/reports/"),
               "date_created"),
        Vendor("flipkart", "flipkart_orders_report", "2026-10-03", "2026-10-05",
               ("_source_file", "_report_window_start", "_row_number"), ("/reports/",), "quantity"),
    )
}

# What the user sees, per failure: the README's table is made from these lines.
OUTCOMES = {
    "5xx and resets": "retried with backoff; exit 0; every row",
    "429 storm": "waits as long as Retry-After says; exit 0; every row",
    "slow answer past the timeout": "read timeout, retried; exit 0; every row",
    "malformed JSON": "the stream stops with one line naming it; exit 1; bookmark held; the next run reads every row",
    "field of an unexpected type": "column null, the value kept in _extra_fields; records valid against SCHEMA; exit 0",
    "new unknown field": "kept: in _extra_fields (JSON), or a learned column (a CSV header's, a Retrend figure's); same keys; exit 0",
    "empty report": "exit 0 with no rows: the vendor said there were none (Retrend: each period's row, its lists empty)",
    "truncated download": "downloaded again; exit 0; every row",
    "corrupt download": "downloaded again; exit 0; every row",
    "expired link": "a fresh link asked for; exit 0; every row",
    "failed job": "job created again; exit 0; every row",
    "expired job": "job created again; exit 0; every row",
    "token revoked mid-run": "new token, call retried once; exit 0; every row",
    "SIGKILL, then resume from the last STATE": "nothing lost; repeats only of rows the lookback re-reads, same keys",
}
FAILURES = tuple(OUTCOMES)

MATRIX: dict[str, list[str]] = {
    # Vroom's 5xx/resets, 429s, stalls and SIGKILL are in test_vroom.py (ELSEWHERE).
    "vroom": ["malformed JSON", "field of an unexpected type", "new unknown field", "empty report"],
    # Retrend's revoked session and SIGKILL are in test_retrend.py.
    "retrend": ["5xx and resets", "429 storm", "slow answer past the timeout", "malformed JSON",
                "field of an unexpected type", "new unknown field", "empty report"],
    # Distribu's 429s are in test_distribu.py.
    "distribu": ["5xx and resets", "slow answer past the timeout", "malformed JSON", "field of an unexpected type",
                 "new unknown field", "empty report", "SIGKILL, then resume from the last STATE"],
    # FoxyCart's failed jobs, expired links, cut and corrupt files and SIGKILL are in test_async_vendors.py.
    "foxycart": ["5xx and resets", "429 storm", "slow answer past the timeout", "malformed JSON",
                 "field of an unexpected type", "new unknown field", "empty report", "token revoked mid-run"],
    # Flipkart's expired jobs and revoked tokens are in test_async_vendors.py.
    "flipkart": ["5xx and resets", "429 storm", "slow answer past the timeout", "malformed JSON",
                 "field of an unexpected type", "new unknown field", "empty report",
                 "truncated download", "corrupt download", "expired link", "failed job",
                 "SIGKILL, then resume from the last STATE"],
}

ELSEWHERE: dict[tuple[str, str], str] = {
    ("vroom", "5xx and resets"): "tests/test_vroom.py::test_every_row_arrives_through_5xx_and_resets",
    ("vroom", "429 storm"): "tests/test_vroom.py::test_429_bursts_are_waited_out_for_as_long_as_retry_after_says",
    ("vroom", "slow answer past the timeout"): "tests/test_vroom.py::test_a_vendor_that_stops_answering_is_timed_out_and_retried",
    ("vroom", "SIGKILL, then resume from the last STATE"): "tests/test_vroom.py::test_a_run_killed_half_way_resumes_without_loss",
    ("retrend", "token revoked mid-run"): "tests/test_retrend.py::test_a_refused_session_is_renewed_once_and_the_run_goes_on",
    ("retrend", "SIGKILL, then resume from the last STATE"): "tests/test_retrend.py::test_a_killed_run_resumes_without_losing_a_period",
    ("distribu", "429 storm"): "tests/test_distribu.py::test_injected_429s_are_waited_out_as_told_and_no_row_is_lost",
    ("foxycart", "truncated download"): "tests/test_async_vendors.py::test_failed_jobs_expired_links_and_bad_downloads_are_recovered",
    ("foxycart", "corrupt download"): "tests/test_async_vendors.py::test_failed_jobs_expired_links_and_bad_downloads_are_recovered",
    ("foxycart", "expired link"): "tests/test_async_vendors.py::test_failed_jobs_expired_links_and_bad_downloads_are_recovered",
    ("foxycart", "failed job"): "tests/test_async_vendors.py::test_failed_jobs_expired_links_and_bad_downloads_are_recovered",
    ("foxycart", "SIGKILL, then resume from the last STATE"):
        "tests/test_async_vendors.py::test_a_run_killed_while_polling_resumes_its_jobs_without_creating_new_ones",
    ("flipkart", "expired job"): "tests/test_async_vendors.py::test_an_expired_flipkart_report_is_created_again",
    ("flipkart", "token revoked mid-run"): "tests/test_async_vendors.py::test_a_token_revoked_mid_run_is_renewed",
}

_SYNC = "a sync JSON vendor: no jobs, no downloads"
NOT_APPLICABLE: dict[tuple[str, str], str] = {
    **{(vendor, failure): _SYNC for vendor in ("vroom", "retrend", "distribu")
       for failure in ("truncated download", "corrupt download", "expired link", "failed job", "expired job")},
    ("vroom", "token revoked mid-run"): "HTTP Basic on every call: no token to revoke",
    ("distribu", "token revoked mid-run"): "a static API key: a refused key is a bad config (test_distribu.py)",
    ("foxycart", "expired job"): "FoxyCart reports are queued, error or ready: none expires",
}


# -- running one case ---------------------------------------------------------------


def config_for(running: RunningSandbox, vendor: Vendor) -> dict:
    config = tap_config(f"http://127.0.0.1:{running.port}", vendors=(vendor.name,))
    config.update(start_date=vendor.start, end_date=vendor.end)
    return config


def fast_env(folder: Path, read_timeout: float = 30) -> dict:
    """Short waits inside the tap: first retry after 0.1 s, polls from 0.2 s, and a read timeout."""
    owner = "tap_retail_reports.core.async_stream:AsyncReportStream"
    return env_setting_class_attributes(folder, {
        "tap_retail_reports.core.streams:ReportStream.backoff_factor": 0.1,
        "tap_retail_reports.core.streams:ReportStream.timeout": (5, read_timeout),
        f"{owner}.poll_first_seconds": 0.2, f"{owner}.poll_cap_seconds": 0.5, f"{owner}.retry_wait_seconds": 0.2,
    })


def knobs(running: RunningSandbox, vendor: str, **settings: t.Any) -> dict:
    response = requests.post(f"http://127.0.0.1:{running.port}/_sandbox/vendor/{vendor}", json=settings, timeout=10)
    response.raise_for_status()
    return response.json()


def sandbox_faults(running: RunningSandbox) -> list[str]:
    log = requests.get(f"http://127.0.0.1:{running.port}/_sandbox/log", timeout=10).json()
    return [entry["fault"] for entry in log if entry["fault"]]


def keyed(rows: list[dict], vendor: Vendor, ignore: t.Collection[str] = ()) -> dict[tuple, dict]:
    """Rows by key, without what differs between two readings (`_read_at`) and what a case changed."""
    left_out = {"_read_at", *ignore}
    return {tuple(row[k] for k in vendor.key): {k: v for k, v in row.items() if k not in left_out} for row in rows}


def issued_secrets(running: RunningSandbox, vendor: str) -> list[str]:
    """What an async vendor's sandbox handed out on the way: tokens and the secrets of signed links."""
    if vendor not in ASYNC:
        return []
    state = knobs(running, vendor)
    return [entry["token"] for entry in state["tokens_issued"]] + [
        link["secret"] for report in state["reports"] for link in report["links"]
    ]


def assert_no_secret(config: dict, runs: t.Iterable[TapRun], issued: t.Iterable[str] = ()) -> None:
    for secret in [*secret_values(TapRetailReports.config_jsonschema, config), *issued]:
        for run in runs:
            assert secret not in run.stderr, "a secret in stderr"
            assert secret not in run.stdout, "a secret in a record, SCHEMA or STATE"


def drop_everywhere(value: t.Any, name: str) -> None:
    """`name` taken out of every object inside `value` (parsed JSON), however deep."""
    if isinstance(value, dict):
        value.pop(name, None)
        value = list(value.values())
    if isinstance(value, list):
        for item in value:
            drop_everywhere(item, name)


def assert_every_row(run: TapRun, clean: TapRun, vendor: Vendor, ignore: t.Collection[str] = ()) -> None:
    rows = run.records[vendor.stream]
    got = keyed(rows, vendor, ignore)
    assert len(got) == len(rows), "a key repeats within one run"
    assert got == keyed(clean.records[vendor.stream], vendor, ignore)


@pytest.fixture(scope="module")
def clean(sandbox: RunningSandbox, tmp_path_factory: pytest.TempPathFactory,
          worker_id: str) -> dict[str, tuple[dict, TapRun]]:
    """Each vendor's stream read without faults: its catalog and what it wrote (once per test run:
    the sandbox's data is the same in every worker's sandbox)."""

    def read() -> dict[str, tuple[dict, dict]]:
        runs = {}
        env = fast_env(tmp_path_factory.mktemp("clean"))
        for vendor in VENDORS.values():
            config = config_for(sandbox, vendor)
            catalog = catalog_selecting(config, [vendor.stream])
            run = run_tap(config, catalog=catalog, env=env).ok()
            assert run.records[vendor.stream], vendor.name
            expected = sandbox_keys(sandbox, vendor, run.records[vendor.stream])
            if expected is not None:
                assert set(keyed(run.records[vendor.stream], vendor)) == expected, vendor.name
            runs[vendor.name] = (catalog, {**vars(run), "records": dict(run.records)})
        return runs

    return {name: (catalog, TapRun(**run)) for name, (catalog, run) in
            once_per_run(tmp_path_factory, worker_id, "failure-suite-clean-runs", read).items()}


def sandbox_keys(running: RunningSandbox, vendor: Vendor, rows: list[dict]) -> set[tuple] | None:
    """The keys the sandbox holds for the vendor's stream and window, computed from its data, where
    the vendor's test file has that helper (Retrend's and Flipkart's tests check theirs in full)."""
    if vendor.name == "vroom":
        from tests.test_vroom import expected_rows

        return {(row["order_id"],) for row in expected_rows("orders", vendor.start, vendor.end)}
    if vendor.name == "distribu":
        from tests.test_distribu import expected

        return {(row["date"], row["status"]) for row in expected(vendor.stream, vendor.start, vendor.end)}
    if vendor.name == "foxycart":
        from tests.test_async_vendors import foxycart_expected

        return set(foxycart_expected(running, "customers", rows))
    return None


ASYNC = ("foxycart", "flipkart")


def _is_datetime(value: object) -> bool:
    if not isinstance(value, str):
        return True  # a format applies to strings only (null is allowed by the type)
    try:
        dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


# jsonschema checks "date-time" only with an optional package: the check a validating target makes.
STRICT_FORMATS = jsonschema.FormatChecker()
STRICT_FORMATS.checks("date-time")(_is_datetime)

CASES = [(vendor, failure) for vendor, failures in MATRIX.items() for failure in failures]


@pytest.mark.timeout(120)
@pytest.mark.parametrize(("vendor_name", "failure"), CASES, ids=[f"{v}-{f.split(',')[0]}" for v, f in CASES])
def test_failure(vendor_name: str, failure: str, fresh_sandbox: RunningSandbox, clean: dict, tmp_path: Path) -> None:
    vendor = VENDORS[vendor_name]
    catalog, clean_run = clean[vendor_name]
    config = config_for(fresh_sandbox, vendor)
    only_reports = {"vendors": [vendor.name], "paths": list(vendor.report_paths)}
    env = fast_env(tmp_path)
    others: list[TapRun] = []  # runs before `done` (failed, killed): their output is checked for secrets too

    def run(**extra: t.Any) -> TapRun:
        return run_tap(config, catalog=catalog, env=extra.pop("env", env), **extra)

    if failure == "5xx and resets":
        set_faults(fresh_sandbox, error_rate=0.25, reset_rate=0.1, vendors=[vendor.name])
        done = run().ok()
        assert {"error", "reset"} & set(sandbox_faults(fresh_sandbox))
        assert "retrying in" in done.stderr
        assert_every_row(done, clean_run, vendor)

    elif failure == "429 storm":
        set_faults(fresh_sandbox, throttle_every=3, throttle_burst=2, retry_after=0.3, vendors=[vendor.name])
        done = run().ok()
        assert "throttle" in sandbox_faults(fresh_sandbox)
        assert re.search(r"HTTP 429\); retrying in 0\.[34]s", done.stderr)  # Retry-After, plus up to a fifth
        assert_every_row(done, clean_run, vendor)

    elif failure == "slow answer past the timeout":
        set_faults(fresh_sandbox, stall_rate=0.3, stall_seconds=2, vendors=[vendor.name])
        done = run(env=fast_env(tmp_path, read_timeout=1)).ok()
        assert "stall" in sandbox_faults(fresh_sandbox)
        assert "ReadTimeout" in done.stderr and "retrying in" in done.stderr
        assert_every_row(done, clean_run, vendor)

    elif failure == "malformed JSON":
        set_faults(fresh_sandbox, corrupt_json_rate=1.0, **only_reports)
        failed = run()
        assert failed.returncode == 1 and "Traceback" not in failed.stderr
        last = failed.stderr.strip().splitlines()[-1]
        assert last.startswith(f"tap-retail-reports: error: 1 stream(s) failed: {vendor.stream}; the first: ")
        assert "returned a body that is not JSON" in last, failed.stderr[-3000:]
        assert f"{vendor.stream}: {vendor.stream}:" not in failed.stderr  # named once
        assert "replication_key_value" not in json.dumps(failed.last_state["bookmarks"].get(vendor.stream, {}))
        created = len(knobs(fresh_sandbox, vendor.name)["reports"]) if vendor.name in ASYNC else 0
        set_faults(fresh_sandbox)  # the vendor is fixed: the next run reads every row from the held bookmark
        done = run(state=failed.last_state).ok()
        assert_every_row(done, clean_run, vendor)
        if vendor.name == "foxycart":  # its polls were unreadable (Flipkart's: the creation answers too)
            # A job the tap could not read the answers about may be fine at the vendor: kept, polled again.
            assert failed.last_state["bookmarks"][vendor.stream].get("jobs")
            assert len(knobs(fresh_sandbox, vendor.name)["reports"]) == created
        others.append(failed)

    elif failure == "field of an unexpected type":
        assert vendor.numeric_field
        if vendor.name in ASYNC:  # in every cell of that column of the CSV files
            knobs(fresh_sandbox, vendor.name, csv_cell_values={vendor.numeric_field: "N/A"})
        else:
            set_faults(fresh_sandbox, wrong_type_field={vendor.numeric_field: "N/A"}, **only_reports)
        done = run().ok()
        rows = vendor.sent(done.records[vendor.stream])
        assert rows and all(row[vendor.numeric_field] is None for row in rows)
        assert all(row["_extra_fields"][vendor.numeric_field] == "N/A" for row in rows)  # not lost
        schema = done.schemas[vendor.stream]["schema"]
        for row in done.records[vendor.stream]:
            jsonschema.validate(row, schema, format_checker=STRICT_FORMATS)
        assert_every_row(done, clean_run, vendor, ignore=[vendor.numeric_field, "_extra_fields"])

    elif failure == "new unknown field":
        if vendor.name in ASYNC:  # a new column in the CSV files
            knobs(fresh_sandbox, vendor.name, csv_extra_column={"loyalty_tier": "gold"})
        else:
            set_faults(fresh_sandbox, extra_field={"loyalty_tier": "gold"}, **only_reports)
        done = run().ok()
        rows = vendor.sent(done.records[vendor.stream])
        if vendor.name in (*ASYNC, "retrend"):  # a column learned from the file's header (or Retrend's answer)
            assert "loyalty_tier" in done.schemas[vendor.stream]["schema"]["properties"]
            assert rows and all(row["loyalty_tier"] == "gold" for row in rows)
        else:
            assert rows and all(row["_extra_fields"]["loyalty_tier"] == "gold" for row in rows)
        # Retrend's wrapper gets the field too: `response_loyalty_tier` beside the report's own; and so
        # do the objects of its nested series (JSON columns of their own), as the fault adds it to every object.
        for row in done.records[vendor.stream]:
            drop_everywhere(row, "loyalty_tier")
        assert_every_row(done, clean_run, vendor, ignore=["loyalty_tier", "response_loyalty_tier", "_extra_fields"])

    elif failure == "empty report":
        if vendor.name in ASYNC:
            knobs(fresh_sandbox, vendor.name, rows_per_day=0)  # files with a header and no row
        else:
            set_faults(fresh_sandbox, empty_rate=1.0, **only_reports)
        done = run().ok()
        if vendor.name == "retrend":  # a row is a whole report: it still arrives, with no figures
            series = [name for name, value in clean_run.records[vendor.stream][0].items() if isinstance(value, list)]
            assert "volumes" in series
            assert_every_row(done, clean_run, vendor, ignore=series)
            assert all(row[name] == [] for row in done.records[vendor.stream] for name in series)
        else:
            assert vendor.sent(done.records[vendor.stream]) == []
        assert "Traceback" not in done.stderr

    elif failure in ("truncated download", "corrupt download", "expired link", "failed job"):
        knob = {"truncated download": "truncate_next_downloads", "corrupt download": "corrupt_next_downloads",
                "expired link": "expired_link_next_downloads", "failed job": "fail_next"}[failure]
        knobs(fresh_sandbox, vendor.name, **{knob: 1})
        done = run().ok()
        assert knobs(fresh_sandbox, vendor.name)["settings"][knob] == 0  # the fault was served
        assert_every_row(done, clean_run, vendor)

    elif failure == "token revoked mid-run":  # while the jobs are polled
        knobs(fresh_sandbox, vendor.name, processing_seconds=3)
        done = run_revoking_tokens(fresh_sandbox, vendor.name, run).ok()
        assert knobs(fresh_sandbox, vendor.name)["token_grants"] == 2
        assert "token refused (HTTP 401)" in done.stderr
        assert_every_row(done, clean_run, vendor)

    elif failure == "SIGKILL, then resume from the last STATE":
        if vendor.name in ASYNC:  # killed while every window's job is in flight; they finish while no tap runs
            knobs(fresh_sandbox, vendor.name, processing_seconds=3600)
            windows = {row["_report_window_start"] for row in clean_run.records[vendor.stream]}

            def kill_now(state: dict, records: int) -> bool:
                return len(state["bookmarks"].get(vendor.stream, {}).get("jobs", {})) == len(windows)
        else:  # killed after its first finished window

            def kill_now(state: dict, records: int) -> bool:
                return records > 0

        killed = run_until_killed(config, catalog, env, tmp_path, kill_now)
        assert killed.last_state is not None
        assert len(killed.records[vendor.stream]) < len(clean_run.records[vendor.stream])
        if vendor.name in ASYNC:
            created = [report["id"] for report in knobs(fresh_sandbox, vendor.name)["reports"]]
            knobs(fresh_sandbox, vendor.name, advance_seconds=7200)
        done = run(state=killed.last_state).ok()
        if vendor.name in ASYNC:  # the jobs in STATE were polled, not created again
            assert [report["id"] for report in knobs(fresh_sandbox, vendor.name)["reports"]] == created
        union = {**keyed(killed.records[vendor.stream], vendor), **keyed(done.records[vendor.stream], vendor)}
        assert union == keyed(clean_run.records[vendor.stream], vendor)
        others.append(killed)

    else:  # pragma: no cover - a failure in MATRIX without a case
        raise AssertionError(failure)
    assert_no_secret(config, [done, *others], issued_secrets(fresh_sandbox, vendor.name))


def run_until_killed(config: dict, catalog: dict, env: dict, folder: Path,
                     kill_now: t.Callable[[dict, int], bool]) -> TapRun:
    """The tap in the background, killed with SIGKILL at the first STATE for which
    `kill_now(state, records so far)` holds; what it wrote until then."""
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "catalog.json").write_text(json.dumps(catalog))
    process = subprocess.Popen(
        [*TAP, "--config", str(folder / "config.json"), "--catalog", str(folder / "catalog.json")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, **env},
    )
    assert process.stdout is not None and process.stderr is not None
    lines, records = [], 0
    for line in process.stdout:
        lines.append(line)
        message = json.loads(line)
        records += message["type"] == "RECORD"
        if message["type"] == "STATE" and kill_now(message["value"], records):
            break
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    output = "".join(lines)
    return parse_messages(output, TapRun(process.returncode, output, process.stderr.read()))


# -- the matrix itself ---------------------------------------------------------------


def test_the_matrix_covers_every_cell() -> None:
    for vendor in VENDORS:
        for failure in FAILURES:
            places = [(vendor, failure) in ELSEWHERE, failure in MATRIX[vendor], (vendor, failure) in NOT_APPLICABLE]
            assert places.count(True) == 1, (vendor, failure, places)


@pytest.mark.parametrize("nodeid", sorted(set(ELSEWHERE.values())))
def test_cells_covered_elsewhere_name_tests_that_exist(nodeid: str) -> None:
    path, name = nodeid.split("::")
    source = (Path(__file__).parent.parent / path).read_text()
    assert f"def {name}(" in source, nodeid


def matrix_table() -> str:
    """The README's table: one row per failure, one column per vendor, then what the user sees."""
    names = list(VENDORS)
    lines = ["| failure | " + " | ".join(names) + " | outcome |", "|---" * (len(names) + 2) + "|"]
    for failure in FAILURES:
        cells = []
        for vendor in names:
            if failure in MATRIX[vendor]:
                cells.append("here")
            elif (vendor, failure) in ELSEWHERE:
                cells.append(f"`{Path(ELSEWHERE[vendor, failure].split('::')[0]).name}`")
            else:
                cells.append("n/a")
        lines.append(f"| {failure} | " + " | ".join(cells) + f" | {OUTCOMES[failure]} |")
    return "\n".join(lines)


def test_the_readme_shows_the_matrix() -> None:
    readme = documents_text()  # docs/production.md holds it
    assert matrix_table() in readme, "the docs' failure table is stale; print matrix_table() and paste it:\n" + matrix_table()


@pytest.mark.parametrize(
    ("declared", "sent"),
    [
        ({"type": ["number", "null"]}, "N/A"),
        ({"type": ["integer", "null"]}, "12.5"),
        ({"type": ["boolean", "null"]}, "maybe"),
        ({"type": ["string", "null"], "format": "date-time"}, "N/A"),
        ({"type": ["string", "null"], "format": "date"}, "soon"),
    ],
)
def test_a_value_that_does_not_fit_its_type_moves_to_extra_fields(declared: dict, sent: str) -> None:
    from tap_retail_reports.core.records import SchemaCoercion

    schema = {"properties": {"value": declared, "_extra_fields": {"type": ["object", "null"]}}}
    row = {"value": sent, "_extra_fields": {"kept": 1}}
    SchemaCoercion(schema)(row)
    assert row["value"] is None and str(row["_extra_fields"]["value"]) == sent and row["_extra_fields"]["kept"] == 1
    jsonschema.validate(row, schema, format_checker=STRICT_FORMATS)
