//! Applying a plugin's edits to the batch: each edit is checked, then becomes a patch over
//! the batch's bytes (see [`crate::pdata::traces::patch`]).

use crate::pdata::Traces;
use crate::pdata::schema::field;
use crate::pdata::traces::patch::AttributesOf;
use crate::pdata::wire::{put_bytes, put_fixed64, put_message, put_varint_field};

use super::bindings::{Edit, SpanKind, StatusCode, Target, Value, ValueNode};

/// What the edits did, for counting.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct EditSummary {
    /// Edits applied.
    pub applied: usize,
    /// Spans dropped.
    pub dropped_spans: usize,
}

/// Why an edit was refused. Indices are positions in the view the plugin was sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EditProblem {
    /// A span index past the batch.
    #[error("span index {index} is out of range (batch has {spans} spans)")]
    SpanOutOfRange {
        /// The index.
        index: u32,
        /// The spans in the batch.
        spans: usize,
    },
    /// A range of spans reaching past the batch.
    #[error("span range {start}..{end} is out of range (batch has {spans} spans)")]
    SpanRangeOutOfRange {
        /// The first span.
        start: u32,
        /// One past the last.
        end: u64,
        /// The spans in the batch.
        spans: usize,
    },
    /// A resource index past the batch.
    #[error("resource index {0} is out of range")]
    ResourceOutOfRange(u32),
    /// A scope index past the batch.
    #[error("scope index {0} is out of range")]
    ScopeOutOfRange(u32),
    /// An event index past the span's events.
    #[error("event index {event} is out of range for span {span}")]
    EventOutOfRange {
        /// The span.
        span: u32,
        /// The event.
        event: u32,
    },
    /// A link index past the span's links.
    #[error("link index {link} is out of range for span {span}")]
    LinkOutOfRange {
        /// The span.
        span: u32,
        /// The link.
        link: u32,
    },
    /// An attribute set with an empty key.
    #[error("attribute key is empty")]
    EmptyKey,
    /// An attribute renamed to an empty key.
    #[error("new attribute key is empty")]
    EmptyNewKey,
    /// A nested value with no nodes.
    #[error("nested value has no root node")]
    NoRoot,
    /// A nested value whose node points back (which could make a cycle).
    #[error("nested value node {node} points to node {child}, which is not a later node")]
    NotForward {
        /// The parent node.
        node: usize,
        /// The child it names.
        child: usize,
    },
    /// A nested value node with two parents (which could expand exponentially).
    #[error("nested value node {0} has more than one parent")]
    TwoParents(usize),
    /// A nested value deeper than [`MAX_NESTING`].
    #[error("nested value is deeper than {MAX_NESTING} levels")]
    TooDeep,
}

/// An edit refused, and which one: the batch was left untouched.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("edit #{edit}: {problem}")]
pub struct EditError {
    /// The edit's position in the plugin's answer.
    pub edit: usize,
    /// What is wrong with it.
    pub problem: EditProblem,
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

/// Applies `edits` to `batch`. Every edit is checked before any is applied, so an invalid
/// edit leaves the batch untouched. Dropped spans leave the batch's index (so the next view
/// numbers what is left without gaps).
pub fn apply_edits(batch: &mut Traces, edits: Vec<Edit>) -> Result<EditSummary, EditError> {
    if edits.is_empty() {
        return Ok(EditSummary::default());
    }
    for (n, edit) in edits.iter().enumerate() {
        check(batch, edit).map_err(|problem| EditError { edit: n, problem })?;
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
                // Written once; every span of a range refers to the same bytes.
                let attribute = batch.append_key_value(&key, |out| write_value(out, &value));
                each_owner(&target, |owner| batch.attributes_mut(owner).set(attribute));
            }
            Edit::RemoveAttribute((target, key)) => {
                each_owner(&target, |owner| batch.attributes_mut(owner).remove(&key));
            }
            Edit::RenameAttribute((target, from, to)) => {
                each_owner(&target, |owner| {
                    batch.attributes_mut(owner).rename(&from, &to)
                });
            }
            Edit::SetName((span, name)) => batch.set_span_name(span as usize, &name),
            Edit::SetStatus((span, code, message)) => {
                batch.set_status(span as usize, status_code(code), &message)
            }
            Edit::SetTraceState((span, state)) => batch.set_trace_state(span as usize, &state),
            Edit::SetKind((span, kind)) => batch.set_kind(span as usize, kind_code(kind)),
            Edit::SetEventName((span, event, name)) => {
                // Checked, and event drops apply last: the index is the event as sent.
                batch.set_event_name(span as usize, event as usize, &name)
            }
            Edit::DropEvent(at) => dropped_events.push(at),
            Edit::DropSpan(span) => dropped.push(span),
        }
    }
    // Event drops apply after every other edit, so every index an edit names refers to the
    // batch as it was sent (as span drops do); dropping an event twice drops it once.
    dropped_events.sort_unstable();
    dropped_events.dedup();
    for group in dropped_events.chunk_by(|a, b| a.0 == b.0) {
        let events: Vec<usize> = group.iter().map(|&(_, e)| e as usize).collect();
        batch.drop_events(group[0].0 as usize, &events);
    }
    for span in dropped {
        if batch.drop_span(span as usize) {
            summary.dropped_spans += 1;
        }
    }
    batch.compact();
    Ok(summary)
}

