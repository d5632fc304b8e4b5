//! Building the batch view a plugin asked for from the host's OTLP batch.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1 as otlp;

use std::collections::HashMap;

use super::bindings::{
    AttributeSelection, AttributeView, Batch, Event, Interest, Link, NodeView, Resource, Scope, Slice, Span,
    SpanFields, SpanKind, Status, StatusCode, TraceId, ValueView,
};

/// An interest that reads nothing.
pub fn no_interest() -> Interest {
    Interest {
        span_fields: SpanFields::empty(),
        span_attributes: AttributeSelection::None,
        event_attributes: AttributeSelection::None,
        link_attributes: AttributeSelection::None,
        resource_attributes: AttributeSelection::None,
        scope_attributes: AttributeSelection::None,
    }
}

/// Builds the view of `request` that `interest` asks for.
pub fn build_view(request: &ExportTraceServiceRequest, interest: &Interest) -> Batch {
    let mut builder = ViewBuilder { interest, keys: HashMap::new(), key_table: Vec::new(), arena: Vec::new() };
    let mut resources = Vec::with_capacity(request.resource_spans.len());
    let mut scopes = Vec::new();
    let mut spans = Vec::with_capacity(request.resource_spans.iter().flat_map(|rs| &rs.scope_spans).map(|ss| ss.spans.len()).sum());
    for resource_spans in &request.resource_spans {
        let resource_index = resources.len() as u32;
        let resource = resource_spans.resource.as_ref();
        resources.push(Resource {
            attributes: resource
                .map(|r| builder.select(&r.attributes, &interest.resource_attributes))
                .unwrap_or_default(),
            dropped_attributes_count: resource.map(|r| r.dropped_attributes_count).unwrap_or(0),
            schema_url: resource_spans.schema_url.clone(),
        });
        for scope_spans in &resource_spans.scope_spans {
            let scope_index = scopes.len() as u32;
            let scope = scope_spans.scope.as_ref();
            scopes.push(Scope {
                resource: resource_index,
                name: scope.map(|s| s.name.clone()).unwrap_or_default(),
                version: scope.map(|s| s.version.clone()).unwrap_or_default(),
                attributes: scope
                    .map(|s| builder.select(&s.attributes, &interest.scope_attributes))
                    .unwrap_or_default(),
                dropped_attributes_count: scope.map(|s| s.dropped_attributes_count).unwrap_or(0),
                schema_url: scope_spans.schema_url.clone(),
            });
            for span in &scope_spans.spans {
                spans.push(builder.span(span, scope_index));
            }
        }
    }
    Batch { keys: builder.key_table, arena: builder.arena, resources, scopes, spans }
}

/// Accumulates the key table and the arena while a view is built.
struct ViewBuilder<'a> {
    interest: &'a Interest,
    keys: HashMap<&'a str, u32>,
    key_table: Vec<String>,
    arena: Vec<u8>,
}

impl<'a> ViewBuilder<'a> {
    fn span(&mut self, span: &'a otlp::Span, scope: u32) -> Span {
        let interest = self.interest;
        let fields = interest.span_fields;
        let has = |f: SpanFields| fields.contains(f);
        let ids = has(SpanFields::IDS);
        let counts = has(SpanFields::DROPPED_COUNTS);
        let status = span.status.as_ref().filter(|_| has(SpanFields::STATUS));
        Span {
            scope,
            trace_id: if ids { trace_id(&span.trace_id) } else { TraceId { high: 0, low: 0 } },
            span_id: if ids { span_id(&span.span_id) } else { 0 },
            parent_span_id: if ids { span_id(&span.parent_span_id) } else { 0 },
            trace_state: if has(SpanFields::TRACE_STATE) { span.trace_state.clone() } else { String::new() },
            name: if has(SpanFields::NAME) { span.name.clone() } else { String::new() },
            kind: if has(SpanFields::KIND) { span_kind(span.kind) } else { SpanKind::Unspecified },
            start_time_unix_nano: if has(SpanFields::TIMES) { span.start_time_unix_nano } else { 0 },
            end_time_unix_nano: if has(SpanFields::TIMES) { span.end_time_unix_nano } else { 0 },
            attributes: self.select(&span.attributes, &interest.span_attributes),
            dropped_attributes_count: if counts { span.dropped_attributes_count } else { 0 },
            events: if has(SpanFields::EVENTS) {
                span.events.iter().map(|e| self.event(e, counts)).collect()
            } else {
                Vec::new()
            },
            dropped_events_count: if counts { span.dropped_events_count } else { 0 },
            links: if has(SpanFields::LINKS) {
                span.links.iter().map(|l| self.link(l, counts)).collect()
            } else {
                Vec::new()
            },
            dropped_links_count: if counts { span.dropped_links_count } else { 0 },
            status: Status {
                code: status.map(|s| status_code(s.code)).unwrap_or(StatusCode::Unset),
                message: status.map(|s| s.message.clone()).unwrap_or_default(),
            },
            flags: if has(SpanFields::FLAGS) { span.flags } else { 0 },
        }
    }

