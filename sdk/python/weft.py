"""Weft batches as Python objects: span fields and attributes by name, edits by method.

    from weft import Spans, interest

    class SpanProcessor(exports.SpanProcessor):
        def init(self, config):
            return interest("name", span_attributes=["user.email"])

        def process(self, batch):
            spans = Spans(batch)
            for span in spans:
                if span.name.startswith("GET "):
                    span.rename(span.name.lower())
                if "user.email" in span.attributes:
                    span.set_attribute("user.email", "[REDACTED]")
            return spans.edits()

Every string is decoded from the batch arena only when it is read, and kept once decoded. The
view shows the batch as the host sent it; the methods that change something (`rename`,
`set_attribute`, `drop`, ...) only record an edit, and `Spans.edits()` returns them in order
for `process` to return. Both layouts read the same (`interest` asks for the packed one,
which crosses into the plugin cheaper).

The module needs `weft_build.py`, `weft_rows.py` and `weft_packed.py` (all in `sdk/python`):
copy the four `weft*.py` files next to your `app.py`, or add `sdk/python` to componentize-py's
`-p` paths.
"""

from functools import cached_property
from collections import namedtuple
from collections.abc import Mapping

from wit_world.imports import traces
from weft_build import interest, selection, value  # noqa: F401 (part of this module's API)
from weft_rows import reader

KINDS = ("unspecified", "internal", "server", "client", "producer", "consumer")
"""Span kinds as `Span.kind` gives them, in the WIT enum's order."""
STATUS_CODES = ("unset", "ok", "error")
"""Status codes as `Status.code` gives them, in the WIT enum's order."""

Status = namedtuple("Status", "code message")
Status.__doc__ = "A span's status: `code` (one of `STATUS_CODES`) and `message` (a str)."


def _hex(number: int, digits: int) -> str:
    return format(number, f"0{digits}x")


class Attributes(Mapping):
    """The attributes of a span, event, link, scope or resource: a read-only mapping from key
    to value (`str`, `int`, `float`, `bool`, `bytes`, `None` for an empty value, `list` or
    `dict` for arrays and key-value lists). `get`, `[]`, `in`, `items()`, `len()` as for a
    dict. Values are decoded when first read."""

    def __init__(self, rows, attributes):
        self._rows = rows
        self._start, self._len = attributes
        self._values = {}

    @cached_property
    def _positions(self) -> dict:
        """Key -> position in the batch's attribute table (the first, should a key repeat)."""
        keys, key_index = self._rows.keys, self._rows.key_index
        positions = {}
        for a in range(self._start, self._start + self._len):
            positions.setdefault(keys[key_index(a)], a)
        return positions

    def __getitem__(self, key):
        if key not in self._values:
            self._values[key] = self._rows.value(self._positions[key])
        return self._values[key]

    def __contains__(self, key):
        return key in self._positions

    def __iter__(self):
        return iter(self._positions)

    def __len__(self):
        return len(self._positions)

    def __repr__(self):
        return f"Attributes({dict(self.items())!r})"


class _Owner:
    """Something with attributes that an attribute edit can target."""

    _spans: "Spans"
    _row: tuple

    def _target(self):
        raise NotImplementedError

    @cached_property
    def attributes(self) -> Attributes:
        """The attributes the interest asked for, by key."""
        return Attributes(self._spans._rows, self._row.attributes)

    @property
    def dropped_attributes_count(self) -> int:
        return self._row.dropped_attributes_count

    def set_attribute(self, key: str, v) -> None:
        """Records an edit setting attribute `key` to `v` (see `value` for the types)."""
        self._spans.add(traces.Edit_SetAttribute((self._target(), key, value(v))))

    def remove_attribute(self, key: str) -> None:
        """Records an edit removing attribute `key` (nothing happens if it is absent)."""
        self._spans.add(traces.Edit_RemoveAttribute((self._target(), key)))

    def rename_attribute(self, key: str, new_key: str) -> None:
        """Records an edit renaming attribute `key` to `new_key`, keeping its value."""
        self._spans.add(traces.Edit_RenameAttribute((self._target(), key, new_key)))


