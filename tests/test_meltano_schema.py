"""Pinning a layout the way the Meltano ecosystem does: the extractor's `schema` extra in meltano.yml.

A real Meltano project (the Makefile's `.venv-meltano`) runs the tap against the sandbox's FoxyCart
with the portal's column names. Meltano writes the `schema` extra into the catalog it hands the tap;
the tap follows it. What this test found Meltano 4.4 doing with properties discovery did not report:
it adds them with `inclusion: automatic` (the tap still follows a `select` that leaves one out), and
it sees only names of letters, digits and underscores (others get an empty schema, which the tap
does not take as a declaration; the run's summary says which names need a catalog file instead).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

from tap_retail_reports.sandbox.credentials import tap_config
from tap_retail_reports.sandbox.server import RunningSandbox
from tests.exact import exact
from tests.test_async_vendors import knobs
from tests.test_readme_commands import meltano_bin

ROOT = Path(__file__).resolve().parent.parent
STREAM = "foxycart_transactions"


def project(folder: Path, running: RunningSandbox, **extras: object) -> Path:
    """A Meltano project of one extractor: this checkout's tap command, configured for the sandbox."""
    shipped = yaml.safe_load((ROOT / "meltano.yml").read_text())["plugins"]["extractors"][0]
    config = tap_config(f"http://127.0.0.1:{running.port}", vendors=("foxycart",))
    config.update(start_date="2026-10-05", end_date="2026-10-08")
    config["foxycart"]["reports"] = ["transactions"]
    extractor = {"name": "tap-retail-reports", "namespace": "tap_retail_reports",
                 "executable": str(Path(sys.executable).parent / "tap-retail-reports"),
                 "capabilities": shipped["capabilities"], "settings": shipped["settings"], "config": config, **extras}
    (folder / "meltano.yml").write_text(yaml.safe_dump({
        "version": 1, "project_id": "typed-layouts-test", "send_anonymous_usage_stats": False,
        "default_environment": "dev", "environments": [{"name": "dev"}],
        "plugins": {"extractors": [extractor]},
    }, sort_keys=False))
    return folder


def invoke(folder: Path) -> tuple[list[dict], str]:
    """`meltano invoke tap-retail-reports`: the tap's Singer messages and stderr."""
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("TAP_RETAIL_REPORTS_", "MELTANO_"))},
           "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false"}
    done = subprocess.run([str(meltano_bin()), "invoke", "tap-retail-reports"], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")], done.stderr


def pin_block(stderr: str) -> dict:
    """The `schema:` block the run's summary offers for meltano.yml."""
    start = stderr.index(f"{STREAM}: ")
    start = stderr.index("\nschema:\n", start) + 1
    lines = []
    for line in stderr[start:].splitlines():
        if line != "schema:" and not line.startswith("  "):
            break
        lines.append(line)
    return yaml.safe_load("\n".join(lines))["schema"]


def test_a_meltano_projects_schema_extra_pins_the_columns(fresh_sandbox: RunningSandbox, tmp_path: Path) -> None:
    knobs(fresh_sandbox, "foxycart", processing_seconds=0.1, csv_column_names="portal")
    first, stderr = invoke(project(tmp_path, fresh_sandbox))
    offered = pin_block(stderr)[STREAM]
    assert offered["Tax"] == {"type": ["number", "null"]} and offered["Hidden"] == {"type": ["boolean", "null"]}
    assert "Order Total" not in offered and "Order Total" in stderr  # a name Meltano's schema extra cannot reach
    assert "have names Meltano's schema extra does not reach" in stderr

    # The block as offered, with a user's own changes: a column as text, one as whole numbers, one left out.
    schema = {**offered, "Tax": {"type": ["string", "null"]}, "Note": {"type": ["integer", "null"]},
              "Currency": {"type": ["string", "null"]}}
    messages, stderr = invoke(project(tmp_path, fresh_sandbox, schema={STREAM: schema},
                                      select=[f"{STREAM}.*", f"!{STREAM}.Currency"]))
    schemas = [message for message in messages if message["type"] == "SCHEMA" and message["stream"] == STREAM]
    first_schema = schemas[0]["schema"]["properties"]
    assert set(schema) - {"Currency"} <= set(first_schema)  # declared before the first record
    for name, declared in schema.items():
        if name != "Currency":
            assert schemas[-1]["schema"]["properties"][name]["type"] == declared["type"], name
    records = [message["record"] for message in messages if message["type"] == "RECORD" and message["stream"] == STREAM]
    before = [message["record"] for message in first if message["type"] == "RECORD"]
    assert len(records) == len(before) > 0
    for got, was in zip(sorted(records, key=str), sorted(before, key=str), strict=True):
        assert exact(got["Tax"]) == ("str", f"{was['Tax']:.2f}")  # as the file writes it
        assert got["Note"] is None and (got.get("_extra_fields") or {}).get("Note") == (was["Note"] or None)
        assert "Currency" not in got and was["Currency"] == "USD"
        assert exact(got["Order Total"]) == exact(was["Order Total"])
    # What is pinned is no longer offered.
    assert "Tax (" not in stderr[stderr.index(f"{STREAM}: "):] and '"Tax":' not in stderr
