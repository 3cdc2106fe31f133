"""Streams whose rows come from report files. No vendor documents its files' columns, so each layout's
columns are typed from its first rows (core/layouts.py) and announced before its first record, alike on
the SDK's record path (`rows_of`) and the fast one (`write_records`; tests/test_fast_path.py holds them equal).
"""

from __future__ import annotations

import collections
import datetime as dt
import typing as t
from functools import cached_property

from singer_sdk.helpers.conform import TypeConformanceLevel

from tap_retail_reports.core.fast_records import EXTRA_FIELDS, FileRecords, RecordLines, write_file
from tap_retail_reports.core.layouts import NUMBER, SAMPLE_ROWS, ColumnMemory, StreamColumns, default_order
from tap_retail_reports.core.log_lines import MESSAGE_WIDTH, listed
from tap_retail_reports.core.records import SchemaCoercion, converter_for, text_columns, typed_as_text
from tap_retail_reports.core.streams import WindowedStream
from tap_retail_reports.core.tables import Table

if t.TYPE_CHECKING:
    from singer_sdk.helpers.types import Context

FILE_FIELDS = {
    "_source_file": {"type": ["string"], "description": "The file's name inside the download"},
    "_row_number": {"type": ["integer"], "description": "Data row number inside the file, from 1"},
    "_report_window_start": {
        "type": ["string"], "format": "date-time", "description": "Start of the report window (inclusive), UTC",
    },
    "_report_window_end": {
        "type": ["string"], "format": "date-time", "description": "End of the report window (exclusive), UTC",
    },
}
LEARNED_COLUMN = {"type": ["string", "null"], "description": "Column learned from the file's header"}
NUMBER_SCHEMA = {"type": ["number", "null"]}
INTEGER = {"type": ["integer", "null"]}
BOOLEAN = {"type": ["boolean", "null"]}
DATE = {"type": ["string", "null"], "format": "date"}
DATE_TIME = {"type": ["string", "null"], "format": "date-time"}


def column_types(**columns: tuple[str, ...]) -> dict[str, dict]:
    """`column_types(NUMBER=("total",), DATE=("day",))` as {column: schema}."""
    kinds: dict[str, dict[str, t.Any]] = {"NUMBER": NUMBER_SCHEMA, "INTEGER": INTEGER, "BOOLEAN": BOOLEAN,
                                          "DATE": DATE, "DATE_TIME": DATE_TIME}
    return {name: dict(kinds[kind]) for kind, names in columns.items() for name in names}


def file_schema(columns: t.Mapping[str, dict] | None = None) -> dict:
    """A file stream's schema: the declared columns (typed) beside the file fields."""
    return {"type": "object", "properties": {**FILE_FIELDS, **(columns or {})}}


def vendor_names(header: t.Sequence[str]) -> list[str]:
    """A layout's column names as records carry them: one named like a field of the tap's is
    `<name>_vendor` (its value is kept, under another name), and no two are the same."""
    names: list[str] = []
    for name in header:
        candidate = f"{name}_vendor" if name in FILE_FIELDS or name == EXTRA_FIELDS else name
        base, suffix = candidate, 2
        while candidate in names or (candidate != name and candidate in header):
            candidate, suffix = f"{base}_{suffix}", suffix + 1
        names.append(candidate)
    return names


def row_of(names: t.Sequence[str], values: t.Sequence[t.Any]) -> dict[str, t.Any]:
    """A row's record fields: a missing value is null; values beyond the header go to `_extra_fields`
    as `_column_<position>` (a workbook's empty cells there are none)."""
    width = len(names)
    if len(values) == width:
        return dict(zip(names, values, strict=True))
    if len(values) < width:
        return dict(zip(names, [*values, *[None] * (width - len(values))], strict=True))
    row = dict(zip(names, values[:width], strict=True))
    extra = {f"_column_{position}": value for position, value in enumerate(values[width:], start=width + 1)
             if value is not None}
    if extra:
        row[EXTRA_FIELDS] = extra
    return row


