"""Report files for the asynchronous vendors' simulators: CSV (with or without a BOM), gzip'd CSV
and zips of CSVs, written to disk one row at a time and streamed back in chunks.

A report's rows come from generators, so a file of millions of rows is built in constant
memory. Each distinct file is built once per app (`FileStore`) and served from disk with its
Content-Length. `stream` can also garble the middle of a file (the archive's CRC check then
fails; a plain CSV gets invalid UTF-8), for the corrupt-download fault.
"""

from __future__ import annotations

import contextlib
import csv
import gzip
import io
import os
import shutil
import tempfile
import threading
import time
import typing as t
import weakref
import zipfile
from dataclasses import dataclass

FORMATS = ("csv", "csv_bom", "gzip", "zip")
CHUNK = 64 * 1024
FIXED_ZIP_TIME = (2026, 1, 1, 0, 0, 0)  # members carry a fixed time: the same rows make the same bytes


@dataclass(frozen=True)
class Member:
    """One CSV of a report: its name, its header and its rows (dicts keyed by the header)."""

    name: str
    columns: tuple[str, ...]
    rows: t.Callable[[], t.Iterable[dict[str, str]]]  # called once, when the file is written


@dataclass(frozen=True)
class BuiltFile:
    path: str
    size: int
    row_count: int  # data rows over every CSV inside


def _write_csv(text: t.TextIO, member: Member) -> int:
    writer = csv.DictWriter(text, fieldnames=member.columns)  # "\r\n" line ends, quotes where needed
    writer.writeheader()
    count = 0
    for row in member.rows():
        writer.writerow(row)
        count += 1
    return count


def write_file(path: str, file_format: str, members: t.Sequence[Member]) -> int:
    """Write `members` to `path` as `file_format`; answer the number of data rows written.

    csv, csv_bom and gzip hold exactly one CSV; a zip holds each member under its name.
    """
    if file_format not in FORMATS:
        raise ValueError(f"unknown file format {file_format!r}: one of {', '.join(FORMATS)}")
    if file_format != "zip" and len(members) != 1:
        raise ValueError(f"a {file_format} file holds one CSV, not {len(members)}")
    if file_format == "zip":
        count = 0
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            for member in members:
                info = zipfile.ZipInfo(member.name, FIXED_ZIP_TIME)
                info.compress_type = zipfile.ZIP_DEFLATED
                with archive.open(info, "w") as raw:  # under 2 GiB a member: no zip64 needed
                    text = io.TextIOWrapper(raw, encoding="utf-8", newline="")
                    count += _write_csv(text, member)
                    text.flush()
                    text.detach()
        return count
    if file_format == "gzip":
        with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as packed:
            text = io.TextIOWrapper(t.cast("t.IO[bytes]", packed), encoding="utf-8", newline="")
            count = _write_csv(text, members[0])
            text.flush()
            text.detach()
        return count
    encoding = "utf-8-sig" if file_format == "csv_bom" else "utf-8"
    with open(path, "w", encoding=encoding, newline="") as plain:
        return _write_csv(plain, members[0])


class FileStore:
    """Built report files on disk, one per distinct key, each built once (later asks wait for it)."""

    def __init__(self, vendor: str) -> None:
        self.folder = tempfile.mkdtemp(prefix=f"sandbox-{vendor}-")
        weakref.finalize(self, shutil.rmtree, self.folder, True)
        self._lock = threading.Lock()
        self._building: dict[t.Hashable, threading.Lock] = {}
        self._built: dict[t.Hashable, BuiltFile] = {}
        self.builds = 0
        self.extra_column: dict[str, str] = {}  # fault: {column: value} added to every file (a new vendor column)
        self.cell_values: dict[str, str] = {}  # fault: {column: value} replaces that column's every cell

    def get(self, key: t.Hashable, file_format: str, members: t.Callable[[], t.Sequence[Member]]) -> BuiltFile:
        faults = (tuple(self.extra_column.items()), tuple(self.cell_values.items()))
        if any(faults):  # a faulted file is another file
            key, plain = (key, faults), members
            members = lambda: [self._faulted(member) for member in plain()]  # noqa: E731
        with self._lock:
            if key in self._built:
                return self._built[key]
            build_lock = self._building.setdefault(key, threading.Lock())
        with build_lock:
            with self._lock:
                if key in self._built:
                    return self._built[key]
                self.builds += 1
                number = self.builds
            path = os.path.join(self.folder, f"report-{number}.{file_format}")
            rows = write_file(path, file_format, members())
            built = BuiltFile(path, os.path.getsize(path), rows)
            with self._lock:
                self._built[key] = built
            return built

    def _faulted(self, member: Member) -> Member:
        extra, cells = dict(self.extra_column), dict(self.cell_values)

        def rows() -> t.Iterator[dict[str, str]]:
            for row in member.rows():
                yield {**row, **{name: value for name, value in cells.items() if name in row}, **extra}

        return Member(member.name, (*member.columns, *(name for name in extra if name not in member.columns)), rows)

    def clear(self) -> None:
        with self._lock:
            for built in self._built.values():
                with contextlib.suppress(OSError):
                    os.remove(built.path)
            self._built.clear()
            self._building.clear()


def stream(path: str, *, corrupt: bool = False) -> t.Iterator[bytes]:
    """The file's bytes in chunks; with `corrupt`, 16 bytes in the middle are inverted."""
    size = os.path.getsize(path)
    garble = range(max(0, size // 2 - 8), min(size, size // 2 + 8)) if corrupt else range(0)
    with open(path, "rb") as source:
        offset = 0
        while chunk := source.read(CHUNK):
            if garble and offset < garble.stop and offset + len(chunk) > garble.start:
                data = bytearray(chunk)
                for position in range(max(garble.start, offset), min(garble.stop, offset + len(chunk))):
                    data[position - offset] ^= 0xFF
                chunk = bytes(data)
            offset += len(chunk)
            yield chunk


def trickle(path: str, seconds: float, every: float = 0.5) -> t.Iterator[bytes]:
    """The file's first bytes, then one byte every `every` seconds for `seconds`, then the rest:
    a stalled download (the connection stays open, the body barely moves)."""
    with open(path, "rb") as source:
        data = source.read()
    head = min(len(data), 16)
    yield data[:head]
    sent, deadline = head, time.monotonic() + seconds
    while sent < len(data) and time.monotonic() < deadline:
        time.sleep(every)
        yield data[sent:sent + 1]
        sent += 1
    if sent < len(data):
        yield data[sent:]
