//! The guest's answers as they are lifted: mirror types of the WIT whose strings and lists
//! are [`Budgeted`] (see `super::lift`).
//!
//! The mirror types have the WIT's shapes (wasmtime checks them against the component when
//! the function is looked up) and convert, by moving, into the generated bindings' types the
//! rest of the host uses. Where contract versions differ, each version has its own mirror
//! ([`LiftedEditV0_2`]), converted into the newest.

use wasmtime::component::{ComponentType, Lift};

use super::lift::Budgeted;
use crate::contract::bindings::{
    AttributeSelection, Decision, Edit, Interest, SpanFields, SpanKind, StatusCode, Target, Value,
    ValueNode,
};

/// A string of the guest's answer.
type Text = Budgeted<String>;

/// `value-node`, lifted within the budget.
#[derive(ComponentType, Lift)]
#[component(variant)]
pub enum LiftedNode {
    #[component(name = "empty")]
    Empty,
    #[component(name = "str")]
    Str(Text),
    #[component(name = "boolean")]
    Boolean(bool),
    #[component(name = "int")]
    Int(i64),
    #[component(name = "double")]
    Double(f64),
    #[component(name = "bytes")]
    Bytes(Budgeted<Vec<u8>>),
    #[component(name = "array")]
    Array(Budgeted<Vec<u32>>),
    #[component(name = "kvlist")]
    Kvlist(Budgeted<Vec<(Text, u32)>>),
}

/// `value`, lifted within the budget.
#[derive(ComponentType, Lift)]
#[component(variant)]
pub enum LiftedValue {
    #[component(name = "empty")]
    Empty,
    #[component(name = "str")]
    Str(Text),
    #[component(name = "boolean")]
    Boolean(bool),
    #[component(name = "int")]
    Int(i64),
    #[component(name = "double")]
    Double(f64),
    #[component(name = "bytes")]
    Bytes(Budgeted<Vec<u8>>),
    #[component(name = "nested")]
    Nested(Budgeted<Vec<LiftedNode>>),
}

/// `edit`, lifted within the budget.
#[derive(ComponentType, Lift)]
#[component(variant)]
pub enum LiftedEdit {
    #[component(name = "set-attribute")]
    SetAttribute((Target, Text, LiftedValue)),
    #[component(name = "remove-attribute")]
    RemoveAttribute((Target, Text)),
    #[component(name = "rename-attribute")]
    RenameAttribute((Target, Text, Text)),
    #[component(name = "set-name")]
    SetName((u32, Text)),
    #[component(name = "set-status")]
    SetStatus((u32, StatusCode, Text)),
    #[component(name = "set-trace-state")]
    SetTraceState((u32, Text)),
    #[component(name = "set-kind")]
    SetKind((u32, SpanKind)),
    #[component(name = "set-event-name")]
    SetEventName((u32, u32, Text)),
    #[component(name = "drop-event")]
    DropEvent((u32, u32)),
    #[component(name = "drop-span")]
    DropSpan(u32),
}

/// `processor-error`, lifted within the budget.
#[derive(ComponentType, Lift)]
#[component(record)]
pub struct LiftedError {
    #[component(name = "message")]
    pub message: Text,
}

/// `decision`, lifted within the budget.
#[derive(ComponentType, Lift)]
#[component(record)]
pub struct LiftedDecision {
    #[component(name = "keep")]
    keep: bool,
    #[component(name = "reason")]
    reason: Text,
}

/// `edit` of contract 0.2.0, which has no `set-event-name`, lifted within the budget.
#[derive(ComponentType, Lift)]
#[component(variant)]
pub enum LiftedEditV0_2 {
    #[component(name = "set-attribute")]
    SetAttribute((Target, Text, LiftedValue)),
    #[component(name = "remove-attribute")]
    RemoveAttribute((Target, Text)),
    #[component(name = "rename-attribute")]
    RenameAttribute((Target, Text, Text)),
    #[component(name = "set-name")]
    SetName((u32, Text)),
    #[component(name = "set-status")]
    SetStatus((u32, StatusCode, Text)),
    #[component(name = "set-trace-state")]
    SetTraceState((u32, Text)),
    #[component(name = "set-kind")]
    SetKind((u32, SpanKind)),
    #[component(name = "drop-event")]
    DropEvent((u32, u32)),
    #[component(name = "drop-span")]
    DropSpan(u32),
}

/// What `process` answers, lifted within the budget, with the `edit` of a contract version.
pub type ProcessAnswer<E = LiftedEdit> = Result<Budgeted<Vec<E>>, LiftedError>;

/// What `decide` answers, lifted within the budget.
pub type DecideAnswer = Result<Budgeted<Vec<LiftedDecision>>, LiftedError>;

/// `attribute-selection`, lifted within the budget.
#[derive(ComponentType, Lift)]
#[component(variant)]
pub enum LiftedSelection {
    #[component(name = "none")]
    None,
    #[component(name = "all")]
    All,
    #[component(name = "strings")]
    Strings,
    #[component(name = "keys")]
    Keys(Budgeted<Vec<Text>>),
}

