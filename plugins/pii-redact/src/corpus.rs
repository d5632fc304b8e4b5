//! Made-up examples of everything the redactor must find, one per detector and sanitizer,
//! and look-alikes it must leave byte for byte. None of the secrets works anywhere.
//!
//! The plugin's own tests run every example through the default configuration; the
//! end-to-end test in `tests/` plants each in every place a span carries text and runs it
//! through Weft. Built only for tests (`cfg(test)` or the `corpus` feature): the component
//! carries none of it.

/// One thing to find: the class whose mask must appear, a sentence holding it, and the
/// part that must not leave.
#[derive(Debug, Clone, Copy)]
pub struct Probe {
    /// The detector or sanitizer that names the mask (`[REDACTED:<class>]`).
    pub class: &'static str,
    /// The text planted.
    pub text: &'static str,
    /// The substring that must be gone after redaction.
    pub secret: &'static str,
}

const fn probe(class: &'static str, text: &'static str, secret: &'static str) -> Probe {
    Probe {
        class,
        text,
        secret,
    }
}

/// One example per built-in detector, in free text. The URL sanitizer's example is here too:
/// it also works inside free text.
pub const FREE_TEXT: &[Probe] = &[
    probe("email", "no account for bob@example.com", "bob@example.com"),
    probe(
        "credit_card",
        "card 4111 1111 1111 1111 declined",
        "4111 1111 1111 1111",
    ),
    probe("phone", "call +44 20 7946 0958 back", "7946 0958"),
    probe("ipv4", "client 203.0.113.9 refused", "203.0.113.9"),
    probe("ipv6", "peer 2001:db8::7 gone", "2001:db8::7"),
    probe(
        "jwt",
        "session eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U expired",
        "dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
    ),
    probe(
        "bearer_token",
        "sent Bearer abc123def456ghi upstream",
        "abc123def456ghi",
    ),
    probe(
        "iban",
        "refund to GB82 WEST 1234 5698 7654 32",
        "5698 7654 32",
    ),
    probe("ssn", "ssn 123-45-6789 on file", "123-45-6789"),
    probe(
        "private_key",
        "loaded -----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAx4Zq8wRt3yUi6oPa1sDf4gHj7kLm2nBv5cXz9aQw\n-----END RSA PRIVATE KEY-----",
        "MIIEowIBAAKCAQEAx4Zq8wRt3yUi6oPa1sDf4gHj7kLm2nBv5cXz9aQw",
    ),
    probe(
        "aws_access_key",
        "assumed role with AKIA2E7QWXYZ4HJKLMNP",
        "AKIA2E7QWXYZ4HJKLMNP",
    ),
    probe(
        "gcp_api_key",
        "maps key AIzaSyD4-kT9_xQ2mW7vB1nR5cH8jL3pF6gZ0aE in use",
        "AIzaSyD4-kT9_xQ2mW7vB1nR5cH8jL3pF6gZ0aE",
    ),
    probe(
        "azure_client_secret",
        "the secret is a1B8Q~x7Yk.2Lm_Np4Qr~St6Uv-Wx9Yz0Ab3Cd5E now",
        "a1B8Q~x7Yk.2Lm_Np4Qr~St6Uv-Wx9Yz0Ab3Cd5E",
    ),
    probe(
        "digitalocean_token",
        "do dop_v1_0f1e2d3c4b5a69780f1e2d3c4b5a69780f1e2d3c4b5a69780f1e2d3c4b5a6978 used",
        "dop_v1_0f1e2d3c4b5a6978",
    ),
    probe(
        "github_token",
        "cloned with 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 today",
        "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",
    ),
    probe(
        "gitlab_token",
        "runner glpat-Zy9xW8vU7tS6rQ5pO4nM registered",
        "glpat-Zy9xW8vU7tS6rQ5pO4nM",
    ),
    probe(
        "npm_token",
        "publish with 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 failed",
        "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",
    ),
    probe(
        "pypi_token",
        "upload pypi-AgEIcHlwaS5vcmcCJDk3YjE0-ZTk4_LTQ1CJDk3YjE0-ZTk4_LTQ1CJDk3YjE0-ZTk4_LTQ1CJDk3YjE0-ZTk4_LTQ1 done",
        "pypi-AgEIcHlwaS5vcmcCJDk3YjE0",
    ),
    probe(
        "slack_token",
        "bot xoxb-2413057982-5718230946518-Zq8wRt3yUi6oPa1sDf4gHj7k posted",
        "xoxb-2413057982-5718230946518-Zq8wRt3yUi6oPa1sDf4gHj7k",
    ),
    probe(
        "slack_webhook",
        "posting to https://hooks.slack.com/services/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: 200 OK",
        "Zq8wRt3yUi6oPa1sDf4gHj7k",
    ),
    probe(
        "twilio_key",
        "twilio SK0f1e2d3c4b5a69780f1e2d3c4b5a6978 rotated",
        "SK0f1e2d3c4b5a69780f1e2d3c4b5a6978",
    ),
    probe(
        "stripe_key",
        "charged with sk_live_51Hx8kQ2eZvKYlo2C9sT4uVwXyZ0aBcDeF",
        "sk_live_51Hx8kQ2eZvKYlo2C9sT4uVwXyZ0aBcDeF",
    ),
    probe(
        "square_token",
        "square sq0atp-Ab3dE_f6hIj-9lMn2pQr5t refused",
        "sq0atp-Ab3dE_f6hIj-9lMn2pQr5t",
    ),
    probe(
        "sendgrid_key",
        "mail via 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",
        "Uv8xYz1bCd4eFg7hIj0kLm3nOp6qRs9tUv2wXy5zA8b",
    ),
    probe(
        "mailgun_key",
        "mailgun key-3k8x2n7p1q9w4e6r5t0y2u8i3o7a1s4d rejected",
        "key-3k8x2n7p1q9w4e6r5t0y2u8i3o7a1s4d",
    ),
    probe(
        "mailchimp_key",
        "list sync with 0f1e2d3c4b5a69788796a5b4c3d2e1f0-us6 failed",
        "0f1e2d3c4b5a69788796a5b4c3d2e1f0-us6",
    ),
    probe(
        "ai_api_key",
        "completion with 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",
        "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",
    ),
    probe(
        "secret_assignment",
        "retry with password=hunter2!x later",
        "hunter2!x",
    ),
    probe(
        "url_password",
        "from postgres://app:Sup3rS3cret@db:5432/shop",
        "Sup3rS3cret",
    ),
    probe(
        "url_param",
        "GET https://api.example.com/v1/items?api_key=abc123xyz&limit=10 failed",
        "abc123xyz",
    ),
];

