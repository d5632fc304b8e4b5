//! The processor end to end, through the SDK's test helpers: config in, batch in, edits out.

mod common;

use common::{edits_of, exception, init, refused, set};

use weft_sdk::testing::{BatchBuilder, EventSpec, run};
use weft_sdk::{
    AttributeSelection, AttributeView, Batch, Edit, Link, Processor, Range, Slice, SpanFields,
    StatusCode, Target, TraceId, Value, ValueView,
};

const JWT: &str =
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U";
const HASH_KEY: &str = "test-key-0123456789abcdef";

fn remove(target: Target, key: &str) -> Edit {
    Edit::RemoveAttribute((target, key.into()))
}

/// Adds a link with string attributes to span `span` (the `BatchBuilder` makes none). Links are
/// added span by span, so each span's links stay contiguous.
fn add_link(batch: &mut Batch, span: usize, attributes: &[(&str, &str)]) {
    let start = batch.attributes.len() as u32;
    for (key, value) in attributes {
        let key = match batch.keys.iter().position(|k| k == key) {
            Some(index) => index as u32,
            None => {
                batch.keys.push((*key).to_owned());
                batch.keys.len() as u32 - 1
            }
        };
        let offset = batch.arena.len() as u32;
        batch.arena.extend_from_slice(value.as_bytes());
        let len = value.len() as u32;
        batch.attributes.push(AttributeView {
            key,
            value: ValueView::Str(Slice { offset, len }),
        });
    }
    let index = batch.links.len() as u32;
    batch.links.push(Link {
        trace_id: TraceId { high: 7, low: 7 },
        span_id: 7,
        trace_state: Slice { offset: 0, len: 0 },
        attributes: Range {
            start,
            len: attributes.len() as u32,
        },
        dropped_attributes_count: 0,
        flags: 0,
    });
    let links = &mut batch.spans[span].links;
    if links.len == 0 {
        links.start = index;
    }
    links.len += 1;
}

#[test]
fn empty_config_masks_every_kind_of_pii_in_span_attributes() {
    let batch = BatchBuilder::new()
        .span("checkout")
        .attribute("user.email", "bob@example.com")
        .attribute("payment.card", "4111 1111 1111 1111")
        .attribute("user.phone", "+44 20 7946 0958")
        .attribute("client.address", "203.0.113.9")
        .attribute("network.peer.address", "2001:db8::7")
        .attribute("auth", "Bearer abc123def456ghi")
        .attribute("session.token", JWT)
        .attribute("payment.iban", "GB82 WEST 1234 5698 7654 32")
        .attribute("user.ssn", "123-45-6789")
        .attribute("http.route", "/api/v1/orders/{id}")
        .attribute("order.id", "ord-2024-000123")
        .attribute("http.response.status_code", 200i64)
        .build();
    let span = Target::Span(0);
    assert_eq!(
        edits_of("{}", &batch),
        [
            set(span, "user.email", "[REDACTED:email]"),
            set(span, "payment.card", "[REDACTED:credit_card]"),
            set(span, "user.phone", "[REDACTED:phone]"),
            set(span, "client.address", "[REDACTED:ipv4]"),
            set(span, "network.peer.address", "[REDACTED:ipv6]"),
            set(span, "auth", "Bearer [REDACTED:bearer_token]"),
            set(span, "session.token", "[REDACTED:jwt]"),
            set(span, "payment.iban", "[REDACTED:iban]"),
            set(span, "user.ssn", "[REDACTED:ssn]"),
        ]
    );
}

#[test]
fn only_the_matched_part_of_a_value_changes() {
    let batch = BatchBuilder::new()
        .span("GET /users")
        .attribute(
            "url.full",
            "https://shop.example/reset?email=bob%40example.com&from=10.1.2.3:8080",
        )
        .build();
    assert_eq!(
        edits_of("{}", &batch),
        [set(
            Target::Span(0),
            "url.full",
            "https://shop.example/reset?email=[REDACTED:email]&from=[REDACTED:ipv4]:8080"
        )]
    );
}