/// `interest`, lifted within the budget.
#[derive(ComponentType, Lift)]
#[component(record)]
pub struct LiftedInterest {
    #[component(name = "span-fields")]
    span_fields: SpanFields,
    #[component(name = "span-attributes")]
    span_attributes: LiftedSelection,
    #[component(name = "event-attributes")]
    event_attributes: LiftedSelection,
    #[component(name = "link-attributes")]
    link_attributes: LiftedSelection,
    #[component(name = "resource-attributes")]
    resource_attributes: LiftedSelection,
    #[component(name = "scope-attributes")]
    scope_attributes: LiftedSelection,
}

/// What `init` answers (processor and policy alike), lifted within the budget.
pub type InitAnswer = Result<LiftedInterest, Text>;

impl From<LiftedSelection> for AttributeSelection {
    fn from(selection: LiftedSelection) -> Self {
        match selection {
            LiftedSelection::None => AttributeSelection::None,
            LiftedSelection::All => AttributeSelection::All,
            LiftedSelection::Strings => AttributeSelection::Strings,
            LiftedSelection::Keys(keys) => {
                AttributeSelection::Keys(keys.0.into_iter().map(|k| k.0).collect())
            }
        }
    }
}

impl From<LiftedInterest> for Interest {
    fn from(interest: LiftedInterest) -> Self {
        Interest {
            span_fields: interest.span_fields,
            span_attributes: interest.span_attributes.into(),
            event_attributes: interest.event_attributes.into(),
            link_attributes: interest.link_attributes.into(),
            resource_attributes: interest.resource_attributes.into(),
            scope_attributes: interest.scope_attributes.into(),
        }
    }
}

impl From<LiftedNode> for ValueNode {
    fn from(node: LiftedNode) -> Self {
        match node {
            LiftedNode::Empty => ValueNode::Empty,
            LiftedNode::Str(s) => ValueNode::Str(s.0),
            LiftedNode::Boolean(b) => ValueNode::Boolean(b),
            LiftedNode::Int(i) => ValueNode::Int(i),
            LiftedNode::Double(d) => ValueNode::Double(d),
            LiftedNode::Bytes(b) => ValueNode::Bytes(b.0),
            LiftedNode::Array(a) => ValueNode::Array(a.0),
            LiftedNode::Kvlist(entries) => {
                ValueNode::Kvlist(entries.0.into_iter().map(|(k, v)| (k.0, v)).collect())
            }
        }
    }
}

impl From<LiftedValue> for Value {
    fn from(value: LiftedValue) -> Self {
        match value {
            LiftedValue::Empty => Value::Empty,
            LiftedValue::Str(s) => Value::Str(s.0),
            LiftedValue::Boolean(b) => Value::Boolean(b),
            LiftedValue::Int(i) => Value::Int(i),
            LiftedValue::Double(d) => Value::Double(d),
            LiftedValue::Bytes(b) => Value::Bytes(b.0),
            LiftedValue::Nested(nodes) => {
                Value::Nested(nodes.0.into_iter().map(ValueNode::from).collect())
            }
        }
    }
}

impl From<LiftedEdit> for Edit {
    fn from(edit: LiftedEdit) -> Self {
        match edit {
            LiftedEdit::SetAttribute((t, k, v)) => Edit::SetAttribute((t, k.0, v.into())),
            LiftedEdit::RemoveAttribute((t, k)) => Edit::RemoveAttribute((t, k.0)),
            LiftedEdit::RenameAttribute((t, from, to)) => Edit::RenameAttribute((t, from.0, to.0)),
            LiftedEdit::SetName((i, s)) => Edit::SetName((i, s.0)),
            LiftedEdit::SetStatus((i, code, s)) => Edit::SetStatus((i, code, s.0)),
            LiftedEdit::SetTraceState((i, s)) => Edit::SetTraceState((i, s.0)),
            LiftedEdit::SetKind((i, kind)) => Edit::SetKind((i, kind)),
            LiftedEdit::SetEventName((i, j, s)) => Edit::SetEventName((i, j, s.0)),
            LiftedEdit::DropEvent(pair) => Edit::DropEvent(pair),
            LiftedEdit::DropSpan(i) => Edit::DropSpan(i),
        }
    }
}

impl From<LiftedEditV0_2> for Edit {
    fn from(edit: LiftedEditV0_2) -> Self {
        Edit::from(match edit {
            LiftedEditV0_2::SetAttribute(e) => LiftedEdit::SetAttribute(e),
            LiftedEditV0_2::RemoveAttribute(e) => LiftedEdit::RemoveAttribute(e),
            LiftedEditV0_2::RenameAttribute(e) => LiftedEdit::RenameAttribute(e),
            LiftedEditV0_2::SetName(e) => LiftedEdit::SetName(e),
            LiftedEditV0_2::SetStatus(e) => LiftedEdit::SetStatus(e),
            LiftedEditV0_2::SetTraceState(e) => LiftedEdit::SetTraceState(e),
            LiftedEditV0_2::SetKind(e) => LiftedEdit::SetKind(e),
            LiftedEditV0_2::DropEvent(e) => LiftedEdit::DropEvent(e),
            LiftedEditV0_2::DropSpan(e) => LiftedEdit::DropSpan(e),
        })
    }
}

impl From<LiftedDecision> for Decision {
    fn from(decision: LiftedDecision) -> Self {
        Decision {
            keep: decision.keep,
            reason: decision.reason.0,
        }
    }
}
