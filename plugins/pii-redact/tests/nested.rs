//! Strings inside arrays and key-value lists, and key rules on nested keys by dotted path.

mod common;

use common::edits_of;

use weft_sdk::testing::BatchBuilder;
use weft_sdk::{Batch, Edit, Target, Value, ValueNode};

const HASH_KEY: &str = "test-key-0123456789abcdef";

fn s(text: &str) -> ValueNode {
    ValueNode::Str(text.to_owned())
}

fn kv(entries: &[(&str, u32)]) -> ValueNode {
    ValueNode::Kvlist(entries.iter().map(|(k, c)| ((*k).to_owned(), *c)).collect())
}

fn span_with(key: &str, nodes: Vec<ValueNode>) -> Batch {
    BatchBuilder::new()
        .span("a")
        .attribute(key, Value::Nested(nodes))
        .build()
}

/// The one edit of `edits`, which must set `key` on span 0 to a nested value: its nodes.
fn nested_set(edits: &[Edit], key: &str) -> Vec<ValueNode> {
    match edits {
        [Edit::SetAttribute((Target::Span(0), k, Value::Nested(nodes)))] if k == key => {
            nodes.clone()
        }
        other => panic!("expected one nested set of {key}, got {other:?}"),
    }
}

#[test]
fn strings_inside_arrays_and_lists_are_redacted_and_the_rest_is_kept() {
    // app.users = [ "bob@example.com", "plain", { card: "4111 1111 1111 1111", id: 7 } ]
    let nodes = vec![
        ValueNode::Array(vec![1, 2, 3]),
        s("mail bob@example.com please"),
        s("plain"),
        kv(&[("card", 4), ("id", 5)]),
        s("4111 1111 1111 1111"),
        ValueNode::Int(7),
    ];
    let edits = edits_of("{}", &span_with("app.users", nodes));
    assert_eq!(
        nested_set(&edits, "app.users"),
        [
            ValueNode::Array(vec![1, 2, 3]),
            s("mail [REDACTED:email] please"),
            s("plain"),
            kv(&[("card", 4), ("id", 5)]),
            s("[REDACTED:credit_card]"),
            ValueNode::Int(7),
        ]
    );
}

#[test]
fn a_clean_nested_value_is_left_alone() {
    let nodes = vec![
        kv(&[("route", 1), ("ids", 2)]),
        s("/api/v1/orders/{id}"),
        ValueNode::Array(vec![3, 4]),
        s("550e8400-e29b-41d4-a716-446655440000"),
        ValueNode::Int(42),
    ];
    assert_eq!(edits_of("{}", &span_with("app.request", nodes)), []);
}

#[test]
fn deny_keys_match_nested_keys_by_their_dotted_path() {
    // http.request.header = { authorization: ["Basic abc"], accept: "json", pin: 1234 }
    let nodes = vec![
        kv(&[("authorization", 1), ("accept", 3), ("pin", 4)]),
        ValueNode::Array(vec![2]),
        s("Basic dXNlcjpwYXNz"),
        s("application/json"),
        ValueNode::Int(1234),
    ];
    let batch = span_with("http.request.header", nodes);
    let config = r#"{"deny_keys": ["http.request.header.authorization", "*.pin"]}"#;
    assert_eq!(
        nested_set(&edits_of(config, &batch), "http.request.header"),
        [
            kv(&[("authorization", 1), ("accept", 2), ("pin", 3)]),
            s("[REDACTED:denied_key]"),
            s("application/json"),
            s("[REDACTED:denied_key]"),
        ],
        "a denied list is masked whole, a denied number too"
    );
    let dropped = r#"{"deny_keys": ["*.authorization"], "deny_action": "drop"}"#;
    assert_eq!(
        nested_set(&edits_of(dropped, &batch), "http.request.header"),
        [
            kv(&[("accept", 1), ("pin", 2)]),
            s("application/json"),
            ValueNode::Int(1234),
        ],
        "drop removes the entry, not the attribute"
    );
}

#[test]
fn hash_gives_the_same_marker_nested_as_at_the_top() {
    let config =
        format!(r#"{{"hash_key": "{HASH_KEY}", "detectors": {{"email": {{"action": "hash"}}}}}}"#);
    let top = BatchBuilder::new()
        .span("a")
        .attribute("user.email", "bob@example.com")
        .build();
    let marker = match edits_of(&config, &top).as_slice() {
        [Edit::SetAttribute((_, _, Value::Str(marker)))] => marker.clone(),
        other => panic!("{other:?}"),
    };
    let nested = span_with(
        "users",
        vec![ValueNode::Array(vec![1]), s("bob@example.com")],
    );
    assert_eq!(
        nested_set(&edits_of(&config, &nested), "users"),
        [ValueNode::Array(vec![1]), s(&marker)]
    );
}

#[test]
fn allow_list_mode_reaches_into_lists_by_path() {
    // app.ctx = { tenant: "acme", note: "free text", inner: { region: "eu" } }
    let nodes = vec![
        kv(&[("tenant", 1), ("note", 2), ("inner", 3)]),
        s("acme"),
        s("free text"),
        kv(&[("region", 4)]),
        s("eu"),
    ];
    let batch = span_with("app.ctx", nodes);
    let config = r#"{"mode": "allow_list", "allow_keys": ["app.ctx.tenant", "*.region"]}"#;
    assert_eq!(
        nested_set(&edits_of(config, &batch), "app.ctx"),
        [
            kv(&[("tenant", 1), ("note", 2), ("inner", 3)]),
            s("acme"),
            s("[REDACTED:unlisted_key]"),
            kv(&[("region", 4)]),
            s("eu"),
        ]
    );
    let whole = r#"{"mode": "allow_list", "allow_keys": ["app.ctx"]}"#;
    assert_eq!(edits_of(whole, &batch), [], "an allowed key passes whole");
}

#[test]
fn sanitizers_select_nested_values_by_path() {
    // db = { statement: "SELECT ... 'Hoffmann'" }
    let nodes = vec![
        kv(&[("statement", 1)]),
        s("SELECT * FROM users WHERE last_name = 'Hoffmann'"),
    ];
    assert_eq!(
        nested_set(&edits_of("{}", &span_with("db", nodes)), "db"),
        [
            kv(&[("statement", 1)]),
            s("SELECT * FROM users WHERE last_name = ?")
        ]
    );
}

#[test]
fn a_rewritten_value_stays_within_the_contracts_nesting_limit() {
    // 25 levels of arrays, with an email at the top level and a clean string at the bottom.
    let mut nodes = vec![ValueNode::Array(vec![1, 2]), s("bob@example.com")];
    for _ in 0..24 {
        let next = nodes.len() as u32 + 1;
        nodes.push(ValueNode::Array(vec![next]));
    }
    nodes.push(s("deep and clean"));
    let written = nested_set(&edits_of("{}", &span_with("deep", nodes)), "deep");
    assert_eq!(written[1], s("[REDACTED:email]"));
    let depth_of_mask = written
        .iter()
        .position(|node| *node == s("[REDACTED:too_deep]"))
        .expect("the part past the limit is cut");
    // Node 2 sits at depth 1, so node 2 + 19 is at depth 20, the deepest the contract allows:
    // the list there becomes the mask, a string.
    assert_eq!(depth_of_mask, 2 + 19);
    assert!(!written.contains(&s("deep and clean")));
}

#[test]
fn nested_scanning_can_be_turned_off() {
    let nodes = vec![ValueNode::Array(vec![1]), s("bob@example.com")];
    let config = r#"{"redact_nested_values": false}"#;
    assert_eq!(edits_of(config, &span_with("users", nodes)), []);
}
