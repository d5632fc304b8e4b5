"""Reads a Weft batch sent in the packed layout (the `packed` span field).

Weft's contract can send a batch's tables as fixed-size little-endian rows in one byte list
(`batch.packed`) instead of lists of records. Python bindings turn every record into an object
(~40 for a span with ten attributes), which costs more than most processors' own work; a byte
list crosses as one `bytes` object and is read here in place. The layout is specified in
`docs/plugin-contract.md` ("The packed layout").

    from weft_packed import Packed, STR

    view = Packed(batch)
    for i in view.attributes_at(positions_of_interest):
        ...  # view.text(...), view.key(i), view.target(i)

Copy this file next to your plugin's `app.py` (or add its folder to componentize-py's `-p`
paths). It needs only the standard library and the generated `wit_world` bindings.
"""

from bisect import bisect_right
from collections import namedtuple
import struct

from wit_world.imports import traces

LAYOUT_VERSION = 1

# Value kinds in an attribute row (the order of the contract's `value-view`).
EMPTY, STR, BOOL, INT, DOUBLE, BYTES, NESTED = range(7)
# What an attribute belongs to (its row's owner kind).
RESOURCE, SCOPE, SPAN, EVENT, LINK = range(5)

# Each table's row, field by field: (name, struct code), little-endian, fixed size. Ids are raw
# bytes in wire order; `*_offset`/`*_len` pairs are slices of `batch.arena`; `*_start`/`*_len`
# pairs are ranges of the packed table they name; fields named `_` are reserved.
_TABLES = {
    "resource": "attributes_start:I attributes_len:I dropped_attributes_count:I schema_url_offset:I schema_url_len:I _:I",
    "scope": "resource:I name_offset:I name_len:I version_offset:I version_len:I attributes_start:I "
    "attributes_len:I dropped_attributes_count:I schema_url_offset:I schema_url_len:I",
    "span": "trace_id:16s span_id:8s parent_span_id:8s start_time_unix_nano:Q end_time_unix_nano:Q scope:I "
    "kind:I status_code:I flags:I name_offset:I name_len:I trace_state_offset:I trace_state_len:I "
    "status_message_offset:I status_message_len:I attributes_start:I attributes_len:I events_start:I "
    "events_len:I links_start:I links_len:I dropped_attributes_count:I dropped_events_count:I "
    "dropped_links_count:I _:I",
    "event": "time_unix_nano:Q span:I name_offset:I name_len:I attributes_start:I attributes_len:I "
    "dropped_attributes_count:I",
    "link": "trace_id:16s span_id:8s span:I trace_state_offset:I trace_state_len:I attributes_start:I "
    "attributes_len:I dropped_attributes_count:I flags:I _:12s",
    "attribute": "key:I kind:B owner_kind:B _:H owner:I offset:I len:I _:I scalar:8s",
}
_ORDER = ["resource", "scope", "span", "event", "link", "attribute"]
_FIELDS = {table: [tuple(f.split(":")) for f in spec.split()] for table, spec in _TABLES.items()}
_ROWS = {
    table: (
        struct.Struct("<" + "".join(code for _, code in fields)),
        namedtuple(table.title(), [name for name, _ in fields], rename=True),
    )
    for table, fields in _FIELDS.items()
}
HEADER = struct.Struct("<8I")


