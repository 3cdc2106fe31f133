"""The tables in a downloaded report file: the file itself (CSV, or gzip'd CSV), each CSV of a zip, or
each sheet of an XLSX workbook; CSV rows read one at a time, so memory does not grow with the file."""

from __future__ import annotations

import csv
import gzip
import io
import itertools
import typing as t
import zipfile
from dataclasses import dataclass

from tap_retail_reports.core.file_formats import CHUNK, EMPTY_ZIP_MAGIC, GZIP_MAGIC, UTF8_BOM, ZIP_MAGIC, file_format
from tap_retail_reports.core.tables import Table, UnreadableFile
from tap_retail_reports.core.workbooks import workbook_sheets

if t.TYPE_CHECKING:
    from pathlib import Path

# A field longer than csv's default 128 KiB limit is still a field (notes, JSON blobs).
csv.field_size_limit(1 << 30)


@dataclass(kw_only=True)
class CsvFile(Table):
    """One CSV inside a download, opened anew each time it is read."""

    open_binary: t.Callable[[], t.ContextManager[t.IO[bytes]]]

    def value_rows(self) -> t.Iterator[tuple[int, t.Sequence[t.Any]]]:
        with self.open_binary() as raw:
            stream = _maybe_gunzip(raw)
            self._refuse_archive(stream)
            yield from self.table_lines(csv.reader(_decoded_blocks(stream)))

    def _refuse_archive(self, stream: t.IO[bytes]) -> None:
        if isinstance(stream, io.BufferedReader) and stream.peek(4)[:4] in (ZIP_MAGIC, EMPTY_ZIP_MAGIC):
            # A workbook (or another zip) inside the zip: its bytes are no CSV, and never rows.
            raise UnreadableFile(f"{self.name} is a zip or XLSX workbook inside the download, which is not read")


def report_tables(path: Path, name: str) -> t.Iterator[Table]:
    """The tables in a downloaded file: itself, its gzip'd content, each zip member, or each sheet of a
    workbook (named for the download's `name` with `.xlsx`, then `#` and the sheet's name)."""
    kind = file_format(path)
    if kind == "xlsx":
        yield from workbook_sheets(path, _stem(name) + ".xlsx")
        return
    if kind == "zip":
        with zipfile.ZipFile(path) as archive:
            members = [m for m in archive.infolist() if not m.is_dir()]
        for member in members:
            yield CsvFile(member.filename, open_binary=_zip_member_opener(path, member.filename))
        return
    stem = name[:-3] if kind == "gzip" and name.endswith(".gz") else name
    yield CsvFile(stem, open_binary=lambda: open(path, "rb"))  # noqa: SIM115  # an opener: CsvFile enters and closes it


def _stem(name: str) -> str:
    """A file name without the extensions a report's name may carry (`orders.csv.gz` -> `orders`)."""
    for suffix in (".gz", ".zip", ".csv", ".xlsx"):
        name = name.removesuffix(suffix)
    return name


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
    Line by line, so that one stray byte does not spoil the whole file."""
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
    """The lines of `_decoded_lines`, decoded a block of whole lines at a time (quicker): a block that
    is not all UTF-8 is decoded line by line, as `_decoded_lines` does. The lines of a block are iterated
    in C (a chain of StringIOs), not resumed here once per line."""
    return itertools.chain.from_iterable(_decoded_block_lines(stream))


def _decoded_block_lines(stream: t.IO[bytes]) -> t.Iterator[t.Iterable[str]]:
    first = True
    while block := stream.read(CHUNK):
        block += stream.readline()  # end on a line boundary: b"\n" is never inside a UTF-8 character
        if first:
            first = False
            block = block.removeprefix(UTF8_BOM)
        try:
            text = block.decode("utf-8")
        except UnicodeDecodeError:
            yield _decoded_lines(io.BytesIO(block), bom=False)
            continue
        yield io.StringIO(text, newline="\n")  # lines end at \n only, kept whole, as `for line in stream`
