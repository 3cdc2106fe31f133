"""Vendors at their edges, end to end against the sandbox: Flipkart's 499 and 202 answers,
FoxyCart's HAL errors, rows whose key the vendor left empty, Flipkart's partner refresh token,
a vendor that is down, and a wrong credential said once."""

from __future__ import annotations

import datetime as dt
import re
import socket
import threading
import time
import typing as t
from pathlib import Path

import pytest

from tap_retail_reports.sandbox.credentials import FLIPKART_REFRESH_TOKEN
from tap_retail_reports.sandbox.distribu import end_of, start_of
from tap_retail_reports.sandbox.server import RunningSandbox
from tests.conftest import TapRun, catalog_selecting, env_setting_class_attributes, run_tap, set_faults
from tests.test_async_vendors import config, knobs, run_revoking_flipkart_tokens, windows_of
from tests.test_vroom import expected_rows


@pytest.fixture
def fast(tmp_path: Path) -> dict:
    """Short waits inside the tap: retries after 0.05 s, polls from 0.2 s."""
    owner = "tap_retail_reports.core.async_stream:AsyncReportStream"
    return env_setting_class_attributes(tmp_path, {
        "tap_retail_reports.core.streams:ReportStream.backoff_factor": 0.05,
        f"{owner}.poll_first_seconds": 0.2, f"{owner}.poll_cap_seconds": 0.5, f"{owner}.retry_wait_seconds": 0.2,
    })


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "| ERROR" in line or line.startswith("tap-retail-reports: error")]


# -- 16: Flipkart's 499 and 202 ---------------------------------------------------------


def flipkart_orders(running: RunningSandbox) -> tuple[dict, dict]:
    # Tuesday to Thursday: one job (one week of the window grid).
    cfg = config(running, ("flipkart",), "2026-10-06", "2026-10-08")
    return cfg, catalog_selecting(cfg, ["flipkart_orders_report"])


def flipkart_expected_count(running: RunningSandbox) -> int:
    state = knobs(running, "flipkart")
    params = state["reports"][-1]["parameters"]
    expected = running.sandbox.apps["flipkart"].expected_rows("orders_report", params)
    return sum(len(rows) for rows in expected.values())


def test_flipkart_499_and_an_empty_202_are_retried_and_a_202_with_its_answer_is_read(
        fresh_sandbox: RunningSandbox, fast: dict) -> None:
    knobs(fresh_sandbox, "flipkart", timeout_499_next=2, accepted_next=2, create_status=202,
          running_detail_status=202, processing_seconds=1)
    cfg, catalog = flipkart_orders(fresh_sandbox)
    run = run_tap(cfg, catalog=catalog, env=fast).ok()
    state = knobs(fresh_sandbox, "flipkart")
    assert state["settings"]["timeout_499_next"] == 0 and state["settings"]["accepted_next"] == 0  # all served
    assert len(state["reports"]) == 1  # neither a 499 nor an empty 202 became a second job
    assert len(run.records["flipkart_orders_report"]) == flipkart_expected_count(fresh_sandbox) > 0
    assert "HTTP 499" in run.stderr and "HTTP 202" in run.stderr  # said as retries
    assert not error_lines(run.stderr)


def test_a_202_that_never_carries_an_answer_fails_its_window_and_emits_nothing(
        fresh_sandbox: RunningSandbox, fast: dict) -> None:
    knobs(fresh_sandbox, "flipkart", accepted_next=100)
    cfg, catalog = flipkart_orders(fresh_sandbox)
    run = run_tap(cfg, catalog=catalog, env=fast)
    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert not run.records["flipkart_orders_report"]
    assert "accepted but not ready" in run.stderr
    assert "replication_key_value" not in str(run.last_state["bookmarks"].get("flipkart_orders_report"))


# -- 17: FoxyCart's HAL errors -------------------------------------------------------------


@pytest.mark.parametrize("shape", ["hal", "hal_single", "hal_with_message", "plain"])
def test_a_foxycart_refusal_shows_its_message_not_its_json(fresh_sandbox: RunningSandbox, fast: dict,
                                                            shape: str) -> None:
    knobs(fresh_sandbox, "foxycart", error_shape=shape)
    cfg = config(fresh_sandbox, ("foxycart",), "2026-10-28", "2026-11-01",
                 foxycart={"store_id": "9999", "reports": ["customers"]})
    run = run_tap(cfg, env=fast)
    assert run.returncode == 1 and "Traceback" not in run.stderr
    last = run.stderr.strip().splitlines()[-1]
    assert "GET /foxycart/stores/9999 -> HTTP 403: this token has no access to store 9999" in last, last
    assert "_embedded" not in run.stderr and "fx:errors" not in run.stderr and '{"' not in run.stderr


