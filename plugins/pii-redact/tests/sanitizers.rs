//! The URL and SQL sanitizers end to end, through the SDK's test helpers: config in, batch in,
//! edits out.

mod common;

use common::{edits_of, init, refused, set};

use weft_sdk::testing::{BatchBuilder, EventSpec, run};
use weft_sdk::{AttributeSelection, Batch, Edit, Processor, SpanFields, Target, Value};

const HASH_KEY: &str = "test-key-0123456789abcdef";

/// A batch with one span holding these string attributes.
fn span_with(attributes: &[(&str, &str)]) -> Batch {
    let mut builder = BatchBuilder::new().span("query");
    for (key, value) in attributes {
        builder = builder.attribute(key, *value);
    }
    builder.build()
}

/// `"detectors": {...}` turning every built-in detector off, however many there are: their
/// names are read from the `Debug` form of the default settings.
fn all_detectors_off() -> String {
    let debug = format!("{:?}", weft_plugin_pii_redact::config::Detectors::default());
    let chunks: Vec<&str> = debug.split(": DetectorConfig").collect();
    let names = chunks[..chunks.len() - 1]
        .iter()
        .map(|chunk| chunk.rsplit(' ').next().unwrap_or_default());
    let off: Vec<String> = names
        .map(|name| format!(r#""{name}": {{"enabled": false}}"#))
        .collect();
    assert!(off.len() >= 9, "{debug}");
    format!(r#""detectors": {{{}}}"#, off.join(", "))
}

/// The new value of the only edit, which must set a string.
fn only_value(edits: &[Edit]) -> &str {
    match edits {
        [Edit::SetAttribute((_, _, Value::Str(value)))] => value,
        other => panic!("expected one string edit, got {other:?}"),
    }
}

#[test]
fn statement_literals_become_placeholders() {
    let batch = span_with(&[
        (
            "db.statement",
            "SELECT * FROM users WHERE email = 'bob@example.com' AND age > 30 AND id IN (1, 2, 3)",
        ),
        (
            "db.query.text",
            "UPDATE orders SET note = 'call +44 20 7946 0958' WHERE id = -17 /* app=shop */",
        ),
        ("db.query.summary", "SELECT users"),
    ]);
    let span = Target::Span(0);
    assert_eq!(
        edits_of("{}", &batch),
        [
            set(
                span,
                "db.statement",
                "SELECT * FROM users WHERE email = ? AND age > ? AND id IN (?)"
            ),
            set(
                span,
                "db.query.text",
                "UPDATE orders SET note = ? WHERE id = ?"
            ),
        ]
    );
}

#[test]
fn url_passwords_and_secret_parameters_are_masked() {
    let batch = span_with(&[
        (
            "db.connection_string",
            "postgres://app:s3cr3t@db.example.com:5432/shop",
        ),
        (
            "url.full",
            "https://api.example.com/v1/items?api_key=abc123&limit=10",
        ),
        (
            "http.target",
            "/oauth/callback?code=SplxlOBeZQQYbYS6&state=af0ifjsldkj",
        ),
        ("url.query", "q=shoes&access_token=t0k3n&page=2"),
    ]);
    let span = Target::Span(0);
    assert_eq!(
        edits_of("{}", &batch),
        [
            // The email detector does not take `s3cr3t@db.example.com` for an address: the
            // password is masked as a password and the host stays.
            set(
                span,
                "db.connection_string",
                "postgres://app:[REDACTED:url_password]@db.example.com:5432/shop"
            ),
            set(
                span,
                "url.full",
                "https://api.example.com/v1/items?api_key=[REDACTED:url_param]&limit=10"
            ),
            set(
                span,
                "http.target",
                "/oauth/callback?code=[REDACTED:url_param]&state=af0ifjsldkj"
            ),
            set(
                span,
                "url.query",
                "q=shoes&access_token=[REDACTED:url_param]&page=2"
            ),
        ]
    );
}

#[test]
fn detectors_still_scan_what_the_sanitizers_leave() {
    let batch = span_with(&[
        (
            "url.full",
            "https://u:pw@shop.example/reset?email=bob%40example.com&token=abc",
        ),
        // MongoDB's query in `db.statement`: its double-quoted strings are identifiers to
        // the SQL rules, so the email detector finds the address.
        (
            "db.statement",
            r#"{"find": "users", "filter": {"email": "bob@example.com"}}"#,
        ),
        // An address as a raw user name: the userinfo ends at the last `@`.
        (
            "url.original",
            "ftp://bob@example.com@files.example.org/pub",
        ),
    ]);
    let span = Target::Span(0);
    assert_eq!(
        edits_of("{}", &batch),
        [
            set(
                span,
                "url.full",
                "https://u:[REDACTED:url_password]@shop.example/reset?email=[REDACTED:email]&token=[REDACTED:url_param]"
            ),
            set(
                span,
                "db.statement",
                r#"{"find": "users", "filter": {"email": "[REDACTED:email]"}}"#
            ),
            set(
                span,
                "url.original",
                "ftp://[REDACTED:email]@files.example.org/pub"
            ),
        ]
    );
}

#[test]
fn urls_inside_free_text_lose_their_secrets() {
    let batch = BatchBuilder::new()
        .span_with("GET https://u:hunter2@api.example.com/v1", |span| {
            span.status_message = "fetch https://api.example.com/v1?sig=abc%3D failed".into();
            span.events.push(EventSpec {
                name: "exception".into(),
                time_unix_nano: 1,
                attributes: vec![(
                    "exception.message".into(),
                    "could not connect to postgres://app:s3cr3t@db:5432/shop: timeout".into(),
                )],
            });
        })
        .attribute(
            "app.note",
            "mirror at ftp://anonymous:guest@ftp.example.org/pub",
        )
        .build();
    let config = r#"{"redact_span_names": true, "redact_status_messages": true}"#;
    assert_eq!(
        edits_of(config, &batch),
        [
            set(
                Target::Span(0),
                "app.note",
                "mirror at ftp://anonymous:[REDACTED:url_password]@ftp.example.org/pub"
            ),
            set(
                Target::Event((0, 0)),
                "exception.message",
                "could not connect to postgres://app:[REDACTED:url_password]@db:5432/shop: timeout"
            ),
            Edit::SetName((
                0,
                "GET https://u:[REDACTED:url_password]@api.example.com/v1".into()
            )),
            Edit::SetStatus((
                0,
                weft_sdk::StatusCode::Unset,
                "fetch https://api.example.com/v1?sig=[REDACTED:url_param] failed".into()
            )),
        ]
    );
    // Off, only the URL keys are sanitized, and the email detector takes a password and the
    // host after it for an address.
    let off = r#"{"redact_span_names": true, "sanitizers": {"url": {"in_text": false}}}"#;
    assert_eq!(
        edits_of(off, &batch),
        [
            set(
                Target::Span(0),
                "app.note",
                "mirror at ftp://anonymous:[REDACTED:email]/pub"
            ),
            Edit::SetName((0, "GET https://u:[REDACTED:email]/v1".into())),
        ]
    );
}

#[test]
fn look_alikes_pass_byte_for_byte() {
    let batch = span_with(&[
        (
            "db.statement",
            "SELECT * FROM orders WHERE id = $1 LIMIT $2",
        ),
        (
            "db.query.text",
            "SELECT id FROM t2 WHERE a = ? AND b = :name AND c = @p1",
        ),
        (
            "db.statement",
            "SELECT \"Column1\", col_2 FROM table3 WHERE x IS TRUE",
        ),
        (
            "url.full",
            "https://www.foo.bar/search?q=OpenTelemetry&limit=10#SemConv",
        ),
        ("url.full", "https://user@github.com/org/repo.git"),
        (
            "url.full",
            "https://api.example.com/v1/chat?max_tokens=256&token_type=bearer",
        ),
        (
            "url.full",
            "https://REDACTED:REDACTED@www.example.com/?sig=REDACTED",
        ),
        ("url.path", "/api/v1/orders/ord-2024-000123"),
        ("http.target", "/static/app.js?v=1.2.3"),
        ("url.original", "file:///var/log/app.log"),
        ("code.filepath", "/usr/lib/x86_64-linux-gnu/libc.so.6"),
        ("service.version", "v10.4.1-beta"),
        (
            "exception.message",
            "see https://docs.example.com/errors#E1234 (code=E1234)",
        ),
        ("exception.message", "at 10:30 user@host said hi"),
    ]);
    assert_eq!(edits_of("{}", &batch), []);
}

#[test]
fn sanitizers_take_their_own_keys_action_and_replacement() {
    let batch = span_with(&[
        ("payment.callback_url", "https://h/cb?token=abc"),
        ("url.full", "https://h/cb?token=abc"),
        ("app.query", "SELECT 1 FROM t WHERE a = 'x'"),
        ("db.statement", "SELECT 1"),
    ]);
    let config = r#"{"sanitizers": {
        "url": {"keys": ["*.callback_url"], "replacement": "REDACTED"},
        "sql": {"keys": ["app.query"], "replacement": "<?>"}
    }}"#;
    let span = Target::Span(0);
    assert_eq!(
        edits_of(config, &batch),
        [
            set(span, "payment.callback_url", "https://h/cb?token=REDACTED"),
            // No longer a URL key, but a URL inside text all the same.
            set(span, "url.full", "https://h/cb?token=REDACTED"),
            set(span, "app.query", "SELECT <?> FROM t WHERE a = <?>"),
        ]
    );

    let off = r#"{"sanitizers": {"url": {"enabled": false}, "sql": {"enabled": false}}}"#;
    assert_eq!(edits_of(off, &batch), []);

    let params = r#"{"sanitizers": {"url": {"secret_params": ["token", "x-*"]}}}"#;
    let batch = span_with(&[("url.full", "https://h/?api_key=k&token=t&X-Trace=1")]);
    assert_eq!(
        only_value(&edits_of(params, &batch)),
        "https://h/?api_key=k&token=[REDACTED:url_param]&X-Trace=[REDACTED:url_param]"
    );
}

#[test]
fn hash_and_drop_actions_apply_to_sanitized_parts() {
    let config = format!(
        r#"{{"hash_key": "{HASH_KEY}",
            "sanitizers": {{"url": {{"action": "hash"}}, "sql": {{"action": "drop"}}}}}}"#
    );
    let batch = span_with(&[
        ("url.full", "https://u:pw@h/?token=pw"),
        ("db.statement", "SELECT * FROM t WHERE a = 1"),
        (
            "db.query.text",
            "SELECT * FROM t WHERE a = $1 -- only a comment",
        ),
    ]);
    let edits = edits_of(&config, &batch);
    let Edit::SetAttribute((_, key, Value::Str(url))) = &edits[0] else {
        panic!("unexpected edits {edits:?}");
    };
    assert_eq!(key, "url.full");
    // The same secret gives the same marker, wherever it sits in the URL.
    let marker = &url["https://u:".len()..url.find('@').unwrap()];
    assert!(
        marker.starts_with("[HASH:") && marker.ends_with(']'),
        "{url}"
    );
    assert_eq!(url, &format!("https://u:{marker}@h/?token={marker}"));
    assert_eq!(
        edits[1..],
        [
            Edit::RemoveAttribute((Target::Span(0), "db.statement".into())),
            // No literal: the comment goes and the statement stays.
            set(
                Target::Span(0),
                "db.query.text",
                "SELECT * FROM t WHERE a = $1"
            ),
        ]
    );
    let error = refused(r#"{"sanitizers": {"url": {"action": "hash"}}}"#);
    assert!(
        error.starts_with("invalid config at `sanitizers.url.action`"),
        "{error}"
    );
}

