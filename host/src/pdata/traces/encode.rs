//! Writing a batch as an `ExportTraceServiceRequest`: what nothing changed is copied as it
//! arrived, field by field; only patched spans, scopes and resources are written anew.

use crate::pdata::schema::field;
use crate::pdata::storage::Storage;
use crate::pdata::wire::{Loc, put_bytes, put_key, put_message, put_varint, varint_len};

use super::patch::{EventItem, SpanPatch, write_status};
use super::read::{Attr, fields};
use super::{ResourceEntry, ScopeEntry, Traces};

impl Traces {
    /// Appends the batch, encoded, to `out`. Requests concatenate into one request (protobuf
    /// merges their `resource_spans`), so a batch of many writes each in turn.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        if !self.changed {
            out.extend_from_slice(self.storage.original());
            return;
        }
        // Patched spans are written first, into `scratch`, so that every enclosing message's
        // length is known before it is written.
        let mut scratch = Vec::new();
        let mut patched = vec![Loc::EMPTY; self.spans.len()];
        for (index, span) in self.spans.iter().enumerate() {
            if let (Some(patch), false) = (&span.patch, span.dropped) {
                let start = scratch.len();
                write_span(&self.storage, span.message, patch, &mut scratch);
                patched[index] = Loc {
                    offset: start as u32,
                    len: (scratch.len() - start) as u32,
                };
            }
        }
        let writer = Writer {
            traces: self,
            scratch: &scratch,
            patched: &patched,
        };
        for resource in &self.resources {
            if !resource.changed {
                out.extend_from_slice(self.storage.bytes(resource.raw));
                continue;
            }
            let len = writer.resource_len(resource);
            if len == 0 {
                continue;
            }
            put_key(out, field::request::RESOURCE_SPANS, 2);
            put_varint(out, len as u64);
            writer.write_resource(resource, out);
        }
    }
}

/// Writes the patched batch, with patched spans already written in `scratch`.
struct Writer<'a> {
    traces: &'a Traces,
    scratch: &'a [u8],
    /// Where each patched span's message is in `scratch` (empty for the others).
    patched: &'a [Loc],
}

/// The bytes a length-delimited field of `len` content bytes takes (one-byte key).
fn field_len(len: usize) -> usize {
    1 + varint_len(len as u64) + len
}

