//! Native test helpers: build batches and run a processor on them with plain `cargo test`.
//!
//! ```
//! use weft_sdk::testing::BatchBuilder;
//! use weft_sdk::StatusCode;
//!
//! let batch = BatchBuilder::new()
//!     .resource_attribute("service.name", "checkout")
//!     .span("POST /pay")
//!     .attribute("user.email", "ann@example.com")
//!     .span_with("GET /cart", |span| span.status_code = StatusCode::Error)
//!     .build();
//! assert_eq!(batch.text(batch.spans[0].name), "POST /pay");
//! assert_eq!(batch.attribute(batch.spans[0].attributes, "user.email").unwrap().as_str(), Some("ann@example.com"));
//! assert_eq!(batch.service_name(&batch.spans[1]), Some("checkout"));
//! ```

use crate::{
    AttributeView, Batch, Decision, Edit, Edits, Event, NodeView, Processor, Range, Resource,
    Scope, Slice, Span, SpanKind, Status, StatusCode, Trace, TraceId, TracePolicy, Value,
    ValueNode, ValueView,
};

/// Runs `processor` on `batch` the way the host would and returns its edits.
pub fn run<P: Processor>(processor: &mut P, batch: &Batch) -> Result<Vec<Edit>, String> {
    let mut edits = Edits::new();
    processor.process(batch, &mut edits)?;
    Ok(edits.take())
}

/// The traces of `batch` as the host hands them to a [`TracePolicy`]: each run of consecutive
/// spans with one trace id is a trace.
pub fn traces_of(batch: &Batch) -> Vec<Range> {
    let mut traces: Vec<Range> = Vec::new();
    for (index, span) in batch.spans.iter().enumerate() {
        match traces.last_mut() {
            Some(last) if batch.spans[last.start as usize].trace_id == span.trace_id => {
                last.len += 1
            }
            _ => traces.push(Range {
                start: index as u32,
                len: 1,
            }),
        }
    }
    traces
}

/// Runs `policy` on every trace of `batch` (see [`traces_of`]) the way the host would, at
/// host time `now_unix_nano`, and returns its decisions in order.
pub fn decide<P: TracePolicy>(
    policy: &mut P,
    batch: &Batch,
    now_unix_nano: u64,
) -> Result<Vec<Decision>, String> {
    traces_of(batch)
        .into_iter()
        .map(|range| policy.decide(&Trace::new(batch, range), now_unix_nano))
        .collect()
}

/// SplitMix64: a tiny, well-mixed deterministic generator, for reproducible random trace ids
/// in tests.
///
/// ```
/// let mut random = weft_sdk::testing::SplitMix64(7);
/// assert_ne!(random.next(), random.next());
/// assert_eq!(weft_sdk::testing::SplitMix64(7).next(), weft_sdk::testing::SplitMix64(7).next());
/// ```
#[derive(Debug, Clone)]
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    /// The next value.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// A span as a test describes it, before it is laid out in a [`Batch`].
#[derive(Debug, Clone)]
pub struct SpanSpec {
    /// The trace id.
    pub trace_id: TraceId,
    /// The span id.
    pub span_id: u64,
    /// The parent span id (0 for a root span).
    pub parent_span_id: u64,
    /// The name.
    pub name: String,
    /// The kind.
    pub kind: SpanKind,
    /// W3C trace-state.
    pub trace_state: String,
    /// Start time.
    pub start_time_unix_nano: u64,
    /// End time.
    pub end_time_unix_nano: u64,
    /// Status code.
    pub status_code: StatusCode,
    /// Status message.
    pub status_message: String,
    /// Attributes, in order.
    pub attributes: Vec<(String, Value)>,
    /// Events, in order.
    pub events: Vec<EventSpec>,
}

/// An event as a test describes it.
#[derive(Debug, Clone)]
pub struct EventSpec {
    /// The name.
    pub name: String,
    /// The time.
    pub time_unix_nano: u64,
    /// Attributes, in order.
    pub attributes: Vec<(String, Value)>,
}

/// Builds a [`Batch`] span by span, laid out exactly as the host lays out a view that reads
/// everything. Spans belong to the latest resource (one to start with; [`BatchBuilder::resource`]
/// starts another), each resource with one scope.
#[derive(Debug, Default)]
pub struct BatchBuilder {
    /// The attributes of each resource; spans belong to the last.
    resources: Vec<Vec<(String, Value)>>,
    /// Each span with the index of its resource.
    spans: Vec<(u32, SpanSpec)>,
}

impl BatchBuilder {
    /// An empty batch.
    pub fn new() -> Self {
        BatchBuilder {
            resources: vec![Vec::new()],
            spans: Vec::new(),
        }
    }

    /// Adds an attribute to the current resource.
    pub fn resource_attribute(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.resources
            .last_mut()
            .expect("a builder always has a resource")
            .push((key.to_owned(), value.into()));
        self
    }

    /// Starts another resource (and scope): spans added from now on belong to it.
    pub fn resource(mut self) -> Self {
        self.resources.push(Vec::new());
        self
    }

    /// Adds a span with this name and ids derived from its position.
    pub fn span(self, name: &str) -> Self {
        self.span_with(name, |_| {})
    }

    /// Adds a span with this name, then lets `edit` set its other fields.
    pub fn span_with(mut self, name: &str, edit: impl FnOnce(&mut SpanSpec)) -> Self {
        let n = self.spans.len() as u64 + 1;
        let mut span = SpanSpec {
            trace_id: TraceId { high: n, low: n },
            span_id: n,
            parent_span_id: 0,
            name: name.to_owned(),
            kind: SpanKind::Internal,
            trace_state: String::new(),
            start_time_unix_nano: 1_700_000_000_000_000_000,
            end_time_unix_nano: 1_700_000_000_001_000_000,
            status_code: StatusCode::Unset,
            status_message: String::new(),
            attributes: Vec::new(),
            events: Vec::new(),
        };
        edit(&mut span);
        let resource = self.resources.len() as u32 - 1;
        self.spans.push((resource, span));
        self
    }