#[test]
fn a_detector_match_inside_a_rewrite_neither_shows_nor_drops() {
    let config = r#"{"detectors": {"ssn": {"action": "drop"}}}"#;
    let batch = span_with(&[
        (
            "db.statement",
            "SELECT * FROM people WHERE ssn = '123-45-6789'",
        ),
        ("db.query.text", "SELECT * FROM people -- for 123-45-6789"),
        ("url.full", "https://h/?token=123-45-6789"),
        ("exception.message", "no person 123-45-6789"),
    ]);
    let span = Target::Span(0);
    assert_eq!(
        edits_of(config, &batch),
        [
            set(span, "db.statement", "SELECT * FROM people WHERE ssn = ?"),
            set(span, "db.query.text", "SELECT * FROM people"),
            set(span, "url.full", "https://h/?token=[REDACTED:url_param]"),
            Edit::RemoveAttribute((span, "exception.message".into())),
        ]
    );
}

#[test]
fn key_rules_come_before_sanitizers() {
    let batch = BatchBuilder::new()
        .resource_attribute("service.name", "shop")
        .span("query")
        .attribute("db.statement", "SELECT * FROM t WHERE a = 1")
        .attribute("db.query.text", "SELECT * FROM t WHERE a = 1")
        .attribute("url.full", "https://u:pw@h/")
        .attribute("user.comment", "call me")
        .build();
    let span = Target::Span(0);
    // Denied keys are redacted whole.
    let deny = r#"{"deny_keys": ["db.query.*"]}"#;
    assert_eq!(
        edits_of(deny, &batch),
        [
            set(span, "db.statement", "SELECT * FROM t WHERE a = ?"),
            set(span, "db.query.text", "[REDACTED:denied_key]"),
            set(span, "url.full", "https://u:[REDACTED:url_password]@h/"),
        ]
    );
    // In allow-list mode an allowed key is still sanitized; an unlisted one goes whole.
    let allow = r#"{"mode": "allow_list", "allow_keys": ["service.*", "db.*"]}"#;
    assert_eq!(
        edits_of(allow, &batch),
        [
            set(span, "db.statement", "SELECT * FROM t WHERE a = ?"),
            set(span, "db.query.text", "SELECT * FROM t WHERE a = ?"),
            set(span, "url.full", "[REDACTED:unlisted_key]"),
            set(span, "user.comment", "[REDACTED:unlisted_key]"),
        ]
    );
}

