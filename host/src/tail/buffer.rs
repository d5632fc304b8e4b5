//! The buffer of traces waiting for a decision.
//!
//! Fragments are kept protobuf-encoded: a decoded span takes several times its encoded size in
//! separate allocations, and a buffered span is only read once, when its trace is decided. The
//! resource and scope a request's fragments share are encoded once and held by every fragment
//! split from them; the buffer charges each such shared part to its byte count once, while any
//! buffered fragment holds it.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;

use super::fragments::{DecodedTrace, Fragment, Origin, TraceKey};

/// The field number of `spans` in `ScopeSpans`: a fragment's spans are encoded as that field
/// alone, so that they decode as a `ScopeSpans` without scope.
const SCOPE_SPANS_SPANS: u32 = 2;

/// Bookkeeping charged for each buffered fragment on top of its encoded spans.
const FRAGMENT_OVERHEAD: usize = size_of::<BufferedFragment>();

/// Bookkeeping charged for each buffered trace: its map entry and its place in arrival order.
const TRACE_OVERHEAD: usize = size_of::<(TraceKey, PendingTrace)>() + size_of::<TraceKey>();

/// A resource and scope of a request, encoded once for every fragment split from them.
#[derive(Debug)]
pub struct EncodedOrigin {
    /// The resource, as an encoded `ResourceSpans` without scopes; shared by the origins of
    /// every scope under it.
    resource: Arc<Vec<u8>>,
    /// The scope, as an encoded `ScopeSpans` without spans.
    scope: Vec<u8>,
}

impl EncodedOrigin {
    /// What holding the origin itself costs (its resource is charged separately).
    fn charge(&self) -> usize {
        size_of::<Self>() + self.scope.len()
    }
}

/// One fragment as the buffer holds it: its spans encoded, its resource and scope shared.
#[derive(Debug)]
pub struct BufferedFragment {
    origin: Arc<EncodedOrigin>,
    /// The spans, encoded as the `spans` field of a `ScopeSpans`.
    spans: Vec<u8>,
    /// How many spans.
    count: usize,
}

/// Encodes fragments for the buffer. Fragments of one origin that come one after another (as
/// [`split_by_trace`](super::split_by_trace) makes them) share one encoding of it, and origins
/// of one resource one encoding of the resource.
#[derive(Debug, Default)]
pub struct FragmentEncoder {
    last_origin: Option<(Arc<Origin>, Arc<EncodedOrigin>)>,
    last_resource: Option<(Arc<ResourceSpans>, Arc<Vec<u8>>)>,
}

impl FragmentEncoder {
    /// `fragment`, encoded for the buffer.
    pub fn encode(&mut self, fragment: &Fragment) -> BufferedFragment {
        BufferedFragment {
            origin: self.origin(&fragment.origin),
            spans: encode_spans(&fragment.spans),
            count: fragment.spans.len(),
        }
    }

    fn origin(&mut self, origin: &Arc<Origin>) -> Arc<EncodedOrigin> {
        if let Some((last, encoded)) = &self.last_origin
            && Arc::ptr_eq(last, origin)
        {
            return encoded.clone();
        }
        let encoded = Arc::new(EncodedOrigin {
            resource: self.resource(&origin.resource),
            scope: origin.scope.encode_to_vec(),
        });
        self.last_origin = Some((origin.clone(), encoded.clone()));
        encoded
    }

    fn resource(&mut self, resource: &Arc<ResourceSpans>) -> Arc<Vec<u8>> {
        if let Some((last, encoded)) = &self.last_resource
            && Arc::ptr_eq(last, resource)
        {
            return encoded.clone();
        }
        let encoded = Arc::new(resource.encode_to_vec());
        self.last_resource = Some((resource.clone(), encoded.clone()));
        encoded
    }
}

/// `spans` encoded as the `spans` field of a `ScopeSpans`.
fn encode_spans(spans: &[Span]) -> Vec<u8> {
    use prost::encoding::message;
    let mut out = Vec::with_capacity(message::encoded_len_repeated(SCOPE_SPANS_SPANS, spans));
    message::encode_repeated(SCOPE_SPANS_SPANS, spans, &mut out);
    out
}

/// The address of a shared part, which identifies it while it is alive.
fn address<T>(part: &Arc<T>) -> usize {
    Arc::as_ptr(part) as usize
}

