//! Recording what a processor changes.

use crate::{Edit, Range, SpanKind, StatusCode, Target, Value};

/// The edits a processor makes to one batch, applied by the host in order.
///
/// Indices are positions in the [`Batch`](crate::Batch) the processor was given.
#[derive(Debug, Default)]
pub struct Edits {
    edits: Vec<Edit>,
}

impl Edits {
    /// An empty edit list.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets attribute `key` on span `span` (replacing an existing value).
    pub fn set_span_attribute(
        &mut self,
        span: usize,
        key: impl Into<String>,
        value: impl Into<Value>,
    ) {
        self.set_attribute(Target::Span(span as u32), key, value);
    }

    /// Sets attribute `key` on each span of `spans` with one edit (what stamping every span
    /// of a batch should use: `0..batch.spans.len()`).
    pub fn set_spans_attribute(
        &mut self,
        spans: std::ops::Range<usize>,
        key: impl Into<String>,
        value: impl Into<Value>,
    ) {
        let range = Range {
            start: spans.start as u32,
            len: spans.len() as u32,
        };
        self.set_attribute(Target::Spans(range), key, value);
    }

    /// Removes attribute `key` from span `span`.
    pub fn remove_span_attribute(&mut self, span: usize, key: impl Into<String>) {
        self.remove_attribute(Target::Span(span as u32), key);
    }

    /// Sets attribute `key` on any target (span, resource, scope, event, link).
    pub fn set_attribute(
        &mut self,
        target: Target,
        key: impl Into<String>,
        value: impl Into<Value>,
    ) {
        self.edits
            .push(Edit::SetAttribute((target, key.into(), value.into())));
    }

    /// Removes attribute `key` from any target.
    pub fn remove_attribute(&mut self, target: Target, key: impl Into<String>) {
        self.edits.push(Edit::RemoveAttribute((target, key.into())));
    }

    /// Renames attribute `from` to `to` on any target, keeping its value.
    pub fn rename_attribute(
        &mut self,
        target: Target,
        from: impl Into<String>,
        to: impl Into<String>,
    ) {
        self.edits
            .push(Edit::RenameAttribute((target, from.into(), to.into())));
    }

    /// Replaces the name of span `span`.
    pub fn set_name(&mut self, span: usize, name: impl Into<String>) {
        self.edits.push(Edit::SetName((span as u32, name.into())));
    }

    /// Replaces the status of span `span`.
    pub fn set_status(&mut self, span: usize, code: StatusCode, message: impl Into<String>) {
        self.edits
            .push(Edit::SetStatus((span as u32, code, message.into())));
    }

    /// Replaces the W3C trace-state of span `span`.
    pub fn set_trace_state(&mut self, span: usize, trace_state: impl Into<String>) {
        self.edits
            .push(Edit::SetTraceState((span as u32, trace_state.into())));
    }

    /// Replaces the kind of span `span`.
    pub fn set_kind(&mut self, span: usize, kind: SpanKind) {
        self.edits.push(Edit::SetKind((span as u32, kind)));
    }

    /// Replaces the name of event `event` of span `span` (counted from 0 within the span).
    /// Needs a host serving contract 0.3.0.
    pub fn set_event_name(&mut self, span: usize, event: usize, name: impl Into<String>) {
        self.edits
            .push(Edit::SetEventName((span as u32, event as u32, name.into())));
    }

    /// Removes event `event` of span `span`.
    pub fn drop_event(&mut self, span: usize, event: usize) {
        self.edits
            .push(Edit::DropEvent((span as u32, event as u32)));
    }

    /// Drops span `span` from the batch.
    pub fn drop_span(&mut self, span: usize) {
        self.edits.push(Edit::DropSpan(span as u32));
    }

    /// Appends a raw edit.
    pub fn push(&mut self, edit: Edit) {
        self.edits.push(edit);
    }

    /// The number of edits recorded.
    pub fn len(&self) -> usize {
        self.edits.len()
    }

    /// Whether no edit was recorded.
    pub fn is_empty(&self) -> bool {
        self.edits.is_empty()
    }

    /// The recorded edits, in order.
    pub fn as_slice(&self) -> &[Edit] {
        &self.edits
    }

    /// Takes the recorded edits out, leaving the list empty.
    pub fn take(&mut self) -> Vec<Edit> {
        std::mem::take(&mut self.edits)
    }
}
