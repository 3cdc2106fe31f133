"""A report file's table, read row by row under its header, whatever the file's format.

Exports joined end to end repeat their header: the repeats are skipped. A different header further
down (another export's layout) starts a new layout from that line, so values always land under the
names of the header above them.
"""

from __future__ import annotations

import logging
import typing as t
from dataclasses import dataclass

LOGGER = logging.getLogger("tap-retail-reports")


class UnreadableFile(ValueError):
    """A file whose content cannot be read as rows (a workbook openpyxl cannot parse)."""


@dataclass
class Table:
    """One table of a download (a CSV, a workbook's sheet): its name and its rows, read lazily.
    `columns` is the header the rows being read sit under."""

    name: str
    columns: list[str] | None = None
    where: str = ""  # how log lines name the file (its stream, window and source), else its name
    logger: logging.Logger = LOGGER
    typed: t.ClassVar[bool] = False  # values are all text (a workbook's are numbers, dates, booleans too)

    def rows(self) -> t.Iterator[tuple[int, dict[str, t.Any]]]:
        """(row number from 1, {column: value}) for each data row; headers made unique."""
        for number, values in self.value_rows():
            yield number, row_dict(self.columns or [], values)

    def value_rows(self) -> t.Iterator[tuple[int, t.Sequence[t.Any]]]:
        """(row number, values as read) for each data row, under `columns`: for callers that decide
        once per layout what each column becomes (core/fast_records.py)."""
        raise NotImplementedError

    def table_lines(self, lines: t.Iterable[t.Sequence[t.Any]]) -> t.Iterator[tuple[int, t.Sequence[t.Any]]]:
        """The data lines of a table whose first line is its header. A line is numbered by its place
        after the first header, so skipping a repeated header changes no row's number (nor its key)."""
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
