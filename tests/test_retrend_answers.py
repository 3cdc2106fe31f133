"""Retrend's answers as the tap reads them: an answer that is not the asked period's report, and the
report's top-level figures as typed columns. End to end, the tap command against the sandbox."""

from __future__ import annotations

import datetime as dt
import typing as t

import pytest
import requests

from tap_retail_reports.sandbox.credentials import tap_config
from tap_retail_reports.sandbox.retrend import App
from tap_retail_reports.sandbox.server import RunningSandbox
from tests.conftest import catalog_selecting, run_tap

# -- Retrend: an answer that is not the asked period's report ------------------------------

@pytest.mark.parametrize("answer", ["report_null", "null", "empty", "previous_period", "next_period"])
def test_a_retrend_answer_that_is_not_the_periods_report_is_no_report_yet(fresh_sandbox: RunningSandbox,
                                                                         answer: str) -> None:
    configure = retrend_knobs(fresh_sandbox)
    configure(today="2024-03-10", odd_answers={"2024-03-06": answer})
    cfg = retrend_config(fresh_sandbox, "2024-03-05", "2024-03-10")
    stream = "retrend_category_interest_trends"
    first = run_tap(cfg).ok()
    rows = first.records[stream]
    # Not a row of 2024-03-06, and no row carries another period's figures under the asked date.
    assert [row["start_date"] for row in rows] == ["2024-03-05", "2024-03-07", "2024-03-08", "2024-03-09"]
    assert not any(key.startswith("vendor_") or key == "report" for row in rows for key in row.get("_extra_fields") or {})
    assert "taken as no report yet" in first.stderr and "Traceback" not in first.stderr
    # As for a missing report: the bookmark waits before the period, which is asked again next run.
    bookmark = first.last_state["bookmarks"][stream]["partitions"][0]["replication_key_value"]
    assert bookmark == "2024-03-06T00:00:00Z"
    configure(odd_answers={})
    second = run_tap(cfg, state=first.last_state).ok()
    assert "2024-03-06" in [row["start_date"] for row in second.records[stream]]
    assert second.last_state["bookmarks"][stream]["partitions"][0]["replication_key_value"] == "2024-03-10T00:00:00Z"


def retrend_knobs(running: RunningSandbox) -> t.Callable[..., dict]:
    def configure(**settings: t.Any) -> dict:
        response = requests.post(f"http://127.0.0.1:{running.port}/_sandbox/vendor/retrend", json=settings, timeout=10)
        response.raise_for_status()
        return response.json()
    return configure


def retrend_config(running: RunningSandbox, start: str, end: str, **retrend: t.Any) -> dict:
    cfg = tap_config(f"http://127.0.0.1:{running.port}", vendors=("retrend",))
    cfg["retrend"].update({"store_nums": [1], "reports": ["category_interest_trends"], **retrend})
    cfg.update(start_date=start, end_date=end, lookback_days=0)
    return cfg


@pytest.mark.parametrize("with_catalog", [False, True], ids=["no-catalog", "catalog"])
def test_a_reports_top_level_figures_are_typed_columns(fresh_sandbox: RunningSandbox, with_catalog: bool) -> None:
    cfg = retrend_config(fresh_sandbox, "2024-03-01", "2024-03-04",
                         reports=["conversation_delta_report", "direct_search_oos_impact"])
    # With a catalog from discovery (as Meltano runs it), whose schema does not name the learned columns.
    catalog = catalog_selecting(cfg, ["retrend_conversation_delta_report", "retrend_direct_search_oos_impact"])
    run = run_tap(cfg, catalog=catalog if with_catalog else None).ok()
    served = App(seed=42).report(1, "conversation_delta_report", "daily", dt.date(2024, 3, 1))
    schema = run.schemas["retrend_conversation_delta_report"]["schema"]["properties"]
    assert schema["total_conversations"]["type"] == ["integer", "null"]
    assert schema["previous_total_conversations"]["type"] == ["integer", "null"]
    assert schema["percent_change"]["type"] == ["number", "null"]
    assert schema["volumes"]["type"] == ["array", "null"]  # nested series: JSON columns of their own
    assert schema["intent_breakdown"]["type"] in (["array", "null"], ["object", "null"])
    first = run.records["retrend_conversation_delta_report"][0]
    assert first["start_date"] == "2024-03-01"
    assert first["total_conversations"] == served["total_conversations"]
    assert first["percent_change"] == served["percent_change"]
    assert first["volumes"] == served["volumes"]
    assert not first.get("_extra_fields")
    oos = run.schemas["retrend_direct_search_oos_impact"]["schema"]["properties"]
    assert oos["direct_search_volume"]["type"] == ["integer", "null"]
    assert oos["estimated_lost_revenue"]["type"] == ["number", "null"]
    assert all(isinstance(row["oos_rate"], float) for row in run.records["retrend_direct_search_oos_impact"])
    # The types are remembered beside the partitions' bookmarks: the next run declares the same ones.
    remembered = run.last_state["bookmarks"]["retrend_conversation_delta_report"]["column_types"]
    assert remembered["volumes"] == "array" and remembered["total_conversations"] == "integer"
    again = run_tap({**cfg, "lookback_days": 3}, catalog=catalog if with_catalog else None, state=run.last_state).ok()
    assert len(again.records["retrend_conversation_delta_report"]) == len(run.records["retrend_conversation_delta_report"])
    assert again.schemas["retrend_conversation_delta_report"] == run.schemas["retrend_conversation_delta_report"]
