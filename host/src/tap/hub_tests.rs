//! Tests of `hub.rs`.

use super::*;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};

fn request(count: u8, email: &str) -> ExportTraceServiceRequest {
    let spans = (0..count)
        .map(|n| Span {
            trace_id: vec![n + 1; 16],
            span_id: vec![n + 1; 8],
            name: format!("span-{n}"),
            attributes: vec![KeyValue {
                key_strindex: 0,
                key: "user.email".into(),
                value: Some(AnyValue {
                    value: Some(any_value::Value::StringValue(email.into())),
                }),
            }],
            ..Default::default()
        })
        .collect();
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

fn tap(hub: &TapHub, point: TapPoint, rate: u32) -> mpsc::Receiver<TapEvent> {
    hub.open(tap_request(point, rate, true))
}

fn tap_request(point: TapPoint, rate: u32, raw: bool) -> TapRequest {
    TapRequest {
        processor: "redact".into(),
        point,
        filters: Vec::new(),
        rate,
        raw,
    }
}

#[test]
fn without_raw_a_diff_shows_nothing_that_entered_the_processor() {
    let hub = TapHub::default();
    let mut receiver = hub.open(tap_request(TapPoint::Diff, 10, false));
    let mut watch = hub.watch("redact").unwrap();
    watch.before(&Traces::from_request(&request(2, "a@b.example")));
    let mut after = request(2, "[REDACTED:email]");
    after.resource_spans[0].scope_spans[0].spans.remove(1);
    watch.after(Some(&Traces::from_request(&after)));
    let events: Vec<TapEvent> = std::iter::from_fn(|| receiver.try_recv().ok()).collect();
    let shown = serde_json::to_string(&events).unwrap();
    assert!(!shown.contains("a@b.example"), "{shown}");
    let change = &events[0].changes.as_ref().unwrap()[0];
    assert_eq!(change.field, "attributes.user.email");
    assert_eq!(
        (change.before.as_ref(), change.after.as_ref()),
        (None, Some(&"[REDACTED:email]".into()))
    );
    assert!(change.before_hidden, "a change, not an addition");
    assert_eq!(
        events[0].span.fields["attributes.user.email"],
        "[REDACTED:email]"
    );
    assert!(events[1].dropped && events[1].span.fields.is_empty());
}

#[test]
fn taps_open_within_the_count_and_the_total_rate() {
    let hub = TapHub::default();
    let limits = TapLimits {
        max_concurrent: 2,
        max_total_rate: 100,
    };
    let (_first, rate) = hub
        .open_within(tap_request(TapPoint::After, 70, false), limits)
        .unwrap();
    assert_eq!(rate, 70);
    let (second, rate) = hub
        .open_within(tap_request(TapPoint::After, 70, false), limits)
        .unwrap();
    assert_eq!(rate, 30, "cut to what the first leaves");
    assert_eq!(
        hub.open_within(tap_request(TapPoint::After, 1, false), limits)
            .unwrap_err(),
        TapRefusal::TooMany(2)
    );
    drop(second);
    let limits = TapLimits {
        max_concurrent: 4,
        ..limits
    };
    let (_third, rate) = hub
        .open_within(tap_request(TapPoint::After, 70, false), limits)
        .unwrap();
    assert_eq!(rate, 30, "a closed tap's rate comes back");
    assert_eq!(
        hub.open_within(tap_request(TapPoint::After, 1, false), limits)
            .unwrap_err(),
        TapRefusal::RateTaken(100)
    );
}

#[test]
fn no_watch_without_a_tap_on_that_processor() {
    let hub = TapHub::default();
    assert!(hub.watch("redact").is_none());
    let _receiver = tap(&hub, TapPoint::Diff, 10);
    assert!(hub.watch("enrich").is_none());
    assert!(hub.watch("redact").is_some());
}

#[test]
fn a_diff_shows_what_changed_and_what_was_dropped_within_the_rate() {
    let hub = TapHub::default();
    let mut receiver = tap(&hub, TapPoint::Diff, 3);
    let mut watch = hub.watch("redact").unwrap();
    let before = request(5, "a@b.example");
    watch.before(&Traces::from_request(&before));
    let mut after = request(5, "[REDACTED:email]");
    after.resource_spans[0].scope_spans[0].spans.remove(1);
    watch.after(Some(&Traces::from_request(&after)));
    let events: Vec<TapEvent> = std::iter::from_fn(|| receiver.try_recv().ok()).collect();
    assert_eq!(events.len(), 3, "the rate allows three spans now");
    assert!(!events[0].dropped);
    let change = &events[0].changes.as_ref().unwrap()[0];
    assert_eq!(change.field, "attributes.user.email");
    assert_eq!(change.after, Some("[REDACTED:email]".into()));
    assert!(events[1].dropped, "span-1 did not come out");
}

#[test]
fn a_slow_reader_misses_spans_and_is_told_how_many() {
    let hub = TapHub::default();
    let mut receiver = tap(&hub, TapPoint::Before, 1_000);
    for _ in 0..3 {
        let mut watch = hub.watch("redact").unwrap();
        watch.before(&Traces::from_request(&request(200, "x")));
        watch.after(None);
    }
    let mut received = 0;
    let mut skipped = 0;
    while let Ok(event) = receiver.try_recv() {
        received += 1;
        skipped += event.skipped;
    }
    assert_eq!(received, TAP_QUEUE);
    let mut watch = hub.watch("redact").unwrap();
    watch.before(&Traces::from_request(&request(1, "x")));
    let last = receiver.try_recv().unwrap();
    assert_eq!(skipped + last.skipped, 600 - TAP_QUEUE as u64);
}

#[test]
fn a_closed_reader_is_forgotten() {
    let hub = TapHub::default();
    drop(tap(&hub, TapPoint::After, 10));
    assert!(hub.watch("redact").is_none());
    assert_eq!(hub.open_taps(), 0);
}
