//! Splitting a batch into per-trace fragments of bytes, and joining fragments into a request.
//!
//! A fragment holds one trace's spans from one scope of a request, as the span fields they
//! were on the wire. It does not own a copy of its resource and scope: every fragment split
//! from one scope shares one [`FragmentOrigin`], and every origin of one resource shares that
//! resource's bytes, so a request of one large resource and many traces splits into fragments
//! whose size is that of the request. Joining writes fragments back as a request, adjacent
//! fragments of one origin (or one resource) under one copy of it.

use std::collections::HashMap;
use std::sync::Arc;

use crate::pdata::lineage::Lineage;
use crate::pdata::schema::field;
use crate::pdata::storage::Storage;
use crate::pdata::validate::DecodeError;
use crate::pdata::wire::{Fields, Loc, put_key, put_varint, varint_len};

use super::Traces;

/// A trace id as a key: 16 bytes (shorter ids, which receivers refuse, are zero-padded).
pub type TraceId = [u8; 16];

/// The resource and scope a fragment's spans came from.
#[derive(Debug)]
pub struct FragmentOrigin {
    /// The `ResourceSpans` message's fields other than its scopes (the resource, its schema
    /// URL, fields unknown to Weft); shared by the origins of every scope under it.
    pub resource: Arc<Vec<u8>>,
    /// The `ScopeSpans` message's fields other than its spans.
    pub scope: Vec<u8>,
    /// Where the request came from: kept alive while any of its fragments is.
    pub lineage: Lineage,
}

/// One trace's spans from one scope of a request.
#[derive(Debug, Clone)]
pub struct TraceFragment {
    /// The trace.
    pub trace_id: TraceId,
    /// Where the spans came from, shared with the request's other fragments.
    pub origin: Arc<FragmentOrigin>,
    /// The spans as `spans` fields of a `ScopeSpans` (key, length, message), in arrival order.
    pub spans: Vec<u8>,
    /// How many spans.
    pub count: usize,
}

/// The key of a trace id.
pub fn trace_id_key(trace_id: &[u8]) -> TraceId {
    let mut key = [0u8; 16];
    let n = trace_id.len().min(16);
    key[..n].copy_from_slice(&trace_id[..n]);
    key
}

impl Traces {
    /// The batch as fragments, one per trace per scope, keeping span order within each;
    /// fragments of one scope come out next to each other, in order of each trace's first
    /// span. A batch that edits changed is written and read again first, so fragments hold
    /// what the edits left (that read can fail only if edits nested values past the protobuf
    /// recursion limit). Every fragment carries `lineage`, the batch's sources.
    pub fn split_by_trace(self, lineage: &Lineage) -> Result<Vec<TraceFragment>, DecodeError> {
        let batch = if self.changed {
            Traces::decode_trusted(self.to_bytes())?
        } else {
            self
        };
        let storage = &batch.storage;
        let mut fragments = Vec::new();
        let mut slot_of: HashMap<TraceId, usize> = HashMap::new();
        // Per span of a scope, its fragment; per fragment, the bytes of its spans.
        let (mut slots, mut sizes): (Vec<usize>, Vec<usize>) = (Vec::new(), Vec::new());
        for resource in &batch.resources {
            let resource_head = Arc::new(fields_except(
                storage,
                resource.message,
                field::resource_spans::SCOPE_SPANS,
            ));
            for scope in &batch.scopes[resource.scopes.start as usize..resource.scopes.end as usize]
            {
                let origin = Arc::new(FragmentOrigin {
                    resource: resource_head.clone(),
                    scope: fields_except(storage, scope.message, field::scope_spans::SPANS),
                    lineage: lineage.clone(),
                });
                slot_of.clear();
                let first = fragments.len();
                let spans = &batch.spans[scope.spans.start as usize..scope.spans.end as usize];
                // Two passes: each fragment's bytes are counted first, so that its buffer is
                // allocated once at its size (a buffer grown by doubling holds up to twice
                // what the buffer charges for).
                slots.clear();
                for span in spans {
                    let trace_id = trace_id_key(storage.bytes(span.fields.trace_id));
                    let slot = *slot_of.entry(trace_id).or_insert_with(|| {
                        fragments.push(TraceFragment {
                            trace_id,
                            origin: origin.clone(),
                            spans: Vec::new(),
                            count: 0,
                        });
                        fragments.len() - 1
                    });
                    let fragment = &mut fragments[slot];
                    fragment.count += 1;
                    sizes.resize(fragments.len(), 0);
                    sizes[slot] += span.raw.len as usize;
                    slots.push(slot);
                }
                for slot in first..fragments.len() {
                    fragments[slot].spans = Vec::with_capacity(sizes[slot]);
                }
                for (span, &slot) in spans.iter().zip(&slots) {
                    fragments[slot]
                        .spans
                        .extend_from_slice(storage.bytes(span.raw));
                }
            }
        }
        Ok(fragments)
    }
}

