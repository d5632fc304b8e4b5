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
mod tests {
    use super::*;
    use crate::contract::bindings::{
        AttributeSelection, Interest, SpanFields, SpanKind, StatusCode,
    };
    use crate::contract::{build_view, build_view_into, empty_view, full_interest, no_interest};
    use crate::pdata::Traces;
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::common::v1::{
        AnyValue, ArrayValue, InstrumentationScope, KeyValue, any_value::Value,
    };
    use opentelemetry_proto::tonic::resource::v1::Resource;
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status, span};

    fn kv(key: &str, value: Option<Value>) -> KeyValue {
        KeyValue {
            key: key.into(),
            value: Some(AnyValue { value }),
            ..Default::default()
        }
    }

    fn s(text: &str) -> Option<Value> {
        Some(Value::StringValue(text.into()))
    }

    /// Two resources, scopes with attributes, spans with every kind of value, events and links.
    fn request() -> ExportTraceServiceRequest {
        let span = |n: u8| Span {
            trace_id: (n..n + 16).collect(),
            span_id: vec![n; 8],
            parent_span_id: if n == 1 { Vec::new() } else { vec![1; 8] },
            trace_state: "ot=th:8".into(),
            name: format!("span {n}"),
            kind: 3,
            start_time_unix_nano: 1_000 + u64::from(n),
            end_time_unix_nano: 2_000 + u64::from(n),
            attributes: vec![
                kv("email", s("ann@example.com")),
                kv("empty", s("")),
                kv("int", Some(Value::IntValue(-7))),
                kv("double", Some(Value::DoubleValue(1.5))),
                kv("bool", Some(Value::BoolValue(true))),
                kv("bytes", Some(Value::BytesValue(vec![0, 1, 2]))),
                kv("none", None),
                kv(
                    "array",
                    Some(Value::ArrayValue(ArrayValue {
                        values: vec![AnyValue { value: s("in") }],
                    })),
                ),
                kv("after", s("tail")),
            ],
            dropped_attributes_count: 4,
            events: vec![
                span::Event {
                    time_unix_nano: 1_500,
                    name: "exception".into(),
                    attributes: vec![kv("exception.message", s("bad ann@example.com"))],
                    dropped_attributes_count: 1,
                },
                span::Event {
                    name: "retry".into(),
                    ..Default::default()
                },
            ],
            dropped_events_count: 2,
            links: vec![span::Link {
                trace_id: vec![9; 16],
                span_id: vec![8; 8],
                trace_state: "k=v".into(),
                attributes: vec![kv("link.kind", s("follows"))],
                dropped_attributes_count: 5,
                flags: 0x301,
            }],
            dropped_links_count: 3,
            status: Some(Status {
                message: "card declined".into(),
                code: 2,
            }),
            flags: 0x101,
        };
        let resource = |service: &str, spans: Vec<Span>| ResourceSpans {
            resource: Some(Resource {
                attributes: vec![kv("service.name", s(service))],
                dropped_attributes_count: 6,
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "lib".into(),
                    version: "1.2".into(),
                    attributes: vec![kv("scope.attr", s("x"))],
                    dropped_attributes_count: 7,
                }),
                spans,
                schema_url: "https://scope".into(),
            }],
            schema_url: "https://resource".into(),
        };
        ExportTraceServiceRequest {
            resource_spans: vec![
                resource("checkout", vec![span(1), span(2)]),
                resource("cart", vec![span(3)]),
            ],
        }
    }

    /// Reads the packed bytes by the offsets the contract guide gives, independently of the
    /// writer above.
    struct Rows<'a>(&'a [u8]);

    impl Rows<'_> {
        fn u32(&self, at: usize) -> u32 {
            u32::from_le_bytes(self.0[at..at + 4].try_into().unwrap())
        }
        fn u64(&self, at: usize) -> u64 {
            u64::from_le_bytes(self.0[at..at + 8].try_into().unwrap())
        }
        fn slice(&self, at: usize) -> Slice {
            Slice {
                offset: self.u32(at),
                len: self.u32(at + 4),
            }
        }
        fn range(&self, at: usize) -> Range {
            Range {
                start: self.u32(at),
                len: self.u32(at + 4),
            }
        }
        fn id(&self, at: usize) -> TraceId {
            TraceId {
                high: u64::from_be_bytes(self.0[at..at + 8].try_into().unwrap()),
                low: u64::from_be_bytes(self.0[at + 8..at + 16].try_into().unwrap()),
            }
        }
    }

    #[test]
    fn a_view_rebuilt_in_used_storage_is_the_view_built_from_nothing() {
        let big = request();
        let mut small = request();
        small.resource_spans.truncate(1);
        small.resource_spans[0].scope_spans[0].spans.truncate(1);
        small.resource_spans[0].scope_spans[0].spans[0]
            .attributes
            .truncate(2);
        let packed = Interest {
            span_fields: SpanFields::all(),
            ..full_interest()
        };
        let mut view = empty_view();
        // Bigger then smaller, packed then records and back: nothing of the previous view
        // (rows, nested values, keys, arena bytes) may show through.
        for (request, interest) in [
            (&big, &packed),
            (&small, &packed),
            (&big, &full_interest()),
            (&small, &full_interest()),
            (&big, &packed),
            (&small, &no_interest()),
            (&small, &packed),
        ] {
            build_view_into(&Traces::from_request(request), interest, &mut view);
            assert!(view == build_view(&Traces::from_request(request), interest));
        }
    }

    #[test]
    fn the_packed_rows_hold_exactly_what_the_records_hold() {
        let request = request();
        let records = build_view(&Traces::from_request(&request), &full_interest());
        let mut interest = full_interest();
        interest.span_fields |= SpanFields::PACKED;
        let packed = build_view(&Traces::from_request(&request), &interest);
        assert!(records.packed.is_empty());
        assert_eq!(
            (packed.keys.clone(), packed.arena.clone()),
            (records.keys.clone(), records.arena.clone())
        );
        assert!(packed.spans.is_empty() && packed.events.is_empty() && packed.links.is_empty());
        assert!(packed.resources.is_empty() && packed.scopes.is_empty());
        assert_eq!(view_span_count(&packed), 3);
        assert_eq!(view_span_count(&records), 3);

        let rows = Rows(&packed.packed);
        let counts: Vec<u32> = (0..8).map(|i| rows.u32(i * 4)).collect();
        assert_eq!(
            counts,
            [
                LAYOUT_VERSION,
                records.resources.len() as u32,
                records.scopes.len() as u32,
                records.spans.len() as u32,
                records.events.len() as u32,
                records.links.len() as u32,
                records.attributes.len() as u32,
                0
            ]
        );
        let mut at = HEADER_BYTES;
        for r in &records.resources {
            assert_eq!(rows.range(at), r.attributes);
            assert_eq!(rows.u32(at + 8), r.dropped_attributes_count);
            assert_eq!(rows.slice(at + 12), r.schema_url);
            at += RESOURCE_ROW;
        }
        for sc in &records.scopes {
            assert_eq!(rows.u32(at), sc.resource);
            assert_eq!(
                (rows.slice(at + 4), rows.slice(at + 12)),
                (sc.name, sc.version)
            );
            assert_eq!(rows.range(at + 20), sc.attributes);
            assert_eq!(rows.u32(at + 28), sc.dropped_attributes_count);
            assert_eq!(rows.slice(at + 32), sc.schema_url);
            at += SCOPE_ROW;
        }
        for sp in &records.spans {
            assert_eq!(rows.id(at), sp.trace_id);
            assert_eq!(
                u64::from_be_bytes(rows.0[at + 16..at + 24].try_into().unwrap()),
                sp.span_id
            );
            assert_eq!(
                u64::from_be_bytes(rows.0[at + 24..at + 32].try_into().unwrap()),
                sp.parent_span_id
            );
            assert_eq!(
                (rows.u64(at + 32), rows.u64(at + 40)),
                (sp.start_time_unix_nano, sp.end_time_unix_nano)
            );
            assert_eq!(rows.u32(at + 48), sp.scope);
            assert_eq!(rows.u32(at + 52), sp.kind as u32);
            assert_eq!(rows.u32(at + 56), sp.status.code as u32);
            assert_eq!(rows.u32(at + 60), sp.flags);
            assert_eq!(rows.slice(at + 64), sp.name);
            assert_eq!(rows.slice(at + 72), sp.trace_state);
            assert_eq!(rows.slice(at + 80), sp.status.message);
            assert_eq!(rows.range(at + 88), sp.attributes);
            assert_eq!(rows.range(at + 96), sp.events);
            assert_eq!(rows.range(at + 104), sp.links);
            let dropped = (rows.u32(at + 112), rows.u32(at + 116), rows.u32(at + 120));
            assert_eq!(
                dropped,
                (
                    sp.dropped_attributes_count,
                    sp.dropped_events_count,
                    sp.dropped_links_count
                )
            );
            at += SPAN_ROW;
        }
        assert_eq!(records.spans[0].kind, SpanKind::Client);
        assert_eq!(
            rows.u32(HEADER_BYTES + 2 * RESOURCE_ROW + 2 * SCOPE_ROW + 52),
            3,
            "client"
        );
        assert_eq!(records.spans[0].status.code, StatusCode::Error);
        for (e, ev) in records.events.iter().enumerate() {
            assert_eq!(rows.u64(at), ev.time_unix_nano);
            assert_eq!(rows.u32(at + 8), e as u32 / 2, "owning span");
            assert_eq!(rows.slice(at + 12), ev.name);
            assert_eq!(rows.range(at + 20), ev.attributes);
            assert_eq!(rows.u32(at + 28), ev.dropped_attributes_count);
            at += EVENT_ROW;
        }
        for (l, link) in records.links.iter().enumerate() {
            assert_eq!(rows.id(at), link.trace_id);
            assert_eq!(
                u64::from_be_bytes(rows.0[at + 16..at + 24].try_into().unwrap()),
                link.span_id
            );
            assert_eq!(rows.u32(at + 24), l as u32, "owning span");
            assert_eq!(rows.slice(at + 28), link.trace_state);
            assert_eq!(rows.range(at + 36), link.attributes);
            assert_eq!(
                (rows.u32(at + 44), rows.u32(at + 48)),
                (link.dropped_attributes_count, link.flags)
            );
            at += LINK_ROW;
        }
        let mut previous_offset = 0;
        for (i, attribute) in records.attributes.iter().enumerate() {
            assert_eq!(rows.u32(at), attribute.key);
            let (kind, owner_kind, owner) = (rows.0[at + 4], rows.0[at + 5], rows.u32(at + 8));
            let slice = rows.slice(at + 12);
            let scalar = rows.u64(at + 24);
            assert!(slice.offset >= previous_offset, "offsets never decrease");
            previous_offset = slice.offset;
            match &attribute.value {
                ValueView::Str(s) | ValueView::Bytes(s) if s.len > 0 => assert_eq!(slice, *s),
                ValueView::Str(_) | ValueView::Empty => assert_eq!(slice.len, 0),
                ValueView::Int(v) => assert_eq!((kind, scalar as i64), (3, *v)),
                ValueView::Double(v) => assert_eq!((kind, f64::from_bits(scalar)), (4, *v)),
                ValueView::Boolean(v) => assert_eq!((kind, scalar), (2, u64::from(*v))),
                ValueView::Nested(_) => {
                    assert_eq!(kind, 6);
                    assert_eq!(packed.attributes[scalar as usize], *attribute);
                }
                ValueView::Bytes(_) => unreachable!("the fixture's bytes are not empty"),
            }
            // The owner's range holds this attribute.
            let holds = |range: Range| (range.start..range.start + range.len).contains(&(i as u32));
            assert!(match owner_kind {
                0 => holds(records.resources[owner as usize].attributes),
                1 => holds(records.scopes[owner as usize].attributes),
                2 => holds(records.spans[owner as usize].attributes),
                3 => holds(records.events[owner as usize].attributes),
                4 => holds(records.links[owner as usize].attributes),
                other => panic!("owner kind {other}"),
            });
            at += ATTRIBUTE_ROW;
        }
        assert_eq!(at, packed.packed.len());
        assert_eq!(packed.attributes.len(), 3, "one nested value per span");
    }

    #[test]
    fn a_narrow_interest_packs_empty_fields_and_only_the_selected_attributes() {
        let interest = Interest {
            span_fields: SpanFields::PACKED,
            span_attributes: AttributeSelection::Keys(vec!["email".into()]),
            ..no_interest()
        };
        let packed = build_view(&Traces::from_request(&request()), &interest);
        let rows = Rows(&packed.packed);
        assert_eq!(
            (rows.u32(12), rows.u32(16), rows.u32(20), rows.u32(24)),
            (3, 0, 0, 3)
        );
        let first_span = HEADER_BYTES + 2 * RESOURCE_ROW + 2 * SCOPE_ROW;
        assert_eq!(
            rows.id(first_span),
            TraceId { high: 0, low: 0 },
            "ids not asked for"
        );
        assert_eq!(rows.slice(first_span + 64).len, 0, "name not asked for");
        let attribute = first_span + 3 * SPAN_ROW;
        let value = rows.slice(attribute + 12);
        let at = value.offset as usize;
        assert_eq!(
            &packed.arena[at..at + value.len as usize],
            b"ann@example.com"
        );
        assert_eq!(packed.packed.len(), attribute + 3 * ATTRIBUTE_ROW);
    }
}
