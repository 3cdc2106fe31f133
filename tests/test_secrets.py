"""No configured secret reaches stderr, STATE or a record, on a run that succeeds and one that fails."""

from __future__ import annotations

import json


from tap_retail_reports.tap import TapRetailReports
from tap_retail_reports.sandbox.credentials import tap_config
from tests.conftest import run_tap, set_faults


def configured_secrets(config: dict) -> list[str]:
    from tap_retail_reports.core.config import secret_values

    return list(secret_values(TapRetailReports.config_jsonschema, config))


def test_no_secret_anywhere_in_a_run_with_retries(fresh_sandbox):
    set_faults(fresh_sandbox, error_rate=0.1, reset_rate=0.05)
    config = tap_config(f"http://127.0.0.1:{fresh_sandbox.port}")
    config.update(start_date="2026-10-01", end_date="2026-10-04")
    secrets = configured_secrets(config)
    assert len(secrets) >= 3
    run = run_tap(config).ok()
    assert run.records and run.states
    for secret in secrets:
        assert secret not in run.stderr
        assert secret not in run.stdout  # records, schemas and STATE
    assert "retrying in" in run.stderr  # the faults did go through the logged retry path


def test_no_secret_in_the_error_of_a_rejected_run(sandbox):
    config = tap_config(f"http://127.0.0.1:{sandbox.port}", vendors=("distribu",))
    config["distribu"]["api_key"] = "dk_wrong_key_that_must_not_leak"
    run = run_tap(config)
    assert run.returncode == 1
    assert "dk_wrong_key_that_must_not_leak" not in run.stderr + run.stdout
    assert json.dumps(run.states).count("dk_") == 0
