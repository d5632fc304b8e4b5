//! The buffer of traces waiting for a decision.
//!
//! Fragments are kept as the bytes they arrived as (a buffered span is only read once, when
//! its trace is decided). The resource and scope a request's fragments share are held once by
//! every fragment split from them; the buffer charges each such shared part to its byte count
//! once, while any buffered fragment holds it.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::fragments::{FragmentOrigin, TraceFragment, TraceId};

/// Bookkeeping charged for each buffered fragment on top of its spans' bytes.
const FRAGMENT_OVERHEAD: usize = size_of::<TraceFragment>();

/// Bookkeeping charged for each buffered trace: its map entry and its place in arrival order.
const TRACE_OVERHEAD: usize = size_of::<(TraceId, PendingTrace)>() + size_of::<TraceId>();

/// What holding an origin itself costs (its resource is charged separately).
fn origin_charge(origin: &FragmentOrigin) -> usize {
    size_of::<FragmentOrigin>() + origin.scope.len()
}

/// The address of a shared part, which identifies it while it is alive.
fn address<T>(part: &Arc<T>) -> usize {
    Arc::as_ptr(part) as usize
}

/// Every span buffered so far for one trace.
#[derive(Debug)]
pub struct PendingTrace {
    /// The trace id.
    pub key: TraceId,
    /// Its spans as they arrived, one fragment per resource and scope of each request.
    pub fragments: Vec<TraceFragment>,
    /// How many spans.
    pub spans: usize,
    /// The bytes charged for its fragments (shared resources and scopes are charged to the
    /// buffer, not to one trace).
    pub bytes: usize,
    /// When its first span arrived.
    pub first_seen: Instant,
}

/// Traces waiting for their decision, oldest first.
#[derive(Debug, Default)]
pub struct TraceBuffer {
    traces: HashMap<TraceId, PendingTrace>,
    /// Trace ids by first arrival; every id here is in `traces` and the reverse.
    order: VecDeque<TraceId>,
    /// How many buffered fragments hold each origin, and how many buffered origins each
    /// resource, by address: a shared part is charged once, while anything buffered holds it.
    holders: HashMap<usize, usize>,
    spans: usize,
    bytes: usize,
}

impl TraceBuffer {
    /// Adds a fragment of trace `key` to its trace, starting the trace's wait if it is new.
    pub fn add(&mut self, key: TraceId, fragment: TraceFragment, now: Instant) {
        self.hold_origin(&fragment.origin);
        let mut bytes = fragment.spans.len() + FRAGMENT_OVERHEAD;
        let trace = self.traces.entry(key).or_insert_with(|| {
            self.order.push_back(key);
            bytes += TRACE_OVERHEAD;
            PendingTrace {
                key,
                fragments: Vec::new(),
                spans: 0,
                bytes: 0,
                first_seen: now,
            }
        });
        trace.spans += fragment.count;
        trace.bytes += bytes;
        self.spans += fragment.count;
        self.bytes += bytes;
        trace.fragments.push(fragment);
    }

    /// Takes every trace whose wait is over, then, while the buffer holds more than
    /// `max_traces` traces or `max_bytes` bytes, the oldest. Returns the traces in arrival
    /// order and how many were taken early (under pressure).
    pub fn take_due(
        &mut self,
        wait: Duration,
        max_traces: usize,
        max_bytes: usize,
        now: Instant,
    ) -> (Vec<PendingTrace>, usize) {
        let mut due = Vec::new();
        while let Some(oldest) = self.order.front().and_then(|key| self.traces.get(key)) {
            if now.saturating_duration_since(oldest.first_seen) < wait {
                break;
            }
            due.extend(self.pop_oldest());
        }
        let mut early = 0;
        while !self.order.is_empty() && (self.traces.len() > max_traces || self.bytes > max_bytes) {
            if let Some(trace) = self.pop_oldest() {
                due.push(trace);
                early += 1;
            }
        }
        (due, early)
    }

