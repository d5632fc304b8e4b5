//! Tests of `view.rs`.

use super::*;
use crate::contract::bindings::{AttributeSelection, ValueView};
use crate::contract::no_interest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::{self as otlp, ResourceSpans, ScopeSpans};

fn kv(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

fn request() -> ExportTraceServiceRequest {
    let span = otlp::Span {
        trace_id: (1..=16).collect(),
        span_id: vec![0, 0, 0, 0, 0, 0, 1, 2],
        name: "GET /".into(),
        kind: 2,
        attributes: vec![
            kv("s", any_value::Value::StringValue("x".into())),
            kv("i", any_value::Value::IntValue(3)),
            kv("t", any_value::Value::StringValue("y".into())),
        ],
        ..Default::default()
    };
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans: vec![span],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

fn text(view: &Batch, slice: Slice) -> &str {
    std::str::from_utf8(&view.arena[slice.offset as usize..(slice.offset + slice.len) as usize])
        .unwrap()
}

fn attributes(view: &Batch, range: Range) -> Vec<(&str, &ValueView)> {
    view.attributes[range.start as usize..(range.start + range.len) as usize]
        .iter()
        .map(|a| (view.keys[a.key as usize].as_str(), &a.value))
        .collect()
}

#[test]
fn the_view_carries_only_what_the_interest_asks_for() {
    let mut interest = no_interest();
    let view = build_view(&Traces::from_request(&request()), &interest);
    assert_eq!(view.spans.len(), 1);
    let span = &view.spans[0];
    assert!(span.name.len == 0 && span.attributes.len == 0 && span.span_id == 0);
    assert!(view.arena.is_empty() && view.attributes.is_empty() && view.keys.is_empty());

    interest.span_fields = SpanFields::NAME | SpanFields::IDS | SpanFields::KIND;
    interest.span_attributes = AttributeSelection::Strings;
    let view = build_view(&Traces::from_request(&request()), &interest);
    let span = &view.spans[0];
    assert_eq!(text(&view, span.name), "GET /");
    assert_eq!(span.kind, SpanKind::Server);
    assert_eq!(span.span_id, 0x0102);
    assert_eq!(span.trace_id.high, 0x0102030405060708);
    assert_eq!(span.trace_id.low, 0x090a0b0c0d0e0f10);
    let found: Vec<(&str, &str)> = attributes(&view, span.attributes)
        .into_iter()
        .map(|(k, v)| match v {
            ValueView::Str(s) => (k, text(&view, *s)),
            _ => panic!("only strings were selected"),
        })
        .collect();
    assert_eq!(found, [("s", "x"), ("t", "y")]);

    interest.span_attributes = AttributeSelection::Keys(vec!["i".into()]);
    let view = build_view(&Traces::from_request(&request()), &interest);
    assert_eq!(
        attributes(&view, view.spans[0].attributes),
        [("i", &ValueView::Int(3))]
    );
}

#[test]
fn spans_of_a_batch_share_one_key_table_and_arena() {
    let mut request = request();
    let first = request.resource_spans[0].scope_spans[0].spans[0].clone();
    let mut second = first.clone();
    second.attributes.reverse();
    request.resource_spans[0].scope_spans[0]
        .spans
        .extend([first, second]);
    let interest = Interest {
        span_attributes: AttributeSelection::All,
        ..no_interest()
    };
    let view = build_view(&Traces::from_request(&request), &interest);
    assert_eq!(view.keys, ["s", "i", "t"]);
    assert_eq!(view.attributes.len(), 9);
    assert_eq!(attributes(&view, view.spans[2].attributes)[0].0, "t");
    assert_eq!(view.spans[1].attributes, Range { start: 3, len: 3 });
}
