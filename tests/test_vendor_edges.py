"""Vendors at their edges, end to end against the sandbox: Flipkart's 499 and 202 answers,
FoxyCart's HAL errors, rows whose key the vendor left empty, Flipkart's partner refresh token,
a vendor that is down, and a wrong credential said once."""

from __future__ import annotations

from pathlib import Path

import pytest

from tap_retail_reports.sandbox.server import RunningSandbox
from tests.conftest import catalog_selecting, env_setting_class_attributes, run_tap
from tests.test_async_vendors import config, knobs


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
