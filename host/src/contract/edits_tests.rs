//! Tests of `edits.rs`.

use super::*;
use crate::contract::bindings::{Interest, NodeView, Range, Slice, SpanFields, Value, ValueView};
use crate::contract::{build_view, no_interest};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, KeyValue, KeyValueList, any_value,
};
use opentelemetry_proto::tonic::trace::v1::{self as otlp, ResourceSpans, ScopeSpans};

/// Applies `edits` to `request` as the pipeline does (to its bytes), and reads it back.
fn apply_edits(
    request: &mut ExportTraceServiceRequest,
    edits: Vec<Edit>,
) -> Result<EditSummary, EditError> {
    let mut batch = Traces::from_request(request);
    let outcome = super::apply_edits(&mut batch, edits);
    *request = batch.to_request();
    outcome
}

fn string(s: &str) -> AnyValue {
    AnyValue {
        value: Some(any_value::Value::StringValue(s.into())),
    }
}

fn request(spans: usize) -> ExportTraceServiceRequest {
    let span = |n: usize| otlp::Span {
        name: format!("span-{n}"),
        attributes: vec![KeyValue {
            key: "a".into(),
            value: Some(string("1")),
            ..Default::default()
        }],
        events: vec![otlp::span::Event {
            name: "e".into(),
            ..Default::default()
        }],
        ..Default::default()
    };
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![
                ScopeSpans {
                    spans: (0..spans / 2).map(span).collect(),
                    ..Default::default()
                },
                ScopeSpans {
                    spans: (spans / 2..spans).map(span).collect(),
                    ..Default::default()
                },
            ],
            ..Default::default()
        }],
    }
}

fn names(request: &ExportTraceServiceRequest) -> Vec<String> {
    request
        .resource_spans
        .iter()
        .flat_map(|r| &r.scope_spans)
        .flat_map(|s| &s.spans)
        .map(|s| s.name.clone())
        .collect()
}

#[test]
fn nested_values_round_trip_through_the_contract() {
    let nested = AnyValue {
        value: Some(any_value::Value::KvlistValue(KeyValueList {
            values: vec![
                KeyValue {
                    key: "list".into(),
                    value: Some(AnyValue {
                        value: Some(any_value::Value::ArrayValue(ArrayValue {
                            values: vec![
                                string("x"),
                                AnyValue { value: None },
                                AnyValue {
                                    value: Some(any_value::Value::ArrayValue(ArrayValue {
                                        values: vec![string("deep")],
                                    })),
                                },
                            ],
                        })),
                    }),
                    ..Default::default()
                },
                KeyValue {
                    key: "bytes".into(),
                    value: Some(AnyValue {
                        value: Some(any_value::Value::BytesValue(vec![0, 1, 255])),
                    }),
                    ..Default::default()
                },
            ],
        })),
    };
    // Through a view (what a plugin reads) and back as an edit value (what it writes).
    let mut request = request(1);
    request.resource_spans[0].scope_spans[1].spans[0].attributes[0].value = Some(nested.clone());
    let interest = Interest {
        span_attributes: crate::contract::bindings::AttributeSelection::All,
        ..no_interest()
    };
    let view = build_view(&Traces::from_request(&request), &interest);
    let seen = &view.attributes[view.spans[0].attributes.start as usize];
    assert_eq!(view.keys[seen.key as usize], "a");
    let written = resolve(&seen.value, &view.arena);
    let edit = Edit::SetAttribute((Target::Span(0), "copy".into(), written));
    apply_edits(&mut request, vec![edit]).unwrap();
    let span = &request.resource_spans[0].scope_spans[1].spans[0];
    assert_eq!(span.attributes[1].key, "copy");
    assert_eq!(span.attributes[1].value, Some(nested));
    let _ = SpanFields::empty();
}

/// What a plugin does to turn a value it read into one it writes back.
fn resolve(value: &ValueView, arena: &[u8]) -> Value {
    let text = |s: &Slice| {
        String::from_utf8(arena[s.offset as usize..(s.offset + s.len) as usize].to_vec()).unwrap()
    };
    let bytes = |s: &Slice| arena[s.offset as usize..(s.offset + s.len) as usize].to_vec();
    match value {
        ValueView::Empty => Value::Empty,
        ValueView::Str(s) => Value::Str(text(s)),
        ValueView::Boolean(b) => Value::Boolean(*b),
        ValueView::Int(i) => Value::Int(*i),
        ValueView::Double(d) => Value::Double(*d),
        ValueView::Bytes(s) => Value::Bytes(bytes(s)),
        ValueView::Nested(nodes) => Value::Nested(
            nodes
                .iter()
                .map(|n| match n {
                    NodeView::Empty => ValueNode::Empty,
                    NodeView::Str(s) => ValueNode::Str(text(s)),
                    NodeView::Boolean(b) => ValueNode::Boolean(*b),
                    NodeView::Int(i) => ValueNode::Int(*i),
                    NodeView::Double(d) => ValueNode::Double(*d),
                    NodeView::Bytes(s) => ValueNode::Bytes(bytes(s)),
                    NodeView::Array(c) => ValueNode::Array(c.clone()),
                    NodeView::Kvlist(kv) => {
                        ValueNode::Kvlist(kv.iter().map(|(k, c)| (text(k), *c)).collect())
                    }
                })
                .collect(),
        ),
    }
}

