"""The sandbox's own start: every vendor simulator is served, or the sandbox does not start."""

from __future__ import annotations

import sys

import pytest

from tap_retail_reports.sandbox.server import Sandbox


def test_the_sandbox_serves_every_vendor() -> None:
    assert sorted(Sandbox(seed=42).apps) == ["distribu", "flipkart", "foxycart", "retrend", "vroom"]


def test_a_vendor_simulator_that_fails_to_import_stops_the_sandbox(monkeypatch: pytest.MonkeyPatch) -> None:
    # A dependency missing under one vendor's simulator (openpyxl, which the report files need): the
    # sandbox must say so, not start without FoxyCart and Flipkart and answer 404 for them.
    monkeypatch.setitem(sys.modules, "openpyxl", None)  # None in sys.modules: its import fails
    for name in [name for name in sys.modules if name.startswith("tap_retail_reports.sandbox.")]:
        if name.split(".")[2] in ("files", "jobs", "foxycart", "flipkart"):
            monkeypatch.delitem(sys.modules, name)  # imported afresh, so the missing openpyxl is met
    with pytest.raises(ModuleNotFoundError, match="openpyxl"):
        Sandbox(seed=42)
