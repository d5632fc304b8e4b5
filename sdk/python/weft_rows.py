"""Reads a Weft batch in either layout as the same plain rows, for `weft.py`.

A batch arrives as record lists (`batch.spans`, `batch.attributes`, ...) or, when `init` asked
for the `packed` span field, as fixed-size rows in `batch.packed`. `reader(batch)` returns an
object that answers the same questions for both: the row of span `i`, event `e`, ..., as a
named tuple of plain numbers (a string is an arena slice `(offset, len)`, a list of a table a
range `(start, len)`), the key and the decoded value of attribute `a`, the text of a slice.
Nothing is decoded from the arena until asked for.

It reads the packed layout through `weft_packed.py`, which must sit beside it.
"""

from collections import namedtuple

from wit_world.imports import common
from weft_packed import Packed

SpanRow = namedtuple(
    "SpanRow",
    "scope trace_id span_id parent_span_id trace_state name kind start_time_unix_nano "
    "end_time_unix_nano attributes dropped_attributes_count events dropped_events_count links "
    "dropped_links_count status_code status_message flags",
)
"""A span: ids as integers (the trace id as one 128-bit integer), kind and status code as
their positions in the WIT enums, strings as arena slices, attributes/events/links as ranges."""
EventRow = namedtuple("EventRow", "time_unix_nano name attributes dropped_attributes_count")
LinkRow = namedtuple("LinkRow", "trace_id span_id trace_state attributes dropped_attributes_count flags")
ScopeRow = namedtuple("ScopeRow", "resource name version attributes dropped_attributes_count schema_url")
ResourceRow = namedtuple("ResourceRow", "attributes dropped_attributes_count schema_url")


def reader(batch):
    """The reader for `batch`'s layout: `PackedRows` when the batch carries `packed` bytes,
    `RecordRows` otherwise."""
    return PackedRows(batch) if len(batch.packed) else RecordRows(batch)


class _Rows:
    """What both layouts share: the arena, the key table, nested values."""

    def __init__(self, batch):
        self.batch = batch
        self.arena = batch.arena
        self.keys = batch.keys

    def text(self, piece) -> str:
        """The UTF-8 string at arena slice `piece` (`(offset, len)`); invalid bytes become
        U+FFFD."""
        offset, length = piece
        return bytes(self.arena[offset : offset + length]).decode("utf-8", "replace")

    def nested(self, nodes):
        """A flattened array or key-value list (`node-view`s, node 0 the root) as Python
        lists and dicts."""
        return self._node(nodes, 0)

    def _node(self, nodes, index):
        node = nodes[index]
        if isinstance(node, common.NodeView_Array):
            return [self._node(nodes, child) for child in node.value]
        if isinstance(node, common.NodeView_Kvlist):
            return {self.text(_slice(key)): self._node(nodes, child) for key, child in node.value}
        return self._scalar(node)

    def _scalar(self, variant):
        """The Python value of a scalar case of `value-view` or `node-view`."""
        if isinstance(variant, (common.ValueView_Str, common.NodeView_Str)):
            return self.text(_slice(variant.value))
        if isinstance(variant, (common.ValueView_Bytes, common.NodeView_Bytes)):
            piece = variant.value
            return bytes(self.arena[piece.offset : piece.offset + piece.len])
        if isinstance(variant, _NUMBERS):
            return variant.value
        return None


_NUMBERS = (
    common.ValueView_Int, common.ValueView_Double, common.ValueView_Boolean,
    common.NodeView_Int, common.NodeView_Double, common.NodeView_Boolean,
)  # fmt: skip


def _slice(piece) -> tuple:
    return (piece.offset, piece.len)


def _range(items) -> tuple:
    return (items.start, items.len)