class Packed:
    """A packed batch view: counts, rows by index, and whole columns as lists."""

    def __init__(self, batch: traces.Batch):
        data = batch.packed
        if len(data) < HEADER.size:
            raise ValueError("the batch is not packed: ask for the `packed` span field in `init`")
        version, *counts, _ = HEADER.unpack_from(data, 0)
        if version != LAYOUT_VERSION:
            raise ValueError(f"packed layout version {version}; this reader knows {LAYOUT_VERSION}")
        self.batch = batch
        self.arena = batch.arena
        self.keys = batch.keys
        self._data = data
        self._view = memoryview(data)
        self._columns = {}
        self.counts = dict(zip(_ORDER, counts))
        self._starts = {}
        at = HEADER.size
        for name in _ORDER:
            self._starts[name] = at
            at += _ROWS[name][0].size * self.counts[name]
        if at != len(data):
            raise ValueError(f"packed batch is {len(data)} bytes; its header describes {at}")

    @property
    def span_count(self) -> int:
        """How many spans the batch holds (edits address them by index)."""
        return self.counts["span"]

    def row(self, table: str, index: int):
        """Row `index` of `table` ("resource", "scope", "span", "event", "link" or
        "attribute") as a named tuple."""
        layout, kind = _ROWS[table]
        if not 0 <= index < self.counts[table]:
            raise IndexError(f"{table} {index} of {self.counts[table]}")
        return kind._make(layout.unpack_from(self._data, self._starts[table] + index * layout.size))

    def column(self, table: str, field: str) -> list:
        """Field `field` of every row of `table`, as a list (read in one pass, not row by row).
        Works for the 4- and 8-byte integer fields and the 1-byte attribute fields."""
        layout = _ROWS[table][0]
        offset, size = _field(table, field)
        start, end = self._starts[table], self._starts[table] + layout.size * self.counts[table]
        if size == 1:
            return self._view[start + offset : end : layout.size].tolist()
        code = {4: "I", 8: "Q"}[size]
        return self._view[start:end].cast(code)[offset // size :: layout.size // size].tolist()

    def text(self, offset: int, length: int) -> str:
        """The UTF-8 string at `offset .. offset + length` of the arena."""
        return self.arena[offset : offset + length].decode("utf-8", "replace")

    def raw(self, attribute: int) -> bytes:
        """The arena bytes of attribute `attribute`'s string or bytes value (empty for other
        kinds)."""
        offset = self._offsets[attribute]
        return self.arena[offset : offset + self._lengths[attribute]]

    def key(self, attribute: int) -> str:
        """The key of attribute `attribute`."""
        return self.keys[self._attribute_keys[attribute]]

    def value(self, attribute: int):
        """The value of attribute `attribute`: `str`, `bytes`, `int`, `float`, `bool`, `None`
        (empty), or for arrays and key-value lists the contract's `attribute-view` record."""
        row = self.row("attribute", attribute)
        if row.kind == STR:
            return self.text(row.offset, row.len)
        if row.kind == BYTES:
            return bytes(self.arena[row.offset : row.offset + row.len])
        if row.kind == INT:
            return struct.unpack("<q", row.scalar)[0]
        if row.kind == DOUBLE:
            return struct.unpack("<d", row.scalar)[0]
        if row.kind == BOOL:
            return row.scalar[0] != 0
        if row.kind == NESTED:
            return self.batch.attributes[struct.unpack("<Q", row.scalar)[0]]
        return None

    def attributes_at(self, positions, kinds=(STR,)) -> list[int]:
        """The attributes whose value (of one of `kinds`) holds one of the arena `positions`
        (ascending), each once, in order. Values sit in the arena in attribute order, so this
        is a binary search per position: scan the whole arena with one regular expression,
        then map its matches to attributes."""
        offsets, lengths, value_kinds = self._offsets, self._lengths, self._kinds
        found, last = [], -1
        for position in positions:
            i = bisect_right(offsets, position) - 1
            if i > last and value_kinds[i] in kinds and position < offsets[i] + lengths[i]:
                found.append(i)
                last = i
        return found

    def target(self, attribute: int) -> traces.Target:
        """The edit target that attribute `attribute` belongs to."""
        kind, owner = self._owner_kinds[attribute], self._owners[attribute]
        if kind == SPAN:
            return traces.Target_Span(owner)
        if kind == EVENT:
            span = self.row("event", owner).span
            return traces.Target_Event((span, owner - self.row("span", span).events_start))
        if kind == LINK:
            span = self.row("link", owner).span
            return traces.Target_Link((span, owner - self.row("span", span).links_start))
        if kind == RESOURCE:
            return traces.Target_Resource(owner)
        return traces.Target_Scope(owner)

    def _attribute_column(self, field: str) -> list:
        """`column("attribute", field)`, read once per batch."""
        cached = self._columns.get(field)
        if cached is None:
            cached = self._columns[field] = self.column("attribute", field)
        return cached

    _offsets = property(lambda self: self._attribute_column("offset"))
    _lengths = property(lambda self: self._attribute_column("len"))
    _kinds = property(lambda self: self._attribute_column("kind"))
    _attribute_keys = property(lambda self: self._attribute_column("key"))
    _owners = property(lambda self: self._attribute_column("owner"))
    _owner_kinds = property(lambda self: self._attribute_column("owner_kind"))


def _field(table: str, field: str) -> tuple[int, int]:
    """Byte offset and size of `field` in a row of `table`."""
    offset = 0
    for name, code in _FIELDS[table]:
        size = struct.calcsize("<" + code)
        if name == field:
            return offset, size
        offset += size
    raise KeyError(f"{table} rows have no field {field!r}")
