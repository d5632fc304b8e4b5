//! What every decode target checks once it has a batch: a full view of it (what a plugin
//! reading everything is sent) that stays inside its own bounds: every range within its
//! list, every slice within the arena, every key in the table. And the id rules a receiver
//! applies, written out on decoded structures to compare with the wire walk's.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use weft::pdata::Traces;
use weft::contract::bindings::{
    AttributeView, Batch, NodeView, Range, Slice, SpanFields, ValueView,
};

/// Whether every id of `request` has the length OTLP requires (trace ids 16 bytes, span
/// ids 8, parent span ids 8 or none), checked on prost's decoding.
pub fn ids_valid(request: &ExportTraceServiceRequest) -> bool {
    request
        .resource_spans
        .iter()
        .flat_map(|rs| &rs.scope_spans)
        .flat_map(|ss| &ss.spans)
        .all(|span| {
            span.trace_id.len() == 16
                && span.span_id.len() == 8
                && matches!(span.parent_span_id.len(), 0 | 8)
                && span
                    .links
                    .iter()
                    .all(|link| link.trace_id.len() == 16 && link.span_id.len() == 8)
        })
}

/// Builds the full view of `batch`, records and packed, and checks both.
pub fn check_batch(batch: &Traces) {
    let view = weft::contract::build_view(batch, &weft::contract::full_interest());
    assert_eq!(view.spans.len(), batch.span_count(), "one view span per span");
    check_view(&view);
    let mut packed = weft::contract::full_interest();
    packed.span_fields |= SpanFields::PACKED;
    check_packed(&weft::contract::build_view(batch, &packed), &view);
}

/// Panics unless `packed` holds the tables of `records` in rows of the documented sizes,
/// with only the nested values left as records.
pub fn check_packed(packed: &Batch, records: &Batch) {
    use weft::contract::packed::{
        ATTRIBUTE_ROW, EVENT_ROW, HEADER_BYTES, LINK_ROW, RESOURCE_ROW, SCOPE_ROW, SPAN_ROW,
        view_span_count,
    };
    assert_eq!(view_span_count(packed), records.spans.len());
    assert!(packed.spans.is_empty() && packed.events.is_empty() && packed.links.is_empty());
    assert_eq!(
        (&packed.keys, &packed.arena),
        (&records.keys, &records.arena)
    );
    let nested = records
        .attributes
        .iter()
        .filter(|a| matches!(a.value, ValueView::Nested(_)))
        .count();
    assert_eq!(packed.attributes.len(), nested);
    assert_eq!(
        packed.packed.len(),
        HEADER_BYTES
            + records.resources.len() * RESOURCE_ROW
            + records.scopes.len() * SCOPE_ROW
            + records.spans.len() * SPAN_ROW
            + records.events.len() * EVENT_ROW
            + records.links.len() * LINK_ROW
            + records.attributes.len() * ATTRIBUTE_ROW
    );
}

/// Panics if anything in `view` points outside it.
pub fn check_view(view: &Batch) {
    let slice = |s: &Slice| {
        let end = s.offset as usize + s.len as usize;
        assert!(end <= view.arena.len(), "slice {s:?} past the arena");
    };
    let range = |r: &Range, len: usize| {
        assert!(
            r.start as usize + r.len as usize <= len,
            "range {r:?} past {len}"
        );
    };
    let attributes = |r: &Range| range(r, view.attributes.len());
    for resource in &view.resources {
        attributes(&resource.attributes);
        slice(&resource.schema_url);
    }
    for scope in &view.scopes {
        assert!((scope.resource as usize) < view.resources.len());
        attributes(&scope.attributes);
        slice(&scope.name);
        slice(&scope.version);
    }
    for span in &view.spans {
        assert!((span.scope as usize) < view.scopes.len());
        attributes(&span.attributes);
        range(&span.events, view.events.len());
        range(&span.links, view.links.len());
        slice(&span.name);
        slice(&span.trace_state);
        slice(&span.status.message);
    }
    for event in &view.events {
        attributes(&event.attributes);
        slice(&event.name);
    }
    for link in &view.links {
        attributes(&link.attributes);
        slice(&link.trace_state);
    }
    for AttributeView { key, value } in &view.attributes {
        assert!(
            (*key as usize) < view.keys.len(),
            "key {key} not in the table"
        );
        match value {
            ValueView::Str(s) | ValueView::Bytes(s) => {
                slice(s);
                if matches!(value, ValueView::Str(_)) {
                    let bytes = &view.arena[s.offset as usize..][..s.len as usize];
                    assert!(std::str::from_utf8(bytes).is_ok(), "string not UTF-8");
                }
            }
            ValueView::Nested(nodes) => {
                for (index, node) in nodes.iter().enumerate() {
                    let child = |c: u32| assert!(c as usize > index && (c as usize) < nodes.len());
                    match node {
                        NodeView::Str(s) | NodeView::Bytes(s) => slice(s),
                        NodeView::Array(children) => children.iter().copied().for_each(child),
                        NodeView::Kvlist(entries) => entries.iter().for_each(|(key, c)| {
                            slice(key);
                            child(*c)
                        }),
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
}