TableLayout = tuple[list[str], list[t.Sequence[t.Any]], t.Iterator[tuple[int, t.Sequence[t.Any]]]]


def layouts(table: Table, sample_rows: int) -> t.Iterator[TableLayout]:
    """Each layout of a table (its header, and each different header further down) as (its columns, the
    values of its first `sample_rows` rows, all its rows): the sample is read ahead so that the columns are
    typed before the first row is used. Read a layout's rows through before asking for the next layout."""
    source = table.value_rows()
    pending = next(source, None)
    while pending is not None:
        current = table.columns  # the header above `pending`
        sample = [pending]
        pending = None
        if len(sample) < sample_rows:
            for row in source:
                if table.columns is not current:
                    pending = row
                    break
                sample.append(row)
                if len(sample) >= sample_rows:
                    break

        def rest(sample: list = sample, current: list[str] | None = current) -> t.Iterator[tuple[int, t.Sequence[t.Any]]]:
            nonlocal pending
            yield from sample
            if pending is not None:
                return
            for row in source:
                if table.columns is not current:
                    pending = row
                    return
                yield row

        yield list(current or []), [values for _, values in sample], rest()


def report_days(fields: t.Mapping[str, t.Any]) -> tuple[dt.date, dt.date] | None:
    """The days a file's report window covers, a day wider each side (the window is UTC; the file's
    dates are the vendor's), or None for a file without one."""
    try:
        start = dt.datetime.fromisoformat(fields["_report_window_start"].replace("Z", "+00:00"))
        end = dt.datetime.fromisoformat(fields["_report_window_end"].replace("Z", "+00:00"))
    except (KeyError, AttributeError, ValueError):
        return None
    return start.date() - dt.timedelta(days=1), end.date() + dt.timedelta(days=1)


