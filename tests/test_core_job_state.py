"""PartitionJobs: the one place the jobs of a partition's STATE change, and what it trusts of them."""

from __future__ import annotations

import logging

from tap_retail_reports.core.job_model import JobRecord
from tap_retail_reports.core.job_state import PartitionJobs
from tap_retail_reports.core.windows import Window, parse_when

STORE = "https://api.example.com/stores/1"
WINDOW = Window(parse_when("2026-11-02T08:00:00Z"), parse_when("2026-11-06T00:00:00Z"))


def jobs_of(state: dict, origin: str = STORE) -> PartitionJobs:
    return PartitionJobs(state, origin, "a_stream", logging.getLogger("test"))


def test_a_created_job_is_stored_by_window_start_and_found_again() -> None:
    state: dict = {}
    jobs_of(state).created(WINDOW, JobRecord("https://api.example.com/reports/7", {"a": 1}, 100.0))
    assert list(state["jobs"]) == ["2026-11-02T08:00:00Z"]
    stored = jobs_of(state).stored(WINDOW.start)
    assert stored is not None and stored.window == WINDOW and stored.record.job_id.endswith("/reports/7")
    jobs_of(state).forget(WINDOW)
    assert state["jobs"] == {}


def test_a_job_an_older_version_stored_under_start_and_end_is_found() -> None:
    state = {"jobs": {"2026-11-02T08:00:00Z/2026-11-06T00:00:00Z": {"job_id": "42", "params": {}, "created_at": 1}}}
    stored = jobs_of(state).stored(WINDOW.start)
    assert stored is not None and stored.window == WINDOW


def test_a_job_of_another_account_or_host_is_forgotten(caplog) -> None:
    caplog.set_level(logging.INFO)
    state: dict = {}
    jobs_of(state, "https://api.example.com/stores/2").created(WINDOW, JobRecord("https://api.example.com/reports/7", {}, 1.0))
    assert jobs_of(state).stored(WINDOW.start) is None and state["jobs"] == {}
    assert "was made at https://api.example.com/stores/2, not at the configured" in caplog.text
    state = {"jobs": {"2026-11-02T08:00:00Z/2026-11-06T00:00:00Z": {
        "job_id": "https://evil.example.net/reports/7", "params": {}, "created_at": 1}}}
    assert jobs_of(state).stored(WINDOW.start) is None and state["jobs"] == {}
    assert "not on the configured vendor host api.example.com" in caplog.text


def test_jobs_outside_the_run_are_forgotten() -> None:
    state: dict = {}
    jobs_of(state).created(WINDOW, JobRecord("1", {}, 1.0))
    jobs_of(state).keep_only([WINDOW.end])
    assert state["jobs"] == {}
