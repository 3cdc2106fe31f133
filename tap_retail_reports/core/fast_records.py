"""The fast record path: a report file's rows as Singer RECORD lines, decided once per file.

The SDK's per-record path is general: `post_process`, a selection lookup per field
(`pop_deselected_record_properties`), the stream-map pass, a message object and a flush
per line. A CSV file's columns are known from its header, so `FileRecords` decides once
per file what each column becomes (kept or not, which converter of `SchemaCoercion`) and
then, per row, does only that, encoding RECORD lines with the SDK's own msgspec encoder
and writing them whole, a block at a time. Its records are the ones the SDK path emits
(tests/test_fast_path.py compares both for every CSV stream of the sandbox).

This module writes RECORD lines around the SDK's per-record path (the SDK seams it needs are in
core/sdk.py). `blocker()` sends a stream to the SDK's own path whenever the run asks for something
per record that this path does not do (stream maps, an alias, flattening, BATCH messages, a record
limit, type conformance).
"""

from __future__ import annotations

import functools
import operator
import re
import typing as t
from datetime import datetime, timezone

from msgspec import Raw
from singer_sdk.contrib.msgspec import encoder
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.mapper import SameRecordTransform

from tap_retail_reports.core import sdk
from tap_retail_reports.core.records import as_number, aside, with_fraction
from tap_retail_reports.core.values import Converter, Misfit

if t.TYPE_CHECKING:
    from singer_sdk.metrics import Counter
    from singer_sdk.singerlib.catalog import SelectionMask

    from tap_retail_reports.core.file_stream import TableLayout
    from tap_retail_reports.core.stream_records import StreamRecords as Stream

# f(x) for the fast loop's `map`, in C where Python has it (3.11's operator.call).
call: t.Callable[[t.Callable[[t.Any], t.Any], t.Any], t.Any] = getattr(operator, "call", None) or (lambda f, x: f(x))
FLUSH_BYTES = 1 << 18  # lines written (and flushed) together: whole lines, so a stop signal never cuts one
MEMO_LIMIT = 20_000  # distinct values remembered per typed column of a layout (a few MB at most for times)
EXTRA_FIELDS = "_extra_fields"


def blocker(stream: Stream) -> str | None:
    """What sends this stream's records through the SDK's own per-record path, or None."""
    maps = stream.stream_maps
    if len(maps) != 1 or type(maps[0]) is not SameRecordTransform or maps[0].stream_alias != stream.name:
        return "stream maps are configured"
    if maps[0].flattening_enabled:
        return "flattening is enabled"
    if stream.get_batch_config(stream.config):
        return "BATCH messages are configured"
    if stream.ABORT_AT_RECORD_COUNT is not None:
        return "a record limit is set"
    if stream.TYPE_CONFORMANCE_LEVEL != TypeConformanceLevel.NONE:
        return "the stream conforms types per record"
    if sdk.writes_table_versions(stream):
        return "the stream writes table versions"
    if not callable(getattr(stream.tap.message_writer, "write_lines", None)):  # the tap's writer
        return "the tap's message writer takes messages only"
    return None


class RecordLines:
    """A stream's RECORD lines, encoded into one buffer and written whole when it fills."""

    def __init__(self, stream: Stream, counter: Counter | None, on_written: t.Callable[[int], None]) -> None:
        self.stream = stream
        self.writer: t.Any = stream.tap.message_writer  # see blocker(): it has write_lines
        self.counter = counter
        self.on_written = on_written
        self.buffer = bytearray()
        # time_extracted: when the answer or file arrived, set by the caller for each answer or file.
        self.message: dict[str, t.Any] = {"type": "RECORD", "stream": stream.name, "record": None,
                                          "time_extracted": datetime.now(timezone.utc)}

    def add(self, record: dict[str, t.Any]) -> None:
        """One record as a RECORD line; the lines go out when the buffer is full (or on `flush`)."""
        self.message["record"] = record
        encoder.encode_into(self.message, self.buffer, -1)
        self.buffer.extend(b"\n")
        if len(self.buffer) >= FLUSH_BYTES:
            self.flush()

    def flush(self) -> None:
        """The lines so far, written; counted from the buffer (JSON writes a newline inside a value as \\n)."""
        if not self.buffer:
            return
        count = self.buffer.count(b"\n")
        self.writer.write_lines(self.buffer)
        self.buffer.clear()
        sdk.state_due(self.stream)  # as the SDK's per-record path: a STATE is due
        if self.counter is not None:
            self.counter.increment(count)
        self.on_written(count)


