"""The documents a user reads: the README and the pages under docs/ it links to."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def document_paths() -> list[Path]:
    """README.md first, then docs/*.md in name order: the order the tests read their commands in."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def documents_text() -> str:
    """Every document, one after another: where a table or a query the tests check may live."""
    return "\n".join(path.read_text() for path in document_paths())
