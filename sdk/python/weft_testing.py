"""Batches for unit tests in plain CPython, built from dicts, in either layout.

    from weft_testing import fake_batch

    batch = fake_batch(
        [{"name": "GET /users", "kind": "server", "attributes": {"user.email": "ann@example.com"}}],
        resources=[{"attributes": {"service.name": "checkout"}}],
        packed=True,
    )
    edits = app.SpanProcessor().process(batch)

A span is a dict of the fields it sets, named as in `weft.Span`: "name", "kind", "trace_id" and
"span_id" and "parent_span_id" (hex), "trace_state", "start_time_unix_nano",
"end_time_unix_nano", "status" (a (code, message) pair), "flags", "attributes" (a dict of
str, int, float, bool, bytes, None, lists and dicts), "events" (dicts with "name",
"time_unix_nano", "attributes"), "links" (dicts with "trace_id", "span_id", "trace_state",
"attributes", "flags"), the "dropped_*_count"s, and "scope" (an index into `scopes`). Absent
fields hold their empty value, as when the interest did not ask for them. With `packed=True`
the tables are written as the rows of docs/plugin-contract.md ("The packed layout").
"""

import struct

from wit_world.imports import common, traces
from weft import KINDS, STATUS_CODES
# Packed rows, from the table in docs/plugin-contract.md.
_HEADER, _RESOURCE, _SCOPE = struct.Struct("<8I"), struct.Struct("<6I"), struct.Struct("<10I")
_SPAN, _EVENT = struct.Struct("<16s8s8sQQ20I"), struct.Struct("<Q6I")
_LINK, _ATTRIBUTE = struct.Struct("<16s8sI6I12s"), struct.Struct("<IBBHIIII8s")
_OWNERS = {"resource": 0, "scope": 1, "span": 2, "event": 3, "link": 4}


def fake_batch(spans, resources=({},), scopes=({},), packed=False) -> traces.Batch:
    """A batch of `spans` (dicts, see the module) with these resources and scopes (dicts with
    "attributes", "schema_url", and for scopes "name", "version" and "resource"), in the
    record layout or, with `packed`, the packed one."""
    return _Builder(packed).build(spans, resources, scopes)