class Memo(dict):
    """A column's converted values by their text, filled as they come (at most MEMO_LIMIT of them, then
    forgotten at once: memory stays flat), for the fast loop to look up without a Python call per
    known value. A value the converter says does not fit raises KeyError: the row is converted
    again the careful way (`FileRecords.slowly`). `keep`: remember values (not for values that
    rarely repeat, as times to the second)."""

    __slots__ = ("convert", "keep")

    def __init__(self, convert: Converter, keep: bool = True) -> None:
        super().__init__({"": convert(""), None: None})
        self.convert = convert
        self.keep = keep

    def __missing__(self, raw: t.Any) -> t.Any:
        value = self.convert(raw)
        if value.__class__ is Misfit:
            raise KeyError(raw)
        if self.keep:
            if len(self) >= MEMO_LIMIT:
                self.clear()
                self.update({"": self.convert(""), None: None})
            self[raw] = value
        return value


class FileRecords:
    """One layout's rows as records, exactly as the SDK path would emit them (core/file_stream.py).

    `names` are the layout's columns as records carry them, `converters` those of its typed columns,
    `fields` the file fields every row gets, `partition` the state partition's keys (the SDK adds
    those a row lacks). `widen(name)` is told when a learned integer column of `widenable` meets a
    number with a fraction: the column is read as a number from then on.

    Each row's typed values are converted in one pass of C calls (`map`) through each column's
    `Memo` (`Decimal` for numbers, which rarely repeat; date-times per minute); a row with a blank
    number, a value that does not fit, or the wrong width takes `slowly`, the converters one by one.
    """

    def __init__(self, mask: SelectionMask, names: t.Sequence[str], converters: t.Mapping[str, Converter],
                 fields: t.Mapping[str, t.Any], partition: t.Mapping[str, t.Any], *,
                 widen: t.Callable[[str], None] | None = None, widenable: t.Collection[str] = ()) -> None:
        self.names = list(names)
        self.width = len(self.names)
        self.converters = dict(converters)
        self.widen = widen
        self.widenable = set(widenable)

        def kept(name: str) -> bool:
            return bool(mask[("properties", name)])

        positions = [i for i, name in enumerate(self.names) if kept(name)]
        self.kept_names = [self.names[i] for i in positions]
        self.pick = _getter(positions)
        self.keep_extra = kept(EXTRA_FIELDS)
        self.kept = {name for name in self.names if kept(name)}
        constant = {**fields, **{key: value for key, value in partition.items() if key not in self.names and key not in fields}}
        self.constant = {name: value for name, value in constant.items() if kept(name)}
        self.keep_row_number = kept("_row_number")
        self.short = self.long = 0  # ragged rows met, for the file's log line
        self.compile()

    def compile(self) -> None:
        """Make `record` for this layout (again, when a column widens). A column not kept is still converted
        when `_extra_fields` is, since a value that does not fit goes there."""
        typed = [(i, name) for i, name in enumerate(self.names)
                 if name in self.converters and (name in self.kept or self.keep_extra)]
        self.typed = [(name, i, self.converters[name]) for i, name in typed]
        self.record = layout_record(self.width, [(i, name, self.converters.get(name) if (i, name) in typed else None)
                                                 for i, name in enumerate(self.names)],
                                    self.kept, self.constant, self.keep_row_number, self.ragged, self.slowly)

    def slowly(self, number: int, values: t.Sequence[t.Any], extra: dict[str, t.Any] | None = None) -> dict[str, t.Any]:
        """A row the converters take one by one: values that do not fit go to `_extra_fields`."""
        record: dict[str, t.Any] = dict(zip(self.kept_names, self.pick(values), strict=True))
        misfits = extra
        for name, position, convert in self.typed:
            raw = values[position]
            value = convert(raw)
            if value.__class__ is Misfit:
                if name in self.widenable and self.widen is not None and with_fraction(value):
                    self.widen(name)
                    self.widenable.discard(name)
                    self.converters[name] = as_number
                    self.compile()
                    return self.slowly(number, values, extra)
                misfits = aside(misfits, name, value)
                value = None
            if name in self.kept:
                record[name] = value
        record.update(self.constant)
        if self.keep_row_number:
            record["_row_number"] = number
        if misfits and self.keep_extra:
            record[EXTRA_FIELDS] = misfits
        return record

    def ragged(self, number: int, values: t.Sequence[t.Any]) -> dict[str, t.Any]:
        """A row shorter than the header (nulls for the missing values) or longer (its extra values in
        `_extra_fields` as `_column_<position>`), as `core.file_stream.row_of` makes it."""
        width = self.width
        if len(values) < width:
            self.short += 1
            return self.slowly(number, [*values, *[None] * (width - len(values))])
        self.long += 1
        extra = {f"_column_{position}": value for position, value in enumerate(values[width:], start=width + 1)
                 if value is not None}
        return self.slowly(number, values[:width], extra or None)


