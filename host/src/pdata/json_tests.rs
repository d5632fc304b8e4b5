use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList, any_value::Value,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::{Event, Link};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use prost::Message as _;

use crate::pdata::Traces;

fn value(value: Value) -> Option<AnyValue> {
    Some(AnyValue { value: Some(value) })
}

fn attribute(key: &str, v: Value) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: value(v),
        ..Default::default()
    }
}

/// A request with every kind of field and value OTLP/JSON treats specially; its fifth
/// attribute is `odd_double`.
fn rich_request_with(odd_double: f64) -> ExportTraceServiceRequest {
    let attributes = vec![
        attribute(
            "text",
            Value::StringValue("quote \" and \\ and é and \n".into()),
        ),
        attribute("yes", Value::BoolValue(true)),
        attribute("negative", Value::IntValue(-9_007_199_254_740_993)),
        attribute("ratio", Value::DoubleValue(0.25)),
        attribute("odd double", Value::DoubleValue(odd_double)),
        attribute("blob", Value::BytesValue(vec![0, 255, 16, 7])),
        attribute(
            "list",
            Value::ArrayValue(ArrayValue {
                values: vec![AnyValue::default(), value(Value::IntValue(3)).unwrap()],
            }),
        ),
        attribute(
            "map",
            Value::KvlistValue(KeyValueList {
                values: vec![attribute("inner", Value::StringValue("x".into()))],
            }),
        ),
        KeyValue {
            key: "no value".into(),
            ..Default::default()
        },
    ];
    let span = Span {
        trace_id: (1..=16).collect(),
        span_id: (1..=8).collect(),
        parent_span_id: vec![9; 8],
        trace_state: "a=b".into(),
        name: "GET /".into(),
        kind: 2,
        start_time_unix_nano: u64::MAX - 1,
        end_time_unix_nano: 1_700_000_000_000_000_001,
        attributes,
        dropped_attributes_count: 3,
        events: vec![Event {
            time_unix_nano: 5,
            name: "exception".into(),
            attributes: vec![attribute("k", Value::StringValue("v".into()))],
            dropped_attributes_count: 1,
        }],
        dropped_events_count: 4,
        links: vec![Link {
            trace_id: vec![7; 16],
            span_id: vec![8; 8],
            trace_state: "c=d".into(),
            attributes: vec![],
            dropped_attributes_count: 0,
            flags: 0x301,
        }],
        dropped_links_count: 2,
        status: Some(Status {
            message: "boom".into(),
            code: 2,
        }),
        flags: 0x101,
    };
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![attribute("service.name", Value::StringValue("shop".into()))],
                dropped_attributes_count: 1,
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "lib".into(),
                    version: "1.2".into(),
                    ..Default::default()
                }),
                spans: vec![span.clone(), Span::default()],
                schema_url: "https://opentelemetry.io/schemas/1.30.0".into(),
            }],
            schema_url: "resource schema".into(),
        }],
    }
}

fn rich_request() -> ExportTraceServiceRequest {
    rich_request_with(-1.5e300)
}

/// What the OTLP/JSON receiver reads back from `json`.
fn read_back(json: &[u8]) -> ExportTraceServiceRequest {
    serde_json::from_slice(json).unwrap_or_else(|e| {
        panic!("{e}: {}", String::from_utf8_lossy(json));
    })
}

#[test]
fn what_is_written_reads_back_as_the_same_request() {
    let request = rich_request();
    let mut json = Vec::new();
    Traces::from_request(&request).write_json(&mut json);
    assert_eq!(read_back(&json), request);
}

#[test]
fn ids_are_hex_64_bit_integers_strings_and_defaults_left_out() {
    let mut json = Vec::new();
    Traces::from_request(&rich_request_with(f64::NAN)).write_json(&mut json);
    let value: serde_json::Value = serde_json::from_slice(&json).unwrap();
    let spans = &value["resourceSpans"][0]["scopeSpans"][0]["spans"];
    let span = &spans[0];
    assert_eq!(span["traceId"], "0102030405060708090a0b0c0d0e0f10");
    assert_eq!(span["parentSpanId"], "0909090909090909");
    assert_eq!(span["startTimeUnixNano"], "18446744073709551614");
    assert_eq!(span["kind"], 2);
    assert_eq!(span["flags"], 0x101);
    assert_eq!(span["status"]["code"], 2);
    assert_eq!(
        span["links"][0]["traceId"],
        "07070707070707070707070707070707"
    );
    let attributes = span["attributes"].as_array().unwrap();
    assert_eq!(attributes[2]["value"]["intValue"], "-9007199254740993");
    // As proto3 JSON writes it (the receiver's JSON reader does not take it back yet).
    assert_eq!(attributes[4]["value"]["doubleValue"], "NaN");
    assert_eq!(attributes[5]["value"]["bytesValue"], "AP8QBw==");
    assert_eq!(
        spans[1],
        serde_json::json!({}),
        "an empty span has no fields"
    );
}

#[test]
fn an_edited_batch_is_written_as_edited() {
    let mut batch = Traces::from_request(&rich_request());
    batch.set_span_name(0, "renamed");
    batch.drop_span(1);
    let mut json = Vec::new();
    batch.write_json(&mut json);
    let back = read_back(&json);
    let spans = &back.resource_spans[0].scope_spans[0].spans;
    assert_eq!(spans.len(), 1);
    assert_eq!(spans[0].name, "renamed");
}

#[test]
fn repeated_fields_split_on_the_wire_become_one_array() {
    // Two attributes with an unknown field between them, and a singular field sent twice.
    let mut span = Vec::new();
    let kv = |key: &str| attribute(key, Value::BoolValue(true)).encode_to_vec();
    crate::pdata::wire::put_bytes(&mut span, 9, &kv("a"));
    crate::pdata::wire::put_varint_field(&mut span, 99, 1);
    crate::pdata::wire::put_bytes(&mut span, 5, b"first");
    crate::pdata::wire::put_bytes(&mut span, 9, &kv("b"));
    crate::pdata::wire::put_bytes(&mut span, 5, b"last");
    let mut json = Vec::new();
    super::write_message(crate::pdata::schema::Message::Span, &span, &mut json);
    let value: serde_json::Value = serde_json::from_slice(&json).unwrap();
    assert_eq!(value["name"], "last");
    let keys: Vec<_> = value["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|kv| kv["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["a", "b"]);
}