/// The fields of the message at `message` other than those numbered `except`, as they are.
fn fields_except(storage: &Storage, message: Loc, except: u32) -> Vec<u8> {
    let mut out = Vec::new();
    // The message was validated when read: a field that cannot be walked ends the copy.
    for field in Fields::new(storage.bytes(message), message.offset).map_while(Result::ok) {
        if field.number != except {
            out.extend_from_slice(storage.bytes(field.raw));
        }
    }
    out
}

/// The scopes of one resource in a joined request: each origin with its fragments' spans.
struct ResourceGroup<'a> {
    resource: &'a Arc<Vec<u8>>,
    scopes: Vec<(&'a Arc<FragmentOrigin>, Vec<&'a [u8]>)>,
}

/// Writes `fragments`, in order, as an `ExportTraceServiceRequest`: adjacent fragments of one
/// origin share one `ScopeSpans`, and adjacent origins of one resource one `ResourceSpans`.
pub fn join_fragments<'a>(fragments: impl IntoIterator<Item = &'a TraceFragment>) -> Vec<u8> {
    let mut groups: Vec<ResourceGroup<'a>> = Vec::new();
    for fragment in fragments {
        let origin = &fragment.origin;
        match groups.last_mut() {
            Some(group) if Arc::ptr_eq(group.resource, &origin.resource) => {
                match group.scopes.last_mut() {
                    Some((last, spans)) if Arc::ptr_eq(last, origin) => spans.push(&fragment.spans),
                    _ => group.scopes.push((origin, vec![&fragment.spans])),
                }
            }
            _ => groups.push(ResourceGroup {
                resource: &origin.resource,
                scopes: vec![(origin, vec![&fragment.spans])],
            }),
        }
    }
    let scope_len = |origin: &FragmentOrigin, spans: &[&[u8]]| {
        origin.scope.len() + spans.iter().map(|s| s.len()).sum::<usize>()
    };
    let resource_len = |group: &ResourceGroup<'_>| {
        group.resource.len()
            + group
                .scopes
                .iter()
                .map(|(origin, spans)| field_len(scope_len(origin, spans)))
                .sum::<usize>()
    };
    let total = groups.iter().map(|g| field_len(resource_len(g))).sum();
    let mut out = Vec::with_capacity(total);
    for group in &groups {
        put_key(&mut out, field::request::RESOURCE_SPANS, 2);
        put_varint(&mut out, resource_len(group) as u64);
        out.extend_from_slice(group.resource);
        for (origin, spans) in &group.scopes {
            put_key(&mut out, field::resource_spans::SCOPE_SPANS, 2);
            put_varint(&mut out, scope_len(origin, spans) as u64);
            out.extend_from_slice(&origin.scope);
            for span in spans {
                out.extend_from_slice(span);
            }
        }
    }
    debug_assert_eq!(out.len(), total);
    out
}

/// The bytes a length-delimited field of `len` content bytes takes (one-byte key).
fn field_len(len: usize) -> usize {
    1 + varint_len(len as u64) + len
}

#[cfg(test)]
#[path = "split_tests.rs"]
mod tests;
