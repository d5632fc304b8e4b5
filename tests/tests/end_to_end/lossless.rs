//! A processor that edits nothing leaves the exported OTLP equal to the received OTLP, for
//! every field OTLP has: nested values, bytes, events, links, non-ASCII text, empty fields.

use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList, any_value::Value,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::{Event, Link};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use weft_tests::client::{grpc_client, post_traces};
use weft_tests::sink::OtlpSink;
use weft_tests::{config_with, fixture, start_weft};

fn v(value: Value) -> Option<AnyValue> {
    Some(AnyValue { value: Some(value) })
}

fn kv(key: &str, value: Option<AnyValue>) -> KeyValue {
    KeyValue {
        key: key.into(),
        value,
        ..Default::default()
    }
}

fn nested() -> Option<AnyValue> {
    let inner = Value::KvlistValue(KeyValueList {
        values: vec![
            kv(
                "deep",
                v(Value::ArrayValue(ArrayValue {
                    values: vec![
                        AnyValue {
                            value: Some(Value::IntValue(-1)),
                        },
                        AnyValue { value: None },
                    ],
                })),
            ),
            kv(
                "empty-list",
                v(Value::ArrayValue(ArrayValue { values: vec![] })),
            ),
            kv(
                "empty-map",
                v(Value::KvlistValue(KeyValueList { values: vec![] })),
            ),
        ],
    });
    v(Value::ArrayValue(ArrayValue {
        values: vec![
            AnyValue {
                value: Some(Value::StringValue("első 🧵 スパン".into())),
            },
            AnyValue { value: Some(inner) },
            AnyValue {
                value: Some(Value::BytesValue(vec![0, 255, 1, 254])),
            },
            AnyValue {
                value: Some(Value::DoubleValue(-0.5)),
            },
            AnyValue {
                value: Some(Value::BoolValue(false)),
            },
        ],
    }))
}

fn id(n: u8, len: usize) -> Vec<u8> {
    (0..len as u8)
        .map(|i| i.wrapping_mul(17).wrapping_add(n))
        .collect()
}

/// A corpus touching every field of the OTLP trace model.
fn corpus() -> ExportTraceServiceRequest {
    let full = Span {
        trace_id: id(1, 16),
        span_id: id(2, 8),
        trace_state: "vendor=a,other=b".into(),
        parent_span_id: id(3, 8),
        flags: 0x301,
        name: "ПОСТ /checkout — 支払い".into(),
        kind: 3,
        start_time_unix_nano: u64::MAX - 5,
        end_time_unix_nano: u64::MAX,
        attributes: vec![
            kv(
                "str",
                v(Value::StringValue("a\"quote\" and \\ backslash\n".into())),
            ),
            kv("empty-str", v(Value::StringValue(String::new()))),
            kv("bool", v(Value::BoolValue(true))),
            kv("int", v(Value::IntValue(i64::MIN))),
            kv("double", v(Value::DoubleValue(1e-300))),
            kv("bytes", v(Value::BytesValue((0..=255).collect()))),
            kv("nested", nested()),
            kv("no-value", None),
            kv("empty-any", Some(AnyValue { value: None })),
            kv("", v(Value::StringValue("empty key".into()))),
        ],
        dropped_attributes_count: 3,
        events: vec![
            Event {
                time_unix_nano: 42,
                name: "exception".into(),
                attributes: vec![
                    kv(
                        "exception.message",
                        v(Value::StringValue("boom for ann@example.com".into())),
                    ),
                    kv("n", nested()),
                ],
                dropped_attributes_count: 1,
            },
            Event::default(),
        ],
        dropped_events_count: 2,
        links: vec![
            Link {
                trace_id: id(9, 16),
                span_id: id(8, 8),
                trace_state: "k=v".into(),
                attributes: vec![kv("link.kind", v(Value::StringValue("follows".into())))],
                dropped_attributes_count: 4,
                flags: 0x101,
            },
            Link {
                trace_id: id(7, 16),
                span_id: id(6, 8),
                ..Default::default()
            },
        ],
        dropped_links_count: 5,
        status: Some(Status {
            code: 2,
            message: "payment declined ✗".into(),
        }),
    };
    let bare = Span {
        trace_id: id(4, 16),
        span_id: id(5, 8),
        ..Default::default()
    };
    ExportTraceServiceRequest {
        resource_spans: vec![
            ResourceSpans {
                resource: Some(Resource {
                    attributes: vec![
                        kv("service.name", v(Value::StringValue("checkout".into()))),
                        kv("host.tags", nested()),
                    ],
                    dropped_attributes_count: 7,
                    entity_refs: vec![],
                }),
                scope_spans: vec![
                    ScopeSpans {
                        scope: Some(InstrumentationScope {
                            name: "io.opentelemetry.http".into(),
                            version: "1.2.3".into(),
                            attributes: vec![kv("scope.attr", v(Value::IntValue(9)))],
                            dropped_attributes_count: 1,
                        }),
                        spans: vec![full.clone(), bare.clone()],
                        schema_url: "https://opentelemetry.io/schemas/1.24.0".into(),
                    },
                    ScopeSpans {
                        scope: None,
                        spans: vec![bare.clone()],
                        schema_url: String::new(),
                    },
                ],
                schema_url: "https://opentelemetry.io/schemas/1.21.0".into(),
            },
            ResourceSpans {
                resource: None,
                scope_spans: vec![ScopeSpans {
                    scope: None,
                    spans: vec![full],
                    schema_url: String::new(),
                }],
                schema_url: String::new(),
            },
        ],
    }
}

const CHAIN: &str = r#"
[[processors]]
name = "reads-everything"
plugin = "PASSTHROUGH"
"#;

async fn exported_after(
    send: impl AsyncFnOnce(std::net::SocketAddr, std::net::SocketAddr),
) -> ExportTraceServiceRequest {
    let sink = OtlpSink::start().await;
    let weft = start_weft(&config_with(
        &CHAIN.replace("PASSTHROUGH", fixture("passthrough")),
        sink.addr(),
    ))
    .await;
    send(weft.grpc_addr().unwrap(), weft.http_addr().unwrap()).await;
    assert_eq!(
        sink.wait_for(4, Duration::from_secs(20)).await,
        4,
        "the corpus has four spans"
    );
    weft.shutdown().await;
    let mut merged = ExportTraceServiceRequest::default();
    for request in sink.requests() {
        merged.resource_spans.extend(request.resource_spans);
    }
    merged
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_round_trip_through_a_full_view_plugin_is_lossless() {
    let exported = exported_after(async |grpc, _| {
        grpc_client(grpc).await.export(corpus()).await.unwrap();
    })
    .await;
    assert_eq!(exported, corpus());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_json_round_trip_through_a_full_view_plugin_is_lossless() {
    let exported = exported_after(async |_, http| {
        let body = serde_json::to_vec(&corpus()).unwrap();
        let response = post_traces(http, &[("content-type", "application/json")], body).await;
        assert_eq!(response.status, 200, "{:?}", response.body);
    })
    .await;
    assert_eq!(exported, corpus());
}