def layout_record(width: int, columns: list[tuple[int, str, Converter | None]], kept: t.Collection[str],
                  constant: t.Mapping[str, t.Any], keep_row_number: bool,
                  ragged: t.Callable[[int, t.Sequence[t.Any]], dict], slowly: t.Callable[[int, t.Sequence[t.Any]], dict],
                  ) -> t.Callable[[int, t.Sequence[t.Any]], dict]:
    """`record(number, values)` for one layout, written as Python code for it (as `dataclasses` and
    `namedtuple` write theirs): one dict display with a key per kept column, each value taken from its
    position and, for a typed column (`columns`: position, name, converter or None), converted in place.
    This runs for every row: a display builds the record in one step, with no per-column loop. Numbers
    written as JSON writes them (all of a row's, checked in one match) go out as written (`msgspec.Raw`,
    the text a Decimal of them writes); a row with a blank or otherwise written number reads them
    through a Memo as `as_number` does. Other typed values go through their column's Memo (date-times:
    their converter's minutes, see `_fast`). A value that does not fit raises: `slowly`
    then takes the row.
    Names reach the code only as `repr` literals."""
    env: dict[str, t.Any] = {"Raw": Raw, "ragged": ragged, "slowly": slowly, "join": "\x00".join,
                             "failures": (ValueError, ArithmeticError, KeyError, TypeError),
                             "as_number": Memo(as_number, keep=False).__getitem__}
    written: list[str] = []  # the record's fields when every number is written as JSON writes it
    read: list[str] = []  # ... when one is not
    checked_written: list[str] = []  # typed columns not kept, converted only to see that they fit
    checked_read: list[str] = []
    numbers: list[str] = []
    for position, name, convert in columns:
        value = f"v[{position}]"
        if convert is as_number:
            numbers.append(value)
            fast, careful = f"Raw({value})", f"as_number({value})"
        elif convert is not None:
            env[f"c{position}"] = _fast(convert)
            fast = careful = f"c{position}({value})"
        else:
            fast = careful = value
        if name in kept:
            written.append(f"{name!r}: {fast}")
            read.append(f"{name!r}: {careful}")
        elif convert is not None:
            if convert is not as_number:  # numbers are checked by the match
                checked_written.append(fast)
            checked_read.append(careful)
    for index, (name, value) in enumerate(constant.items()):
        env[f"k{index}"] = value
        written.append(f"{name!r}: k{index}")
        read.append(written[-1])
    if keep_row_number:
        written.append("'_row_number': number")
        read.append(written[-1])
    env["numbers_as_written"] = _json_numbers(len(numbers)).fullmatch

    def fields(checked: list[str], values: list[str], indent: str) -> str:
        check = f"({', '.join(checked)},)\n{indent}" if checked else ""
        return f"{check}return {{{', '.join(values)}}}"

    if numbers:
        body = (f"if numbers_as_written(join(({', '.join(numbers)},))):\n"
                f"            {fields(checked_written, written, ' ' * 12)}\n"
                f"        {fields(checked_read, read, ' ' * 8)}")
    else:
        body = fields(checked_written, written, " " * 8)
    source = f"""
def record(number, v):
    if len(v) != {width}:
        return ragged(number, v)
    try:
        {body}
    except failures:
        return slowly(number, v)
"""
    exec(compile(source, "<layout record>", "exec"), env)  # code written above, names as literals
    return env["record"]


