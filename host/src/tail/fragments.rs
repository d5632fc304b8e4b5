//! Splitting requests into per-trace fragments, and joining traces back into one request.

use std::collections::HashMap;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};

use super::buffer::{DecodedTrace, TraceKey};
use crate::runtime::bindings::Range as TraceRange;

/// One trace's spans from one resource and scope of a request.
#[derive(Debug, Clone, PartialEq)]
pub struct Fragment {
    /// The trace.
    pub key: TraceKey,
    /// The spans, with a copy of their resource and scope.
    pub resource_spans: ResourceSpans,
    /// How many spans.
    pub spans: usize,
}

/// The key of a trace id (ids of another length, which receivers refuse, are zero-padded).
pub fn trace_key(trace_id: &[u8]) -> TraceKey {
    let mut key = [0u8; 16];
    let n = trace_id.len().min(16);
    key[..n].copy_from_slice(&trace_id[..n]);
    key
}

/// Splits `request` into fragments, one per trace per scope, keeping span order within each.
pub fn split_by_trace(request: ExportTraceServiceRequest) -> Vec<Fragment> {
    let mut fragments = Vec::new();
    for resource_spans in request.resource_spans {
        let ResourceSpans {
            resource,
            scope_spans,
            schema_url,
        } = resource_spans;
        for scope_spans in scope_spans {
            let ScopeSpans {
                scope,
                spans,
                schema_url: scope_schema_url,
            } = scope_spans;
            let mut groups: Vec<(TraceKey, Vec<Span>)> = Vec::new();
            let mut index: HashMap<TraceKey, usize> = HashMap::new();
            for span in spans {
                let key = trace_key(&span.trace_id);
                let slot = *index.entry(key).or_insert_with(|| {
                    groups.push((key, Vec::new()));
                    groups.len() - 1
                });
                groups[slot].1.push(span);
            }
            for (key, spans) in groups {
                fragments.push(Fragment {
                    key,
                    spans: spans.len(),
                    resource_spans: ResourceSpans {
                        resource: resource.clone(),
                        scope_spans: vec![ScopeSpans {
                            scope: scope.clone(),
                            spans,
                            schema_url: scope_schema_url.clone(),
                        }],
                        schema_url: schema_url.clone(),
                    },
                });
            }
        }
    }
    fragments
}

/// Joins traces into one request whose spans are grouped by trace, in order, and returns the
/// range of the request's spans (in view order) each trace occupies.
pub fn join_traces(traces: &mut [DecodedTrace]) -> (ExportTraceServiceRequest, Vec<TraceRange>) {
    let mut resource_spans = Vec::new();
    let mut ranges = Vec::with_capacity(traces.len());
    let mut start = 0u32;
    for trace in traces {
        ranges.push(TraceRange {
            start,
            len: trace.spans as u32,
        });
        start += trace.spans as u32;
        resource_spans.append(&mut trace.fragments);
    }
    (ExportTraceServiceRequest { resource_spans }, ranges)
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::resource::v1::Resource;

    fn span(trace: u8, id: u8) -> Span {
        Span {
            trace_id: vec![trace; 16],
            span_id: vec![id; 8],
            name: format!("span {id}"),
            ..Default::default()
        }
    }

    #[test]
    fn splits_by_trace_keeping_resource_scope_and_order() {
        let request = ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: Some(Resource::default()),
                scope_spans: vec![ScopeSpans {
                    spans: vec![span(1, 1), span(2, 2), span(1, 3)],
                    ..Default::default()
                }],
                schema_url: "s".into(),
            }],
        };
        let fragments = split_by_trace(request);
        assert_eq!(fragments.len(), 2);
        assert_eq!(fragments[0].key, [1; 16]);
        assert_eq!(fragments[0].spans, 2);
        let names: Vec<_> = fragments[0].resource_spans.scope_spans[0]
            .spans
            .iter()
            .map(|s| s.name.as_str())
            .collect();
        assert_eq!(names, ["span 1", "span 3"]);
        assert_eq!(fragments[1].key, [2; 16]);
        assert_eq!(fragments[1].resource_spans.schema_url, "s");
        assert!(fragments[1].resource_spans.resource.is_some());
    }
}