#[test]
fn edits_apply_in_order_and_drops_apply_last() {
    let mut request = request(4);
    let edits = vec![
        Edit::SetAttribute((Target::Span(3), "a".into(), Value::Str("2".into()))),
        Edit::SetAttribute((Target::Span(3), "b".into(), Value::Int(7))),
        Edit::RenameAttribute((Target::Span(0), "a".into(), "renamed".into())),
        Edit::RemoveAttribute((Target::Span(1), "a".into())),
        Edit::DropSpan(2),
        Edit::SetName((2, "still-indexed-by-the-original-batch".into())),
        Edit::DropEvent((3, 0)),
    ];
    let summary = apply_edits(&mut request, edits).unwrap();
    assert_eq!(
        summary,
        EditSummary {
            applied: 7,
            dropped_spans: 1
        }
    );
    assert_eq!(names(&request), ["span-0", "span-1", "span-3"]);
    let spans: Vec<_> = request.resource_spans[0]
        .scope_spans
        .iter()
        .flat_map(|s| &s.spans)
        .collect();
    assert_eq!(spans[0].attributes[0].key, "renamed");
    assert!(spans[1].attributes.is_empty());
    assert_eq!(spans[2].attributes.len(), 2);
    assert_eq!(spans[2].attributes[0].value, Some(string("2")));
    assert!(spans[2].events.is_empty());
    assert_eq!(spans[2].dropped_events_count, 1);
}

#[test]
fn a_value_nested_too_deep_is_refused_before_anything_applies() {
    // Found in review: the check did not limit depth, the conversion did, and its
    // `expect` panicked the worker on a chain of 66 nested arrays.
    let mut request = request(1);
    let original = request.clone();
    let chain: Vec<ValueNode> = (1..=MAX_NESTING as u32 + 2)
        .map(|next| ValueNode::Array(vec![next]))
        .chain([ValueNode::Int(1)])
        .collect();
    let edits = vec![
        Edit::SetName((0, "renamed".into())),
        Edit::SetAttribute((Target::Span(0), "deep".into(), Value::Nested(chain))),
    ];
    let error = apply_edits(&mut request, edits).unwrap_err();
    assert_eq!(error.problem, EditProblem::TooDeep);
    assert!(
        error
            .to_string()
            .contains(&format!("deeper than {MAX_NESTING} levels")),
        "{error}"
    );
    assert_eq!(request, original);
}

#[test]
fn the_deepest_value_allowed_decodes_again_wherever_it_is_written() {
    // Key-value lists are the deepest encoding (three messages a level); an event
    // attribute the deepest place. Both the whole request and one resource's spans (what
    // the tail buffer stores) must decode after the edit.
    use prost::Message;
    let mut request = request(1);
    let deepest: Vec<ValueNode> = (1..=MAX_NESTING as u32)
        .map(|next| ValueNode::Kvlist(vec![("k".into(), next)]))
        .chain([ValueNode::Str("leaf".into())])
        .collect();
    let edits = vec![Edit::SetAttribute((
        Target::Event((0, 0)),
        "deep".into(),
        Value::Nested(deepest),
    ))];
    apply_edits(&mut request, edits).unwrap();
    let bytes = request.encode_to_vec();
    let decoded = ExportTraceServiceRequest::decode(bytes.as_slice()).unwrap();
    assert_eq!(decoded, request);
    let resource = request.resource_spans[0].encode_to_vec();
    ResourceSpans::decode(resource.as_slice()).unwrap();
}

#[test]
fn setting_a_duplicated_key_leaves_one_attribute_with_the_new_value() {
    let attribute = |key: &str, value: &str| KeyValue {
        key: key.into(),
        value: Some(string(value)),
        ..Default::default()
    };
    let mut request = request(1);
    request.resource_spans[0].scope_spans[1].spans[0].attributes = vec![
        attribute("user.email", "ann@example.com"),
        attribute("order.id", "ord-1"),
        attribute("user.email", "bob@example.com"),
    ];
    let edit = Edit::SetAttribute((
        Target::Span(0),
        "user.email".into(),
        Value::Str("[REDACTED:email]".into()),
    ));
    apply_edits(&mut request, vec![edit]).unwrap();
    let kept: Vec<(&str, &AnyValue)> = request.resource_spans[0].scope_spans[1].spans[0]
        .attributes
        .iter()
        .map(|kv| (kv.key.as_str(), kv.value.as_ref().unwrap()))
        .collect();
    assert_eq!(
        kept,
        [
            ("user.email", &string("[REDACTED:email]")),
            ("order.id", &string("ord-1"))
        ]
    );
}