    /// Takes every trace.
    pub fn take_all(&mut self) -> Vec<PendingTrace> {
        let mut all = Vec::with_capacity(self.order.len());
        while !self.order.is_empty() {
            all.extend(self.pop_oldest());
        }
        all
    }

    /// Takes the oldest trace (`None` only if the buffer is empty).
    fn pop_oldest(&mut self) -> Option<PendingTrace> {
        let key = self.order.pop_front()?;
        let trace = self.traces.remove(&key)?;
        self.spans -= trace.spans;
        self.bytes -= trace.bytes;
        for fragment in &trace.fragments {
            self.release_origin(&fragment.origin);
        }
        Some(trace)
    }

    fn hold_origin(&mut self, origin: &Arc<FragmentOrigin>) {
        if self.hold(address(origin), origin_charge(origin)) {
            self.hold(address(&origin.resource), origin.resource.len());
        }
    }

    fn release_origin(&mut self, origin: &Arc<FragmentOrigin>) {
        if self.release(address(origin), origin_charge(origin)) {
            self.release(address(&origin.resource), origin.resource.len());
        }
    }

    /// Counts one more holder of the part at `address`, charging `bytes` if it is the first.
    /// Returns whether it was.
    fn hold(&mut self, address: usize, bytes: usize) -> bool {
        let holders = self.holders.entry(address).or_insert(0);
        *holders += 1;
        let first = *holders == 1;
        if first {
            self.bytes += bytes;
        }
        first
    }

    /// Counts one holder less of the part at `address`, releasing its `bytes` if it was the
    /// last. Returns whether it was.
    fn release(&mut self, address: usize, bytes: usize) -> bool {
        let Some(holders) = self.holders.get_mut(&address) else {
            return false;
        };
        *holders -= 1;
        let last = *holders == 0;
        if last {
            self.holders.remove(&address);
            self.bytes -= bytes;
        }
        last
    }

    /// Whether `key` is buffered.
    pub fn contains(&self, key: &TraceId) -> bool {
        self.traces.contains_key(key)
    }

    /// Traces buffered.
    pub fn traces(&self) -> usize {
        self.traces.len()
    }

    /// Spans buffered.
    pub fn spans(&self) -> usize {
        self.spans
    }

    /// Bytes charged for what the buffer holds: encoded spans, each shared resource and scope
    /// once, and a fixed overhead per fragment and per trace.
    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pdata::Traces;
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
    use opentelemetry_proto::tonic::resource::v1::Resource;
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
    use prost::Message;

    fn span(trace: u8, n: u32) -> Span {
        let mut trace_id = vec![trace; 16];
        trace_id[..4].copy_from_slice(&n.to_be_bytes());
        Span {
            trace_id,
            span_id: n.to_be_bytes().repeat(2),
            ..Default::default()
        }
    }

