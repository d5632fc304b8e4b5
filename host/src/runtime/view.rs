//! Building the batch view a plugin asked for from the host's OTLP batch.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1 as otlp;

use super::bindings::{
    Attribute, AttributeSelection, Batch, Event, Interest, Link, Resource, Scope, Span, SpanFields,
    SpanKind, Status, StatusCode, TraceId, Value, ValueNode,
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
    let mut batch = Batch {
        resources: Vec::new(),
        scopes: Vec::new(),
        spans: Vec::new(),
    };
    let fields = interest.span_fields;
    for resource_spans in &request.resource_spans {
        let resource_index = batch.resources.len() as u32;
        let resource = resource_spans.resource.as_ref();
        batch.resources.push(Resource {
            attributes: resource
                .map(|r| select(&r.attributes, &interest.resource_attributes))
                .unwrap_or_default(),
            dropped_attributes_count: resource.map(|r| r.dropped_attributes_count).unwrap_or(0),
            schema_url: resource_spans.schema_url.clone(),
        });
        for scope_spans in &resource_spans.scope_spans {
            let scope_index = batch.scopes.len() as u32;
            let scope = scope_spans.scope.as_ref();
            batch.scopes.push(Scope {
                resource: resource_index,
                name: scope.map(|s| s.name.clone()).unwrap_or_default(),
                version: scope.map(|s| s.version.clone()).unwrap_or_default(),
                attributes: scope
                    .map(|s| select(&s.attributes, &interest.scope_attributes))
                    .unwrap_or_default(),
                dropped_attributes_count: scope.map(|s| s.dropped_attributes_count).unwrap_or(0),
                schema_url: scope_spans.schema_url.clone(),
            });
            batch.spans.extend(
                scope_spans
                    .spans
                    .iter()
                    .map(|span| span_view(span, scope_index, fields, interest)),
            );
        }
    }
    batch
}

fn span_view(span: &otlp::Span, scope: u32, fields: SpanFields, interest: &Interest) -> Span {
    let has = |f: SpanFields| fields.contains(f);
    let ids = has(SpanFields::IDS);
    let counts = has(SpanFields::DROPPED_COUNTS);
    let status = span.status.as_ref().filter(|_| has(SpanFields::STATUS));
    Span {
        scope,
        trace_id: if ids {
            trace_id(&span.trace_id)
        } else {
            TraceId { high: 0, low: 0 }
        },
        span_id: if ids { span_id(&span.span_id) } else { 0 },
        parent_span_id: if ids {
            span_id(&span.parent_span_id)
        } else {
            0
        },
        trace_state: if has(SpanFields::TRACE_STATE) {
            span.trace_state.clone()
        } else {
            String::new()
        },
        name: if has(SpanFields::NAME) {
            span.name.clone()
        } else {
            String::new()
        },
        kind: if has(SpanFields::KIND) {
            span_kind(span.kind)
        } else {
            SpanKind::Unspecified
        },
        start_time_unix_nano: if has(SpanFields::TIMES) {
            span.start_time_unix_nano
        } else {
            0
        },
        end_time_unix_nano: if has(SpanFields::TIMES) {
            span.end_time_unix_nano
        } else {
            0
        },
        attributes: select(&span.attributes, &interest.span_attributes),
        dropped_attributes_count: if counts {
            span.dropped_attributes_count
        } else {
            0
        },
        events: if has(SpanFields::EVENTS) {
            span.events
                .iter()
                .map(|e| event_view(e, &interest.event_attributes, counts))
                .collect()
        } else {
            Vec::new()
        },
        dropped_events_count: if counts { span.dropped_events_count } else { 0 },
        links: if has(SpanFields::LINKS) {
            span.links
                .iter()
                .map(|l| link_view(l, &interest.link_attributes, counts))
                .collect()
        } else {
            Vec::new()
        },
        dropped_links_count: if counts { span.dropped_links_count } else { 0 },
        status: Status {
            code: status
                .map(|s| status_code(s.code))
                .unwrap_or(StatusCode::Unset),
            message: status.map(|s| s.message.clone()).unwrap_or_default(),
        },
        flags: if has(SpanFields::FLAGS) {
            span.flags
        } else {
            0
        },
    }
}

