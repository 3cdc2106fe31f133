"""One loopback HTTP server that simulates every vendor under its own prefix.

Each vendor is a `VendorApp` (one module per vendor in this package) mounted at
`/<prefix>`. The server adds what no vendor module should have to think about:
routing, a request log the tests read, and injected faults (5xx, 429 bursts,
connections reset mid-body, stalls, and JSON answers cut, emptied or given new or
wrongly typed fields) controlled at start-up or at run time through
`/_sandbox/faults`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import signal
import socket
import sys
import threading
import time
import typing as t
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

if t.TYPE_CHECKING:
    from tap_retail_reports.sandbox.tls import TlsEndpoint
from tap_retail_reports.sandbox.limits import VendorLimits, refusal


class BadRequest(Exception):
    """Raised by a vendor app (or Request.json) to answer 400 with this message."""


@dataclass
class Request:
    """What a vendor app sees of an HTTP request. `path` is relative to the prefix."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: t.Mapping[str, str]
    body: bytes
    base_url: str  # e.g. http://127.0.0.1:8765/foxycart, for links the vendor hands out

    def json(self) -> t.Any:
        if not self.body:
            return None
        try:
            return json.loads(self.body)
        except ValueError as exc:
            raise BadRequest(f"body is not JSON: {exc}") from exc

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default


@dataclass
class Response:
    status: int = 200
    body: bytes | t.Iterable[bytes] = b""
    headers: dict[str, str] = field(default_factory=dict)
    content_length: int | None = None  # required when body is an iterable
    cut_after: int | None = None  # send only this many body bytes, then drop the connection

    @classmethod
    def json(cls, payload: t.Any, status: int = 200, **headers: str) -> Response:
        data = json.dumps(payload).encode()
        return cls(status, data, {"Content-Type": "application/json", **headers})


class VendorApp:
    """Base class of a simulated vendor. Subclasses set `prefix` and implement `handle`."""

    prefix: str = ""

    def __init__(self, seed: int) -> None:
        self.seed = seed

    def handle(self, request: Request) -> Response:  # pragma: no cover - abstract
        raise NotImplementedError

    def configure(self, settings: dict) -> dict:
        """Vendor-specific knobs set through `POST /_sandbox/vendor/<prefix>` (tests use it)."""
        raise ValueError(f"{self.prefix} has no settings")


@dataclass
class Faults:
    """Faults injected before a vendor app answers. Rates are probabilities per request."""

    error_rate: float = 0.0  # answer 503 instead
    error_retry_after: float | None = None  # seconds, in a Retry-After header of injected 503s (None: no header)
    drop_rate: float = 0.0  # close the connection without answering (the client sees it reset)
    refuse_status: int | None = None  # 401 or 403 for every request: credentials revoked (tokens and grants too)
    reset_rate: float = 0.0  # send half the body, then drop the connection
    throttle_every: int = 0  # every Nth request answers 429 ...
    throttle_burst: int = 1  # ... this many in a row
    retry_after: float = 1.0  # seconds, in Retry-After of injected 429s
    stall_rate: float = 0.0  # wait `stall_seconds` before answering (a client timeout)
    stall_seconds: float = 5.0
    corrupt_json_rate: float = 0.0  # a JSON answer cut in half, sent whole (200, valid length, bad JSON)
    empty_rate: float = 0.0  # every list in a JSON answer (its rows) sent empty
    extra_field: dict | None = None  # {name: value} added to every object of a JSON answer (a new vendor field)
    wrong_type_field: dict | None = None  # {name: value} replaces that field's value wherever it occurs
    vendors: list[str] | None = None  # None: all vendors
    paths: list[str] | None = None  # None: every path; else paths (after the prefix) starting so

    def applies_to(self, vendor: str, path: str = "/") -> bool:
        return (self.vendors is None or vendor in self.vendors) and (
            self.paths is None or path.startswith(tuple(self.paths))
        )


@dataclass
class LoggedRequest:
    vendor: str
    method: str
    path: str
    status: int
    at: float
    fault: str | None = None
    in_flight: int = 1  # requests to this vendor being answered when this one arrived, itself included


