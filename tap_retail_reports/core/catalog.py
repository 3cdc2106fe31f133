"""What a run says about the catalog it was given: a replication key it cannot honour, and the
columns it learned that the catalog does not declare, with the block that pins their types."""

from __future__ import annotations

import json
import typing as t

from tap_retail_reports.core.errors import TapError

if t.TYPE_CHECKING:
    from singer_sdk.singerlib.catalog import Catalog

    from tap_retail_reports.core.layouts import ColumnType


def follow_catalog(stream: str, catalog: Catalog, own_key: str | None, asked_key: str | None,
                   schema: dict) -> dict[str, dict]:
    """What a stream takes from the catalog beyond the SDK: the columns it declares that the stream's
    `schema` does not (Meltano's `schema` extra writes them; a Singer user edits them in), which the
    stream then declares and converts to. A replication key other than the stream's own raises
    TapError (the windows are read by the stream's key: a bookmark must never name another field);
    none at all keeps the stream's."""
    if asked_key and asked_key != own_key:
        raise TapError(refused_replication_key(stream, asked_key, own_key))
    entry = catalog.get_stream(stream)
    given = entry.schema.to_dict().get("properties") if entry is not None else None
    return {name: column for name, column in (given or {}).items() if name not in schema["properties"]}


def refused_replication_key(stream: str, asked: str, own: str | None) -> str:
    """The one line for a catalog whose replication-key is not the field the stream's windows use."""
    if own is None:
        return (f"{stream}: the catalog sets replication-key {asked!r}, but this stream is read whole on every run "
                "and keeps no bookmark: remove replication-key (and replication-method) from its catalog entry")
    return (f"{stream}: the catalog sets replication-key {asked!r}, but this stream reads its data in windows of "
            f"{own!r} and can bookmark only that: set replication-key to {own!r} in its catalog entry (or remove it)")


def pin_block(stream: str, columns: t.Mapping[str, ColumnType]) -> str:
    """A `schema:` block for meltano.yml (the extractor's `schema` extra) that declares `columns`.
    Names and schemas are written as JSON, which YAML reads as they are."""
    lines = ["schema:", f"  {stream}:"]
    for name, column in sorted(columns.items()):
        lines.append(f"    {json.dumps(name)}: {json.dumps(column.schema(None))}")
    return "\n".join(lines)


def undeclared_columns_message(stream: str, columns: t.Mapping[str, ColumnType]) -> str | None:
    """The summary's words on the columns a stream learned that the catalog does not declare, or None."""
    if not columns:
        return None
    names = ", ".join(f"{name} ({column.kind})" for name, column in sorted(columns.items()))
    return (f"{stream}: {len(columns)} column(s) typed from the data that the catalog does not declare: {names}. "
            "To pin their types, paste this under the extractor in meltano.yml (Meltano's schema extra), or add "
            f"the same properties to the stream's schema in the catalog:\n{pin_block(stream, columns)}")