class FileReportStream(WindowedStream):
    """A report delivered as files, whose columns are typed as they arrive. A vendor subclass says what its
    documents tell: `column_types` (by name), `naive_times_zone` and `day_first` (its likely date order)."""

    # Values are typed once, by the steps below: the SDK's own pass per record would only repeat that.
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE
    column_types: t.ClassVar[dict[str, dict]] = {}
    day_first: t.ClassVar[bool] = False

    @property
    def naive_times_zone(self) -> dt.tzinfo | None:
        """The zone a document gives the vendor's naive times in; None: they stay text as written."""
        return None

    @cached_property
    def columns(self) -> StreamColumns:
        """The stream's columns and their types (see core/layouts.py)."""
        return StreamColumns(
            {name: schema for name, schema in self.schema["properties"].items() if name not in self.catalog_columns},
            self.catalog_columns, by_name=self.column_types, naive_times=self.naive_times_zone is not None,
            memory=lambda: ColumnMemory(self.stream_state),
        )

    @property
    def default_order(self) -> str:
        return default_order(self.day_first)

    def make_coercion(self) -> SchemaCoercion:
        """The converters of the columns as typed so far (a new layout's plan starts new ones)."""
        return SchemaCoercion(self.schema, self.naive_times_zone, types=self.columns.types,
                              default_order=self.default_order, widen=self.widen_column,
                              widenable=self.columns.widenable)

    def plan_layout(self, header: list[str], sample: t.Sequence[t.Sequence[t.Any]], fields: t.Mapping[str, t.Any]) -> list[str]:
        """Type a layout's columns from its sample rows and declare the new ones (a SCHEMA message)
        before its first record; return its column names as records carry them. `fields`: the file's
        fields, whose report window tells the order of day and month in dates that do not show it."""
        names = vendor_names(header)
        declare = self.columns.plan(names, sample, report_days(fields))
        if declare:
            self.announce_columns({name: column.schema() for name, column in declare.items()})
            kinds = collections.Counter(column.kind for column in declare.values())
            head = (f"{self.name}: {len(declare)} column(s) learned from the file header "
                    f"({', '.join(f'{kind} {count}' for kind, count in sorted(kinds.items()))}): ")
            self.logger.info("%s%s", head, listed([f"{name} ({column.kind})" for name, column in declare.items()],
                                                  MESSAGE_WIDTH - len(head)))
        self._coercion_cache = None
        return names

    def undeclared_columns(self) -> dict[str, t.Any]:
        if "columns" not in self.__dict__:  # no file read this run (its vendor may be down: never ask it here)
            return {}
        return self.columns.undeclared()

    def newly_typed_columns(self) -> set[str]:
        return self.columns.new if "columns" in self.__dict__ else set()

    def widen_column(self, name: str) -> None:
        """A learned integer column met a number with a fraction: it is a number column from now on."""
        self.columns.learn(name, NUMBER)
        self.announce_columns({name: NUMBER.schema()})
        self.logger.info("%s: column %s holds numbers with fractions: declared a number column from now on",
                         self.name, name)

    def rows_of(self, files: t.Iterable[tuple[Table, dict[str, t.Any]]]) -> t.Iterator[dict]:
        """Every row of `files` (each with the file fields its rows get) as the SDK's per-record
        path takes them, then `post_process`."""
        for table, fields in files:
            short = long = 0
            for header, sample, rows in layouts(table, SAMPLE_ROWS):
                names = self.plan_layout(header, sample, fields)
                as_text = [names.index(name) for name in text_columns(self.columns.types, names)] if table.typed else []
                for number, values in rows:
                    if as_text:
                        values = list(values)
                        typed_as_text(values, as_text, self.naive_times_zone)
                    if len(values) != len(names):
                        short, long = (short + 1, long) if len(values) < len(names) else (short, long + 1)
                    row = row_of(names, values)
                    row.update(fields)
                    row["_row_number"] = number
                    yield row
            self.warn_ragged(table, short, long)

    def warn_ragged(self, table: Table, short: int, long: int) -> None:
        """One line for a file whose rows do not all have its header's width: what became of them."""
        parts = []
        if short:
            parts.append(f"{short} row(s) with fewer values than the header (the missing ones are null)")
        if long:
            parts.append(f"{long} row(s) with more (the extra values kept in _extra_fields as _column_<position>)")
        if parts:
            self.logger.warning("%s: %s", table.where or table.name, "; ".join(parts))

    def write_records(self, files: t.Iterable[tuple[Table, dict[str, t.Any]]], partition: t.Mapping[str, t.Any],
                      extracted_at: dt.datetime | None = None) -> None:
        """Every row of `files` as a RECORD line, written by core/fast_records.py (CSV files only)."""
        lines = self._open_lines = RecordLines(self, self._record_counter, lambda count: self.stats.add(rows=count))
        if extracted_at is not None:
            lines.message["time_extracted"] = extracted_at
        try:
            for table, fields in files:
                planned: list[FileRecords] = []

                def plan(header: list[str], sample: t.Sequence[t.Sequence[t.Any]],
                         fields: dict = fields, planned: list = planned) -> FileRecords:
                    names = self.plan_layout(header, sample, fields)
                    types = self.columns.types
                    converters = {name: convert for name in names if (convert := converter_for(
                        types[name], self.naive_times_zone, self.default_order)) is not None}
                    planned.append(FileRecords(self.mask, names, converters, fields, partition,
                                               widen=self.widen_column, widenable=self.columns.widenable))
                    return planned[-1]

                write_file(lines, layouts(table, SAMPLE_ROWS), plan)
                self.warn_ragged(table, sum(layout.short for layout in planned), sum(layout.long for layout in planned))
        finally:
            self._open_lines = None

    def fast_path_blocker(self) -> str | None:
        """A file's rows skip `post_process` on the fast path (FileRecords converts them itself)."""
        if type(self).post_process is not FileReportStream.post_process:
            return "the stream post-processes its records"
        return super().fast_path_blocker()

    def post_process(self, row: dict, context: Context | None = None) -> dict | None:
        self.coercion(row)
        self.stats.add(rows=1)
        return row