class Resource(_Owner):
    """The resource that produced some spans; an edit to it applies to all of them."""

    def __init__(self, spans, index):
        self._spans, self.index, self._row = spans, index, spans._rows.resource(index)

    def _target(self):
        return traces.Target_Resource(self.index)

    @cached_property
    def schema_url(self) -> str:
        return self._spans._rows.text(self._row.schema_url)


class Scope(_Owner):
    """The instrumentation scope of some spans (its name and version are always sent)."""

    def __init__(self, spans, index):
        self._spans, self.index, self._row = spans, index, spans._rows.scope(index)

    def _target(self):
        return traces.Target_Scope(self.index)

    @cached_property
    def name(self) -> str:
        return self._spans._rows.text(self._row.name)

    @cached_property
    def version(self) -> str:
        return self._spans._rows.text(self._row.version)

    @cached_property
    def schema_url(self) -> str:
        return self._spans._rows.text(self._row.schema_url)

    @property
    def resource(self) -> Resource:
        return self._spans.resource(self._row.resource)


class Event(_Owner):
    """Event `index` of span `span` (a `Span`)."""

    def __init__(self, span, index, position):
        self._spans, self.span, self.index = span._spans, span, index
        self._row = span._spans._rows.event(position)

    def _target(self):
        return traces.Target_Event((self.span.index, self.index))

    @cached_property
    def name(self) -> str:
        return self._spans._rows.text(self._row.name)

    @property
    def time_unix_nano(self) -> int:
        return self._row.time_unix_nano

    def rename(self, name: str) -> None:
        """Records an edit renaming the event."""
        self._spans.add(traces.Edit_SetEventName((self.span.index, self.index, name)))

    def drop(self) -> None:
        """Records an edit removing the event from its span."""
        self._spans.add(traces.Edit_DropEvent((self.span.index, self.index)))


class Link(_Owner):
    """Link `index` of span `span`: the linked span's ids as hex, its trace state and flags."""

    def __init__(self, span, index, position):
        self._spans, self.span, self.index = span._spans, span, index
        self._row = span._spans._rows.link(position)

    def _target(self):
        return traces.Target_Link((self.span.index, self.index))

    @cached_property
    def trace_id(self) -> str:
        return _hex(self._row.trace_id, 32)

    @cached_property
    def span_id(self) -> str:
        return _hex(self._row.span_id, 16)

    @cached_property
    def trace_state(self) -> str:
        return self._spans._rows.text(self._row.trace_state)

    @property
    def flags(self) -> int:
        return self._row.flags


