//! Trace data as its bytes: a request's buffer, indexed down to its spans, with patches.
//!
//! [`Traces`] is what moves through the pipeline. Receiving one walks the request once to
//! check it and find its resources, scopes and spans ([`Traces::decode`]); nothing is copied
//! out. Readers ([`read`]) look up a span's fields when something asks for them; edits become
//! patches that name what changed and append new bytes ([`patch`]); writing a batch copies
//! every resource, scope and span that nothing changed as it arrived ([`encode`]).

mod decode;
mod encode;
pub mod patch;
pub mod read;
pub mod split;

use std::ops::Range;

use bytes::Bytes;

use super::storage::Storage;
use super::wire::Loc;

pub use patch::{AttributeList, EventItem, LinkItem, SpanPatch};
pub use read::{Attr, SpanFields};
pub use split::{FragmentOrigin, TraceFragment, TraceId, join_fragments, trace_id_key};

/// A batch of trace data: the bytes of one `ExportTraceServiceRequest` (or `TracesData`,
/// the same wire shape), where its resources, scopes and spans are, and the patches edits
/// made. Resources, scopes and spans are numbered in request order, as a plugin's view numbers
/// them.
#[derive(Debug, Clone, Default)]
pub struct Traces {
    storage: Storage,
    resources: Vec<ResourceEntry>,
    scopes: Vec<ScopeEntry>,
    spans: Vec<SpanEntry>,
    /// Every span's attributes as they arrived, each span's in a run.
    attributes: Vec<Attr>,
    /// Every span's `Event` messages as they arrived, each span's in a run.
    events: Vec<Loc>,
    /// Every span's `Link` messages, each span's in a run.
    links: Vec<Loc>,
    /// Spans not dropped.
    live: usize,
    /// Whether any patch or drop was made: if not, the batch writes as its original bytes.
    changed: bool,
}

/// A `ResourceSpans` of the request.
#[derive(Debug, Clone, Default)]
struct ResourceEntry {
    /// The whole field, to copy it unchanged.
    raw: Loc,
    /// The `ResourceSpans` message.
    message: Loc,
    /// The `Resource` message, if the request has one.
    resource: Option<Loc>,
    /// The resource's attributes after edits, once edited.
    attributes: Option<Vec<Attr>>,
    /// Its scopes, as indices of `Traces::scopes`.
    scopes: Range<u32>,
    /// Whether the resource, one of its scopes or spans was changed.
    changed: bool,
}

/// A `ScopeSpans` of the request.
#[derive(Debug, Clone, Default)]
struct ScopeEntry {
    raw: Loc,
    message: Loc,
    /// The `InstrumentationScope` message, if the request has one.
    scope: Option<Loc>,
    attributes: Option<Vec<Attr>>,
    /// Index of its resource in `Traces::resources`.
    resource: u32,
    /// Its spans, as indices of `Traces::spans`.
    spans: Range<u32>,
    changed: bool,
}

/// A `Span` of the request.
#[derive(Debug, Clone, Default)]
struct SpanEntry {
    raw: Loc,
    message: Loc,
    /// Index of its scope in `Traces::scopes`.
    scope: u32,
    /// Its fields as they arrived (where its strings and ids are; its numbers).
    fields: SpanFields,
    /// Its attributes, events and links as they arrived: runs of `Traces::attributes`,
    /// `Traces::events` and `Traces::links`.
    attributes: Range<u32>,
    events: Range<u32>,
    links: Range<u32>,
    patch: Option<Box<SpanPatch>>,
    dropped: bool,
}

/// The number of spans of a request decoded by prost (the benchmark sink, tests).
pub fn decoded_span_count(
    request: &opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest,
) -> usize {
    request
        .resource_spans
        .iter()
        .flat_map(|rs| &rs.scope_spans)
        .map(|ss| ss.spans.len())
        .sum()
}

impl Traces {
    /// Reads `bytes` as an `ExportTraceServiceRequest`, checking every field against the OTLP
    /// schema (wire types, UTF-8 strings, nesting, id lengths) and indexing its spans. The
    /// error names the first offending field by its path.
    pub fn decode(bytes: Bytes) -> Result<Self, super::DecodeError> {
        decode::decode(bytes, true, false)
    }

    /// [`Traces::decode`] without the id-length checks: for batches made inside Weft, whose
    /// ids were checked when they arrived (or, in tests, do not matter).
    pub fn decode_unchecked_ids(bytes: Bytes) -> Result<Self, super::DecodeError> {
        decode::decode(bytes, false, false)
    }

    /// Reads bytes Weft wrote itself from batches that were validated when they arrived (a
    /// batch written after edits, trace fragments joined): they are indexed, not checked
    /// again. Never for bytes from outside.
    pub fn decode_trusted(bytes: Bytes) -> Result<Self, super::DecodeError> {
        decode::decode(bytes, false, true)
    }

    /// The batch of a decoded request (tests, benchmarks, what still builds requests as
    /// structures). Ids are not checked.
    pub fn from_request(
        request: &opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest,
    ) -> Self {
        use prost::Message;
        Traces::decode_unchecked_ids(request.encode_to_vec().into())
            .expect("prost writes valid protobuf")
    }

