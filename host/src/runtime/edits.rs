//! Applying a plugin's edits to the host's OTLP batch.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, KeyValue, KeyValueList, any_value,
};
use opentelemetry_proto::tonic::trace::v1 as otlp;

use super::bindings::{Edit, SpanKind, StatusCode, Target, Value, ValueNode};

/// What the edits did, for counting.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct EditSummary {
    /// Edits applied.
    pub applied: usize,
    /// Spans dropped.
    pub dropped_spans: usize,
}

/// Where the `i`-th span of the view lives in the request.
#[derive(Debug, Clone, Copy)]
struct SpanAt {
    resource: u32,
    scope_in_resource: u32,
    span_in_scope: u32,
}

/// Indexes of the batch as the view numbered it.
struct Layout {
    spans: Vec<SpanAt>,
    /// For each flat scope index: (resource index, scope index within the resource).
    scopes: Vec<(u32, u32)>,
    resources: usize,
}

impl Layout {
    fn of(request: &ExportTraceServiceRequest) -> Self {
        let mut spans = Vec::new();
        let mut scopes = Vec::new();
        for (r, rs) in request.resource_spans.iter().enumerate() {
            for (s, ss) in rs.scope_spans.iter().enumerate() {
                scopes.push((r as u32, s as u32));
                spans.extend((0..ss.spans.len()).map(|p| SpanAt {
                    resource: r as u32,
                    scope_in_resource: s as u32,
                    span_in_scope: p as u32,
                }));
            }
        }
        Layout {
            spans,
            scopes,
            resources: request.resource_spans.len(),
        }
    }
}

/// The bytes of keys, strings and bytes values that `edits` would add to a batch.
pub fn output_bytes(edits: &[Edit]) -> usize {
    let value = |v: &Value| match v {
        Value::Str(s) => s.len(),
        Value::Bytes(b) => b.len(),
        Value::Nested(nodes) => nodes
            .iter()
            .map(|n| match n {
                ValueNode::Str(s) => s.len(),
                ValueNode::Bytes(b) => b.len(),
                ValueNode::Kvlist(entries) => entries
                    .iter()
                    .fold(0usize, |sum, (k, _)| sum.saturating_add(k.len() + 4)),
                ValueNode::Array(children) => children.len().saturating_mul(4),
                _ => 8,
            })
            .fold(0usize, usize::saturating_add),
        _ => 8,
    };
    // An edit on a range of spans writes its bytes once per span.
    let fanout = |target: &Target| match target {
        Target::Spans(range) => range.len as usize,
        _ => 1,
    };
    edits
        .iter()
        .map(|edit| match edit {
            Edit::SetAttribute((t, key, v)) => {
                key.len().saturating_add(value(v)).saturating_mul(fanout(t))
            }
            Edit::RemoveAttribute((t, key)) => key.len().saturating_mul(fanout(t)),
            Edit::RenameAttribute((t, from, to)) => {
                (from.len().saturating_add(to.len())).saturating_mul(fanout(t))
            }
            Edit::SetName((_, s))
            | Edit::SetTraceState((_, s))
            | Edit::SetStatus((_, _, s))
            | Edit::SetEventName((_, _, s)) => s.len(),
            _ => 8,
        })
        .fold(0usize, usize::saturating_add)
}