class RecordRows(_Rows):
    """Reads the record layout (`batch.spans`, `batch.events`, ...)."""

    def __init__(self, batch):
        super().__init__(batch)
        self.span_count = len(batch.spans)

    def span(self, i) -> SpanRow:
        s = self.batch.spans[i]
        return SpanRow(
            s.scope, (s.trace_id.high << 64) | s.trace_id.low, s.span_id, s.parent_span_id,
            _slice(s.trace_state), _slice(s.name), s.kind.value, s.start_time_unix_nano,
            s.end_time_unix_nano, _range(s.attributes), s.dropped_attributes_count,
            _range(s.events), s.dropped_events_count, _range(s.links), s.dropped_links_count,
            s.status.code.value, _slice(s.status.message), s.flags,
        )  # fmt: skip

    def event(self, e) -> EventRow:
        v = self.batch.events[e]
        return EventRow(v.time_unix_nano, _slice(v.name), _range(v.attributes), v.dropped_attributes_count)

    def link(self, k) -> LinkRow:
        v = self.batch.links[k]
        return LinkRow(
            (v.trace_id.high << 64) | v.trace_id.low, v.span_id, _slice(v.trace_state),
            _range(v.attributes), v.dropped_attributes_count, v.flags,
        )  # fmt: skip

    def scope(self, i) -> ScopeRow:
        v = self.batch.scopes[i]
        return ScopeRow(
            v.resource, _slice(v.name), _slice(v.version), _range(v.attributes),
            v.dropped_attributes_count, _slice(v.schema_url),
        )  # fmt: skip

    def resource(self, i) -> ResourceRow:
        v = self.batch.resources[i]
        return ResourceRow(_range(v.attributes), v.dropped_attributes_count, _slice(v.schema_url))

    def key_index(self, a) -> int:
        """Attribute `a`'s key, as an index into `batch.keys`."""
        return self.batch.attributes[a].key

    def value(self, a):
        """Attribute `a`'s value: `str`, `bytes`, `int`, `float`, `bool`, `None` (empty), or
        for arrays and key-value lists a `list` or `dict` of those."""
        variant = self.batch.attributes[a].value
        if isinstance(variant, common.ValueView_Nested):
            return self.nested(variant.value)
        return self._scalar(variant)


class PackedRows(_Rows):
    """Reads the packed layout (`batch.packed`) through `weft_packed.Packed`."""

    def __init__(self, batch):
        super().__init__(batch)
        self.packed = Packed(batch)
        self.span_count = self.packed.span_count
        self._key_column = None

    def span(self, i) -> SpanRow:
        r = self.packed.row("span", i)
        return SpanRow(
            r.scope, int.from_bytes(r.trace_id, "big"), int.from_bytes(r.span_id, "big"),
            int.from_bytes(r.parent_span_id, "big"), (r.trace_state_offset, r.trace_state_len),
            (r.name_offset, r.name_len), r.kind, r.start_time_unix_nano, r.end_time_unix_nano,
            (r.attributes_start, r.attributes_len), r.dropped_attributes_count,
            (r.events_start, r.events_len), r.dropped_events_count, (r.links_start, r.links_len),
            r.dropped_links_count, r.status_code, (r.status_message_offset, r.status_message_len),
            r.flags,
        )  # fmt: skip

    def event(self, e) -> EventRow:
        r = self.packed.row("event", e)
        return EventRow(
            r.time_unix_nano, (r.name_offset, r.name_len), (r.attributes_start, r.attributes_len),
            r.dropped_attributes_count,
        )  # fmt: skip

    def link(self, k) -> LinkRow:
        r = self.packed.row("link", k)
        return LinkRow(
            int.from_bytes(r.trace_id, "big"), int.from_bytes(r.span_id, "big"),
            (r.trace_state_offset, r.trace_state_len), (r.attributes_start, r.attributes_len),
            r.dropped_attributes_count, r.flags,
        )  # fmt: skip

    def scope(self, i) -> ScopeRow:
        r = self.packed.row("scope", i)
        return ScopeRow(
            r.resource, (r.name_offset, r.name_len), (r.version_offset, r.version_len),
            (r.attributes_start, r.attributes_len), r.dropped_attributes_count,
            (r.schema_url_offset, r.schema_url_len),
        )  # fmt: skip

    def resource(self, i) -> ResourceRow:
        r = self.packed.row("resource", i)
        return ResourceRow(
            (r.attributes_start, r.attributes_len), r.dropped_attributes_count,
            (r.schema_url_offset, r.schema_url_len),
        )  # fmt: skip

    def key_index(self, a) -> int:
        """Attribute `a`'s key, as an index into `batch.keys` (the key column is read once
        per batch)."""
        if self._key_column is None:
            self._key_column = self.packed.column("attribute", "key")
        return self._key_column[a]

    def value(self, a):
        """Attribute `a`'s value, as `RecordRows.value` gives it."""
        value = self.packed.value(a)
        if isinstance(value, common.AttributeView):  # arrays and key-value lists
            return self.nested(value.value.value)
        return value