Pick = t.Callable[[t.Sequence[t.Any]], t.Sequence[t.Any]]
_JSON_NUMBER = r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?"


@functools.lru_cache(maxsize=64)
def _json_numbers(count: int) -> re.Pattern[str]:
    """`count` numbers written as JSON writes them (no exponent), joined by NUL: the one check of a row's numbers."""
    return re.compile("\x00".join([_JSON_NUMBER] * count)) if count else re.compile("")


def _getter(positions: list[int]) -> Pick:
    """The values at `positions` of a row, as a sequence (itemgetter gives a bare value for one position)."""
    if len(positions) == 1:
        only = positions[0]
        return lambda values: (values[only],)
    return operator.itemgetter(*positions) if positions else lambda values: ()


def _fast(convert: Converter) -> t.Callable[[t.Any], t.Any]:
    """What the fast loop calls for one column's value: its Memo's lookup (it raises where `convert`
    gives a Misfit). A date-time's converter remembers minutes itself and is called as it is (times to
    the second rarely repeat: a Memo of whole values would only fill and clear)."""
    return getattr(convert, "raising", None) or Memo(convert).__getitem__


def write_file(lines: RecordLines, table_layouts: t.Iterable[TableLayout],
               plan: t.Callable[[list[str], list[t.Sequence[t.Any]]], FileRecords]) -> None:
    """Every row of a table's layouts as a RECORD line. `plan` gets each layout's header and its first
    rows (read ahead, see `core.file_stream.layouts`) before any record of that layout is written:
    the file's first header, and a different header further down."""
    buffer, message, encode_into = lines.buffer, lines.message, encoder.encode_into
    for header, sample, rows in table_layouts:
        lines.flush()  # rows of the layout before go out before a SCHEMA the new one may bring
        layout = plan(header, sample)  # its `record` is made again when a column widens
        for number, values in rows:
            message["record"] = layout.record(number, values)
            encode_into(message, buffer, -1)  # RecordLines.add, inlined: this loop is the hot one
            buffer.extend(b"\n")
            if len(buffer) >= FLUSH_BYTES:
                lines.flush()
        lines.flush()


def nested_deselection(stream: Stream) -> bool:
    """Whether the catalog leaves out a field inside an object: `pop_deselected_record_properties` walks
    records into their objects for that, `write_rows` does not."""
    return any(len(breadcrumb) > 2 and not selected for breadcrumb, selected in stream.mask.items())


def write_rows(lines: RecordLines, rows: t.Iterable[tuple[datetime, dict]], process: t.Callable[[dict], dict | None],
               partition: t.Mapping[str, t.Any]) -> None:
    """Answers' rows (each with when its answer arrived: its time_extracted) as RECORD lines, as the SDK's
    `_sync_records` would write them: each row through `process` (the stream's `post_process`), the
    state partition's keys a row lacks, the fields the catalog leaves out dropped. Which fields to drop
    is decided once per set of keys, not per field."""
    mask = lines.stream.mask
    dropped_for: dict[tuple[str, ...], list[str]] = {}
    add, message = lines.add, lines.message
    for arrived, row in rows:
        message["time_extracted"] = arrived
        record = process(row)
        if record is None:
            continue
        for key, value in partition.items():
            if key not in record:
                record[key] = value
        keys = tuple(record)
        dropped = dropped_for.get(keys)
        if dropped is None:
            if len(dropped_for) >= MEMO_LIMIT:
                dropped_for.clear()
            dropped = dropped_for[keys] = [name for name in keys if not mask[("properties", name)]]
        for name in dropped:
            del record[name]
        add(record)
    lines.flush()
