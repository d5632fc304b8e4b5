//! Tests of `encode.rs`.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, span};
use prost::Message;

use crate::pdata::Traces;

fn span(n: u8) -> Span {
    Span {
        trace_id: vec![n; 16],
        span_id: vec![n; 8],
        name: format!("span {n}"),
        start_time_unix_nano: u64::from(n) * 1000,
        attributes: vec![KeyValue {
            key: "k".into(),
            value: Some(AnyValue {
                value: Some(any_value::Value::StringValue(format!("v{n}"))),
            }),
            ..Default::default()
        }],
        events: vec![span::Event {
            name: "e".into(),
            ..Default::default()
        }],
        ..Default::default()
    }
}

#[test]
fn a_patch_to_one_span_leaves_every_other_span_and_field_as_it_came() {
    let spans: Vec<Span> = (0..3).map(span).collect();
    let request = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans: spans.clone(),
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    let mut batch = Traces::decode(request.encode_to_vec().into()).unwrap();
    batch.set_span_name(1, "renamed");
    let out = batch.encode_to_vec();
    // The other two spans, as they were encoded, are in the output untouched.
    for untouched in [&spans[0], &spans[2]] {
        let bytes = untouched.encode_to_vec();
        assert!(out.windows(bytes.len()).any(|w| w == bytes));
    }
    // The renamed span differs in its name alone.
    let decoded = ExportTraceServiceRequest::decode(out.as_slice()).unwrap();
    let mut expected = request.clone();
    expected.resource_spans[0].scope_spans[0].spans[1].name = "renamed".into();
    assert_eq!(decoded, expected);
}
