//! The catalogue as a whole: every detector against shared look-alikes, and the shared
//! prefilter against each detector's own scan.

use super::super::{Builtin, testing};
use super::*;

/// Every credential detector, from the list the redactor is built from.
fn credentials() -> impl Iterator<Item = Credential> {
    Builtin::ALL
        .into_iter()
        .filter_map(|builtin| match builtin {
            Builtin::Credential(credential) => Some(credential),
            _ => None,
        })
}

#[test]
fn every_credential_is_listed_once_and_fits_a_bit() {
    let all: Vec<Credential> = credentials().collect();
    assert_eq!(all.len(), 19);
    for (index, credential) in all.iter().enumerate() {
        assert!((*credential as u32) < 32);
        assert!(!all[..index].contains(credential), "{credential:?} twice");
    }
    // The generic rule comes last, so a known format names the mask of the same value.
    assert_eq!(all.last(), Some(&Credential::SecretAssignment));
}

/// Text every credential detector must leave alone: identifiers, hashes, prose about
/// passwords and tokens, bare prefixes, documented examples.
const LOOK_ALIKES: &[&str] = &[
    "commit 9fceb02d0ae598e95dc970b74767f19372d61af8 merged",
    "9fceb02d0ae598e95dc970b74767f19372d61af8",
    "request 123e4567-e89b-12d3-a456-426614174000 done",
    "trace 4bf92f3577b34da6a3ce929d0e0e4736 span 00f067aa0ba902b7",
    "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
    "AKIA",
    "AKIA is the prefix of an access key id",
    "keys look like AKIAIOSFODNN7EXAMPLE in the docs",
    "sk_test_",
    "set sk_test_ or sk_live_ keys in the dashboard",
    "ghp_ alone",
    "tokens start with ghp_, gho_, ghu_, ghs_ or ghr_",
    "glpat-xxxxxxxxxxxxxxxxxxxx",
    "xoxb-your-slack-bot-token-goes-here",
    "npm_",
    "sk-",
    "pypi-",
    "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----",
    "-----BEGIN CERTIFICATE----- MIIBszCCAVmgAwIBAgIUW -----END CERTIFICATE-----",
    "/var/lib/weft/data/segment-000123.log",
    "C:\\Program Files\\Weft\\weft.exe",
    "v10.4.1-beta",
    "release 2.31.0-rc.1+build.5",
    "password reset email sent",
    "token expired",
    "token: expired",
    "password: reset",
    "invalid password: must contain a digit",
    "auth: ok",
    "password=********",
    "password: <redacted>",
    "api_key=${API_KEY}",
    "token_count=123456789 max_tokens=4096",
    "SELECT id, name, price FROM items WHERE id = $1",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36",
    "https://shop.example/api/v1/orders?page=2&sort=created_at",
    "postgres://app@db:5432/shop",
    "2024-01-15T10:30:00.123Z",
    "risk-assessment-pipeline-stage-worker-process",
    "the task-queue-consumer-with-a-very-long-name-indeed",
    "SKU-1234567890 and SKIP",
    "key-value store",
];

#[test]
fn look_alikes_pass_every_credential_detector() {
    for credential in credentials() {
        let detector = credential.detector();
        for text in LOOK_ALIKES {
            assert_eq!(
                testing::matches(detector.as_ref(), text),
                Vec::<&str>::new(),
                "{} matched in {text:?}",
                credential.name()
            );
        }
    }
}

#[test]
fn prefilters_never_hide_a_match() {
    // Texts assembled from pieces of every format, their bodies and the bytes around them:
    // each detector, behind its needs and the shared anchors, must find exactly what its
    // scan finds on its own.
    let pieces = [
        "AKIA",
        "ASIA",
        "AIza",
        "2E7QWXYZ4HJKLMNP",
        "Zq8wRt3yUi6oPa1sDf4gHj7k",
        "0f1e2d3c4b5a6978",
        "2413057982",
        "ghp_",
        "github_pat_",
        "glpat-",
        "npm_",
        "pypi-AgEIcHlwaS5vcmc",
        "xoxb-",
        "xapp-",
        "SK",
        "sk_live_",
        "whsec_",
        "sq0csp-",
        "SG.",
        "key-",
        "-us6",
        "sk-",
        "dop_v1_",
        "a1B8Q~",
        "-----BEGIN PRIVATE KEY-----",
        "-----END PRIVATE KEY-----",
        "\\n",
        "hooks.slack.com/services/",
        "T04AB7CD9EF/",
        "B05GH1JK3LM/",
        "password",
        "api_key",
        "Authorization",
        "token",
        "=",
        ": ",
        "\"",
        "'",
        " ",
        "-",
        "_",
        ".",
        "/",
        "&x=",
        "é",
    ];
    let mut below = testing::numbers_below(0x5eed_cafe);
    for _ in 0..4000 {
        let count = 1 + below(14);
        let text: String = (0..count).map(|_| pieces[below(pieces.len())]).collect();
        for credential in credentials() {
            let mut alone = Vec::new();
            (credential.spec().1)(&text, &mut |start, end| alone.push(&text[start..end]));
            let detector = credential.detector();
            assert_eq!(
                testing::matches(detector.as_ref(), &text),
                alone,
                "{} in {text:?}",
                credential.name()
            );
        }
    }
}

#[test]
fn varied_bodies_look_random_and_placeholders_do_not() {
    assert!(looks_random(b"4eC39HqLyjWDarjtT1zdp7dc"));
    assert!(looks_random(b"0123456789abcdef0123456789abcdef"));
    assert!(!looks_random(b"xxxxxxxxxxxxxxxxxxxx"));
    assert!(!looks_random(b"0000000000-0000000000"));
    assert!(!looks_random(b"abababababababababababab"));
}

#[test]
fn boundaries_accept_punctuation_and_percent_encoding() {
    let text = b"x=ghp_1 %22ghp_2 aghp_3 _ghp_4 %2";
    assert!(starts_apart(text, 2));
    assert!(starts_apart(text, 11));
    assert!(!starts_apart(text, 18));
    assert!(!starts_apart(text, 25));
    assert!(starts_apart(text, 0));
    assert!(ends_apart(text, 7));
    assert!(!ends_apart(text, 6));
    assert!(ends_apart(text, text.len()));
}