    fn event(&mut self, event: &'a otlp::span::Event, counts: bool) -> Event {
        Event {
            time_unix_nano: event.time_unix_nano,
            name: event.name.clone(),
            attributes: self.select(&event.attributes, &self.interest.event_attributes),
            dropped_attributes_count: if counts { event.dropped_attributes_count } else { 0 },
        }
    }

    fn link(&mut self, link: &'a otlp::span::Link, counts: bool) -> Link {
        Link {
            trace_id: trace_id(&link.trace_id),
            span_id: span_id(&link.span_id),
            trace_state: link.trace_state.clone(),
            attributes: self.select(&link.attributes, &self.interest.link_attributes),
            dropped_attributes_count: if counts { link.dropped_attributes_count } else { 0 },
            flags: link.flags,
        }
    }

    /// The attributes that `selection` lets through, converted.
    fn select(&mut self, attributes: &'a [KeyValue], selection: &AttributeSelection) -> Vec<AttributeView> {
        let keep = |kv: &KeyValue| match selection {
            AttributeSelection::None => false,
            AttributeSelection::All => true,
            AttributeSelection::Strings => {
                matches!(kv.value.as_ref().and_then(|v| v.value.as_ref()), Some(any_value::Value::StringValue(_)))
            }
            AttributeSelection::Keys(keys) => keys.contains(&kv.key),
        };
        if matches!(selection, AttributeSelection::None) {
            return Vec::new();
        }
        let mut out = Vec::with_capacity(attributes.len());
        for kv in attributes.iter().filter(|kv| keep(kv)) {
            let key = self.key(&kv.key);
            let value = self.value(kv.value.as_ref().and_then(|v| v.value.as_ref()));
            out.push(AttributeView { key, value });
        }
        out
    }

    fn key(&mut self, key: &'a str) -> u32 {
        if let Some(&index) = self.keys.get(key) {
            return index;
        }
        let index = self.key_table.len() as u32;
        self.key_table.push(key.to_owned());
        self.keys.insert(key, index);
        index
    }

    fn slice(&mut self, bytes: &[u8]) -> Slice {
        let offset = self.arena.len() as u32;
        self.arena.extend_from_slice(bytes);
        Slice { offset, len: bytes.len() as u32 }
    }

    fn value(&mut self, value: Option<&any_value::Value>) -> ValueView {
        match value {
            // A string-table index only has meaning in profiles; trace data never carries one.
            None | Some(any_value::Value::StringValueStrindex(_)) => ValueView::Empty,
            Some(any_value::Value::StringValue(s)) => ValueView::Str(self.slice(s.as_bytes())),
            Some(any_value::Value::BoolValue(b)) => ValueView::Boolean(*b),
            Some(any_value::Value::IntValue(i)) => ValueView::Int(*i),
            Some(any_value::Value::DoubleValue(d)) => ValueView::Double(*d),
            Some(any_value::Value::BytesValue(b)) => ValueView::Bytes(self.slice(b)),
            Some(nested @ (any_value::Value::ArrayValue(_) | any_value::Value::KvlistValue(_))) => {
                let mut nodes = Vec::new();
                self.flatten(Some(nested), &mut nodes);
                ValueView::Nested(nodes)
            }
        }
    }

