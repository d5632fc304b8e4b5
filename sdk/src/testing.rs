//! Native test helpers: build batches and run a processor on them with plain `cargo test`.

use crate::{
    AttributeSelection, AttributeView, Batch, Edit, Edits, NodeView, Processor, Resource, Scope,
    Slice, Span, SpanKind, Status, StatusCode, TraceId, Value, ValueNode, ValueView,
};

/// Runs `processor` on `batch` the way the host would and returns its edits.
pub fn run<P: Processor>(processor: &mut P, batch: &Batch) -> Result<Vec<Edit>, String> {
    let mut edits = Edits::new();
    processor.process(batch, &mut edits)?;
    Ok(edits.take())
}

/// Builds a [`Batch`] with one resource and one scope, span by span.
#[derive(Debug)]
pub struct BatchBuilder {
    batch: Batch,
}

impl Default for BatchBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl BatchBuilder {
    /// A batch with one empty resource and one empty scope.
    pub fn new() -> Self {
        BatchBuilder {
            batch: Batch {
                keys: Vec::new(),
                arena: Vec::new(),
                resources: vec![Resource {
                    attributes: Vec::new(),
                    dropped_attributes_count: 0,
                    schema_url: String::new(),
                }],
                scopes: vec![Scope {
                    resource: 0,
                    name: String::new(),
                    version: String::new(),
                    attributes: Vec::new(),
                    dropped_attributes_count: 0,
                    schema_url: String::new(),
                }],
                spans: Vec::new(),
            },
        }
    }

    /// Adds a resource attribute.
    pub fn resource_attribute(mut self, key: &str, value: impl Into<Value>) -> Self {
        let attribute = self.attribute_view(key, value.into());
        self.batch.resources[0].attributes.push(attribute);
        self
    }

    /// Adds a span with this name and a trace id derived from its position.
    pub fn span(self, name: &str) -> Self {
        let n = self.batch.spans.len() as u64 + 1;
        self.span_with(name, |span| {
            span.trace_id = TraceId { high: n, low: n };
            span.span_id = n;
        })
    }

    /// Adds a span with this name, then lets `edit` set its other fields.
    pub fn span_with(mut self, name: &str, edit: impl FnOnce(&mut Span)) -> Self {
        let mut span = empty_span();
        span.name = name.to_owned();
        edit(&mut span);
        self.batch.spans.push(span);
        self
    }

    /// Adds an attribute to the last span added.
    ///
    /// # Panics
    /// If no span was added yet.
    pub fn attribute(mut self, key: &str, value: impl Into<Value>) -> Self {
        let attribute = self.attribute_view(key, value.into());
        let span = self.batch.spans.last_mut().expect("add a span before its attributes");
        span.attributes.push(attribute);
        self
    }

    /// Encodes an attribute the way the host does: key in the key table, strings in the arena.
    fn attribute_view(&mut self, key: &str, value: Value) -> AttributeView {
        let key = match self.batch.keys.iter().position(|k| k == key) {
            Some(index) => index as u32,
            None => {
                self.batch.keys.push(key.to_owned());
                self.batch.keys.len() as u32 - 1
            }
        };
        let value = match value {
            Value::Empty => ValueView::Empty,
            Value::Str(s) => ValueView::Str(self.slice(s.as_bytes())),
            Value::Boolean(b) => ValueView::Boolean(b),
            Value::Int(i) => ValueView::Int(i),
            Value::Double(d) => ValueView::Double(d),
            Value::Bytes(b) => ValueView::Bytes(self.slice(&b)),
            Value::Nested(nodes) => ValueView::Nested(
                nodes
                    .into_iter()
                    .map(|node| match node {
                        ValueNode::Empty => NodeView::Empty,
                        ValueNode::Str(s) => NodeView::Str(self.slice(s.as_bytes())),
                        ValueNode::Boolean(b) => NodeView::Boolean(b),
                        ValueNode::Int(i) => NodeView::Int(i),
                        ValueNode::Double(d) => NodeView::Double(d),
                        ValueNode::Bytes(b) => NodeView::Bytes(self.slice(&b)),
                        ValueNode::Array(children) => NodeView::Array(children),
                        ValueNode::Kvlist(entries) => NodeView::Kvlist(
                            entries.into_iter().map(|(k, c)| (self.slice(k.as_bytes()), c)).collect(),
                        ),
                    })
                    .collect(),
            ),
        };
        AttributeView { key, value }
    }

    fn slice(&mut self, bytes: &[u8]) -> Slice {
        let offset = self.batch.arena.len() as u32;
        self.batch.arena.extend_from_slice(bytes);
        Slice { offset, len: bytes.len() as u32 }
    }

    /// The finished batch.
    pub fn build(self) -> Batch {
        self.batch
    }
}

/// A span with every field empty.
pub fn empty_span() -> Span {
    Span {
        scope: 0,
        trace_id: TraceId { high: 0, low: 0 },
        span_id: 0,
        parent_span_id: 0,
        trace_state: String::new(),
        name: String::new(),
        kind: SpanKind::Unspecified,
        start_time_unix_nano: 0,
        end_time_unix_nano: 0,
        attributes: Vec::new(),
        dropped_attributes_count: 0,
        events: Vec::new(),
        dropped_events_count: 0,
        links: Vec::new(),
        dropped_links_count: 0,
        status: Status {
            code: StatusCode::Unset,
            message: String::new(),
        },
        flags: 0,
    }
}

/// Whether `selection` lets an attribute with this key and value through, as the host decides.
pub fn selects(selection: &AttributeSelection, key: &str, value: &Value) -> bool {
    match selection {
        AttributeSelection::None => false,
        AttributeSelection::All => true,
        AttributeSelection::Strings => matches!(value, Value::Str(_)),
        AttributeSelection::Keys(keys) => keys.iter().any(|k| k == key),
    }
}
