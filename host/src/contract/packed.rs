//! The packed layout of a view: its tables as fixed-size little-endian rows in one byte list.
//!
//! Interpreted guests (CPython, SpiderMonkey) turn every record of a list into an object when
//! a call crosses into them: ~40 objects for a span with ten attributes, which costs more than
//! the plugin's own work. A `list<u8>` crosses as one bytes object or `Uint8Array`, read in
//! place. The layout is specified for plugin authors in `docs/plugin-contract.md` ("The packed
//! layout"); the constants below are the same numbers.

use super::bindings::{
    AttributeView, Batch, Event, Link, Range, Resource, Scope, Slice, Span, TraceId, ValueView,
};
pub use super::tables::Owner;
use super::tables::{Counts, Tables};

/// Version of the layout, the first header word.
pub const LAYOUT_VERSION: u32 = 1;
/// Bytes of the header: eight `u32` words (version, the six table lengths, reserved).
pub const HEADER_BYTES: usize = 32;
/// Bytes of a resource row.
pub const RESOURCE_ROW: usize = 24;
/// Bytes of a scope row.
pub const SCOPE_ROW: usize = 40;
/// Bytes of a span row.
pub const SPAN_ROW: usize = 128;
/// Bytes of an event row.
pub const EVENT_ROW: usize = 32;
/// Bytes of a link row.
pub const LINK_ROW: usize = 64;
/// Bytes of an attribute row.
pub const ATTRIBUTE_ROW: usize = 32;

/// The number of spans in a view, in either layout.
pub fn view_span_count(view: &Batch) -> usize {
    match view.packed.get(12..16) {
        Some(word) => u32::from_le_bytes(word.try_into().expect("four bytes")) as usize,
        None => view.spans.len(),
    }
}

/// The packed rows of a view, written as the view builder walks the request (see
/// [`Tables`]): the fixed-size tables (resources to links, whose counts are known before the
/// walk) at their row's place, the attribute rows appended after them as they come.
pub(super) struct PackedRows {
    out: Vec<u8>,
    /// The rows each table was laid out for.
    planned: Counts,
    /// The rows written so far.
    written: Counts,
    /// Where the resource, scope, span, event and link tables start in `out`.
    resources_at: usize,
    scopes_at: usize,
    spans_at: usize,
    events_at: usize,
    links_at: usize,
}

impl PackedRows {
    /// Lays out `out` (emptied, its storage kept) for the rows `planned` counts, up to the
    /// attribute table.
    pub(super) fn new(mut out: Vec<u8>, planned: Counts) -> Self {
        let resources_at = HEADER_BYTES;
        let scopes_at = resources_at + planned.resources as usize * RESOURCE_ROW;
        let spans_at = scopes_at + planned.scopes as usize * SCOPE_ROW;
        let events_at = spans_at + planned.spans as usize * SPAN_ROW;
        let links_at = events_at + planned.events as usize * EVENT_ROW;
        let attributes_at = links_at + planned.links as usize * LINK_ROW;
        out.clear();
        out.resize(attributes_at, 0);
        PackedRows {
            out,
            planned,
            written: Counts::default(),
            resources_at,
            scopes_at,
            spans_at,
            events_at,
            links_at,
        }
    }

    /// The packed bytes, with their header. Panics if a fixed-size table got fewer or more
    /// rows than it was laid out for (the builder's walk and its plan disagree).
    pub(super) fn finish(mut self) -> Vec<u8> {
        let written = self.written;
        assert_eq!(
            Counts {
                attributes: 0,
                ..written
            },
            self.planned,
            "packed tables written as planned"
        );
        let mut w = Row::<HEADER_BYTES>::new();
        w.u32(LAYOUT_VERSION);
        for len in [
            written.resources,
            written.scopes,
            written.spans,
            written.events,
            written.links,
            written.attributes,
        ] {
            w.u32(len);
        }
        w.u32(0);
        w.write_at(&mut self.out, 0);
        self.out
    }
}

impl Tables for PackedRows {
    fn resource(&mut self, _: &mut Batch, resource: Resource) {
        let mut w = Row::<RESOURCE_ROW>::new();
        w.range(resource.attributes);
        w.u32(resource.dropped_attributes_count);
        w.slice(resource.schema_url);
        w.u32(0);
        w.place(
            &mut self.out,
            self.resources_at,
            &mut self.written.resources,
        );
    }

    fn scope(&mut self, _: &mut Batch, scope: Scope) {
        let mut w = Row::<SCOPE_ROW>::new();
        w.u32(scope.resource);
        w.slice(scope.name);
        w.slice(scope.version);
        w.range(scope.attributes);
        w.u32(scope.dropped_attributes_count);
        w.slice(scope.schema_url);
        w.place(&mut self.out, self.scopes_at, &mut self.written.scopes);
    }

