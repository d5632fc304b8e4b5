//! The smoke batch a plugin must handle before it is allowed to serve.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, InstrumentationScope, KeyValue, any_value::Value,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::Event;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};

fn kv(key: &str, value: Value) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

/// Two ordinary spans (a server span and its failed client child) with attributes of every
/// type and an exception event.
pub fn smoke_request() -> ExportTraceServiceRequest {
    let trace_id: Vec<u8> = (1..=16).collect();
    let server = Span {
        trace_id: trace_id.clone(),
        span_id: vec![1, 2, 3, 4, 5, 6, 7, 8],
        name: "GET /weft/smoke".into(),
        kind: 2,
        start_time_unix_nano: 1_700_000_000_000_000_000,
        end_time_unix_nano: 1_700_000_000_050_000_000,
        attributes: vec![
            kv("http.request.method", Value::StringValue("GET".into())),
            kv("url.path", Value::StringValue("/weft/smoke/42".into())),
            kv("http.response.status_code", Value::IntValue(200)),
            kv("weft.smoke", Value::BoolValue(true)),
            kv("weft.ratio", Value::DoubleValue(0.5)),
            kv("weft.bytes", Value::BytesValue(vec![0, 1, 2])),
            kv(
                "weft.list",
                Value::ArrayValue(ArrayValue {
                    values: vec![AnyValue {
                        value: Some(Value::StringValue("a".into())),
                    }],
                }),
            ),
        ],
        events: vec![Event {
            time_unix_nano: 1_700_000_000_010_000_000,
            name: "exception".into(),
            attributes: vec![kv(
                "exception.message",
                Value::StringValue("smoke test".into()),
            )],
            dropped_attributes_count: 0,
        }],
        status: Some(Status {
            code: 1,
            message: String::new(),
        }),
        ..Default::default()
    };
    let client = Span {
        trace_id,
        span_id: vec![8, 7, 6, 5, 4, 3, 2, 1],
        parent_span_id: vec![1, 2, 3, 4, 5, 6, 7, 8],
        name: "SELECT smoke".into(),
        kind: 3,
        start_time_unix_nano: 1_700_000_000_001_000_000,
        end_time_unix_nano: 1_700_000_000_002_000_000,
        status: Some(Status {
            code: 2,
            message: "smoke error".into(),
        }),
        ..Default::default()
    };
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![kv("service.name", Value::StringValue("weft-smoke".into()))],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "weft".into(),
                    ..Default::default()
                }),
                spans: vec![server, client],
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    }
}