    fn request(resource: Resource, scopes: Vec<Vec<Span>>) -> ExportTraceServiceRequest {
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: Some(resource),
                scope_spans: scopes
                    .into_iter()
                    .map(|spans| ScopeSpans {
                        spans,
                        ..Default::default()
                    })
                    .collect(),
                schema_url: String::new(),
            }],
        }
    }

    /// Buffers `request` as the stage does.
    fn buffer_request(buffer: &mut TraceBuffer, request: ExportTraceServiceRequest, now: Instant) {
        let fragments = Traces::from_request(&request)
            .split_by_trace(&Default::default())
            .unwrap();
        for fragment in fragments {
            buffer.add(fragment.trace_id, fragment, now);
        }
    }

    /// Adds `spans` spans of trace `trace` to `buffer`, in a request of their own.
    fn add(buffer: &mut TraceBuffer, trace: u8, spans: usize, now: Instant) {
        let spans = vec![
            Span {
                trace_id: vec![trace; 16],
                ..Default::default()
            };
            spans
        ];
        buffer_request(buffer, request(Resource::default(), vec![spans]), now);
    }

    #[test]
    fn traces_wait_then_come_out_oldest_first() {
        let start = Instant::now();
        let wait = Duration::from_secs(10);
        let mut buffer = TraceBuffer::default();
        add(&mut buffer, 1, 2, start);
        add(&mut buffer, 2, 1, start + Duration::from_secs(5));
        add(&mut buffer, 1, 3, start + Duration::from_secs(6));
        assert_eq!((buffer.traces(), buffer.spans()), (2, 6));
        let (due, early) = buffer.take_due(wait, 100, usize::MAX, start + Duration::from_secs(9));
        assert!(due.is_empty() && early == 0);
        let (due, _) = buffer.take_due(wait, 100, usize::MAX, start + Duration::from_secs(10));
        assert_eq!(due.len(), 1);
        assert_eq!(
            (due[0].key, due[0].spans, due[0].fragments.len()),
            ([1; 16], 5, 2)
        );
        assert_eq!(due[0].fragments[1].count, 3);
        assert_eq!((buffer.traces(), buffer.spans()), (1, 1));
    }

    #[test]
    fn pressure_takes_the_oldest_early() {
        let start = Instant::now();
        let mut buffer = TraceBuffer::default();
        for trace in 0..10 {
            add(&mut buffer, trace, 1, start);
        }
        let (due, early) = buffer.take_due(Duration::from_secs(10), 4, usize::MAX, start);
        assert_eq!((due.len(), early), (6, 6));
        assert_eq!(due[0].key, [0; 16]);
        let per_trace = buffer.bytes() / buffer.traces();
        let (due, early) = buffer.take_due(Duration::from_secs(10), 100, per_trace * 2, start);
        assert_eq!((due.len(), early), (2, 2));
        assert_eq!(buffer.traces(), 2);
        assert_eq!(buffer.take_all().len(), 2);
        assert_eq!((buffer.traces(), buffer.spans(), buffer.bytes()), (0, 0, 0));
    }

    #[test]
    fn a_large_resource_is_held_once_for_all_its_traces() {
        const TRACES: u32 = 20_000;
        let resource = Resource {
            attributes: vec![KeyValue {
                key: "large".into(),
                value: Some(AnyValue {
                    value: Some(any_value::Value::StringValue("x".repeat(64 << 10))),
                }),
                ..Default::default()
            }],
            ..Default::default()
        };
        let request = request(resource, vec![(0..TRACES).map(|n| span(1, n)).collect()]);
        let wire = request.encoded_len();
        let start = Instant::now();
        let mut buffer = TraceBuffer::default();
        buffer_request(&mut buffer, request, start);
        assert_eq!(buffer.traces(), TRACES as usize);
        // Copied per trace, the resource alone would be 20,000 x 64 KiB = 1.25 GiB.
        let per_trace = FRAGMENT_OVERHEAD + TRACE_OVERHEAD;
        assert!(
            buffer.bytes() < 2 * wire + TRACES as usize * per_trace,
            "{} bytes held for a {wire}-byte request",
            buffer.bytes()
        );
        let due = buffer.take_all();
        assert_eq!(
            buffer.bytes(),
            0,
            "the shared resource is released with its last trace"
        );
        let first = &due[0].fragments[0].origin;
        assert!(
            due.iter()
                .all(|t| Arc::ptr_eq(&t.fragments[0].origin.resource, &first.resource)),
            "taken traces share the resource too"
        );
    }

    #[test]
    fn shared_parts_are_charged_while_any_trace_holds_them() {
        let start = Instant::now();
        let mut buffer = TraceBuffer::default();
        buffer_request(
            &mut buffer,
            request(Resource::default(), vec![vec![span(1, 1), span(2, 1)]]),
            start,
        );
        let both = buffer.bytes();
        let (due, _) = buffer.take_due(Duration::from_secs(10), 1, usize::MAX, start);
        assert_eq!(due.len(), 1);
        assert_eq!(
            both - buffer.bytes(),
            due[0].bytes,
            "only the trace's own bytes leave"
        );
        buffer.take_all();
        assert_eq!(buffer.bytes(), 0);
    }
}