    /// Adds an attribute to the last span added.
    ///
    /// # Panics
    /// If no span was added yet.
    pub fn attribute(mut self, key: &str, value: impl Into<Value>) -> Self {
        let (_, span) = self
            .spans
            .last_mut()
            .expect("add a span before its attributes");
        span.attributes.push((key.to_owned(), value.into()));
        self
    }

    /// The finished batch.
    pub fn build(self) -> Batch {
        let mut layout = Layout::default();
        let resources = self
            .resources
            .iter()
            .map(|attributes| Resource {
                attributes: layout.attributes(attributes),
                dropped_attributes_count: 0,
                schema_url: Slice { offset: 0, len: 0 },
            })
            .collect::<Vec<_>>();
        let scope_name = layout.slice(b"weft-sdk-testing");
        let scopes = (0..resources.len() as u32)
            .map(|resource| Scope {
                resource,
                name: scope_name,
                version: Slice { offset: 0, len: 0 },
                attributes: Range { start: 0, len: 0 },
                dropped_attributes_count: 0,
                schema_url: Slice { offset: 0, len: 0 },
            })
            .collect();
        let spans = self
            .spans
            .iter()
            .map(|(scope, spec)| Span {
                scope: *scope,
                ..layout.span(spec)
            })
            .collect();
        Batch {
            keys: layout.keys,
            arena: layout.arena,
            attributes: layout.attributes,
            events: layout.events,
            links: Vec::new(),
            resources,
            scopes,
            spans,
            packed: Vec::new(),
        }
    }
}

#[derive(Default)]
struct Layout {
    keys: Vec<String>,
    arena: Vec<u8>,
    attributes: Vec<AttributeView>,
    events: Vec<Event>,
}

impl Layout {
    fn span(&mut self, spec: &SpanSpec) -> Span {
        let attributes = self.attributes(&spec.attributes);
        let events = spec
            .events
            .iter()
            .map(|event| Event {
                time_unix_nano: event.time_unix_nano,
                name: self.slice(event.name.as_bytes()),
                attributes: self.attributes(&event.attributes),
                dropped_attributes_count: 0,
            })
            .collect::<Vec<_>>();
        let events_start = self.events.len() as u32;
        let events_len = events.len() as u32;
        self.events.extend(events);
        Span {
            scope: 0,
            trace_id: spec.trace_id,
            span_id: spec.span_id,
            parent_span_id: spec.parent_span_id,
            trace_state: self.slice(spec.trace_state.as_bytes()),
            name: self.slice(spec.name.as_bytes()),
            kind: spec.kind,
            start_time_unix_nano: spec.start_time_unix_nano,
            end_time_unix_nano: spec.end_time_unix_nano,
            attributes,
            dropped_attributes_count: 0,
            events: Range {
                start: events_start,
                len: events_len,
            },
            dropped_events_count: 0,
            links: Range { start: 0, len: 0 },
            dropped_links_count: 0,
            status: Status {
                code: spec.status_code,
                message: self.slice(spec.status_message.as_bytes()),
            },
            flags: 0,
        }
    }

    fn attributes(&mut self, attributes: &[(String, Value)]) -> Range {
        let views: Vec<AttributeView> = attributes
            .iter()
            .map(|(k, v)| self.attribute(k, v))
            .collect();
        let start = self.attributes.len() as u32;
        self.attributes.extend(views);
        Range {
            start,
            len: attributes.len() as u32,
        }
    }

    fn attribute(&mut self, key: &str, value: &Value) -> AttributeView {
        let key = match self.keys.iter().position(|k| k == key) {
            Some(index) => index as u32,
            None => {
                self.keys.push(key.to_owned());
                self.keys.len() as u32 - 1
            }
        };
        let value = match value {
            Value::Empty => ValueView::Empty,
            Value::Str(s) => ValueView::Str(self.slice(s.as_bytes())),
            Value::Boolean(b) => ValueView::Boolean(*b),
            Value::Int(i) => ValueView::Int(*i),
            Value::Double(d) => ValueView::Double(*d),
            Value::Bytes(b) => ValueView::Bytes(self.slice(b)),
            Value::Nested(nodes) => ValueView::Nested(
                nodes
                    .iter()
                    .map(|node| match node {
                        ValueNode::Empty => NodeView::Empty,
                        ValueNode::Str(s) => NodeView::Str(self.slice(s.as_bytes())),
                        ValueNode::Boolean(b) => NodeView::Boolean(*b),
                        ValueNode::Int(i) => NodeView::Int(*i),
                        ValueNode::Double(d) => NodeView::Double(*d),
                        ValueNode::Bytes(b) => NodeView::Bytes(self.slice(b)),
                        ValueNode::Array(children) => NodeView::Array(children.clone()),
                        ValueNode::Kvlist(entries) => NodeView::Kvlist(
                            entries
                                .iter()
                                .map(|(k, c)| (self.slice(k.as_bytes()), *c))
                                .collect(),
                        ),
                    })
                    .collect(),
            ),
        };
        AttributeView { key, value }
    }

    fn slice(&mut self, bytes: &[u8]) -> Slice {
        let offset = self.arena.len() as u32;
        self.arena.extend_from_slice(bytes);
        Slice {
            offset,
            len: bytes.len() as u32,
        }
    }
}
