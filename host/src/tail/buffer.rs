//! The buffer of traces waiting for a decision.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::trace::v1::ResourceSpans;
use prost::Message;

/// A trace id, as the key of buffers and caches.
pub type TraceKey = [u8; 16];

/// Every span buffered so far for one trace, kept protobuf-encoded: a decoded span takes
/// several times its encoded size in separate allocations, and a buffered span is only read
/// once, when its trace is decided.
#[derive(Debug)]
pub struct PendingTrace {
    /// The trace id.
    pub key: TraceKey,
    /// Its spans as they arrived, one encoded `ResourceSpans` per resource and scope of each
    /// request.
    pub encoded: Vec<Vec<u8>>,
    /// How many spans.
    pub spans: usize,
    /// Their protobuf size, in bytes.
    pub bytes: usize,
    /// When its first span arrived.
    pub first_seen: Instant,
}

impl PendingTrace {
    /// The trace's fragments, decoded.
    pub fn decode(self) -> DecodedTrace {
        let fragments = self
            .encoded
            .iter()
            .map(|bytes| {
                ResourceSpans::decode(bytes.as_slice()).expect("the buffer encoded it itself")
            })
            .collect();
        DecodedTrace {
            key: self.key,
            fragments,
            spans: self.spans,
        }
    }
}

/// A trace taken out of the buffer to be decided.
#[derive(Debug)]
pub struct DecodedTrace {
    /// The trace id.
    pub key: TraceKey,
    /// Its spans as they arrived (one entry per resource and scope of each request).
    pub fragments: Vec<ResourceSpans>,
    /// How many spans.
    pub spans: usize,
}

/// Traces waiting for their decision, oldest first.
#[derive(Debug, Default)]
pub struct TraceBuffer {
    traces: HashMap<TraceKey, PendingTrace>,
    /// Trace ids by first arrival; every id here is in `traces` and the reverse.
    order: VecDeque<TraceKey>,
    spans: usize,
    bytes: usize,
}

impl TraceBuffer {
    /// Adds an encoded fragment (a `ResourceSpans` of `spans` spans of trace `key`) to its
    /// trace, starting the trace's wait if it is new.
    pub fn add_encoded(&mut self, key: TraceKey, encoded: Vec<u8>, spans: usize, now: Instant) {
        let bytes = encoded.len();
        let trace = self.traces.entry(key).or_insert_with(|| {
            self.order.push_back(key);
            PendingTrace {
                key,
                encoded: Vec::new(),
                spans: 0,
                bytes: 0,
                first_seen: now,
            }
        });
        trace.encoded.push(encoded);
        trace.spans += spans;
        trace.bytes += bytes;
        self.spans += spans;
        self.bytes += bytes;
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
        while let Some(key) = self.order.front() {
            if now.saturating_duration_since(self.traces[key].first_seen) < wait {
                break;
            }
            due.push(self.pop_oldest());
        }
        let mut early = 0;
        while !self.order.is_empty() && (self.traces.len() > max_traces || self.bytes > max_bytes) {
            due.push(self.pop_oldest());
            early += 1;
        }
        (due, early)
    }

    /// Takes every trace.
    pub fn take_all(&mut self) -> Vec<PendingTrace> {
        let mut all = Vec::with_capacity(self.order.len());
        while !self.order.is_empty() {
            all.push(self.pop_oldest());
        }
        all
    }

    fn pop_oldest(&mut self) -> PendingTrace {
        let key = self.order.pop_front().expect("a trace to pop");
        let trace = self.traces.remove(&key).expect("order and map agree");
        self.spans -= trace.spans;
        self.bytes -= trace.bytes;
        trace
    }

    /// Whether `key` is buffered.
    pub fn contains(&self, key: &TraceKey) -> bool {
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

    /// Protobuf bytes buffered.
    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::trace::v1::{ScopeSpans, Span};

    /// Adds `spans` spans of trace `trace` to `buffer`, encoded as the stage encodes them.
    fn add(buffer: &mut TraceBuffer, trace: u8, spans: usize, now: Instant) {
        let resource_spans = ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans: vec![
                    Span {
                        trace_id: vec![trace; 16],
                        ..Default::default()
                    };
                    spans
                ],
                ..Default::default()
            }],
            ..Default::default()
        };
        buffer.add_encoded([trace; 16], resource_spans.encode_to_vec(), spans, now);
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
        let (mut due, _) = buffer.take_due(wait, 100, usize::MAX, start + Duration::from_secs(10));
        assert_eq!(due.len(), 1);
        assert_eq!(
            (due[0].key, due[0].spans, due[0].encoded.len()),
            ([1; 16], 5, 2)
        );
        let decoded = due.pop().unwrap().decode();
        assert_eq!(decoded.fragments.len(), 2);
        assert_eq!(decoded.fragments[1].scope_spans[0].spans.len(), 3);
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
}
