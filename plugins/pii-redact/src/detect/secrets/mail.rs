//! E-mail delivery providers: SendGrid, Mailgun and Mailchimp keys.

use super::super::words::{any_marked, equal};
use super::format::{self, Format, base64url, hex_lower};
use super::{ends_apart, looks_random, starts_apart};

/// SendGrid API keys: `SG.`, a 22-character key id, `.`, a 43-character secret.
const SENDGRID: &[Format] = &[Format {
    prefixes: &["SG."],
    alphabet: |b| base64url(b) || b == b'.',
    min: 66,
    max: 66,
    valid: |token| {
        let body = &token[3..];
        body[22] == b'.' && body.iter().filter(|&&b| b == b'.').count() == 1
    },
}];

/// Finds SendGrid API keys.
pub(super) fn sendgrid_keys(text: &str, found: &mut dyn FnMut(usize, usize)) {
    format::scan(text, SENDGRID, found);
}

/// Finds Mailgun keys: private API keys of the older form, `key-` and 32 lowercase letters and
/// digits, and of the newer form, as webhook signing keys have, `<32 hex>-<8 hex>-<8 hex>`.
pub(super) fn mailgun_keys(text: &str, found: &mut dyn FnMut(usize, usize)) {
    each_dash(text, found, |bytes, dash| {
        let legacy = dash >= 3 && &bytes[dash - 3..dash] == b"key" && starts_apart(bytes, dash - 3);
        if legacy {
            let body = run(bytes, dash + 1, 33, |b| {
                b.is_ascii_digit() || b.is_ascii_lowercase()
            });
            let end = dash + 1 + body;
            let digits = bytes[dash + 1..end]
                .iter()
                .filter(|b| b.is_ascii_digit())
                .count();
            return (body == 32
                && digits >= 2
                && ends_apart(bytes, end)
                && looks_random(&bytes[dash + 1..end]))
            .then_some((dash - 3, end));
        }
        let start = hex_before(bytes, dash)?;
        let second = dash + 1;
        let third = second + 9;
        (run(bytes, second, 9, hex_lower) == 8
            && bytes.get(third - 1) == Some(&b'-')
            && run(bytes, third, 9, hex_lower) == 8
            && ends_apart(bytes, third + 8))
        .then_some((start, third + 8))
    });
}

/// Finds Mailchimp API keys: 32 lowercase hex digits, `-`, then the data centre (`us` and one
/// or two digits), which is part of the key.
pub(super) fn mailchimp_keys(text: &str, found: &mut dyn FnMut(usize, usize)) {
    each_dash(text, found, |bytes, dash| {
        let start = hex_before(bytes, dash)?;
        let digits = dash + 3;
        let count = run(bytes, digits, 3, |b| b.is_ascii_digit());
        (bytes.get(dash + 1..digits) == Some(b"us")
            && (1..=2).contains(&count)
            && ends_apart(bytes, digits + count))
        .then_some((start, digits + count))
    });
}

/// Reports the token `shape` finds around each `-` of `text` (found a word at a time), left to
/// right and without overlap.
fn each_dash(
    text: &str,
    found: &mut dyn FnMut(usize, usize),
    shape: impl Fn(&[u8], usize) -> Option<(usize, usize)>,
) {
    let bytes = text.as_bytes();
    let mut resume = 0;
    any_marked(
        bytes,
        |low| equal(low, b'-'),
        |dash| {
            if let Some((start, end)) = shape(bytes, dash)
                && start >= resume
            {
                found(start, end);
                resume = end;
            }
            false
        },
    );
}

/// Where the 32 lowercase hex digits that end at `end` start, if they do, stand apart from what
/// precedes them and look generated.
fn hex_before(bytes: &[u8], end: usize) -> Option<usize> {
    let start = end.checked_sub(32)?;
    (bytes[start..end].iter().all(|&b| hex_lower(b))
        && starts_apart(bytes, start)
        && looks_random(&bytes[start..end]))
    .then_some(start)
}

/// How many bytes from `from` (at most `limit`) are in `class`.
fn run(bytes: &[u8], from: usize, limit: usize, class: impl Fn(u8) -> bool) -> usize {
    bytes.get(from..).map_or(0, |rest| {
        rest.iter().take(limit).take_while(|&&b| class(b)).count()
    })
}

#[cfg(test)]
mod tests {
    use super::super::super::testing;
    use super::super::Credential;

    const HEX: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f0";

    #[test]
    fn finds_sendgrid_keys() {
        let detector = Credential::SendgridKey.detector();
        let key = format!(
            "SG.{}.{}",
            "Ab3dE_f6hIj-9lMn2pQr5t", "Uv8xYz1bCd4eFg7hIj0kLm3nOp6qRs9tUv2wXy5zA8b"
        );
        let header = format!("Authorization: Bearer {key}");
        testing::check(
            detector.as_ref(),
            &[(&key, &key), (&header, &key)],
            &[
                "SG.",
                "SG.example.com",
                &format!(
                    "SG.{}",
                    "Ab3dE_f6hIj-9lMn2pQr5tUv8xYz1bCd4eFg7hIj0kLm3nOp6qRs9tUv2wXy5zA8bC"
                ),
                &format!(
                    "SG.{}.{}",
                    "Ab3dE_f6hIj-9lMn2pQr5", "Uv8xYz1bCd4eFg7hIj0kLm3nOp6qRs9tUv2wXy5zA8bC"
                ),
                &format!("SG.{}.{}", "x".repeat(22), "x".repeat(43)),
            ],
        );
    }

    #[test]
    fn finds_mailgun_keys() {
        let detector = Credential::MailgunKey.detector();
        let legacy = "key-3k8x2n7p1q9w4e6r5t0y2u8i3o7a1s4d";
        let signing = format!("{HEX}-a1b2c3d4-e5f60718");
        let config = format!("MAILGUN_API_KEY={legacy}");
        testing::check(
            detector.as_ref(),
            &[(legacy, legacy), (&signing, &signing), (&config, legacy)],
            &[
                "key-",
                "key-value store",
                "key-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
                "key-abcdefghijklmnopqrstuvwxyzabcdef",
                "monkey-3k8x2n7p1q9w4e6r5t0y2u8i3o7a1s4d",
                &format!("{HEX}-a1b2c3d4"),
                &format!("{HEX}-a1b2c3d4-e5f6071"),
                &format!("00-{HEX}-00f067aa0ba902b7-01"),
                "123e4567-e89b-12d3-a456-426614174000",
            ],
        );
    }

    #[test]
    fn finds_mailchimp_keys() {
        let detector = Credential::MailchimpKey.detector();
        let key = format!("{HEX}-us6");
        let far = format!("{HEX}-us21");
        let basic = format!("anystring:{key}");
        testing::check(
            detector.as_ref(),
            &[(&key, &key), (&far, &far), (&basic, &key)],
            &[
                &format!("{HEX}-us"),
                &format!("{HEX}-us123"),
                &format!("{HEX}-eu1"),
                &format!("x{HEX}-us6"),
                &format!("{}-us6", "0".repeat(32)),
            ],
        );
    }
}
