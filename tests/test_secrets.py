"""No configured secret reaches stderr, STATE or a record, on a run that succeeds and one that fails.

The sandbox echoes what it was sent in its error bodies (Vroom the Authorization header and the
password, Distribu the bearer key, Retrend the api-key and the session token), as some vendors do,
so these tests fail when redaction is switched off.
"""

from __future__ import annotations

import base64
import json
import textwrap

import pytest

from tap_retail_reports.sandbox.credentials import (
    DISTRIBU_API_KEY_WITHOUT_SCOPE,
    VROOM_USERNAME,
    tap_config,
)
from tap_retail_reports.tap import TapRetailReports
from tests.conftest import env_setting_class_attributes, run_tap, set_faults


def configured_secrets(config: dict) -> list[str]:
    from tap_retail_reports.core.config import secret_values

    return list(secret_values(TapRetailReports.config_jsonschema, config))


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("tap-retail-reports: error:")]


def test_no_secret_anywhere_in_a_run_with_retries(fresh_sandbox, tmp_path):
    set_faults(fresh_sandbox, error_rate=0.1, reset_rate=0.05)
    config = tap_config(f"http://127.0.0.1:{fresh_sandbox.port}")
    config.update(start_date="2026-10-01", end_date="2026-10-04")
    # A stale session token: refused once (the sandbox's 401 names it), then replaced.
    config["retrend"]["session_token"] = "rts_stale-session-token-from-yesterday"
    secrets = configured_secrets(config)
    assert len(secrets) >= 4
    # Retries wait a tenth of their usual time, set inside the tap's process: the same logged path, sooner.
    fast_retries = env_setting_class_attributes(tmp_path, {"tap_retail_reports.core.streams:ReportStream.backoff_factor": 0.1})
    run = run_tap(config, env=fast_retries).ok()
    assert run.records and run.states
    for secret in secrets:
        assert secret not in run.stderr
        assert secret not in run.stdout  # records, schemas and STATE
    assert "retrying in" in run.stderr  # the faults did go through the logged retry path
    assert "session refused" in run.stderr  # and the stale token through the renewal path


def vroom_wrong_password(config: dict) -> list[str]:
    config["vroom"]["password"] = "wrong-vroom-password-77"
    basic = base64.b64encode(f"{VROOM_USERNAME}:wrong-vroom-password-77".encode()).decode()
    return ["wrong-vroom-password-77", basic]


def distribu_wrong_key(config: dict) -> list[str]:
    config["distribu"]["api_key"] = "dk_wrong_key_that_must_not_leak"
    return ["dk_wrong_key_that_must_not_leak"]


def distribu_key_without_scope(config: dict) -> list[str]:
    config["distribu"]["api_key"] = DISTRIBU_API_KEY_WITHOUT_SCOPE
    return [DISTRIBU_API_KEY_WITHOUT_SCOPE]


def retrend_wrong_key(config: dict) -> list[str]:
    config["retrend"]["api_key"] = "rt-wrong-api-key-that-must-not-leak"
    return ["rt-wrong-api-key-that-must-not-leak"]


@pytest.mark.parametrize(
    ("vendor", "break_config", "status"),
    [
        ("vroom", vroom_wrong_password, "HTTP 401"),
        ("distribu", distribu_wrong_key, "HTTP 401"),
        ("distribu", distribu_key_without_scope, "HTTP 403"),
        ("retrend", retrend_wrong_key, "HTTP 401"),
    ],
)
def test_no_secret_in_the_error_of_a_rejected_run(sandbox, vendor, break_config, status):
    config = tap_config(f"http://127.0.0.1:{sandbox.port}", vendors=(vendor,))
    config.update(start_date="2026-10-01", end_date="2026-10-02")
    secrets = break_config(config)
    run = run_tap(config)
    assert run.returncode == 1
    lines = error_lines(run.stderr)
    assert len(lines) == 1 and status in lines[0] and "***" in lines[0], run.stderr  # the echo, masked
    for secret in secrets:
        assert secret not in run.stderr + run.stdout
    assert json.dumps(run.states).count(secrets[0]) == 0


# Runs inside the tap's process (Python imports sitecustomize from PYTHONPATH at start-up):
# Vroom's parser gets a signed link, registers it, logs it and fails with a KeyError naming it
# and the password, as a bug would.
BUG = textwrap.dedent(
    """
    import logging
    from tap_retail_reports.core.redact import redact
    from tap_retail_reports.vroom.client import VroomStream

    LINK = "https://files.example/store_1/report.1647049118670.zip?foo=signed-link-secret-42"

    def parse_response(self, response):
        redact.add_link(LINK)
        logging.getLogger("tap-retail-reports").info("downloading %s", LINK)
        raise KeyError(f"no 'rows' in {LINK} for {self.vendor_config['password']}")

    VroomStream.parse_response = parse_response
    """
)


def test_an_unexpected_error_is_one_redacted_line(sandbox, tmp_path):
    (tmp_path / "sitecustomize.py").write_text(BUG)
    config = tap_config(f"http://127.0.0.1:{sandbox.port}", vendors=("vroom",))
    config.update(start_date="2026-10-01", end_date="2026-10-02")
    password = config["vroom"]["password"]
    for level in ("INFO", "DEBUG"):
        run = run_tap(config, env={"PYTHONPATH": str(tmp_path), "TAP_RETAIL_REPORTS_LOGLEVEL": level})
        assert run.returncode == 1
        for secret in ("signed-link-secret-42", "files.example", password):
            assert secret not in run.stderr, (level, run.stderr[-3000:])
        lines = error_lines(run.stderr)
        assert len(lines) == 1, run.stderr[-3000:]
        assert lines[0].startswith("tap-retail-reports: error: KeyError: ") and "bug" in lines[0]
        assert ("Traceback" in run.stderr) == (level == "DEBUG")  # the traceback only at DEBUG, redacted
