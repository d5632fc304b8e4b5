//! The host's packed layout read back by the Rust SDK: every Rust processor receives its view
//! packed and unpacked in the guest, so the two must agree on every field of every table.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, InstrumentationScope, KeyValue,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status, span};
use weft::contract::bindings::SpanFields;
use weft::contract::{build_view, full_interest};

fn kv(key: &str, value: Option<Value>) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value }),
        ..Default::default()
    }
}

/// Two resources, scope attributes, spans with every kind of value, events and links.
fn request() -> ExportTraceServiceRequest {
    let span = |n: u8| Span {
        trace_id: (n..n + 16).collect(),
        span_id: vec![n; 8],
        parent_span_id: if n == 1 { Vec::new() } else { vec![1; 8] },
        trace_state: "ot=th:8".into(),
        name: format!("span {n}"),
        kind: i32::from(n % 6),
        start_time_unix_nano: 1_000 + u64::from(n),
        end_time_unix_nano: u64::MAX - u64::from(n),
        attributes: vec![
            kv("email", Some(Value::StringValue("ann@example.com".into()))),
            kv("empty", Some(Value::StringValue(String::new()))),
            kv("int", Some(Value::IntValue(-7 - i64::from(n)))),
            kv("double", Some(Value::DoubleValue(1.5))),
            kv("bool", Some(Value::BoolValue(n.is_multiple_of(2)))),
            kv("bytes", Some(Value::BytesValue(vec![0, 1, n]))),
            kv("none", None),
            kv(
                "array",
                Some(Value::ArrayValue(ArrayValue {
                    values: vec![AnyValue {
                        value: Some(Value::StringValue(format!("in {n}"))),
                    }],
                })),
            ),
        ],
        dropped_attributes_count: u32::from(n),
        events: vec![
            span::Event {
                time_unix_nano: 1_500,
                name: "exception".into(),
                attributes: vec![kv(
                    "exception.message",
                    Some(Value::StringValue("bad".into())),
                )],
                dropped_attributes_count: 1,
            },
            span::Event::default(),
        ],
        dropped_events_count: 2,
        links: vec![span::Link {
            trace_id: vec![9; 16],
            span_id: vec![8; 8],
            trace_state: "k=v".into(),
            attributes: vec![kv("link.kind", Some(Value::StringValue("follows".into())))],
            dropped_attributes_count: 5,
            flags: 0x301,
        }],
        dropped_links_count: 3,
        status: Some(Status {
            message: "card declined".into(),
            code: i32::from(n % 3),
        }),
        flags: 0x101,
    };
    let resource = |service: &str, spans: Vec<Span>| ResourceSpans {
        resource: Some(Resource {
            attributes: vec![kv("service.name", Some(Value::StringValue(service.into())))],
            dropped_attributes_count: 4,
            ..Default::default()
        }),
        scope_spans: vec![ScopeSpans {
            scope: Some(InstrumentationScope {
                name: "lib".into(),
                version: "1.0".into(),
                attributes: vec![kv("scope.attr", Some(Value::IntValue(3)))],
                dropped_attributes_count: 6,
            }),
            spans,
            schema_url: "https://opentelemetry.io/schemas/1.24.0".into(),
        }],
        schema_url: "https://opentelemetry.io/schemas/1.21.0".into(),
    };
    ExportTraceServiceRequest {
        resource_spans: vec![
            resource("checkout", (1..=6).map(span).collect()),
            resource("cart", vec![span(7)]),
        ],
    }
}

#[test]
fn the_sdk_reads_back_exactly_the_records_the_host_packed() {
    let request = request();
    let records = build_view(
        &weft::pdata::Traces::from_request(&request),
        &full_interest(),
    );
    let packed = packed_view(&request);
    assert!(packed.spans.is_empty() && !packed.packed.is_empty());
    assert!(
        packed.attributes.len() == 7,
        "one nested value per span stays a record: {}",
        packed.attributes.len()
    );
    // The host's and the SDK's bindings are different Rust types of the same WIT records;
    // their debug forms name every field and variant the same way.
    let mut unpacked = as_sdk_batch(&packed);
    weft_sdk::__private::unpack(&mut unpacked).unwrap();
    assert!(unpacked.packed.is_empty());
    assert_eq!(unpacked.spans.len(), 7);
    assert_eq!(unpacked.attributes.len(), records.attributes.len());
    macro_rules! same_tables {
        ($($table:ident),*) => {$(
            assert_eq!(
                format!("{:?}", records.$table),
                format!("{:?}", unpacked.$table),
                concat!(stringify!($table), " differ")
            );
        )*};
    }
    same_tables!(resources, scopes, spans, events, links, attributes, keys);
}

#[test]
fn the_sdk_refuses_a_packed_layout_it_does_not_know() {
    let packed = as_sdk_batch(&packed_view(&request()));
    let batch = |bytes: Vec<u8>| weft_sdk::Batch {
        packed: bytes,
        ..packed.clone()
    };
    let mut newer = packed.packed.clone();
    newer[0] = 2;
    let error = weft_sdk::__private::unpack(&mut batch(newer)).unwrap_err();
    assert!(error.contains("version 2"), "{error}");
    let mut truncated = packed.packed.clone();
    truncated.truncate(truncated.len() - 1);
    let error = weft_sdk::__private::unpack(&mut batch(truncated)).unwrap_err();
    assert!(error.contains("attribute table"), "{error}");
}

/// The host's view of `request` for a processor reading everything, packed.
fn packed_view(request: &ExportTraceServiceRequest) -> weft::contract::bindings::Batch {
    let mut interest = full_interest();
    interest.span_fields |= SpanFields::PACKED;
    build_view(&weft::pdata::Traces::from_request(request), &interest)
}

/// A packed host view in the SDK's types, as it reaches a Rust guest: keys, arena, the packed
/// rows, and the nested values that stay records.
fn as_sdk_batch(packed: &weft::contract::bindings::Batch) -> weft_sdk::Batch {
    let attributes = packed
        .attributes
        .iter()
        .map(|nested| {
            let weft::contract::bindings::ValueView::Nested(nodes) = &nested.value else {
                panic!("only nested values stay records: {nested:?}");
            };
            weft_sdk::AttributeView {
                key: nested.key,
                value: weft_sdk::ValueView::Nested(nodes.iter().map(sdk_node).collect()),
            }
        })
        .collect();
    weft_sdk::Batch {
        keys: packed.keys.clone(),
        arena: packed.arena.clone(),
        attributes,
        events: Vec::new(),
        links: Vec::new(),
        resources: Vec::new(),
        scopes: Vec::new(),
        spans: Vec::new(),
        packed: packed.packed.clone(),
    }
}

/// A host node view in the SDK's type.
fn sdk_node(node: &weft::contract::bindings::NodeView) -> weft_sdk::NodeView {
    use weft::contract::bindings::NodeView as Host;
    use weft_sdk::NodeView as Sdk;
    let slice = |s: &weft::contract::bindings::Slice| weft_sdk::Slice {
        offset: s.offset,
        len: s.len,
    };
    match node {
        Host::Empty => Sdk::Empty,
        Host::Str(s) => Sdk::Str(slice(s)),
        Host::Boolean(b) => Sdk::Boolean(*b),
        Host::Int(i) => Sdk::Int(*i),
        Host::Double(d) => Sdk::Double(*d),
        Host::Bytes(s) => Sdk::Bytes(slice(s)),
        Host::Array(items) => Sdk::Array(items.clone()),
        Host::Kvlist(entries) => Sdk::Kvlist(entries.iter().map(|(k, v)| (slice(k), *v)).collect()),
    }
}
