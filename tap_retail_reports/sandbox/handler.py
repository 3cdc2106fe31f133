"""The sandbox's HTTP side: each request routed to its vendor app (or to the `/_sandbox` control paths),
with the vendor's limits and the faults in force applied, logged, and its answer sent."""

from __future__ import annotations

import contextlib
import json
import socket
import time
import typing as t
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from tap_retail_reports.sandbox.faults import garble_json
from tap_retail_reports.sandbox.limits import refusal
from tap_retail_reports.sandbox.state import LoggedRequest, Sandbox
from tap_retail_reports.sandbox.vendor_app import BadRequest, Request, Response, VendorApp


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body leave in separate writes; with Nagle on, the body waits for the
    # client's delayed ACK (~40 ms a response on Linux loopback).
    disable_nagle_algorithm = True
    server: SandboxServer

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
        in_flight = sandbox.count_in_flight(prefix, 1)
        try:
            self._answer(sandbox, app, request, prefix, rest, in_flight)
        finally:
            sandbox.count_in_flight(prefix, -1)

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
                fault = garble_json(response, fault, sandbox.faults)
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


def _body_length(response: Response) -> int:
    if isinstance(response.body, (bytes, bytearray)):
        return len(response.body)
    if response.content_length is None:
        raise ValueError("streamed sandbox bodies need content_length")
    return response.content_length


class SandboxServer(ThreadingHTTPServer):
    """Serves one `Sandbox` on one port, a thread per connection."""

    daemon_threads = True
    allow_reuse_address = True
    scheme = "http"

    def __init__(self, address: tuple[str, int], sandbox: Sandbox, verbose: bool) -> None:
        super().__init__(address, _Handler)
        self.sandbox = sandbox
        self.verbose = verbose
