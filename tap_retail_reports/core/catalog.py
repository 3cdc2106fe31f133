"""What a run says about the catalog it was given: a replication key it cannot honour, and the
columns it learned that the catalog does not declare, with the block that pins their types."""

from __future__ import annotations

import json
import re
import typing as t

from singer_sdk.singerlib.catalog import Metadata

from tap_retail_reports.core.errors import TapError
from tap_retail_reports.core.log_lines import MESSAGE_WIDTH, listed

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
    if entry is None:
        return {}
    given = entry.schema.to_dict().get("properties") or {}
    pinned = {name: column for name, column in given.items() if name not in schema["properties"] and typed(column)}
    for name in pinned:
        metadata = entry.metadata.get(("properties", name))
        # Meltano marks a property it adds (its `schema` extra) `inclusion: automatic`, which the SDK
        # always selects: the user's `selected: false` for it (Meltano's `select: ["!stream.col"]`) is followed.
        if metadata is not None and metadata.selected is False and metadata.inclusion == Metadata.InclusionType.AUTOMATIC:
            metadata.inclusion = Metadata.InclusionType.AVAILABLE
    return pinned


def typed(schema: t.Mapping[str, t.Any]) -> bool:
    """Whether a catalog's property says what its values are. Meltano 4.4's `schema` extra gives a property
    whose name is not made of letters, digits and underscores an empty schema (`{}`): that one is not a
    declaration, and the column is typed from its values as if the catalog had not named it."""
    return any(key in schema for key in ("type", "anyOf", "oneOf", "allOf", "format", "$ref", "enum", "const"))


def refused_replication_key(stream: str, asked: str, own: str | None) -> str:
    """The one line for a catalog whose replication-key is not the field the stream's windows use."""
    if own is None:
        return (f"{stream}: the catalog sets replication-key {asked!r}, but this stream is read whole on every run "
                "and keeps no bookmark: remove replication-key (and replication-method) from its catalog entry")
    return (f"{stream}: the catalog sets replication-key {asked!r}, but this stream reads its data in windows of "
            f"{own!r} and can bookmark only that: set replication-key to {own!r} in its catalog entry (or remove it)")


MELTANO_NAME = re.compile(r"\w+")  # the property names Meltano 4.4's `schema` extra reaches


def undeclared_columns_message(stream: str, columns: t.Mapping[str, ColumnType]) -> str | None:
    """The summary's words on the columns a stream learned that the catalog does not declare, or None: one
    short line naming them, then a `schema:` block for meltano.yml (Meltano's `schema` extra) that pins their
    types, one column a line. Names Meltano's extra cannot reach (spaces, punctuation) follow as comments,
    for a catalog file: pasted as it is, the block pins what it can."""
    if not columns:
        return None
    reachable = sorted(name for name in columns if MELTANO_NAME.fullmatch(name))
    others = sorted(set(columns) - set(reachable))
    head = f"{stream}: {len(columns)} column(s) typed from the data are not in the catalog: "
    then = "; the block below pins their types" if reachable else "; their types follow, for a catalog file"
    names = listed([f"{name} ({columns[name].kind})" for name in sorted(columns)], MESSAGE_WIDTH - len(head) - len(then))
    lines = [head + names + then]
    if reachable:
        lines += ["# for meltano.yml, under the extractor (Meltano's schema extra), or as properties in a catalog file",
                  "schema:", f"  {stream}:", *(f"    {property_line(name, columns[name])}" for name in reachable)]
    if others:
        lines.append("    # these have names Meltano's schema extra does not reach (only letters, digits and underscores): "
                     "declare them in the stream's schema in a catalog file (Meltano's catalog extra)")
        lines += [f"    # {property_line(name, columns[name])}" for name in others]
    return "\n".join(lines)


def property_line(name: str, column: ColumnType) -> str:
    """A column's property as JSON, which YAML reads as it is: `"Tax": {"type": ["number", "null"]}`."""
    return f"{json.dumps(name)}: {json.dumps(column.schema(None))}"