impl Writer<'_> {
    fn storage(&self) -> &Storage {
        &self.traces.storage
    }

    /// The span's message content: its patched bytes, or as it arrived.
    fn span_bytes(&self, index: usize) -> &[u8] {
        let span = &self.traces.spans[index];
        if span.patch.is_some() {
            let at = self.patched[index];
            &self.scratch[at.offset as usize..at.end()]
        } else {
            self.storage().bytes(span.message)
        }
    }

    /// The content length of a changed resource's `ResourceSpans`; 0 if none of its spans is
    /// left (it is then not written).
    fn resource_len(&self, resource: &ResourceEntry) -> usize {
        let scopes: usize = self
            .scopes_of(resource)
            .map(|scope| self.scope_field_len(scope))
            .sum();
        if scopes == 0 {
            return 0;
        }
        scopes
            + self.resource_message_len(resource).map_or(0, field_len)
            + self.other_fields_len(resource.message, &[1, 2])
    }

    fn scopes_of(&self, resource: &ResourceEntry) -> impl Iterator<Item = &ScopeEntry> {
        self.traces.scopes[resource.scopes.start as usize..resource.scopes.end as usize].iter()
    }

    /// The content length of the `Resource` message as written, if one is.
    fn resource_message_len(&self, resource: &ResourceEntry) -> Option<usize> {
        match (&resource.attributes, resource.resource) {
            (None, original) => original.map(|at| at.len as usize),
            (Some(list), original) => Some(
                original.map_or(0, |at| {
                    self.other_fields_len(at, &[field::resource::ATTRIBUTES])
                }) + self.list_len(list),
            ),
        }
    }

    /// The bytes a scope's `ScopeSpans` field takes as written: as it arrived if unchanged,
    /// 0 if none of its spans is left.
    fn scope_field_len(&self, scope: &ScopeEntry) -> usize {
        if !scope.changed {
            return scope.raw.len as usize;
        }
        match self.scope_len(scope) {
            0 => 0,
            len => field_len(len),
        }
    }

    /// The content length of a changed scope's `ScopeSpans`; 0 if none of its spans is left.
    fn scope_len(&self, scope: &ScopeEntry) -> usize {
        let spans: usize = (scope.spans.start as usize..scope.spans.end as usize)
            .filter(|&s| !self.traces.spans[s].dropped)
            .map(|s| match self.traces.spans[s].patch {
                None => self.traces.spans[s].raw.len as usize,
                Some(_) => field_len(self.span_bytes(s).len()),
            })
            .sum();
        if spans == 0 {
            return 0;
        }
        spans
            + self.scope_message_len(scope).map_or(0, field_len)
            + self.other_fields_len(scope.message, &[1, 2])
    }

    /// The content length of the `InstrumentationScope` message as written, if one is.
    fn scope_message_len(&self, scope: &ScopeEntry) -> Option<usize> {
        match (&scope.attributes, scope.scope) {
            (None, original) => original.map(|at| at.len as usize),
            (Some(list), original) => Some(
                original.map_or(0, |at| {
                    self.other_fields_len(at, &[field::scope::ATTRIBUTES])
                }) + self.list_len(list),
            ),
        }
    }

    /// The bytes of attribute list `list`, as fields of its owner (one-byte keys).
    fn list_len(&self, list: &[Attr]) -> usize {
        list.iter().map(|at| field_len(at.kv.len as usize)).sum()
    }

    /// The bytes of the fields of `message` other than `skip`.
    fn other_fields_len(&self, message: Loc, skip: &[u32]) -> usize {
        fields(self.storage(), message)
            .flatten()
            .filter(|f| !skip.contains(&f.number))
            .map(|f| f.raw.len as usize)
            .sum()
    }

    /// Appends the fields of `message` other than `skip`, as they arrived.
    fn copy_other_fields(&self, message: Loc, skip: &[u32], out: &mut Vec<u8>) {
        for f in fields(self.storage(), message).flatten() {
            if !skip.contains(&f.number) {
                out.extend_from_slice(self.storage().bytes(f.raw));
            }
        }
    }

    fn write_resource(&self, resource: &ResourceEntry, out: &mut Vec<u8>) {
        if let Some(len) = self.resource_message_len(resource) {
            put_key(out, field::resource_spans::RESOURCE, 2);
            put_varint(out, len as u64);
            if let Some(at) = resource.resource {
                let skip: &[u32] = if resource.attributes.is_some() {
                    &[field::resource::ATTRIBUTES]
                } else {
                    &[]
                };
                self.copy_other_fields(at, skip, out);
            }
            for kv in resource.attributes.iter().flatten() {
                put_bytes(
                    out,
                    field::resource::ATTRIBUTES,
                    self.storage().bytes(kv.kv),
                );
            }
        }
        for scope in self.scopes_of(resource) {
            if !scope.changed {
                out.extend_from_slice(self.storage().bytes(scope.raw));
                continue;
            }
            let len = self.scope_len(scope);
            if len == 0 {
                continue;
            }
            put_key(out, field::resource_spans::SCOPE_SPANS, 2);
            put_varint(out, len as u64);
            self.write_scope(scope, out);
        }
        self.copy_other_fields(resource.message, &[1, 2], out);
    }

    fn write_scope(&self, scope: &ScopeEntry, out: &mut Vec<u8>) {
        if let Some(len) = self.scope_message_len(scope) {
            put_key(out, field::scope_spans::SCOPE, 2);
            put_varint(out, len as u64);
            if let Some(at) = scope.scope {
                let skip: &[u32] = if scope.attributes.is_some() {
                    &[field::scope::ATTRIBUTES]
                } else {
                    &[]
                };
                self.copy_other_fields(at, skip, out);
            }
            for kv in scope.attributes.iter().flatten() {
                put_bytes(out, field::scope::ATTRIBUTES, self.storage().bytes(kv.kv));
            }
        }
        for s in scope.spans.start as usize..scope.spans.end as usize {
            let span = &self.traces.spans[s];
            if span.dropped {
                continue;
            }
            if span.patch.is_none() {
                out.extend_from_slice(self.storage().bytes(span.raw));
            } else {
                put_bytes(out, field::scope_spans::SPANS, self.span_bytes(s));
            }
        }
        self.copy_other_fields(scope.message, &[1, 2], out);
    }
}