/// The SQL sanitizer's example: found under a statement key (`db.statement`,
/// `db.query.text`), not in free text.
pub const STATEMENT: Probe = probe(
    "sql",
    "SELECT * FROM users WHERE last_name = 'Hoffmann' AND id = 42",
    "Hoffmann",
);

/// What [`STATEMENT`] becomes.
pub const STATEMENT_SANITIZED: &str = "SELECT * FROM users WHERE last_name = ? AND id = ?";

/// Text that looks like a secret or a person and is neither: it must leave as it came.
pub const LOOK_ALIKES: &[&str] = &[
    "commit 9fceb02d0ae598e95dc970b74767f19372d61af8 merged",
    "request 123e4567-e89b-12d3-a456-426614174000 done",
    "trace 4bf92f3577b34da6a3ce929d0e0e4736 span 00f067aa0ba902b7",
    "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
    "keys look like AKIAIOSFODNN7EXAMPLE in the docs",
    "set sk_test_ or sk_live_ keys in the dashboard",
    "tokens start with ghp_, gho_, ghu_, ghs_ or ghr_",
    "glpat-xxxxxxxxxxxxxxxxxxxx",
    "SELECT id, name, price FROM items WHERE id = $1",
    "https://shop.example/api/v1/orders?page=2&sort=created_at",
    "/var/lib/weft/data/segment-000123.log",
    "release 2.31.0-rc.1+build.5",
    "password reset email sent",
    "token_count=123456789 max_tokens=4096",
    "order ord-2024-000123 shipped at 2024-01-15T10:30:00.123Z",
    "listening on 127.0.0.1:8080 after 1500 ms",
    "logo@2x.png",
];

#[cfg(test)]
mod tests {
    use weft_sdk::testing::{BatchBuilder, run};
    use weft_sdk::{Edit, Processor, Value};

    use super::*;
    use crate::PiiRedact;

    /// What the default configuration makes of `text` as the value of `key`.
    fn redacted(key: &str, text: &str) -> Option<String> {
        let batch = BatchBuilder::new().span("a").attribute(key, text).build();
        let mut redactor = PiiRedact::init("{}").unwrap();
        match &run(&mut redactor, &batch).unwrap()[..] {
            [] => None,
            [Edit::SetAttribute((_, _, Value::Str(value)))] => Some(value.clone()),
            other => panic!("unexpected edits {other:?}"),
        }
    }

    #[test]
    fn every_example_is_found_by_its_own_class() {
        for probe in FREE_TEXT {
            let out = redacted("log.message", probe.text)
                .unwrap_or_else(|| panic!("{}: {:?} passed", probe.class, probe.text));
            let mask = format!("[REDACTED:{}]", probe.class);
            assert!(out.contains(&mask), "{}: {out:?}", probe.class);
            assert!(!out.contains(probe.secret), "{}: {out:?}", probe.class);
        }
        assert_eq!(
            redacted("db.statement", STATEMENT.text).as_deref(),
            Some(STATEMENT_SANITIZED)
        );
    }

    #[test]
    fn every_class_has_an_example() {
        for builtin in crate::detect::Builtin::ALL {
            let name = builtin.name();
            assert!(
                FREE_TEXT.iter().any(|p| p.class == name),
                "no example of {name}"
            );
        }
    }

    #[test]
    fn look_alikes_pass() {
        for text in LOOK_ALIKES {
            assert_eq!(redacted("log.message", text), None, "{text:?}");
        }
    }
}