/// Every span buffered so far for one trace.
#[derive(Debug)]
pub struct PendingTrace {
    /// The trace id.
    pub key: TraceKey,
    /// Its spans as they arrived, one fragment per resource and scope of each request.
    pub fragments: Vec<BufferedFragment>,
    /// How many spans.
    pub spans: usize,
    /// The bytes charged for its fragments (shared resources and scopes are charged to the
    /// buffer, not to one trace).
    pub bytes: usize,
    /// When its first span arrived.
    pub first_seen: Instant,
}

/// Why a buffered fragment could not be decoded: a processor's edits nested its values
/// deeper than the protobuf decoder's recursion limit (encoding has no such limit).
#[derive(Debug, Clone, thiserror::Error)]
#[error("a buffered {part} could not be decoded: {source}")]
pub struct UndecodableFragment {
    /// Which part: `resource`, `scope` or `spans`.
    part: &'static str,
    source: prost::DecodeError,
}

/// A shared part, decoded, or why it could not be.
type Decoded<T> = Result<Arc<T>, UndecodableFragment>;

/// Decodes traces taken out of the buffer, each shared resource and scope once, so that the
/// decoded traces share them as the buffered ones did. A fragment that cannot be decoded is
/// left out of its trace and tallied; the rest of the trace, and other traces, carry on.
#[derive(Debug, Default)]
pub struct TraceDecoder {
    /// Decoded origins by the address of their encoding, which the entry keeps alive (so
    /// that no address is reused while it is a key here).
    origins: HashMap<usize, (Arc<EncodedOrigin>, Decoded<Origin>)>,
    /// Decoded resources by the address of their encoding (kept alive by `origins`).
    resources: HashMap<usize, Decoded<ResourceSpans>>,
    undecodable_spans: usize,
    first_error: Option<UndecodableFragment>,
}

impl TraceDecoder {
    /// `trace`, decoded, without the fragments that could not be; its span count is of the
    /// spans decoded.
    pub fn decode(&mut self, trace: PendingTrace) -> DecodedTrace {
        let mut fragments = Vec::with_capacity(trace.fragments.len());
        for fragment in &trace.fragments {
            match self.fragment(trace.key, fragment) {
                Ok(decoded) => fragments.push(decoded),
                Err(error) => {
                    self.undecodable_spans += fragment.count;
                    self.first_error.get_or_insert(error);
                }
            }
        }
        DecodedTrace {
            key: trace.key,
            spans: fragments.iter().map(|f| f.spans.len()).sum(),
            fragments,
        }
    }

    /// Spans left out so far because their fragment could not be decoded.
    pub fn undecodable_spans(&self) -> usize {
        self.undecodable_spans
    }

    /// Why the first fragment left out could not be decoded.
    pub fn first_error(&self) -> Option<&UndecodableFragment> {
        self.first_error.as_ref()
    }

    fn fragment(
        &mut self,
        key: TraceKey,
        fragment: &BufferedFragment,
    ) -> Result<Fragment, UndecodableFragment> {
        let origin = self.origin(&fragment.origin)?;
        let spans = decode::<ScopeSpans>("spans", &fragment.spans)?.spans;
        Ok(Fragment { key, origin, spans })
    }

    fn origin(&mut self, encoded: &Arc<EncodedOrigin>) -> Result<Arc<Origin>, UndecodableFragment> {
        if let Some((_, decoded)) = self.origins.get(&address(encoded)) {
            return decoded.clone();
        }
        let decoded = self.resource(&encoded.resource).and_then(|resource| {
            let scope = decode::<ScopeSpans>("scope", &encoded.scope)?;
            Ok(Arc::new(Origin { resource, scope }))
        });
        self.origins
            .insert(address(encoded), (encoded.clone(), decoded.clone()));
        decoded
    }

    fn resource(&mut self, encoded: &Arc<Vec<u8>>) -> Decoded<ResourceSpans> {
        self.resources
            .entry(address(encoded))
            .or_insert_with(|| decode::<ResourceSpans>("resource", encoded).map(Arc::new))
            .clone()
    }
}

fn decode<M: Message + Default>(
    part: &'static str,
    bytes: &[u8],
) -> Result<M, UndecodableFragment> {
    M::decode(bytes).map_err(|source| UndecodableFragment { part, source })
}

