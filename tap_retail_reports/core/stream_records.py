"""A report stream's records: typed as the schema says, no vendor field dropped (unknown ones travel in
`_extra_fields`), new columns announced in a SCHEMA message, `time_extracted` at arrival, and the choice of
record path (the SDK's, or the fast one of core/fast_records.py)."""

from __future__ import annotations

import datetime as dt
import typing as t
from functools import cached_property

from singer_sdk.helpers.jsonpath import extract_jsonpath

from tap_retail_reports.core import sdk
from tap_retail_reports.core.catalog import follow_catalog
from tap_retail_reports.core.fast_records import RecordLines, blocker, nested_deselection, write_rows
from tap_retail_reports.core.records import SchemaCoercion
from tap_retail_reports.core.vendor_calls import VendorCalls

if t.TYPE_CHECKING:
    import requests
    from singer_sdk.helpers.types import Context, Record
    from singer_sdk.metrics import Counter
    from singer_sdk.singerlib import RecordMessage
    from singer_sdk.singerlib.catalog import Catalog

EXTRA_FIELDS = "_extra_fields"
EXTRA_FIELDS_SCHEMA = {
    "type": ["object", "null"],
    "additionalProperties": True,
    "description": "Fields the vendor returned that this tap's schema does not declare.",
}


def add_extra_fields(row: dict, extra: dict) -> dict:
    """Put fields the schema does not declare into the row's `_extra_fields`, beside any already there."""
    if extra:
        row[EXTRA_FIELDS] = {**(row.get(EXTRA_FIELDS) or {}), **extra}
    return row


class StreamRecords(VendorCalls):
    """The records side of a report stream (core/streams.py builds on it)."""

    records_jsonpath = "$[*]"

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        properties = self.schema.setdefault("properties", {})
        properties.setdefault(EXTRA_FIELDS, EXTRA_FIELDS_SCHEMA)
        self._declared_fields = frozenset(properties)

    # -- the catalog: columns a user declares, and the replication key -------------------------

    catalog_columns: t.Mapping[str, dict] = {}  # properties the catalog declares and the tap does not

    def apply_catalog(self, catalog: Catalog) -> None:
        """The SDK's, then the tap's (core/catalog.py): a replication key the stream cannot honour stops the
        tap before any request; columns the catalog declares beyond the tap's are followed."""
        own_key = self.replication_key
        super().apply_catalog(catalog)
        pinned = follow_catalog(self.name, catalog, own_key, self.replication_key, self.schema)
        self.replication_key = own_key  # the windows are read by the stream's own key, whatever the SDK took
        if pinned:
            self.catalog_columns = pinned
            self.schema = {**self.schema, "properties": {**self.schema["properties"], **pinned}}  # type: ignore[misc]  # an instance's own copy
            self._declared_fields = frozenset(self.schema["properties"])
            self._coercion_cache = None

    # -- records --------------------------------------------------------------

    def parse_response(self, response: requests.Response) -> t.Iterable[dict]:
        yield from extract_jsonpath(self.records_jsonpath, input=self.response_json(response))

    def get_new_paginator(self) -> None:
        return None  # one response a request; windows are iterated in get_records

    _coercion_cache: SchemaCoercion | None = None

    @property
    def coercion(self) -> SchemaCoercion:
        """The converters of the stream's columns as declared so far (announce_columns starts new ones)."""
        if self._coercion_cache is None:
            self._coercion_cache = self.make_coercion()
        return self._coercion_cache

    def make_coercion(self) -> SchemaCoercion:
        return SchemaCoercion(self.schema)

    def post_process(self, row: Record, context: Context | None = None) -> Record | None:
        """Type what the vendor sent loosely (numeric strings, non-ISO times); keep unknown fields."""
        self.coercion(row)
        unknown = row.keys() - self._declared_fields
        if unknown:
            add_extra_fields(row, {key: row.pop(key) for key in unknown})
        self.stats.add(rows=1)
        return row

    extracted_at: dt.datetime | None = None  # set by a stream that knows when the rows it emits arrived

    @sdk.RECORD_MESSAGES.override
    def _generate_record_messages(self, record: Record) -> t.Generator[RecordMessage, None, None]:
        """The SDK's RECORD messages, stamped with when their answer (or file) arrived, not when written."""
        arrived = self.extracted_at or self.last_answer_at()
        for message in super()._generate_record_messages(record):
            if arrived is not None:
                message.time_extracted = arrived
            yield message

    # -- new columns ----------------------------------------------------------

    _open_lines: RecordLines | None = None  # the fast path's RECORD lines not written yet (core/fast_records.py)

    def announce_columns(self, columns: t.Mapping[str, dict]) -> None:
        """Declare `columns` ({name: schema}; new, or retyped) and send the stream's new SCHEMA message,
        before the first record that has them."""
        properties = self.schema["properties"]
        # With a catalog, records are conformed to the catalog's schema (the SDK's input schema, which
        # `effective_schema` is then), which would drop a column it does not name: it learns them too.
        given = self.effective_schema.get("properties")
        for name, schema in columns.items():
            properties[name] = dict(schema)
            if given is not None and given is not properties:
                given[name] = dict(schema)
            # The SDK looks up every record field's selection; one the catalog does not name is
            # resolved from its parent on each lookup. Resolve it once (the same answer).
            self.mask[("properties", name)] = self.mask[("properties", name)]
        self._declared_fields = frozenset(properties)
        self._coercion_cache = None
        sdk.rebuild_stream_maps(self, self.tap.mapper)  # records are conformed to the schema the maps hold
        if self._open_lines is not None:
            self._open_lines.flush()  # the rows before the new columns go out before their SCHEMA
        sdk.write_schema(self)

    # -- the fast record path (core/fast_records.py) ---------------------------------

    fast_record_path: t.ClassVar[bool] = True  # tests turn it off to compare with the SDK's per-record path

    @cached_property
    def fast_path(self) -> bool:
        """Whether this stream's records skip the SDK's per-record path; decided once, when it syncs."""
        reason = self.fast_path_blocker()
        if reason is not None and self.ABORT_AT_RECORD_COUNT is None:  # `--test` limits records: its verdict says so
            self.logger.info("%s: records go through the SDK's per-record path: %s", self.name, reason)
        return reason is None

    def fast_path_blocker(self) -> str | None:
        """What keeps this stream's records on the SDK's per-record path, or None."""
        reason = blocker(self)
        if reason is None and self.child_streams:
            reason = "the stream has child streams"
        if reason is None and nested_deselection(self):
            reason = "the catalog leaves out fields inside objects"
        if reason is None and not self.fast_record_path:
            reason = "the fast path is turned off"
        return reason

    _record_counter: Counter | None = None

    def get_record_counter(self, **kwargs: t.Any) -> Counter:
        """The SDK's record counter for this sync, kept so that the fast path counts its records in it."""
        self._record_counter = super().get_record_counter(**kwargs)
        return self._record_counter

    def record_writer(self, context: Context | None) -> t.Callable[[t.Iterable[tuple[dt.datetime, dict]]], None] | None:
        """On the fast path, what writes rows (each with when its answer arrived) as RECORD lines at once,
        through `post_process`; None on the SDK's path, where `get_records` yields them."""
        if not self.fast_path:
            return None
        lines = self._open_lines = RecordLines(self, self._record_counter, lambda count: None)  # post_process counts
        partition = self.state_manager.get_state_partition_context(context) or {}
        return lambda rows: write_rows(lines, rows, lambda row: self.post_process(row, context), partition)