#[test]
fn sanitized_values_are_counted() {
    let batch = span_with(&[
        ("db.statement", "SELECT 1"),
        ("url.full", "https://h/"),
        ("exception.message", "postgres://a:b@c"),
    ]);
    let edits = edits_of(r#"{"count_attribute": "redacted"}"#, &batch);
    assert_eq!(
        edits.last(),
        Some(&Edit::SetAttribute((
            Target::Span(0),
            "redacted".into(),
            Value::Int(2)
        )))
    );
}

#[test]
fn interest_asks_for_the_sanitizer_keys() {
    // The detectors and the search for URLs in text need every string, nested ones too.
    let default = init("{}").interest();
    assert_eq!(default.span_attributes, AttributeSelection::All);

    // Alone, the sanitizers need only their keys.
    let detectors_off = all_detectors_off();
    let config = format!(
        r#"{{{detectors_off}, "redact_span_names": true, "sanitizers": {{
            "url": {{"keys": ["url.full", "http.url"], "in_text": false}},
            "sql": {{"keys": ["db.statement"]}}}}}}"#
    );
    let keys = init(&config).interest();
    let expected = ["url.full", "http.url", "db.statement"].map(String::from);
    assert_eq!(
        keys.span_attributes,
        AttributeSelection::Keys(expected.to_vec())
    );
    assert_eq!(keys.resource_attributes, keys.span_attributes);
    assert_eq!(keys.event_attributes, keys.span_attributes);
    // Nothing scans names any more.
    assert_eq!(keys.span_fields, SpanFields::EVENTS | SpanFields::LINKS);

    // A glob cannot be named: every string is sent.
    let glob = config.replace("\"url.full\"", "\"url.*\"");
    assert_eq!(
        init(&glob).interest().span_attributes,
        AttributeSelection::Strings
    );
}

