//! Unit tests through the SDK's native helpers.

use super::*;
use weft_sdk::testing::{BatchBuilder, run};
use weft_sdk::{Edit, Target};

fn enrich(config: &str) -> Enrich {
    Enrich::init(config).unwrap_or_else(|e| panic!("{e}"))
}

fn set(span: u32, key: &str, value: impl Into<Value>) -> Edit {
    Edit::SetAttribute((Target::Span(span), key.into(), value.into()))
}

fn remove(span: u32, key: &str) -> Edit {
    Edit::RemoveAttribute((Target::Span(span), key.into()))
}

#[test]
fn insert_update_upsert_follow_collector_semantics() {
    let mut p = enrich(
        r#"{"actions": [
            {"action": "insert", "key": "a", "value": "new"},
            {"action": "update", "key": "b", "value": "new"},
            {"action": "upsert", "key": "c", "value": 3}
        ]}"#,
    );
    let batch = BatchBuilder::new()
        .span("has-a-and-b")
        .attribute("a", "old")
        .attribute("b", "old")
        .span("has-nothing")
        .build();
    let edits = run(&mut p, &batch).unwrap();
    assert_eq!(
        edits,
        vec![
            set(0, "b", "new"),
            set(0, "c", 3i64),
            set(1, "a", "new"),
            set(1, "c", 3i64)
        ]
    );
}

#[test]
fn copy_rename_delete_and_later_actions_see_earlier_ones() {
    let mut p = enrich(
        r#"{"actions": [
            {"action": "rename", "key": "user.id", "from_attribute": "enduser.id"},
            {"action": "update", "key": "user.id", "value": "masked"},
            {"action": "copy", "key": "service.version", "from_resource": "service.version"},
            {"action": "copy", "key": "route.copy", "from_attribute": "http.route"},
            {"action": "delete", "key": "http.route"}
        ]}"#,
    );
    let batch = BatchBuilder::new()
        .resource_attribute("service.version", "1.4.2")
        .span("GET /x")
        .attribute("enduser.id", "u-42")
        .attribute("http.route", "/x")
        .build();
    let edits = run(&mut p, &batch).unwrap();
    assert_eq!(
        edits,
        vec![
            remove(0, "enduser.id"),
            set(0, "user.id", "u-42"),
            set(0, "user.id", "masked"),
            set(0, "service.version", "1.4.2"),
            set(0, "route.copy", "/x"),
            remove(0, "http.route"),
        ]
    );
}

#[test]
fn conditions_select_spans() {
    let mut p = enrich(
        r#"{"actions": [
            {"action": "upsert", "key": "team", "value": "payments", "when": {"service": "checkout"}},
            {"action": "upsert", "key": "server", "value": true, "when": {"kind": "server"}},
            {"action": "upsert", "key": "select", "value": true, "when": {"span_name": "SELECT*"}},
            {"action": "upsert", "key": "premium", "value": true, "when": {"attribute": {"key": "tier", "value": "gold"}}}
        ]}"#,
    );
    let batch = BatchBuilder::new()
        .resource_attribute("service.name", "checkout")
        .span_with("SELECT orders", |s| s.kind = SpanKind::Server)
        .attribute("tier", "gold")
        .span_with("GET /", |s| s.kind = SpanKind::Client)
        .attribute("tier", "silver")
        .build();
    let edits = run(&mut p, &batch).unwrap();
    assert_eq!(
        edits,
        vec![
            set(0, "team", "payments"),
            set(0, "server", true),
            set(0, "select", true),
            set(0, "premium", true),
            set(1, "team", "payments"),
        ]
    );
}

#[test]
fn derives_routes_and_extracted_values() {
    let mut p = enrich(
        r#"{"actions": [
            {"action": "normalize_route", "key": "http.route"},
            {"action": "extract", "key": "tenant", "from_attribute": "url.path", "pattern": "^/t/(?P<value>[a-z0-9-]+)/"}
        ]}"#,
    );
    let batch = BatchBuilder::new()
        .span("GET")
        .attribute("url.path", "/t/acme-co/users/123?x=1")
        .build();
    let edits = run(&mut p, &batch).unwrap();
    assert_eq!(
        edits,
        vec![
            set(0, "http.route", "/t/acme-co/users/{id}"),
            set(0, "tenant", "acme-co")
        ]
    );
}

#[test]
fn reads_only_what_the_actions_name() {
    let p = enrich(
        r#"{"actions": [
            {"action": "upsert", "key": "env", "value": "prod"},
            {"action": "insert", "key": "a", "value": 1, "when": {"service": "s", "kind": "server"}}
        ]}"#,
    );
    let interest = p.interest();
    assert_eq!(
        interest.span_attributes,
        AttributeSelection::Keys(vec!["a".into()])
    );
    assert_eq!(
        interest.resource_attributes,
        AttributeSelection::Keys(vec!["service.name".into()])
    );
    assert_eq!(interest.span_fields, SpanFields::KIND);
    let stamp = enrich(r#"{"actions": [{"action": "upsert", "key": "env", "value": "prod"}]}"#);
    assert_eq!(stamp.interest(), Interest::nothing());
}

#[test]
fn refuses_invalid_configs_with_the_path() {
    for (config, words) in [
        (
            r#"{"actions": [{"action": "upsert", "key": "a"}]}"#,
            "actions[0]`: `upsert` needs a `value`",
        ),
        (
            r#"{"actions": [{"action": "copy", "key": "a"}]}"#,
            "`copy` needs `from_attribute` or `from_resource`",
        ),
        (
            r#"{"actions": [{"action": "extract", "key": "a", "from_attribute": "b", "pattern": "("}]}"#,
            "invalid `pattern`",
        ),
        (
            r#"{"actions": [{"action": "delete", "key": "a", "when": {"kind": "sideways"}}]}"#,
            "unknown span kind",
        ),
        (
            r#"{"actions": [{"action": "explode", "key": "a"}]}"#,
            "unknown variant `explode`",
        ),
        (r#"{"actionz": []}"#, "unknown field `actionz`"),
    ] {
        let error = Enrich::init(config).err().unwrap();
        assert!(error.contains(words), "{config}: {error}");
    }
}

#[test]
fn leading_unconditional_upserts_are_one_edit_for_the_batch() {
    let mut p = enrich(
        r#"{"actions": [
            {"action": "upsert", "key": "env", "value": "prod"},
            {"action": "insert", "key": "env", "value": "dev"},
            {"action": "copy", "key": "env.copy", "from_attribute": "env"},
            {"action": "upsert", "key": "late", "value": "per span"}
        ]}"#,
    );
    let batch = BatchBuilder::new().span("a").span("b").build();
    let edits = run(&mut p, &batch).unwrap();
    let all = Target::Spans(weft_sdk::Range { start: 0, len: 2 });
    assert_eq!(
        edits,
        vec![
            Edit::SetAttribute((all, "env".into(), "prod".into())),
            // Later actions see the upsert: the insert finds `env` present.
            set(0, "env.copy", "prod"),
            set(0, "late", "per span"),
            set(1, "env.copy", "prod"),
            set(1, "late", "per span"),
        ]
    );
    // A condition keeps the upsert per span; an empty batch gets no edit.
    let mut conditional = enrich(
        r#"{"actions": [{"action": "upsert", "key": "env", "value": "prod", "when": {"span_name": "a"}}]}"#,
    );
    assert_eq!(
        run(&mut conditional, &batch).unwrap(),
        vec![set(0, "env", "prod")]
    );
    assert_eq!(run(&mut p, &BatchBuilder::new().build()).unwrap(), vec![]);
}
