use std::sync::Arc;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::InstrumentationScope;
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;

use super::{TraceFragment, join_fragments};
use crate::pdata::Traces;
use crate::pdata::traces::patch::{AttributesOf, string_value};

fn span(trace: u8, id: u8) -> Span {
    Span {
        trace_id: vec![trace; 16],
        span_id: vec![id; 8],
        name: format!("span {id}"),
        ..Default::default()
    }
}

fn scope(name: &str, spans: Vec<Span>) -> ScopeSpans {
    ScopeSpans {
        scope: Some(InstrumentationScope {
            name: name.into(),
            ..Default::default()
        }),
        spans,
        schema_url: format!("scope {name}"),
    }
}

fn request(scopes: Vec<ScopeSpans>) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource::default()),
            scope_spans: scopes,
            schema_url: "resource schema".into(),
        }],
    }
}

fn split(request: &ExportTraceServiceRequest) -> Vec<TraceFragment> {
    Traces::from_request(request)
        .split_by_trace(&Default::default())
        .unwrap()
}

fn joined(fragments: &[TraceFragment]) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest::decode(join_fragments(fragments).as_slice()).unwrap()
}

fn names(request: &ExportTraceServiceRequest) -> Vec<Vec<&str>> {
    request
        .resource_spans
        .iter()
        .flat_map(|rs| &rs.scope_spans)
        .map(|ss| ss.spans.iter().map(|s| s.name.as_str()).collect())
        .collect()
}

#[test]
fn splits_by_trace_keeping_span_order_and_sharing_the_origin() {
    let fragments = split(&request(vec![scope(
        "a",
        vec![span(1, 1), span(2, 2), span(1, 3)],
    )]));
    let summary: Vec<_> = fragments.iter().map(|f| (f.trace_id[0], f.count)).collect();
    assert_eq!(summary, [(1, 2), (2, 1)]);
    assert!(Arc::ptr_eq(&fragments[0].origin, &fragments[1].origin));
    assert_eq!(names(&joined(&fragments[..1])), [["span 1", "span 3"]]);
    let second = joined(&fragments[1..]);
    assert_eq!(second.resource_spans[0].schema_url, "resource schema");
    assert_eq!(
        second.resource_spans[0].scope_spans[0].schema_url,
        "scope a"
    );
}

#[test]
fn scopes_of_one_resource_share_its_bytes() {
    let fragments = split(&request(vec![
        scope("a", vec![span(1, 1), span(2, 2)]),
        scope("b", vec![span(1, 3)]),
    ]));
    assert_eq!(fragments.len(), 3);
    assert!(!Arc::ptr_eq(&fragments[0].origin, &fragments[2].origin));
    assert!(Arc::ptr_eq(
        &fragments[0].origin.resource,
        &fragments[2].origin.resource
    ));
}

#[test]
fn joining_every_fragment_gives_back_the_request_grouped_by_trace() {
    let original = request(vec![
        scope("a", vec![span(1, 1), span(2, 2), span(1, 3)]),
        scope("b", vec![span(2, 4)]),
    ]);
    let fragments = split(&original);
    // In split order: one resource, scope a once (trace 1's spans, then trace 2's), scope b.
    let all = joined(&fragments);
    assert_eq!(all.resource_spans.len(), 1);
    assert_eq!(
        names(&all),
        [vec!["span 1", "span 3", "span 2"], vec!["span 4"]]
    );
    // Grouped by trace: trace 1 (scope a), then trace 2 (scope a, then b).
    let by_trace: Vec<&TraceFragment> = [1u8, 2]
        .iter()
        .flat_map(|t| fragments.iter().filter(move |f| f.trace_id[0] == *t))
        .collect();
    let grouped = ExportTraceServiceRequest::decode(join_fragments(by_trace).as_slice()).unwrap();
    assert_eq!(
        names(&grouped),
        [vec!["span 1", "span 3", "span 2"], vec!["span 4"]]
    );
    assert_eq!(
        grouped.resource_spans[0].scope_spans[1].schema_url,
        "scope b"
    );
}

#[test]
fn fragments_carry_unknown_fields_of_resource_and_scope_as_they_came() {
    let mut bytes = request(vec![scope("a", vec![span(1, 1)])]).encode_to_vec();
    // Append an unknown field (number 9, varint 7) to the ResourceSpans: a new length.
    let resource_spans = ExportTraceServiceRequest::decode(bytes.as_slice()).unwrap();
    let mut inner = resource_spans.resource_spans[0].encode_to_vec();
    inner.extend_from_slice(&[9 << 3, 7]);
    bytes.clear();
    crate::pdata::wire::put_bytes(&mut bytes, 1, &inner);
    let fragments = Traces::decode(bytes.clone().into())
        .unwrap()
        .split_by_trace(&Default::default())
        .unwrap();
    assert!(fragments[0].origin.resource.ends_with(&[9 << 3, 7]));
    let joined = join_fragments(&fragments);
    // The same fields (the scopes now last in the resource), so the same length and content.
    assert_eq!(joined.len(), bytes.len());
    assert_eq!(
        ExportTraceServiceRequest::decode(joined.as_slice()).unwrap(),
        resource_spans
    );
}

#[test]
fn an_edited_batch_splits_as_its_edits_left_it() {
    let mut batch = Traces::from_request(&request(vec![scope("a", vec![span(1, 1), span(2, 2)])]));
    batch.set_span_name(0, "renamed");
    let attribute = batch.append_key_value("k", |out| string_value(out, "v"));
    batch.attributes_mut(AttributesOf::Span(1)).set(attribute);
    batch.drop_span(1);
    let fragments = batch.split_by_trace(&Default::default()).unwrap();
    assert_eq!(fragments.len(), 1);
    assert_eq!(names(&joined(&fragments)), [["renamed"]]);
}