# -- 18: rows the vendor sends without their key --------------------------------------------


def two_runs(cfg: dict, stream: str, env: dict) -> tuple[list[dict], list[dict]]:
    catalog = catalog_selecting(cfg, [stream])
    return (run_tap(cfg, catalog=catalog, env=env).ok().records[stream],
            run_tap(cfg, catalog=catalog, env=env).ok().records[stream])


@pytest.mark.parametrize(("customer_id", "rows"), [("null", "per_order"), ("absent", "per_order"), ("empty", "grouped")])
def test_distribu_dashboard_orders_get_distinct_stable_customer_ids(fresh_sandbox: RunningSandbox, fast: dict,
                                                                    customer_id: str, rows: str) -> None:
    knobs(fresh_sandbox, "distribu", dashboard_orders_per_day=2, dashboard_customer_id=customer_id, dashboard_rows=rows)
    cfg = config(fresh_sandbox, ("distribu",), "2026-10-01", "2026-10-04")
    first, second = two_runs(cfg, "distribu_customer_sales", fast)
    app = fresh_sandbox.sandbox.apps["distribu"]
    sent = [row for day in range(1, 4)
            for row in app.customer_sales(start_of(dt.date(2026, 10, day)), end_of(dt.date(2026, 10, day)))["rows"]]
    assert len(first) == len(sent)  # every row arrives: none dropped, none merged
    keys = [(row["date"], row["customerId"]) for row in first]
    assert len(set(keys)) == len(keys)
    filled = sorted(row["customerId"] for row in first if row["customerId"].startswith("no-customerId:"))
    assert len(filled) == (6 if rows == "per_order" else 3)
    assert sorted(keys) == sorted((row["date"], row["customerId"]) for row in second)  # the same keys next run


def test_vroom_contacts_with_only_a_phone_get_distinct_stable_emails(fresh_sandbox: RunningSandbox, fast: dict) -> None:
    knobs(fresh_sandbox, "vroom", phone_only_every=4, now="2024-01-20T00:00:00Z")
    cfg = config(fresh_sandbox, ("vroom",), "2024-01-01", "2024-01-20")
    first, second = two_runs(cfg, "vroom_customer_contacts", fast)
    emails = [row["email"] for row in first]
    now = dt.datetime(2024, 1, 20, tzinfo=dt.timezone.utc)
    assert len(first) == len(fresh_sandbox.sandbox.apps["vroom"].rows("customer_contacts", {}, now=now))
    assert len(set(emails)) == len(emails) and all(emails)
    filled = [email for email in emails if email.startswith("no-email:")]
    assert len(filled) >= 2 and all(row["phone"] is not None for row in first if row["email"] in filled)
    assert sorted(emails) == sorted(row["email"] for row in second)


# -- 15: Flipkart's partner refresh token ------------------------------------------------------


def partner_config(running: RunningSandbox) -> tuple[dict, dict]:
    cfg, catalog = flipkart_orders(running)
    cfg["flipkart"]["refresh_token"] = FLIPKART_REFRESH_TOKEN
    return cfg, catalog


def test_a_partner_refresh_token_renews_before_expiry_and_follows_rotation(fresh_sandbox: RunningSandbox,
                                                                           fast: dict) -> None:
    # Partner tokens only, each living 3 s while the report takes 4 s: renewed while the job is polled,
    # each time with the refresh token the grant before handed out.
    knobs(fresh_sandbox, "flipkart", reports_need_partner_token=True, refresh_token_rotation="rotate",
          partner_token_lifetime_seconds=3, processing_seconds=4)
    cfg, catalog = partner_config(fresh_sandbox)
    run = run_tap(cfg, catalog=catalog, env=fast).ok()
    state = knobs(fresh_sandbox, "flipkart")
    assert state["refresh_grants"] >= 2 and state["token_grants"] == state["refresh_grants"]
    assert len(run.records["flipkart_orders_report"]) == flipkart_expected_count(fresh_sandbox) > 0
    warnings = [line for line in run.stderr.splitlines() if "issued a new refresh token" in line]
    assert len(warnings) == 1 and "WARNING" in warnings[0] and "set flipkart.refresh_token" in warnings[0]
    issued = [FLIPKART_REFRESH_TOKEN, *state["refresh_tokens"], *(t["token"] for t in state["tokens_issued"])]
    assert not [secret for secret in issued if secret in run.stderr or secret in run.stdout]