/// Applies `edits` to `request`. Every edit is checked before any is applied, so an invalid
/// edit leaves the request untouched and returns a description of the problem.
pub fn apply_edits(
    request: &mut ExportTraceServiceRequest,
    edits: Vec<Edit>,
) -> Result<EditSummary, String> {
    if edits.is_empty() {
        return Ok(EditSummary::default());
    }
    let layout = Layout::of(request);
    for (n, edit) in edits.iter().enumerate() {
        check(request, &layout, edit).map_err(|e| format!("edit #{n}: {e}"))?;
    }
    let mut summary = EditSummary {
        applied: edits.len(),
        dropped_spans: 0,
    };
    let mut dropped = Vec::new();
    let mut dropped_events = Vec::new();
    for edit in edits {
        match edit {
            Edit::SetAttribute((target, key, value)) => {
                let value = to_any_value(value).expect("checked");
                if let Target::Spans(range) = target {
                    for s in range.start..range.start + range.len {
                        let attributes = &mut span_mut(request, &layout, s).attributes;
                        set_attribute(attributes, key.clone(), value.clone());
                    }
                } else {
                    // One item: the key and value move in, uncopied.
                    let mut owned = Some((key, value));
                    each_attributes(request, &layout, &target, |attributes| {
                        if let Some((key, value)) = owned.take() {
                            set_attribute(attributes, key, value);
                        }
                    });
                }
            }
            Edit::RemoveAttribute((target, key)) => {
                each_attributes(request, &layout, &target, |attributes| {
                    attributes.retain(|kv| kv.key != key)
                });
            }
            Edit::RenameAttribute((target, from, to)) => {
                each_attributes(request, &layout, &target, |attributes| {
                    if let Some(position) = attributes.iter().position(|kv| kv.key == from) {
                        let mut kv = attributes.remove(position);
                        attributes.retain(|other| other.key != to);
                        kv.key.clone_from(&to);
                        attributes.push(kv);
                    }
                });
            }
            Edit::SetName((span, name)) => span_mut(request, &layout, span).name = name,
            Edit::SetStatus((span, code, message)) => {
                span_mut(request, &layout, span).status = Some(to_status(code, message))
            }
            Edit::SetTraceState((span, state)) => {
                span_mut(request, &layout, span).trace_state = state
            }
            Edit::SetKind((span, kind)) => span_mut(request, &layout, span).kind = kind_code(kind),
            Edit::SetEventName((span, event, name)) => {
                // Checked, and event drops apply last: the index is the event as sent.
                span_mut(request, &layout, span).events[event as usize].name = name;
            }
            Edit::DropEvent(at) => dropped_events.push(at),
            Edit::DropSpan(span) => dropped.push(span),
        }
    }
    // Event drops apply after every other edit, last index first, so every index an edit
    // names refers to the batch as it was sent (as span drops do); dropping an event twice
    // drops it once.
    dropped_events.sort_unstable();
    dropped_events.dedup();
    for &(span, event) in dropped_events.iter().rev() {
        let span = span_mut(request, &layout, span);
        span.events.remove(event as usize);
        span.dropped_events_count = span.dropped_events_count.saturating_add(1);
    }
    if !dropped.is_empty() {
        dropped.sort_unstable();
        dropped.dedup();
        summary.dropped_spans = dropped.len();
        drop_spans(request, &layout, &dropped);
    }
    Ok(summary)
}

fn check(request: &ExportTraceServiceRequest, layout: &Layout, edit: &Edit) -> Result<(), String> {
    let span_exists = |i: u32| {
        if (i as usize) < layout.spans.len() {
            Ok(())
        } else {
            Err(format!(
                "span index {i} is out of range (batch has {} spans)",
                layout.spans.len()
            ))
        }
    };
    match edit {
        Edit::SetAttribute((target, key, value)) => {
            check_target(request, layout, target)?;
            if key.is_empty() {
                return Err("attribute key is empty".into());
            }
            check_value(value)
        }
        Edit::RemoveAttribute((target, _)) => check_target(request, layout, target),
        Edit::RenameAttribute((target, _, to)) => {
            check_target(request, layout, target)?;
            if to.is_empty() {
                Err("new attribute key is empty".into())
            } else {
                Ok(())
            }
        }
        Edit::SetName((span, _))
        | Edit::SetStatus((span, _, _))
        | Edit::SetTraceState((span, _))
        | Edit::SetKind((span, _)) => span_exists(*span),
        Edit::DropEvent((span, event)) | Edit::SetEventName((span, event, _)) => {
            span_exists(*span)?;
            // Event indices refer to the batch as sent: drops apply last (see apply_edits).
            let events = span_ref(request, layout.spans[*span as usize]).events.len();
            if (*event as usize) < events {
                Ok(())
            } else {
                Err(format!(
                    "event index {event} is out of range for span {span}"
                ))
            }
        }
        Edit::DropSpan(span) => span_exists(*span),
    }
}

