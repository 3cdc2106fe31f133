"""What a simulated vendor sees of an HTTP request and what it answers: the server's contract with each vendor app."""

from __future__ import annotations

import json
import typing as t
from dataclasses import dataclass, field


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