def test_a_refused_partner_token_is_renewed_once_with_the_refresh_token(fresh_sandbox: RunningSandbox,
                                                                        fast: dict) -> None:
    knobs(fresh_sandbox, "flipkart", reports_need_partner_token=True, refresh_token_rotation="same",
          processing_seconds=3)
    cfg, catalog = partner_config(fresh_sandbox)
    run = run_revoking_flipkart_tokens(fresh_sandbox, cfg, catalog, fast).ok()
    assert knobs(fresh_sandbox, "flipkart")["refresh_grants"] == 2 and "token refused (HTTP 401)" in run.stderr
    assert "issued a new refresh token" not in run.stderr  # the same one back is no rotation
    assert run.records["flipkart_orders_report"]


def test_a_refused_refresh_token_names_it_and_a_refresh_token_without_client_credentials_is_a_config_error(
        fresh_sandbox: RunningSandbox, fast: dict) -> None:
    cfg, catalog = partner_config(fresh_sandbox)
    cfg["flipkart"]["refresh_token"] = "expired-refresh-token"
    run = run_tap(cfg, catalog=catalog, env=fast)
    assert run.returncode == 1 and "Traceback" not in run.stderr
    last = run.stderr.strip().splitlines()[-1]
    assert "HTTP 400: invalid_grant: Invalid refresh token (check flipkart.refresh_token" in last, last
    cfg["flipkart"] = {"base_url": cfg["flipkart"]["base_url"], "access_token": "a", "refresh_token": "r"}
    run = run_tap(cfg, catalog=catalog)
    assert run.returncode == 1 and run.stderr.count("flipkart.refresh_token needs flipkart.client_id") == 1


# -- 14 and issue 12.9: a vendor down, or refusing its credentials, is one line ----------------


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # nothing listens there once the probe is closed


def test_a_dead_vendor_fails_fast_and_the_healthy_one_loads_every_row(sandbox: RunningSandbox, fast: dict) -> None:
    cfg = config(sandbox, ("vroom", "distribu"), "2026-10-01", "2026-10-03")
    cfg["distribu"]["base_url"] = f"http://127.0.0.1:{closed_port()}/distribu"
    catalog = catalog_selecting(cfg, ["vroom_orders", "vroom_line_items", *DISTRIBU_STREAMS])
    run = run_tap(cfg, catalog=catalog, env=fast)
    assert run.returncode == 1 and "Traceback" not in run.stderr
    for stream, endpoint in (("vroom_orders", "orders"), ("vroom_line_items", "line_items")):
        assert len(run.records[stream]) == len(expected_rows(endpoint, "2026-10-01", "2026-10-03")) > 0, stream
    # One call spends its retries (5 waits); every other Distribu call tries once. Today each of
    # the five streams spends its own: 25 retry lines.
    retries = [line for line in run.stderr.splitlines() if "distribu" in line and "retrying in" in line]
    assert len(retries) == 5, "\n".join(retries)
    down = [line for line in error_lines(run.stderr) if "distribu is down" in line]
    assert len(down) == 3, "\n".join(down)  # the vendor's line, the summary's line, the exit line
    failed = " ".join(line for line in error_lines(run.stderr) if "| failed:   " in line)  # the streams it stopped
    assert sum(stream in failed for stream in DISTRIBU_STREAMS) == len(DISTRIBU_STREAMS)
    assert run.stderr.splitlines()[-1].startswith("tap-retail-reports: error: 5 stream(s) failed")


DISTRIBU_STREAMS = ("distribu_sales_daily", "distribu_sales_by_status", "distribu_customer_sales",
                    "distribu_inventory", "distribu_inventory_categories")


def test_a_wrong_flipkart_secret_is_one_line_that_names_the_settings(fresh_sandbox: RunningSandbox,
                                                                    fast: dict) -> None:
    cfg = config(fresh_sandbox, ("flipkart",), "2026-10-01", "2026-10-20")
    cfg["flipkart"]["client_secret"] = "not-the-secret"
    run = run_tap(cfg, env=fast)
    assert run.returncode == 1 and "Traceback" not in run.stderr
    about_credentials = [line for line in error_lines(run.stderr) if "check flipkart.client_id" in line]
    # The vendor's line, the summary's line, the exit line; today 85 lines for these 20 days.
    assert len(about_credentials) == 3, "\n".join(about_credentials)
    assert all("flipkart: GET /flipkart/oauth-service/oauth/token -> HTTP 401" in line for line in about_credentials)
    assert knobs(fresh_sandbox, "flipkart")["token_grants"] == 0
    lines = [line.split("| ", 3)[-1] for line in run.stderr.splitlines()]
    assert len(lines) == len(set(lines)), "a line logged twice"


