"""The types of the columns a stream learns from what arrives, so that any report layout reaches the target
typed: a column neither the tap nor the catalog declares is typed from a sample of its values before its
first record (the rule: docs/streams.md, "Columns: any layout, typed"), and remembered in STATE so that its
type holds from run to run.
"""

from __future__ import annotations

import datetime as dt
import re
import typing as t
from dataclasses import dataclass

from tap_retail_reports.core.values import DMY, MDY, ORDERS, Shape, read_cell, window_order

# The last word of an identifier's name (words split at spaces, punctuation, underscores and camelCase):
# `customer_id`, `customerId`, `Order No.`, `Postal Code`, `item_sku`, `Phone`.
ID_WORDS = frozenset({
    "id", "ids", "uuid", "guid", "number", "no", "num", "nr", "code", "sku", "upc", "ean", "gtin", "isbn", "asin",
    "fsn", "plu", "zip", "zipcode", "postcode", "pincode", "pin", "phone", "mobile", "telephone", "tel", "fax",
    "gstin", "hsn", "iban", "ref", "reference", "barcode", "awb",
})
_WORDS = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")
SAMPLE_ROWS = 2000  # rows of a layout read ahead to type its columns: memory stays flat
MEMORY_KEY = "column_types"  # the stream's STATE entry, beside its bookmark (or its partitions)
LEARNED = "A column of the vendor's data, not in the tap's schema: typed by its name or its values"


def identifier_name(name: str) -> bool:
    """Whether a column's name says it holds identifiers, which stay text."""
    words = _WORDS.findall(name)
    return bool(words) and words[-1].lower() in ID_WORDS


@dataclass(frozen=True)
class ColumnType:
    """A column's kind (integer, number, boolean, date, date-time, string, array, object; `any` for a
    declaration the tap does not convert to) and, for dates and date-times, the order of day and
    month its values showed (None: not shown; the vendor's default is read)."""

    kind: str
    order: str | None = None

    def schema(self, description: str | None = LEARNED) -> dict:
        schema: dict[str, t.Any]
        if self.kind in ("date", "date-time"):
            schema = {"type": ["string", "null"], "format": self.kind}
        elif self.kind == "any":
            schema = {}
        else:
            schema = {"type": [self.kind, "null"]}
        if description:
            schema["description"] = description
        return schema

    @property
    def token(self) -> str:
        """How STATE remembers it: `number`, `date`, `date:dmy`."""
        return f"{self.kind}:{self.order}" if self.order else self.kind

    @classmethod
    def from_token(cls, token: t.Any) -> ColumnType | None:
        if not isinstance(token, str):
            return None
        kind, _, order = token.partition(":")
        if kind not in KINDS or (order and (order not in ORDERS or kind not in ("date", "date-time"))):
            return None
        return cls(kind, order or None)

    @classmethod
    def from_schema(cls, schema: t.Mapping[str, t.Any]) -> ColumnType:
        """The type a declared property (the tap's, or the catalog's) gives its values."""
        types = schema.get("type") or []
        types = {types} if isinstance(types, str) else set(types)
        types.discard("null")
        if schema.get("format") in ("date", "date-time") and types <= {"string"}:
            return cls(schema["format"])
        if len(types) == 1:
            (kind,) = types
            return cls(kind) if kind in KINDS else ANY
        if types == {"integer", "number"}:
            return NUMBER
        return ANY


KINDS = ("integer", "number", "boolean", "date", "date-time", "string", "array", "object", "any")
STRING = ColumnType("string")
NUMBER = ColumnType("number")
ANY = ColumnType("any")


def infer(name: str, shapes: t.Iterable[Shape | None], *, naive_times: bool, by_name: bool = True) -> ColumnType:
    """A column's type from the shapes of a sample of its values: the one kind they all have (whole numbers
    among fractions: number), else text; identifiers are text, by value and, unless `by_name` is false (a
    JSON answer's numbers are the vendor's), by name; naive date-times only with `naive_times`."""
    if by_name and identifier_name(name):
        return STRING
    kinds: set[str] = set()
    orders = set(ORDERS)
    naive = False
    for shape in shapes:
        if shape is None:
            continue
        if shape.kind == "string":
            return STRING
        kinds.add(shape.kind)
        if shape.kind in ("date", "date-time"):
            orders &= shape.orders
            naive = naive or shape.naive
    if not kinds or (len(kinds) > 1 and kinds != {"integer", "number"}):
        return STRING
    kind = "number" if kinds == {"integer", "number"} else kinds.pop()
    if kind not in ("date", "date-time"):
        return ColumnType(kind)
    if not orders or (naive and not naive_times):
        return STRING
    return ColumnType(kind, orders.pop() if len(orders) == 1 else None)


def sample_shapes(sample: t.Sequence[t.Sequence[t.Any]], position: int) -> t.Iterator[Shape | None]:
    """The shapes of one column's values in a sample of rows (a short row has none there)."""
    for values in sample:
        if position < len(values):
            yield read_cell(values[position])