fn check(batch: &Traces, edit: &Edit) -> Result<(), EditProblem> {
    let spans = batch.indexed_spans();
    let span_exists = |index: u32| {
        if (index as usize) < spans {
            Ok(())
        } else {
            Err(EditProblem::SpanOutOfRange { index, spans })
        }
    };
    match edit {
        Edit::SetAttribute((target, key, value)) => {
            check_target(batch, target)?;
            if key.is_empty() {
                return Err(EditProblem::EmptyKey);
            }
            check_value(value)
        }
        Edit::RemoveAttribute((target, _)) => check_target(batch, target),
        Edit::RenameAttribute((target, _, to)) => {
            check_target(batch, target)?;
            if to.is_empty() {
                Err(EditProblem::EmptyNewKey)
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
            if (*event as usize) < batch.event_count(*span as usize) {
                Ok(())
            } else {
                Err(EditProblem::EventOutOfRange {
                    span: *span,
                    event: *event,
                })
            }
        }
        Edit::DropSpan(span) => span_exists(*span),
    }
}

fn check_target(batch: &Traces, target: &Target) -> Result<(), EditProblem> {
    let spans = batch.indexed_spans();
    let span = |index: u32| {
        if (index as usize) < spans {
            Ok(index as usize)
        } else {
            Err(EditProblem::SpanOutOfRange { index, spans })
        }
    };
    match target {
        Target::Span(i) => span(*i).map(|_| ()),
        Target::Resource(i) if (*i as usize) < batch.indexed_resources() => Ok(()),
        Target::Resource(i) => Err(EditProblem::ResourceOutOfRange(*i)),
        Target::Scope(i) if (*i as usize) < batch.indexed_scopes() => Ok(()),
        Target::Scope(i) => Err(EditProblem::ScopeOutOfRange(*i)),
        Target::Event((s, e)) => {
            if (*e as usize) < batch.event_count(span(*s)?) {
                Ok(())
            } else {
                Err(EditProblem::EventOutOfRange {
                    span: *s,
                    event: *e,
                })
            }
        }
        Target::Link((s, l)) => {
            if (*l as usize) < batch.link_count(span(*s)?) {
                Ok(())
            } else {
                Err(EditProblem::LinkOutOfRange { span: *s, link: *l })
            }
        }
        Target::Spans(range) => {
            let end = u64::from(range.start) + u64::from(range.len);
            if end <= spans as u64 {
                Ok(())
            } else {
                Err(EditProblem::SpanRangeOutOfRange {
                    start: range.start,
                    end,
                    spans,
                })
            }
        }
    }
}

/// Calls `f` with each attribute owner `target` names (one, or each span of a range).
fn each_owner(target: &Target, mut f: impl FnMut(AttributesOf)) {
    match *target {
        Target::Span(s) => f(AttributesOf::Span(s as usize)),
        Target::Spans(range) => {
            for s in range.start..range.start + range.len {
                f(AttributesOf::Span(s as usize));
            }
        }
        Target::Resource(r) => f(AttributesOf::Resource(r as usize)),
        Target::Scope(s) => f(AttributesOf::Scope(s as usize)),
        Target::Event((s, e)) => f(AttributesOf::Event(s as usize, e as usize)),
        Target::Link((s, l)) => f(AttributesOf::Link(s as usize, l as usize)),
    }
}

/// Writes a contract value as the content of an OTLP `AnyValue` (checked: nested values
/// are trees whose children come after their parents).
pub fn write_value(out: &mut Vec<u8>, value: &Value) {
    use field::any_value::*;
    match value {
        Value::Empty => {}
        Value::Str(s) => put_bytes(out, STRING, s.as_bytes()),
        Value::Boolean(b) => put_varint_field(out, BOOL, u64::from(*b)),
        Value::Int(i) => put_varint_field(out, INT, *i as u64),
        Value::Double(d) => put_fixed64(out, DOUBLE, d.to_bits()),
        Value::Bytes(b) => put_bytes(out, BYTES, b),
        Value::Nested(nodes) => write_node(out, nodes, 0),
    }
}

fn write_node(out: &mut Vec<u8>, nodes: &[ValueNode], index: usize) {
    use field::any_value::*;
    let Some(node) = nodes.get(index) else {
        return;
    };
    match node {
        ValueNode::Empty => {}
        ValueNode::Str(s) => put_bytes(out, STRING, s.as_bytes()),
        ValueNode::Boolean(b) => put_varint_field(out, BOOL, u64::from(*b)),
        ValueNode::Int(i) => put_varint_field(out, INT, *i as u64),
        ValueNode::Double(d) => put_fixed64(out, DOUBLE, d.to_bits()),
        ValueNode::Bytes(b) => put_bytes(out, BYTES, b),
        ValueNode::Array(children) => put_message(out, ARRAY, |out| {
            for &child in children {
                put_message(out, field::list::VALUES, |out| {
                    write_node(out, nodes, child as usize)
                });
            }
        }),
        ValueNode::Kvlist(entries) => put_message(out, KVLIST, |out| {
            for (key, child) in entries {
                put_message(out, field::list::VALUES, |out| {
                    put_bytes(out, field::key_value::KEY, key.as_bytes());
                    put_message(out, field::key_value::VALUE, |out| {
                        write_node(out, nodes, *child as usize)
                    });
                });
            }
        }),
    }
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
fn check_value(value: &Value) -> Result<(), EditProblem> {
    let Value::Nested(nodes) = value else {
        return Ok(());
    };
    if nodes.is_empty() {
        return Err(EditProblem::NoRoot);
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
                return Err(EditProblem::NotForward {
                    node: index,
                    child: c,
                });
            }
            if std::mem::replace(&mut has_parent[c], true) {
                return Err(EditProblem::TwoParents(c));
            }
            depth[c] = depth[index] + 1;
            if depth[c] > MAX_NESTING {
                return Err(EditProblem::TooDeep);
            }
        }
    }
    Ok(())
}