/// Traces waiting for their decision, oldest first.
#[derive(Debug, Default)]
pub struct TraceBuffer {
    traces: HashMap<TraceKey, PendingTrace>,
    /// Trace ids by first arrival; every id here is in `traces` and the reverse.
    order: VecDeque<TraceKey>,
    /// How many buffered fragments hold each origin, and how many buffered origins each
    /// resource, by address: a shared part is charged once, while anything buffered holds it.
    holders: HashMap<usize, usize>,
    spans: usize,
    bytes: usize,
}

impl TraceBuffer {
    /// Adds a fragment of trace `key` to its trace, starting the trace's wait if it is new.
    pub fn add(&mut self, key: TraceKey, fragment: BufferedFragment, now: Instant) {
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

    fn hold_origin(&mut self, origin: &Arc<EncodedOrigin>) {
        if self.hold(address(origin), origin.charge()) {
            self.hold(address(&origin.resource), origin.resource.len());
        }
    }

    fn release_origin(&mut self, origin: &Arc<EncodedOrigin>) {
        if self.release(address(origin), origin.charge()) {
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

    /// Bytes charged for what the buffer holds: encoded spans, each shared resource and scope
    /// once, and a fixed overhead per fragment and per trace.
    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tail::split_by_trace;
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::common::v1::{AnyValue, ArrayValue, KeyValue, any_value};
    use opentelemetry_proto::tonic::resource::v1::Resource;

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
        let mut encoder = FragmentEncoder::default();
        for fragment in split_by_trace(request) {
            let buffered = encoder.encode(&fragment);
            buffer.add(fragment.key, buffered, now);
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
        let (mut due, _) = buffer.take_due(wait, 100, usize::MAX, start + Duration::from_secs(10));
        assert_eq!(due.len(), 1);
        assert_eq!(
            (due[0].key, due[0].spans, due[0].fragments.len()),
            ([1; 16], 5, 2)
        );
        let mut decoder = TraceDecoder::default();
        let decoded = decoder.decode(due.pop().unwrap());
        assert_eq!((decoded.fragments.len(), decoded.spans), (2, 5));
        assert_eq!(decoded.fragments[1].spans.len(), 3);
        assert_eq!(decoder.undecodable_spans(), 0);
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
        let mut decoder = TraceDecoder::default();
        let decoded: Vec<_> = due.into_iter().map(|t| decoder.decode(t)).collect();
        let first = &decoded[0].fragments[0].origin;
        assert!(
            decoded
                .iter()
                .all(|t| Arc::ptr_eq(&t.fragments[0].origin, first)),
            "decoded traces share the resource too"
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

    /// An attribute value nested `levels` arrays deep.
    fn nested(levels: usize) -> AnyValue {
        let mut value = AnyValue {
            value: Some(any_value::Value::IntValue(1)),
        };
        for _ in 0..levels {
            value = AnyValue {
                value: Some(any_value::Value::ArrayValue(ArrayValue {
                    values: vec![value],
                })),
            };
        }
        value
    }

    #[test]
    fn an_undecodable_fragment_is_left_out_and_counted() {
        let mut deep = span(1, 1);
        deep.attributes.push(KeyValue {
            key: "deep".into(),
            value: Some(nested(70)),
            ..Default::default()
        });
        // Trace 1: the deep span in one scope, a plain span in another; trace 2: plain.
        let request = request(
            Resource::default(),
            vec![vec![deep, span(2, 2)], vec![span(1, 1)]],
        );
        let start = Instant::now();
        let mut buffer = TraceBuffer::default();
        buffer_request(&mut buffer, request, start);
        let mut decoder = TraceDecoder::default();
        let decoded: Vec<_> = buffer
            .take_all()
            .into_iter()
            .map(|t| decoder.decode(t))
            .collect();
        assert_eq!(decoder.undecodable_spans(), 1);
        let error = decoder.first_error().unwrap().to_string();
        assert!(
            error.contains("spans") && error.contains("recursion limit"),
            "{error}"
        );
        let spans: Vec<_> = decoded.iter().map(|t| (t.key[4], t.spans)).collect();
        assert_eq!(
            spans,
            [(1, 1), (2, 1)],
            "the rest of trace 1 and trace 2 decode"
        );
        assert_eq!(decoded[0].fragments[0].spans[0].attributes, []);
    }
}
