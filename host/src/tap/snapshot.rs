//! A span flattened to named fields, for showing what a processor saw, made, and changed.

use std::collections::BTreeMap;

use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::codec::hex;
use crate::pdata::Loc;
use crate::pdata::storage::Storage;
use crate::pdata::traces::read::{AnyValue, any_value, key_value, list_items};
use crate::pdata::traces::{Attr, Traces};

/// One span, its resource and scope, as `field → value`. Field names read like paths:
/// `name`, `status.code`, `attributes.user.email`, `resource.attributes.service.name`,
/// `events[exception].attributes.exception.message` (a second event of the same name is
/// `events[exception#2]`), `links[SPAN_ID].attributes.KEY`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpanSnapshot {
    /// The span's trace id, hex.
    pub trace_id: String,
    /// The span's id, hex.
    pub span_id: String,
    /// Every field with a value.
    pub fields: BTreeMap<String, Value>,
}

/// One field a processor changed: `before` is absent for an added field, `after` for a removed
/// one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldChange {
    /// The field's path, as in [`SpanSnapshot::fields`].
    pub field: String,
    /// Its value before the processor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<Value>,
    /// Its value after the processor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<Value>,
    /// The field had a value before, which this tap may not show (`admin.tap.allow_raw` is
    /// off): a change or a removal, not an addition.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub before_hidden: bool,
}

impl FieldChange {
    /// The change without its value before the processor.
    pub fn hide_before(&mut self) {
        self.before_hidden |= self.before.take().is_some();
    }
}

impl SpanSnapshot {
    /// The span's ids, without any field.
    pub fn ids_only(&self) -> Self {
        SpanSnapshot {
            trace_id: self.trace_id.clone(),
            span_id: self.span_id.clone(),
            fields: BTreeMap::new(),
        }
    }

    /// Flattens span `index` of `batch`, with its resource's attributes and its scope's name
    /// and version.
    pub fn of(batch: &Traces, index: usize) -> Self {
        let storage = batch.storage();
        let text = |loc| storage.text(loc).to_owned();
        let span = batch.span(index);
        let mut fields = BTreeMap::new();
        let mut put = |key: String, value: Value| {
            fields.insert(key, value);
        };
        put("name".into(), Value::String(text(span.name)));
        let kind = SpanKind::try_from(span.kind)
            .map(|k| k.as_str_name().trim_start_matches("SPAN_KIND_").to_owned())
            .unwrap_or_else(|_| span.kind.to_string());
        put("kind".into(), Value::String(kind));
        if !span.parent_span_id.is_empty() {
            put(
                "parent_span_id".into(),
                Value::String(hex(storage.bytes(span.parent_span_id))),
            );
        }
        if !span.trace_state.is_empty() {
            put("trace_state".into(), Value::String(text(span.trace_state)));
        }
        put(
            "duration_ns".into(),
            Value::from(
                span.end_time_unix_nano
                    .saturating_sub(span.start_time_unix_nano),
            ),
        );
        // An unset status reads as no status.
        if span.status_code != 0 || !span.status_message.is_empty() {
            let code = StatusCode::try_from(span.status_code)
                .map(|c| {
                    c.as_str_name()
                        .trim_start_matches("STATUS_CODE_")
                        .to_owned()
                })
                .unwrap_or_else(|_| span.status_code.to_string());
            put("status.code".into(), Value::String(code));
            if !span.status_message.is_empty() {
                put(
                    "status.message".into(),
                    Value::String(text(span.status_message)),
                );
            }
        }
        attributes(
            &mut put,
            "attributes.",
            storage,
            batch.span_attributes(index),
        );
        let scope = batch.scope_of(index);
        let resource = batch.resource_of_scope(scope);
        attributes(
            &mut put,
            "resource.attributes.",
            storage,
            batch.resource_attributes(resource),
        );
        let owner = batch.scope(scope);
        if !owner.name.is_empty() {
            put("scope.name".into(), Value::String(text(owner.name)));
        }
        if !owner.version.is_empty() {
            put("scope.version".into(), Value::String(text(owner.version)));
        }
        let mut seen: BTreeMap<String, usize> = BTreeMap::new();
        batch.each_event(index, |event, list| {
            let name = text(event.name);
            let n = seen.entry(name.clone()).or_default();
            *n += 1;
            let prefix = if *n == 1 {
                format!("events[{name}]")
            } else {
                format!("events[{name}#{n}]")
            };
            put(prefix.clone(), Value::from(event.time_unix_nano));
            attributes(&mut put, &format!("{prefix}.attributes."), storage, list);
        });
        batch.each_link(index, |link, list| {
            let prefix = format!("links[{}]", hex(storage.bytes(link.span_id)));
            put(
                prefix.clone(),
                Value::String(hex(storage.bytes(link.trace_id))),
            );
            attributes(&mut put, &format!("{prefix}.attributes."), storage, list);
        });
        SpanSnapshot {
            trace_id: hex(storage.bytes(span.trace_id)),
            span_id: hex(storage.bytes(span.span_id)),
            fields,
        }
    }