    /// Appends `value` and its descendants to `nodes`, returning the index of `value`.
    fn flatten(&mut self, value: Option<&any_value::Value>, nodes: &mut Vec<NodeView>) -> u32 {
        let index = nodes.len();
        nodes.push(NodeView::Empty);
        let node = match value {
            None | Some(any_value::Value::StringValueStrindex(_)) => NodeView::Empty,
            Some(any_value::Value::StringValue(s)) => NodeView::Str(self.slice(s.as_bytes())),
            Some(any_value::Value::BoolValue(b)) => NodeView::Boolean(*b),
            Some(any_value::Value::IntValue(i)) => NodeView::Int(*i),
            Some(any_value::Value::DoubleValue(d)) => NodeView::Double(*d),
            Some(any_value::Value::BytesValue(b)) => NodeView::Bytes(self.slice(b)),
            Some(any_value::Value::ArrayValue(array)) => {
                let children = array.values.iter().map(|v| self.flatten(v.value.as_ref(), nodes)).collect();
                NodeView::Array(children)
            }
            Some(any_value::Value::KvlistValue(list)) => {
                let mut children = Vec::with_capacity(list.values.len());
                for kv in &list.values {
                    let key = self.slice(kv.key.as_bytes());
                    children.push((key, self.flatten(kv.value.as_ref().and_then(|v| v.value.as_ref()), nodes)));
                }
                NodeView::Kvlist(children)
            }
        };
        nodes[index] = node;
        index as u32
    }
}

/// A 16-byte trace id as big-endian halves; anything else reads as zero.
pub fn trace_id(bytes: &[u8]) -> TraceId {
    match <[u8; 16]>::try_from(bytes) {
        Ok(b) => TraceId {
            high: u64::from_be_bytes(b[..8].try_into().unwrap()),
            low: u64::from_be_bytes(b[8..].try_into().unwrap()),
        },
        Err(_) => TraceId { high: 0, low: 0 },
    }
}

/// An 8-byte span id as a big-endian integer; empty (no parent) or malformed reads as zero.
pub fn span_id(bytes: &[u8]) -> u64 {
    <[u8; 8]>::try_from(bytes)
        .map(u64::from_be_bytes)
        .unwrap_or(0)
}

fn span_kind(kind: i32) -> SpanKind {
    match kind {
        1 => SpanKind::Internal,
        2 => SpanKind::Server,
        3 => SpanKind::Client,
        4 => SpanKind::Producer,
        5 => SpanKind::Consumer,
        _ => SpanKind::Unspecified,
    }
}

fn status_code(code: i32) -> StatusCode {
    match code {
        1 => StatusCode::Ok,
        2 => StatusCode::Error,
        _ => StatusCode::Unset,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::common::v1::AnyValue;
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans};

    fn kv(key: &str, value: any_value::Value) -> KeyValue {
        KeyValue {
            key: key.into(),
            value: Some(AnyValue { value: Some(value) }),
            ..Default::default()
        }
    }

    fn request() -> ExportTraceServiceRequest {
        let span = otlp::Span {
            trace_id: (1..=16).collect(),
            span_id: vec![0, 0, 0, 0, 0, 0, 1, 2],
            name: "GET /".into(),
            kind: 2,
            attributes: vec![
                kv("s", any_value::Value::StringValue("x".into())),
                kv("i", any_value::Value::IntValue(3)),
                kv("t", any_value::Value::StringValue("y".into())),
            ],
            ..Default::default()
        };
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    spans: vec![span],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
    }

    #[test]
    fn the_view_carries_only_what_the_interest_asks_for() {
        let mut interest = no_interest();
        let view = build_view(&request(), &interest);
        assert_eq!(view.spans.len(), 1);
        assert!(
            view.spans[0].name.is_empty()
                && view.spans[0].attributes.is_empty()
                && view.spans[0].span_id == 0
        );

        interest.span_fields = SpanFields::NAME | SpanFields::IDS | SpanFields::KIND;
        interest.span_attributes = AttributeSelection::Strings;
        let view = build_view(&request(), &interest);
        let span = &view.spans[0];
        assert_eq!(span.name, "GET /");
        assert_eq!(span.kind, SpanKind::Server);
        assert_eq!(span.span_id, 0x0102);
        assert_eq!(span.trace_id.high, 0x0102030405060708);
        assert_eq!(span.trace_id.low, 0x090a0b0c0d0e0f10);
        let keys: Vec<&str> = span.attributes.iter().map(|a| view.keys[a.key as usize].as_str()).collect();
        assert_eq!(keys, ["s", "t"]);
        let texts: Vec<&[u8]> = span
            .attributes
            .iter()
            .map(|a| match a.value {
                ValueView::Str(s) => &view.arena[s.offset as usize..(s.offset + s.len) as usize],
                _ => panic!("only strings were selected"),
            })
            .collect();
        assert_eq!(texts, [b"x", b"y"]);

        interest.span_attributes = AttributeSelection::Keys(vec!["i".into()]);
        let view = build_view(&request(), &interest);
        assert_eq!(view.spans[0].attributes.len(), 1);
        assert!(matches!(view.spans[0].attributes[0].value, ValueView::Int(3)));
    }
}
