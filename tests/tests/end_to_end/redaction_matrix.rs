//! The redaction matrix: every detector's and sanitizer's example from the plugin's corpus,
//! planted in every place a span carries text, sent through the embedded default pipeline;
//! each must leave masked, and each look-alike, planted the same way, must leave as it came.
//!
//! Places: the span's name, status message and event name; span, event, link, resource and
//! scope attributes; a string inside an array and inside a key-value list. The SQL example
//! goes where statements live: under `db.statement` in each attribute place, in an array
//! under that key, and as the `statement` entry of a `db` list.

use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList, any_value,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status, span};
use weft::config::DEFAULT_CONFIG;
use weft_plugin_pii_redact::corpus::{FREE_TEXT, LOOK_ALIKES, STATEMENT, STATEMENT_SANITIZED};
use weft_tests::client::grpc_client;
use weft_tests::sink::OtlpSink;
use weft_tests::spans::{kv, kv_int};
use weft_tests::start_weft;

/// The places a free-text example is planted.
const PLACES: [&str; 10] = [
    "span name",
    "status message",
    "event name",
    "span attribute",
    "event attribute",
    "link attribute",
    "resource attribute",
    "scope attribute",
    "array element",
    "key-value list entry",
];

/// The places the SQL example is planted.
const STATEMENT_PLACES: [&str; 7] = [
    "span attribute",
    "event attribute",
    "link attribute",
    "resource attribute",
    "scope attribute",
    "array element",
    "key-value list entry",
];

fn string(text: &str) -> AnyValue {
    AnyValue {
        value: Some(any_value::Value::StringValue(text.into())),
    }
}