fn check_target(
    request: &ExportTraceServiceRequest,
    layout: &Layout,
    target: &Target,
) -> Result<(), String> {
    let span = |i: u32| {
        layout.spans.get(i as usize).copied().ok_or_else(|| {
            format!(
                "span index {i} is out of range (batch has {} spans)",
                layout.spans.len()
            )
        })
    };
    match target {
        Target::Span(i) => span(*i).map(|_| ()),
        Target::Resource(i) if (*i as usize) < layout.resources => Ok(()),
        Target::Resource(i) => Err(format!("resource index {i} is out of range")),
        Target::Scope(i) if (*i as usize) < layout.scopes.len() => Ok(()),
        Target::Scope(i) => Err(format!("scope index {i} is out of range")),
        Target::Event((s, e)) => {
            let at = span(*s)?;
            if (*e as usize) < span_ref(request, at).events.len() {
                Ok(())
            } else {
                Err(format!("event index {e} is out of range for span {s}"))
            }
        }
        Target::Link((s, l)) => {
            let at = span(*s)?;
            if (*l as usize) < span_ref(request, at).links.len() {
                Ok(())
            } else {
                Err(format!("link index {l} is out of range for span {s}"))
            }
        }
        Target::Spans(range) => {
            let end = u64::from(range.start) + u64::from(range.len);
            if end <= layout.spans.len() as u64 {
                Ok(())
            } else {
                Err(format!(
                    "span range {}..{end} is out of range (batch has {} spans)",
                    range.start,
                    layout.spans.len()
                ))
            }
        }
    }
}

fn span_ref(request: &ExportTraceServiceRequest, at: SpanAt) -> &otlp::Span {
    &request.resource_spans[at.resource as usize].scope_spans[at.scope_in_resource as usize].spans
        [at.span_in_scope as usize]
}

fn span_mut<'a>(
    request: &'a mut ExportTraceServiceRequest,
    layout: &Layout,
    span: u32,
) -> &'a mut otlp::Span {
    let at = layout.spans[span as usize];
    &mut request.resource_spans[at.resource as usize].scope_spans[at.scope_in_resource as usize]
        .spans[at.span_in_scope as usize]
}

/// Calls `f` with the attribute list of each item `target` names (one, or each span of a
/// range).
fn each_attributes(
    request: &mut ExportTraceServiceRequest,
    layout: &Layout,
    target: &Target,
    mut f: impl FnMut(&mut Vec<KeyValue>),
) {
    match *target {
        Target::Span(s) => f(&mut span_mut(request, layout, s).attributes),
        Target::Spans(range) => {
            for s in range.start..range.start + range.len {
                f(&mut span_mut(request, layout, s).attributes);
            }
        }
        Target::Resource(r) => f(&mut request.resource_spans[r as usize]
            .resource
            .get_or_insert_with(Default::default)
            .attributes),
        Target::Scope(s) => {
            let (r, s) = layout.scopes[s as usize];
            f(
                &mut request.resource_spans[r as usize].scope_spans[s as usize]
                    .scope
                    .get_or_insert_with(Default::default)
                    .attributes,
            )
        }
        Target::Event((s, e)) => f(&mut span_mut(request, layout, s).events[e as usize].attributes),
        Target::Link((s, l)) => f(&mut span_mut(request, layout, s).links[l as usize].attributes),
    }
}