#[test]
fn event_targets_count_events_within_their_span() {
    let batch = BatchBuilder::new()
        .span_with("first", |span| span.events.push(exception("timeout")))
        .span_with("second", |span| {
            span.events.push(exception("retrying"));
            span.events
                .push(exception("no account for bob@example.com"));
        })
        .build();
    assert_eq!(
        edits_of("{}", &batch),
        [set(
            Target::Event((1, 1)),
            "exception.message",
            "no account for [REDACTED:email]"
        )]
    );
}

#[test]
fn resource_and_link_attributes_are_redacted() {
    let mut batch = BatchBuilder::new()
        .resource_attribute("service.name", "checkout")
        .resource_attribute("host.ip", "198.51.100.23")
        .span("a")
        .span("b")
        .build();
    add_link(&mut batch, 1, &[("peer", "clean")]);
    add_link(&mut batch, 1, &[("link.owner", "ann@example.com")]);
    assert_eq!(
        edits_of("{}", &batch),
        [
            set(Target::Resource(0), "host.ip", "[REDACTED:ipv4]"),
            set(Target::Link((1, 1)), "link.owner", "[REDACTED:email]"),
        ]
    );
}

#[test]
fn clean_telemetry_produces_no_edits() {
    let batch = BatchBuilder::new()
        .resource_attribute("service.name", "checkout")
        .resource_attribute("service.version", "v10.4.1-beta")
        .resource_attribute("host.name", "ip-10-0-3-17.ec2.internal")
        .span_with("GET /api/v1/orders/{id}", |span| {
            span.status_message = "upstream timed out after 1500ms".into();
            span.events.push(exception("connection reset by peer"));
        })
        .attribute("http.route", "/api/v1/orders/{id}")
        .attribute("url.path", "/api/v1/orders/ord-2024-000123")
        .attribute("server.address", "localhost:8080")
        .attribute("order.id", "ord-2024-000123")
        .attribute("request.id", "123e4567-e89b-12d3-a456-426614174000")
        .attribute("trace.parent", "4bf92f3577b34da6a3ce929d0e0e4736")
        .attribute("created_at", "2024-01-15T10:30:00.123Z")
        .attribute("created_unix", "1700000000")
        .attribute("created_unix_ms", "1700000000123")
        .attribute("batch.number", "4111111111111112")
        .attribute("library.version", "1.2.3")
        .attribute("duration", "1.5s")
        .attribute(
            "db.statement",
            "SELECT * FROM orders WHERE id = $1 LIMIT $2",
        )
        .attribute("loopback", "127.0.0.1")
        .build();
    let config = r#"{"redact_span_names": true, "redact_status_messages": true}"#;
    assert_eq!(edits_of(config, &batch), []);
}

#[test]
fn values_that_are_not_strings_are_not_scanned() {
    let batch = BatchBuilder::new()
        .span("a")
        .attribute("card.as.int", 4111111111111111i64)
        .attribute("flag", true)
        .build();
    assert_eq!(edits_of("{}", &batch), []);
}