fn status_code(code: StatusCode) -> i32 {
    match code {
        StatusCode::Unset => 0,
        StatusCode::Ok => 1,
        StatusCode::Error => 2,
    }
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
    use crate::contract::bindings::{
        Interest, NodeView, Range, Slice, SpanFields, Value, ValueView,
    };
    use crate::contract::{build_view, no_interest};
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::common::v1::{
        AnyValue, ArrayValue, KeyValue, KeyValueList, any_value,
    };
    use opentelemetry_proto::tonic::trace::v1::{self as otlp, ResourceSpans, ScopeSpans};

    /// Applies `edits` to `request` as the pipeline does (to its bytes), and reads it back.
    fn apply_edits(
        request: &mut ExportTraceServiceRequest,
        edits: Vec<Edit>,
    ) -> Result<EditSummary, EditError> {
        let mut batch = Traces::from_request(request);
        let outcome = super::apply_edits(&mut batch, edits);
        *request = batch.to_request();
        outcome
    }

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
            span_attributes: crate::contract::bindings::AttributeSelection::All,
            ..no_interest()
        };
        let view = build_view(&Traces::from_request(&request), &interest);
        let seen = &view.attributes[view.spans[0].attributes.start as usize];
        assert_eq!(view.keys[seen.key as usize], "a");
        let written = resolve(&seen.value, &view.arena);
        let edit = Edit::SetAttribute((Target::Span(0), "copy".into(), written));
        apply_edits(&mut request, vec![edit]).unwrap();
        let span = &request.resource_spans[0].scope_spans[1].spans[0];
        assert_eq!(span.attributes[1].key, "copy");
        assert_eq!(span.attributes[1].value, Some(nested));
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
        assert_eq!(error.problem, EditProblem::TooDeep);
        assert!(
            error
                .to_string()
                .contains(&format!("deeper than {MAX_NESTING} levels")),
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
        let attribute = |key: &str, value: &str| KeyValue {
            key: key.into(),
            value: Some(string(value)),
            ..Default::default()
        };
        let mut request = request(1);
        request.resource_spans[0].scope_spans[1].spans[0].attributes = vec![
            attribute("user.email", "ann@example.com"),
            attribute("order.id", "ord-1"),
            attribute("user.email", "bob@example.com"),
        ];
        let edit = Edit::SetAttribute((
            Target::Span(0),
            "user.email".into(),
            Value::Str("[REDACTED:email]".into()),
        ));
        apply_edits(&mut request, vec![edit]).unwrap();
        let kept: Vec<(&str, &AnyValue)> = request.resource_spans[0].scope_spans[1].spans[0]
            .attributes
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
            assert_eq!(error.edit, 1);
            assert!(error.to_string().contains(words), "{error}");
            assert_eq!(request, original);
        }
    }
}
