"""What a downloaded file is, told from its bytes, never from its name or the server's Content-Type:
its format, whether its archive checksums hold, and whether it is a report at all."""

from __future__ import annotations

import gzip
import re
import typing as t
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

ZIP_MAGIC = b"PK\x03\x04"
EMPTY_ZIP_MAGIC = b"PK\x05\x06"
GZIP_MAGIC = b"\x1f\x8b"
UTF8_BOM = b"\xef\xbb\xbf"
CHUNK = 1 << 20
WORKBOOK_PARTS = frozenset({"[Content_Types].xml", "xl/workbook.xml"})  # what makes a zip an XLSX workbook
HEAD_BYTES = 4096  # what `not_a_report` reads of a body
_JSON_ARRAY = re.compile(rb"\[\s*[\[{\"\]]")


class CorruptFile(Exception):
    """The file cannot be read as what its bytes say it is (truncated, bad CRC, not an archive)."""


def sniff(head: bytes) -> str:
    """`zip`, `gzip` or `csv`, from a file's first bytes (an XLSX workbook is a zip: see `file_format`)."""
    if head.startswith((ZIP_MAGIC, EMPTY_ZIP_MAGIC)):
        return "zip"
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    return "csv"


def file_format(path: Path) -> str:
    """`sniff`'s answer, with a zip that holds a workbook's parts told apart as `xlsx`."""
    with open(path, "rb") as handle:
        kind = sniff(handle.read(4))
    if kind == "zip":
        try:
            with zipfile.ZipFile(path) as archive:
                if set(archive.namelist()) >= WORKBOOK_PARTS:
                    return "xlsx"
        except (zipfile.BadZipFile, OSError):
            pass  # verify names what is wrong with it
    return kind


def verify(path: Path) -> str:
    """Read the whole file once and check its archive checksums, so that a corrupt file is fetched
    again before any of its rows is used; return its format. Raises CorruptFile naming what is wrong."""
    kind = file_format(path)
    try:
        if kind in ("zip", "xlsx"):  # a workbook's parts carry CRCs like any zip member
            with zipfile.ZipFile(path) as archive:
                for member in archive.infolist():
                    if member.is_dir():
                        continue
                    with archive.open(member) as stream:
                        while stream.read(CHUNK):
                            pass
                    # A zipped gzip is checked as well (its CRC is inside it).
        elif kind == "gzip":
            with gzip.open(path, "rb") as stream:
                while stream.read(CHUNK):
                    pass
    except (zipfile.BadZipFile, gzip.BadGzipFile, EOFError, zlib.error, OSError) as exc:
        raise CorruptFile(f"{kind} file is corrupt or truncated: {exc}") from exc
    return kind


@dataclass(frozen=True)
class NotAReport:
    """Why a downloaded body is not a report file; `expired` when it says the link expired."""

    what: str
    expired: bool = False

    def __str__(self) -> str:
        return self.what


def not_a_report(path: Path, formats: t.Collection[str] | None = None) -> NotAReport | None:
    """What a body is when it is no report (of one of `formats`, when given): storage answers a dead
    link with an empty body, an HTML page or an XML or JSON error, sometimes with status 200. None
    when its first bytes may be a report."""
    with open(path, "rb") as handle:
        head = handle.read(HEAD_BYTES)
    if not head:
        return NotAReport("an empty body (0 bytes)")
    kind = sniff(head)
    if kind == "gzip":  # an error page may come gzip'd as well
        try:
            with gzip.open(path, "rb") as stream:
                inner = stream.read(HEAD_BYTES)
        except (OSError, EOFError, zlib.error):
            inner = b"\x00"  # corrupt: `verify` says so
        document = _document(inner)
        if document is not None:
            return document
    elif kind == "csv":
        document = _document(head)
        if document is not None:
            return document
    if formats is not None and kind not in formats:
        return NotAReport(f"a {kind} file, while this vendor sends {' or '.join(sorted(formats))}")
    return None


def _document(head: bytes) -> NotAReport | None:
    """An HTML page or an XML/JSON document, from its first bytes; None for anything else."""
    text = head.removeprefix(UTF8_BOM).lstrip().lower()
    if not text:
        return NotAReport("an empty body (whitespace only)")
    if text.startswith((b"<!doctype html", b"<html")) or (text.startswith(b"<") and b"<html" in text):
        return NotAReport("an HTML page (a sign-in or error page)")
    if text.startswith(b"<"):
        kind = "an XML document"
    elif text.startswith(b"{") or _JSON_ARRAY.match(text):
        kind = "a JSON document"
    else:
        return None
    expired = b"expired" in text
    return NotAReport(f"{kind} saying the link expired" if expired else f"{kind} (an error?)", expired)
