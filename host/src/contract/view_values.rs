//! The values of a view: attributes selected into the tables, keys and strings copied into
//! the arena once, nested values flattened into nodes; and the conversions of ids and enums.

use crate::pdata::Traces;
use crate::pdata::traces::read::{AnyValue, Attrs, any_value, key_value, list_items};

use super::super::bindings::{
    AttributeSelection, AttributeView, NodeView, Range, Slice, SpanKind, StatusCode, TraceId,
    ValueView,
};
use super::super::tables::{Owner, Tables};
use super::{EMPTY_SLICE, ViewBuilder};

impl<'a, T: Tables> ViewBuilder<'a, T> {
    /// Hands the attributes that `selection` lets through to the tables, as belonging to item
    /// `index` of the `owner` table; returns their range.
    pub(super) fn select(
        &mut self,
        request: &'a Traces,
        attributes: Attrs<'a>,
        selection: &AttributeSelection,
        owner: Owner,
        index: u32,
    ) -> Range {
        let start = self.counts.attributes;
        if matches!(selection, AttributeSelection::None) {
            return Range { start, len: 0 };
        }
        let storage = request.storage();
        for (position, attribute) in attributes.enumerate() {
            let key = storage.text(attribute.key);
            let value = any_value(storage, attribute.value);
            let keep = match selection {
                AttributeSelection::None => false,
                AttributeSelection::All => true,
                AttributeSelection::Strings => matches!(value, AnyValue::Str(_)),
                AttributeSelection::Keys(keys) => keys.iter().any(|k| k == key),
            };
            if keep {
                let key = self.key(position, key);
                let value = self.value(request, value);
                let attribute = AttributeView { key, value };
                self.tables
                    .attribute(&mut self.batch, attribute, owner, index);
                self.counts.attributes += 1;
            }
        }
        Range {
            start,
            len: self.counts.attributes - start,
        }
    }

    pub(super) fn key(&mut self, position: usize, key: &'a str) -> u32 {
        if let Some((previous, index)) = self.previous_keys.get(position)
            && *previous == key
        {
            return *index;
        }
        let index = match self.keys.get(key) {
            Some(&index) => index,
            None => {
                let index = self.batch.keys.len() as u32;
                self.batch.keys.push(key.to_owned());
                self.keys.insert(key, index);
                index
            }
        };
        if position < self.previous_keys.len() {
            self.previous_keys[position] = (key, index);
        } else if position == self.previous_keys.len() {
            self.previous_keys.push((key, index));
        }
        index
    }

    pub(super) fn slice(&mut self, bytes: &[u8]) -> Slice {
        if bytes.is_empty() {
            return EMPTY_SLICE;
        }
        let offset = self.batch.arena.len() as u32;
        self.batch.arena.extend_from_slice(bytes);
        Slice {
            offset,
            len: bytes.len() as u32,
        }
    }

    pub(super) fn value(&mut self, request: &'a Traces, value: AnyValue) -> ValueView {
        let storage = request.storage();
        match value {
            AnyValue::Empty => ValueView::Empty,
            AnyValue::Str(at) => ValueView::Str(self.slice(storage.bytes(at))),
            AnyValue::Bool(b) => ValueView::Boolean(b),
            AnyValue::Int(i) => ValueView::Int(i),
            AnyValue::Double(d) => ValueView::Double(d),
            AnyValue::Bytes(at) => ValueView::Bytes(self.slice(storage.bytes(at))),
            nested @ (AnyValue::Array(_) | AnyValue::Kvlist(_)) => {
                let mut nodes = Vec::new();
                self.flatten(request, nested, &mut nodes);
                ValueView::Nested(nodes)
            }
        }
    }

    /// Appends `value` and its descendants to `nodes`, returning the index of `value`.
    pub(super) fn flatten(
        &mut self,
        request: &'a Traces,
        value: AnyValue,
        nodes: &mut Vec<NodeView>,
    ) -> u32 {
        let storage = request.storage();
        let index = nodes.len();
        nodes.push(NodeView::Empty);
        let node = match value {
            AnyValue::Empty => NodeView::Empty,
            AnyValue::Str(at) => NodeView::Str(self.slice(storage.bytes(at))),
            AnyValue::Bool(b) => NodeView::Boolean(b),
            AnyValue::Int(i) => NodeView::Int(i),
            AnyValue::Double(d) => NodeView::Double(d),
            AnyValue::Bytes(at) => NodeView::Bytes(self.slice(storage.bytes(at))),
            AnyValue::Array(list) => {
                let children = list_items(storage, list)
                    .map(|element| self.flatten(request, any_value(storage, Some(element)), nodes))
                    .collect();
                NodeView::Array(children)
            }
            AnyValue::Kvlist(list) => {
                let mut children = Vec::new();
                for entry in list_items(storage, list) {
                    let (key, value) = key_value(storage, entry);
                    let key = self.slice(storage.bytes(key));
                    children.push((key, self.flatten(request, any_value(storage, value), nodes)));
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
        Ok(b) => {
            let id = u128::from_be_bytes(b);
            TraceId {
                high: (id >> 64) as u64,
                low: id as u64,
            }
        }
        Err(_) => TraceId { high: 0, low: 0 },
    }
}

/// An 8-byte span id as a big-endian integer; empty (no parent) or malformed reads as zero.
pub fn span_id(bytes: &[u8]) -> u64 {
    <[u8; 8]>::try_from(bytes)
        .map(u64::from_be_bytes)
        .unwrap_or(0)
}

pub(super) fn span_kind(kind: i32) -> SpanKind {
    match kind {
        1 => SpanKind::Internal,
        2 => SpanKind::Server,
        3 => SpanKind::Client,
        4 => SpanKind::Producer,
        5 => SpanKind::Consumer,
        _ => SpanKind::Unspecified,
    }
}

pub(super) fn status_code(code: i32) -> StatusCode {
    match code {
        1 => StatusCode::Ok,
        2 => StatusCode::Error,
        _ => StatusCode::Unset,
    }
}