fn nested(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

/// A resource, scope and span carrying `text` in every free-text place, tagged `index`.
fn free_text_item(index: i64, text: &str) -> ResourceSpans {
    let attributes = vec![
        kv("probe", text),
        nested(
            "probe.list",
            any_value::Value::ArrayValue(ArrayValue {
                values: vec![string("plain"), string(text)],
            }),
        ),
        nested(
            "probe.map",
            any_value::Value::KvlistValue(KeyValueList {
                values: vec![kv("note", text), kv_int("n", 1)],
            }),
        ),
    ];
    let mut item = item(index, (text, text), kv("probe", text), attributes);
    item.scope_spans[0].spans[0].status = Some(Status {
        code: 2,
        message: text.into(),
    });
    item
}

/// A resource, scope and span carrying `statement` in every place a statement lives.
fn statement_item(index: i64, statement: &str) -> ResourceSpans {
    let attributes = vec![
        kv("db.statement", statement),
        nested(
            "db.query.text",
            any_value::Value::ArrayValue(ArrayValue {
                values: vec![string(statement)],
            }),
        ),
        nested(
            "db",
            any_value::Value::KvlistValue(KeyValueList {
                values: vec![kv("statement", statement)],
            }),
        ),
    ];
    let names = ("SELECT shop.users", "query");
    item(index, names, kv("db.statement", statement), attributes)
}

/// A resource, scope and span tagged `index`: the span named `name` with `attributes` and
/// one event (named `event`) and one link, and `planted` on the resource, the scope, the
/// event and the link.
fn item(
    index: i64,
    (name, event): (&str, &str),
    planted: KeyValue,
    attributes: Vec<KeyValue>,
) -> ResourceSpans {
    let span = Span {
        trace_id: vec![1; 16],
        span_id: (index as u64 + 1).to_be_bytes().to_vec(),
        name: name.into(),
        attributes,
        events: vec![span::Event {
            name: event.into(),
            attributes: vec![planted.clone()],
            ..Default::default()
        }],
        links: vec![span::Link {
            trace_id: vec![7; 16],
            span_id: vec![7; 8],
            attributes: vec![planted.clone()],
            ..Default::default()
        }],
        ..Default::default()
    };
    ResourceSpans {
        resource: Some(Resource {
            attributes: vec![
                kv("service.name", "matrix"),
                kv_int("probe.index", index),
                planted.clone(),
            ],
            ..Default::default()
        }),
        scope_spans: vec![ScopeSpans {
            scope: Some(InstrumentationScope {
                name: "matrix".into(),
                attributes: vec![planted],
                ..Default::default()
            }),
            spans: vec![span],
            ..Default::default()
        }],
        ..Default::default()
    }
}

fn text_of(value: Option<&AnyValue>) -> String {
    match value.and_then(|v| v.value.as_ref()) {
        Some(any_value::Value::StringValue(text)) => text.clone(),
        other => panic!("not a string: {other:?}"),
    }
}

fn attribute<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a AnyValue> {
    attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
}

fn array_strings(value: Option<&AnyValue>) -> Vec<String> {
    match value.and_then(|v| v.value.as_ref()) {
        Some(any_value::Value::ArrayValue(array)) => {
            array.values.iter().map(|v| text_of(Some(v))).collect()
        }
        other => panic!("not an array: {other:?}"),
    }
}

fn list_entry(value: Option<&AnyValue>, key: &str) -> String {
    match value.and_then(|v| v.value.as_ref()) {
        Some(any_value::Value::KvlistValue(list)) => text_of(attribute(&list.values, key)),
        other => panic!("not a key-value list: {other:?}"),
    }
}

/// The text found in each free-text place of `item`, in [`PLACES`] order.
fn free_text_places(item: &ResourceSpans) -> Vec<String> {
    let resource = &item.resource.as_ref().unwrap().attributes;
    let scope_spans = &item.scope_spans[0];
    let scope = &scope_spans.scope.as_ref().unwrap().attributes;
    let span = &scope_spans.spans[0];
    let list = array_strings(attribute(&span.attributes, "probe.list"));
    assert_eq!(list[0], "plain", "the clean element stays");
    vec![
        span.name.clone(),
        span.status.as_ref().unwrap().message.clone(),
        span.events[0].name.clone(),
        text_of(attribute(&span.attributes, "probe")),
        text_of(attribute(&span.events[0].attributes, "probe")),
        text_of(attribute(&span.links[0].attributes, "probe")),
        text_of(attribute(resource, "probe")),
        text_of(attribute(scope, "probe")),
        list[1].clone(),
        list_entry(attribute(&span.attributes, "probe.map"), "note"),
    ]
}

/// The text found in each statement place of `item`, in [`STATEMENT_PLACES`] order.
fn statement_places(item: &ResourceSpans) -> Vec<String> {
    let resource = &item.resource.as_ref().unwrap().attributes;
    let scope_spans = &item.scope_spans[0];
    let scope = &scope_spans.scope.as_ref().unwrap().attributes;
    let span = &scope_spans.spans[0];
    vec![
        text_of(attribute(&span.attributes, "db.statement")),
        text_of(attribute(&span.events[0].attributes, "db.statement")),
        text_of(attribute(&span.links[0].attributes, "db.statement")),
        text_of(attribute(resource, "db.statement")),
        text_of(attribute(scope, "db.statement")),
        array_strings(attribute(&span.attributes, "db.query.text"))[0].clone(),
        list_entry(attribute(&span.attributes, "db"), "statement"),
    ]
}

/// The embedded defaults, listening on free ports and exporting to `sink`.
fn default_pipeline(sink: std::net::SocketAddr) -> String {
    let config = DEFAULT_CONFIG
        .replace("127.0.0.1:4317", "127.0.0.1:0")
        .replace("127.0.0.1:4318", "127.0.0.1:0");
    let exporter = "[exporters.stdout]\ntype = \"stdout\"";
    assert!(config.contains(exporter), "the defaults export to stdout");
    config.replace(
        exporter,
        &format!(
            "[exporters.sink]\ntype = \"otlp\"\nendpoint = \"http://{sink}\"\n\
             [exporters.sink.batch]\ntimeout_ms = 20"
        ),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_class_in_every_place_is_redacted_and_every_look_alike_kept() {
    let mut resource_spans = Vec::new();
    for (index, probe) in FREE_TEXT.iter().enumerate() {
        resource_spans.push(free_text_item(index as i64, probe.text));
    }
    let statement_index = FREE_TEXT.len();
    resource_spans.push(statement_item(statement_index as i64, STATEMENT.text));
    let look_alikes_from = statement_index + 1;
    for (offset, text) in LOOK_ALIKES.iter().enumerate() {
        resource_spans.push(free_text_item((look_alikes_from + offset) as i64, text));
    }
    let sent = resource_spans.len();

    let sink = OtlpSink::start().await;
    let weft = start_weft(&default_pipeline(sink.addr())).await;
    let mut client = grpc_client(weft.grpc_addr().unwrap()).await;
    client
        .export(ExportTraceServiceRequest { resource_spans })
        .await
        .unwrap();
    assert_eq!(sink.wait_for(sent, Duration::from_secs(60)).await, sent);
    weft.shutdown().await;

    let mut by_index = std::collections::BTreeMap::new();
    for request in sink.requests() {
        for item in request.resource_spans {
            let resource = &item.resource.as_ref().unwrap().attributes;
            let index = match attribute(resource, "probe.index").and_then(|v| v.value.as_ref()) {
                Some(any_value::Value::IntValue(index)) => *index as usize,
                other => panic!("no probe index: {other:?}"),
            };
            by_index.insert(index, item);
        }
    }
    assert_eq!(by_index.len(), sent, "every probe's span left");

    let (mut redacted, mut probes) = (0, 0);
    let mut missed = Vec::new();
    for (index, probe) in FREE_TEXT.iter().enumerate() {
        let mask = format!("[REDACTED:{}]", probe.class);
        for (place, text) in PLACES.iter().zip(free_text_places(&by_index[&index])) {
            probes += 1;
            if text.contains(&mask) && !text.contains(probe.secret) {
                redacted += 1;
            } else {
                missed.push(format!("{} in the {place}: {text:?}", probe.class));
            }
        }
    }
    let statements = statement_places(&by_index[&statement_index]);
    for (place, text) in STATEMENT_PLACES.iter().zip(statements) {
        probes += 1;
        if text == STATEMENT_SANITIZED {
            redacted += 1;
        } else {
            missed.push(format!("sql in the {place}: {text:?}"));
        }
    }
    assert_eq!(
        probes,
        FREE_TEXT.len() * PLACES.len() + STATEMENT_PLACES.len()
    );
    assert!(
        missed.is_empty(),
        "{redacted} of {probes} redacted; missed:\n{}",
        missed.join("\n")
    );

    let mut changed = Vec::new();
    for (offset, text) in LOOK_ALIKES.iter().enumerate() {
        let places = free_text_places(&by_index[&(look_alikes_from + offset)]);
        for (place, out) in PLACES.iter().zip(places) {
            if out != *text {
                changed.push(format!("{text:?} in the {place} became {out:?}"));
            }
        }
    }
    assert!(
        changed.is_empty(),
        "look-alikes changed ({} of {}):\n{}",
        changed.len(),
        LOOK_ALIKES.len() * PLACES.len(),
        changed.join("\n")
    );
}
