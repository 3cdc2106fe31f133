"""TLS and proxies as requests does them (issue 17.5), end to end against the sandbox's HTTPS port, whose
certificate a private CA signed: API calls and downloads take the CA bundle and the proxies from the
environment the same way, and a certificate that is not trusted is one line per vendor, never retried."""

from __future__ import annotations

import typing as t
from pathlib import Path

import pytest
import requests

from tap_retail_reports.core.environment import CA_VARIABLES
from tap_retail_reports.sandbox.server import RunningSandbox
from tests import test_vendor_edges
from tests.conftest import TapRun, catalog_selecting, run_tap
from tests.test_async_vendors import config, knobs
from tests.test_vendor_edges import closed_port

STREAMS = ("vroom_orders", "foxycart_complete")  # a synchronous API, and report jobs with downloads
NO_CA = dict.fromkeys(CA_VARIABLES, "")  # this machine's own settings left out: each test names its own
START, END = "2026-10-05", "2026-10-07"
fast = test_vendor_edges.fast  # the fixture: retries after 0.05 s, polls from 0.2 s


@pytest.fixture(scope="module")
def tls_sandbox() -> t.Iterator[RunningSandbox]:
    with RunningSandbox(seed=42, tls=True) as running:
        yield running


def tls_state(running: RunningSandbox) -> dict:
    return requests.get(f"http://127.0.0.1:{running.port}/_sandbox/tls", timeout=10).json()


def over_https(running: RunningSandbox, cfg: dict) -> dict:
    assert running.tls is not None
    for vendor in set(cfg) & {"vroom", "foxycart"}:
        cfg[vendor]["base_url"] = cfg[vendor]["base_url"].replace(f"http://127.0.0.1:{running.port}",
                                                                  f"https://127.0.0.1:{running.tls.port}")
    return cfg


def keys(run: TapRun) -> dict[str, list]:
    return {"vroom_orders": sorted(row["order_id"] for row in run.records["vroom_orders"]),
            "foxycart_complete": sorted((row["_source_file"], row["_report_window_start"], row["_row_number"])
                                        for row in run.records["foxycart_complete"])}


@pytest.fixture(scope="module")
def over_http(tls_sandbox: RunningSandbox) -> dict[str, list]:
    """The rows of the same streams and days read over plain HTTP."""
    cfg = config(tls_sandbox, ("vroom", "foxycart"), START, END)
    found = keys(run_tap(cfg, catalog=catalog_selecting(cfg, STREAMS)).ok())
    assert all(found.values()), found
    return found


@pytest.mark.parametrize("variable", ["REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"])
def test_api_calls_and_downloads_trust_the_ca_the_environment_names(tls_sandbox: RunningSandbox, over_http: dict,
                                                                     fast: dict, variable: str) -> None:
    assert tls_sandbox.tls is not None
    cfg = over_https(tls_sandbox, config(tls_sandbox, ("vroom", "foxycart"), START, END))
    before = tls_state(tls_sandbox)["handshakes"]
    # Before: API calls ignored the variable (LimitedSession.send skipped requests' merge): "vroom is down".
    run = run_tap(cfg, catalog=catalog_selecting(cfg, STREAMS),
                  env={**fast, **NO_CA, variable: str(tls_sandbox.tls.ca_file)}).ok()
    assert keys(run) == over_http
    assert tls_state(tls_sandbox)["handshakes"] > before  # it did go over TLS


def test_downloads_from_another_host_trust_the_same_ca(tls_sandbox: RunningSandbox, fast: dict) -> None:
    """API over HTTP, links to storage over HTTPS (as a vendor's storage host would be): the CA named in
    SSL_CERT_FILE is trusted for downloads as for API calls. Before, downloads read only REQUESTS_CA_BUNDLE
    and CURL_CA_BUNDLE: each download failed and was fetched again, the job made again."""
    assert tls_sandbox.tls is not None
    knobs(tls_sandbox, "foxycart", download_base_url=f"https://127.0.0.1:{tls_sandbox.tls.port}/foxycart")
    try:
        cfg = config(tls_sandbox, ("foxycart",), START, END)
        catalog = catalog_selecting(cfg, ["foxycart_complete"])
        trusted = run_tap(cfg, catalog=catalog, env={**fast, **NO_CA, "SSL_CERT_FILE": str(tls_sandbox.tls.ca_file)})
        before = tls_state(tls_sandbox)["refused_handshakes"]
        untrusted = run_tap(cfg, catalog=catalog, env={**fast, **NO_CA})
        refused = tls_state(tls_sandbox)["refused_handshakes"] - before
    finally:
        knobs(tls_sandbox, "foxycart", download_base_url=None)
    assert trusted.ok().records["foxycart_complete"]
    assert untrusted.returncode == 1 and not untrusted.records
    said = [line for line in untrusted.stderr.splitlines()
            if "| ERROR" in line and "certificate" in line and "| failed:     " not in line]  # not a reason's next line
    assert len(said) == 2, "\n".join(said)  # the vendor's line and the summary's
    assert f"the TLS certificate of 127.0.0.1:{tls_sandbox.tls.port} was not accepted" in said[0]
    assert "fetching again" not in untrusted.stderr and "re-creating" not in untrusted.stderr
    assert refused <= 2, refused  # one download each for the two jobs under way at most: none fetched again