/// Sets `key` to `value`: the first attribute with the key takes the value and any later one
/// with the same key is removed (OTLP forbids duplicate keys, and a duplicate left as it came
/// would carry past a redactor the value it replaced in the first), or the attribute is
/// appended.
fn set_attribute(attributes: &mut Vec<KeyValue>, key: String, value: AnyValue) {
    let Some(first) = attributes.iter().position(|kv| kv.key == key) else {
        attributes.push(KeyValue {
            key,
            value: Some(value),
            ..Default::default()
        });
        return;
    };
    attributes[first].value = Some(value);
    if attributes[first + 1..].iter().any(|kv| kv.key == key) {
        let mut index = 0;
        attributes.retain(|kv| {
            let keep = index <= first || kv.key != key;
            index += 1;
            keep
        });
    }
}

fn drop_spans(request: &mut ExportTraceServiceRequest, layout: &Layout, dropped: &[u32]) {
    let mut doomed = vec![false; layout.spans.len()];
    for &i in dropped {
        doomed[i as usize] = true;
    }
    let mut flat = 0usize;
    for rs in &mut request.resource_spans {
        for ss in &mut rs.scope_spans {
            ss.spans.retain(|_| {
                let keep = !doomed[flat];
                flat += 1;
                keep
            });
        }
        rs.scope_spans.retain(|ss| !ss.spans.is_empty());
    }
    request
        .resource_spans
        .retain(|rs| !rs.scope_spans.is_empty());
}

/// Converts a contract value back to OTLP. Nested values must only point forward (a child's
/// index is greater than its parent's), which rules out cycles.
pub fn to_any_value(value: Value) -> Result<AnyValue, String> {
    let value = match value {
        Value::Empty => None,
        Value::Str(s) => Some(any_value::Value::StringValue(s)),
        Value::Boolean(b) => Some(any_value::Value::BoolValue(b)),
        Value::Int(i) => Some(any_value::Value::IntValue(i)),
        Value::Double(d) => Some(any_value::Value::DoubleValue(d)),
        Value::Bytes(b) => Some(any_value::Value::BytesValue(b)),
        Value::Nested(nodes) => {
            if nodes.is_empty() {
                return Err("nested value has no root node".into());
            }
            unflatten(&nodes, 0, 0)?
        }
    };
    Ok(AnyValue { value })
}

/// The deepest a value a plugin writes may nest. Every level of a key-value list is three
/// protobuf messages (`AnyValue`, `KeyValueList`, `KeyValue`) and an event attribute already
/// sits six messages deep in a request, so 20 levels stay well inside prost's recursion limit
/// of 100: whatever a plugin writes, every decoder downstream (the tail buffer, an exporter's
/// peer, a second Weft) can read back.
pub const MAX_NESTING: usize = 20;

/// Checks a nested value is a tree no deeper than [`MAX_NESTING`]: every child index points
/// to a later node, and no node has two parents (which would let a small value expand
/// exponentially).
fn check_value(value: &Value) -> Result<(), String> {
    let Value::Nested(nodes) = value else {
        return Ok(());
    };
    if nodes.is_empty() {
        return Err("nested value has no root node".into());
    }
    let mut has_parent = vec![false; nodes.len()];
    // Children point forward, so a node's depth is known before its children are reached.
    let mut depth = vec![0usize; nodes.len()];
    for (index, node) in nodes.iter().enumerate() {
        let children: Vec<u32> = match node {
            ValueNode::Array(children) => children.clone(),
            ValueNode::Kvlist(entries) => entries.iter().map(|(_, c)| *c).collect(),
            _ => continue,
        };
        for c in children {
            let c = c as usize;
            if c <= index || c >= nodes.len() {
                return Err(format!(
                    "nested value node {index} points to node {c}, which is not a later node"
                ));
            }
            if std::mem::replace(&mut has_parent[c], true) {
                return Err(format!("nested value node {c} has more than one parent"));
            }
            depth[c] = depth[index] + 1;
            if depth[c] > MAX_NESTING {
                return Err(format!("nested value is deeper than {MAX_NESTING} levels"));
            }
        }
    }
    Ok(())
}

