//! Splitting requests into per-trace fragments, and joining traces back into one request.
//!
//! A fragment does not own a copy of its resource and scope: every fragment split from one
//! scope of a request points at one shared [`Origin`], and every origin of one resource at
//! one shared resource. A request of one large resource and many traces therefore splits into
//! fragments whose size is that of the request, not of the resource times the traces. Joining
//! regroups adjacent fragments of one origin under one copy of their resource and scope.

use std::collections::HashMap;
use std::sync::Arc;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};

use crate::contract::bindings::Range as TraceRange;

/// A trace id, as the key of buffers and caches.
pub type TraceKey = [u8; 16];

/// A trace taken out of the buffer to be decided.
#[derive(Debug)]
pub struct DecodedTrace {
    /// The trace id.
    pub key: TraceKey,
    /// Its spans as they arrived (one fragment per resource and scope of each request).
    pub fragments: Vec<Fragment>,
    /// How many spans.
    pub spans: usize,
}

/// The resource and scope (with their schema URLs) a fragment's spans came from, shared by
/// every fragment split from the same scope of the same request.
#[derive(Debug, Clone, PartialEq)]
pub struct Origin {
    /// The resource and its schema URL, as a `ResourceSpans` without scopes; shared by the
    /// origins of every scope under it.
    pub resource: Arc<ResourceSpans>,
    /// The scope and its schema URL, as a `ScopeSpans` without spans.
    pub scope: ScopeSpans,
}

/// One trace's spans from one resource and scope of a request.
#[derive(Debug, Clone, PartialEq)]
pub struct Fragment {
    /// The trace.
    pub key: TraceKey,
    /// Where the spans came from, shared with the request's other fragments.
    pub origin: Arc<Origin>,
    /// The spans, in the order they arrived.
    pub spans: Vec<Span>,
}

/// The key of a trace id (ids of another length, which receivers refuse, are zero-padded).
pub fn trace_key(trace_id: &[u8]) -> TraceKey {
    let mut key = [0u8; 16];
    let n = trace_id.len().min(16);
    key[..n].copy_from_slice(&trace_id[..n]);
    key
}

/// Splits `request` into fragments, one per trace per scope, keeping span order within each.
/// Fragments of one scope come out next to each other and share its [`Origin`].
pub fn split_by_trace(request: ExportTraceServiceRequest) -> Vec<Fragment> {
    let mut fragments = Vec::new();
    for resource_spans in request.resource_spans {
        let ResourceSpans {
            resource,
            scope_spans,
            schema_url,
        } = resource_spans;
        let resource = Arc::new(ResourceSpans {
            resource,
            scope_spans: Vec::new(),
            schema_url,
        });
        for scope_spans in scope_spans {
            let ScopeSpans {
                scope,
                spans,
                schema_url,
            } = scope_spans;
            let origin = Arc::new(Origin {
                resource: resource.clone(),
                scope: ScopeSpans {
                    scope,
                    spans: Vec::new(),
                    schema_url,
                },
            });
            for (key, spans) in group_by_trace(spans) {
                fragments.push(Fragment {
                    key,
                    origin: origin.clone(),
                    spans,
                });
            }
        }
    }
    fragments
}

/// `spans` grouped by trace, in order of each trace's first span, keeping span order.
fn group_by_trace(spans: Vec<Span>) -> Vec<(TraceKey, Vec<Span>)> {
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
    groups
}

/// Builds `ResourceSpans` from fragments in order, putting adjacent fragments of one resource
/// (and of one scope) under one copy of it.
#[derive(Debug, Default)]
pub struct Regrouper {
    out: Vec<ResourceSpans>,
    /// The origin of the last fragment pushed.
    last: Option<Arc<Origin>>,
}

impl Regrouper {
    /// Appends `spans` under `origin`.
    pub fn push(&mut self, origin: &Arc<Origin>, spans: Vec<Span>) {
        let last = self.last.replace(origin.clone());
        let same_origin = last.as_ref().is_some_and(|o| Arc::ptr_eq(o, origin));
        let same_resource = last
            .as_ref()
            .is_some_and(|o| Arc::ptr_eq(&o.resource, &origin.resource));
        match self.out.last_mut() {
            Some(resource_spans) if same_resource => {
                add_spans(resource_spans, same_origin, origin, spans);
            }
            _ => {
                let mut resource_spans = (*origin.resource).clone();
                add_spans(&mut resource_spans, false, origin, spans);
                self.out.push(resource_spans);
            }
        }
    }

    /// The `ResourceSpans` built.
    pub fn finish(self) -> Vec<ResourceSpans> {
        self.out
    }
}

/// Adds `spans` of `origin` to `resource_spans`: to its last scope if that is `origin`'s.
fn add_spans(
    resource_spans: &mut ResourceSpans,
    same_origin: bool,
    origin: &Origin,
    mut spans: Vec<Span>,
) {
    match resource_spans.scope_spans.last_mut() {
        Some(scope_spans) if same_origin => scope_spans.spans.append(&mut spans),
        _ => resource_spans.scope_spans.push(ScopeSpans {
            spans,
            ..origin.scope.clone()
        }),
    }
}

/// `fragments` as `ResourceSpans`, adjacent fragments of one origin sharing one copy of it.
pub fn regroup(fragments: impl IntoIterator<Item = Fragment>) -> Vec<ResourceSpans> {
    let mut regrouper = Regrouper::default();
    for fragment in fragments {
        regrouper.push(&fragment.origin, fragment.spans);
    }
    regrouper.finish()
}

