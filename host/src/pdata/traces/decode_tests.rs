//! Tests of `decode.rs`.

use super::*;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};

fn span(trace_id: Vec<u8>) -> Span {
    Span {
        trace_id,
        span_id: vec![2; 8],
        name: "GET /".into(),
        ..Default::default()
    }
}

fn request(spans: Vec<Vec<Span>>) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource::default()),
            scope_spans: spans
                .into_iter()
                .map(|spans| ScopeSpans {
                    spans,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }],
    }
}

#[test]
fn indexes_resources_scopes_and_spans_in_request_order() {
    let request = request(vec![
        vec![span(vec![1; 16]), span(vec![1; 16])],
        vec![span(vec![3; 16])],
    ]);
    let traces = Traces::decode(request.encode_to_vec().into()).unwrap();
    assert_eq!(traces.span_count(), 3);
    assert_eq!(traces.indexed_scopes(), 2);
    assert_eq!(traces.spans_of(1), 2..3);
    assert_eq!(traces.scope_of(2), 1);
    assert_eq!(traces.to_request(), request);
}

#[test]
fn an_id_of_the_wrong_length_is_named_by_its_path() {
    let request = request(vec![vec![span(vec![1; 16]), span(vec![1; 5])]]);
    let error = Traces::decode(request.encode_to_vec().into()).unwrap_err();
    assert_eq!(
        error.to_string(),
        "resource_spans[0].scope_spans[0].spans[1].trace_id: expected 16 bytes, got 5"
    );
}

#[test]
fn malformed_protobuf_is_refused_with_where_it_broke() {
    let mut bytes = request(vec![vec![span(vec![1; 16])]]).encode_to_vec();
    bytes.truncate(bytes.len() - 3);
    let error = Traces::decode(bytes.into()).unwrap_err();
    assert_eq!(
        error.to_string(),
        "a field runs past the end of its message"
    );
    // Not UTF-8 in a span name.
    let mut bad = span(vec![1; 16]);
    bad.name = "\u{e9}t\u{e9}".into();
    let mut bytes = request(vec![vec![bad]]).encode_to_vec();
    let at = bytes.windows(2).position(|w| w == [0xc3, 0xa9]).unwrap();
    bytes[at] = 0xff;
    let error = Traces::decode(bytes.into()).unwrap_err().to_string();
    assert_eq!(
        error,
        "resource_spans[0].scope_spans[0].spans[0].name: field 5 is a string that is not valid UTF-8"
    );
}

#[test]
fn a_resource_sent_twice_is_merged_as_prost_merges_it() {
    let mut bytes = request(vec![vec![span(vec![1; 16])]]).encode_to_vec();
    // A second `resource` field appended to the first ResourceSpans: rewrite the outer
    // length and add the field.
    let extra = [0x0a, 0x00];
    let inner_len = bytes[1] as usize + extra.len();
    bytes[1] = inner_len as u8;
    bytes.extend_from_slice(&extra);
    let traces = Traces::decode(bytes.clone().into()).unwrap();
    let expected = ExportTraceServiceRequest::decode(bytes.as_slice()).unwrap();
    assert_eq!(traces.to_request(), expected);
}

#[test]
fn a_group_inside_an_unknown_group_is_skipped_as_prost_skips_it() {
    // Found by the otlp_protobuf fuzz target: an end-group key inside a group was refused.
    let bytes: Vec<u8> = vec![0x73, 0x74, 0x18, 0x01];
    let request = ExportTraceServiceRequest::decode(bytes.as_slice()).unwrap();
    let traces = Traces::decode(bytes.into()).unwrap();
    assert_eq!(traces.to_request(), request);
}

#[test]
fn trusted_bytes_are_indexed_as_the_validating_read_indexes_them() {
    use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
    let mut with_attribute = span(vec![1; 16]);
    with_attribute.attributes.push(KeyValue {
        key: "user.email".into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue("a@b.example".into())),
        }),
        ..Default::default()
    });
    let request = request(vec![
        vec![with_attribute, span(vec![2; 16])],
        vec![span(vec![3; 16])],
    ]);
    let bytes: bytes::Bytes = request.encode_to_vec().into();
    let checked = Traces::decode(bytes.clone()).unwrap();
    let trusted = Traces::decode_trusted(bytes).unwrap();
    assert_eq!(trusted.indexed_spans(), checked.indexed_spans());
    assert_eq!(trusted.indexed_scopes(), checked.indexed_scopes());
    for index in 0..checked.indexed_spans() {
        assert_eq!(trusted.span(index), checked.span(index));
        assert!(
            trusted
                .span_attributes(index)
                .eq(checked.span_attributes(index))
        );
    }
    assert_eq!(trusted.to_request(), request);
}