#[test]
fn sanitizer_settings_are_checked_with_their_path() {
    let error = refused(r#"{"sanitizers": {"sql": {"kyes": ["db.statement"]}}}"#);
    assert!(
        error.starts_with("invalid config at `sanitizers.sql.kyes`: unknown field"),
        "{error}"
    );
    let error = refused(r#"{"sanitizers": {"html": {}}}"#);
    assert!(
        error.starts_with("invalid config at `sanitizers.html`"),
        "{error}"
    );
    let error = refused(r#"{"sanitizers": {"url": {"keys": [""]}}}"#);
    assert_eq!(
        error,
        "invalid config at `sanitizers.url.keys[0]`: empty pattern"
    );
    let error = refused(r#"{"sanitizers": {"url": {"secret_params": "token"}}}"#);
    assert!(
        error.starts_with("invalid config at `sanitizers.url.secret_params`"),
        "{error}"
    );
}

#[test]
fn hostile_sanitizer_values_are_handled_in_linear_time() {
    let hostile = [
        "'".repeat(100_000),
        "$a$".repeat(30_000),
        "/*".repeat(50_000),
        "IN (1,".repeat(15_000),
        "-1".repeat(50_000),
        "://a:b@".repeat(15_000),
        "?token=x&".repeat(10_000),
        format!("https://{}@h", ":".repeat(100_000)),
        "a".repeat(100_000) + "=1",
    ];
    let mut processor = init("{}");
    for value in &hostile {
        for key in ["db.statement", "url.full", "exception.message"] {
            let batch = span_with(&[(key, value.as_str())]);
            let edits = run(&mut processor, &batch).unwrap();
            assert!(edits.len() <= 1, "at most one edit for {key}");
        }
    }
}