class Span(_Owner):
    """Span `index` of the batch. Fields the interest did not ask for read as their empty
    value: "" for strings, 0 for numbers and ids ("000..."), "unspecified", no events."""

    def __init__(self, spans, index):
        self._spans, self.index, self._row = spans, index, spans._rows.span(index)

    def _target(self):
        return traces.Target_Span(self.index)

    @cached_property
    def name(self) -> str:
        return self._spans._rows.text(self._row.name)

    @property
    def kind(self) -> str:
        """One of `KINDS`: "server", "client", ..."""
        return KINDS[self._row.kind]

    @cached_property
    def status(self) -> Status:
        return Status(STATUS_CODES[self._row.status_code], self._spans._rows.text(self._row.status_message))

    @cached_property
    def trace_id(self) -> str:
        """32 lowercase hex digits."""
        return _hex(self._row.trace_id, 32)

    @cached_property
    def span_id(self) -> str:
        """16 lowercase hex digits."""
        return _hex(self._row.span_id, 16)

    @cached_property
    def parent_span_id(self) -> str | None:
        """16 hex digits, or None for a root span."""
        return _hex(self._row.parent_span_id, 16) if self._row.parent_span_id else None

    @cached_property
    def trace_state(self) -> str:
        return self._spans._rows.text(self._row.trace_state)

    start_time_unix_nano = property(lambda self: self._row.start_time_unix_nano)
    end_time_unix_nano = property(lambda self: self._row.end_time_unix_nano)
    flags = property(lambda self: self._row.flags)
    dropped_events_count = property(lambda self: self._row.dropped_events_count)
    dropped_links_count = property(lambda self: self._row.dropped_links_count)

    @cached_property
    def events(self) -> list[Event]:
        start, length = self._row.events
        return [Event(self, j, start + j) for j in range(length)]

    @cached_property
    def links(self) -> list[Link]:
        start, length = self._row.links
        return [Link(self, j, start + j) for j in range(length)]

    @property
    def scope(self) -> Scope:
        return self._spans.scope(self._row.scope)

    @property
    def resource(self) -> Resource:
        return self.scope.resource

    def rename(self, name: str) -> None:
        """Records an edit replacing the span's name."""
        self._spans.add(traces.Edit_SetName((self.index, name)))

    def set_status(self, code: str, message: str = "") -> None:
        """Records an edit replacing the status; `code` is one of `STATUS_CODES`."""
        code = _enum(traces.StatusCode, STATUS_CODES, code)
        self._spans.add(traces.Edit_SetStatus((self.index, code, message)))

    def set_kind(self, kind: str) -> None:
        """Records an edit replacing the kind; `kind` is one of `KINDS`."""
        self._spans.add(traces.Edit_SetKind((self.index, _enum(traces.SpanKind, KINDS, kind))))

    def set_trace_state(self, trace_state: str) -> None:
        """Records an edit replacing the W3C trace-state."""
        self._spans.add(traces.Edit_SetTraceState((self.index, trace_state)))

    def drop(self) -> None:
        """Records an edit dropping the span from the batch."""
        self._spans.add(traces.Edit_DropSpan(self.index))

    def __repr__(self):
        return f"Span({self.index}, {self.name!r})"


def _enum(kind, names, name):
    if name not in names:
        raise ValueError(f"{name!r} is not one of {names}")
    return kind(names.index(name))


class Spans:
    """The spans of a batch, in order (`len`, iteration, `spans[i]`, slices), and the edits
    recorded on them."""

    def __init__(self, batch: traces.Batch):
        self._rows = reader(batch)
        self._spans = [None] * self._rows.span_count
        self._scopes, self._resources = {}, {}
        self._edits = []

    def __len__(self):
        return len(self._spans)

    def __getitem__(self, i) -> Span:
        if isinstance(i, slice):
            return [self[j] for j in range(len(self._spans))[i]]
        span = self._spans[i]
        if span is None:
            span = self._spans[i] = Span(self, range(len(self._spans))[i])
        return span

    def __iter__(self):
        return (self[i] for i in range(len(self._spans)))

    def scope(self, index) -> Scope:
        """Scope `index` of the batch, read once."""
        if index not in self._scopes:
            self._scopes[index] = Scope(self, index)
        return self._scopes[index]

    def resource(self, index) -> Resource:
        """Resource `index` of the batch, read once."""
        if index not in self._resources:
            self._resources[index] = Resource(self, index)
        return self._resources[index]

    def set_attribute(self, key: str, v) -> None:
        """Records one edit setting attribute `key` to `v` on every span of the batch."""
        self.add(traces.Edit_SetAttribute((self._every_span(), key, value(v))))

    def remove_attribute(self, key: str) -> None:
        """Records one edit removing attribute `key` from every span of the batch."""
        self.add(traces.Edit_RemoveAttribute((self._every_span(), key)))

    def _every_span(self):
        return traces.Target_Spans(traces.Range(0, len(self._spans)))

    def add(self, edit: traces.Edit) -> None:
        """Records an edit built by hand from the contract's `traces.Edit_*` classes."""
        self._edits.append(edit)

    def edits(self) -> list[traces.Edit]:
        """The edits recorded so far, in order: what `process` returns."""
        return self._edits
