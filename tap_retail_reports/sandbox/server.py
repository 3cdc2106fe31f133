"""One loopback HTTP server that simulates every vendor under its own prefix: `RunningSandbox` for tests
and benchmarks, `main` for the `tap-retail-reports-sandbox` command.

The parts: vendor_app.py (what a vendor app sees and answers), state.py (the apps, the faults in force,
the request log), faults.py (what each fault does), handler.py (routing, the `/_sandbox` control paths),
tls.py (the HTTPS port). The names tests import stay importable from here.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import typing as t

from tap_retail_reports.sandbox.faults import Faults
from tap_retail_reports.sandbox.handler import SandboxServer
from tap_retail_reports.sandbox.state import LoggedRequest, Sandbox
from tap_retail_reports.sandbox.vendor_app import BadRequest, Request, Response, VendorApp

if t.TYPE_CHECKING:
    from tap_retail_reports.sandbox.tls import TlsEndpoint

__all__ = [
    "BadRequest", "Faults", "LoggedRequest", "Request", "Response", "RunningSandbox", "Sandbox", "SandboxServer",
    "VendorApp", "main",
]


class RunningSandbox:
    """A sandbox served from a background thread: what tests and benchmarks use."""

    # How often the serving loop looks for a stop: `shutdown()` waits up to this long (the
    # standard library's half second, paid by every test that starts a sandbox of its own).
    stop_poll_seconds = 0.02

    def __init__(self, port: int = 0, seed: int = 42, faults: Faults | None = None, *, tls: bool = False) -> None:
        self.sandbox = Sandbox(seed=seed, faults=faults)
        self.server = SandboxServer(("127.0.0.1", port), self.sandbox, verbose=False)
        self.port = self.server.server_port
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True,
                                        kwargs={"poll_interval": self.stop_poll_seconds})
        # With tls: the same vendors over HTTPS on a second port, under a private CA (`tls.ca_file`).
        self.tls = _tls_endpoint(self.sandbox) if tls else None

    def url(self, vendor: str) -> str:
        suffix = "/api/retailer/v1" if vendor == "vroom" else ""
        return f"http://127.0.0.1:{self.port}/{vendor}{suffix}"

    def __enter__(self) -> RunningSandbox:
        self._thread.start()
        if self.tls is not None:
            self.tls.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        if self.tls is not None:
            self.tls.close()


def _tls_endpoint(sandbox: Sandbox, port: int = 0) -> TlsEndpoint:
    from tap_retail_reports.sandbox.tls import TlsEndpoint  # it builds on this module's server

    return TlsEndpoint(sandbox, port)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="tap-retail-reports-sandbox",
        description="Serve simulated Retrend, FoxyCart, Distribu, Flipkart and Vroom "
        "APIs on loopback, with seeded data and optional injected faults.",
    )
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--host", default="127.0.0.1", help="loopback only")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--error-rate", type=float, default=0.0, help="share of 503s")
    parser.add_argument("--reset-rate", type=float, default=0.0, help="share of resets mid-body")
    parser.add_argument("--throttle-every", type=int, default=0, help="every Nth request 429s")
    parser.add_argument("--tls-port", type=int, default=None,
                        help="also serve HTTPS on this port (0: any free one), under a private CA made at start")
    parser.add_argument("--verbose", action="store_true", help="log every request")
    args = parser.parse_args(argv)
    if args.host not in {"127.0.0.1", "localhost", "::1"}:
        parser.error("the sandbox serves loopback only")
    faults = Faults(
        error_rate=args.error_rate,
        reset_rate=args.reset_rate,
        throttle_every=args.throttle_every,
    )
    sandbox = Sandbox(seed=args.seed, faults=faults)
    server = SandboxServer((args.host, args.port), sandbox, verbose=args.verbose)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(
        f"sandbox serving {', '.join(sorted(sandbox.apps))} on http://{args.host}:{server.server_port}",
        flush=True,
    )
    tls = _tls_endpoint(sandbox, args.tls_port) if args.tls_port is not None else None
    if tls is not None:
        tls.start()
        print(f"and on https://{args.host}:{tls.port}, whose certificate a private CA signed: trust it with "
              f"REQUESTS_CA_BUNDLE={tls.ca_file}", flush=True)
    try:
        server.serve_forever()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        server.server_close()
        if tls is not None:
            tls.close()


if __name__ == "__main__":
    main()
