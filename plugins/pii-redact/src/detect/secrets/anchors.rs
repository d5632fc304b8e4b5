//! The credential detectors' shared prefilter: which formats could start somewhere in a value.

use super::super::words::{equal, split_ascii, words};
use super::{Credential, assignment};

/// The credential formats with an anchor in a value, one bit per [`Credential`]. A set bit
/// means "maybe": each detector still validates what it finds; a clear bit means the format
/// cannot match, and the redactor does not call its detector (see `NeedsTable::met_by`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Anchors(u32);

impl Anchors {
    /// Finds the anchors of `bytes` in one pass of word steps: the bytes formats are anchored
    /// on are marked a word at a time (most words have none), and each mark is classified by
    /// the few bytes around it.
    pub(crate) fn of(bytes: &[u8]) -> Anchors {
        let mut found = 0;
        for (offset, word) in words(bytes) {
            let (ascii, low) = split_ascii(word);
            let mut marks = (equal(low, b'_')
                | equal(low, b'-')
                | equal(low, b'=')
                | equal(low, b':')
                | equal(low, b'~')
                | equal(low, b'A')
                | equal(low, b'S'))
                & ascii;
            while marks != 0 {
                found |= classify(bytes, offset + marks.trailing_zeros() as usize / 8);
                marks &= marks - 1;
            }
        }
        Anchors(found)
    }

    /// The set, one bit per [`Credential`]: a detector may match when its bit is set.
    pub(crate) fn bits(self) -> u32 {
        self.0
    }
}

/// The bits of the formats that could involve the marked byte at `at`.
fn classify(bytes: &[u8], at: usize) -> u32 {
    let before = &bytes[..at];
    let after = &bytes[at + 1..];
    match bytes[at] {
        // AKIA, ASIA, ABIA, ACCA; AIza.
        b'A' => match after.get(..3) {
            Some(b"KIA" | b"SIA" | b"BIA" | b"CCA") => Credential::AwsAccessKey.bit(),
            Some(b"Iza") => Credential::GcpApiKey.bit(),
            _ => 0,
        },
        // SK (Twilio), SG. (SendGrid).
        b'S' => match after.get(..2) {
            Some([b'K', _]) => Credential::TwilioKey.bit(),
            Some(b"G.") => Credential::SendgridKey.bit(),
            _ => 0,
        },
        b'~' if before.ends_with(b"Q") => Credential::AzureClientSecret.bit(),
        b'_' => underscore(before),
        b'-' => dash(before, after),
        b'=' | b':' if assignment::key_before(bytes, at).is_some() => {
            Credential::SecretAssignment.bit()
        }
        _ => 0,
    }
}

/// The formats with an `_` in their prefix, classified by what precedes the `_`.
fn underscore(before: &[u8]) -> u32 {
    let ends = |suffixes: &[&[u8]]| suffixes.iter().any(|s| before.ends_with(s));
    let mut bits = 0;
    if ends(&[b"ghp", b"gho", b"ghu", b"ghs", b"ghr", b"github_pat"]) {
        bits |= Credential::GithubToken.bit();
    }
    if ends(&[b"npm"]) {
        bits |= Credential::NpmToken.bit();
    }
    if ends(&[b"sk", b"rk", b"whsec"]) {
        bits |= Credential::StripeKey.bit();
    }
    if ends(&[b"dop", b"doo", b"dor"]) {
        bits |= Credential::DigitaloceanToken.bit();
    }
    bits
}

/// The formats with a `-` in them, classified by the bytes around the `-`.
fn dash(before: &[u8], after: &[u8]) -> u32 {
    let ends = |suffix: &[u8]| before.ends_with(suffix);
    let mut bits = 0;
    // The lowercase word before the dash: GitLab's `glpat`, `glrt`... and Slack's `xoxb`...
    let word = &before[before.len()
        - before
            .iter()
            .rev()
            .take(8)
            .take_while(|b| b.is_ascii_lowercase())
            .count()..];
    if word.starts_with(b"gl") {
        bits |= Credential::GitlabToken.bit();
    }
    if word.len() == 4 && (word.starts_with(b"xox") || word == b"xapp") {
        bits |= Credential::SlackToken.bit();
    }
    if ends(b"sk") {
        bits |= Credential::AiApiKey.bit();
    }
    if ends(b"pypi") {
        bits |= Credential::PypiToken.bit();
    }
    if ends(b"sq0atp") || ends(b"sq0csp") {
        bits |= Credential::SquareToken.bit();
    }
    if after.starts_with(b"----BEGIN ") {
        bits |= Credential::PrivateKey.bit();
    }
    // Mailgun's `key-...` and `<32 hex>-<8 hex>-<8 hex>`, Mailchimp's `<32 hex>-us6`.
    if ends(b"key") {
        bits |= Credential::MailgunKey.bit();
    }
    if before.len() >= 32
        && before[before.len() - 32..]
            .iter()
            .all(u8::is_ascii_hexdigit)
    {
        bits |= Credential::MailgunKey.bit() | Credential::MailchimpKey.bit();
    }
    bits
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_are_classified_by_their_neighbours() {
        let has = |text: &str, credential: Credential| {
            Anchors::of(text.as_bytes()).bits() & credential.bit() != 0
        };
        assert!(has("id AKIAXXXX", Credential::AwsAccessKey));
        assert!(has("AIzaXX", Credential::GcpApiKey));
        assert!(has("x abc1Q~zz", Credential::AzureClientSecret));
        assert!(has("ghp_x", Credential::GithubToken));
        assert!(has("github_pat_x", Credential::GithubToken));
        assert!(has("glpat-x", Credential::GitlabToken));
        assert!(has("xoxb-1", Credential::SlackToken));
        assert!(has("xapp-1", Credential::SlackToken));
        assert!(has("sk-x", Credential::AiApiKey));
        assert!(has("sk_live_x", Credential::StripeKey));
        assert!(has("whsec_x", Credential::StripeKey));
        assert!(has("sq0csp-x", Credential::SquareToken));
        assert!(has("SG.x", Credential::SendgridKey));
        assert!(has("SKx", Credential::TwilioKey));
        assert!(has("npm_x", Credential::NpmToken));
        assert!(has("pypi-x", Credential::PypiToken));
        assert!(has("dop_v1_x", Credential::DigitaloceanToken));
        assert!(has("key-x", Credential::MailgunKey));
        assert!(has(
            &format!("{}-us6", "a1".repeat(16)),
            Credential::MailchimpKey
        ));
        assert!(has("-----BEGIN X", Credential::PrivateKey));
        assert!(has("password=x", Credential::SecretAssignment));
        // Clean values mark nothing, or marks that lead nowhere.
        for clean in [
            "GET /api/catalog/items/48213",
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36",
            "SELECT id, name, price FROM items WHERE id = $1",
            "123e4567-e89b-12d3-a456-426614174000",
            "ord-2024-000123",
            "2024-01-15T10:30:00.123Z",
            "",
        ] {
            assert_eq!(Anchors::of(clean.as_bytes()), Anchors(0), "{clean:?}");
        }
    }

    #[test]
    fn marks_are_found_at_every_offset_of_a_word() {
        for lead in 0..17 {
            let text = format!("{}ghp_", "x".repeat(lead));
            assert!(
                Anchors::of(text.as_bytes()).bits() & Credential::GithubToken.bit() != 0,
                "{text:?}"
            );
            let text = format!("{}AKIA", "é".repeat(lead));
            assert!(
                Anchors::of(text.as_bytes()).bits() & Credential::AwsAccessKey.bit() != 0,
                "{text:?}"
            );
        }
    }
}
