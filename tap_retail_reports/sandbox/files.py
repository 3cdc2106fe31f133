"""Report files for the asynchronous vendors' simulators: CSV (with or without a BOM), gzip'd CSV,
zips of CSVs and XLSX workbooks (one sheet per CSV), written to disk one row at a time and
streamed back in chunks.

Two layout faults stand for concatenated exports: `csv_repeat_header_every` writes the header
line again after every N data rows; `csv_new_header_after` writes, after N data rows, a header
with the columns in reverse order, and the rows after it in that order. Ragged rows (shorter or
longer than the header) and a column that starts further down are faults too (`Layout`). A
workbook's cells are typed (numbers, dates, date-times, booleans), or all text with `text_cells`.
`Variant` is another reading of the files: other column names, dates and times in other forms.

A report's rows come from generators, so a file of millions of rows is built in constant
memory. Each distinct file is built once per app (`FileStore`) and served from disk with its
Content-Length. `stream` can also garble the middle of a file (the archive's CRC check then
fails; a plain CSV gets invalid UTF-8), for the corrupt-download fault.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import gzip
import io
import os
import re
import shutil
import tempfile
import threading
import time
import typing as t
import weakref
import zipfile
from dataclasses import dataclass

import openpyxl

FORMATS = ("csv", "csv_bom", "gzip", "zip", "xlsx")
CHUNK = 64 * 1024
FIXED_ZIP_TIME = (2026, 1, 1, 0, 0, 0)  # members carry a fixed time: the same rows make the same bytes
_NUMBER = re.compile(r"-?\d{1,9}(\.\d+)?")  # longer digit strings are ids: kept as text, as exports do
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}")


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


@dataclass(frozen=True)
class Layout:
    """How a file is laid out: a CSV's repeated header, or another header, after some rows; ragged rows;
    a workbook's cells typed (numbers, dates, booleans) or all text, as some exports write them."""

    repeat_header_every: int = 0  # write the header again after every N data rows
    new_header_after: int = 0  # after N data rows, a header in reverse column order, and rows in that order
    text_cells: bool = False  # a workbook's cells hold the CSV's text as it is
    short_rows_every: int = 0  # data rows 1, N+1, 2N+1, ... of a CSV lack their last two values
    long_rows_every: int = 0  # every Nth data row of a CSV has one value more than its header ("spare")
    new_column_after: int = 0  # after N data rows, the header again with one more column, LATE_COLUMN, which
    #                            the rows below it fill with whole numbers


LATE_COLUMN = "late_column"


def _write_csv(text: t.TextIO, member: Member, layout: Layout = Layout()) -> int:
    writer = csv.writer(text)  # "\r\n" line ends, quotes where needed
    columns = list(member.columns)
    writer.writerow(columns)
    count = 0
    for row in member.rows():
        if count and layout.repeat_header_every and count % layout.repeat_header_every == 0:
            writer.writerow(columns)
        if count and count == layout.new_header_after:
            columns.reverse()
            writer.writerow(columns)
        if count and count == layout.new_column_after:
            columns.append(LATE_COLUMN)
            writer.writerow(columns)
        count += 1
        values = [row.get(name, "") for name in columns]
        if LATE_COLUMN in columns:
            values[columns.index(LATE_COLUMN)] = str(count % 7 + 1)
        if layout.short_rows_every and count % layout.short_rows_every == 1 % layout.short_rows_every:
            values = values[:-2]  # the first row, and every Nth after it
        elif layout.long_rows_every and count % layout.long_rows_every == 0:
            values.append("spare")
        writer.writerow(values)
    return count


@dataclass(frozen=True)
class Variant:
    """Another reading of the vendor's files, whose documents show none of their columns: other
    column names for the same reports, other forms of dates and times, times with an offset.

    column_names: snake (as generated), portal (Title Case words, with the app's own `portal_names`
    where it has them: "Transaction Date", "Order Total"), camel (transactionDate)
    date_format: iso (2026-10-05), mdy (10/05/2026), dmy (05/10/2026), ymd_slash (2026/10/05)
    time_format: seconds (13:45:07), minutes (13:45), ampm (1:45:07 PM), t_separator (2026-10-05T13:45:07)
    time_zone: naive (local time, as generated), offset (the local time with its offset, +05:30), utc (in UTC, Z)
    """

    column_names: str = "snake"
    date_format: str = "iso"
    time_format: str = "seconds"
    time_zone: str = "naive"

    def name(self, column: str, portal_names: t.Mapping[str, str]) -> str:
        if self.column_names == "portal":
            return portal_names.get(column) or " ".join(
                "ID" if word == "id" else word.capitalize() for word in column.split("_"))
        if self.column_names == "camel":
            first, *rest = column.split("_")
            return first + "".join(word.capitalize() for word in rest)
        return column

    def value(self, text: str, zone: dt.tzinfo) -> str:
        """A generated value in this variant's forms: ISO dates and naive local times are rewritten."""
        if _DATE.fullmatch(text):
            return self.date(dt.date.fromisoformat(text))
        if not _DATE_TIME.fullmatch(text):
            return text
        moment = dt.datetime.fromisoformat(text)
        suffix = ""
        if self.time_zone == "offset":
            offset = moment.replace(tzinfo=zone).strftime("%z")
            suffix = f"{offset[:3]}:{offset[3:]}"
        elif self.time_zone == "utc":
            moment = moment.replace(tzinfo=zone).astimezone(dt.timezone.utc).replace(tzinfo=None)
            suffix = "Z"
        clock = {"seconds": "%H:%M:%S", "minutes": "%H:%M", "ampm": "%I:%M:%S %p", "t_separator": "%H:%M:%S"}
        separator = "T" if self.time_format == "t_separator" else " "
        time_text = moment.strftime(clock[self.time_format])
        if self.time_format == "ampm":
            time_text = time_text.lstrip("0")
        return f"{self.date(moment.date())}{separator}{time_text}{suffix}"

    def date(self, day: dt.date) -> str:
        return day.strftime({"iso": "%Y-%m-%d", "mdy": "%m/%d/%Y", "dmy": "%d/%m/%Y", "ymd_slash": "%Y/%m/%d"}[
            self.date_format])