#[test]
fn interest_asks_only_for_what_the_config_needs() {
    let strings = init(r#"{"redact_nested_values": false}"#).interest();
    assert_eq!(strings.span_attributes, AttributeSelection::Strings);
    assert_eq!(strings.event_attributes, AttributeSelection::Strings);
    assert_eq!(strings.link_attributes, AttributeSelection::Strings);
    assert_eq!(strings.resource_attributes, AttributeSelection::Strings);
    assert_eq!(strings.scope_attributes, AttributeSelection::Strings);
    let nested = init("{}").interest();
    assert_eq!(
        nested.span_attributes,
        AttributeSelection::All,
        "arrays and lists are scanned by default, so every type is sent"
    );
    assert_eq!(nested.scope_attributes, AttributeSelection::All);
    assert_eq!(
        strings.span_fields,
        SpanFields::EVENTS | SpanFields::LINKS | SpanFields::NAME | SpanFields::STATUS,
        "names and status messages are scanned by default"
    );
    let no_text = init(r#"{"redact_span_names": false, "redact_status_messages": false}"#);
    assert_eq!(
        no_text.interest().span_fields,
        SpanFields::EVENTS | SpanFields::LINKS
    );

    let all = init(r#"{"deny_keys": ["*.pin"]}"#).interest();
    assert_eq!(all.span_attributes, AttributeSelection::All);
    assert_eq!(all.event_attributes, AttributeSelection::All);

    let text = init(r#"{"redact_span_names": true, "redact_status_messages": true}"#).interest();
    assert_eq!(
        text.span_fields,
        SpanFields::EVENTS | SpanFields::LINKS | SpanFields::NAME | SpanFields::STATUS
    );

    let off = r#"{"detectors": {"email": {"enabled": false}, "credit_card": {"enabled": false},
        "phone": {"enabled": false}, "ipv4": {"enabled": false}, "ipv6": {"enabled": false},
        "jwt": {"enabled": false}, "bearer_token": {"enabled": false},
        "iban": {"enabled": false}, "ssn": {"enabled": false},
        "private_key": {"enabled": false}, "aws_access_key": {"enabled": false},
        "gcp_api_key": {"enabled": false}, "azure_client_secret": {"enabled": false},
        "digitalocean_token": {"enabled": false}, "github_token": {"enabled": false},
        "gitlab_token": {"enabled": false}, "npm_token": {"enabled": false},
        "pypi_token": {"enabled": false}, "slack_token": {"enabled": false},
        "slack_webhook": {"enabled": false}, "twilio_key": {"enabled": false},
        "stripe_key": {"enabled": false}, "square_token": {"enabled": false},
        "sendgrid_key": {"enabled": false}, "mailgun_key": {"enabled": false},
        "mailchimp_key": {"enabled": false}, "ai_api_key": {"enabled": false},
        "secret_assignment": {"enabled": false}},
        "sanitizers": {"url": {"enabled": false}, "sql": {"enabled": false}},
        "redact_span_names": true}"#;
    let nothing = init(off).interest();
    assert_eq!(nothing.span_attributes, AttributeSelection::None);
    assert_eq!(nothing.resource_attributes, AttributeSelection::None);
    assert_eq!(nothing.span_fields, SpanFields::empty());
}

#[test]
fn detectors_switch_off_and_take_their_own_action_and_replacement() {
    let batch = BatchBuilder::new()
        .span("a")
        .attribute("ip", "203.0.113.9")
        .attribute("card", "4111-1111-1111-1111")
        .attribute("ssn", "ssn 123-45-6789")
        .build();
    let config = r#"{"detectors": {
        "ipv4": {"enabled": false},
        "credit_card": {"replacement": "[CARD]"},
        "ssn": {"action": "drop"}
    }}"#;
    assert_eq!(
        edits_of(config, &batch),
        [
            set(Target::Span(0), "card", "[CARD]"),
            remove(Target::Span(0), "ssn"),
        ]
    );
}

