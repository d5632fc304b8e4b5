//! A span flattened to named fields, for showing what a processor saw, made, and changed.

use std::collections::BTreeMap;

use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::Span;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::codec::hex;

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

    /// Flattens `span` with its `resource` and scope name/version.
    pub fn of(span: &Span, resource: Option<&Resource>, scope: (&str, &str)) -> Self {
        let mut fields = BTreeMap::new();
        let mut put = |key: String, value: Value| {
            fields.insert(key, value);
        };
        put("name".into(), Value::String(span.name.clone()));
        let kind = SpanKind::try_from(span.kind)
            .map(|k| k.as_str_name().trim_start_matches("SPAN_KIND_").to_owned())
            .unwrap_or_else(|_| span.kind.to_string());
        put("kind".into(), Value::String(kind));
        if !span.parent_span_id.is_empty() {
            put(
                "parent_span_id".into(),
                Value::String(hex(&span.parent_span_id)),
            );
        }
        if !span.trace_state.is_empty() {
            put(
                "trace_state".into(),
                Value::String(span.trace_state.clone()),
            );
        }
        put(
            "duration_ns".into(),
            Value::from(
                span.end_time_unix_nano
                    .saturating_sub(span.start_time_unix_nano),
            ),
        );
        if let Some(status) = &span.status {
            let code = StatusCode::try_from(status.code)
                .map(|c| {
                    c.as_str_name()
                        .trim_start_matches("STATUS_CODE_")
                        .to_owned()
                })
                .unwrap_or_else(|_| status.code.to_string());
            put("status.code".into(), Value::String(code));
            if !status.message.is_empty() {
                put(
                    "status.message".into(),
                    Value::String(status.message.clone()),
                );
            }
        }
        attributes(&mut put, "attributes.", &span.attributes);
        if let Some(resource) = resource {
            attributes(&mut put, "resource.attributes.", &resource.attributes);
        }
        if !scope.0.is_empty() {
            put("scope.name".into(), Value::String(scope.0.to_owned()));
        }
        if !scope.1.is_empty() {
            put("scope.version".into(), Value::String(scope.1.to_owned()));
        }
        let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
        for event in &span.events {
            let n = seen.entry(&event.name).or_default();
            *n += 1;
            let prefix = if *n == 1 {
                format!("events[{}]", event.name)
            } else {
                format!("events[{}#{n}]", event.name)
            };
            put(prefix.clone(), Value::from(event.time_unix_nano));
            attributes(
                &mut put,
                &format!("{prefix}.attributes."),
                &event.attributes,
            );
        }
        for link in &span.links {
            let prefix = format!("links[{}]", hex(&link.span_id));
            put(prefix.clone(), Value::String(hex(&link.trace_id)));
            attributes(&mut put, &format!("{prefix}.attributes."), &link.attributes);
        }
        SpanSnapshot {
            trace_id: hex(&span.trace_id),
            span_id: hex(&span.span_id),
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

/// Whether `span` (with its resource) has a span or resource attribute `key` whose value reads
/// `value` (strings as they are; numbers and booleans as they print).
pub fn matches(span: &Span, resource: Option<&Resource>, key: &str, value: &str) -> bool {
    let resource_attributes = resource.map(|r| r.attributes.as_slice()).unwrap_or(&[]);
    span.attributes
        .iter()
        .chain(resource_attributes)
        .filter(|kv| kv.key == key)
        .any(|kv| match kv.value.as_ref().map(json) {
            Some(Value::String(s)) => s == value,
            Some(other) => serde_json::from_str::<Value>(value).is_ok_and(|v| v == other),
            None => value.is_empty(),
        })
}

fn attributes(put: &mut impl FnMut(String, Value), prefix: &str, list: &[KeyValue]) {
    for kv in list {
        let value = kv.value.as_ref().map(json).unwrap_or(Value::Null);
        put(format!("{prefix}{}", kv.key), value);
    }
}

/// An OTLP value as JSON: bytes as hex, arrays and key-value lists nested.
fn json(value: &AnyValue) -> Value {
    match &value.value {
        // A dictionary reference of OTLP's profiles signal; never sent for spans.
        None | Some(any_value::Value::StringValueStrindex(_)) => Value::Null,
        Some(any_value::Value::StringValue(s)) => Value::String(s.clone()),
        Some(any_value::Value::BoolValue(b)) => Value::Bool(*b),
        Some(any_value::Value::IntValue(i)) => Value::from(*i),
        Some(any_value::Value::DoubleValue(d)) => Value::from(*d),
        Some(any_value::Value::BytesValue(b)) => Value::String(hex(b)),
        Some(any_value::Value::ArrayValue(a)) => Value::Array(a.values.iter().map(json).collect()),
        Some(any_value::Value::KvlistValue(l)) => Value::Object(
            l.values
                .iter()
                .map(|kv| {
                    (
                        kv.key.clone(),
                        kv.value.as_ref().map(json).unwrap_or(Value::Null),
                    )
                })
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::trace::v1::span::Event;

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
        let before = SpanSnapshot::of(
            &span(
                vec![string("user.email", "a@b.example"), string("password", "x")],
                vec![],
            ),
            None,
            ("", ""),
        );
        let after = SpanSnapshot::of(
            &span(
                vec![
                    string("user.email", "[REDACTED:email]"),
                    string("weft.redacted", "1"),
                ],
                vec![],
            ),
            None,
            ("", ""),
        );
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
        let snapshot = SpanSnapshot::of(
            &span(vec![], vec![event("one"), event("two")]),
            None,
            ("", ""),
        );
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
        assert!(matches(&s, Some(&resource), "service.name", "checkout"));
        assert!(matches(&s, Some(&resource), "http.route", "/pay"));
        assert!(matches(&s, Some(&resource), "http.status_code", "500"));
        assert!(!matches(&s, Some(&resource), "http.route", "/cart"));
        assert!(!matches(&s, None, "service.name", "checkout"));
    }
}
