"""Secrets and signed URLs never reach a log line."""

from __future__ import annotations

import logging

from tap_retail_reports.core.redact import MASK, Redactor, install_log_redaction, redact


def test_registered_secrets_and_credential_query_parameters_are_masked():
    redactor = Redactor()
    redactor.add("hunter2-very-secret", "abc")  # too short to register safely
    line = redactor(
        "auth hunter2-very-secret failed for "
        "https://storage.example/r/1?x_secret_key=s3cr3t&part=2&X-Amz-Signature=deadbeef abc"
    )
    assert "hunter2-very-secret" not in line
    assert "s3cr3t" not in line and "deadbeef" not in line
    assert "part=2" in line and line.endswith("abc")
    assert MASK in line


def test_userinfo_in_urls_is_masked():
    assert "pw" not in Redactor()("https://user:pw@host.example/path")


def test_log_records_are_redacted_including_tracebacks(caplog):
    install_log_redaction()
    redact.add("token-for-the-log-test")
    logger = logging.getLogger("tap-retail-reports.test")
    with caplog.at_level(logging.INFO):
        logger.info("calling with %s", "token-for-the-log-test")
        try:
            raise RuntimeError("boom token-for-the-log-test")
        except RuntimeError:
            logger.exception("failed")
    assert "token-for-the-log-test" not in caplog.text
    assert MASK in caplog.text
