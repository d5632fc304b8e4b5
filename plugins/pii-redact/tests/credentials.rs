//! The credential detectors end to end: span attributes, event attributes and status messages
//! holding made-up secrets, and telemetry full of look-alikes that must pass byte for byte.

mod common;

use common::{edits_of, exception, init, set};

use weft_sdk::testing::{BatchBuilder, run};
use weft_sdk::{Edit, StatusCode, Target, Value};

/// Made-up credentials in the formats of their providers (none of them works anywhere).
const AWS_KEY_ID: &str = "AKIA2E7QWXYZ4HJKLMNP";
const STRIPE_KEY: &str = "sk_live_51Hx8kQ2eZvKYlo2C9sT4uVwXyZ0aBcDeF";
const SLACK_TOKEN: &str = "xoxb-2413057982-5718230946518-Zq8wRt3yUi6oPa1sDf4gHj7k";
const PEM_BODY: &str = "MIIEowIBAAKCAQEAx4Zq8wRt3yUi6oPa1sDf4gHj7kLm2nBv5cXz9aQw";

/// The one value `config` makes of `text` in a span attribute (`None`: left alone).
fn redacted(config: &str, text: &str) -> Option<String> {
    let batch = BatchBuilder::new()
        .span("a")
        .attribute("log.message", text)
        .build();
    match &edits_of(config, &batch)[..] {
        [] => None,
        [Edit::SetAttribute((_, _, Value::Str(value)))] => Some(value.clone()),
        other => panic!("unexpected edits {other:?}"),
    }
}

#[test]
fn credentials_are_masked_in_attributes_events_and_status_messages() {
    let pem = format!("-----BEGIN RSA PRIVATE KEY-----\n{PEM_BODY}\n-----END RSA PRIVATE KEY-----");
    let batch = BatchBuilder::new()
        .span_with("POST /api/charges", |span| {
            span.status_code = StatusCode::Error;
            span.status_message = "auth failed for api_key=Zq8wRt3yUi6oPa1s".into();
            span.events.push(exception(&format!(
                "retrying with password=hunter2!x after {AWS_KEY_ID} was refused"
            )));
        })
        .attribute("app.config", format!("api_key: {STRIPE_KEY}").as_str())
        .attribute("slack.token", SLACK_TOKEN)
        .attribute("tls.key", pem.as_str())
        .build();
    let config = r#"{"redact_status_messages": true}"#;
    assert_eq!(
        edits_of(config, &batch),
        [
            set(
                Target::Span(0),
                "app.config",
                "api_key: [REDACTED:stripe_key]"
            ),
            set(Target::Span(0), "slack.token", "[REDACTED:slack_token]"),
            set(Target::Span(0), "tls.key", "[REDACTED:private_key]"),
            set(
                Target::Event((0, 0)),
                "exception.message",
                "retrying with password=[REDACTED:secret_assignment] after \
                 [REDACTED:aws_access_key] was refused"
            ),
            Edit::SetStatus((
                0,
                StatusCode::Error,
                "auth failed for api_key=[REDACTED:secret_assignment]".into()
            )),
        ]
    );
}