#[test]
fn hash_is_keyed_stable_and_groups_spellings() {
    let config =
        format!(r#"{{"hash_key": "{HASH_KEY}", "detectors": {{"email": {{"action": "hash"}}}}}}"#);
    let batch = BatchBuilder::new()
        .span("a")
        .attribute("user.email", "Bob@Example.com")
        .span("b")
        .attribute("url.query", "email=bob%40example.com")
        .attribute("other", "ann@example.com")
        .build();
    let edits = edits_of(&config, &batch);
    let value = |edit: &Edit| match edit {
        Edit::SetAttribute((_, _, Value::Str(value))) => value.clone(),
        other => panic!("unexpected edit {other:?}"),
    };
    let bob = value(&edits[0]);
    assert!(
        bob.starts_with("[HASH:") && bob.len() == "[HASH:]".len() + 16,
        "{bob}"
    );
    assert_eq!(value(&edits[1]), format!("email={bob}"));
    assert_ne!(value(&edits[2]), bob);
    // Stable across batches and across instances (each worker has its own).
    assert_eq!(edits_of(&config, &batch), edits);
    // A different key gives unrelated markers.
    let other_key = config.replace(HASH_KEY, "another-key-0123456789abcdef");
    assert_ne!(value(&edits_of(&other_key, &batch)[0]), bob);
    // The marker length is configurable.
    let long = config.replace("\"hash_key\"", "\"hash_length\": 32, \"hash_key\"");
    assert_eq!(
        value(&edits_of(&long, &batch)[0]).len(),
        "[HASH:]".len() + 32
    );
}

#[test]
fn hash_needs_a_long_enough_key() {
    let error = refused(r#"{"detectors": {"email": {"action": "hash"}}}"#);
    assert_eq!(
        error,
        "invalid config at `detectors.email.action`: action \"hash\" needs `hash_key` to be set"
    );
    let error = refused(r#"{"deny_keys": ["*.pin"], "deny_action": "hash"}"#);
    assert!(
        error.starts_with("invalid config at `deny_action`"),
        "{error}"
    );
    let error = refused(r#"{"hash_key": "short"}"#);
    assert!(
        error.starts_with("invalid config at `hash_key`: must be at least 16 bytes"),
        "{error}"
    );
    let error = refused(r#"{"hash_length": 4}"#);
    assert!(
        error.starts_with("invalid config at `hash_length`"),
        "{error}"
    );
    // An action that is never used needs no key.
    init(r#"{"deny_action": "hash", "unlisted_action": "hash"}"#);
}

#[test]
fn denied_keys_are_redacted_whatever_their_value() {
    let batch = BatchBuilder::new()
        .resource_attribute("cloud.account.secret_key", "k")
        .span("login")
        .attribute("db.password", "hunter2")
        .attribute("DB.Password", "hunter2")
        .attribute("user.pin", 1234i64)
        .attribute(
            "http.request.header.authorization",
            "Basic dXNlcjpwYXNzd29yZA==",
        )
        .attribute("user.name", "ann")
        .build();
    let config = r#"{"deny_keys": ["*.password", "*.pin", "*secret*", "http.request.header.authorization"]}"#;
    let span = Target::Span(0);
    assert_eq!(
        edits_of(config, &batch),
        [
            set(
                Target::Resource(0),
                "cloud.account.secret_key",
                "[REDACTED:denied_key]"
            ),
            set(span, "db.password", "[REDACTED:denied_key]"),
            set(span, "DB.Password", "[REDACTED:denied_key]"),
            set(span, "user.pin", "[REDACTED:denied_key]"),
            set(
                span,
                "http.request.header.authorization",
                "[REDACTED:denied_key]"
            ),
        ]
    );
    let drop = config.replace("]}", r#"], "deny_action": "drop"}"#);
    let edits = edits_of(&drop, &batch);
    assert_eq!(edits[3], remove(span, "user.pin"));
    assert_eq!(edits.len(), 5);
}

#[test]
fn allow_list_mode_passes_listed_keys_and_redacts_the_rest() {
    let batch = BatchBuilder::new()
        .resource_attribute("service.name", "checkout")
        .resource_attribute("host.name", "ann-laptop")
        .span_with("GET /users/{id}", |span| {
            span.events.push(exception("boom"))
        })
        .attribute("http.route", "/users/{id}")
        .attribute("http.request.method", "GET")
        .attribute("user.comment", "call me maybe")
        .attribute("http.response.status_code", 200i64)
        .attribute("http.secret", "x")
        .build();
    let config = r#"{
        "mode": "allow_list",
        "allow_keys": ["service.*", "http.*"],
        "deny_keys": ["*secret*"],
        "deny_action": "drop"
    }"#;
    assert_eq!(
        edits_of(config, &batch),
        [
            set(Target::Resource(0), "host.name", "[REDACTED:unlisted_key]"),
            set(Target::Span(0), "user.comment", "[REDACTED:unlisted_key]"),
            remove(Target::Span(0), "http.secret"),
            set(
                Target::Event((0, 0)),
                "exception.message",
                "[REDACTED:unlisted_key]"
            ),
        ]
    );
}

#[test]
fn allow_list_settings_are_checked() {
    let error = refused(r#"{"mode": "allow_list"}"#);
    assert!(
        error.starts_with("invalid config at `allow_keys`"),
        "{error}"
    );
    let error = refused(r#"{"allow_keys": ["http.*"]}"#);
    assert!(
        error.contains("only used with mode = \"allow_list\""),
        "{error}"
    );
    let error = refused(r#"{"deny_keys": ["ok", ""]}"#);
    assert_eq!(error, "invalid config at `deny_keys[1]`: empty key pattern");
    let error = refused(r#"{"mode": "allow-list"}"#);
    assert!(
        error.starts_with("invalid config at `mode`: unknown variant"),
        "{error}"
    );
}

#[test]
fn custom_patterns_mask_hash_or_drop() {
    let config = format!(
        r#"{{"hash_key": "{HASH_KEY}", "patterns": [
            {{"name": "employee_id", "regex": "EMP-[0-9]{{6}}"}},
            {{"name": "ticket", "regex": "TCK-[0-9]+", "action": "hash"}},
            {{"name": "internal", "regex": "(?i-u:internal-only)", "action": "drop"}},
            {{"name": "order", "regex": "ORD[0-9]+", "replacement": "<order>"}}
        ]}}"#
    );
    let batch = BatchBuilder::new()
        .span("a")
        .attribute("badge", "scanned EMP-004211 at gate 3")
        .attribute("ticket", "TCK-42")
        .attribute("note", "INTERNAL-ONLY: do not share")
        .attribute("order", "ORD12345")
        .build();
    let edits = edits_of(&config, &batch);
    assert_eq!(
        edits[0],
        set(
            Target::Span(0),
            "badge",
            "scanned [REDACTED:employee_id] at gate 3"
        )
    );
    assert!(
        matches!(&edits[1], Edit::SetAttribute((_, key, Value::Str(v))) if key == "ticket" && v.starts_with("[HASH:"))
    );
    assert_eq!(edits[2], remove(Target::Span(0), "note"));
    assert_eq!(edits[3], set(Target::Span(0), "order", "<order>"));
}

#[test]
fn unusable_patterns_are_refused_with_their_name() {
    let error = refused(r#"{"patterns": [{"name": "employee_id", "regex": "EMP-[0-9"}]}"#);
    assert!(
        error.starts_with(
            "invalid config at `patterns[0].regex` (pattern \"employee_id\"): invalid regex: "
        ),
        "{error}"
    );
    let error =
        refused(r#"{"patterns": [{"name": "x", "regex": "a"}, {"name": "x", "regex": "b"}]}"#);
    assert_eq!(
        error,
        "invalid config at `patterns[1].name`: the name \"x\" is already used"
    );
    let error = refused(r#"{"patterns": [{"name": "email", "regex": "a"}]}"#);
    assert!(error.contains("already used"), "{error}");
    let error = refused(r#"{"patterns": [{"name": "has space", "regex": "a"}]}"#);
    assert!(
        error.starts_with("invalid config at `patterns[0].name`"),
        "{error}"
    );
    let error = refused(r#"{"patterns": [{"name": "any", "regex": ".*"}]}"#);
    assert!(error.contains("matches the empty string"), "{error}");
    let error = refused(r#"{"patterns": [{"name": "x"}]}"#);
    assert!(error.contains("missing field `regex`"), "{error}");
}

#[test]
fn span_names_and_status_messages_are_scanned_unless_turned_off() {
    let batch = BatchBuilder::new()
        .span_with("GET /users/bob@example.com", |span| {
            span.status_code = StatusCode::Error;
            span.status_message = "no user 123-45-6789".into();
        })
        .build();
    let off = r#"{"redact_span_names": false, "redact_status_messages": false}"#;
    assert_eq!(edits_of(off, &batch), []);
    assert_eq!(
        edits_of("{}", &batch),
        [
            Edit::SetName((0, "GET /users/[REDACTED:email]".into())),
            Edit::SetStatus((0, StatusCode::Error, "no user [REDACTED:ssn]".into())),
        ],
        "both are scanned by default"
    );
    // Text cannot be removed: `drop` replaces all of it with the mask.
    let config = r#"{"redact_status_messages": false, "detectors": {"email": {"action": "drop"}}}"#;
    assert_eq!(
        edits_of(config, &batch),
        [Edit::SetName((0, "[REDACTED:email]".into()))]
    );
}

#[test]
fn count_attribute_records_redacted_values_per_span() {
    let batch = BatchBuilder::new()
        .resource_attribute("host.ip", "198.51.100.23")
        .span_with("mail bob@example.com", |span| {
            span.events.push(exception("for ann@example.com"));
        })
        .attribute("user.email", "bob@example.com")
        .attribute("http.route", "/mail")
        .span("clean")
        .build();
    let config = r#"{"count_attribute": "weft.redacted_count", "redact_span_names": true}"#;
    let edits = edits_of(config, &batch);
    assert_eq!(
        edits.last().unwrap(),
        &Edit::SetAttribute((Target::Span(0), "weft.redacted_count".into(), Value::Int(3)))
    );
    let counts = edits
        .iter()
        .filter(|e| matches!(e, Edit::SetAttribute((_, key, _)) if key == "weft.redacted_count"))
        .count();
    assert_eq!(counts, 1, "the clean span gets no count: {edits:?}");
    assert!(refused(r#"{"count_attribute": ""}"#).contains("count_attribute"));
}

#[test]
fn unknown_config_fields_are_refused_with_their_path() {
    let error = refused(r#"{"detectors": {"email": {"action": "mask", "replace": "x"}}}"#);
    assert!(
        error.starts_with("invalid config at `detectors.email.replace`: unknown field"),
        "{error}"
    );
    let error = refused(r#"{"redact_names": true}"#);
    assert!(
        error.starts_with("invalid config at `redact_names`"),
        "{error}"
    );
}

#[test]
fn hostile_values_are_scanned_in_linear_time() {
    // Each value is ~100 KB shaped to maximise work for one detector. A backtracking matcher
    // would take hours on some of these; here they are correctness checks that finish at once.
    let hostile = [
        "a@".repeat(50_000),
        "a@a.".repeat(25_000),
        "1".repeat(100_000),
        "1 ".repeat(50_000),
        "4111 ".repeat(20_000),
        "12-".repeat(33_000),
        "(1)".repeat(33_000),
        "+1".repeat(50_000),
        "1.".repeat(50_000),
        ":".repeat(100_000),
        "1:".repeat(50_000),
        "eyJa.".repeat(20_000),
        "Bearer ".repeat(14_000),
        "GB82 ".repeat(20_000),
        "EMP-".repeat(25_000),
    ];
    let config = r#"{"patterns": [{"name": "employee_id", "regex": "EMP-[0-9]{6}"}],
        "deny_keys": ["*a*a*a*a*a*a*a*a*b"]}"#;
    let mut processor = init(config);
    for value in &hostile {
        let batch = BatchBuilder::new()
            .span("a")
            .attribute("aaaaaaaaaaaaaaaa", value.as_str())
            .build();
        let edits = run(&mut processor, &batch).unwrap();
        assert!(
            edits.len() <= 1,
            "at most one edit for {:?}...",
            &value[..10]
        );
    }
    // A real address at the end of 100 KB of noise is still found.
    let noisy = format!("{}bob@example.com", "a@".repeat(50_000));
    let batch = BatchBuilder::new()
        .span("a")
        .attribute("v", noisy.as_str())
        .build();
    match &run(&mut processor, &batch).unwrap()[..] {
        [Edit::SetAttribute((_, _, Value::Str(value)))] => {
            assert!(
                value.ends_with("[REDACTED:email]"),
                "{}",
                &value[value.len() - 40..]
            );
        }
        other => panic!("unexpected edits {other:?}"),
    }
}

#[test]
fn event_names_are_scanned_unless_turned_off() {
    let named = |name: &str| EventSpec {
        name: name.into(),
        time_unix_nano: 1,
        attributes: vec![],
    };
    let batch = BatchBuilder::new()
        .span_with("a", |span| {
            span.events = vec![named("retry"), named("charge 4111 1111 1111 1111 declined")];
        })
        .build();
    assert_eq!(
        edits_of("{}", &batch),
        [Edit::SetEventName((
            0,
            1,
            "charge [REDACTED:credit_card] declined".into()
        ))],
        "the event is counted within its span"
    );
    assert_eq!(edits_of(r#"{"redact_event_names": false}"#, &batch), []);
}