VARIANT_CHOICES = {"column_names": ("snake", "portal", "camel"), "date_format": ("iso", "mdy", "dmy", "ymd_slash"),
                   "time_format": ("seconds", "minutes", "ampm", "t_separator"),
                   "time_zone": ("naive", "offset", "utc")}




def cell(text: str) -> t.Any:
    """A CSV value as a workbook's cell holds it: numbers, dates, date-times and booleans typed; "" empty."""
    if text == "":
        return None
    if _NUMBER.fullmatch(text):
        return float(text) if "." in text else int(text)
    if _DATE_TIME.fullmatch(text):
        return dt.datetime.fromisoformat(text)  # naive, as the CSV's: a workbook has no zones
    if _DATE.fullmatch(text):
        return dt.date.fromisoformat(text)
    if text in ("true", "false"):
        return text == "true"
    return text


def _write_xlsx(path: str, members: t.Sequence[Member], layout: Layout) -> int:
    """One sheet per member: `Sheet1` for a single one, else each named for its CSV (without .csv)."""
    value = (lambda text: text or None) if layout.text_cells else cell
    workbook = openpyxl.Workbook(write_only=True)  # rows go to disk as they are appended
    count = 0
    for member in members:
        sheet = workbook.create_sheet("Sheet1" if len(members) == 1 else member.name.removesuffix(".csv"))
        sheet.append(list(member.columns))
        for row in member.rows():
            sheet.append([value(row.get(name, "")) for name in member.columns])
            count += 1
    workbook.save(path)
    return count


def write_file(path: str, file_format: str, members: t.Sequence[Member], layout: Layout = Layout()) -> int:
    """Write `members` to `path` as `file_format`; answer the number of data rows written.

    csv, csv_bom and gzip hold exactly one CSV; a zip holds each member under its name; an xlsx
    workbook holds each member as a sheet.
    """
    if file_format not in FORMATS:
        raise ValueError(f"unknown file format {file_format!r}: one of {', '.join(FORMATS)}")
    if file_format not in ("zip", "xlsx") and len(members) != 1:
        raise ValueError(f"a {file_format} file holds one CSV, not {len(members)}")
    if file_format == "xlsx":
        return _write_xlsx(path, members, layout)
    if file_format == "zip":
        count = 0
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            for member in members:
                info = zipfile.ZipInfo(member.name, FIXED_ZIP_TIME)
                info.compress_type = zipfile.ZIP_DEFLATED
                with archive.open(info, "w") as raw:  # under 2 GiB a member: no zip64 needed
                    text = io.TextIOWrapper(raw, encoding="utf-8", newline="")
                    count += _write_csv(text, member, layout)
                    text.flush()
                    text.detach()
        return count
    if file_format == "gzip":
        with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as packed:
            text = io.TextIOWrapper(t.cast("t.IO[bytes]", packed), encoding="utf-8", newline="")
            count = _write_csv(text, members[0], layout)
            text.flush()
            text.detach()
        return count
    encoding = "utf-8-sig" if file_format == "csv_bom" else "utf-8"
    with open(path, "w", encoding=encoding, newline="") as plain:
        return _write_csv(plain, members[0], layout)


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
        self.cell_values_from_row = 0  # ... in its data rows after this many only
        self.layout = Layout()  # fault: repeated or different header lines, ragged rows, in every CSV built from now on
        self.variant = Variant()  # another reading: other column names, other date and time forms
        self.portal_names: dict[str, str] = {}  # the vendor's portal names of its columns, where it has them

    def get(self, key: t.Hashable, file_format: str, members: t.Callable[[], t.Sequence[Member]],
            zone: dt.tzinfo = dt.timezone.utc) -> BuiltFile:
        """The file of `key`, built once; `zone` is the vendor's, for the variant's times with an offset."""
        faults = (tuple(self.extra_column.items()), tuple(self.cell_values.items()), self.cell_values_from_row,
                  self.layout, self.variant, str(zone))
        if any(faults[:2]) or faults[3] != Layout() or faults[4] != Variant():  # a faulted file is another file
            key, plain = (key, faults), members
            members = lambda: [self._faulted(member, zone) for member in plain()]  # noqa: E731
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
            rows = write_file(path, file_format, members(), self.layout)
            built = BuiltFile(path, os.path.getsize(path), rows)
            with self._lock:
                self._built[key] = built
            return built

    def _faulted(self, member: Member, zone: dt.tzinfo) -> Member:
        extra, cells, after = dict(self.extra_column), dict(self.cell_values), self.cell_values_from_row
        variant, portal = self.variant, dict(self.portal_names)
        columns = (*member.columns, *(name for name in extra if name not in member.columns))
        names = {column: variant.name(column, portal) for column in columns}
        reformat = variant.date_format != "iso" or variant.time_format != "seconds" or variant.time_zone != "naive"

        def rows() -> t.Iterator[dict[str, str]]:
            for number, row in enumerate(member.rows(), start=1):
                row = {**row, **{name: value for name, value in cells.items() if name in row and number > after}, **extra}
                if reformat:
                    row = {name: variant.value(value, zone) for name, value in row.items()}
                yield {names.get(name, name): value for name, value in row.items()}

        return Member(member.name, tuple(names[column] for column in columns), rows)

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