    /// The fields that differ from `before` to `self`, in field order.
    pub fn changes_from(&self, before: &SpanSnapshot) -> Vec<FieldChange> {
        let mut changes = Vec::new();
        for (field, old) in &before.fields {
            match self.fields.get(field) {
                Some(new) if new == old => {}
                new => changes.push(FieldChange {
                    field: field.clone(),
                    before: Some(old.clone()),
                    after: new.cloned(),
                    before_hidden: false,
                }),
            }
        }
        for (field, new) in &self.fields {
            if !before.fields.contains_key(field) {
                changes.push(FieldChange {
                    field: field.clone(),
                    before: None,
                    after: Some(new.clone()),
                    before_hidden: false,
                });
            }
        }
        changes.sort_by(|a, b| a.field.cmp(&b.field));
        changes
    }
}

/// Whether span `index` of `batch` has a span or resource attribute `key` whose value reads
/// `value` (strings as they are; numbers and booleans as they print).
pub fn matches(batch: &Traces, index: usize, key: &str, value: &str) -> bool {
    let storage = batch.storage();
    let resource = batch.resource_of_scope(batch.scope_of(index));
    batch
        .span_attributes(index)
        .chain(batch.resource_attributes(resource))
        .filter(|kv| storage.bytes(kv.key) == key.as_bytes())
        .any(|kv| match kv.value.map(|at| value_json(storage, at)) {
            Some(Value::String(s)) => s == value,
            Some(other) => serde_json::from_str::<Value>(value).is_ok_and(|v| v == other),
            None => value.is_empty(),
        })
}

fn attributes(
    put: &mut impl FnMut(String, Value),
    prefix: &str,
    storage: &Storage,
    list: impl Iterator<Item = Attr>,
) {
    for kv in list {
        let value = kv
            .value
            .map(|at| value_json(storage, at))
            .unwrap_or(Value::Null);
        put(format!("{prefix}{}", storage.text(kv.key)), value);
    }
}

/// The `AnyValue` message at `at` as JSON.
fn value_json(storage: &Storage, at: Loc) -> Value {
    json(storage, any_value(storage, Some(at)))
}