def test_a_partition_reads_as_words_in_log_lines(sandbox: RunningSandbox, fast: dict) -> None:
    cfg = config(sandbox, ("flipkart",), "2026-10-06", "2026-10-08")
    run = run_tap(cfg, catalog=catalog_selecting(cfg, ["flipkart_stock_ledger"]), env=fast).ok()
    assert "flipkart_stock_ledger for warehouse_id BLR01: " in run.stderr
    assert "{'" not in run.stderr, [line for line in run.stderr.splitlines() if "{'" in line]


# -- issue 12.9 for the asynchronous vendors: lost after planning, while jobs poll ----------------

LOST_STREAMS = ("flipkart_orders_report", "flipkart_returns_report", "foxycart_complete", "foxycart_customers")


def run_losing_vendors_mid_run(running: RunningSandbox, cfg: dict, catalog: dict, env: dict,
                               lose: t.Callable[[], None]) -> TapRun:
    """The tap run while, once both vendors have jobs (processing), `lose()` takes them away for good."""
    done = threading.Event()

    def lose_once_jobs_exist() -> None:
        while not done.is_set():
            if all(knobs(running, vendor)["reports"] for vendor in ("flipkart", "foxycart")):
                lose()
                return
            time.sleep(0.05)

    loser = threading.Thread(target=lose_once_jobs_exist)
    loser.start()
    try:
        return run_tap(cfg, catalog=catalog, env=env)
    finally:
        done.set()
        loser.join()


@pytest.mark.parametrize("loss", ["refused", "down"])
def test_a_vendor_lost_while_its_jobs_poll_is_one_line_per_vendor_and_the_next_run_loads_everything(
        fresh_sandbox: RunningSandbox, fast: dict, loss: str) -> None:
    for vendor in ("flipkart", "foxycart"):  # no job finishes before the loss (the sandbox's clock moves on later)
        knobs(fresh_sandbox, vendor, processing_seconds=60)
    cfg = config(fresh_sandbox, ("flipkart", "foxycart"), "2026-10-01", "2026-10-25")
    cfg["max_concurrent_jobs"] = 16  # every job under way when the vendors are lost
    catalog = catalog_selecting(cfg, LOST_STREAMS)

    def lose() -> None:
        if loss == "down":
            set_faults(fresh_sandbox, error_rate=1.0, vendors=["flipkart", "foxycart"])
        else:  # the app's access withdrawn: its tokens revoked and no new one granted
            for vendor in ("flipkart", "foxycart"):
                knobs(fresh_sandbox, vendor, revoke_tokens=True, refuse_grants="invalid_grant")

    run = run_losing_vendors_mid_run(fresh_sandbox, cfg, catalog, fast, lose)
    assert run.returncode == 1 and "Traceback" not in run.stderr
    errors = [line for line in run.stderr.splitlines() if "| ERROR" in line]
    for vendor in ("flipkart", "foxycart"):
        said = "is down" if loss == "down" else f"check {vendor}."
        about = [line for line in errors if vendor in line and "| failed:   " not in line]
        # The vendor's line and the run summary's; before, one per stream and window (about 16 here).
        assert len(about) == 2, "\n".join(about)
        assert all(said in line for line in about), "\n".join(about)
    stopped = " ".join(line for line in errors if "| failed:   " in line)  # the summary's lists of streams stopped
    assert all(stream in stopped for stream in LOST_STREAMS), stopped
    held = run.last_state["bookmarks"]
    bookmarks = {stream: held.get(stream, {}).get("replication_key_value") for stream in LOST_STREAMS}
    assert not any(bookmarks.values()), (bookmarks, run.stderr[-6000:])
    assert any(held[stream].get("jobs") for stream in LOST_STREAMS), held  # jobs made are kept, for the next run

    set_faults(fresh_sandbox)  # the vendors are back
    for vendor in ("flipkart", "foxycart"):
        knobs(fresh_sandbox, vendor, refuse_grants=False, advance_seconds=60, processing_seconds=1)
    again = run_tap(cfg, catalog=catalog, state=run.last_state, env=fast).ok()
    for stream in LOST_STREAMS:
        planned = re.search(rf"{stream}: no bookmark; starting at start_date \S+: (\d+) report job", again.stderr)
        assert planned, stream
        windows = {start for start, _ in windows_of(again.records[stream])}
        assert len(windows) == int(planned.group(1)) >= 3, stream
        assert again.last_state["bookmarks"][stream]["replication_key_value"] == max(
            end for _, end in windows_of(again.records[stream]))
