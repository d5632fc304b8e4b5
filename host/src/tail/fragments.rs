//! Traces as the stage holds them: fragments of request bytes, one per trace per scope of each
//! request ([`Traces::split_by_trace`]), and joining traces back into one batch.

use crate::contract::bindings::Range as TraceRange;
use crate::pdata::traces::join_fragments;
use crate::pdata::{DecodeError, Traces};

pub use crate::pdata::traces::{FragmentOrigin, TraceFragment, TraceId};

/// One trace's fragments, in arrival order.
#[derive(Debug, Clone)]
pub struct TraceFragments {
    /// The trace id.
    pub key: TraceId,
    /// Its fragments.
    pub fragments: Vec<TraceFragment>,
    /// How many spans they hold.
    pub spans: usize,
}

/// `fragments` gathered by trace, in order of each trace's first fragment.
pub fn group_by_trace(fragments: Vec<TraceFragment>) -> Vec<TraceFragments> {
    let mut traces: Vec<TraceFragments> = Vec::new();
    let mut slot_of = std::collections::HashMap::new();
    for fragment in fragments {
        let slot = *slot_of.entry(fragment.trace_id).or_insert_with(|| {
            traces.push(TraceFragments {
                key: fragment.trace_id,
                fragments: Vec::new(),
                spans: 0,
            });
            traces.len() - 1
        });
        traces[slot].spans += fragment.count;
        traces[slot].fragments.push(fragment);
    }
    traces
}

/// Joins traces (each given as its fragments) into one batch whose spans are grouped by
/// trace, in order, and returns the range of the batch's spans each trace occupies. Adjacent
/// fragments of one origin share one copy of it. The fragments were split from valid
/// batches, so reading the join back fails only on a bug; the error says what it was.
pub fn join_traces<'a, T, F>(traces: T) -> Result<(Traces, Vec<TraceRange>), DecodeError>
where
    T: IntoIterator<Item = F>,
    F: IntoIterator<Item = &'a TraceFragment>,
{
    let mut ordered: Vec<&TraceFragment> = Vec::new();
    let mut ranges = Vec::new();
    let mut start = 0u32;
    for trace in traces {
        let mut len = 0u32;
        for fragment in trace {
            len += fragment.count as u32;
            ordered.push(fragment);
        }
        ranges.push(TraceRange { start, len });
        start += len;
    }
    let batch = Traces::decode_trusted(join_fragments(ordered).into())?;
    Ok((batch, ranges))
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};

    fn span(trace: u8, id: u8) -> Span {
        Span {
            trace_id: vec![trace; 16],
            span_id: vec![id; 8],
            name: format!("span {id}"),
            ..Default::default()
        }
    }

    #[test]
    fn traces_join_grouped_with_their_ranges() {
        let request = ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![
                    ScopeSpans {
                        spans: vec![span(1, 1), span(2, 2), span(1, 3)],
                        ..Default::default()
                    },
                    ScopeSpans {
                        spans: vec![span(2, 4)],
                        ..Default::default()
                    },
                ],
                ..Default::default()
            }],
        };
        let fragments = Traces::from_request(&request)
            .split_by_trace(&Default::default())
            .unwrap();
        let traces = group_by_trace(fragments);
        let summary: Vec<_> = traces
            .iter()
            .map(|t| (t.key[0], t.spans, t.fragments.len()))
            .collect();
        assert_eq!(summary, [(1, 2, 1), (2, 2, 2)]);
        let (batch, ranges) = join_traces(traces.iter().map(|t| &t.fragments)).unwrap();
        assert_eq!(
            ranges,
            [
                TraceRange { start: 0, len: 2 },
                TraceRange { start: 2, len: 2 }
            ]
        );
        let names: Vec<String> = (0..batch.indexed_spans())
            .map(|i| batch.storage().text(batch.span(i).name).to_owned())
            .collect();
        assert_eq!(names, ["span 1", "span 3", "span 2", "span 4"]);
        assert_eq!(
            batch.indexed_resources(),
            1,
            "one copy of the shared resource"
        );
    }
}
