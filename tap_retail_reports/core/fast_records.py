"""The fast record path: a report file's rows as Singer RECORD lines, decided once per file.

The SDK's per-record path is general: `post_process`, a selection lookup per field
(`pop_deselected_record_properties`), the stream-map pass, a message object and a flush
per line. A CSV file's columns are known from its header, so `FileRecords` decides once
per file what each column becomes (kept or not, which converter of `SchemaCoercion`) and
then, per row, does only that, encoding RECORD lines with the SDK's own msgspec encoder
and writing them whole, a block at a time. Its records are the ones the SDK path emits
(tests/test_fast_path.py compares both for every CSV stream of the sandbox).

This module is the one place that goes around SDK internals: it writes RECORD lines
itself instead of through `Stream._write_record_message`, and reads `Stream._stream_version`
and `state_manager.is_flushed`. `blocker()` sends a stream to the SDK's own path whenever
the run asks for something per record that this path does not do (stream maps, an alias,
flattening, BATCH messages, a record limit, type conformance).
"""

from __future__ import annotations

import operator
import typing as t
from decimal import Decimal, InvalidOperation

from singer_sdk.contrib.msgspec import encoder
from singer_sdk.helpers._util import utc_now
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.mapper import SameRecordTransform

from tap_retail_reports.core.files import row_dict
from tap_retail_reports.core.records import Converter, Misfit, SchemaCoercion, as_integer, as_number, aside

if t.TYPE_CHECKING:
    from singer_sdk import Stream
    from singer_sdk.metrics import Counter

    from tap_retail_reports.core.files import CsvFile

FLUSH_BYTES = 1 << 18  # lines written (and flushed) together: whole lines, so a stop signal never cuts one
MEMO_LIMIT = 50_000  # distinct values remembered per typed column of a file
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
    if getattr(stream, "_stream_version", None) is not None:
        return "the stream writes table versions"
    if not callable(getattr(stream._tap.message_writer, "write_lines", None)):  # the tap's writer
        return "the tap's message writer takes messages only"
    return None


def remember(memo: dict, value: t.Any, convert: Converter) -> t.Any:
    """`convert(value)`, kept in `memo`; a full memo is forgotten at once, so memory stays flat."""
    if len(memo) >= MEMO_LIMIT:
        memo.clear()
    found = memo[value] = convert(value)
    return found


class RecordLines:
    """A stream's RECORD lines, encoded into one buffer and written whole when it fills."""

    def __init__(self, stream: Stream, counter: Counter | None, on_written: t.Callable[[int], None]) -> None:
        self.stream = stream
        self.writer: t.Any = stream._tap.message_writer  # see blocker(): it has write_lines
        self.counter = counter
        self.on_written = on_written
        self.buffer = bytearray()
        self.count = 0
        self.message: dict[str, t.Any] = {"type": "RECORD", "stream": stream.name, "record": None,
                                          "time_extracted": utc_now()}

    def add(self, record: dict[str, t.Any]) -> None:
        """One record as a RECORD line; the lines go out when the buffer is full (or on `flush`)."""
        self.message["record"] = record
        encoder.encode_into(self.message, self.buffer, -1)
        self.buffer.extend(b"\n")
        self.count += 1
        if len(self.buffer) >= FLUSH_BYTES:
            self.flush()

    def flush(self) -> None:
        if not self.count:
            return
        self.writer.write_lines(self.buffer)
        self.buffer.clear()
        self.stream.state_manager.is_flushed = False  # as Stream._write_record_message: a STATE is due
        if self.counter is not None:
            self.counter.increment(self.count)
        self.on_written(self.count)
        self.count = 0
        self.message["time_extracted"] = utc_now()  # one time per block of lines