def test_a_certificate_not_trusted_is_one_line_per_vendor_and_never_retried(tls_sandbox: RunningSandbox,
                                                                           fast: dict) -> None:
    assert tls_sandbox.tls is not None
    cfg = over_https(tls_sandbox, config(tls_sandbox, ("vroom", "foxycart"), START, END))
    before = tls_state(tls_sandbox)["refused_handshakes"]
    # What a TLS-inspecting proxy looks like to a machine without its CA.
    run = run_tap(cfg, env={**fast, **NO_CA})
    refused = tls_state(tls_sandbox)["refused_handshakes"] - before
    assert run.returncode == 1 and not run.records and "Traceback" not in run.stderr
    errors: list[str] = []
    for line in run.stderr.splitlines():  # a reason the failure summary goes on with is one line here
        if "| ERROR" in line and "| failed:     " in line and errors:
            errors[-1] += " " + line.split("| failed:", 1)[1].strip()
        elif "| ERROR" in line:
            errors.append(line)
    host = f"127.0.0.1:{tls_sandbox.tls.port}"
    for vendor in ("vroom", "foxycart"):
        said = [line for line in errors if f"{vendor}: the TLS certificate of {host} was not accepted" in line]
        assert len(said) == 2, "\n".join(errors)  # the vendor's line and the summary's, for all its streams
        assert all("a certificate problem, not an outage" in line and "REQUESTS_CA_BUNDLE" in line for line in said)
    # Before: every call retried six times, then "vroom is down" (27 handshakes refused for this config at bb9f8f8).
    assert "retrying in" not in run.stderr and " is down" not in run.stderr
    assert refused <= 5, refused  # Vroom's four windows read at once, FoxyCart's token: each tried once


def test_a_ca_bundle_that_cannot_be_read_is_named(tls_sandbox: RunningSandbox, fast: dict, tmp_path: Path) -> None:
    cfg = over_https(tls_sandbox, config(tls_sandbox, ("vroom",), START, END))
    missing = tmp_path / "no-such-bundle.pem"
    run = run_tap(cfg, catalog=catalog_selecting(cfg, ["vroom_orders"]),
                  env={**fast, **NO_CA, "SSL_CERT_FILE": str(missing)})
    assert run.returncode == 1 and "Traceback" not in run.stderr and "most likely a bug" not in run.stderr
    assert f"SSL_CERT_FILE={missing} names no readable CA bundle" in run.stderr.splitlines()[-1]


def test_proxies_and_no_proxy_apply_to_api_calls_and_downloads(tls_sandbox: RunningSandbox, fast: dict) -> None:
    """The vendors' host is a port nothing listens on: only the proxy (the sandbox, which answers requests
    in absolute form) reaches them, for API calls and for the download links, which point at that host too."""
    dead = f"http://127.0.0.1:{closed_port()}"
    cfg = config(tls_sandbox, ("vroom", "foxycart"), START, END)
    for vendor in ("vroom", "foxycart"):
        cfg[vendor]["base_url"] = cfg[vendor]["base_url"].replace(f"http://127.0.0.1:{tls_sandbox.port}", dead)
    catalog = catalog_selecting(cfg, STREAMS)
    proxy = {"HTTP_PROXY": f"http://127.0.0.1:{tls_sandbox.port}"}
    through = run_tap(cfg, catalog=catalog, env={**fast, **proxy}).ok()
    assert through.records["vroom_orders"] and through.records["foxycart_complete"]
    bypassed = run_tap(cfg, catalog=catalog, env={**fast, **proxy, "NO_PROXY": "127.0.0.1"})
    assert bypassed.returncode == 1 and not bypassed.records
    assert "vroom is down" in bypassed.stderr and "foxycart is down" in bypassed.stderr
