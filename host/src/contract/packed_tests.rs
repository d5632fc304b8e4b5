//! Tests of `packed.rs`.

use super::*;
use crate::contract::bindings::{AttributeSelection, Interest, SpanFields, SpanKind, StatusCode};
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