    /// The batch decoded by prost: for what still works on owned structures (the JSON
    /// encoders, the tap's snapshots).
    pub fn to_request(
        &self,
    ) -> opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest {
        use prost::Message;
        let bytes = self.encode_to_vec();
        opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest::decode(
            bytes.as_slice(),
        )
        .expect("an encoded batch decodes")
    }

    /// The number of spans (not dropped).
    pub fn span_count(&self) -> usize {
        self.live
    }

    /// Whether no span is left.
    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// The number of spans as numbered when the batch was read (dropped ones included):
    /// the length of a view's span table.
    pub fn indexed_spans(&self) -> usize {
        self.spans.len()
    }

    /// The number of resources as numbered when read.
    pub fn indexed_resources(&self) -> usize {
        self.resources.len()
    }

    /// The number of scopes as numbered when read.
    pub fn indexed_scopes(&self) -> usize {
        self.scopes.len()
    }

    /// The scope of span `index`.
    pub fn scope_of(&self, span: usize) -> usize {
        self.spans[span].scope as usize
    }

    /// The resource of scope `index`.
    pub fn resource_of_scope(&self, scope: usize) -> usize {
        self.scopes[scope].resource as usize
    }

    /// The spans of scope `index`.
    pub fn spans_of(&self, scope: usize) -> Range<usize> {
        let range = &self.scopes[scope].spans;
        range.start as usize..range.end as usize
    }

    /// The scopes of resource `index`.
    pub fn scopes_of(&self, resource: usize) -> Range<usize> {
        let range = &self.resources[resource].scopes;
        range.start as usize..range.end as usize
    }

    /// Whether any edit changed the batch since it was read.
    pub fn changed(&self) -> bool {
        self.changed
    }

    /// The request's bytes as they arrived.
    pub fn original(&self) -> &Bytes {
        self.storage.original()
    }

    /// The bytes the batch holds: as it arrived, and what edits appended.
    pub fn stored_bytes(&self) -> usize {
        self.storage.len()
    }

    /// The batch written as an `ExportTraceServiceRequest`.
    pub fn encode_to_vec(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.storage.len());
        self.encode_into(&mut out);
        out
    }

    /// The batch as bytes: its original bytes when nothing changed (no copy), written anew
    /// otherwise.
    pub fn to_bytes(&self) -> Bytes {
        if self.changed {
            self.encode_to_vec().into()
        } else {
            self.storage.original().clone()
        }
    }

    /// Appends the batch as one line's worth of OTLP/JSON (an `ExportTraceServiceRequest`
    /// object, no newline), written from its bytes.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        let bytes = self.to_bytes();
        super::json::write_message(super::schema::Message::TracesRequest, &bytes, out);
    }

    /// Marks span `index` dropped; returns whether it was live.
    pub fn drop_span(&mut self, index: usize) -> bool {
        let entry = &mut self.spans[index];
        if entry.dropped {
            return false;
        }
        entry.dropped = true;
        self.live -= 1;
        self.mark_changed(index);
        true
    }

    /// Removes dropped spans from the index, and the scopes and resources left without
    /// spans (as dropping the last span of a scope removes it from the request), so that
    /// spans, scopes and resources are numbered again without gaps, as the next view numbers
    /// them. Nothing is copied: the next write leaves out what is gone.
    pub fn compact(&mut self) {
        if self.live == self.spans.len() {
            return;
        }
        let mut kept_spans = Vec::with_capacity(self.live);
        let mut kept_scopes = Vec::with_capacity(self.scopes.len());
        let mut kept_resources = Vec::with_capacity(self.resources.len());
        let mut spans = std::mem::take(&mut self.spans).into_iter();
        let mut scopes = std::mem::take(&mut self.scopes).into_iter();
        for mut resource in std::mem::take(&mut self.resources) {
            let first_scope = kept_scopes.len() as u32;
            for mut scope in scopes.by_ref().take(resource.scopes.len()) {
                let first_span = kept_spans.len() as u32;
                for mut span in spans.by_ref().take(scope.spans.len()) {
                    if !span.dropped {
                        span.scope = kept_scopes.len() as u32;
                        kept_spans.push(span);
                    }
                }
                scope.spans = first_span..kept_spans.len() as u32;
                if scope.spans.is_empty() {
                    resource.changed = true;
                    continue;
                }
                scope.resource = kept_resources.len() as u32;
                kept_scopes.push(scope);
            }
            resource.scopes = first_scope..kept_scopes.len() as u32;
            if !resource.scopes.is_empty() {
                kept_resources.push(resource);
            }
        }
        self.spans = kept_spans;
        self.scopes = kept_scopes;
        self.resources = kept_resources;
        self.changed = true;
    }

    /// Records that span `index` (and so its scope and resource) changed.
    fn mark_changed(&mut self, span: usize) {
        let scope = self.spans[span].scope as usize;
        self.mark_scope_changed(scope);
    }

    fn mark_scope_changed(&mut self, scope: usize) {
        self.scopes[scope].changed = true;
        let resource = self.scopes[scope].resource as usize;
        self.resources[resource].changed = true;
        self.changed = true;
    }
}