/// Writes the content of a patched span: every field the patch does not replace as it
/// arrived, then the patch's fields.
fn write_span(storage: &Storage, message: Loc, patch: &SpanPatch, out: &mut Vec<u8>) {
    use field::span::*;
    let replaced = |number: u32| match number {
        NAME => patch.name.is_some(),
        TRACE_STATE => patch.trace_state.is_some(),
        KIND => patch.kind.is_some(),
        STATUS => patch.status.is_some(),
        ATTRIBUTES => patch.attributes.is_some(),
        EVENTS => patch.events.is_some(),
        DROPPED_EVENTS_COUNT => patch.dropped_events_count.is_some(),
        LINKS => patch.links.is_some(),
        _ => false,
    };
    let mut links = 0;
    for f in fields(storage, message).flatten() {
        if f.number == LINKS
            && let (Some(items), crate::pdata::wire::Value::Len(link)) = (&patch.links, f.value)
        {
            // Links keep their place; only their attributes can change.
            match items.get(links).and_then(|item| item.attributes.as_ref()) {
                Some(attributes) => put_message(out, LINKS, |out| {
                    write_with_attributes(storage, link, field::link::ATTRIBUTES, attributes, out)
                }),
                None => out.extend_from_slice(storage.bytes(f.raw)),
            }
            links += 1;
            continue;
        }
        if !replaced(f.number) {
            out.extend_from_slice(storage.bytes(f.raw));
        }
    }
    if let Some(name) = patch.name
        && !name.is_empty()
    {
        put_bytes(out, NAME, storage.bytes(name));
    }
    if let Some(state) = patch.trace_state
        && !state.is_empty()
    {
        put_bytes(out, TRACE_STATE, storage.bytes(state));
    }
    if let Some(kind) = patch.kind
        && kind != 0
    {
        put_key(out, KIND, 0);
        put_varint(out, kind as i64 as u64);
    }
    if let Some((code, message)) = patch.status {
        put_message(out, STATUS, |out| {
            write_status(out, code, storage.bytes(message))
        });
    }
    for kv in patch.attributes.iter().flatten() {
        put_bytes(out, ATTRIBUTES, storage.bytes(kv.kv));
    }
    for event in patch.events.iter().flatten() {
        write_event(storage, event, out);
    }
    if let Some(count) = patch.dropped_events_count
        && count != 0
    {
        put_key(out, DROPPED_EVENTS_COUNT, 0);
        put_varint(out, u64::from(count));
    }
}

fn write_event(storage: &Storage, event: &EventItem, out: &mut Vec<u8>) {
    if event.unchanged() {
        put_bytes(out, field::span::EVENTS, storage.bytes(event.message));
        return;
    }
    put_message(out, field::span::EVENTS, |out| {
        let mut skip = Vec::new();
        if event.name.is_some() {
            skip.push(field::event::NAME);
        }
        if event.attributes.is_some() {
            skip.push(field::event::ATTRIBUTES);
        }
        for f in fields(storage, event.message).flatten() {
            if !skip.contains(&f.number) {
                out.extend_from_slice(storage.bytes(f.raw));
            }
        }
        if let Some(name) = event.name
            && !name.is_empty()
        {
            put_bytes(out, field::event::NAME, storage.bytes(name));
        }
        for kv in event.attributes.iter().flatten() {
            put_bytes(out, field::event::ATTRIBUTES, storage.bytes(kv.kv));
        }
    });
}

/// Writes `message`'s fields except its attributes (field `number`), then `attributes`.
fn write_with_attributes(
    storage: &Storage,
    message: Loc,
    number: u32,
    attributes: &[Attr],
    out: &mut Vec<u8>,
) {
    for f in fields(storage, message).flatten() {
        if f.number != number {
            out.extend_from_slice(storage.bytes(f.raw));
        }
    }
    for kv in attributes {
        put_bytes(out, number, storage.bytes(kv.kv));
    }
}

#[cfg(test)]
#[path = "encode_tests.rs"]
mod tests;