fn event_view(event: &otlp::span::Event, selection: &AttributeSelection, counts: bool) -> Event {
    Event {
        time_unix_nano: event.time_unix_nano,
        name: event.name.clone(),
        attributes: select(&event.attributes, selection),
        dropped_attributes_count: if counts {
            event.dropped_attributes_count
        } else {
            0
        },
    }
}

fn link_view(link: &otlp::span::Link, selection: &AttributeSelection, counts: bool) -> Link {
    Link {
        trace_id: trace_id(&link.trace_id),
        span_id: span_id(&link.span_id),
        trace_state: link.trace_state.clone(),
        attributes: select(&link.attributes, selection),
        dropped_attributes_count: if counts {
            link.dropped_attributes_count
        } else {
            0
        },
        flags: link.flags,
    }
}

/// The attributes of `attributes` that `selection` lets through, converted.
fn select(attributes: &[KeyValue], selection: &AttributeSelection) -> Vec<Attribute> {
    let keep = |kv: &&KeyValue| match selection {
        AttributeSelection::None => false,
        AttributeSelection::All => true,
        AttributeSelection::Strings => matches!(
            kv.value.as_ref().and_then(|v| v.value.as_ref()),
            Some(any_value::Value::StringValue(_))
        ),
        AttributeSelection::Keys(keys) => keys.contains(&kv.key),
    };
    if matches!(selection, AttributeSelection::None) {
        return Vec::new();
    }
    attributes
        .iter()
        .filter(keep)
        .map(|kv| Attribute {
            key: kv.key.clone(),
            value: to_value(kv.value.as_ref()),
        })
        .collect()
}

/// Converts an OTLP value to the contract's value, flattening nested values.
pub fn to_value(value: Option<&AnyValue>) -> Value {
    match value.and_then(|v| v.value.as_ref()) {
        // A string-table index only has meaning in profiles; trace data never carries one.
        None | Some(any_value::Value::StringValueStrindex(_)) => Value::Empty,
        Some(any_value::Value::StringValue(s)) => Value::Str(s.clone()),
        Some(any_value::Value::BoolValue(b)) => Value::Boolean(*b),
        Some(any_value::Value::IntValue(i)) => Value::Int(*i),
        Some(any_value::Value::DoubleValue(d)) => Value::Double(*d),
        Some(any_value::Value::BytesValue(b)) => Value::Bytes(b.clone()),
        Some(nested @ (any_value::Value::ArrayValue(_) | any_value::Value::KvlistValue(_))) => {
            let mut nodes = Vec::new();
            flatten(Some(nested), &mut nodes);
            Value::Nested(nodes)
        }
    }
}

/// Appends `value` and its descendants to `nodes`, returning the index of `value`.
fn flatten(value: Option<&any_value::Value>, nodes: &mut Vec<ValueNode>) -> u32 {
    let index = nodes.len();
    nodes.push(ValueNode::Empty);
    let node = match value {
        None | Some(any_value::Value::StringValueStrindex(_)) => ValueNode::Empty,
        Some(any_value::Value::StringValue(s)) => ValueNode::Str(s.clone()),
        Some(any_value::Value::BoolValue(b)) => ValueNode::Boolean(*b),
        Some(any_value::Value::IntValue(i)) => ValueNode::Int(*i),
        Some(any_value::Value::DoubleValue(d)) => ValueNode::Double(*d),
        Some(any_value::Value::BytesValue(b)) => ValueNode::Bytes(b.clone()),
        Some(any_value::Value::ArrayValue(array)) => {
            let children = array
                .values
                .iter()
                .map(|v| flatten(v.value.as_ref(), nodes))
                .collect();
            ValueNode::Array(children)
        }
        Some(any_value::Value::KvlistValue(list)) => {
            let children = list
                .values
                .iter()
                .map(|kv| {
                    (
                        kv.key.clone(),
                        flatten(kv.value.as_ref().and_then(|v| v.value.as_ref()), nodes),
                    )
                })
                .collect();
            ValueNode::Kvlist(children)
        }
    };
    nodes[index] = node;
    index as u32
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
        assert_eq!(
            span.attributes
                .iter()
                .map(|a| a.key.as_str())
                .collect::<Vec<_>>(),
            ["s", "t"]
        );

        interest.span_attributes = AttributeSelection::Keys(vec!["i".into()]);
        let view = build_view(&request(), &interest);
        assert_eq!(view.spans[0].attributes.len(), 1);
        assert!(matches!(view.spans[0].attributes[0].value, Value::Int(3)));
    }
}
