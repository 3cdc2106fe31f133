"""Secrets and signed URLs never reach a log line."""

from __future__ import annotations

import base64
import io
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


FOXY_LINK = "https://path.to.domain.tld/store_1/complete_report.1647049118670.zip?foo=link-signature-8f2a"


def test_a_registered_link_is_masked_whatever_its_parameters_are_called():
    redactor = Redactor()
    assert "link-signature-8f2a" in redactor(FOXY_LINK)  # the name-based net alone misses it
    redactor.add_link(FOXY_LINK)
    for text in (
        f"GET {FOXY_LINK} -> HTTP 403",
        "the vendor said: signature link-signature-8f2a has expired",  # a value on its own
        "retrying ?foo=link-signature-8f2a",  # the query string without the link
    ):
        assert "link-signature-8f2a" not in redactor(text), text
    assert "path.to.domain.tld" not in redactor(f"GET {FOXY_LINK}")  # the whole link goes


def test_a_registered_link_with_short_values_masks_the_query_not_innocent_text():
    redactor = Redactor()
    redactor.add_link("https://files.example/r.zip?a=1&sig=xy")
    assert redactor("a=1&sig=xy") == MASK
    assert redactor("page 1 of 2") == "page 1 of 2"


def test_a_link_value_is_masked_percent_encoded_and_decoded():
    redactor = Redactor()
    redactor.add_link("https://files.example/r.zip?X=ab%2Fcd%2Bef")
    assert redactor("value ab/cd+ef") == f"value {MASK}"
    assert redactor("value ab%2Fcd%2Bef") == f"value {MASK}"


def test_basic_credentials_are_masked_in_their_base64_form():
    redactor = Redactor()
    redactor.add_basic("ops@example.com", "pässword-42")
    encoded = base64.b64encode("ops@example.com:pässword-42".encode()).decode()
    latin1 = base64.b64encode("ops@example.com:pässword-42".encode("latin-1")).decode()
    line = redactor(f"401: bad credentials in 'Authorization: Basic {encoded}' (also {latin1})")
    assert encoded not in line and latin1 not in line and MASK in line
    assert "pässword-42" not in redactor("password pässword-42 refused")


def test_a_registered_link_logged_and_raised_never_shows(caplog):
    install_log_redaction()
    link = "https://storage.example/exports/r1.csv.gz?foo=secret-value-for-raise"
    redact.add_link(link)
    logger = logging.getLogger("tap-retail-reports.test")
    with caplog.at_level(logging.INFO):
        logger.info("downloading %s", link)
        try:
            raise ValueError(f"could not read {link}")
        except ValueError:
            logger.exception("download failed")
    assert "secret-value-for-raise" not in caplog.text
    assert "downloading ***" in caplog.text


def test_the_sdk_json_log_format_does_not_show_a_secret_from_an_exception():
    from singer_sdk.logging import StructuredFormatter

    install_log_redaction()
    secret = "-".join(("secret", "in", "a", "structured", "log"))  # not in the traceback's source lines
    redact.add(secret)
    logger = logging.getLogger("tap-retail-reports.test.structured")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(StructuredFormatter())
    logger.addHandler(handler)
    try:
        try:
            raise KeyError(secret)
        except KeyError:
            logger.exception("failed")
    finally:
        logger.removeHandler(handler)
    assert secret not in stream.getvalue()
    assert "KeyError" in stream.getvalue()
