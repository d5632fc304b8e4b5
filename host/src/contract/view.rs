//! Building the batch view a plugin asked for from the batch's bytes.

use std::collections::HashMap;

use crate::pdata::Traces;

use super::packed::PackedRows;
use super::tables::{Counts, Owner, Records, Tables};

use super::bindings::{
    Batch, Event, Interest, Link, Range, Resource, Scope, Slice, Span, SpanFields, SpanKind,
    Status, StatusCode, TraceId,
};

/// Builds the view of `request` that `interest` asks for.
pub fn build_view(request: &Traces, interest: &Interest) -> Batch {
    let mut view = empty_view();
    build_view_into(request, interest, &mut view);
    view
}

/// A view with nothing in it and no storage: the starting point of a view reused with
/// [`build_view_into`].
pub fn empty_view() -> Batch {
    Batch {
        keys: Vec::new(),
        arena: Vec::new(),
        attributes: Vec::new(),
        events: Vec::new(),
        links: Vec::new(),
        resources: Vec::new(),
        scopes: Vec::new(),
        spans: Vec::new(),
        packed: Vec::new(),
    }
}

/// [`build_view`] into `view`, replacing what it held but keeping its storage: a worker that
/// builds every batch's view in the same `Batch` stops allocating (and page-faulting) its
/// arena, tables and packed rows once they have grown to its batches' size.
///
/// A packed view is written in one pass: each resource, scope, span, event, link and
/// attribute goes straight into its row, without a record list in between.
pub fn build_view_into(request: &Traces, interest: &Interest, view: &mut Batch) {
    let mut batch = std::mem::replace(view, empty_view());
    clear(&mut batch);
    let planned = planned_counts(request, interest.span_fields);
    *view = if interest.span_fields.contains(SpanFields::PACKED) {
        let rows = PackedRows::new(std::mem::take(&mut batch.packed), planned);
        let (mut batch, rows) = ViewBuilder::new(interest, batch, rows).walk(request);
        batch.packed = rows.finish();
        batch
    } else {
        batch.resources.reserve(planned.resources as usize);
        batch.scopes.reserve(planned.scopes as usize);
        batch.spans.reserve(planned.spans as usize);
        batch.events.reserve(planned.events as usize);
        batch.links.reserve(planned.links as usize);
        ViewBuilder::new(interest, batch, Records).walk(request).0
    };
}

/// Empties every list of `view`, keeping their storage.
fn clear(view: &mut Batch) {
    view.keys.clear();
    view.arena.clear();
    view.attributes.clear();
    view.events.clear();
    view.links.clear();
    view.resources.clear();
    view.scopes.clear();
    view.spans.clear();
    view.packed.clear();
}

/// The resources, scopes, spans, events and links the view of `request` will hold with
/// `fields` (events and links only when asked for); `attributes` is left at 0.
fn planned_counts(request: &Traces, fields: SpanFields) -> Counts {
    let (events, links) = (
        fields.contains(SpanFields::EVENTS),
        fields.contains(SpanFields::LINKS),
    );
    let mut counts = Counts {
        resources: request.indexed_resources() as u32,
        scopes: request.indexed_scopes() as u32,
        spans: request.indexed_spans() as u32,
        ..Counts::default()
    };
    if events || links {
        for span in 0..request.indexed_spans() {
            counts.events += if events {
                request.event_count(span) as u32
            } else {
                0
            };
            counts.links += if links {
                request.link_count(span) as u32
            } else {
                0
            };
        }
    }
    counts
}

/// Walks a request once, gathering the key table and the arena in the `Batch` and handing
/// every item to its [`Tables`].
struct ViewBuilder<'a, T> {
    interest: &'a Interest,
    keys: HashMap<&'a str, u32>,
    /// The keys of the previous attribute list, by position: spans of a batch tend to carry
    /// the same keys in the same order, so most look-ups end here without hashing.
    previous_keys: Vec<(&'a str, u32)>,
    batch: Batch,
    tables: T,
    /// The items handed to `tables` so far: the index of the next one of each table.
    counts: Counts,
}

const EMPTY_SLICE: Slice = Slice { offset: 0, len: 0 };
const EMPTY_RANGE: Range = Range { start: 0, len: 0 };

impl<'a, T: Tables> ViewBuilder<'a, T> {
    fn new(interest: &'a Interest, batch: Batch, tables: T) -> Self {
        ViewBuilder {
            interest,
            keys: HashMap::new(),
            previous_keys: Vec::new(),
            batch,
            tables,
            counts: Counts::default(),
        }
    }