class FileRecords:
    """One CSV file's rows as records, exactly as the SDK path would emit them.

    `header` is the file's (unique) column names, `clashes` those renamed `<name>_vendor`,
    `fields` the file fields every row gets, `partition` the state partition's keys (the
    SDK adds those a row lacks).
    """

    def __init__(self, stream: Stream, coercion: SchemaCoercion, header: list[str], clashes: list[str],
                 fields: t.Mapping[str, t.Any], partition: t.Mapping[str, t.Any]) -> None:
        mask = stream.mask
        self.mask = mask
        self.coercion = coercion
        self.header = header
        self.width = len(header)
        self.clashes = clashes
        self.fields = fields
        self.partition = partition
        names = [f"{name}_vendor" if name in clashes else name for name in header]
        self.regular = len(set(names)) == len(names)

        def kept(name: str) -> bool:
            return bool(mask[("properties", name)])

        positions = [i for i, name in enumerate(names) if kept(name)]
        self.kept_names = [names[i] for i in positions]
        if len(positions) == len(names):
            self.pick: t.Callable[[list[str]], t.Iterable[str]] = lambda values: values
        elif len(positions) == 1:
            only = positions[0]
            self.pick = lambda values: (values[only],)
        else:
            self.pick = operator.itemgetter(*positions) if positions else lambda values: ()
        self.keep_extra = kept(EXTRA_FIELDS)
        # Typed columns, each with its converter and the answers it gave in this file (a file
        # repeats its values: booleans, dates, times to the second). A column not kept is still
        # converted when `_extra_fields` is, since a value that does not fit goes there.
        # Numbers are mostly distinct and Decimal is quick: they are converted, not remembered, by
        # the first step of `as_number` or `as_integer` inlined (the whole work for most values); so
        # are date-times whose converter remembers them itself (per minute). One list per kind, so
        # that a row takes no branch per column.
        self.numbers: list[tuple[str, int, bool, t.Callable[[str], t.Any], Converter]] = []
        self.others: list[tuple[str, int, dict | None, Converter, bool]] = []
        for i, name in enumerate(names):
            convert = coercion.converters.get(name)
            if convert is None or not (kept(name) or self.keep_extra):
                continue
            if convert is as_number or convert is as_integer:  # int() reads what Decimal reads as a whole number
                self.numbers.append((name, i, kept(name), Decimal if convert is as_number else int, convert))
            else:
                memo: dict | None = None if getattr(convert, "remembers", False) else {}
                self.others.append((name, i, memo, convert, kept(name)))
        constant = {**fields, **{key: value for key, value in partition.items() if key not in names and key not in fields}}
        self.constant = {name: value for name, value in constant.items() if kept(name)}
        self.keep_row_number = kept("_row_number")

    def record(self, number: int, values: list[str]) -> dict[str, t.Any]:
        if len(values) != self.width or not self.regular:
            return self.irregular(number, values)
        record: dict[str, t.Any] = dict(zip(self.kept_names, self.pick(values), strict=False))  # width checked above
        misfits: dict[str, t.Any] | None = None
        value: t.Any
        for name, position, keep, parse, convert in self.numbers:
            raw = values[position]
            try:
                value = parse(raw)
                if value.__class__ is Decimal and not value.is_finite():
                    raise InvalidOperation  # NaN, Infinity: as_number says they do not fit
            except (ValueError, ArithmeticError):  # a blank, "1,204.10", "1.0" for an integer, or no number
                value = convert(raw)
                if value.__class__ is Misfit:
                    misfits = aside(misfits, name, value)
                    value = None
            if keep:
                record[name] = value
        for name, position, memo, convert, keep in self.others:
            raw = values[position]
            if memo is None:
                value = convert(raw)
            else:
                value = memo.get(raw, memo)
                if value is memo:
                    value = remember(memo, raw, convert)
            if value.__class__ is Misfit:
                misfits = aside(misfits, name, value)
                value = None
            if keep:
                record[name] = value
        record.update(self.constant)
        if self.keep_row_number:
            record["_row_number"] = number
        if misfits and self.keep_extra:
            record[EXTRA_FIELDS] = misfits
        return record

    def irregular(self, number: int, values: list[str]) -> dict[str, t.Any]:
        """A short or long row, or a header with repeated names: the SDK path's steps one by one."""
        row: dict[str, t.Any] = row_dict(self.header, values)
        for name in self.clashes:
            if name in row:
                row[f"{name}_vendor"] = row.pop(name)
        row.update(self.fields)
        row["_row_number"] = number
        self.coercion(row)
        for key, value in self.partition.items():
            row.setdefault(key, value)
        for key in [key for key in row if not self.mask[("properties", key)]]:
            del row[key]
        return row


def write_file(lines: RecordLines, csv_file: CsvFile,
               file_records: t.Callable[[list[str], list[str]], FileRecords]) -> None:
    """Every row of `csv_file` as a RECORD line. `file_records` gets the columns of a layout's first
    data row (as the SDK path names them) and its header, before any record of that layout is
    written: the file's first header, and a different header further down (see files.py)."""
    layout: list[str] | None = None
    buffer, message, encode_into = lines.buffer, lines.message, encoder.encode_into
    for number, values in csv_file.value_rows():
        if layout is not csv_file.columns:
            layout = csv_file.columns or []
            lines.flush()  # rows of the layout before go out before a SCHEMA the new one may bring
            record = file_records(list(row_dict(layout, values)), layout).record
        message["record"] = record(number, values)  # type: ignore[arg-type]  # a CSV's value_rows are lists of text
        encode_into(message, buffer, -1)  # RecordLines.add, inlined: this loop is the hot one
        buffer.extend(b"\n")
        lines.count += 1
        if len(buffer) >= FLUSH_BYTES:
            lines.flush()
    lines.flush()


def nested_deselection(stream: Stream) -> bool:
    """Whether the catalog leaves out a field inside an object: `pop_deselected_record_properties` walks
    records into their objects for that, `write_rows` does not."""
    return any(len(breadcrumb) > 2 and not selected for breadcrumb, selected in stream.mask.items())


def write_rows(lines: RecordLines, rows: t.Iterable[dict], process: t.Callable[[dict], dict | None],
               partition: t.Mapping[str, t.Any]) -> None:
    """An answer's rows as RECORD lines, as the SDK's `_sync_records` would write them: each row through
    `process` (the stream's `post_process`), the state partition's keys a row lacks, the fields the
    catalog leaves out dropped. Which fields to drop is decided once per set of keys, not per field."""
    mask = lines.stream.mask
    dropped_for: dict[tuple[str, ...], list[str]] = {}
    add = lines.add
    for row in rows:
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
