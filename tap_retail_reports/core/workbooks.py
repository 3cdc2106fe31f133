"""XLSX workbooks read sheet by sheet, each sheet a table whose cells keep the workbook's types.

openpyxl is imported when a workbook is read, not at start-up: it takes about a third of the
tap's import time, and most runs read no workbook.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import typing as t
import zipfile
from dataclasses import dataclass

from tap_retail_reports.core.tables import Table, UnreadableFile

if t.TYPE_CHECKING:
    from pathlib import Path


@dataclass(kw_only=True)
class WorkbookSheet(Table):
    """One sheet of an XLSX workbook: first row the header, cells as the workbook types them (text,
    numbers, booleans; dates as `date`, date-times as naive `datetime`)."""

    path: Path
    sheet: str
    typed: t.ClassVar[bool] = True

    def value_rows(self) -> t.Iterator[tuple[int, t.Sequence[t.Any]]]:
        with open_workbook(self.path, self.name) as workbook:
            try:
                worksheet = workbook[self.sheet]
                worksheet.reset_dimensions()  # rows as they are, not as the file's stated dimensions say
                yield from self.table_lines(_cell_values(row) for row in worksheet.iter_rows())
            except unreadable_workbook() as exc:
                raise UnreadableFile(f"{self.name}: the workbook cannot be read: {exc}") from exc


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
        yield WorkbookSheet(f"{name}#{sheet}", path=path, sheet=sheet)