    /// Hands every item of `request` to the tables; returns the batch (keys, arena, and
    /// whatever the tables put in it) and the tables.
    fn walk(mut self, request: &'a Traces) -> (Batch, T) {
        let interest = self.interest;
        let storage = request.storage();
        for resource_index in 0..request.indexed_resources() {
            let fields = request.resource(resource_index);
            let resource = Resource {
                attributes: self.select(
                    request,
                    request.resource_attributes(resource_index),
                    &interest.resource_attributes,
                    Owner::Resource,
                    resource_index as u32,
                ),
                dropped_attributes_count: fields.dropped_attributes_count,
                schema_url: self.slice(storage.bytes(fields.schema_url)),
            };
            self.tables.resource(&mut self.batch, resource);
            self.counts.resources += 1;
            for scope_index in request.scopes_of(resource_index) {
                let fields = request.scope(scope_index);
                let scope = Scope {
                    resource: resource_index as u32,
                    name: self.slice(storage.bytes(fields.name)),
                    version: self.slice(storage.bytes(fields.version)),
                    attributes: self.select(
                        request,
                        request.scope_attributes(scope_index),
                        &interest.scope_attributes,
                        Owner::Scope,
                        scope_index as u32,
                    ),
                    dropped_attributes_count: fields.dropped_attributes_count,
                    schema_url: self.slice(storage.bytes(fields.schema_url)),
                };
                self.tables.scope(&mut self.batch, scope);
                self.counts.scopes += 1;
                for span_index in request.spans_of(scope_index) {
                    let span = self.span(request, span_index, scope_index as u32);
                    self.tables.span(&mut self.batch, span);
                    self.counts.spans += 1;
                }
            }
        }
        (self.batch, self.tables)
    }

    /// The span's record; its events, links and attributes are handed to the tables.
    fn span(&mut self, request: &'a Traces, span_index: usize, scope: u32) -> Span {
        let storage = request.storage();
        let span = request.span(span_index);
        let interest = self.interest;
        let fields = interest.span_fields;
        let has = |f: SpanFields| fields.contains(f);
        let ids = has(SpanFields::IDS);
        let counts = has(SpanFields::DROPPED_COUNTS);
        let status = has(SpanFields::STATUS);
        let index = self.counts.spans;
        Span {
            scope,
            trace_id: if ids {
                trace_id(storage.bytes(span.trace_id))
            } else {
                TraceId { high: 0, low: 0 }
            },
            span_id: if ids {
                span_id(storage.bytes(span.span_id))
            } else {
                0
            },
            parent_span_id: if ids {
                span_id(storage.bytes(span.parent_span_id))
            } else {
                0
            },
            trace_state: if has(SpanFields::TRACE_STATE) {
                self.slice(storage.bytes(span.trace_state))
            } else {
                EMPTY_SLICE
            },
            name: if has(SpanFields::NAME) {
                self.slice(storage.bytes(span.name))
            } else {
                EMPTY_SLICE
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
            attributes: self.select(
                request,
                request.span_attributes(span_index),
                &interest.span_attributes,
                Owner::Span,
                index,
            ),
            dropped_attributes_count: if counts {
                span.dropped_attributes_count
            } else {
                0
            },
            events: if has(SpanFields::EVENTS) {
                self.events(request, span_index, counts, index)
            } else {
                EMPTY_RANGE
            },
            dropped_events_count: if counts { span.dropped_events_count } else { 0 },
            links: if has(SpanFields::LINKS) {
                self.links(request, span_index, counts, index)
            } else {
                EMPTY_RANGE
            },
            dropped_links_count: if counts { span.dropped_links_count } else { 0 },
            status: if status {
                Status {
                    code: status_code(span.status_code),
                    message: self.slice(storage.bytes(span.status_message)),
                }
            } else {
                Status {
                    code: StatusCode::Unset,
                    message: EMPTY_SLICE,
                }
            },
            flags: if has(SpanFields::FLAGS) {
                span.flags
            } else {
                0
            },
        }
    }

    /// Hands the events of span `span` to the tables; returns their range.
    fn events(&mut self, request: &'a Traces, span_index: usize, counts: bool, span: u32) -> Range {
        let start = self.counts.events;
        let storage = request.storage();
        request.each_event(span_index, |fields, attributes| {
            let event = Event {
                time_unix_nano: fields.time_unix_nano,
                name: self.slice(storage.bytes(fields.name)),
                attributes: self.select(
                    request,
                    attributes,
                    &self.interest.event_attributes,
                    Owner::Event,
                    self.counts.events,
                ),
                dropped_attributes_count: if counts {
                    fields.dropped_attributes_count
                } else {
                    0
                },
            };
            self.tables.event(&mut self.batch, event, span);
            self.counts.events += 1;
        });
        Range {
            start,
            len: self.counts.events - start,
        }
    }

    /// Hands the links of span `span` to the tables; returns their range.
    fn links(&mut self, request: &'a Traces, span_index: usize, counts: bool, span: u32) -> Range {
        let start = self.counts.links;
        let storage = request.storage();
        request.each_link(span_index, |fields, attributes| {
            let link = Link {
                trace_id: trace_id(storage.bytes(fields.trace_id)),
                span_id: span_id(storage.bytes(fields.span_id)),
                trace_state: self.slice(storage.bytes(fields.trace_state)),
                attributes: self.select(
                    request,
                    attributes,
                    &self.interest.link_attributes,
                    Owner::Link,
                    self.counts.links,
                ),
                dropped_attributes_count: if counts {
                    fields.dropped_attributes_count
                } else {
                    0
                },
                flags: fields.flags,
            };
            self.tables.link(&mut self.batch, link, span);
            self.counts.links += 1;
        });
        Range {
            start,
            len: self.counts.links - start,
        }
    }
}

#[path = "view_values.rs"]
mod values;

pub use values::{span_id, trace_id};
use values::{span_kind, status_code};

#[cfg(test)]
#[path = "view_tests.rs"]
mod tests;