#[test]
fn look_alikes_pass_byte_for_byte() {
    let batch = BatchBuilder::new()
        .resource_attribute("service.version", "v10.4.1-beta")
        .span_with("GET /api/v1/orders/{id}", |span| {
            span.status_message = "token expired".into();
            span.events.push(exception("password reset email sent"));
        })
        .attribute(
            "vcs.ref.head.revision",
            "9fceb02d0ae598e95dc970b74767f19372d61af8",
        )
        .attribute("request.id", "123e4567-e89b-12d3-a456-426614174000")
        .attribute(
            "trace.parent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        )
        .attribute("span.ref", "00f067aa0ba902b7")
        .attribute("code.filepath", "/var/lib/weft/data/segment-000123.log")
        .attribute("docs.hint", "keys start with AKIA, sk_test_ or ghp_")
        .attribute("docs.example", "AKIAIOSFODNN7EXAMPLE")
        .attribute("stripe.example", "sk_test_4eC39HqLyjWDarjtT1zdp7dc")
        .attribute("log.message", "token: expired; password: reset required")
        .attribute(
            "tls.certificate",
            "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmg\n-----END CERTIFICATE-----",
        )
        .attribute("llm.usage", "max_tokens=4096 token_count=1532")
        .build();
    let config = r#"{"redact_span_names": true, "redact_status_messages": true}"#;
    assert_eq!(edits_of(config, &batch), []);
}

#[test]
fn a_known_format_names_the_mask_of_a_value_after_a_secret_key() {
    let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U";
    let cases = [
        (format!("token={jwt}"), "token=[REDACTED:jwt]"),
        (
            format!("Authorization: Bearer {jwt}"),
            "Authorization: Bearer [REDACTED:jwt]",
        ),
        (
            format!("aws_access_key_id={AWS_KEY_ID}"),
            "aws_access_key_id=[REDACTED:aws_access_key]",
        ),
        (
            "Authorization: Bearer abc123def456ghi".to_owned(),
            "Authorization: Bearer [REDACTED:bearer_token]",
        ),
        (
            "Authorization: Basic dXNlcjpwYXNzd29yZA==".to_owned(),
            "Authorization: Basic [REDACTED:secret_assignment]",
        ),
    ];
    for (text, expected) in cases {
        assert_eq!(redacted("{}", &text).as_deref(), Some(expected), "{text}");
    }
}

#[test]
fn the_generic_rule_does_not_touch_a_connection_url() {
    // A password in a URL's user info is the URL sanitizer's to mask; the generic rule must
    // not add to (or spoil) what it does.
    let text = "connect to postgres://app:Sup3rS3cret@db:5432/shop failed";
    let without = r#"{"detectors": {"secret_assignment": {"enabled": false}}}"#;
    assert_eq!(redacted("{}", text), redacted(without, text));
    let no_sanitizer = r#"{"sanitizers": {"url": {"enabled": false}}}"#;
    assert_eq!(redacted(no_sanitizer, text), None);
}

#[test]
fn credential_detectors_switch_off_and_take_their_own_action_and_replacement() {
    let text = format!("key {AWS_KEY_ID} and token {SLACK_TOKEN} and password=hunter2!x");
    let config = r#"{"hash_key": "test-key-0123456789abcdef", "detectors": {
        "aws_access_key": {"action": "hash"},
        "slack_token": {"replacement": "[SLACK]"},
        "secret_assignment": {"enabled": false}}}"#;
    let value = redacted(config, &text).unwrap();
    assert!(value.starts_with("key [HASH:"), "{value}");
    assert!(
        value.ends_with("] and token [SLACK] and password=hunter2!x"),
        "{value}"
    );
    let drop = r#"{"detectors": {"private_key": {"action": "drop"}}}"#;
    let batch = BatchBuilder::new()
        .span("a")
        .attribute(
            "tls.key",
            format!("-----BEGIN PRIVATE KEY-----\n{PEM_BODY}").as_str(),
        )
        .build();
    assert_eq!(
        edits_of(drop, &batch),
        [Edit::RemoveAttribute((Target::Span(0), "tls.key".into()))]
    );
}

#[test]
fn hostile_values_are_scanned_in_linear_time() {
    // Each value is ~100 KB of one format's anchor, repeated: prefixes with nothing valid
    // after them, or keys whose values never end.
    let hostile = [
        "AKIA".repeat(25_000),
        "ghp_".repeat(25_000),
        "sk-".repeat(33_000),
        "xoxb-1".repeat(16_000),
        "-----BEGIN PRIVATE KEY-----".repeat(4_000),
        "password=".repeat(11_000),
        "token:\"".repeat(14_000),
        "a:".repeat(50_000),
        "Q~".repeat(50_000),
        format!("{}-", "0f1e2d3c".repeat(4)).repeat(3_000),
    ];
    let mut processor = init("{}");
    for value in &hostile {
        let batch = BatchBuilder::new()
            .span("a")
            .attribute("v", value.as_str())
            .build();
        let edits = run(&mut processor, &batch).unwrap();
        assert!(
            edits.len() <= 1,
            "at most one edit for {:?}...",
            &value[..10]
        );
    }
}