fn unflatten(
    nodes: &[ValueNode],
    index: usize,
    depth: usize,
) -> Result<Option<any_value::Value>, String> {
    if depth > MAX_NESTING {
        return Err(format!("nested value is deeper than {MAX_NESTING} levels"));
    }
    let child = |c: u32| -> Result<AnyValue, String> {
        let c = c as usize;
        if c <= index || c >= nodes.len() {
            return Err(format!(
                "nested value node {index} points to node {c}, which is not a later node"
            ));
        }
        Ok(AnyValue {
            value: unflatten(nodes, c, depth + 1)?,
        })
    };
    Ok(match &nodes[index] {
        ValueNode::Empty => None,
        ValueNode::Str(s) => Some(any_value::Value::StringValue(s.clone())),
        ValueNode::Boolean(b) => Some(any_value::Value::BoolValue(*b)),
        ValueNode::Int(i) => Some(any_value::Value::IntValue(*i)),
        ValueNode::Double(d) => Some(any_value::Value::DoubleValue(*d)),
        ValueNode::Bytes(b) => Some(any_value::Value::BytesValue(b.clone())),
        ValueNode::Array(children) => Some(any_value::Value::ArrayValue(ArrayValue {
            values: children
                .iter()
                .map(|&c| child(c))
                .collect::<Result<_, _>>()?,
        })),
        ValueNode::Kvlist(entries) => Some(any_value::Value::KvlistValue(KeyValueList {
            values: entries
                .iter()
                .map(|(key, c)| {
                    Ok(KeyValue {
                        key: key.clone(),
                        value: Some(child(*c)?),
                        ..Default::default()
                    })
                })
                .collect::<Result<_, String>>()?,
        })),
    })
}

fn to_status(code: StatusCode, message: String) -> otlp::Status {
    let code = match code {
        StatusCode::Unset => 0,
        StatusCode::Ok => 1,
        StatusCode::Error => 2,
    };
    otlp::Status { code, message }
}

