"""Streaming readers for downloaded report files: CSV, gzip'd CSV, zips of CSVs and XLSX workbooks.

The format is told from the file's bytes (its first bytes; for a zip, its member
names), never from its name or the server's Content-Type. Rows are read one at a
time, so memory does not grow with the file. `verify` reads a file through once
before any row is used, so a corrupt archive is fetched again instead of being
half emitted.

A CSV that repeats its header line further down (exports concatenated) skips the
repeats; a different header further down (another export's layout) starts a new
column layout from that line: values always land under the names of the header
above them.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import functools
import gzip
import io
import logging
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

LOGGER = logging.getLogger("tap-retail-reports")

# A field longer than csv's default 128 KiB limit is still a field (notes, JSON blobs).
csv.field_size_limit(1 << 30)


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
    """Read the whole file once and check its archive checksums; return its format.

    Raises CorruptFile naming what is wrong.
    """
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


class UnreadableFile(ValueError):
    """A file whose content cannot be read as rows (a workbook openpyxl cannot parse)."""


@dataclass
class CsvFile:
    """One CSV inside a download: its name and its rows, read lazily.

    `columns` is the header the rows being read sit under: it changes when a different
    header line appears further down (see the module's docstring).
    """

    name: str
    open_binary: t.Callable[[], t.ContextManager[t.IO[bytes]]]
    columns: list[str] | None = None
    where: str = ""  # how log lines name the file (its stream, window and source), else its name
    logger: logging.Logger = LOGGER
    typed: t.ClassVar[bool] = False  # values are all text (a workbook's are numbers, dates, booleans too)

    def rows(self) -> t.Iterator[tuple[int, dict[str, t.Any]]]:
        """(row number from 1, {column: value}) for each data row; headers made unique."""
        with self.open_binary() as raw:
            stream = _maybe_gunzip(raw)
            self._refuse_archive(stream)
            yield from self.read_table(csv.reader(_decoded_lines(stream)))

    def value_rows(self) -> t.Iterator[tuple[int, t.Sequence[t.Any]]]:
        """(row number, values as read) for each data row, under `columns` (which a different header
        further down replaces): for callers that decide once per layout what each column becomes
        (core/fast_records.py). Decodes as `rows` does, a block at a time."""
        with self.open_binary() as raw:
            stream = _maybe_gunzip(raw)
            self._refuse_archive(stream)
            yield from self.table_lines(csv.reader(_decoded_blocks(stream)))

    def _refuse_archive(self, stream: t.IO[bytes]) -> None:
        if isinstance(stream, io.BufferedReader) and stream.peek(4)[:4] in (ZIP_MAGIC, EMPTY_ZIP_MAGIC):
            # A workbook (or another zip) inside the zip: its bytes are no CSV, and never rows.
            raise UnreadableFile(f"{self.name} is a zip or XLSX workbook inside the download, which is not read")

    def read_table(self, lines: t.Iterable[t.Sequence[t.Any]]) -> t.Iterator[tuple[int, dict[str, t.Any]]]:
        """Rows of a table whose first line is its header, as {column: value}."""
        for number, values in self.table_lines(lines):
            yield number, row_dict(self.columns or [], values)

    def table_lines(self, lines: t.Iterable[t.Sequence[t.Any]]) -> t.Iterator[tuple[int, t.Sequence[t.Any]]]:
        """The data lines of a table whose first line is its header: repeated header lines skipped,
        a different header making new `columns`. A line is numbered by its place after the first
        header, so skipping a repeated header changes no row's number (nor its key)."""
        reader = iter(lines)
        header = next(reader, None)
        if header is None:
            return
        while header and header[-1] is None:  # a sheet's empty cells right of its header name no column
            header = header[:-1]
        self.columns = columns = unique_columns([_header_text(value) for value in header])
        names, known = _header_names(header), set(_header_names(header))
        repeats = 0
        typed, width = self.typed, len(columns)
        for number, values in enumerate(reader, start=1):
            if not values:
                continue  # a blank line is not a row
            if typed and len(values) < width:  # a sheet's row ends at its last filled cell
                values = [*values, *[None] * (width - len(values))]
            first = values[0]
            # Cheap test first (this runs per row): a header line starts with a header name or has another width.
            if len(values) != width or (first.__class__ is str and first.strip().lower() in known):
                if all(value in (None, "") for value in values):
                    continue
                if _header_names(values) == names:
                    repeats += 1
                    continue
                if _looks_like_header(values, known):
                    header, names = values, _header_names(values)
                    known = set(names)
                    self.columns = columns = unique_columns([_header_text(value) for value in header])
                    width = len(columns)
                    self.logger.warning("%s: a different header at data line %d; the rows below it are read under "
                                        "its column names: %s", self.where or self.name, number, ", ".join(columns[:20]))
                    continue
            yield number, values
        if repeats:
            self.logger.info("%s: skipped %d repeated header line(s) (exports joined end to end)",
                             self.where or self.name, repeats)


def _header_text(value: t.Any) -> str:
    return "" if value is None else str(value)


def _header_names(values: t.Sequence[t.Any]) -> tuple[str, ...]:
    """A line's values as header names compare: trimmed, case and trailing empties ignored."""
    names = [_header_text(value).strip().lower() for value in values]
    while names and not names[-1]:
        names.pop()
    return tuple(names)


def _looks_like_header(values: t.Sequence[t.Any], known: set[str]) -> bool:
    """A line of the file's header names (in another order, with some added or removed): every value
    is text and at least half of them, and at least two, are names of the current header."""
    if not all(isinstance(value, str) and value.strip() for value in values):
        return False
    matches = sum(value.strip().lower() in known for value in values)
    return matches >= 2 and matches * 2 >= len(values)


def row_dict(columns: list[str], values: t.Sequence[t.Any]) -> dict[str, t.Any]:
    """One row's {column: value}. A short row lacks the missing columns; values beyond the
    header's are kept under made-up names (`_column_N`), never dropped (a workbook's empty cells there are)."""
    width = len(columns)
    if len(values) > width:
        extra = [f"_column_{i + 1}" for i in range(width, len(values))]
        return {name: value for name, value in zip(columns + extra, values, strict=True)
                if value is not None or name in columns}
    return dict(zip(columns, values, strict=False))


@dataclass
class WorkbookSheet(CsvFile):
    """One sheet of an XLSX workbook, read as a table: first row the header, cells as the workbook
    types them (text, numbers, booleans; dates as `date`, date-times as naive `datetime`)."""

    path: Path | None = None
    sheet: str = ""
    typed: t.ClassVar[bool] = True

    def rows(self) -> t.Iterator[tuple[int, dict[str, t.Any]]]:
        for number, values in self.value_rows():
            yield number, row_dict(self.columns or [], values)

    def value_rows(self) -> t.Iterator[tuple[int, t.Sequence[t.Any]]]:
        assert self.path is not None
        with open_workbook(self.path, self.name) as workbook:
            try:
                worksheet = workbook[self.sheet]
                worksheet.reset_dimensions()  # rows as they are, not as the file's stated dimensions say
                yield from self.table_lines(_cell_values(row) for row in worksheet.iter_rows())
            except unreadable_workbook() as exc:
                raise UnreadableFile(f"{self.name}: the workbook cannot be read: {exc}") from exc


# openpyxl is imported when a workbook is read, not at start-up: it takes about a third of the
# tap's import time, and most runs read no workbook.


def unreadable_workbook() -> tuple[type[BaseException], ...]:
    """What openpyxl raises for a workbook it cannot read (SyntaxError: the XML's parse errors)."""
    from openpyxl.utils.exceptions import InvalidFileException

    return (KeyError, ValueError, zipfile.BadZipFile, SyntaxError, InvalidFileException)


@contextlib.contextmanager
def open_workbook(path: Path, name: str) -> t.Iterator[t.Any]:
    """The workbook, streamed: read_only reads a sheet's XML row by row; data_only takes a formula's
    stored result. Opened from a handle: openpyxl refuses a path whose name does not end in .xlsx."""
    import openpyxl

    with open(path, "rb") as handle:
        try:
            workbook = openpyxl.load_workbook(handle, read_only=True, data_only=True)
        except unreadable_workbook() as exc:
            raise UnreadableFile(f"{name}: the workbook cannot be read: {exc}") from exc
        try:
            yield workbook
        finally:
            workbook.close()


def _cell_values(cells: t.Sequence[t.Any]) -> list[t.Any]:
    """A sheet row's values; [] for a row of empty cells (a blank line)."""
    values = []
    for cell in cells:
        value = cell.value
        if isinstance(value, dt.datetime) and _date_only(cell.number_format):
            value = value.date()  # openpyxl gives every date cell as a datetime; its format says which it is
        values.append(value)
    return values if any(value is not None for value in values) else []


@functools.lru_cache(maxsize=256)
def _date_only(number_format: str) -> bool:
    from openpyxl.styles.numbers import is_datetime

    return is_datetime(number_format) == "date"


def workbook_sheets(path: Path, name: str) -> t.Iterator[WorkbookSheet]:
    """Each sheet of a workbook, named `<name>#<sheet>`."""
    with open_workbook(path, name) as workbook:
        sheets = [sheet.title for sheet in workbook.worksheets]  # chart sheets hold no rows
    for sheet in sheets:
        yield WorkbookSheet(f"{name}#{sheet}", _no_opener, path=path, sheet=sheet)


def _no_opener() -> t.ContextManager[t.IO[bytes]]:
    raise NotImplementedError("a workbook sheet is read through openpyxl")


def csv_files(path: Path, name: str) -> t.Iterator[CsvFile]:
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
            yield CsvFile(member.filename, _zip_member_opener(path, member.filename))
        return
    stem = name[:-3] if kind == "gzip" and name.endswith(".gz") else name
    yield CsvFile(stem, lambda: open(path, "rb"))  # noqa: SIM115  # an opener: CsvFile enters and closes it


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


@dataclass(frozen=True)
class NotAReport:
    """Why a downloaded body is not a report file; `expired` when it says the link expired."""

    what: str
    expired: bool = False

    def __str__(self) -> str:
        return self.what


HEAD_BYTES = 4096
_JSON_ARRAY = re.compile(rb"\[\s*[\[{\"\]]")


def not_a_report(path: Path, formats: t.Collection[str] | None = None) -> NotAReport | None:
    """None when the file's first bytes may be a report (of one of `formats`, when given);
    else what it is: an empty body, an HTML page, an XML or JSON (error) document, another format.

    A storage service answers a dead link with such a body, sometimes with status 200."""
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
