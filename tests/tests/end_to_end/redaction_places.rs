//! Every place a span carries text, through `builtin:pii-redact` on its defaults: a card
//! number, an email address, a credential, a URL with a password and a SQL literal in each,
//! and each must leave redacted while the rest of the span leaves as it came.

use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::{Span, Status, span};
use weft_tests::client::grpc_client;
use weft_tests::sink::OtlpSink;
use weft_tests::spans::{kv, request_of, span};
use weft_tests::{config_with, start_weft};

const REDACT: &str = r#"
[[processors]]
name = "redact"
plugin = "builtin:pii-redact"
"#;

/// The secrets planted, each with the marker its mask must carry. Made up: the card passes
/// Luhn, the GitHub token's checksum is not valid (so it is caught as an assignment).
const PROBES: [(&str, &str); 4] = [
    (
        "card 4111 1111 1111 1111 declined",
        "[REDACTED:credit_card]",
    ),
    ("mail bob@example.com", "[REDACTED:email]"),
    (
        "retry with password=hunter2!x",
        "[REDACTED:secret_assignment]",
    ),
    (
        "from postgres://app:Sup3rS3cret@db:5432/shop",
        "[REDACTED:url_password]",
    ),
];

fn text_attributes(prefix: &str) -> Vec<KeyValue> {
    PROBES
        .iter()
        .enumerate()
        .map(|(i, (text, _))| kv(&format!("{prefix}.{i}"), text))
        .collect()
}

/// One span carrying every probe in every place the contract lets a plugin edit.
fn request() -> ExportTraceServiceRequest {
    let mut span: Span = span(0, &format!("GET /users/{}", "bob@example.com"));
    span.attributes = text_attributes("span");
    span.attributes.push(kv(
        "db.statement",
        "SELECT * FROM users WHERE last_name = 'Hoffmann' AND id = 42",
    ));
    span.attributes.push(kv("order.id", "ord-2024-000123"));
    span.status = Some(Status {
        code: 2,
        message: "declined: card 4111 1111 1111 1111".into(),
    });
    span.events = vec![span::Event {
        name: "exception".into(),
        attributes: text_attributes("event"),
        ..Default::default()
    }];
    span.links = vec![span::Link {
        trace_id: vec![7; 16],
        span_id: vec![7; 8],
        attributes: text_attributes("link"),
        ..Default::default()
    }];
    let mut request = request_of(vec![span]);
    let resource_spans = &mut request.resource_spans[0];
    if let Some(resource) = resource_spans.resource.as_mut() {
        resource.attributes.extend(text_attributes("resource"));
    }
    if let Some(scope) = resource_spans.scope_spans[0].scope.as_mut() {
        scope.attributes = text_attributes("scope");
    }
    request
}

fn text(attributes: &[KeyValue], key: &str) -> String {
    let value = attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .unwrap_or_else(|| panic!("no attribute {key}"));
    match value {
        AnyValue {
            value: Some(any_value::Value::StringValue(text)),
        } => text.clone(),
        other => panic!("{key} is not a string: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_place_a_span_carries_text_is_redacted_on_the_defaults() {
    let sink = OtlpSink::start().await;
    let weft = start_weft(&config_with(REDACT, sink.addr())).await;
    let mut client = grpc_client(weft.grpc_addr().unwrap()).await;
    client.export(request()).await.unwrap();
    assert_eq!(sink.wait_for(1, Duration::from_secs(30)).await, 1);
    weft.shutdown().await;
    let out = &sink.requests()[0].resource_spans[0];
    let scope = out.scope_spans[0].scope.as_ref().unwrap();
    let span = &out.scope_spans[0].spans[0];
    let places: [(&str, &[KeyValue]); 5] = [
        ("span", &span.attributes),
        ("event", &span.events[0].attributes),
        ("link", &span.links[0].attributes),
        ("resource", &out.resource.as_ref().unwrap().attributes),
        ("scope", &scope.attributes),
    ];
    for (place, attributes) in places {
        for (i, (probe, mask)) in PROBES.iter().enumerate() {
            let got = text(attributes, &format!("{place}.{i}"));
            assert!(got.contains(mask), "{place}: {probe:?} became {got:?}");
        }
    }
    assert_eq!(span.name, "GET /users/[REDACTED:email]");
    let status = span.status.as_ref().unwrap();
    assert_eq!(status.message, "declined: card [REDACTED:credit_card]");
    assert_eq!(
        text(&span.attributes, "db.statement"),
        "SELECT * FROM users WHERE last_name = ? AND id = ?"
    );
    assert_eq!(
        text(&span.attributes, "order.id"),
        "ord-2024-000123",
        "a look-alike leaves as it came"
    );
    assert_eq!(span.events[0].name, "exception");
}