/// An OTLP value as JSON: bytes as hex, arrays and key-value lists nested.
fn json(storage: &Storage, value: AnyValue) -> Value {
    match value {
        AnyValue::Empty => Value::Null,
        AnyValue::Str(at) => Value::String(storage.text(at).to_owned()),
        AnyValue::Bool(b) => Value::Bool(b),
        AnyValue::Int(i) => Value::from(i),
        AnyValue::Double(d) => Value::from(d),
        AnyValue::Bytes(at) => Value::String(hex(storage.bytes(at))),
        AnyValue::Array(list) => Value::Array(
            list_items(storage, list)
                .map(|item| value_json(storage, item))
                .collect(),
        ),
        AnyValue::Kvlist(list) => Value::Object(
            list_items(storage, list)
                .map(|entry| {
                    let (key, value) = key_value(storage, entry);
                    let value = value
                        .map(|at| value_json(storage, at))
                        .unwrap_or(Value::Null);
                    (storage.text(key).to_owned(), value)
                })
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
    use opentelemetry_proto::tonic::resource::v1::Resource;
    use opentelemetry_proto::tonic::trace::v1::span::Event;
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};

    /// `span` under `resource`, as a batch of its own.
    fn batch(span: Span, resource: Option<Resource>) -> Traces {
        Traces::from_request(&ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource,
                scope_spans: vec![ScopeSpans {
                    spans: vec![span],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        })
    }

    fn snapshot(span: Span) -> SpanSnapshot {
        SpanSnapshot::of(&batch(span, None), 0)
    }

    fn string(key: &str, value: &str) -> KeyValue {
        KeyValue {
            key_strindex: 0,
            key: key.into(),
            value: Some(AnyValue {
                value: Some(any_value::Value::StringValue(value.into())),
            }),
        }
    }

    fn span(attributes: Vec<KeyValue>, events: Vec<Event>) -> Span {
        Span {
            trace_id: vec![1; 16],
            span_id: vec![2; 8],
            name: "checkout".into(),
            attributes,
            events,
            ..Default::default()
        }
    }

    #[test]
    fn changes_name_masked_added_and_removed_fields() {
        let before = snapshot(span(
            vec![string("user.email", "a@b.example"), string("password", "x")],
            vec![],
        ));
        let after = snapshot(span(
            vec![
                string("user.email", "[REDACTED:email]"),
                string("weft.redacted", "1"),
            ],
            vec![],
        ));
        let changes = after.changes_from(&before);
        let described: Vec<(&str, Option<&Value>, Option<&Value>)> = changes
            .iter()
            .map(|c| (c.field.as_str(), c.before.as_ref(), c.after.as_ref()))
            .collect();
        assert_eq!(
            described,
            vec![
                ("attributes.password", Some(&Value::from("x")), None),
                (
                    "attributes.user.email",
                    Some(&Value::from("a@b.example")),
                    Some(&Value::from("[REDACTED:email]"))
                ),
                ("attributes.weft.redacted", None, Some(&Value::from("1"))),
            ]
        );
        assert!(before.changes_from(&before).is_empty());
    }

    #[test]
    fn events_of_the_same_name_are_told_apart() {
        let event = |message: &str| Event {
            name: "exception".into(),
            attributes: vec![string("exception.message", message)],
            ..Default::default()
        };
        let snapshot = snapshot(span(vec![], vec![event("one"), event("two")]));
        assert_eq!(
            snapshot.fields["events[exception].attributes.exception.message"],
            "one"
        );
        assert_eq!(
            snapshot.fields["events[exception#2].attributes.exception.message"],
            "two"
        );
    }

    #[test]
    fn filters_match_span_and_resource_attributes_by_printed_value() {
        let resource = Resource {
            attributes: vec![string("service.name", "checkout")],
            ..Default::default()
        };
        let mut s = span(vec![string("http.route", "/pay")], vec![]);
        s.attributes.push(KeyValue {
            key_strindex: 0,
            key: "http.status_code".into(),
            value: Some(AnyValue {
                value: Some(any_value::Value::IntValue(500)),
            }),
        });
        let with_resource = batch(s.clone(), Some(resource));
        assert!(matches(&with_resource, 0, "service.name", "checkout"));
        assert!(matches(&with_resource, 0, "http.route", "/pay"));
        assert!(matches(&with_resource, 0, "http.status_code", "500"));
        assert!(!matches(&with_resource, 0, "http.route", "/cart"));
        assert!(!matches(&batch(s, None), 0, "service.name", "checkout"));
    }
}