#[test]
fn event_indices_refer_to_the_batch_as_sent() {
    // Found by the contract_edits fuzz target: dropping the same event twice, or an
    // event after an earlier one of the same span, removed by shifted indices and
    // panicked the worker.
    let mut request = request(2);
    let events = &mut request.resource_spans[0].scope_spans[1].spans[0].events;
    *events = ["e0", "e1", "e2"]
        .map(|name| otlp::span::Event {
            name: name.into(),
            ..Default::default()
        })
        .to_vec();
    let edits = vec![
        Edit::DropEvent((1, 0)),
        Edit::DropEvent((1, 2)),
        Edit::DropEvent((1, 2)),
        Edit::SetAttribute((Target::Event((1, 1)), "kept".into(), Value::Boolean(true))),
        Edit::SetEventName((1, 1, "renamed e1".into())),
        Edit::SetEventName((1, 2, "renamed, then dropped".into())),
    ];
    apply_edits(&mut request, edits).unwrap();
    let span = &request.resource_spans[0].scope_spans[1].spans[0];
    let names: Vec<_> = span.events.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["renamed e1"]);
    assert_eq!(span.events[0].attributes[0].key, "kept");
    assert_eq!(span.dropped_events_count, 2);
}

#[test]
fn an_edit_on_a_span_range_applies_to_each_span_of_it() {
    let mut request = request(4);
    let range = Target::Spans(Range { start: 1, len: 2 });
    let edits = vec![
        Edit::SetAttribute((range, "env".into(), Value::Str("prod".into()))),
        Edit::RenameAttribute((range, "a".into(), "b".into())),
        Edit::SetAttribute((
            Target::Spans(Range { start: 0, len: 4 }),
            "n".into(),
            Value::Int(1),
        )),
        Edit::RemoveAttribute((Target::Spans(Range { start: 3, len: 1 }), "n".into())),
    ];
    // The output cap counts the bytes once per span the edit applies to.
    assert_eq!(
        output_bytes(&edits),
        (3 + 4) * 2 + (1 + 1) * 2 + (1 + 8) * 4 + 1
    );
    apply_edits(&mut request, edits).unwrap();
    let keys: Vec<Vec<&str>> = request.resource_spans[0]
        .scope_spans
        .iter()
        .flat_map(|ss| &ss.spans)
        .map(|span| span.attributes.iter().map(|kv| kv.key.as_str()).collect())
        .collect();
    assert_eq!(
        keys,
        [
            vec!["a", "n"],
            vec!["env", "b", "n"],
            vec!["env", "b", "n"],
            vec!["a"]
        ]
    );
}

#[test]
fn dropping_every_span_of_a_scope_removes_the_empty_containers() {
    let mut request = request(4);
    apply_edits(&mut request, vec![Edit::DropSpan(0), Edit::DropSpan(1)]).unwrap();
    assert_eq!(request.resource_spans[0].scope_spans.len(), 1);
    apply_edits(&mut request, vec![Edit::DropSpan(0), Edit::DropSpan(1)]).unwrap();
    assert!(request.resource_spans.is_empty());
}

#[test]
fn an_invalid_edit_leaves_the_batch_untouched() {
    let original = request(2);
    for (edit, words) in [
        (Edit::DropSpan(2), "span index 2 is out of range"),
        (Edit::SetName((9, "x".into())), "span index 9"),
        (
            Edit::RemoveAttribute((Target::Resource(1), "a".into())),
            "resource index 1",
        ),
        (Edit::DropEvent((0, 3)), "event index 3"),
        (
            Edit::SetAttribute((Target::Link((0, 0)), "k".into(), Value::Int(1))),
            "link index 0",
        ),
        (
            Edit::SetAttribute((Target::Span(0), String::new(), Value::Int(1))),
            "key is empty",
        ),
        (
            Edit::RemoveAttribute((Target::Spans(Range { start: 1, len: 2 }), "a".into())),
            "span range 1..3 is out of range (batch has 2 spans)",
        ),
        (
            Edit::RemoveAttribute((
                Target::Spans(Range {
                    start: u32::MAX,
                    len: u32::MAX,
                }),
                "a".into(),
            )),
            "is out of range",
        ),
        (
            Edit::SetAttribute((
                Target::Span(0),
                "k".into(),
                Value::Nested(vec![ValueNode::Array(vec![0])]),
            )),
            "not a later node",
        ),
        (
            Edit::SetAttribute((
                Target::Span(0),
                "k".into(),
                Value::Nested(vec![ValueNode::Array(vec![1, 1]), ValueNode::Int(1)]),
            )),
            "more than one parent",
        ),
    ] {
        let mut request = original.clone();
        let edits = vec![Edit::SetName((0, "changed".into())), edit];
        let error = apply_edits(&mut request, edits).unwrap_err();
        assert_eq!(error.edit, 1);
        assert!(error.to_string().contains(words), "{error}");
        assert_eq!(request, original);
    }
}
