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
#[path = "edits_tests.rs"]
mod tests;
