"""Streaming readers for downloaded report files: CSV, gzip'd CSV and zips of CSVs.

The format is told from the file's first bytes, never from its name or the
server's Content-Type. Rows are read one at a time, so memory does not grow with
the file. `verify` reads a file through once before any row is used, so a
corrupt archive is fetched again instead of being half emitted.
"""

from __future__ import annotations

import csv
import gzip
import io
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

# A field longer than csv's default 128 KiB limit is still a field (notes, JSON blobs).
csv.field_size_limit(1 << 30)


class CorruptFile(Exception):
    """The file cannot be read as what its bytes say it is (truncated, bad CRC, not an archive)."""


def sniff(head: bytes) -> str:
    """`zip`, `gzip` or `csv`, from a file's first bytes."""
    if head.startswith((ZIP_MAGIC, EMPTY_ZIP_MAGIC)):
        return "zip"
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    return "csv"


def file_format(path: Path) -> str:
    with open(path, "rb") as handle:
        return sniff(handle.read(4))


def verify(path: Path) -> str:
    """Read the whole file once and check its archive checksums; return its format.

    Raises CorruptFile naming what is wrong.
    """
    kind = file_format(path)
    try:
        if kind == "zip":
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


@dataclass
class CsvFile:
    """One CSV inside a download: its name and its rows, read lazily."""

    name: str
    open_binary: t.Callable[[], t.ContextManager[t.IO[bytes]]]

    def rows(self) -> t.Iterator[tuple[int, dict[str, str]]]:
        """(row number from 1, {column: value}) for each data row; headers made unique."""
        with self.open_binary() as raw:
            stream = _maybe_gunzip(raw)
            reader = csv.reader(_decoded_lines(stream))
            header = next(reader, None)
            if header is None:
                return
            columns = unique_columns(header)
            for number, values in enumerate(reader, start=1):
                if not values:
                    continue  # a blank line is not a row
                yield number, row_dict(columns, values)


    def value_rows(self) -> t.Iterator[list[str]]:
        """The header made unique, then each row's values as read (blank lines too, so that
        positions count as in `rows`): for callers that decide once per file what each
        column becomes (core/fast_records.py). Decodes as `rows` does, a block at a time."""
        with self.open_binary() as raw:
            reader = csv.reader(_decoded_blocks(_maybe_gunzip(raw)))
            header = next(reader, None)
            if header is None:
                return
            yield unique_columns(header)
            yield from reader


def row_dict(columns: list[str], values: list[str]) -> dict[str, str]:
    """One row's {column: value}. A short row lacks the missing columns; values beyond the
    header's are kept under made-up names (`_column_N`), never dropped."""
    if len(values) > len(columns):
        extra = [f"_column_{i + 1}" for i in range(len(columns), len(values))]
        return dict(zip(columns + extra, values, strict=True))
    return dict(zip(columns, values, strict=False))


def csv_files(path: Path, name: str) -> t.Iterator[CsvFile]:
    """The CSV files in a downloaded file: itself, its gzip'd content, or each zip member."""
    kind = file_format(path)
    if kind == "zip":
        with zipfile.ZipFile(path) as archive:
            members = [m for m in archive.infolist() if not m.is_dir()]
        for member in members:
            yield CsvFile(member.filename, _zip_member_opener(path, member.filename))
        return
    stem = name[:-3] if kind == "gzip" and name.endswith(".gz") else name
    yield CsvFile(stem, lambda: open(path, "rb"))  # noqa: SIM115  # an opener: CsvFile enters and closes it


def _zip_member_opener(path: Path, member: str) -> t.Callable[[], t.ContextManager[t.IO[bytes]]]:
    class _Member:
        def __enter__(self) -> t.IO[bytes]:
            self._archive = zipfile.ZipFile(path)
            self._stream = self._archive.open(member)
            return self._stream

        def __exit__(self, *exc: object) -> None:
            self._stream.close()
            self._archive.close()

    return _Member


def _maybe_gunzip(raw: t.IO[bytes]) -> t.IO[bytes]:
    """A zip member may itself be gzip'd; peek at its first bytes to tell."""
    buffered = raw if isinstance(raw, io.BufferedReader) else io.BufferedReader(raw)  # type: ignore[type-var]  # a zip member: raw bytes
    if buffered.peek(2)[:2] == GZIP_MAGIC:
        return gzip.GzipFile(fileobj=buffered)  # type: ignore[return-value]  # a GzipFile reads like IO[bytes]
    return buffered


def _decoded_lines(stream: t.IO[bytes], *, bom: bool = True) -> t.Iterator[str]:
    """Text lines from bytes: UTF-8 (a BOM dropped), a line that is not UTF-8 read as Windows-1252.

    Decoding line by line keeps one stray byte from spoiling the whole file
    and keeps memory flat.
    """
    first = bom
    for line in stream:
        if first:
            first = False
            line = line.removeprefix(UTF8_BOM)
        try:
            yield line.decode("utf-8")
        except UnicodeDecodeError:
            yield line.decode("cp1252", errors="replace")


def _decoded_blocks(stream: t.IO[bytes]) -> t.Iterator[str]:
    """The lines of `_decoded_lines`, decoded a block of whole lines at a time: a block that
    is not all UTF-8 is decoded line by line, as `_decoded_lines` does."""
    first = True
    while block := stream.read(CHUNK):
        block += stream.readline()  # end on a line boundary: b"\n" is never inside a UTF-8 character
        if first:
            first = False
            block = block.removeprefix(UTF8_BOM)
        try:
            text = block.decode("utf-8")
        except UnicodeDecodeError:
            yield from _decoded_lines(io.BytesIO(block), bom=False)
            continue
        yield from io.StringIO(text, newline="\n")  # lines end at \n only, kept whole, as `for line in stream`


def unique_columns(header: list[str]) -> list[str]:
    """Header names as column names: trimmed; an empty one named by position; repeats numbered."""
    columns: list[str] = []
    seen: set[str] = set()
    for position, raw in enumerate(header, start=1):
        name = raw.strip() or f"_column_{position}"
        candidate, suffix = name, 2
        while candidate in seen:
            candidate = f"{name}_{suffix}"
            suffix += 1
        seen.add(candidate)
        columns.append(candidate)
    return columns
