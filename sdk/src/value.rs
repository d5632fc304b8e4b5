//! Reading attribute keys and values out of a batch view, and writing values in edits.

use crate::{
    AttributeView, Batch, Event, Link, NodeView, Range, Slice, Span, Value, ValueNode, ValueView,
};

/// An attribute value borrowed from a batch view.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ValueRef<'a> {
    /// An empty value.
    Empty,
    /// A string.
    Str(&'a str),
    /// A boolean.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A float.
    Double(f64),
    /// Bytes.
    Bytes(&'a [u8]),
    /// An array or key-value list: the flattened nodes (node 0 is the root) and the arena
    /// their strings live in.
    Nested(&'a [NodeView], &'a Batch),
}

impl<'a> ValueRef<'a> {
    /// The string, if this is a string value.
    pub fn as_str(&self) -> Option<&'a str> {
        match self {
            ValueRef::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The integer, if this is an integer value.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            ValueRef::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// An owned copy, ready to write back in an edit (e.g. to copy a value to another key).
    pub fn to_value(&self) -> Value {
        match *self {
            ValueRef::Empty => Value::Empty,
            ValueRef::Str(s) => Value::Str(s.to_owned()),
            ValueRef::Bool(b) => Value::Boolean(b),
            ValueRef::Int(i) => Value::Int(i),
            ValueRef::Double(d) => Value::Double(d),
            ValueRef::Bytes(b) => Value::Bytes(b.to_vec()),
            ValueRef::Nested(nodes, batch) => Value::Nested(
                nodes
                    .iter()
                    .map(|node| match node {
                        NodeView::Empty => ValueNode::Empty,
                        NodeView::Str(s) => ValueNode::Str(batch.text(*s).to_owned()),
                        NodeView::Boolean(b) => ValueNode::Boolean(*b),
                        NodeView::Int(i) => ValueNode::Int(*i),
                        NodeView::Double(d) => ValueNode::Double(*d),
                        NodeView::Bytes(s) => ValueNode::Bytes(batch.bytes(*s).to_vec()),
                        NodeView::Array(children) => ValueNode::Array(children.clone()),
                        NodeView::Kvlist(entries) => ValueNode::Kvlist(
                            entries
                                .iter()
                                .map(|(k, c)| (batch.text(*k).to_owned(), *c))
                                .collect(),
                        ),
                    })
                    .collect(),
            ),
        }
    }
}

/// An attribute borrowed from a batch view.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Attr<'a> {
    /// The key.
    pub key: &'a str,
    /// The value.
    pub value: ValueRef<'a>,
}

impl Batch {
    /// The UTF-8 text of an arena slice (empty if the slice is out of range or not UTF-8,
    /// which the host never sends).
    #[inline]
    pub fn text(&self, slice: Slice) -> &str {
        std::str::from_utf8(self.bytes(slice)).unwrap_or_default()
    }

    /// The bytes of an arena slice (empty if out of range).
    #[inline]
    pub fn bytes(&self, slice: Slice) -> &[u8] {
        let start = slice.offset as usize;
        self.arena
            .get(start..start + slice.len as usize)
            .unwrap_or_default()
    }

    /// The key of an attribute.
    #[inline]
    pub fn key(&self, attribute: &AttributeView) -> &str {
        self.keys
            .get(attribute.key as usize)
            .map(String::as_str)
            .unwrap_or_default()
    }

    /// The value of an attribute.
    #[inline]
    pub fn value<'a>(&'a self, value: &'a ValueView) -> ValueRef<'a> {
        match value {
            ValueView::Empty => ValueRef::Empty,
            ValueView::Str(s) => ValueRef::Str(self.text(*s)),
            ValueView::Boolean(b) => ValueRef::Bool(*b),
            ValueView::Int(i) => ValueRef::Int(*i),
            ValueView::Double(d) => ValueRef::Double(*d),
            ValueView::Bytes(s) => ValueRef::Bytes(self.bytes(*s)),
            ValueView::Nested(nodes) => ValueRef::Nested(nodes, self),
        }
    }

    /// The attributes in `range` of `batch.attributes` (a span's, resource's, event's, ...).
    pub fn attributes(&self, range: Range) -> impl Iterator<Item = Attr<'_>> + '_ {
        self.attributes[items(range, self.attributes.len())]
            .iter()
            .map(move |a| Attr {
                key: self.key(a),
                value: self.value(&a.value),
            })
    }

    /// The value of attribute `key` among the attributes in `range`, if present.
    pub fn attribute(&self, range: Range, key: &str) -> Option<ValueRef<'_>> {
        self.attributes(range)
            .find(|a| a.key == key)
            .map(|a| a.value)
    }

    /// The events in `range` of `batch.events` (a span's).
    pub fn events(&self, range: Range) -> &[Event] {
        &self.events[items(range, self.events.len())]
    }

    /// The links in `range` of `batch.links` (a span's).
    pub fn links(&self, range: Range) -> &[Link] {
        &self.links[items(range, self.links.len())]
    }

    /// The `service.name` resource attribute of `span`, if the view carries it.
    pub fn service_name(&self, span: &Span) -> Option<&str> {
        let scope = self.scopes.get(span.scope as usize)?;
        let resource = self.resources.get(scope.resource as usize)?;
        self.attribute(resource.attributes, "service.name")?
            .as_str()
    }
}

/// The index range of `range`, clamped to a list of `len` items.
fn items(range: Range, len: usize) -> std::ops::Range<usize> {
    let start = (range.start as usize).min(len);
    start..(start + range.len as usize).min(len)
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Str(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Str(s)
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Value::Int(i)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Boolean(b)
    }
}

impl From<f64> for Value {
    fn from(d: f64) -> Self {
        Value::Double(d)
    }
}

impl From<ValueRef<'_>> for Value {
    fn from(value: ValueRef<'_>) -> Self {
        value.to_value()
    }
}
