"""A loopback HTTP server that answers a vendor document's examples as written and records what it was sent.

The contract tests (tests/test_contract_*.py) run the real tap command against it instead of the
sandbox, so that a misreading of a vendor document shared by the tap and the sandbox shows.
Examples live in tests/vendor_examples/<vendor>/, each with the seed document and section it
comes from.
"""

from __future__ import annotations

import datetime as dt
import json
import tempfile
import threading
import typing as t
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from tests.conftest import TapRun, catalog_selecting, env_setting_class_attributes, run_tap

EXAMPLES = Path(__file__).resolve().parent / "vendor_examples"


@dataclass
class Answer:
    """One HTTP answer: a status, a body (bytes as given, anything else as JSON), headers."""

    body: t.Any = b""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str | None = None

    def payload(self) -> tuple[bytes, str]:
        if isinstance(self.body, bytes):
            return self.body, self.content_type or "application/octet-stream"
        return json.dumps(self.body).encode(), self.content_type or "application/json"


def example_text(vendor: str, name: str) -> str:
    """An example file as copied from its document (see tests/vendor_examples/README.md)."""
    return (EXAMPLES / vendor / name).read_text()


def example_json(vendor: str, name: str) -> t.Any:
    return json.loads(example_text(vendor, name))


def example_answer(vendor: str, name: str, status: int = 200, headers: dict[str, str] | None = None) -> Answer:
    """An answer whose body is an example file, byte for byte (JSON files as application/json)."""
    body = (EXAMPLES / vendor / name).read_bytes()
    kind = "application/json" if name.endswith(".json") else "application/octet-stream"
    return Answer(body, status, dict(headers or {}), kind)


@dataclass
class Sent:
    """One request as the server received it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # names in lower case
    body: bytes

    def json(self) -> t.Any:
        return json.loads(self.body)

    def form(self) -> dict[str, list[str]]:
        return parse_qs(self.body.decode(), keep_blank_values=True)


class ReplayServer:
    """Answers (method, path) with the given answers in turn (the last one repeats); 404 for anything else.

    `rewrite(url)` gives the text to replace in every JSON answer: the documents' production hosts
    become this server's URL, the one change made to an example answer.
    """

    def __init__(self, routes: dict[tuple[str, str], Answer | list[Answer]],
                 rewrite: t.Callable[[str], dict[str, str]] | None = None) -> None:
        self.routes = {key: list(value) if isinstance(value, list) else [value] for key, value in routes.items()}
        self.sent: list[Sent] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self.rewrite = rewrite(self.url) if rewrite else {}

    def __enter__(self) -> ReplayServer:
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def answer(self, sent: Sent) -> Answer:
        with self._lock:
            self.sent.append(sent)
            answers = self.routes.get((sent.method, sent.path))
            if not answers:
                return Answer({"error": f"no example for {sent.method} {sent.path}"}, status=404)
            return answers.pop(0) if len(answers) > 1 else answers[0]

    def render(self, answer: Answer) -> tuple[bytes, str]:
        body, kind = answer.payload()
        if kind.startswith("application/json") or kind.endswith("+json"):
            text = body.decode()
            for old, new in self.rewrite.items():
                text = text.replace(old, new)
            body = text.encode()
        return body, kind

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        replay = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def handle_any(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                sent = Sent(self.command, parts.path, parse_qs(parts.query, keep_blank_values=True),
                            {name.lower(): value for name, value in self.headers.items()}, self.rfile.read(length))
                answer = replay.answer(sent)
                body, kind = replay.render(answer)
                self.send_response(answer.status)
                headers = {"Content-Type": kind, **answer.headers}
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_DELETE = handle_any  # the names http.server calls

            def log_message(self, format: str, *args: t.Any) -> None:  # noqa: A002  # http.server's signature
                pass

        return Handler


def as_json(value: t.Any) -> str:
    """A value as sorted, indented JSON: comparing two of these compares JSON types too (1, 1.0, true, "1")."""
    return json.dumps(value, sort_keys=True, indent=1)


def declared_type(schema: dict) -> str:
    """A SCHEMA property's type as STATE's `column_types` names it: its one type besides null, or its format."""
    (kind,) = set(schema["type"]) - {"null"}
    return schema.get("format", kind)


@dataclass
class Replayed:
    """One run of the tap command against a ReplayServer: what it wrote, what it sent, when it ran."""

    tap: TapRun
    sent: list[Sent]
    began: dt.datetime
    ended: dt.datetime

    def to(self, method: str, path: str) -> list[Sent]:
        return [sent for sent in self.sent if sent.method == method and sent.path == path]


def run_against(routes: dict[tuple[str, str], Answer | list[Answer]], config: t.Callable[[str], dict], *,
                rewrite: t.Callable[[str], dict[str, str]] | None = None, streams: t.Sequence[str] = ()) -> Replayed:
    """Run the tap with `config(url)` against a ReplayServer serving `routes`; it must exit 0.

    `rewrite(url)`: the text replaced in JSON answers (production hosts by the server's URL);
    `streams`: select only these (else every stream of the configured vendors). Report jobs are
    polled from 0.05 s on, not 2 s.
    """
    server = ReplayServer(routes, rewrite)
    owner = "tap_retail_reports.core.async_stream:AsyncReportStream"
    with server, tempfile.TemporaryDirectory() as folder:
        env = env_setting_class_attributes(Path(folder), {
            f"{owner}.poll_first_seconds": 0.05, f"{owner}.poll_cap_seconds": 0.2, f"{owner}.retry_wait_seconds": 0.1,
        })
        settings = config(server.url)
        catalog = catalog_selecting(settings, streams) if streams else None
        began = dt.datetime.now(dt.timezone.utc)
        tap = run_tap(settings, catalog=catalog, env=env).ok()
        ended = dt.datetime.now(dt.timezone.utc)
    return Replayed(tap, server.sent, began, ended)