fn kind_code(kind: SpanKind) -> i32 {
    match kind {
        SpanKind::Unspecified => 0,
        SpanKind::Internal => 1,
        SpanKind::Server => 2,
        SpanKind::Client => 3,
        SpanKind::Producer => 4,
        SpanKind::Consumer => 5,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::bindings::{
        Interest, NodeView, Range, Slice, SpanFields, Value, ValueView,
    };
    use crate::runtime::view::{build_view, no_interest};
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans};

    fn string(s: &str) -> AnyValue {
        AnyValue {
            value: Some(any_value::Value::StringValue(s.into())),
        }
    }

    fn request(spans: usize) -> ExportTraceServiceRequest {
        let span = |n: usize| otlp::Span {
            name: format!("span-{n}"),
            attributes: vec![KeyValue {
                key: "a".into(),
                value: Some(string("1")),
                ..Default::default()
            }],
            events: vec![otlp::span::Event {
                name: "e".into(),
                ..Default::default()
            }],
            ..Default::default()
        };
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![
                    ScopeSpans {
                        spans: (0..spans / 2).map(span).collect(),
                        ..Default::default()
                    },
                    ScopeSpans {
                        spans: (spans / 2..spans).map(span).collect(),
                        ..Default::default()
                    },
                ],
                ..Default::default()
            }],
        }
    }

    fn names(request: &ExportTraceServiceRequest) -> Vec<String> {
        request
            .resource_spans
            .iter()
            .flat_map(|r| &r.scope_spans)
            .flat_map(|s| &s.spans)
            .map(|s| s.name.clone())
            .collect()
    }

    #[test]
    fn nested_values_round_trip_through_the_contract() {
        let nested = AnyValue {
            value: Some(any_value::Value::KvlistValue(KeyValueList {
                values: vec![
                    KeyValue {
                        key: "list".into(),
                        value: Some(AnyValue {
                            value: Some(any_value::Value::ArrayValue(ArrayValue {
                                values: vec![
                                    string("x"),
                                    AnyValue { value: None },
                                    AnyValue {
                                        value: Some(any_value::Value::ArrayValue(ArrayValue {
                                            values: vec![string("deep")],
                                        })),
                                    },
                                ],
                            })),
                        }),
                        ..Default::default()
                    },
                    KeyValue {
                        key: "bytes".into(),
                        value: Some(AnyValue {
                            value: Some(any_value::Value::BytesValue(vec![0, 1, 255])),
                        }),
                        ..Default::default()
                    },
                ],
            })),
        };
        // Through a view (what a plugin reads) and back as an edit value (what it writes).
        let mut request = request(1);
        request.resource_spans[0].scope_spans[1].spans[0].attributes[0].value =
            Some(nested.clone());
        let interest = Interest {
            span_attributes: crate::runtime::bindings::AttributeSelection::All,
            ..no_interest()
        };
        let view = build_view(&request, &interest);
        let seen = &view.attributes[view.spans[0].attributes.start as usize];
        assert_eq!(view.keys[seen.key as usize], "a");
        assert_eq!(
            to_any_value(resolve(&seen.value, &view.arena)).unwrap(),
            nested
        );
        let _ = SpanFields::empty();
    }

    /// What a plugin does to turn a value it read into one it writes back.
    fn resolve(value: &ValueView, arena: &[u8]) -> Value {
        let text = |s: &Slice| {
            String::from_utf8(arena[s.offset as usize..(s.offset + s.len) as usize].to_vec())
                .unwrap()
        };
        let bytes = |s: &Slice| arena[s.offset as usize..(s.offset + s.len) as usize].to_vec();
        match value {
            ValueView::Empty => Value::Empty,
            ValueView::Str(s) => Value::Str(text(s)),
            ValueView::Boolean(b) => Value::Boolean(*b),
            ValueView::Int(i) => Value::Int(*i),
            ValueView::Double(d) => Value::Double(*d),
            ValueView::Bytes(s) => Value::Bytes(bytes(s)),
            ValueView::Nested(nodes) => Value::Nested(
                nodes
                    .iter()
                    .map(|n| match n {
                        NodeView::Empty => ValueNode::Empty,
                        NodeView::Str(s) => ValueNode::Str(text(s)),
                        NodeView::Boolean(b) => ValueNode::Boolean(*b),
                        NodeView::Int(i) => ValueNode::Int(*i),
                        NodeView::Double(d) => ValueNode::Double(*d),
                        NodeView::Bytes(s) => ValueNode::Bytes(bytes(s)),
                        NodeView::Array(c) => ValueNode::Array(c.clone()),
                        NodeView::Kvlist(kv) => {
                            ValueNode::Kvlist(kv.iter().map(|(k, c)| (text(k), *c)).collect())
                        }
                    })
                    .collect(),
            ),
        }
    }

    #[test]
    fn edits_apply_in_order_and_drops_apply_last() {
        let mut request = request(4);
        let edits = vec![
            Edit::SetAttribute((Target::Span(3), "a".into(), Value::Str("2".into()))),
            Edit::SetAttribute((Target::Span(3), "b".into(), Value::Int(7))),
            Edit::RenameAttribute((Target::Span(0), "a".into(), "renamed".into())),
            Edit::RemoveAttribute((Target::Span(1), "a".into())),
            Edit::DropSpan(2),
            Edit::SetName((2, "still-indexed-by-the-original-batch".into())),
            Edit::DropEvent((3, 0)),
        ];
        let summary = apply_edits(&mut request, edits).unwrap();
        assert_eq!(
            summary,
            EditSummary {
                applied: 7,
                dropped_spans: 1
            }
        );
        assert_eq!(names(&request), ["span-0", "span-1", "span-3"]);
        let spans: Vec<_> = request.resource_spans[0]
            .scope_spans
            .iter()
            .flat_map(|s| &s.spans)
            .collect();
        assert_eq!(spans[0].attributes[0].key, "renamed");
        assert!(spans[1].attributes.is_empty());
        assert_eq!(spans[2].attributes.len(), 2);
        assert_eq!(spans[2].attributes[0].value, Some(string("2")));
        assert!(spans[2].events.is_empty());
        assert_eq!(spans[2].dropped_events_count, 1);
    }

    #[test]
    fn a_value_nested_too_deep_is_refused_before_anything_applies() {
        // Found in review: the check did not limit depth, the conversion did, and its
        // `expect` panicked the worker on a chain of 66 nested arrays.
        let mut request = request(1);
        let original = request.clone();
        let chain: Vec<ValueNode> = (1..=MAX_NESTING as u32 + 2)
            .map(|next| ValueNode::Array(vec![next]))
            .chain([ValueNode::Int(1)])
            .collect();
        let edits = vec![
            Edit::SetName((0, "renamed".into())),
            Edit::SetAttribute((Target::Span(0), "deep".into(), Value::Nested(chain))),
        ];
        let error = apply_edits(&mut request, edits).unwrap_err();
        assert!(
            error.contains(&format!("deeper than {MAX_NESTING} levels")),
            "{error}"
        );
        assert_eq!(request, original);
    }

    #[test]
    fn the_deepest_value_allowed_decodes_again_wherever_it_is_written() {
        // Key-value lists are the deepest encoding (three messages a level); an event
        // attribute the deepest place. Both the whole request and one resource's spans (what
        // the tail buffer stores) must decode after the edit.
        use prost::Message;
        let mut request = request(1);
        let deepest: Vec<ValueNode> = (1..=MAX_NESTING as u32)
            .map(|next| ValueNode::Kvlist(vec![("k".into(), next)]))
            .chain([ValueNode::Str("leaf".into())])
            .collect();
        let edits = vec![Edit::SetAttribute((
            Target::Event((0, 0)),
            "deep".into(),
            Value::Nested(deepest),
        ))];
        apply_edits(&mut request, edits).unwrap();
        let bytes = request.encode_to_vec();
        let decoded = ExportTraceServiceRequest::decode(bytes.as_slice()).unwrap();
        assert_eq!(decoded, request);
        let resource = request.resource_spans[0].encode_to_vec();
        ResourceSpans::decode(resource.as_slice()).unwrap();
    }

    #[test]
    fn setting_a_duplicated_key_leaves_one_attribute_with_the_new_value() {
        let mut attributes = vec![
            KeyValue {
                key: "user.email".into(),
                value: Some(string("ann@example.com")),
                ..Default::default()
            },
            KeyValue {
                key: "order.id".into(),
                value: Some(string("ord-1")),
                ..Default::default()
            },
            KeyValue {
                key: "user.email".into(),
                value: Some(string("bob@example.com")),
                ..Default::default()
            },
        ];
        set_attribute(
            &mut attributes,
            "user.email".into(),
            string("[REDACTED:email]"),
        );
        let kept: Vec<(&str, &AnyValue)> = attributes
            .iter()
            .map(|kv| (kv.key.as_str(), kv.value.as_ref().unwrap()))
            .collect();
        assert_eq!(
            kept,
            [
                ("user.email", &string("[REDACTED:email]")),
                ("order.id", &string("ord-1"))
            ]
        );
    }

    #[test]
    fn event_indices_refer_to_the_batch_as_sent() {
        // Found by the contract_edits fuzz target: dropping the same event twice, or an
        // event after an earlier one of the same span, removed by shifted indices and
        // panicked the worker.
        let mut request = request(2);
        let events = &mut request.resource_spans[0].scope_spans[1].spans[0].events;
        *events = ["e0", "e1", "e2"]
            .map(|name| otlp::span::Event {
                name: name.into(),
                ..Default::default()
            })
            .to_vec();
        let edits = vec![
            Edit::DropEvent((1, 0)),
            Edit::DropEvent((1, 2)),
            Edit::DropEvent((1, 2)),
            Edit::SetAttribute((Target::Event((1, 1)), "kept".into(), Value::Boolean(true))),
            Edit::SetEventName((1, 1, "renamed e1".into())),
            Edit::SetEventName((1, 2, "renamed, then dropped".into())),
        ];
        apply_edits(&mut request, edits).unwrap();
        let span = &request.resource_spans[0].scope_spans[1].spans[0];
        let names: Vec<_> = span.events.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["renamed e1"]);
        assert_eq!(span.events[0].attributes[0].key, "kept");
        assert_eq!(span.dropped_events_count, 2);
    }

    #[test]
    fn an_edit_on_a_span_range_applies_to_each_span_of_it() {
        let mut request = request(4);
        let range = Target::Spans(Range { start: 1, len: 2 });
        let edits = vec![
            Edit::SetAttribute((range, "env".into(), Value::Str("prod".into()))),
            Edit::RenameAttribute((range, "a".into(), "b".into())),
            Edit::SetAttribute((
                Target::Spans(Range { start: 0, len: 4 }),
                "n".into(),
                Value::Int(1),
            )),
            Edit::RemoveAttribute((Target::Spans(Range { start: 3, len: 1 }), "n".into())),
        ];
        // The output cap counts the bytes once per span the edit applies to.
        assert_eq!(
            output_bytes(&edits),
            (3 + 4) * 2 + (1 + 1) * 2 + (1 + 8) * 4 + 1
        );
        apply_edits(&mut request, edits).unwrap();
        let keys: Vec<Vec<&str>> = request.resource_spans[0]
            .scope_spans
            .iter()
            .flat_map(|ss| &ss.spans)
            .map(|span| span.attributes.iter().map(|kv| kv.key.as_str()).collect())
            .collect();
        assert_eq!(
            keys,
            [
                vec!["a", "n"],
                vec!["env", "b", "n"],
                vec!["env", "b", "n"],
                vec!["a"]
            ]
        );
    }

    #[test]
    fn dropping_every_span_of_a_scope_removes_the_empty_containers() {
        let mut request = request(4);
        apply_edits(&mut request, vec![Edit::DropSpan(0), Edit::DropSpan(1)]).unwrap();
        assert_eq!(request.resource_spans[0].scope_spans.len(), 1);
        apply_edits(&mut request, vec![Edit::DropSpan(0), Edit::DropSpan(1)]).unwrap();
        assert!(request.resource_spans.is_empty());
    }

    #[test]
    fn an_invalid_edit_leaves_the_batch_untouched() {
        let original = request(2);
        for (edit, words) in [
            (Edit::DropSpan(2), "span index 2 is out of range"),
            (Edit::SetName((9, "x".into())), "span index 9"),
            (
                Edit::RemoveAttribute((Target::Resource(1), "a".into())),
                "resource index 1",
            ),
            (Edit::DropEvent((0, 3)), "event index 3"),
            (
                Edit::SetAttribute((Target::Link((0, 0)), "k".into(), Value::Int(1))),
                "link index 0",
            ),
            (
                Edit::SetAttribute((Target::Span(0), String::new(), Value::Int(1))),
                "key is empty",
            ),
            (
                Edit::RemoveAttribute((Target::Spans(Range { start: 1, len: 2 }), "a".into())),
                "span range 1..3 is out of range (batch has 2 spans)",
            ),
            (
                Edit::RemoveAttribute((
                    Target::Spans(Range {
                        start: u32::MAX,
                        len: u32::MAX,
                    }),
                    "a".into(),
                )),
                "is out of range",
            ),
            (
                Edit::SetAttribute((
                    Target::Span(0),
                    "k".into(),
                    Value::Nested(vec![ValueNode::Array(vec![0])]),
                )),
                "not a later node",
            ),
            (
                Edit::SetAttribute((
                    Target::Span(0),
                    "k".into(),
                    Value::Nested(vec![ValueNode::Array(vec![1, 1]), ValueNode::Int(1)]),
                )),
                "more than one parent",
            ),
        ] {
            let mut request = original.clone();
            let edits = vec![Edit::SetName((0, "changed".into())), edit];
            let error = apply_edits(&mut request, edits).unwrap_err();
            assert!(
                error.contains("edit #1") && error.contains(words),
                "{error}"
            );
            assert_eq!(request, original);
        }
    }
}