def shown_order(shapes: t.Iterable[Shape | None]) -> str | None:
    """The one day/month order a column's date values read in, when they show one."""
    orders = set(ORDERS)
    for shape in shapes:
        if shape is not None and shape.kind in ("date", "date-time"):
            orders &= shape.orders
    return orders.pop() if len(orders) == 1 else None


def needs_fraction(shapes: t.Iterable[Shape | None]) -> bool:
    """Whether a column's values hold a number with a fraction (an integer column must widen)."""
    return any(shape is not None and shape.kind == "number" for shape in shapes)


class ColumnMemory:
    """The types a stream declared for the columns it learned, in its STATE (a dict the SDK's state
    manager owns, changed in place), so that the next run declares the same ones."""

    def __init__(self, stream_state: dict) -> None:
        self._state = stream_state

    def get(self, name: str) -> ColumnType | None:
        remembered = self._state.get(MEMORY_KEY)
        return ColumnType.from_token(remembered.get(name)) if isinstance(remembered, dict) else None

    def set(self, name: str, column: ColumnType) -> None:
        remembered = self._state.get(MEMORY_KEY)
        if not isinstance(remembered, dict):
            remembered = self._state[MEMORY_KEY] = {}
        remembered[name] = column.token


def default_order(day_first: bool) -> str:
    return DMY if day_first else MDY


class StreamColumns:
    """A stream's columns and their types: the tap's (`declared`; `by_name` when a file has them), the
    catalog's (`pinned`, followed as given), and those learned from the data, remembered in STATE (`memory`).
    `naive_times`: a document gives the vendor's zone; `json`: the values are a JSON answer's (see `infer`)."""

    def __init__(self, declared: t.Mapping[str, dict], pinned: t.Mapping[str, dict], *,
                 by_name: t.Mapping[str, dict] | None = None, naive_times: bool = False, json: bool = False,
                 memory: t.Callable[[], ColumnMemory]) -> None:
        self.types: dict[str, ColumnType] = {name: ColumnType.from_schema(schema)
                                             for name, schema in {**declared, **pinned}.items()}
        self.pinned = set(pinned)
        self.by_name = dict(by_name or {})
        self.naive_times = naive_times
        self.json = json
        self.memory = memory
        self.learned: dict[str, ColumnType] = {}  # this run's, as last declared
        self.new: set[str] = set()  # learned this run as no earlier run's STATE had them

    def plan(self, names: t.Sequence[str], sample: t.Sequence[t.Sequence[t.Any]],
             window: tuple[dt.date, dt.date] | None = None) -> dict[str, ColumnType]:
        """Type a layout's columns (`names`, by position in the rows of `sample`) before its first record;
        return the columns to declare (new ones, and learned integers that widen to number). Day and month
        are read in the first order told by the values, the layout's other dates, the report's `window`
        (its first and last day), or the stream's columns so far; else it is the vendor's default."""
        values = [[row[position] for row in sample if position < len(row)] for position in range(len(names))]
        shapes = [[read_cell(value, json=self.json) for value in column] for column in values]
        order = (shown_order(shape for column in shapes for shape in column)
                 or (window_order((value for column in values for value in column), *window) if window else None)
                 or self.known_order())
        declare: dict[str, ColumnType] = {}
        for position, name in enumerate(names):
            known = self.types.get(name)
            remembered = self.memory().get(name) if known is None else None
            if known is None:
                column = remembered or self._by_name(name)
                if column is None:
                    by_name = not self.json or any(isinstance(value, str) for value in values[position])
                    column = infer(name, shapes[position], naive_times=self.naive_times, by_name=by_name)
            elif name in self.learned:
                column = known
            else:
                if known.kind in ("date", "date-time") and known.order is None:
                    self.types[name] = ColumnType(known.kind, shown_order(shapes[position]) or order)
                continue
            if column.kind == "integer" and needs_fraction(shapes[position]):
                column = NUMBER
            if column.kind in ("date", "date-time") and column.order is None:
                column = ColumnType(column.kind, shown_order(shapes[position]) or order)
            if column != known:
                self.learn(name, column, new=column != remembered)
                if known is None or column.kind != known.kind:
                    declare[name] = column
        return declare

    def known_order(self) -> str | None:
        """The one day/month order the stream's date columns have been read in, if they agree on one."""
        orders = {column.order for column in self.types.values() if column.order}
        return orders.pop() if len(orders) == 1 else None

    def _by_name(self, name: str) -> ColumnType | None:
        schema = self.by_name.get(name)
        return ColumnType.from_schema(schema) if schema is not None else None

    def learn(self, name: str, column: ColumnType, *, new: bool = True) -> None:
        """Declare a learned column's type for this run and the next ones (`new`: not as STATE had it)."""
        self.types[name] = self.learned[name] = column
        self.memory().set(name, column)
        if new:
            self.new.add(name)

    @property
    def widenable(self) -> list[str]:
        """Learned integer columns: a fraction makes them number columns."""
        return [name for name, column in self.learned.items() if column.kind == "integer"]

    def undeclared(self) -> dict[str, ColumnType]:
        """The columns learned this run that the catalog does not declare."""
        return {name: column for name, column in self.learned.items() if name not in self.pinned}