/// Joins traces into one request whose spans are grouped by trace, in order, and returns the
/// range of the request's spans (in view order) each trace occupies. The traces' fragments
/// move into the request; adjacent fragments of one origin share one copy of it.
pub fn join_traces(traces: &mut [DecodedTrace]) -> (ExportTraceServiceRequest, Vec<TraceRange>) {
    let mut regrouper = Regrouper::default();
    let mut ranges = Vec::with_capacity(traces.len());
    let mut start = 0u32;
    for trace in traces {
        let mut len = 0u32;
        for fragment in std::mem::take(&mut trace.fragments) {
            len += fragment.spans.len() as u32;
            regrouper.push(&fragment.origin, fragment.spans);
        }
        ranges.push(TraceRange { start, len });
        start += len;
    }
    let request = ExportTraceServiceRequest {
        resource_spans: regrouper.finish(),
    };
    (request, ranges)
}

/// Keeps the spans of a joined `request` for which `keep` (given the index of the span's
/// trace in `ranges`, and the span to edit) says so, and removes scopes and resources left
/// empty. Spans outside every range are removed.
pub fn retain_traces(
    request: &mut ExportTraceServiceRequest,
    ranges: &[TraceRange],
    mut keep: impl FnMut(usize, &mut Span) -> bool,
) {
    let (mut index, mut trace) = (0u64, 0usize);
    let mut keep_span = |span: &mut Span| {
        while ranges
            .get(trace)
            .is_some_and(|r| index >= u64::from(r.start) + u64::from(r.len))
        {
            trace += 1;
        }
        index += 1;
        trace < ranges.len() && keep(trace, span)
    };
    request.resource_spans.retain_mut(|resource_spans| {
        resource_spans.scope_spans.retain_mut(|scope_spans| {
            scope_spans.spans.retain_mut(&mut keep_span);
            !scope_spans.spans.is_empty()
        });
        !resource_spans.scope_spans.is_empty()
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::common::v1::InstrumentationScope;
    use opentelemetry_proto::tonic::resource::v1::Resource;

    fn span(trace: u8, id: u8) -> Span {
        Span {
            trace_id: vec![trace; 16],
            span_id: vec![id; 8],
            name: format!("span {id}"),
            ..Default::default()
        }
    }

    fn names(spans: &[Span]) -> Vec<&str> {
        spans.iter().map(|s| s.name.as_str()).collect()
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
        assert_eq!(names(&fragments[0].spans), ["span 1", "span 3"]);
        assert_eq!(fragments[1].key, [2; 16]);
        assert_eq!(fragments[1].origin.resource.schema_url, "s");
        assert!(fragments[1].origin.resource.resource.is_some());
        assert!(Arc::ptr_eq(&fragments[0].origin, &fragments[1].origin));
    }

    #[test]
    fn a_resource_is_shared_by_its_scopes_and_their_traces() {
        let request = ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: Some(Resource::default()),
                scope_spans: vec![
                    scope("a", vec![span(1, 1), span(2, 2)]),
                    scope("b", vec![span(1, 3)]),
                ],
                schema_url: String::new(),
            }],
        };
        let fragments = split_by_trace(request);
        assert_eq!(fragments.len(), 3);
        assert!(!Arc::ptr_eq(&fragments[0].origin, &fragments[2].origin));
        assert!(Arc::ptr_eq(
            &fragments[0].origin.resource,
            &fragments[2].origin.resource
        ));
        assert_eq!(fragments[2].origin.scope.schema_url, "scope b");
    }

    #[test]
    fn joining_regroups_adjacent_fragments_and_retaining_selects_traces() {
        let request = ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: Some(Resource::default()),
                scope_spans: vec![
                    scope("a", vec![span(1, 1), span(2, 2), span(1, 3)]),
                    scope("b", vec![span(2, 4)]),
                ],
                schema_url: String::new(),
            }],
        };
        let fragments = split_by_trace(request);
        let mut traces: Vec<DecodedTrace> = [[1u8; 16], [2; 16]]
            .into_iter()
            .map(|key| {
                let fragments: Vec<_> =
                    fragments.iter().filter(|f| f.key == key).cloned().collect();
                DecodedTrace {
                    key,
                    spans: fragments.iter().map(|f| f.spans.len()).sum(),
                    fragments,
                }
            })
            .collect();
        let (mut joined, ranges) = join_traces(&mut traces);
        assert_eq!(
            ranges,
            [
                TraceRange { start: 0, len: 2 },
                TraceRange { start: 2, len: 2 }
            ]
        );
        // Trace 1 (scope a), then trace 2 (scope a, then b): one resource, and scope a once.
        assert_eq!(joined.resource_spans.len(), 1);
        let scopes = &joined.resource_spans[0].scope_spans;
        assert_eq!(scopes.len(), 2);
        assert_eq!(names(&scopes[0].spans), ["span 1", "span 3", "span 2"]);
        assert_eq!(scopes[1].schema_url, "scope b");
        assert!(traces.iter().all(|t| t.fragments.is_empty()));
        retain_traces(&mut joined, &ranges, |trace, span| {
            span.name.push_str(" kept");
            trace == 1
        });
        let kept: Vec<_> = joined
            .resource_spans
            .iter()
            .flat_map(|rs| &rs.scope_spans)
            .flat_map(|ss| names(&ss.spans))
            .collect();
        assert_eq!(kept, ["span 2 kept", "span 4 kept"]);
    }
}
