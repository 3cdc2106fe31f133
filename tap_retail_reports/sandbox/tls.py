"""The sandbox over HTTPS, with a certificate signed by a private CA it makes itself.

A second port serves the same vendors, state and faults as the plain one, over TLS, with a
certificate for 127.0.0.1 and localhost signed by a CA made at start (with the `openssl`
command; nothing to install). Pointing the tap at `https://127.0.0.1:<tls port>/...` is how
tests check the environment's CA settings: with `REQUESTS_CA_BUNDLE` (or `SSL_CERT_FILE`)
naming the CA file every call and download goes through; without, each handshake fails as
it would behind a TLS-inspecting proxy whose CA the machine does not trust. The endpoint
counts handshakes, accepted and refused, so a test can tell that a failed one was not retried.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import typing as t
from pathlib import Path

from tap_retail_reports.sandbox.handler import SandboxServer
from tap_retail_reports.sandbox.state import Sandbox

SERVER_EXTENSIONS = """\
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1, DNS:localhost
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid, issuer
"""


def make_certificates(folder: Path) -> tuple[Path, Path, Path]:
    """A private CA and a server certificate it signed, for 127.0.0.1 and localhost: (ca, cert, key) files."""
    if shutil.which("openssl") is None:
        raise RuntimeError("the sandbox's TLS endpoint needs the openssl command, which is not on PATH")
    ca, ca_key = folder / "ca.pem", folder / "ca.key"
    cert, key, request = folder / "server.pem", folder / "server.key", folder / "server.csr"
    (folder / "server.ext").write_text(SERVER_EXTENSIONS)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    commands = [
        ["openssl", "req", "-x509", *ec, "-keyout", str(ca_key), "-out", str(ca), "-days", "3650",
         "-subj", "/CN=tap-retail-reports sandbox CA",
         "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
        ["openssl", "req", *ec, "-keyout", str(key), "-out", str(request), "-subj", "/CN=127.0.0.1"],
        ["openssl", "x509", "-req", "-in", str(request), "-CA", str(ca), "-CAkey", str(ca_key), "-CAcreateserial",
         "-out", str(cert), "-days", "825", "-extfile", str(folder / "server.ext")],
    ]
    for command in commands:
        subprocess.run(command, check=True, capture_output=True)
    return ca, cert, key


class TlsServer(SandboxServer):
    """The sandbox's handler behind TLS. Handshakes happen on the connection's own thread and are
    counted; a refused one (the client did not trust the certificate) is closed without an answer."""

    scheme = "https"

    def __init__(self, address: tuple[str, int], sandbox: Sandbox, context: ssl.SSLContext) -> None:
        super().__init__(address, sandbox, verbose=False)
        self.context = context
        self.handshakes = 0
        self.refused_handshakes = 0
        self._count = threading.Lock()

    def finish_request(self, request: t.Any, client_address: t.Any) -> None:
        try:
            connection = self.context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            with self._count:
                self.refused_handshakes += 1
            return
        with self._count:
            self.handshakes += 1
        try:
            super().finish_request(connection, client_address)
        finally:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
            connection.close()


class TlsEndpoint:
    """The sandbox's HTTPS port: its certificates in a folder of their own, removed by `close`."""

    def __init__(self, sandbox: Sandbox, port: int = 0, host: str = "127.0.0.1") -> None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.server = TlsServer((host, port), sandbox, context)  # the port first: a taken one leaves nothing behind
        self.port = self.server.server_port
        self.folder = Path(tempfile.mkdtemp(prefix="tap-retail-reports-sandbox-tls-"))
        try:
            self.ca_file, cert, key = make_certificates(self.folder)
            context.load_cert_chain(cert, key)
        except BaseException:
            self.close()
            raise
        self._thread = threading.Thread(target=self.server.serve_forever, name="sandbox-tls", daemon=True,
                                        kwargs={"poll_interval": 0.02})  # stops at once, as RunningSandbox
        sandbox.tls = self

    def start(self) -> None:
        self._thread.start()

    def state(self) -> dict:
        """What `GET /_sandbox/tls` answers: the port, the CA file to trust, handshakes made and refused."""
        return {"port": self.port, "ca_file": str(self.ca_file), "handshakes": self.server.handshakes,
                "refused_handshakes": self.server.refused_handshakes}

    def close(self) -> None:
        if getattr(self, "_thread", None) is not None and self._thread.is_alive():
            self.server.shutdown()
        self.server.server_close()
        shutil.rmtree(self.folder, ignore_errors=True)