    fn span(&mut self, _: &mut Batch, span: Span) {
        let mut w = Row::<SPAN_ROW>::new();
        w.trace_id(span.trace_id);
        w.bytes(&span.span_id.to_be_bytes());
        w.bytes(&span.parent_span_id.to_be_bytes());
        w.u64(span.start_time_unix_nano);
        w.u64(span.end_time_unix_nano);
        w.u32(span.scope);
        w.u32(span.kind as u32);
        w.u32(span.status.code as u32);
        w.u32(span.flags);
        w.slice(span.name);
        w.slice(span.trace_state);
        w.slice(span.status.message);
        w.range(span.attributes);
        w.range(span.events);
        w.range(span.links);
        w.u32(span.dropped_attributes_count);
        w.u32(span.dropped_events_count);
        w.u32(span.dropped_links_count);
        w.u32(0);
        w.place(&mut self.out, self.spans_at, &mut self.written.spans);
    }

    fn event(&mut self, _: &mut Batch, event: Event, span: u32) {
        let mut w = Row::<EVENT_ROW>::new();
        w.u64(event.time_unix_nano);
        w.u32(span);
        w.slice(event.name);
        w.range(event.attributes);
        w.u32(event.dropped_attributes_count);
        w.place(&mut self.out, self.events_at, &mut self.written.events);
    }

    fn link(&mut self, _: &mut Batch, link: Link, span: u32) {
        let mut w = Row::<LINK_ROW>::new();
        w.trace_id(link.trace_id);
        w.bytes(&link.span_id.to_be_bytes());
        w.u32(span);
        w.slice(link.trace_state);
        w.range(link.attributes);
        w.u32(link.dropped_attributes_count);
        w.u32(link.flags);
        w.bytes(&[0; 12]);
        w.place(&mut self.out, self.links_at, &mut self.written.links);
    }

    /// Nested values stay records: they go to `batch.attributes`, and the row's scalar is
    /// their index there.
    fn attribute(&mut self, batch: &mut Batch, attribute: AttributeView, owner: Owner, index: u32) {
        let AttributeView { key, value } = attribute;
        let mut w = Row::<ATTRIBUTE_ROW>::new();
        w.u32(key);
        let (kind, slice, scalar) = match &value {
            ValueView::Empty => (0u8, None, 0u64),
            ValueView::Str(s) => (1, Some(*s), 0),
            ValueView::Boolean(b) => (2, None, u64::from(*b)),
            ValueView::Int(i) => (3, None, *i as u64),
            ValueView::Double(d) => (4, None, d.to_bits()),
            ValueView::Bytes(s) => (5, Some(*s), 0),
            ValueView::Nested(_) => (6, None, batch.attributes.len() as u64),
        };
        w.bytes(&[kind, owner as u8, 0, 0]);
        w.u32(index);
        // A value without bytes takes the offset where the arena's next bytes go, after every
        // value before it and before every value after it: offsets never decrease.
        w.slice(slice.filter(|s| s.len > 0).unwrap_or(Slice {
            offset: batch.arena.len() as u32,
            len: 0,
        }));
        w.u32(0);
        w.u64(scalar);
        if kind == 6 {
            batch.attributes.push(AttributeView { key, value });
        }
        w.append_to(&mut self.out);
        self.written.attributes += 1;
    }
}

/// One row of the packed layout, `N` bytes, written little-endian field by field on the
/// stack and appended whole: a span's row is one copy into the output, not twenty-five.
struct Row<const N: usize> {
    bytes: [u8; N],
    len: usize,
}

impl<const N: usize> Row<N> {
    fn new() -> Self {
        Row {
            bytes: [0; N],
            len: 0,
        }
    }

    /// Appends the row to `out`; the row must be exactly full (its fields add up to `N`).
    fn append_to(self, out: &mut Vec<u8>) {
        assert_eq!(self.len, N, "a packed row of {N} bytes written short");
        out.extend_from_slice(&self.bytes);
    }

    /// Writes the row over bytes `at .. at + N` of `out`; the row must be exactly full.
    fn write_at(self, out: &mut [u8], at: usize) {
        assert_eq!(self.len, N, "a packed row of {N} bytes written short");
        out[at..at + N].copy_from_slice(&self.bytes);
    }

    /// Writes the row as row `*count` of the table starting at `table_at` in `out`, and
    /// counts it.
    fn place(self, out: &mut [u8], table_at: usize, count: &mut u32) {
        self.write_at(out, table_at + *count as usize * N);
        *count += 1;
    }

    fn bytes(&mut self, bytes: &[u8]) {
        self.bytes[self.len..self.len + bytes.len()].copy_from_slice(bytes);
        self.len += bytes.len();
    }

    fn u32(&mut self, value: u32) {
        self.bytes(&value.to_le_bytes());
    }

    fn u64(&mut self, value: u64) {
        self.bytes(&value.to_le_bytes());
    }

    fn slice(&mut self, slice: Slice) {
        self.u32(slice.offset);
        self.u32(slice.len);
    }

    fn range(&mut self, range: Range) {
        self.u32(range.start);
        self.u32(range.len);
    }

    /// A trace id in its wire order (the records' big-endian halves, high first).
    fn trace_id(&mut self, id: TraceId) {
        self.bytes(&id.high.to_be_bytes());
        self.bytes(&id.low.to_be_bytes());
    }
}

#[cfg(test)]
#[path = "packed_tests.rs"]
mod tests;
