//! Reading a request: one validating walk that records where every resource, scope and span
//! sits.

use bytes::Bytes;
use prost::Message as _;

use crate::pdata::schema::{Kind, Message, field};
use crate::pdata::storage::Storage;
use crate::pdata::validate::{
    Counts, DecodeError, Findings, Last, Problem, Segment, segment, validate,
};
use crate::pdata::wire::{Field, Fields, Loc, Value, WireError};

use super::read::{Attr, SpanFields};
use super::{ResourceEntry, ScopeEntry, SpanEntry, Traces};

/// See [`Traces::decode`]; `check_ids` and `trusted` as in [`Findings`].
pub(super) fn decode(bytes: Bytes, check_ids: bool, trusted: bool) -> Result<Traces, DecodeError> {
    let mut findings = Findings {
        check_ids,
        trusted,
        ..Findings::default()
    };
    let traces = index(bytes.clone(), &mut findings)?;
    if !findings.needs_merge {
        return Ok(traces);
    }
    // Rare encodings (a singular message sent twice, which protobuf merges) are read once
    // through prost and indexed as prost writes them, so every reader agrees with prost.
    let request =
        opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest::decode(bytes)
            .map_err(|_| DecodeError::here(Problem::Wire(WireError::Truncated)))?;
    let mut again = Findings {
        check_ids,
        ..Findings::default()
    };
    index(request.encode_to_vec().into(), &mut again)
}

fn index(bytes: Bytes, findings: &mut Findings) -> Result<Traces, DecodeError> {
    let storage = Storage::new(bytes)?;
    let mut traces = Traces {
        storage: Storage::default(),
        ..Traces::default()
    };
    let buf = &storage;
    let mut counts = Counts::new();
    for f in Fields::new(storage.original(), 0) {
        let f = f?;
        let index = counts.next(f.number);
        if f.number != field::request::RESOURCE_SPANS {
            continue;
        }
        let at = Segment {
            name: "resource_spans",
            index: Some(index),
        };
        let message = f.len().map_err(|e| DecodeError::from(e).within(at))?;
        resource_spans(buf, f.raw, message, &mut traces, findings).map_err(|e| e.within(at))?;
    }
    traces.live = traces.spans.len();
    traces.storage = storage;
    Ok(traces)
}

fn resource_spans(
    buf: &Storage,
    raw: Loc,
    message: Loc,
    traces: &mut Traces,
    findings: &mut Findings,
) -> Result<(), DecodeError> {
    use field::resource_spans::*;
    let index = traces.resources.len() as u32;
    let first_scope = traces.scopes.len() as u32;
    let mut entry = ResourceEntry {
        raw,
        message,
        ..ResourceEntry::default()
    };
    let mut counts = Counts::new();
    for f in Fields::new(buf.bytes(message), message.offset) {
        let f = f?;
        let n = counts.next(f.number);
        let at = |name| Segment {
            name,
            index: (f.number == SCOPE_SPANS).then_some(n),
        };
        match f.number {
            RESOURCE => {
                let loc = f
                    .len()
                    .map_err(|e| DecodeError::from(e).within(at("resource")))?;
                validate(buf.original(), loc, Message::Resource, 2, findings)
                    .map_err(|e| e.within(at("resource")))?;
                findings.needs_merge |= entry.resource.is_some();
                entry.resource = Some(loc);
            }
            SCOPE_SPANS => {
                let loc = f
                    .len()
                    .map_err(|e| DecodeError::from(e).within(at("scope_spans")))?;
                scope_spans(buf, f.raw, loc, index, traces, findings)
                    .map_err(|e| e.within(at("scope_spans")))?;
            }
            SCHEMA_URL => string(buf, f, findings).map_err(|e| e.within(at("schema_url")))?,
            _ => {}
        }
    }
    entry.scopes = first_scope..traces.scopes.len() as u32;
    traces.resources.push(entry);
    Ok(())
}

fn scope_spans(
    buf: &Storage,
    raw: Loc,
    message: Loc,
    resource: u32,
    traces: &mut Traces,
    findings: &mut Findings,
) -> Result<(), DecodeError> {
    use field::scope_spans::*;
    let index = traces.scopes.len() as u32;
    let first_span = traces.spans.len() as u32;
    let mut entry = ScopeEntry {
        raw,
        message,
        resource,
        ..ScopeEntry::default()
    };
    let mut counts = Counts::new();
    for f in Fields::new(buf.bytes(message), message.offset) {
        let f = f?;
        let n = counts.next(f.number);
        let at = |name| Segment {
            name,
            index: (f.number == SPANS).then_some(n),
        };
        match f.number {
            SCOPE => {
                let loc = f
                    .len()
                    .map_err(|e| DecodeError::from(e).within(at("scope")))?;
                validate(buf.original(), loc, Message::Scope, 3, findings)
                    .map_err(|e| e.within(at("scope")))?;
                findings.needs_merge |= entry.scope.is_some();
                entry.scope = Some(loc);
            }
            SPANS => {
                let loc = f
                    .len()
                    .map_err(|e| DecodeError::from(e).within(at("spans")))?;
                let entry = span(buf, f.raw, loc, index, traces, findings)
                    .map_err(|e| e.within(at("spans")))?;
                traces.spans.push(entry);
            }
            SCHEMA_URL => string(buf, f, findings).map_err(|e| e.within(at("schema_url")))?,
            _ => {}
        }
    }
    entry.spans = first_span..traces.spans.len() as u32;
    traces.scopes.push(entry);
    Ok(())
}