class _Builder:
    def __init__(self, packed):
        self.packed = packed
        self.keys, self.arena = [], bytearray()
        self.attributes = []  # (key index, value-view, owner kind, owner index)
        self.events, self.links = [], []  # (owner span, record)

    def text(self, value: str | bytes) -> common.Slice:
        raw = value.encode() if isinstance(value, str) else bytes(value)
        self.arena.extend(raw)
        return common.Slice(len(self.arena) - len(raw), len(raw))

    def owned(self, items: dict, owner: str, index: int) -> traces.Range:
        start = len(self.attributes)
        for key, value in (items or {}).items():
            if key not in self.keys:
                self.keys.append(key)
            self.attributes.append((self.keys.index(key), self.view(value), _OWNERS[owner], index))
        return traces.Range(start, len(self.attributes) - start)

    def view(self, value) -> common.ValueView:
        if isinstance(value, (list, dict)):
            nodes = []
            self.node(value, nodes)
            return common.ValueView_Nested(nodes)
        return self.scalar(value, "ValueView_")

    def scalar(self, value, prefix):
        case = lambda name: getattr(common, prefix + name)  # noqa: E731
        if value is None:
            return case("Empty")()
        if isinstance(value, str):
            return case("Str")(self.text(value))
        if isinstance(value, bytes):
            return case("Bytes")(self.text(value))
        if isinstance(value, bool):
            return case("Boolean")(value)
        return case("Int" if isinstance(value, int) else "Double")(value)

    def node(self, value, nodes) -> int:
        at = len(nodes)
        nodes.append(None)
        if isinstance(value, dict):
            nodes[at] = common.NodeView_Kvlist([(self.text(k), self.node(v, nodes)) for k, v in value.items()])
        elif isinstance(value, list):
            nodes[at] = common.NodeView_Array([self.node(v, nodes) for v in value])
        else:
            nodes[at] = self.scalar(value, "NodeView_")
        return at

    def build(self, spans, resources, scopes) -> traces.Batch:
        resource_records = [
            traces.Resource(self.owned(r.get("attributes"), "resource", i), 0, self.text(r.get("schema_url", "")))
            for i, r in enumerate(resources)
        ]
        scope_records = [
            traces.Scope(
                s.get("resource", 0), self.text(s.get("name", "")), self.text(s.get("version", "")),
                self.owned(s.get("attributes"), "scope", i), 0, self.text(s.get("schema_url", "")),
            )
            for i, s in enumerate(scopes)
        ]  # fmt: skip
        span_records = [self.span(i, s) for i, s in enumerate(spans)]
        events = [record for _, record in self.events]
        links = [record for _, record in self.links]
        if not self.packed:
            attributes = [common.AttributeView(key, value) for key, value, _, _ in self.attributes]
            return traces.Batch(
                self.keys, bytes(self.arena), attributes, events, links,
                resource_records, scope_records, span_records, b"",
            )  # fmt: skip
        return self.pack(resource_records, scope_records, span_records)

    def span(self, i, s) -> traces.Span:
        attributes = self.owned(s.get("attributes"), "span", i)
        first_event = len(self.events)
        for e in s.get("events", []):
            owned = self.owned(e.get("attributes"), "event", len(self.events))
            event = traces.Event(e.get("time_unix_nano", 0), self.text(e.get("name", "")), owned, 0)
            self.events.append((i, event))
        first_link = len(self.links)
        for k in s.get("links", []):
            owned = self.owned(k.get("attributes"), "link", len(self.links))
            link = traces.Link(
                _trace_id(k.get("trace_id")), int(k.get("span_id", "0"), 16), self.text(k.get("trace_state", "")),
                owned, 0, k.get("flags", 0),
            )  # fmt: skip
            self.links.append((i, link))
        code, message = s.get("status", ("unset", ""))
        return traces.Span(
            s.get("scope", 0), _trace_id(s.get("trace_id")), int(s.get("span_id", "0"), 16),
            int(s.get("parent_span_id", "0"), 16), self.text(s.get("trace_state", "")),
            self.text(s.get("name", "")), traces.SpanKind(KINDS.index(s.get("kind", "unspecified"))),
            s.get("start_time_unix_nano", 0), s.get("end_time_unix_nano", 0), attributes,
            s.get("dropped_attributes_count", 0), traces.Range(first_event, len(self.events) - first_event),
            s.get("dropped_events_count", 0), traces.Range(first_link, len(self.links) - first_link),
            s.get("dropped_links_count", 0),
            traces.Status(traces.StatusCode(STATUS_CODES.index(code)), self.text(message)), s.get("flags", 0),
        )  # fmt: skip

    def pack(self, resources, scopes, spans) -> traces.Batch:
        """The same tables as packed rows; `attributes` keeps only the nested values."""
        rows, nested = [], []
        for r in resources:
            rows.append(_RESOURCE.pack(*_r(r.attributes), r.dropped_attributes_count, *_s(r.schema_url), 0))
        for s in scopes:
            rows.append(_SCOPE.pack(s.resource, *_s(s.name), *_s(s.version), *_r(s.attributes),
                                    s.dropped_attributes_count, *_s(s.schema_url)))  # fmt: skip
        for s in spans:
            rows.append(_SPAN.pack(
                _id16(s.trace_id), s.span_id.to_bytes(8, "big"), s.parent_span_id.to_bytes(8, "big"),
                s.start_time_unix_nano, s.end_time_unix_nano, s.scope, s.kind.value, s.status.code.value,
                s.flags, *_s(s.name), *_s(s.trace_state), *_s(s.status.message), *_r(s.attributes),
                *_r(s.events), *_r(s.links), s.dropped_attributes_count, s.dropped_events_count,
                s.dropped_links_count, 0,
            ))  # fmt: skip
        for span, e in self.events:
            rows.append(_EVENT.pack(e.time_unix_nano, span, *_s(e.name), *_r(e.attributes),
                                    e.dropped_attributes_count))  # fmt: skip
        for span, k in self.links:
            rows.append(_LINK.pack(_id16(k.trace_id), k.span_id.to_bytes(8, "big"), span, *_s(k.trace_state),
                                   *_r(k.attributes), k.dropped_attributes_count, k.flags, b""))  # fmt: skip
        for key, value, owner_kind, owner in self.attributes:
            kind, piece, scalar = _packed_value(value, nested)
            rows.append(_ATTRIBUTE.pack(key, kind, owner_kind, 0, owner, *piece, 0, scalar))
        counts = (len(resources), len(scopes), len(spans), len(self.events), len(self.links), len(self.attributes))
        data = _HEADER.pack(1, *counts, 0) + b"".join(rows)
        return traces.Batch(self.keys, bytes(self.arena), nested, [], [], [], [], [], data)


def _packed_value(value, nested) -> tuple:
    """An attribute row's value kind, value slice and 8 scalar bytes; a nested value is
    appended to `nested` and the scalar holds its index there."""
    if isinstance(value, common.ValueView_Str):
        return 1, _s(value.value), b""
    if isinstance(value, common.ValueView_Boolean):
        return 2, (0, 0), struct.pack("<Q", int(value.value))
    if isinstance(value, common.ValueView_Int):
        return 3, (0, 0), struct.pack("<q", value.value)
    if isinstance(value, common.ValueView_Double):
        return 4, (0, 0), struct.pack("<d", value.value)
    if isinstance(value, common.ValueView_Bytes):
        return 5, _s(value.value), b""
    if isinstance(value, common.ValueView_Nested):
        nested.append(common.AttributeView(0, value))
        return 6, (0, 0), struct.pack("<Q", len(nested) - 1)
    return 0, (0, 0), b""


def _trace_id(hex_id) -> traces.TraceId:
    number = int(hex_id or "0", 16)
    return traces.TraceId(number >> 64, number & ((1 << 64) - 1))


def _id16(trace_id) -> bytes:
    return ((trace_id.high << 64) | trace_id.low).to_bytes(16, "big")


def _s(piece) -> tuple:
    return piece.offset, piece.len


def _r(items) -> tuple:
    return items.start, items.len
