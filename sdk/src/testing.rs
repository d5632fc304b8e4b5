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
    AttributeView, Batch, Edit, Edits, Event, NodeView, Processor, Range, Resource, Scope, Slice,
    Span, SpanKind, Status, StatusCode, TraceId, Value, ValueNode, ValueView,
};

/// Runs `processor` on `batch` the way the host would and returns its edits.
pub fn run<P: Processor>(processor: &mut P, batch: &Batch) -> Result<Vec<Edit>, String> {
    let mut edits = Edits::new();
    processor.process(batch, &mut edits)?;
    Ok(edits.take())
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

/// Builds a [`Batch`] with one resource and one scope, span by span, laid out exactly as the
/// host lays out a view that reads everything.
#[derive(Debug, Default)]
pub struct BatchBuilder {
    resource_attributes: Vec<(String, Value)>,
    spans: Vec<SpanSpec>,
}

impl BatchBuilder {
    /// An empty batch.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a resource attribute.
    pub fn resource_attribute(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.resource_attributes
            .push((key.to_owned(), value.into()));
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
        self.spans.push(span);
        self
    }

    /// Adds an attribute to the last span added.
    ///
    /// # Panics
    /// If no span was added yet.
    pub fn attribute(mut self, key: &str, value: impl Into<Value>) -> Self {
        let span = self
            .spans
            .last_mut()
            .expect("add a span before its attributes");
        span.attributes.push((key.to_owned(), value.into()));
        self
    }

    /// The finished batch.
    pub fn build(self) -> Batch {
        let mut layout = Layout::default();
        let resource = Resource {
            attributes: layout.attributes(&self.resource_attributes),
            dropped_attributes_count: 0,
            schema_url: Slice { offset: 0, len: 0 },
        };
        let scope = Scope {
            resource: 0,
            name: layout.slice(b"weft-sdk-testing"),
            version: Slice { offset: 0, len: 0 },
            attributes: Range { start: 0, len: 0 },
            dropped_attributes_count: 0,
            schema_url: Slice { offset: 0, len: 0 },
        };
        let spans = self.spans.iter().map(|spec| layout.span(spec)).collect();
        Batch {
            keys: layout.keys,
            arena: layout.arena,
            attributes: layout.attributes,
            events: layout.events,
            links: Vec::new(),
            resources: vec![resource],
            scopes: vec![scope],
            spans,
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