class Sandbox:
    """The server's shared state: apps, faults, request log."""

    def __init__(self, seed: int = 42, faults: Faults | None = None) -> None:
        self.seed = seed
        self.faults = faults or Faults()
        self.apps: dict[str, VendorApp] = {}
        self.log: list[LoggedRequest] = []
        self._lock = threading.Lock()
        self._rng = random.Random(seed)
        self._counter = 0
        self._in_flight: dict[str, int] = {}
        self.tls: TlsEndpoint | None = None  # the HTTPS port, when served (sandbox/tls.py)
        self.limits = VendorLimits()
        for app_class in _vendor_app_classes():
            app = app_class(seed)
            self.apps[app.prefix] = app

    def next_fault(self, vendor: str, path: str = "/") -> str | None:
        with self._lock:
            faults = self.faults
            if not faults.applies_to(vendor, path):
                return None
            self._counter += 1
            if faults.throttle_every and (
                (self._counter - 1) % faults.throttle_every < faults.throttle_burst
            ):
                return "throttle"
            if faults.refuse_status:
                return "refused"
            roll = self._rng.random()
            if roll < faults.error_rate:
                return "error"
            if roll < faults.error_rate + faults.reset_rate:
                return "reset"
            if roll < faults.error_rate + faults.reset_rate + faults.stall_rate:
                return "stall"
            if roll < faults.error_rate + faults.reset_rate + faults.stall_rate + faults.drop_rate:
                return "drop"
            roll = self._rng.random()  # answer-body faults: a second draw, so rates above stay as they were
            if roll < faults.corrupt_json_rate:
                return "corrupt_json"
            if roll < faults.corrupt_json_rate + faults.empty_rate:
                return "empty"
            if faults.extra_field or faults.wrong_type_field:
                return "reshaped"
            return None

    def record(self, entry: LoggedRequest) -> None:
        with self._lock:
            self.log.append(entry)

    def settle(self, timeout: float = 30.0) -> None:
        """Wait until no vendor request is being answered (a client may have given up on one)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if not any(self._in_flight.values()):
                    return
            time.sleep(0.05)

    def arrived(self, vendor: str, change: int) -> int:
        """Count a request to `vendor` in (+1) or out (-1); return how many are being answered."""
        with self._lock:
            self._in_flight[vendor] = self._in_flight.get(vendor, 0) + change
            return self._in_flight[vendor]

    def set_faults(self, payload: dict) -> None:
        with self._lock:
            self.faults = Faults(**payload)
            self._counter = 0


def _vendor_app_classes() -> list[type[VendorApp]]:
    """Every vendor module that exists; a vendor not yet simulated answers 404."""
    import importlib

    classes = []
    for name in ("vroom", "retrend", "distribu", "foxycart", "flipkart"):
        try:
            module = importlib.import_module(f"tap_retail_reports.sandbox.{name}")
        except ModuleNotFoundError:
            continue
        classes.append(module.App)
    return classes


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body leave in separate writes; with Nagle on, the body waits for the
    # client's delayed ACK (~40 ms a response on Linux loopback).
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: t.Any) -> None:  # noqa: A002  # BaseHTTPRequestHandler's own parameter name
        if self.server.verbose:
            super().log_message(format, *args)

    def _dispatch(self) -> None:
        sandbox = self.server.sandbox
        split = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = split.path.lstrip("/").split("/", 1)
        prefix, rest = parts[0], "/" + (parts[1] if len(parts) > 1 else "")

        if prefix == "_sandbox":
            self._send(self._control(rest, body))
            return
        app = sandbox.apps.get(prefix)
        if app is None:
            self._send(Response.json({"error": f"no vendor at /{prefix}"}, 404))
            return

        host = self.headers.get("Host") or f"127.0.0.1:{self.server.server_port}"
        request = Request(
            method=self.command,
            path=rest,
            query=parse_qs(split.query),
            headers=self.headers,  # type: ignore[arg-type]  # an HTTPMessage: a case-insensitive get(), as apps need
            body=body,
            base_url=f"{self.server.scheme}://{host}/{prefix}",  # links the vendor hands out keep the scheme
        )
        in_flight = sandbox.arrived(prefix, 1)
        try:
            self._answer(sandbox, app, request, prefix, rest, in_flight)
        finally:
            sandbox.arrived(prefix, -1)

    def _answer(self, sandbox: Sandbox, app: VendorApp, request: Request, prefix: str, rest: str,
                in_flight: int) -> None:
        admitted, limit = sandbox.limits.admit(prefix, rest)  # a vendor's limit on requests at once, its latency
        fault = sandbox.next_fault(prefix, rest) if admitted else "over_limit"
        if limit is not None and not admitted:
            response = refusal(limit)
        elif fault == "throttle":
            response = Response.json(
                {"error": "Too many requests", "retryAfter": sandbox.faults.retry_after},
                429,
                **{"Retry-After": f"{sandbox.faults.retry_after:g}"},
            )
        elif fault == "error":
            wait = sandbox.faults.error_retry_after
            response = Response.json({"error": "injected fault"}, 503,
                                     **({"Retry-After": f"{wait:g}"} if wait is not None else {}))
        elif fault == "refused":
            response = Response.json({"error": "credentials revoked"}, t.cast(int, sandbox.faults.refuse_status))
        elif fault == "drop":
            sandbox.record(LoggedRequest(prefix, self.command, rest, 0, time.time(), fault, in_flight))
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        else:
            if fault == "stall":
                time.sleep(sandbox.faults.stall_seconds)
            try:
                response = app.handle(request)
            except BadRequest as exc:
                response = Response.json({"error": str(exc)}, 400)
            except Exception as exc:  # noqa: BLE001  # a sandbox bug must show as a 500, not hang
                response = Response.json({"error": f"sandbox error: {exc!r}"}, 500)
            if fault in ("corrupt_json", "empty", "reshaped"):
                fault = _garble_json(response, fault, sandbox.faults)
        sandbox.record(
            LoggedRequest(prefix, self.command, rest, response.status, time.time(), fault, in_flight)
        )
        if admitted:
            sandbox.limits.done(prefix, limit)
        try:
            if fault == "reset":
                response.cut_after = _body_length(response) // 2
            self._send(response)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (a stall outlived its timeout)

    def _control(self, path: str, body: bytes) -> Response:
        sandbox = self.server.sandbox
        if path == "/faults" and self.command == "POST":
            sandbox.set_faults(json.loads(body or b"{}"))
            return Response.json({"ok": True})
        if path in ("/log", "/log/settled"):
            if path == "/log/settled":  # once every request is answered: a stall is logged when it ends
                sandbox.settle()
            with sandbox._lock:
                entries = [entry.__dict__ for entry in sandbox.log]
            return Response.json(entries)
        if path == "/log/clear" and self.command == "POST":
            with sandbox._lock:
                sandbox.log.clear()
            return Response.json({"ok": True})
        if path.startswith("/vendor/") and self.command == "POST":
            app = sandbox.apps.get(path.removeprefix("/vendor/"))
            if app is None:
                return Response.json({"error": "no such vendor"}, 404)
            try:
                return Response.json(app.configure(json.loads(body or b"{}")))
            except ValueError as exc:
                return Response.json({"error": str(exc)}, 400)
        if path == "/tls":
            if sandbox.tls is None:
                return Response.json({"error": "no TLS port: start the sandbox with --tls-port"}, 404)
            return Response.json(sandbox.tls.state())
        if path == "/limits":
            try:
                return Response.json(sandbox.limits.set(json.loads(body or b"{}"), sandbox.apps)
                                     if self.command == "POST" else sandbox.limits.state())
            except (TypeError, ValueError) as exc:
                return Response.json({"error": str(exc)}, 400)
        if path == "/health":
            return Response.json({"ok": True, "vendors": sorted(sandbox.apps)})
        return Response.json({"error": "unknown control path"}, 404)

    def _send(self, response: Response) -> None:
        body = response.body
        length = _body_length(response)
        chunks: t.Iterable[bytes] = [bytes(body)] if isinstance(body, (bytes, bytearray)) else body
        cut = response.cut_after
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(length))
        self.end_headers()
        sent = 0
        for chunk in chunks:
            if cut is not None and sent + len(chunk) >= cut:
                self.wfile.write(chunk[: max(0, cut - sent)])
                self.wfile.flush()
                self.connection.shutdown(socket.SHUT_RDWR)
                self.close_connection = True
                return
            self.wfile.write(chunk)
            sent += len(chunk)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _dispatch


def _garble_json(response: Response, fault: str, faults: Faults) -> str | None:
    """Apply an answer-body fault to a successful JSON answer, in place; None when there is none to garble."""
    if response.status != 200 or "json" not in response.headers.get("Content-Type", "") or not isinstance(
        response.body, (bytes, bytearray)
    ):
        return None
    if fault == "corrupt_json":
        response.body = bytes(response.body[: len(response.body) // 2])
        return fault
    payload = json.loads(response.body)
    if fault == "empty":
        payload = _reshape(payload, lambda node: [] if isinstance(node, list) else node)
    else:
        payload = _reshape(payload, lambda node: _with_fields(node, faults))
    response.body = json.dumps(payload).encode()
    return fault


def _reshape(node: t.Any, change: t.Callable[[t.Any], t.Any]) -> t.Any:
    """`change` applied to every list and object of a JSON document, innermost first."""
    if isinstance(node, list):
        node = [_reshape(item, change) for item in node]
    elif isinstance(node, dict):
        node = {key: _reshape(value, change) for key, value in node.items()}
    return change(node)


def _with_fields(node: t.Any, faults: Faults) -> t.Any:
    if isinstance(node, dict):
        for name, value in (faults.wrong_type_field or {}).items():
            if name in node:
                node[name] = value
        node.update(faults.extra_field or {})
    return node


def _body_length(response: Response) -> int:
    if isinstance(response.body, (bytes, bytearray)):
        return len(response.body)
    if response.content_length is None:
        raise ValueError("streamed sandbox bodies need content_length")
    return response.content_length


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    scheme = "http"

    def __init__(self, address: tuple[str, int], sandbox: Sandbox, verbose: bool) -> None:
        super().__init__(address, _Handler)
        self.sandbox = sandbox
        self.verbose = verbose


class RunningSandbox:
    """A sandbox served from a background thread: what tests and benchmarks use."""

    # How often the serving loop looks for a stop: `shutdown()` waits up to this long (the
    # standard library's half second, paid by every test that starts a sandbox of its own).
    stop_poll_seconds = 0.02

    def __init__(self, port: int = 0, seed: int = 42, faults: Faults | None = None, *, tls: bool = False) -> None:
        self.sandbox = Sandbox(seed=seed, faults=faults)
        self.server = _Server(("127.0.0.1", port), self.sandbox, verbose=False)
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
    server = _Server((args.host, args.port), sandbox, verbose=args.verbose)
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