/// Checks a span and every message in it, and indexes it: its fields, and its attributes,
/// events and links appended to the batch's runs of them.
fn span(
    buf: &Storage,
    raw: Loc,
    message: Loc,
    scope: u32,
    traces: &mut Traces,
    findings: &mut Findings,
) -> Result<SpanEntry, DecodeError> {
    use field::span::*;
    let mut fields = SpanFields::default();
    let (attributes, events, links) = (
        traces.attributes.len() as u32,
        traces.events.len() as u32,
        traces.links.len() as u32,
    );
    let mut status = None;
    let mut counts = Counts::new();
    for f in Fields::new(buf.bytes(message), message.offset) {
        let f = f?;
        let index = counts.next(f.number);
        let Some((kind, _)) = Message::Span.field(f.number) else {
            continue;
        };
        let last = span_field(buf, f, kind, &mut fields, findings)
            .map_err(|e| e.within(segment(Message::Span, f.number, index)))?;
        match (f.number, f.value) {
            (ATTRIBUTES, Value::Len(kv)) => traces.attributes.push(Attr {
                kv,
                key: last[field::key_value::KEY as usize].unwrap_or_default(),
                value: last[field::key_value::VALUE as usize],
            }),
            (EVENTS, Value::Len(event)) => traces.events.push(event),
            (LINKS, Value::Len(link)) => traces.links.push(link),
            (STATUS, Value::Len(loc)) => findings.needs_merge |= status.replace(loc).is_some(),
            _ => {}
        }
    }
    if findings.check_ids {
        check_id(TRACE_ID, fields.trace_id, &[16], "16")?;
        check_id(SPAN_ID, fields.span_id, &[8], "8")?;
        check_id(PARENT_SPAN_ID, fields.parent_span_id, &[0, 8], "0 or 8")?;
    }
    if let Some(status) = status {
        for f in Fields::new(buf.bytes(status), status.offset).flatten() {
            match (f.number, f.value) {
                (field::status::MESSAGE, Value::Len(at)) => fields.status_message = at,
                (field::status::CODE, Value::Varint(v)) => fields.status_code = v as i32,
                _ => {}
            }
        }
    }
    Ok(SpanEntry {
        raw,
        message,
        scope,
        fields,
        attributes: attributes..traces.attributes.len() as u32,
        events: events..traces.events.len() as u32,
        links: links..traces.links.len() as u32,
        patch: None,
        dropped: false,
    })
}

/// Checks one field of a span against its schema `kind` (a message: all of it, returning
/// where its first fields are), and keeps its value in `fields` if it is a scalar or a string
/// of the span.
fn span_field(
    buf: &Storage,
    f: Field,
    kind: Kind,
    fields: &mut SpanFields,
    findings: &mut Findings,
) -> Result<Last, DecodeError> {
    use field::span::*;
    if f.value.wire_type() != kind.wire_type() {
        return Err(WireError::UnexpectedWireType {
            field: f.number,
            found: f.value.wire_type(),
            expected: kind.wire_type(),
        }
        .into());
    }
    let last = match (kind, f.value) {
        (Kind::Str, _) => {
            string(buf, f, findings)?;
            Last::default()
        }
        (Kind::Msg(inner), Value::Len(loc)) => validate(buf.original(), loc, inner, 4, findings)?,
        _ => Last::default(),
    };
    match (f.number, f.value) {
        (TRACE_ID, Value::Len(at)) => fields.trace_id = at,
        (SPAN_ID, Value::Len(at)) => fields.span_id = at,
        (TRACE_STATE, Value::Len(at)) => fields.trace_state = at,
        (PARENT_SPAN_ID, Value::Len(at)) => fields.parent_span_id = at,
        (NAME, Value::Len(at)) => fields.name = at,
        (KIND, Value::Varint(v)) => fields.kind = v as i32,
        (START_TIME, Value::Fixed64(v)) => fields.start_time_unix_nano = v,
        (END_TIME, Value::Fixed64(v)) => fields.end_time_unix_nano = v,
        (DROPPED_ATTRIBUTES_COUNT, Value::Varint(v)) => fields.dropped_attributes_count = v as u32,
        (DROPPED_EVENTS_COUNT, Value::Varint(v)) => fields.dropped_events_count = v as u32,
        (DROPPED_LINKS_COUNT, Value::Varint(v)) => fields.dropped_links_count = v as u32,
        (FLAGS, Value::Fixed32(v)) => fields.flags = v,
        _ => {}
    }
    Ok(last)
}

/// Checks that a span's id (field `number`, at `loc`) has an allowed length.
fn check_id(
    number: u32,
    loc: Loc,
    allowed: &[usize],
    expected: &'static str,
) -> Result<(), DecodeError> {
    let got = loc.len as usize;
    if allowed.contains(&got) {
        return Ok(());
    }
    Err(
        DecodeError::here(Problem::IdLength { expected, got }).within(segment(
            Message::Span,
            number,
            0,
        )),
    )
}

/// Checks a string field: length-delimited, UTF-8 (unless the bytes are trusted).
fn string(buf: &Storage, f: Field, findings: &Findings) -> Result<(), DecodeError> {
    let loc = f.len()?;
    if findings.trusted {
        return Ok(());
    }
    std::str::from_utf8(buf.bytes(loc))
        .map(|_| ())
        .map_err(|_| WireError::Utf8(f.number).into())
}

#[cfg(test)]
#[path = "decode_tests.rs"]
mod tests;
